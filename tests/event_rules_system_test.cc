// Every consumer applies the same shared event rules: bad events put straight on the topics (not
// through allocation) are dead-lettered by every consumer group with the same reason and counted by
// none, while a good event beside them is counted everywhere.
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/consumer.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "testing/local_platform.h"

namespace pbr {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
namespace topic = platform::topic;
constexpr absl::Duration kConverge = absl::Seconds(60);
constexpr char kTeam[] = "cmht-east";  // a team of rules/teams.yaml, holding cluster 4

absl::Time Day(int y, int m, int d) { return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()); }

// An assessment-recorded event as allocation would publish it.
pbr::v1::EventEnvelope Assessment(const std::string& person) {
  auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, platform::DeterministicId("probe", {person}), person,
                                  Day(2026, 3, 2), Day(2026, 3, 2), "probe-epr", "");
  auto* a = e.mutable_assessment_recorded();
  a->set_assessment_id(absl::StrCat("assessment-of-", person));
  a->set_source_record_id(absl::StrCat("rec-", person));
  a->set_team_id(kTeam);
  a->set_clinician_id("clin-1");
  *a->mutable_assessed_at() = platform::ToProto(Day(2026, 3, 2));
  *a->mutable_effective_at() = a->assessed_at();
  for (int i = 0; i < 18; ++i) a->mutable_ratings()->add_items(i < 12 ? 1 : 0);
  a->mutable_ratings()->set_item8_problem_type("B");
  a->set_cluster(4);
  a->set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  a->set_rule_version("probe");
  a->set_episode_id("episode-1");
  return e;
}

class EventRulesSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::LocalPlatformOptions options;
    options.bin_dir = PBR_BIN_DIR;
    options.rules_dir = PBR_RULES_DIR;
    options.work_dir = dir_.path() + "/platform";
    options.clock = "fixed:2026-11-22T12:00:00Z";
    auto platform = testing::LocalPlatform::Start(options);
    ASSERT_TRUE(platform.ok()) << platform.status();
    platform_ = *std::move(platform);

    // A producer straight onto the topics, and a reader of the dead-letter topic, both built on
    // the platform library like any service.
    store_ = *platform::Store::Open(dir_.path() + "/probe", {});
    platform::KafkaSettings kafka;
    kafka.bootstrap = platform_->bootstrap();
    kafka.group_id = "test-dead-letter-reader";
    outbox_ = *platform::Outbox::Open(*store_, kafka, nullptr);
    ASSERT_TRUE(outbox_->Start().ok());
    reader_ = std::make_unique<platform::Consumer>(*store_, *outbox_, kafka, nullptr, clock_);
    reader_->ValidateWith([](absl::string_view, const pbr::v1::EventEnvelope&) { return absl::OkStatus(); });
    reader_->On(topic::kDeadLetter, [this](const platform::ConsumedEvent& ev, platform::ApplyContext&) {
      std::lock_guard lock(mu_);
      dead_letters_.push_back(ev.event.dead_letter());
      return absl::OkStatus();
    });
    ASSERT_TRUE(reader_->Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  }
  void TearDown() override {
    if (reader_) reader_->Stop();
    if (outbox_) outbox_->Stop(absl::Seconds(5));
    if (platform_) EXPECT_TRUE(platform_->StopAll().ok());
  }

  void Publish(const pbr::v1::EventEnvelope& e) {
    rocksdb::WriteBatch batch;
    outbox_->Stage(batch, e.event_type(), e);
    ASSERT_TRUE(store_->Write(batch, /*sync=*/false).ok());
    outbox_->Wake();
  }

  // Consumer group -> reason, for the dead letters of the event with `event_id`.
  std::map<std::string, std::string> DeadLettersOf(const std::string& event_id) {
    std::lock_guard lock(mu_);
    std::map<std::string, std::string> out;
    for (const auto& d : dead_letters_) {
      pbr::v1::EventEnvelope original;
      if (original.ParseFromString(d.original_value()) && original.event_id() == event_id) {
        out[d.consumer_group()] = d.reason();
      }
    }
    return out;
  }

  pbr::v1::Caseload Caseload() {
    pbr::v1::GetCaseloadRequest req;
    req.set_team_id(kTeam);
    pbr::v1::Caseload reply;
    platform_->Stub<pbr::v1::Reporting>("reporting")->GetCaseload(testing::CallContext().get(), req, &reply);
    return reply;
  }
  grpc::StatusCode Schedule(const std::string& person) {
    pbr::v1::GetScheduleRequest req;
    req.set_person_id(person);
    pbr::v1::Schedule reply;
    return platform_->Stub<pbr::v1::ReviewScheduler>("review-scheduler")
        ->GetSchedule(testing::CallContext().get(), req, &reply)
        .error_code();
  }
  grpc::StatusCode Outcomes(const std::string& person) {
    pbr::v1::GetOutcomesRequest req;
    req.set_person_id(person);
    pbr::v1::PersonOutcomes reply;
    return platform_->Stub<pbr::v1::Outcomes>("outcomes")->GetOutcomes(testing::CallContext().get(), req, &reply)
        .error_code();
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::LocalPlatform> platform_;
  platform::ManualClock clock_{Day(2026, 11, 22)};
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::unique_ptr<platform::Consumer> reader_;
  std::mutex mu_;
  std::vector<pbr::v1::DeadLetter> dead_letters_;
};

TEST_F(EventRulesSystemTest, ABadEventIsDeadLetteredByEveryConsumerWithTheSameReasonAndCountedByNone) {
  auto cluster_99 = Assessment("person-cluster-99");
  cluster_99.mutable_assessment_recorded()->set_cluster(99);
  auto no_ratings = Assessment("person-no-ratings");
  no_ratings.mutable_assessment_recorded()->clear_ratings();
  const auto good = Assessment("person-good");
  Publish(cluster_99);
  Publish(no_ratings);
  Publish(good);

  struct Expected {
    const pbr::v1::EventEnvelope& event;
    std::string problem;
  };
  for (const Expected& bad : {Expected{cluster_99, "assessment_recorded.cluster: 99 is not a care cluster (0-21)"},
                              Expected{no_ratings, "assessment_recorded.ratings: required"}}) {
    std::map<std::string, std::string> reasons;
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          reasons = DeadLettersOf(bad.event.event_id());
          return reasons.size() == 3;
        },
        kConverge, absl::Milliseconds(100)))
        << bad.problem << ": dead-lettered by " << reasons.size() << " of the 3 consumer groups";
    EXPECT_THAT(reasons, UnorderedElementsAre(::testing::Key("review-scheduler"), ::testing::Key("outcomes"),
                                              ::testing::Key("reporting")));
    const std::string& reason = reasons.begin()->second;
    EXPECT_THAT(reason, HasSubstr(bad.problem));
    for (const auto& [group, r] : reasons) EXPECT_EQ(r, reason) << group << " gave another reason";
  }

  // The good event is counted everywhere; the bad ones nowhere.
  pbr::v1::Caseload caseload;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        caseload = Caseload();
        return caseload.people() >= 1 && Schedule("person-good") == grpc::StatusCode::OK &&
               Outcomes("person-good") == grpc::StatusCode::OK;
      },
      kConverge, absl::Milliseconds(100)))
      << caseload.DebugString();
  EXPECT_EQ(caseload.people(), 1) << caseload.DebugString();
  EXPECT_EQ(caseload.assessments_recorded(), 1);
  ASSERT_EQ(caseload.persons_size(), 1);
  EXPECT_EQ(caseload.persons(0).person_id(), "person-good");
  for (const char* person : {"person-cluster-99", "person-no-ratings"}) {
    EXPECT_EQ(Schedule(person), grpc::StatusCode::NOT_FOUND) << person;
    EXPECT_EQ(Outcomes(person), grpc::StatusCode::NOT_FOUND) << person;
  }
}

}  // namespace
}  // namespace pbr
