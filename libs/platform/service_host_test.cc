// What every service's gRPC server gets from the platform (PrepareServer), through real gRPC calls
// on loopback: unreadable requests answered INVALID_ARGUMENT naming the field, bounded metric labels.
#include "platform/service_host.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "testing/local_platform.h"
#include "testing/test_server.h"

namespace pbr::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// One unary call with `bytes` as the request, whatever the method; the reply is ignored.
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto ctx = pbr::testing::CallContext();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), reply;
  auto call = stub.PrepareUnaryCall(ctx.get(), method, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// pbr_rpcs_total's series: "<method label> <code label>" -> count.
std::map<std::string, double> RpcSeries(Metrics& metrics) {
  std::map<std::string, double> out;
  for (const auto& family : metrics.registry().Collect()) {
    if (family.name != "pbr_rpcs_total") continue;
    for (const auto& m : family.metric) {
      std::string method, code;
      for (const auto& l : m.label) {
        if (l.name == "method") method = l.value;
        if (l.name == "code") code = l.value;
      }
      out[absl::StrCat(method, " ", code)] += m.counter.value;
    }
  }
  return out;
}

class PlatformGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = pbr::testing::TestServer::Start({&reporting_, &allocation_},
                                              [&](grpc::ServerBuilder& b) { PrepareServer(b, &metrics_); });
    ASSERT_NE(server_, nullptr);
  }
  Metrics metrics_{"test"};
  pbr::v1::Reporting::Service reporting_;    // every method answers UNIMPLEMENTED: the handler is not the point
  pbr::v1::Allocation::Service allocation_;
  std::unique_ptr<pbr::testing::TestServer> server_;
};

TEST_F(PlatformGrpcTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  // GetCaseloadRequest.team_id (field 1) = "\xc3\x28": not UTF-8.
  grpc::Status st = CallRaw(server_->Channel(), "/pbr.v1.Reporting/GetCaseload", std::string("\x0a\x02\xc3\x28", 4));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("team_id: is not valid UTF-8"));

  // Nested: RecordAssessmentRequest.ratings (7) .item8_other_text (3) = "\xff".
  st = CallRaw(server_->Channel(), "/pbr.v1.Allocation/RecordAssessment", std::string("\x3a\x03\x1a\x01\xff", 5));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("ratings.item8_other_text: is not valid UTF-8"));

  // A readable request still reaches the handler.
  st = CallRaw(server_->Channel(), "/pbr.v1.Reporting/GetCaseload", std::string("\x0a\x02ok", 4));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED) << st.error_message();
  EXPECT_EQ(RpcSeries(metrics_)["/pbr.v1.Reporting/GetCaseload INVALID_ARGUMENT"], 1) << "counted as rewritten";
}

TEST_F(PlatformGrpcTest, BytesThatAreNoMessageAreInvalidArgumentNamingTheRequest) {
  // Field 1 claims 5 bytes and has 2.
  grpc::Status st = CallRaw(server_->Channel(), "/pbr.v1.Reporting/GetCaseload", std::string("\x0a\x05ok", 4));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("request: not a valid pbr.v1.GetCaseloadRequest message"));
}

TEST_F(PlatformGrpcTest, ManyCallsOnManyThreadsEachNameTheirOwnField) {
  // The field comes from a per-thread capture: concurrent good and bad calls must not mix.
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const bool bad = (i + t) % 2 == 0;
        grpc::Status st = CallRaw(server_->Channel(), "/pbr.v1.Reporting/GetCaseload",
                                  bad ? std::string("\x0a\x01\xff", 3) : std::string("\x0a\x01x", 3));
        const bool right = bad ? st.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
                                     st.error_message().find("team_id: is not valid UTF-8") != std::string::npos
                               : st.error_code() == grpc::StatusCode::UNIMPLEMENTED;
        if (!right) ++wrong;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(PlatformGrpcTest, UnknownMethodsShareOneMetricsLabel) {
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(CallRaw(server_->Channel(), absl::StrCat("/no.such.Service/Method", i), "").error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  EXPECT_EQ(CallRaw(server_->Channel(), "/pbr.v1.Reporting/GetCaseload", "").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(RpcSeries(metrics_), UnorderedElementsAre(Pair("unknown UNIMPLEMENTED", 300),
                                                        Pair("/pbr.v1.Reporting/GetCaseload UNIMPLEMENTED", 1)));
}

TEST(PlatformMethodLabel, KnownMethodsByPathEverythingElseUnknown) {
  EXPECT_EQ(MethodLabel("/pbr.v1.Allocation/RecordAssessment"), "/pbr.v1.Allocation/RecordAssessment");
  EXPECT_EQ(MethodLabel("/grpc.health.v1.Health/Check"), "/grpc.health.v1.Health/Check");
  EXPECT_EQ(MethodLabel("/pbr.v1.Allocation/NoSuchCall"), "unknown");
  EXPECT_EQ(MethodLabel("/pbr.v1.Allocation"), "unknown");
  EXPECT_EQ(MethodLabel(std::string(10000, 'x')), "unknown");
  EXPECT_EQ(MethodLabel(""), "unknown");
}

TEST(PlatformToGrpc, StatusMessagesAreCapped) {
  grpc::Status st = ToGrpc(absl::InvalidArgumentError(std::string(1 << 20, 'x')));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(st.error_message().size(), 5000u);
  EXPECT_THAT(st.error_message(), HasSubstr("(1048576 bytes)"));
}

}  // namespace
}  // namespace pbr::platform
