// Settings as a deployment meets them: each program run as a process, and the manifests in deploy/.
#include <algorithm>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/store.h"
#include "testing/process.h"
#include "yaml-cpp/yaml.h"

namespace pbr::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBin = PBR_BIN_DIR;
const std::string kSource = PBR_SOURCE_DIR;
// Random: allocation would accept it, were it given the right way.
constexpr const char* kStrongKey = "q0sNQ3Pb6CYn1Hh+aW0gqR7hm0xV0kZ3yGq1pN3+FQ0w2cYg9Hk3vLq8D7bXc5Tz";

// The program's whole stdout (its --help text); popen, since only the output matters.
std::string Output(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// The environment variable of every setting `program --help` lists ("  --data-dir (required)").
std::set<std::string> EnvNamesOf(const std::string& program) {
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(Output(kBin + "/" + program + " --help"), '\n')) {
    if (!absl::ConsumePrefix(&line, "  --")) continue;
    std::string env = "PBR_";
    for (char c : line.substr(0, line.find(' '))) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    names.insert(env);
  }
  return names;
}

// A variable set for the length of one test (children inherit it).
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) { setenv(name_.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name_.c_str()); }

 private:
  std::string name_;
};

struct Exit {
  int code = -1;
  std::string log;
};

// Runs a program that should refuse to start: returns its exit code and stderr. One that starts
// anyway is stopped when it has not exited within the deadline (and the test fails on its code).
Exit RunToExit(const TempDir& dir, std::vector<std::string> argv) {
  const std::string log = dir.path() + "/stderr.log";
  std::filesystem::remove(log);
  argv[0] = kBin + "/" + argv[0];
  auto child = ChildProcess::Spawn(argv, log);
  if (!child.ok()) return {-1, std::string(child.status().message())};
  (void)(*child)->WaitForLine("\x01 never printed", absl::Seconds(20));  // returns when stdout closes
  auto code = (*child)->Terminate(absl::Seconds(10));
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {code.ok() ? *code : -1, text.str()};
}

std::vector<std::string> AllocationArgs(const TempDir& dir) {
  return {"pbr-allocation", "--data-dir=" + dir.path() + "/data", "--kafka-bootstrap=127.0.0.1:9",
          "--grpc-address=127.0.0.1:0", "--grpc-plaintext=true", "--metrics-address=127.0.0.1:0", "--rules-dir=" + kSource + "/rules"};
}

// A read model built by an earlier version (here: one that kept the scheduler's old "assessments"
// family and none of the ledger's) would be read wrongly: the service refuses it and says how to rebuild.
TEST(Settings, AConsumerRefusesAStoreAnEarlierVersionBuiltAndSaysHowToRebuildIt) {
  TempDir dir;
  {
    auto old = platform::Store::Open(dir.path() + "/data", {"schedules", "timers", "assessments"});
    ASSERT_TRUE(old.ok()) << old.status();
    rocksdb::WriteBatch batch;
    batch.Put((*old)->Family("assessments"), "person/assessment", "as an earlier version kept it");
    ASSERT_TRUE((*old)->Write(batch, /*sync=*/true).ok());
  }
  Exit e = RunToExit(dir, {"pbr-review-scheduler", "--data-dir=" + dir.path() + "/data",
                           "--kafka-bootstrap=127.0.0.1:9", "--grpc-address=127.0.0.1:0", "--grpc-plaintext=true",
                           "--metrics-address=127.0.0.1:0", "--rules-dir=" + kSource + "/rules"});
  EXPECT_EQ(e.code, 1) << e.log;
  EXPECT_THAT(e.log, HasSubstr("--reset-state=true"));
  auto kept = platform::Store::Open(dir.path() + "/data", {"schedules", "timers", "assessments"});
  ASSERT_TRUE(kept.ok()) << kept.status();
  auto value = (*kept)->Get("assessments", "person/assessment");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->value_or(""), "as an earlier version kept it") << "a refused store keeps its data";
}

// Reporting's figures were derived with one review policy: started with another on the same store it refuses,
// naming the projection and both, rather than mixing them; --reset-state=true rebuilds under the new one.
TEST(Settings, ReportingRefusesAStoreDerivedWithAnotherReviewPolicy) {
  TempDir dir;
  auto args = [&](const std::string& policy, bool reset) {
    std::vector<std::string> a = {"pbr-reporting", "--data-dir=" + dir.path() + "/data", "--kafka-bootstrap=127.0.0.1:9",
                                  "--grpc-address=127.0.0.1:0", "--grpc-plaintext=true", "--metrics-address=127.0.0.1:0",
                                  "--rules-dir=" + kSource + "/rules", "--review-policy=" + policy};
    if (reset) a.push_back("--reset-state=true");
    return a;
  };
  auto starts = [&](std::vector<std::string> argv) {
    argv[0] = kBin + "/" + argv[0];
    auto child = ChildProcess::Spawn(argv, dir.path() + "/started.log");
    if (!child.ok()) return false;
    const bool ready = (*child)->WaitForLine("READY", absl::Seconds(20)).ok();
    auto code = (*child)->Terminate(absl::Seconds(10));
    return ready && code.ok() && *code == 0;
  };
  ASSERT_TRUE(starts(args("sop", false))) << "the first start keeps what it derives with";
  EXPECT_TRUE(starts(args("sop", false))) << "the same again";
  Exit e = RunToExit(dir, args("national", false));
  EXPECT_EQ(e.code, 1) << e.log;
  EXPECT_THAT(e.log, HasSubstr("projection kpis"));
  EXPECT_THAT(e.log, HasSubstr("review-policy sop"));
  EXPECT_THAT(e.log, HasSubstr("review-policy national"));
  EXPECT_THAT(e.log, HasSubstr("--reset-state=true"));
  EXPECT_TRUE(starts(args("national", true))) << "rebuilt under the new policy";
  EXPECT_TRUE(starts(args("national", false)));
}

TEST(Settings, AllocationRefusesThePseudonymSecretOnTheCommandLine) {
  TempDir dir;
  auto argv = AllocationArgs(dir);
  argv.push_back(std::string("--pseudonym-secret=") + kStrongKey);
  const Exit e = RunToExit(dir, argv);
  EXPECT_EQ(e.code, 2) << e.log;
  EXPECT_THAT(e.log, HasSubstr("flag --pseudonym-secret: a secret is not taken from the command line"));
  EXPECT_THAT(e.log, HasSubstr("--pseudonym-secret-file=FILE"));
  EXPECT_THAT(e.log, HasSubstr("PBR_PSEUDONYM_SECRET"));
  EXPECT_THAT(e.log, Not(HasSubstr(kStrongKey)));
}

TEST(Settings, AllocationRefusesAWeakPseudonymSecret) {
  TempDir dir;
  for (const std::string weak : {std::string(16, 'a'), std::string(48, 'a')}) {
    ScopedEnv env("PBR_PSEUDONYM_SECRET", weak);
    const Exit e = RunToExit(dir, AllocationArgs(dir));
    EXPECT_EQ(e.code, 2) << e.log;
    EXPECT_THAT(e.log, HasSubstr("pseudonym-secret (from PBR_PSEUDONYM_SECRET) is too ")) << weak;
    EXPECT_THAT(e.log, Not(HasSubstr(weak)));
  }
}

TEST(Settings, AllocationRefusesASecretFileEveryoneCanRead) {
  TempDir dir;
  const std::string path = dir.path() + "/secret";
  std::ofstream(path) << kStrongKey << "\n";
  chmod(path.c_str(), 0644);
  auto argv = AllocationArgs(dir);
  argv.push_back("--pseudonym-secret-file=" + path);
  const Exit e = RunToExit(dir, argv);
  EXPECT_EQ(e.code, 2) << e.log;
  EXPECT_THAT(e.log, HasSubstr("can be read or written by every user of this machine (mode 0644)"));
}

// gRPC is mutual TLS unless a setting says otherwise, and plaintext never leaves the machine: a
// service given neither TLS files nor grpc-plaintext, or plaintext on a routable address, stops at start.
TEST(Settings, GrpcPlaintextOnlyWhenAskedForAndOnlyOnLoopback) {
  TempDir dir;
  auto without = [&](const std::string& flag) {
    auto argv = AllocationArgs(dir);
    argv.erase(std::remove(argv.begin(), argv.end(), flag), argv.end());
    return argv;
  };
  auto no_tls = without("--grpc-plaintext=true");
  ScopedEnv secret("PBR_PSEUDONYM_SECRET", kStrongKey);
  Exit e = RunToExit(dir, no_tls);
  EXPECT_NE(e.code, 0) << e.log;
  EXPECT_THAT(e.log, HasSubstr("tls-ca-file: gRPC needs mutual TLS"));

  auto routable = AllocationArgs(dir);
  std::replace(routable.begin(), routable.end(), std::string("--grpc-address=127.0.0.1:0"),
               std::string("--grpc-address=0.0.0.0:0"));
  e = RunToExit(dir, routable);
  EXPECT_NE(e.code, 0) << e.log;
  EXPECT_THAT(e.log, HasSubstr("grpc-plaintext: plaintext gRPC listens only on loopback, not on 0.0.0.0:0"));
}

// Kubernetes passes settings as environment variables: a misspelt one must stop the program as a
// misspelt flag does, not leave the default silently in force.
TEST(Settings, EveryProgramRefusesAnUnknownPbrVariable) {
  TempDir dir;
  ScopedEnv typo("PBR_KAFKA_BOOTSTRAPP", "kafka:9092");
  for (const std::string program : {"pbr-review-scheduler", "pbr-outcomes", "pbr-reporting", "pbr-broker"}) {
    std::vector<std::string> argv = {program};
    if (program != "pbr-broker") {
      argv = {program, "--data-dir=" + dir.path() + "/" + program, "--kafka-bootstrap=127.0.0.1:9",
              "--grpc-address=127.0.0.1:0", "--grpc-plaintext=true", "--metrics-address=127.0.0.1:0", "--rules-dir=" + kSource + "/rules"};
    }
    const Exit e = RunToExit(dir, argv);
    EXPECT_EQ(e.code, 2) << program << ": " << e.log;
    EXPECT_THAT(e.log, HasSubstr("environment variable PBR_KAFKA_BOOTSTRAPP: not a setting of this program"))
        << program;
  }
  // pbr-topics refuses before it connects to anything.
  const Exit topics = RunToExit(dir, {"pbr-topics", "--kafka-bootstrap=127.0.0.1:9"});
  EXPECT_EQ(topics.code, 2) << topics.log;
  EXPECT_THAT(topics.log, HasSubstr("PBR_KAFKA_BOOTSTRAPP"));
}

// The client tools have their own prefix, so exporting their addresses cannot stop a service.
TEST(Settings, ClientToolsReadPbrctlVariables) {
  for (const std::string tool : {"pbrctl", "pbr-import"}) {
    const std::string help = Output(kBin + "/" + tool + " --help");
    EXPECT_THAT(help, HasSubstr("(Env:PBRCTL_ALLOCATION_ADDR)")) << tool;
    EXPECT_THAT(help, Not(HasSubstr("PBR_"))) << tool;
  }
}

// --- deploy/: every PBR_* variable a manifest gives a program is one of its settings ---------------

// What one container is given: its program and the variables set for it (with where each came from).
struct Container {
  std::string where;
  std::string program;
  std::map<std::string, std::string> env;  // name -> file it is set in
};

void AddMap(const YAML::Node& map, const std::string& where, Container& c) {
  if (!map || !map.IsMap()) return;
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (key == "<<") {  // a YAML merge key (compose's x-pbr-env anchor)
      if (kv.second.IsSequence()) {
        for (const auto& m : kv.second) AddMap(m, where, c);
      } else {
        AddMap(kv.second, where, c);
      }
      continue;
    }
    c.env[key] = where;
  }
}

std::vector<Container> KubernetesContainers() {
  std::vector<Container> out;
  std::map<std::string, YAML::Node> config_maps;
  std::vector<std::pair<std::string, YAML::Node>> pods;
  for (const auto& entry : std::filesystem::directory_iterator(kSource + "/deploy/k8s")) {
    if (entry.path().extension() != ".yaml") continue;
    for (const YAML::Node& doc : YAML::LoadAllFromFile(entry.path().string())) {
      if (!doc.IsMap() || !doc["kind"]) continue;
      const std::string kind = doc["kind"].as<std::string>();
      if (kind == "ConfigMap") config_maps[doc["metadata"]["name"].as<std::string>()] = doc["data"];
      if (doc["spec"] && doc["spec"]["template"]) pods.emplace_back(entry.path().filename().string(), doc);
    }
  }
  for (const auto& [file, doc] : pods) {
    for (const YAML::Node& container : doc["spec"]["template"]["spec"]["containers"]) {
      Container c;
      c.where = absl::StrCat("k8s/", file, " container ", container["name"].as<std::string>());
      if (container["command"]) c.program = container["command"][0].as<std::string>();
      for (const YAML::Node& e : container["env"]) c.env[e["name"].as<std::string>()] = file;
      for (const YAML::Node& from : container["envFrom"]) {
        if (!from["configMapRef"]) continue;
        const std::string name = from["configMapRef"]["name"].as<std::string>();
        EXPECT_TRUE(config_maps.count(name)) << c.where << ": no ConfigMap " << name;
        AddMap(config_maps[name], "ConfigMap " + name, c);
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<Container> ComposeContainers() {
  std::vector<Container> out;
  const YAML::Node compose = YAML::LoadFile(kSource + "/deploy/compose/docker-compose.yml");
  for (const auto& kv : compose["services"]) {
    Container c;
    c.where = "compose service " + kv.first.as<std::string>();
    const YAML::Node& svc = kv.second;
    if (svc["command"] && svc["command"].IsSequence()) c.program = svc["command"][0].as<std::string>();
    AddMap(svc["environment"], "docker-compose.yml", c);
    out.push_back(std::move(c));
  }
  return out;
}

TEST(Settings, DeploymentsSetOnlyRealSettingsOfEachProgram) {
  std::vector<Container> containers = KubernetesContainers();
  for (auto& c : ComposeContainers()) containers.push_back(std::move(c));
  std::map<std::string, std::set<std::string>> settings;  // program -> its PBR_ names
  int checked = 0;
  std::set<std::string> programs;
  for (const Container& c : containers) {
    bool any_pbr = false;
    for (const auto& [name, where] : c.env) any_pbr |= absl::StartsWith(name, "PBR_");
    if (!absl::StartsWith(c.program, "pbr")) {
      EXPECT_FALSE(any_pbr) << c.where << " is given PBR_* variables but runs no platform program";
      continue;
    }
    if (!settings.count(c.program)) settings[c.program] = EnvNamesOf(c.program);
    ASSERT_FALSE(settings[c.program].empty()) << c.program << " --help listed no settings";
    programs.insert(c.program);
    for (const auto& [name, where] : c.env) {
      if (!absl::StartsWith(name, "PBR_")) continue;
      ++checked;
      EXPECT_TRUE(settings[c.program].count(name)) << c.where << ": " << name << " (set in " << where
                                                   << ") is not a setting of " << c.program;
    }
  }
  // Both deployments run all four services, each given its settings.
  EXPECT_EQ(programs, (std::set<std::string>{"pbr-allocation", "pbr-outcomes", "pbr-reporting",
                                             "pbr-review-scheduler"}));
  EXPECT_GT(checked, 40);
}

// The image holds programs with different settings: a PBR_* variable baked into it would stop
// those that lack the setting (pbr-topics has no rules-dir).
TEST(Settings, TheImageSetsNoPbrVariable) {
  std::ifstream in(kSource + "/deploy/Dockerfile");
  std::string line;
  bool in_env = false;
  int env_lines = 0;
  while (std::getline(in, line)) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(l, "#")) continue;
    if (absl::StartsWith(l, "ENV ")) in_env = true;
    if (in_env) {
      ++env_lines;
      EXPECT_THAT(std::string(l), Not(HasSubstr("PBR_"))) << "deploy/Dockerfile: " << l;
    }
    in_env = in_env && absl::EndsWith(l, "\\");
  }
  EXPECT_GT(env_lines, 0);  // the file was read, and it has an ENV (PATH)
}

}  // namespace
}  // namespace pbr::testing
