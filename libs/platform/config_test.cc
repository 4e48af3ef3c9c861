#include "platform/config.h"
#include "platform/kafka.h"

#include <sys/stat.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/process.h"

namespace pbr::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<SettingSpec> Specs() {
  return {
      {"port", SettingKind::kInt, "8080", "a port", false, 1, 65535},
      {"name", SettingKind::kString, "", "a name", true},
      {"wait", SettingKind::kDuration, "5s", "a wait"},
      {"listen", SettingKind::kHostPort, "127.0.0.1:1", "an address"},
      {"policy", SettingKind::kChoice, "sop", "a policy", false, 0, 0, {"sop", "national"}},
  };
}

absl::StatusOr<Config> LoadArgs(std::vector<const char*> args, std::vector<const char*> env = {}) {
  args.insert(args.begin(), "prog");
  env.push_back(nullptr);
  auto specs = Specs();
  return Config::Load(specs, static_cast<int>(args.size()), args.data(), env.data());
}

TEST(PlatformConfig, DefaultsThenFileThenEnvironmentThenFlags) {
  pbr::testing::TempDir dir;
  const std::string file = dir.path() + "/svc.conf";
  std::ofstream(file) << "# comment\nport = 9000\nname = from-file\nwait = 1s\n";
  auto c = LoadArgs({"--config=/dev/null", ("--config=" + file).c_str(), "--wait=3s"}, {"PBR_NAME=from-env"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetInt("port"), 9000);
  EXPECT_EQ(c->GetString("name"), "from-env");
  EXPECT_EQ(c->GetDuration("wait"), absl::Seconds(3));
  EXPECT_EQ(c->GetString("policy"), "sop");
}

TEST(PlatformConfig, RefusesEveryBadValueAtOnceNamingEach) {
  auto c = LoadArgs({"--port=70000", "--wait=soon", "--listen=nowhere", "--policy=local"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string msg(c.status().message());
  EXPECT_THAT(msg, HasSubstr("port = '70000' (from --port) must be between 1 and 65535"));
  EXPECT_THAT(msg, HasSubstr("wait = 'soon'"));
  EXPECT_THAT(msg, HasSubstr("listen = 'nowhere'"));
  EXPECT_THAT(msg, HasSubstr("policy = 'local' (from --policy) must be one of: sop, national"));
  EXPECT_THAT(msg, HasSubstr("name: required"));
}

TEST(PlatformConfig, RefusesUnknownSettingsAndMalformedLines) {
  pbr::testing::TempDir dir;
  const std::string file = dir.path() + "/svc.conf";
  std::ofstream(file) << "name = x\ncolour = blue\njust words\n";
  auto c = LoadArgs({("--config=" + file).c_str(), "--verbose=1", "positional"});
  ASSERT_FALSE(c.ok());
  const std::string msg(c.status().message());
  EXPECT_THAT(msg, HasSubstr(file + ":2: unknown setting 'colour'"));
  EXPECT_THAT(msg, HasSubstr(file + ":3: expected NAME = VALUE"));
  EXPECT_THAT(msg, HasSubstr("flag --verbose: unknown setting"));
  EXPECT_THAT(msg, HasSubstr("argument 'positional'"));
}

TEST(PlatformConfig, MissingConfigFileIsAnError) {
  auto c = LoadArgs({"--config=/nonexistent/x.conf", "--name=a"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("'/nonexistent/x.conf' cannot be read"));
}

TEST(PlatformConfig, HelpListsEverySetting) {
  auto c = LoadArgs({"--help"});
  ASSERT_TRUE(absl::IsNotFound(c.status()));
  for (const auto& s : Specs()) EXPECT_THAT(std::string(c.status().message()), HasSubstr("--" + s.name));
}

TEST(PlatformConfig, EnvironmentNames) { EXPECT_EQ(Config::EnvName("kafka-bootstrap"), "PBR_KAFKA_BOOTSTRAP"); }

// A typo in a deployment's environment must stop the service, as a typo in a flag or a file does.
TEST(PlatformConfig, RefusesUnknownEnvironmentVariablesNamingEach) {
  auto c = LoadArgs({"--name=a"}, {"PBR_PROT=9000", "PBR_ALLOCATION_ADDR=127.0.0.1:1", "PBR_PORT=9001",
                                   "PBRCTL_ALLOCATION_ADDR=127.0.0.1:1", "HOME=/root", "PBR_BARE"});
  ASSERT_FALSE(c.ok());
  const std::string msg(c.status().message());
  EXPECT_THAT(msg, HasSubstr("environment variable PBR_PROT: not a setting of this program"));
  EXPECT_THAT(msg, HasSubstr("environment variable PBR_ALLOCATION_ADDR: not a setting"));
  EXPECT_THAT(msg, HasSubstr("environment variable PBR_BARE: not a setting"));
  EXPECT_THAT(msg, HasSubstr("client tools read PBRCTL_*"));
  EXPECT_THAT(msg, Not(HasSubstr("PBR_PORT")));  // a real setting
  EXPECT_THAT(msg, Not(HasSubstr("PBRCTL_ALLOCATION_ADDR")));
  EXPECT_THAT(msg, Not(HasSubstr("HOME")));

  auto ok = LoadArgs({"--name=a"}, {"PBR_PORT=9001", "PBRCTL_ALLOCATION_ADDR=x", "PBRX=1"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->GetInt("port"), 9001);
}

// Random, from `head -c 48 /dev/urandom | base64 -w0`.
constexpr const char* kStrongKey = "IO4i4i/kUy+5vXAfOSYBBslpLxnOBJXaP1xH342cYx/i1D6Frugelg1x1nVPbzB8";

std::vector<SettingSpec> SecretSpecs() {
  SettingSpec key{"key", SettingKind::kString, "", "a signing key", true};
  key.secret = true;
  key.min_entropy_bits = 128;
  return {{"name", SettingKind::kString, "", "a name"}, key};
}

absl::StatusOr<Config> LoadSecret(std::vector<const char*> args, std::vector<const char*> env = {}) {
  args.insert(args.begin(), "prog");
  env.push_back(nullptr);
  auto specs = SecretSpecs();
  return Config::Load(specs, static_cast<int>(args.size()), args.data(), env.data());
}

std::string WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  std::ofstream(path) << content;
  chmod(path.c_str(), mode);
  return path;
}

TEST(PlatformConfig, SecretIsNeverTakenFromTheCommandLineOrAConfigFile) {
  pbr::testing::TempDir dir;
  const std::string file = WriteFile(dir.path() + "/svc.conf", std::string("key = ") + kStrongKey + "\n", 0600);
  const std::string flag = std::string("--key=") + kStrongKey;
  auto from_flag = LoadSecret({flag.c_str()});
  ASSERT_FALSE(from_flag.ok());
  std::string msg(from_flag.status().message());
  EXPECT_THAT(msg, HasSubstr("flag --key: a secret is not taken from the command line"));
  EXPECT_THAT(msg, HasSubstr("--key-file=FILE"));
  EXPECT_THAT(msg, HasSubstr("PBR_KEY"));
  EXPECT_THAT(msg, Not(HasSubstr(kStrongKey)));
  EXPECT_THAT(msg, Not(HasSubstr("key: required")));  // one clear message, not two

  const std::string config = "--config=" + file;
  auto from_file = LoadSecret({config.c_str()});
  ASSERT_FALSE(from_file.ok());
  msg = std::string(from_file.status().message());
  EXPECT_THAT(msg, HasSubstr(file + ":1: key is a secret and is not read from a config file"));
  EXPECT_THAT(msg, HasSubstr("--key-file=FILE"));
  EXPECT_THAT(msg, Not(HasSubstr(kStrongKey)));
}

TEST(PlatformConfig, SecretFromTheEnvironment) {
  const std::string env = std::string("PBR_KEY=") + kStrongKey;
  auto c = LoadSecret({}, {env.c_str()});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("key"), kStrongKey);
}

TEST(PlatformConfig, SecretFromAFileWithoutItsTrailingNewline) {
  pbr::testing::TempDir dir;
  const std::string path = WriteFile(dir.path() + "/key", std::string(kStrongKey) + "\n", 0600);
  for (const std::string& arg : {"--key-file=" + path, "--config=" + WriteFile(dir.path() + "/svc.conf",
                                                                                  "key-file = " + path + "\n", 0644)}) {
    auto c = LoadSecret({arg.c_str()});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->GetString("key"), kStrongKey);
  }
  const std::string env = "PBR_KEY_FILE=" + WriteFile(dir.path() + "/key2", std::string(kStrongKey) + "\r\n", 0400);
  auto c = LoadSecret({}, {env.c_str()});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("key"), kStrongKey);
  // Readable by our own group too (a Kubernetes Secret volume: 0440, group = the pod's fsGroup).
  const std::string arg_group = "--key-file=" + WriteFile(dir.path() + "/key-group", kStrongKey, 0640);
  auto group = LoadSecret({arg_group.c_str()});
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_EQ(group->GetString("key"), kStrongKey);
  // Only one newline is the file's ending; anything else is part of the key.
  WriteFile(dir.path() + "/key3", std::string(kStrongKey) + "\n\n", 0600);
  const std::string arg3 = "--key-file=" + dir.path() + "/key3";
  auto c3 = LoadSecret({arg3.c_str()});
  ASSERT_TRUE(c3.ok()) << c3.status();
  EXPECT_EQ(c3->GetString("key"), std::string(kStrongKey) + "\n");
}

TEST(PlatformConfig, SecretFileOthersCanReadIsRefused) {
  pbr::testing::TempDir dir;
  const std::string path = WriteFile(dir.path() + "/key", kStrongKey, 0644);
  const std::string arg = "--key-file=" + path;
  auto c = LoadSecret({arg.c_str()});
  ASSERT_FALSE(c.ok());
  const std::string msg(c.status().message());
  EXPECT_THAT(msg, HasSubstr("key-file '" + path + "' can be read or written by every user of this machine (mode 0644)"));
  EXPECT_THAT(msg, HasSubstr("chmod 600"));
  EXPECT_THAT(msg, Not(HasSubstr(kStrongKey)));

  const std::string missing = "--key-file=" + dir.path() + "/nothing";
  auto m = LoadSecret({missing.c_str()});
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("key-file '" + dir.path() + "/nothing' cannot be read"));
}

TEST(PlatformConfig, SecretGivenTwiceIsRefused) {
  pbr::testing::TempDir dir;
  const std::string path = WriteFile(dir.path() + "/key", kStrongKey, 0600);
  const std::string arg = "--key-file=" + path;
  const std::string env = std::string("PBR_KEY=") + kStrongKey;
  auto c = LoadSecret({arg.c_str()}, {env.c_str()});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("key: given both in PBR_KEY and by key-file (from --key-file)"));
}

TEST(PlatformConfig, MissingSecretSaysWhereToPutIt) {
  auto c = LoadSecret({});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("key: required (a signing key); give it in a file only this user can read, --key-file=FILE, "
                        "or in the environment PBR_KEY"));
}

TEST(PlatformConfig, WeakSecretsAreRefusedWithoutRepeatingThem) {
  for (const std::string weak : {std::string(16, 'a'), std::string("local-platform-secret-0123456789"),
                                 std::string(64, 'a'), std::string("0123456789abcdef0123456789abcdef"),
                                 std::string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                                 std::string("abababababababababababababababababab")}) {
    const std::string env = "PBR_KEY=" + weak;
    auto c = LoadSecret({}, {env.c_str()});
    ASSERT_FALSE(c.ok()) << weak;
    const std::string msg(c.status().message());
    EXPECT_THAT(msg, HasSubstr("key (from PBR_KEY) is too ")) << weak;
    EXPECT_THAT(msg, Not(HasSubstr(weak)));
  }
  const std::string short_env = "PBR_KEY=" + std::string(kStrongKey).substr(0, 31);
  auto c = LoadSecret({}, {short_env.c_str()});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("is too short: 31 characters, at least 32 needed"));
}

TEST(PlatformConfig, EntropyEstimate) {
  EXPECT_EQ(EstimateEntropyBits(""), 0);
  EXPECT_EQ(EstimateEntropyBits(std::string(64, 'a')), 0);
  EXPECT_LT(EstimateEntropyBits("abcdefghijklmnopqrstuvwxyz"), 10);   // a run: every step the same
  EXPECT_LT(EstimateEntropyBits("abababababababababababababababab"), 33);  // one bit a character at most
  EXPECT_GT(EstimateEntropyBits(kStrongKey), 256);
}

TEST(PlatformConfig, HelpExplainsSecrets) {
  auto c = LoadSecret({"--help"});
  ASSERT_TRUE(absl::IsNotFound(c.status()));
  const std::string msg(c.status().message());
  EXPECT_THAT(msg, HasSubstr("--key-file"));
  EXPECT_THAT(msg, HasSubstr("A secret: never a flag or a --config line"));
  EXPECT_THAT(msg, HasSubstr("At least 32 characters and 128 bits of estimated entropy"));
}

}  // namespace
}  // namespace pbr::platform

namespace pbr::platform {
namespace {

// A misspelt secret property in kafka-extra is refused without the secret in the message.
TEST(PlatformKafkaConf, ARefusedSecretPropertyIsNotEchoed) {
  KafkaSettings settings;
  settings.bootstrap = "127.0.0.1:9";
  settings.extra = "security.protocol=SASL_SSL;sasl.passwd.typo=hunter2-very-secret";
  auto conf = BaseKafkaConf(settings);
  ASSERT_FALSE(conf.ok());
  EXPECT_THAT(std::string(conf.status().message()), ::testing::HasSubstr("sasl.passwd.typo=(hidden)"));
  EXPECT_THAT(std::string(conf.status().message()), ::testing::Not(::testing::HasSubstr("hunter2")));
  settings.extra = "sasl.password.typo=hunter2-very-secret";
  conf = BaseKafkaConf(settings);
  ASSERT_FALSE(conf.ok());
  EXPECT_THAT(std::string(conf.status().message()), ::testing::HasSubstr("sasl.password.typo=(hidden)"));
  EXPECT_THAT(std::string(conf.status().message()), ::testing::Not(::testing::HasSubstr("hunter2")));
}

// flow-control-groups: groups by name, or with the topics they read (held to them from the start).
TEST(PlatformKafkaConf, FlowControlGroupsWithAndWithoutTheirTopics) {
  auto specs = CommonSettings("allocation", 50051, 9101);
  std::vector<const char*> args = {"prog", "--data-dir=/tmp/x", "--kafka-bootstrap=127.0.0.1:9",
                                   "--flow-control-groups=reporting=assessment-recorded|review-due, audit ,outcomes=care-event-recorded",
                                   "--flow-control-max-lag-messages=1000"};
  std::vector<const char*> env = {nullptr};
  auto config = Config::Load(specs, static_cast<int>(args.size()), args.data(), env.data());
  ASSERT_TRUE(config.ok()) << config.status();
  const KafkaSettings s = KafkaSettings::FromConfig(*config);
  EXPECT_EQ(s.flow_control_groups, (std::vector<std::string>{"reporting", "audit", "outcomes"}));
  ASSERT_EQ(s.flow_control_group_topics.size(), 2u);
  EXPECT_EQ(s.flow_control_group_topics.at("reporting"), (std::set<std::string>{"assessment-recorded", "review-due"}));
  EXPECT_EQ(s.flow_control_group_topics.at("outcomes"), (std::set<std::string>{"care-event-recorded"}));
  EXPECT_FALSE(s.flow_control_group_topics.contains("audit"));
  EXPECT_EQ(s.flow_control_max_lag_messages, 1000);
  EXPECT_EQ(s.flow_control_max_lag_bytes, 4 << 20);
}

}  // namespace
}  // namespace pbr::platform
