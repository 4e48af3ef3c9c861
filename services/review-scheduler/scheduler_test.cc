#include "scheduler.h"

#include <functional>
#include <numeric>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "care_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "testing/process.h"

namespace pbr::scheduler {
namespace {

absl::CivilDay D(int y, int m, int d) { return absl::CivilDay(y, m, d); }
absl::Time At(absl::CivilDay d) { return absl::FromCivil(absl::CivilSecond(d.year(), d.month(), d.day(), 12, 0, 0), platform::ClinicalTimeZone()); }

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), {std::string(kSchedulesFamily), std::string(kTimersFamily),
                                                     std::string(kLedgerFamily)});
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    auto rules = services::LoadRules(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
    scheduler_ = std::make_unique<Scheduler>(*rules, care::ReviewPolicy::kTrustSop);
  }

  // Applies one assessment as the consumer would: handler, then one write.
  void Assess(absl::CivilDay now, absl::CivilDay assessed, int cluster, const std::string& id,
              const std::string& person = "person-1") {
    auto e = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, "ev-" + id, person, At(assessed), At(now),
                                    "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_team_id("team-a");
    a->set_cluster(cluster);
    *a->mutable_assessed_at() = platform::ToProto(At(assessed));
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, At(now));
    ASSERT_TRUE(scheduler_->OnAssessment({platform::topic::kAssessmentRecorded, 0, 0, e}, ctx).ok());
    ASSERT_TRUE(store_->Write(batch, false).ok());
  }
  // Applies revision `revision` of assessment `id`: an amendment with the given content, or a
  // withdrawal (whose other fields are left blank, as a withdrawal need not repeat them).
  void Correct(absl::CivilDay now, const std::string& id, int revision, absl::CivilDay assessed, int cluster,
               const std::string& team = "team-a", bool withdrawn = false, const std::string& person = "person-1") {
    auto e = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, absl::StrCat("ev-", id, "-r", revision),
                                    person, At(assessed), At(now), "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_revision(revision);
    a->set_withdrawn(withdrawn);
    if (!withdrawn) {
      a->set_team_id(team);
      a->set_cluster(cluster);
      *a->mutable_assessed_at() = platform::ToProto(At(assessed));
    }
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, At(now));
    auto st = scheduler_->OnAssessment({platform::topic::kAssessmentRecorded, 0, 0, e}, ctx);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(store_->Write(batch, false).ok());
  }
  void Withdraw(absl::CivilDay now, const std::string& id, int revision) {
    Correct(now, id, revision, now, 0, "", /*withdrawn=*/true);
  }
  // Applies revision `revision` of care event `id` (a withdrawal carries its identity only).
  void Care(absl::CivilDay now, const std::string& id, pbr::v1::CareEventType type, absl::CivilDay on,
            int revision = 0, bool withdrawn = false, const std::string& person = "person-1") {
    auto e = platform::MakeEnvelope(platform::topic::kCareEventRecorded, absl::StrCat("ce-", id, "-r", revision),
                                    person, At(on), At(now), "epr", "");
    auto* c = e.mutable_care_event_recorded();
    c->set_care_event_id(id);
    c->set_revision(revision);
    c->set_withdrawn(withdrawn);
    if (!withdrawn) {
      c->set_type(type);
      c->set_team_id("team-a");
      *c->mutable_occurred_at() = platform::ToProto(At(on));
    }
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, At(now));
    auto st = scheduler_->OnCareEvent({platform::topic::kCareEventRecorded, 0, 0, e}, ctx);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(store_->Write(batch, false).ok());
  }
  void Discharge(absl::CivilDay now, absl::CivilDay on, const std::string& id = "dis",
                 const std::string& person = "person-1") {
    Care(now, id, pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, on, 0, false, person);
  }
  absl::Status LookupStatus(absl::CivilDay today, const std::string& person = "person-1") {
    return Scheduler::Lookup(*store_, person, today).status();
  }
  std::set<std::string> AnnouncedIds() {
    std::set<std::string> ids;
    const auto pending = platform::Outbox::ReadPending(*store_);  // kept: the loop reads into it
    EXPECT_TRUE(pending.ok());
    for (const auto& p : pending.value_or(std::vector<platform::PendingEvent>{})) {
      pbr::v1::EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(p.value));
      ids.insert(e.event_id());
    }
    return ids;
  }
  absl::CivilDay DueFor(int cluster, absl::CivilDay mhct) {
    auto due = rules_->ReviewDueDate(cluster, mhct, care::ReviewPolicy::kTrustSop);
    EXPECT_TRUE(due.ok()) << due.status();
    return due.ok() ? due->due : mhct;
  }
  void Advance(absl::CivilDay now) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, At(now));
    ASSERT_TRUE(scheduler_->AdvanceDueReviews(ctx).ok());
    ASSERT_TRUE(store_->Write(batch, false).ok());
  }
  std::vector<pbr::v1::ReviewDue> Announced() {
    std::vector<pbr::v1::ReviewDue> out;
    const auto pending = platform::Outbox::ReadPending(*store_);
    EXPECT_TRUE(pending.ok());
    for (const auto& p : *pending) {
      pbr::v1::EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(p.value));
      EXPECT_EQ(p.topic, "review-due");
      out.push_back(e.review_due());
    }
    return out;
  }
  pbr::v1::Schedule Get(absl::CivilDay today, const std::string& person = "person-1") {
    auto s = Scheduler::Lookup(*store_, person, today);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.value_or(pbr::v1::Schedule{});
  }
  int Timers(const std::string& person = "") {
    int n = 0;
    EXPECT_TRUE(store_->Scan(kTimersFamily, "", [&](absl::string_view key, auto) {
                        if (person.empty() || absl::EndsWith(key, "/" + person)) ++n;
                        return true;
                      }).ok());
    return n;
  }

  pbr::testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::shared_ptr<const care::RuleSet> rules_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, ReviewMovesThroughUpcomingDueOverdueAndIsAnnouncedOncePerChange) {
  // Cluster 4: six calendar months under the SOP. Assessed 2 March: period ends 2 September.
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  auto s = Get(D(2026, 5, 1));
  EXPECT_EQ(platform::FromProto(s.due_date()), absl::CivilDay(2026, 9, 1));
  EXPECT_EQ(platform::FromProto(s.window_opens()), absl::CivilDay(2026, 8, 22));
  EXPECT_EQ(s.state(), pbr::v1::REVIEW_STATE_UPCOMING);
  EXPECT_TRUE(Announced().empty());

  Advance(D(2026, 8, 21));
  EXPECT_TRUE(Announced().empty());
  Advance(D(2026, 8, 22));
  Advance(D(2026, 8, 23));
  ASSERT_EQ(Announced().size(), 1u);
  EXPECT_EQ(Announced()[0].state(), pbr::v1::REVIEW_STATE_DUE);
  EXPECT_EQ(Announced()[0].basis_assessment_id(), "a1");

  Advance(D(2026, 9, 1));
  EXPECT_EQ(Announced().size(), 1u) << "the due day itself is not overdue";
  Advance(D(2026, 9, 2));
  ASSERT_EQ(Announced().size(), 2u);
  EXPECT_EQ(Announced()[1].state(), pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_EQ(Timers(), 0) << "an overdue review has no further timer";

  // The review happens: the clock restarts from the new MHCT date.
  Assess(D(2026, 9, 10), D(2026, 9, 10), 4, "a2");
  s = Get(D(2026, 9, 10));
  EXPECT_EQ(s.basis_assessment_id(), "a2");
  EXPECT_EQ(s.state(), pbr::v1::REVIEW_STATE_UPCOMING);
  EXPECT_EQ(platform::FromProto(s.due_date()), absl::CivilDay(2027, 3, 9));
  EXPECT_EQ(Timers(), 1);
}

TEST_F(SchedulerTest, HistoricAssessmentsAreAnnouncedInTheirCurrentStateOnly) {
  Assess(D(2026, 11, 22), D(2025, 1, 10), 14, "old");  // cluster 14: four weeks, long past
  auto announced = Announced();
  ASSERT_EQ(announced.size(), 1u);
  EXPECT_EQ(announced[0].state(), pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_EQ(platform::FromProto(announced[0].due_date()), absl::CivilDay(2025, 2, 6));
}

TEST_F(SchedulerTest, AnOlderAssessmentArrivingLateDoesNotMoveTheClock) {
  Assess(D(2026, 5, 1), D(2026, 4, 1), 11, "new");
  Assess(D(2026, 5, 1), D(2026, 1, 1), 11, "late");
  EXPECT_EQ(Get(D(2026, 5, 1)).basis_assessment_id(), "new");
}

TEST_F(SchedulerTest, MonthEndIsClampedAndTheBlankClusterIsRefused) {
  Assess(D(2026, 9, 1), D(2026, 8, 31), 4, "aug31");  // 31 Aug + 6 months -> end of February
  EXPECT_EQ(platform::FromProto(Get(D(2026, 9, 1)).due_date()) + 1, absl::CivilDay(2027, 2, 28));

  auto e = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, "ev", "p9", At(D(2026, 1, 1)),
                                  At(D(2026, 1, 1)), "epr", "");
  e.mutable_assessment_recorded()->set_cluster(9);
  *e.mutable_assessment_recorded()->mutable_assessed_at() = platform::ToProto(At(D(2026, 1, 1)));
  rocksdb::WriteBatch batch;
  platform::ApplyContext ctx(*store_, *outbox_, batch, At(D(2026, 1, 2)));
  auto st = scheduler_->OnAssessment({platform::topic::kAssessmentRecorded, 0, 0, e}, ctx);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << "dead-lettered, with the reason";
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("cluster"));
}

TEST_F(SchedulerTest, UnknownPersonIsNotFound) {
  EXPECT_EQ(Scheduler::Lookup(*store_, "nobody", D(2026, 1, 1)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, AnAmendmentMovesTheScheduleToItsNewDateClusterAndTeam) {
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  ASSERT_EQ(Timers(), 1);
  Correct(D(2026, 5, 1), "a1", 1, D(2026, 4, 1), 11, "team-b");
  auto s = Get(D(2026, 5, 1));
  EXPECT_EQ(s.basis_assessment_id(), "a1");
  EXPECT_EQ(s.cluster(), 11);
  EXPECT_EQ(s.team_id(), "team-b");
  EXPECT_EQ(platform::FromProto(s.latest_mhct_date()), D(2026, 4, 1));
  EXPECT_EQ(platform::FromProto(s.due_date()), DueFor(11, D(2026, 4, 1)));
  EXPECT_EQ(Timers(), 1) << "the old timer is replaced, not kept beside the new one";
  EXPECT_TRUE(Announced().empty());
}

TEST_F(SchedulerTest, AnAmendedBasisIsAnnouncedAgainByEventAndByTimer) {
  // Cluster 4 from 2 March: window opens 22 August.
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  Advance(D(2026, 8, 25));
  ASSERT_EQ(Announced().size(), 1u);
  // Amended to 4 March: still due, but from another MHCT date, so reporting must hear it again.
  Correct(D(2026, 8, 25), "a1", 1, D(2026, 3, 4), 4);
  auto announced = Announced();
  ASSERT_EQ(announced.size(), 2u);
  EXPECT_EQ(announced[1].state(), pbr::v1::REVIEW_STATE_DUE);
  EXPECT_EQ(platform::FromProto(announced[1].latest_mhct_date()), D(2026, 3, 4));
  // Amended to 1 May: back to upcoming (nothing to announce), then due again when its window opens.
  Correct(D(2026, 8, 26), "a1", 2, D(2026, 5, 1), 4);
  EXPECT_EQ(Get(D(2026, 8, 26)).state(), pbr::v1::REVIEW_STATE_UPCOMING);
  EXPECT_EQ(Announced().size(), 2u);
  Advance(D(2026, 10, 31));
  announced = Announced();
  ASSERT_EQ(announced.size(), 3u);
  EXPECT_EQ(platform::FromProto(announced[2].latest_mhct_date()), D(2026, 5, 1));
  EXPECT_EQ(AnnouncedIds().size(), 3u) << "every announcement has its own event id";
}

TEST_F(SchedulerTest, WithdrawingTheLatestFallsBackToThePreviousAndAnnouncesIt) {
  Assess(D(2026, 11, 22), D(2025, 1, 10), 14, "old");  // long overdue
  Assess(D(2026, 11, 22), D(2026, 11, 20), 14, "new");  // four weeks: upcoming
  EXPECT_EQ(Get(D(2026, 11, 22)).basis_assessment_id(), "new");
  ASSERT_EQ(Announced().size(), 1u);
  Withdraw(D(2026, 11, 22), "new", 1);
  auto s = Get(D(2026, 11, 22));
  EXPECT_EQ(s.basis_assessment_id(), "old");
  EXPECT_EQ(s.state(), pbr::v1::REVIEW_STATE_OVERDUE);
  auto announced = Announced();
  ASSERT_EQ(announced.size(), 2u) << "the basis is new again, so its overdue review is announced again";
  EXPECT_EQ(announced[1].basis_assessment_id(), "old");
  EXPECT_EQ(announced[1].state(), pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_EQ(AnnouncedIds().size(), 2u);
  EXPECT_EQ(Timers(), 0);
}

TEST_F(SchedulerTest, WithdrawingTheOnlyAssessmentRemovesTheScheduleAndItsTimer) {
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  ASSERT_EQ(Timers(), 1);
  Withdraw(D(2026, 5, 2), "a1", 1);
  EXPECT_EQ(Scheduler::Lookup(*store_, "person-1", D(2026, 5, 2)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Timers(), 0);
  Advance(D(2026, 9, 30));
  EXPECT_TRUE(Announced().empty());
  // A stale copy of the original (another event id, so not de-duplicated) does not revive it.
  Correct(D(2026, 5, 3), "a1", 0, D(2026, 3, 2), 4);
  EXPECT_EQ(Scheduler::Lookup(*store_, "person-1", D(2026, 5, 3)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, AStaleRevisionIsIgnored) {
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  Correct(D(2026, 5, 1), "a1", 2, D(2026, 4, 10), 11);
  Correct(D(2026, 5, 1), "a1", 1, D(2026, 1, 1), 4);   // older than what is held
  Correct(D(2026, 5, 1), "a1", 2, D(2026, 2, 2), 13);  // same revision again
  auto s = Get(D(2026, 5, 1));
  EXPECT_EQ(platform::FromProto(s.latest_mhct_date()), D(2026, 4, 10));
  EXPECT_EQ(s.cluster(), 11);
}

TEST_F(SchedulerTest, AmendingAnOlderAssessmentPastTheLatestMakesItTheBasis) {
  Assess(D(2026, 5, 1), D(2026, 1, 5), 4, "a1");
  Assess(D(2026, 5, 1), D(2026, 4, 1), 11, "a2");
  Correct(D(2026, 5, 1), "a1", 1, D(2026, 3, 1), 5);  // amended but still older: nothing moves
  EXPECT_EQ(Get(D(2026, 5, 1)).basis_assessment_id(), "a2");
  Correct(D(2026, 5, 1), "a1", 2, D(2026, 4, 20), 5);  // now the latest
  auto s = Get(D(2026, 5, 1));
  EXPECT_EQ(s.basis_assessment_id(), "a1");
  EXPECT_EQ(s.cluster(), 5);
  EXPECT_EQ(Timers(), 1);
  Withdraw(D(2026, 5, 2), "a1", 3);
  EXPECT_EQ(Get(D(2026, 5, 2)).basis_assessment_id(), "a2");
  EXPECT_EQ(Timers(), 1);
}

TEST_F(SchedulerTest, ADischargeClosesTheScheduleAndItsTimer) {
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  ASSERT_EQ(Timers(), 1);
  Discharge(D(2026, 5, 10), D(2026, 5, 10));
  const absl::Status st = LookupStatus(D(2026, 5, 10));
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("discharged from service on 2026-05-10")) << st;
  EXPECT_EQ(Timers(), 0);
  Advance(D(2026, 9, 30));  // the window would have opened on 22 August
  EXPECT_TRUE(Announced().empty()) << "a discharged person has no review to announce";
  // A later fact of the closed period changes nothing; an unknown person is simply unknown.
  Care(D(2026, 6, 1), "contact", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, D(2026, 4, 1));
  EXPECT_EQ(LookupStatus(D(2026, 6, 1)).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(LookupStatus(D(2026, 6, 1), "nobody").message()), ::testing::HasSubstr("no schedule"));
}

TEST_F(SchedulerTest, ADischargeOfAnOverduePersonAnnouncesNothingMore) {
  Assess(D(2026, 11, 22), D(2025, 1, 10), 14, "old");  // long overdue
  ASSERT_EQ(Announced().size(), 1u);
  Discharge(D(2026, 11, 23), D(2026, 11, 23));
  EXPECT_EQ(LookupStatus(D(2026, 11, 23)).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Announced().size(), 1u);
  EXPECT_EQ(Timers(), 0);
}

TEST_F(SchedulerTest, ADischargeReviewAtTheDischargeInstantThenTheDischargeClosesTheSchedule) {
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  Assess(D(2026, 5, 10), D(2026, 5, 10), 4, "dr");  // the discharge review, at 12:00
  EXPECT_EQ(Get(D(2026, 5, 10)).basis_assessment_id(), "dr");
  Discharge(D(2026, 5, 10), D(2026, 5, 10));  // the same instant: the review belongs to the period it closes
  EXPECT_THAT(std::string(LookupStatus(D(2026, 5, 10)).message()),
              ::testing::HasSubstr("discharged from service on 2026-05-10"));
  EXPECT_EQ(Timers(), 0);

  // The other way round, for another person: the discharge first, then its review.
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "b1", "person-2");
  Discharge(D(2026, 5, 10), D(2026, 5, 10), "dis-2", "person-2");
  Assess(D(2026, 5, 10), D(2026, 5, 10), 4, "dr-2", "person-2");
  EXPECT_THAT(std::string(LookupStatus(D(2026, 5, 10), "person-2").message()),
              ::testing::HasSubstr("discharged from service on 2026-05-10"));
  EXPECT_EQ(Timers(), 0);
  EXPECT_TRUE(Announced().empty());
}

TEST_F(SchedulerTest, AnInitialAssessmentAfterADischargeOpensANewSchedule) {
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  Discharge(D(2026, 5, 10), D(2026, 5, 10));
  ASSERT_EQ(LookupStatus(D(2026, 5, 10)).code(), absl::StatusCode::kNotFound);
  // Referred again: the referral alone has no cluster, so nothing is scheduled yet.
  Care(D(2026, 6, 1), "ref", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, D(2026, 6, 1));
  const absl::Status referred = LookupStatus(D(2026, 6, 1));
  EXPECT_EQ(referred.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(referred.message()), ::testing::HasSubstr("no schedule")) << "open again, not discharged";
  EXPECT_EQ(Timers(), 0);

  Assess(D(2026, 6, 5), D(2026, 6, 5), 11, "again");
  auto s = Get(D(2026, 6, 5));
  EXPECT_EQ(s.basis_assessment_id(), "again");
  EXPECT_EQ(s.cluster(), 11);
  EXPECT_EQ(platform::FromProto(s.latest_mhct_date()), D(2026, 6, 5));
  EXPECT_EQ(platform::FromProto(s.due_date()), DueFor(11, D(2026, 6, 5)));
  EXPECT_EQ(s.state(), pbr::v1::REVIEW_STATE_UPCOMING);
  EXPECT_EQ(Timers(), 1);
  // An assessment of the closed period arriving late does not reopen it.
  Assess(D(2026, 6, 6), D(2026, 4, 1), 4, "late");
  EXPECT_EQ(Get(D(2026, 6, 6)).basis_assessment_id(), "again");
}

TEST_F(SchedulerTest, AReferralAloneSchedulesNothing) {
  Care(D(2026, 6, 1), "ref", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, D(2026, 6, 1));
  EXPECT_EQ(LookupStatus(D(2026, 6, 1)).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Timers(), 0);
  Assess(D(2026, 6, 5), D(2026, 6, 5), 4, "init");
  EXPECT_EQ(Get(D(2026, 6, 5)).basis_assessment_id(), "init");
}

TEST_F(SchedulerTest, AWithdrawnDischargeReopensTheScheduleAndAnnouncesItAgain) {
  Assess(D(2026, 11, 22), D(2025, 1, 10), 14, "old");  // long overdue
  ASSERT_EQ(Announced().size(), 1u);
  Discharge(D(2026, 11, 23), D(2026, 11, 23));
  ASSERT_EQ(LookupStatus(D(2026, 11, 23)).code(), absl::StatusCode::kNotFound);
  Care(D(2026, 11, 24), "dis", pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED, D(2026, 11, 24), 1, /*withdrawn=*/true);
  auto s = Get(D(2026, 11, 24));
  EXPECT_EQ(s.basis_assessment_id(), "old");
  EXPECT_EQ(s.state(), pbr::v1::REVIEW_STATE_OVERDUE);
  auto announced = Announced();
  ASSERT_EQ(announced.size(), 2u) << "reopened overdue: reporting hears of it again";
  EXPECT_EQ(announced[1].state(), pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_EQ(AnnouncedIds().size(), 2u);
  // The discharge as first recorded, arriving again late, does not close it again.
  Discharge(D(2026, 11, 25), D(2026, 11, 23));
  EXPECT_EQ(Get(D(2026, 11, 25)).basis_assessment_id(), "old");
}

TEST_F(SchedulerTest, AWithdrawnUpcomingDischargeReopensWithItsTimer) {
  Assess(D(2026, 5, 1), D(2026, 3, 2), 4, "a1");
  Discharge(D(2026, 5, 10), D(2026, 5, 10));
  ASSERT_EQ(Timers(), 0);
  Care(D(2026, 5, 11), "dis", pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED, D(2026, 5, 11), 1, /*withdrawn=*/true);
  EXPECT_EQ(Get(D(2026, 5, 11)).state(), pbr::v1::REVIEW_STATE_UPCOMING);
  EXPECT_EQ(Timers(), 1);
  Advance(D(2026, 8, 22));
  ASSERT_EQ(Announced().size(), 1u);
  EXPECT_EQ(Announced()[0].state(), pbr::v1::REVIEW_STATE_DUE);
}

TEST_F(SchedulerTest, FactsArrivingInAnyOrderAcrossTheTwoTopicsGiveTheSameSchedule) {
  using Step = std::function<void(const std::string& person)>;
  const absl::CivilDay now = D(2026, 9, 1);
  // Referred, allocated, reviewed, discharged; and the same without a return (ends discharged).
  std::vector<Step> discharged = {
      [&](const std::string& p) {
        Care(now, "ref", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, D(2026, 1, 2), 0, false, p);
      },
      [&](const std::string& p) { Assess(now, D(2026, 1, 5), 4, "a1", p); },
      [&](const std::string& p) { Assess(now, D(2026, 3, 5), 11, "a2", p); },
      [&](const std::string& p) { Discharge(now, D(2026, 4, 1), "dis", p); },
  };
  std::vector<Step> returned = discharged;
  returned.push_back([&](const std::string& p) { Assess(now, D(2026, 6, 1), 12, "a3", p); });

  int person_number = 0;
  for (const auto* steps : {&discharged, &returned}) {
    std::vector<size_t> order(steps->size());
    std::iota(order.begin(), order.end(), 0);
    std::string expected;
    do {
      const std::string person = absl::StrCat("person-", ++person_number);
      for (size_t i : order) (*steps)[i](person);
      if (HasFailure()) return;
      auto s = Scheduler::Lookup(*store_, person, now);
      std::string got = s.ok() ? absl::StrCat(s->basis_assessment_id(), " ", s->cluster(), " ",
                                              absl::FormatCivilTime(platform::FromProto(s->due_date())), " ",
                                              pbr::v1::ReviewState_Name(s->state()))
                               : std::string(s.status().message().substr(s.status().message().find(" was ") + 1));
      absl::StrAppend(&got, " timers:", Timers(person));
      if (expected.empty()) expected = got;
      EXPECT_EQ(got, expected) << person;
    } while (std::next_permutation(order.begin(), order.end()));
    if (steps == &discharged) {
      EXPECT_EQ(expected, "was discharged from service on 2026-04-01: no review is scheduled timers:0");
    } else {
      EXPECT_EQ(expected, absl::StrCat("a3 12 ", absl::FormatCivilTime(DueFor(12, D(2026, 6, 1))),
                                       " REVIEW_STATE_UPCOMING timers:1"));
    }
  }
}

}  // namespace
}  // namespace pbr::scheduler
