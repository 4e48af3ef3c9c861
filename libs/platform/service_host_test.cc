// What every service's gRPC server gets from the platform (PrepareServer), through real gRPC calls
// on loopback: unreadable requests answered INVALID_ARGUMENT naming the field, bounded metric labels;
// and the host's check of what a projection's stored state was derived with.
#include "platform/service_host.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "rocksdb/file_system.h"
#include "testing/local_platform.h"
#include "testing/process.h"
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

// ---- what a projection's stored state was derived with ----

// A projection that derives with what a test says.
class DerivedProjection final : public Projection {
 public:
  explicit DerivedProjection(std::string derivation) : derivation_(std::move(derivation)) {}
  absl::string_view name() const override { return "totals"; }
  std::vector<std::string> topics() const override { return {}; }
  std::vector<std::string> families() const override { return {"totals_rows"}; }
  absl::Status Apply(const ConsumedEvent&, ApplyContext&) const override { return absl::OkStatus(); }
  std::string derivation() const override { return derivation_; }

 private:
  std::string derivation_;
};

// The default filesystem, counting the syncs of write-ahead logs (a synced write makes one; others none).
class WalSyncCounter final : public rocksdb::FileSystemWrapper {
 public:
  WalSyncCounter() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "WalSyncCounterForTests"; }
  std::atomic<int> syncs{0};

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override {
    auto st = target()->NewWritableFile(f, o, r, d);
    if (st.ok() && absl::EndsWith(f, ".log")) *r = std::make_unique<File>(std::move(*r), this);
    return st;
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, WalSyncCounter* fs)
        : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      ++fs_->syncs;
      return FSWritableFileOwnerWrapper::Sync(o, d);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      ++fs_->syncs;
      return FSWritableFileOwnerWrapper::Fsync(o, d);
    }

   private:
    WalSyncCounter* fs_;
  };
};

TEST(PlatformProjectionDerivation, KeptAtTheFirstStartAndALaterStartWithAnotherIsRefused) {
  pbr::testing::TempDir dir;
  auto fs = std::make_shared<WalSyncCounter>();
  StoreOptions options;
  options.file_system = fs;
  auto opened = Store::Open(dir.path(), {"totals_rows"}, options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& store = **opened;
  const std::string family(rocksdb::kDefaultColumnFamilyName);
  EXPECT_EQ(DerivationKey("totals"), "projection/totals");

  // The first start keeps what the state is derived with, synced.
  const std::string sop = "rules trust-2024.1#ab12cd34; review-policy sop";
  const std::string national = "rules trust-2024.1#ab12cd34; review-policy national";
  const int syncs = fs->syncs.load();
  ASSERT_TRUE(CheckProjectionDerivation(store, DerivedProjection(sop)).ok());
  EXPECT_GT(fs->syncs.load(), syncs) << "the derivation is written with a synced write";
  auto kept = store.Get(family, "projection/totals");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->value_or("(none)"), sop);

  // The same again starts, writing nothing.
  const int again = fs->syncs.load();
  EXPECT_TRUE(CheckProjectionDerivation(store, DerivedProjection(sop)).ok());
  EXPECT_EQ(fs->syncs.load(), again);

  // Another policy or rule set: refused, naming the projection, both derivations and the way out; the
  // stored one stays.
  const absl::Status refused = CheckProjectionDerivation(store, DerivedProjection(national));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("projection totals"));
  EXPECT_THAT(std::string(refused.message()), HasSubstr(absl::StrCat("\"", sop, "\"")));
  EXPECT_THAT(std::string(refused.message()), HasSubstr(absl::StrCat("\"", national, "\"")));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("--reset-state=true"));
  EXPECT_EQ(store.Get(family, "projection/totals")->value_or(""), sop);
}

TEST(PlatformProjectionDerivation, AProjectionWithoutOneDerivesFromTheEventsAlone) {
  // The interface's default: nothing besides the events, kept as the empty text.
  class EventsOnly final : public Projection {
   public:
    absl::string_view name() const override { return "plain"; }
    std::vector<std::string> topics() const override { return {}; }
    std::vector<std::string> families() const override { return {}; }
    absl::Status Apply(const ConsumedEvent&, ApplyContext&) const override { return absl::OkStatus(); }
  };
  pbr::testing::TempDir dir;
  auto opened = Store::Open(dir.path(), {});
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(EventsOnly().derivation(), "");
  ASSERT_TRUE(CheckProjectionDerivation(**opened, EventsOnly()).ok());
  auto kept = (*opened)->Get(rocksdb::kDefaultColumnFamilyName, "projection/plain");
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ(**kept, "");
  EXPECT_TRUE(CheckProjectionDerivation(**opened, EventsOnly()).ok());
}

}  // namespace
}  // namespace pbr::platform
