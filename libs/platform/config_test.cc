#include "platform/config.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/process.h"

namespace pbr::platform {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace pbr::platform
