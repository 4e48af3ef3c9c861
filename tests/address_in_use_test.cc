// Two processes on one address: the second must fail to start, naming the setting and the address,
// while the first goes on serving. (With SO_REUSEPORT both would start and split the calls.)
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "testing/local_platform.h"
#include "testing/process.h"

namespace pbr {
namespace {

using ::testing::HasSubstr;
constexpr absl::Duration kDeadline = absl::Seconds(30);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AddressInUseTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    auto broker = testing::ChildProcess::Spawn({std::string(PBR_BIN_DIR) + "/pbr-broker", "--partitions=1"},
                                               dir_.path() + "/broker.log");
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    auto line = broker_->WaitForLine("BOOTSTRAP ", kDeadline);
    ASSERT_TRUE(line.ok()) << line.status();
    bootstrap_ = line->substr(std::string("BOOTSTRAP ").size());
  }

  // Starts the service under test with its own data directory and log.
  std::unique_ptr<testing::ChildProcess> Spawn(const std::string& instance, const std::string& grpc_address,
                                               const std::string& metrics_address,
                                               const std::string& http_address = "127.0.0.1:0") {
    std::vector<std::string> argv = {absl::StrCat(PBR_BIN_DIR, "/pbr-", GetParam()),
                                     "--grpc-address=" + grpc_address,
                                     "--grpc-plaintext=true",  // a port clash, not security, is under test
                                     "--metrics-address=" + metrics_address,
                                     absl::StrCat("--data-dir=", dir_.path(), "/", instance),
                                     "--kafka-bootstrap=" + bootstrap_,
                                     absl::StrCat("--rules-dir=", PBR_RULES_DIR),
                                     "--pseudonym-secret-file=" + dir_.path() + "/pseudonym-secret"};
    if (std::string(GetParam()) == "allocation") {
      EXPECT_TRUE(testing::WriteSecretFile(dir_.path() + "/pseudonym-secret", testing::LocalPlatformOptions().pseudonym_secret).ok());
    } else {
      argv.pop_back();
    }
    if (std::string(GetParam()) == "reporting") argv.push_back("--http-address=" + http_address);
    auto child = testing::ChildProcess::Spawn(argv, Log(instance));
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  }
  std::string Log(const std::string& instance) const { return dir_.path() + "/" + instance + ".log"; }

  // Waits for the process to exit by itself; its exit code.
  int ExitCode(testing::ChildProcess& child) {
    EXPECT_TRUE(testing::WaitUntil([&] { return !child.Running(); }, kDeadline)) << "it kept running";
    return child.Terminate(absl::Seconds(5)).value_or(-1);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ChildProcess> broker_;
  std::string bootstrap_;
};

TEST_P(AddressInUseTest, ASecondProcessOnABoundAddressFailsToStartNamingTheSetting) {
  auto first = Spawn("first", "127.0.0.1:0", "127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  auto ready = first->WaitForLine("READY ", kDeadline);
  ASSERT_TRUE(ready.ok()) << ready.status() << testing::Tail(Log("first"));
  // "READY <name> grpc=HOST:PORT metrics=HOST:PORT[ http=HOST:PORT]" (reporting serves the dashboard)
  std::vector<std::string> parts = absl::StrSplit(*ready, ' ');
  const bool serves_http = std::string(GetParam()) == "reporting";
  ASSERT_EQ(parts.size(), serves_http ? 5u : 4u) << *ready;
  const std::string grpc_address = parts[2].substr(5), metrics_address = parts[3].substr(8);
  if (serves_http) {
    const std::string http_address = parts[4].substr(5);
    auto same_http = Spawn("fourth", "127.0.0.1:0", "127.0.0.1:0", http_address);
    ASSERT_NE(same_http, nullptr);
    EXPECT_NE(ExitCode(*same_http), 0);
    EXPECT_THAT(ReadFile(Log("fourth")), HasSubstr(absl::StrCat("http address ", http_address, ": cannot listen there")));
    EXPECT_TRUE(testing::HttpGet(http_address, "/api/v1/status").ok());
  }

  auto same_grpc = Spawn("second", grpc_address, "127.0.0.1:0");
  ASSERT_NE(same_grpc, nullptr);
  EXPECT_NE(ExitCode(*same_grpc), 0);
  EXPECT_THAT(ReadFile(Log("second")), HasSubstr(absl::StrCat("grpc-address ", grpc_address, ": cannot listen there")));

  auto same_metrics = Spawn("third", "127.0.0.1:0", metrics_address);
  ASSERT_NE(same_metrics, nullptr);
  EXPECT_NE(ExitCode(*same_metrics), 0);
  EXPECT_THAT(ReadFile(Log("third")),
              HasSubstr(absl::StrCat("metrics-address ", metrics_address, ": cannot listen there")));

  // The first is undisturbed: it answers on both addresses and stops cleanly.
  EXPECT_TRUE(first->Running());
  EXPECT_TRUE(grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials())
                  ->WaitForConnected(absl::ToChronoTime(absl::Now() + kDeadline)));
  EXPECT_TRUE(testing::HttpGet(metrics_address, "/metrics").ok());
  auto code = first->Terminate(kDeadline);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << testing::Tail(Log("first"));
}

INSTANTIATE_TEST_SUITE_P(Services, AddressInUseTest, ::testing::Values("allocation", "reporting"));

}  // namespace
}  // namespace pbr
