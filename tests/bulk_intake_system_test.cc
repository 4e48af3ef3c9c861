// The bulk path through the real processes: a load bigger than the embedded broker keeps per
// partition (about 5 MiB, beyond which it silently drops the oldest data) is sent on
// Allocation.RecordIntake far faster than the consumers apply it, on one partition per topic. The
// outbox's flow control holds allocation's events back while the consumers are behind, so every
// figure comes out exact: nothing lost, nothing counted twice, no consumer stopped by DATA_LOSS.
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/events.h"
#include "platform_fixture.h"
#include "testing/process.h"

namespace pbr {
namespace {

using systemtest::At;

constexpr int kPeople = 9000;        // ~7 MB of assessment-recorded on the one partition
constexpr int kStreams = 4;
constexpr int kBatchItems = 500;
constexpr char kSource[] = "bulk-epr";

// Whether a child process is still running: neither gone nor a zombie (/proc/<pid>/stat state).
bool Running(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (pid <= 0 || !std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

class BulkIntakeSystemTest : public systemtest::PlatformFixture {
 protected:
  // The services' logs' last lines: why a figure never arrived.
  std::string LogTails() const {
    std::string out;
    for (const char* service : {"allocation", "review-scheduler", "outcomes", "reporting"}) {
      std::ifstream log(platform_->LogPath(service));
      std::vector<std::string> lines;
      for (std::string line; std::getline(log, line);) lines.push_back(line);
      absl::StrAppend(&out, "\n--- ", service, ".log (last lines)\n");
      for (size_t i = lines.size() > 15 ? lines.size() - 15 : 0; i < lines.size(); ++i) absl::StrAppend(&out, lines[i], "\n");
    }
    return out;
  }

  // One partition per topic: the broker's cap is then what the whole load must fit through.
  void Customise(testing::LocalPlatformOptions& options) override { options.partitions = 1; }

  pbr::v1::RecordAssessmentRequest Assessment(int person, const std::string& team, int cluster) {
    pbr::v1::RecordAssessmentRequest r;
    r.set_source_system(kSource);
    r.set_source_record_id(absl::StrCat("bulk-", person));
    r.set_nhs_number(testing::NhsNumber(900000000 + 2 * person));  // two candidates each: never shared
    r.set_local_patient_id(absl::StrCat("B", person));
    r.set_team_id(team);
    r.set_clinician_id(absl::StrCat("clin-", person % 40));
    // Long enough ago that every cluster's first review is overdue by the platform's today.
    *r.mutable_assessed_at() = platform::ToProto(At(absl::CivilDay(2025, 1, 6) + person % 20));
    for (int k = 0; k < 18; ++k) r.mutable_ratings()->add_items((person + k) % 4);
    if (r.ratings().items(7) >= 1) r.mutable_ratings()->set_item8_problem_type("D");
    r.set_cluster(cluster);
    r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
    r.set_clinical_rationale("bulk system test: synthetic ratings");
    return r;
  }
};

TEST_F(BulkIntakeSystemTest, ALoadBiggerThanTheBrokerKeepsIsReflectedExactlyEverywhere) {
  const std::vector<int> clusters = {4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 18};  // the example teams hold these
  std::vector<std::string> team_ids;
  for (const auto& [id, team] : rules_->teams().teams) team_ids.push_back(id);
  std::vector<pbr::v1::IntakeItem> items(kPeople);
  std::map<std::string, int> per_team;
  std::map<std::string, std::map<int, int>> per_team_cluster;
  for (int p = 0; p < kPeople; ++p) {
    const int cluster = clusters[static_cast<size_t>(p) % clusters.size()];
    const std::string team = systemtest::TeamHolding(*rules_, team_ids, cluster, p);
    *items[p].mutable_assessment() = Assessment(p, team, cluster);
    ++per_team[team];
    ++per_team_cluster[team][cluster];
  }

  // Streams of batches, each answered once durable; every item must be recorded, none a duplicate.
  std::vector<std::thread> streams;
  std::vector<int> accepted(kStreams, 0), refused(kStreams, 0);
  std::vector<std::string> failure(kStreams);
  for (int s = 0; s < kStreams; ++s) {
    streams.emplace_back([&, s] {
      auto feed = platform_->Stub<pbr::v1::Allocation>("allocation", absl::StrCat("epr-feed:", kSource));
      auto ctx = testing::CallContext(absl::Minutes(5));
      auto stream = feed->RecordIntake(ctx.get());
      pbr::v1::IntakeBatch batch;
      auto send = [&] {
        pbr::v1::IntakeBatchResult result;
        if (!stream->Write(batch) || !stream->Read(&result)) return false;
        for (const auto& r : result.results()) {
          if (r.code() == 0 && !r.assessment().duplicate()) ++accepted[s];
          else if (refused[s]++ == 0) failure[s] = r.message();
        }
        batch.clear_items();
        batch.set_sequence(batch.sequence() + 1);
        return true;
      };
      bool ok = true;
      for (int p = s; p < kPeople && ok; p += kStreams) {
        *batch.add_items() = items[p];
        if (batch.items_size() == kBatchItems) ok = send();
      }
      if (ok && batch.items_size() > 0) ok = send();
      stream->WritesDone();
      if (grpc::Status st = stream->Finish(); !st.ok()) failure[s] = st.error_message();
    });
  }
  for (auto& t : streams) t.join();
  int total_accepted = 0;
  for (int s = 0; s < kStreams; ++s) {
    EXPECT_EQ(refused[s], 0) << failure[s];
    EXPECT_TRUE(failure[s].empty()) << failure[s];
    total_accepted += accepted[s];
  }
  ASSERT_EQ(total_accepted, kPeople);

  // Reporting: each team's caseload, person for person and cluster for cluster.
  auto reporting = platform_->Stub<pbr::v1::Reporting>("reporting");
  for (const auto& [team, recorded] : per_team) {
    pbr::v1::Caseload got;
    const bool reflected = testing::WaitUntil(
        [&] {
          pbr::v1::GetCaseloadRequest req;
          req.set_team_id(team);
          got.Clear();
          return reporting->GetCaseload(testing::CallContext().get(), req, &got).ok() &&
                 got.assessments_recorded() >= recorded;
        },
        absl::Minutes(8));
    ASSERT_TRUE(reflected) << team << ": reporting shows " << got.assessments_recorded() << " of " << recorded
                           << LogTails();
    EXPECT_EQ(got.assessments_recorded(), recorded) << team;
    std::map<int, int> people;
    for (const auto& c : got.clusters()) people[c.cluster()] = c.people();
    EXPECT_EQ(people, per_team_cluster[team]) << team;
  }

  // The review scheduler: every person's first review is overdue, each counted once.
  auto scheduler = platform_->Stub<pbr::v1::ReviewScheduler>("review-scheduler");
  pbr::v1::CountOverdueReply overdue;
  const bool counted = testing::WaitUntil(
      [&] {
        overdue.Clear();
        return scheduler->CountOverdue(testing::CallContext().get(), pbr::v1::CountOverdueRequest(), &overdue).ok() &&
               overdue.total() >= kPeople;
      },
      absl::Minutes(8));
  ASSERT_TRUE(counted) << "the scheduler counts " << overdue.total() << " overdue of " << kPeople << LogTails();
  EXPECT_EQ(overdue.total(), kPeople);
  std::map<std::string, int64_t> overdue_per_team;
  for (const auto& c : overdue.counts()) overdue_per_team[c.team_id()] += c.overdue();
  for (const auto& [team, recorded] : per_team) EXPECT_EQ(overdue_per_team[team], recorded) << team;

  // Every consumer is still running (a DATA_LOSS would have stopped it).
  for (const char* service : {"review-scheduler", "outcomes", "reporting"}) {
    EXPECT_TRUE(Running(platform_->Pid(service))) << service << " stopped";
  }
}

}  // namespace
}  // namespace pbr
