// A lost broker, as an operator meets it: the embedded broker is replaced by an empty one, and by
// one whose log is longer than the consumers' stored offsets. Every consumer stops loudly with
// DATA_LOSS rather than skip or double anything; then the documented recovery (allocation
// re-publishes its history, the consumers rebuild with --reset-state) restores exactly the state
// they had: every caseload, schedule and outcome history.
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/store.h"
#include "platform_fixture.h"
#include "testing/local_platform.h"

namespace pbr {
namespace {

using testing::LocalPlatform;
constexpr absl::Duration kDeadline = absl::Seconds(90);
const char* const kConsumers[] = {"review-scheduler", "outcomes", "reporting"};
const char* const kTeams[] = {"cmht-north", "cmht-south", "cmht-east"};  // rules/teams.yaml: they hold 4 and 5

using testing::NhsNumber;

pbr::v1::RecordAssessmentRequest Request(int person, int visit) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("epr-a");
  r.set_source_record_id(absl::StrCat("recovery-", person, "-", visit));
  r.set_nhs_number(NhsNumber(943470000 + person * 17));
  r.set_team_id(kTeams[person % 3]);
  r.set_clinician_id("clin-1");
  const absl::CivilDay day = absl::CivilDay(2026, 2, 1) + person * 3 + visit * 100;
  r.mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone())));
  for (int k = 0; k < 18; ++k) r.mutable_ratings()->add_items((person + visit + k) % 4);
  if (r.ratings().items(7) > 0) r.mutable_ratings()->set_item8_problem_type("D");
  r.set_cluster(visit == 0 ? 4 : 5);
  r.set_reason(visit == 0 ? pbr::v1::ASSESSMENT_REASON_INITIAL : pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  if (visit > 0) r.set_change_class(pbr::v1::CHANGE_CLASS_DETERIORATION);
  r.set_clinical_rationale("system test: synthetic ratings");
  return r;
}

// What the consumers answer, for every team and person.
struct Snapshot {
  std::vector<pbr::v1::Caseload> caseloads;
  std::vector<pbr::v1::Schedule> schedules;
  std::vector<pbr::v1::PersonOutcomes> outcomes;

  static absl::StatusOr<Snapshot> Take(LocalPlatform& p, const std::vector<std::string>& people) {
    Snapshot s;
    auto reporting = p.Stub<pbr::v1::Reporting>("reporting");
    auto scheduler = p.Stub<pbr::v1::ReviewScheduler>("review-scheduler");
    auto outcomes = p.Stub<pbr::v1::Outcomes>("outcomes");
    for (const char* team : kTeams) {
      pbr::v1::GetCaseloadRequest r;
      r.set_team_id(team);
      grpc::Status st = reporting->GetCaseload(testing::CallContext().get(), r, &s.caseloads.emplace_back());
      if (!st.ok()) return absl::UnavailableError(st.error_message());
    }
    for (const auto& person : people) {
      pbr::v1::GetScheduleRequest sr;
      sr.set_person_id(person);
      grpc::Status st = scheduler->GetSchedule(testing::CallContext().get(), sr, &s.schedules.emplace_back());
      if (!st.ok()) return absl::UnavailableError(st.error_message());
      pbr::v1::GetOutcomesRequest orq;
      orq.set_person_id(person);
      st = outcomes->GetOutcomes(testing::CallContext().get(), orq, &s.outcomes.emplace_back());
      if (!st.ok()) return absl::UnavailableError(st.error_message());
    }
    return s;
  }
  bool operator==(const Snapshot& o) const {
    auto same = [](const auto& a, const auto& b) {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!google::protobuf::util::MessageDifferencer::Equals(a[i], b[i])) return false;
      }
      return true;
    };
    return same(caseloads, o.caseloads) && same(schedules, o.schedules) && same(outcomes, o.outcomes);
  }
  std::string DebugString() const {
    std::string out;
    for (const auto& c : caseloads) absl::StrAppend(&out, c.ShortDebugString(), "\n");
    for (const auto& c : schedules) absl::StrAppend(&out, c.ShortDebugString(), "\n");
    for (const auto& c : outcomes) absl::StrAppend(&out, c.ShortDebugString(), "\n");
    return out;
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class RecoverySystemTest : public systemtest::PlatformFixture {
 protected:
  // Starts every consumer on the current broker and expects each to stop with DATA_LOSS.
  void ExpectConsumersStopWithDataLoss(const char* why) {
    for (const char* name : kConsumers) {
      const size_t log_before = ReadFile(platform_->LogPath(name)).size();
      platform_->KillService(name);
      (void)platform_->StartService(name);  // may already have stopped before printing READY
      ASSERT_TRUE(testing::WaitUntil([&] { return platform_->Process(name) == nullptr || !platform_->Process(name)->Running(); },
                                     kDeadline))
          << name << " kept running on " << why << "; its log:\n" << ReadFile(platform_->LogPath(name)).substr(log_before);
      const std::string log = ReadFile(platform_->LogPath(name)).substr(log_before);
      EXPECT_NE(log.find("DATA_LOSS"), std::string::npos) << name << " on " << why << ":\n" << log;
      EXPECT_NE(log.find("not the log this service consumed"), std::string::npos) << name << ":\n" << log;
    }
  }

};

TEST_F(RecoverySystemTest, AReplacedBrokerStopsEveryConsumerLoudlyAndTheRecoveryPathRestoresExactState) {
  auto allocation = platform_->Stub<pbr::v1::Allocation>("allocation", "epr-feed:epr-a");
  std::vector<std::string> people;
  for (int person = 0; person < 24; ++person) {
    for (int visit = 0; visit < (person % 4 == 0 ? 2 : 1); ++visit) {
      pbr::v1::RecordAssessmentReply reply;
      grpc::Status st = allocation->RecordAssessment(testing::CallContext().get(), Request(person, visit), &reply);
      ASSERT_TRUE(st.ok()) << person << ": " << st.error_message();
      if (visit == 0) people.push_back(reply.person_id());
    }
  }
  // Settled: every person has a schedule and every assessment an outcome, reporting shows what the
  // scheduler and outcomes announced (each person's HoNOS, the scheduler's due and overdue reviews: they
  // reach reporting on their own topics, later than the assessments), and two looks agree.
  std::optional<Snapshot> before;
  ASSERT_TRUE(testing::WaitUntil([&] {
    auto s = Snapshot::Take(*platform_, people);
    if (!s.ok()) return false;
    int64_t on_caseload = 0, outcomes = 0, with_honos = 0, due = 0, overdue = 0, scheduled_due = 0, scheduled_overdue = 0;
    for (const auto& c : s->caseloads) {
      on_caseload += c.people();
      due += c.reviews_due();
      overdue += c.reviews_overdue();
      for (const auto& k : c.clusters()) with_honos += k.people_with_honos();
    }
    for (const auto& o : s->outcomes) outcomes += o.outcomes_size();
    for (const auto& r : s->schedules) {
      scheduled_due += r.state() == pbr::v1::REVIEW_STATE_DUE ? 1 : 0;
      scheduled_overdue += r.state() == pbr::v1::REVIEW_STATE_OVERDUE ? 1 : 0;
    }
    // Person by person too: every caseload row shows the scheduler's cluster and review state for the
    // person (equal totals could hide a row still on an earlier basis).
    std::map<std::string, const pbr::v1::CaseloadPerson*> rows;
    for (const auto& c : s->caseloads) {
      for (const auto& p : c.persons()) rows[p.person_id()] = &p;
    }
    bool rows_agree = true;
    for (const auto& r : s->schedules) {
      auto row = rows.find(r.person_id());
      rows_agree = rows_agree && row != rows.end() && row->second->cluster() == r.cluster() &&
                   row->second->review_state() == r.state() && row->second->has_honos();
    }
    const bool complete = on_caseload == 24 && outcomes == 30 && with_honos == 24 && due == scheduled_due &&
                          overdue == scheduled_overdue && rows_agree;
    const bool stable = before.has_value() && *before == *s;
    before = *std::move(s);
    return complete && stable;
  }, kDeadline)) << (before ? before->DebugString() : "no snapshot");

  // 1. An empty broker: the log is shorter than what the consumers applied.
  ASSERT_TRUE(platform_->ReplaceBroker().ok());
  ExpectConsumersStopWithDataLoss("an empty broker");

  // 2. A broker whose log is longer than the stored offsets, with other events in it.
  ASSERT_TRUE(platform_->ReplaceBroker().ok());
  {
    testing::TempDir other;
    auto store = platform::Store::Open(other.path(), {});
    ASSERT_TRUE(store.ok());
    platform::KafkaSettings kafka;
    kafka.bootstrap = platform_->bootstrap();
    auto outbox = platform::Outbox::Open(**store, kafka, nullptr);
    ASSERT_TRUE(outbox.ok());
    rocksdb::WriteBatch batch;
    for (absl::string_view topic : {platform::topic::kAssessmentRecorded, platform::topic::kClusterChanged,
                                    platform::topic::kReviewDue, platform::topic::kOutcomeRecorded}) {
      for (int i = 0; i < 240; ++i) {
        (*outbox)->StageRaw(batch, topic, absl::StrCat("someone-else-", i), absl::StrCat("not ours ", i));
      }
    }
    ASSERT_TRUE((*store)->Write(batch, false).ok());
    ASSERT_TRUE((*outbox)->Start().ok());
    ASSERT_TRUE((*outbox)->WaitUntilEmpty(kDeadline));
    (*outbox)->Stop(absl::Seconds(5));
  }
  ExpectConsumersStopWithDataLoss("a broker with a longer, different log");

  // 3. Recovery onto a new broker: allocation re-publishes, every consumer rebuilds.
  ASSERT_TRUE(platform_->ReplaceBroker().ok());
  ASSERT_TRUE(platform_->StopService("allocation").ok());
  ASSERT_TRUE(platform_->StartService("allocation", absl::Seconds(60), {"--republish-history=true"}).ok());
  for (const char* name : kConsumers) {
    ASSERT_TRUE(platform_->StartService(name, absl::Seconds(30), {"--reset-state=true"}).ok()) << name;
  }
  std::optional<Snapshot> after;
  EXPECT_TRUE(testing::WaitUntil([&] {
    auto s = Snapshot::Take(*platform_, people);
    if (!s.ok()) return false;
    after = *std::move(s);
    return *after == *before;
  }, kDeadline)) << "before:\n" << before->DebugString() << "after:\n" << (after ? after->DebugString() : "none");

  // 4. A plain restart on the recovered broker resumes where it was: nothing lost, nothing doubled.
  for (const char* name : kConsumers) {
    ASSERT_TRUE(platform_->StopService(name).ok()) << name;
    ASSERT_TRUE(platform_->StartService(name).ok()) << name;
  }
  pbr::v1::RecordAssessmentReply reply;
  allocation = platform_->Stub<pbr::v1::Allocation>("allocation", "epr-feed:epr-a");  // restarted on a new port
  ASSERT_TRUE(allocation->RecordAssessment(testing::CallContext().get(), Request(25, 0), &reply).ok());
  EXPECT_TRUE(testing::WaitUntil([&] {
    auto s = Snapshot::Take(*platform_, people);
    if (!s.ok()) return false;
    int64_t on_caseload = 0;
    for (const auto& c : s->caseloads) on_caseload += c.people();
    Snapshot people_before = *before, people_now = *s;
    people_before.caseloads.clear();
    people_now.caseloads.clear();
    return on_caseload == 25 && people_now == people_before;
  }, kDeadline));
  for (const char* name : kConsumers) {
    EXPECT_TRUE(platform_->Process(name)->Running()) << name << " stopped after the recovery:\n"
                                                     << ReadFile(platform_->LogPath(name));
  }
}

}  // namespace
}  // namespace pbr
