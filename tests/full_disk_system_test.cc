// A full disk under real processes: allocation's and reporting's data directories are small real
// filesystems (tmpfs, so this needs root; skipped with the reason otherwise) that a filler file
// fills to the last byte. Nothing is acknowledged without a durable write, no process crashes,
// health says NOT_SERVING, and both carry on by themselves, exactly once, when space returns.
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "testing/local_platform.h"

namespace pbr {
namespace {

using testing::LocalPlatform;
constexpr absl::Duration kDeadline = absl::Seconds(60);

using testing::NhsNumber;

pbr::v1::RecordAssessmentRequest Request(int i) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("epr-a");
  r.set_source_record_id(absl::StrCat("full-disk-", i));
  r.set_nhs_number(NhsNumber(943476000 + i * 13));
  r.set_team_id("cmht-east");
  r.set_clinician_id("clin-1");
  r.mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2026, 10, 1), absl::UTCTimeZone())));
  for (int k = 0; k < 18; ++k) r.mutable_ratings()->add_items((i + k) % 3);
  if (r.ratings().items(7) > 0) r.mutable_ratings()->set_item8_problem_type("D");
  r.set_cluster(4);
  r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  r.set_clinical_rationale("system test: synthetic ratings");
  return r;
}

// A tmpfs of `mib` MiB mounted on `dir` for the life of the object.
class SmallFilesystem {
 public:
  SmallFilesystem(const std::string& dir, int mib) : dir_(dir) {
    std::filesystem::create_directories(dir);
    if (mount("pbr-test", dir.c_str(), "tmpfs", 0, absl::StrCat("size=", mib, "m").c_str()) == 0) {
      mounted_ = true;
    } else {
      why_ = std::strerror(errno);
    }
  }
  ~SmallFilesystem() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  // Writes a filler file until the filesystem has no space left.
  void Fill() {
    std::ofstream out(dir_ + "/filler", std::ios::binary);
    const std::string block(1 << 16, 'x');
    while (out.write(block.data(), block.size())) {
    }
  }
  void Free() { std::filesystem::remove(dir_ + "/filler"); }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string why_;
};

bool Serving(LocalPlatform& platform, const std::string& service) {
  auto stub = platform.Stub<grpc::health::v1::Health>(service);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse reply;
  return stub->Check(testing::CallContext().get(), request, &reply).ok() &&
         reply.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

int64_t CaseloadPeople(LocalPlatform& platform) {
  pbr::v1::GetCaseloadRequest request;
  request.set_team_id("cmht-east");
  pbr::v1::Caseload caseload;
  if (!platform.Stub<pbr::v1::Reporting>("reporting")->GetCaseload(testing::CallContext().get(), request, &caseload).ok()) {
    return -1;
  }
  return caseload.people();
}

TEST(FullDiskSystemTest, NothingIsAcknowledgedWithoutADurableWriteAndEveryServiceRecoversByItself) {
  testing::TempDir dir;
  // Declared before the platform so they are unmounted after every process is gone.
  SmallFilesystem allocation_fs(dir.path() + "/allocation", 24);
  SmallFilesystem reporting_fs(dir.path() + "/reporting", 24);
  if (!allocation_fs.mounted() || !reporting_fs.mounted()) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (" << allocation_fs.why() << reporting_fs.why()
                 << "); the fault-injecting filesystem in PlatformStore tests covers the same path";
  }
  testing::LocalPlatformOptions options;
  options.bin_dir = PBR_BIN_DIR;
  options.rules_dir = PBR_RULES_DIR;
  options.work_dir = dir.path();
  options.extra_flags = {"--store-reserve-mib=4", "--store-memory-mib=16"};
  auto started = LocalPlatform::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  auto& platform = **started;
  auto allocation = platform.Stub<pbr::v1::Allocation>("allocation", "epr-feed:epr-a");
  auto record = [&](int i) {
    pbr::v1::RecordAssessmentReply reply;
    return allocation->RecordAssessment(testing::CallContext().get(), Request(i), &reply);
  };
  for (int i = 0; i < 10; ++i) {
    grpc::Status st = record(i);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return CaseloadPeople(platform) == 10; }, kDeadline));

  // Allocation's disk fills up: refused with UNAVAILABLE naming the store, nothing acknowledged.
  allocation_fs.Fill();
  for (int i = 10; i < 15; ++i) {
    grpc::Status st = record(i);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << i << ": " << st.error_message();
    EXPECT_NE(st.error_message().find("cannot write"), std::string::npos) << st.error_message();
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return !Serving(platform, "allocation"); }, kDeadline))
      << "health says NOT_SERVING while the store cannot write";
  allocation_fs.Free();
  ASSERT_TRUE(testing::WaitUntil([&] { return Serving(platform, "allocation"); }, kDeadline))
      << "SERVING again by itself, with no restart";
  for (int i = 10; i < 15; ++i) {
    pbr::v1::RecordAssessmentReply reply;
    grpc::Status st = allocation->RecordAssessment(testing::CallContext().get(), Request(i), &reply);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
    EXPECT_FALSE(reply.duplicate()) << "the refused call stored nothing, so this is its first acceptance";
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return CaseloadPeople(platform) == 15; }, kDeadline));

  // Reporting's disk fills up: its consumer pauses and commits nothing, then catches up exactly.
  reporting_fs.Fill();
  for (int i = 15; i < 25; ++i) ASSERT_TRUE(record(i).ok()) << i;
  ASSERT_TRUE(testing::WaitUntil([&] { return !Serving(platform, "reporting"); }, kDeadline));
  EXPECT_EQ(CaseloadPeople(platform), 15) << "nothing applied while reporting's store cannot write";
  reporting_fs.Free();
  ASSERT_TRUE(testing::WaitUntil([&] { return CaseloadPeople(platform) == 25; }, kDeadline)) << CaseloadPeople(platform);
  EXPECT_TRUE(Serving(platform, "reporting"));
  EXPECT_TRUE(platform.StopAll().ok()) << "no process crashed: each stops cleanly";
}

}  // namespace
}  // namespace pbr
