#include "scheduler.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "api.h"
#include "care_bridge.h"
#include "due_index.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "queries.h"
#include "testing/process.h"

namespace pbr::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

absl::CivilDay D(int y, int m, int d) { return absl::CivilDay(y, m, d); }
// Noon on a clinical day, or a given clinical hour.
absl::Time At(absl::CivilDay d, int hour = 12, int minute = 0, int second = 0) {
  return absl::FromCivil(absl::CivilSecond(d.year(), d.month(), d.day(), hour, minute, second),
                         platform::ClinicalTimeZone());
}

// What the scheduler published, in order.
struct Published {
  std::string topic;
  std::string id;
  pbr::v1::EventEnvelope event;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(
        dir_.path(), {std::string(kPeopleFamily), std::string(kTimersFamily), std::string(kDueIndexFamily),
                      std::string(kOverdueCountsFamily), std::string(kMetaFamily), std::string(kLedgerFamily)});
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    auto rules = services::LoadRules(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
    counters_ = std::make_unique<SchedulerCounters>(registry_);
    scheduler_ = std::make_unique<Scheduler>(*rules, care::ReviewPolicy::kTrustSop, counters_.get());
    queries_ = std::make_unique<ReviewQueries>(*store_, *rules);
  }

  // Records an assessment at `now` (the envelope's recorded_at), as the consumer would apply it.
  void Assess(absl::Time now, absl::Time assessed, int cluster, const std::string& id,
              pbr::v1::AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW,
              const std::string& person = "person-1", const std::string& team = "cmht-north", int revision = 0,
              bool withdrawn = false) {
    auto e = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, absl::StrCat("ev-", id, "-r", revision),
                                    person, assessed, now, "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_revision(revision);
    a->set_withdrawn(withdrawn);
    if (!withdrawn) {
      a->set_team_id(team);
      a->set_service_area(rules_->teams().Find(team) != nullptr ? rules_->teams().Find(team)->service_area : "");
      a->set_cluster(cluster);
      a->set_reason(reason);
      *a->mutable_assessed_at() = platform::ToProto(assessed);
      *a->mutable_effective_at() = platform::ToProto(assessed);
    }
    Apply(now, [&](platform::ApplyContext& ctx) {
      return scheduler_->OnAssessment({platform::topic::kAssessmentRecorded, 0, 0, e}, ctx);
    });
  }
  void Initial(absl::Time now, absl::Time assessed, int cluster, const std::string& id,
               const std::string& person = "person-1", const std::string& team = "cmht-north") {
    Assess(now, assessed, cluster, id, pbr::v1::ASSESSMENT_REASON_INITIAL, person, team);
  }
  void Withdraw(absl::Time now, const std::string& id, int revision, const std::string& person = "person-1") {
    Assess(now, now, 0, id, pbr::v1::ASSESSMENT_REASON_UNSPECIFIED, person, "", revision, /*withdrawn=*/true);
  }
  void Care(absl::Time now, const std::string& id, pbr::v1::CareEventType type, absl::Time on, bool out_of_hours = false,
            const std::string& person = "person-1", int revision = 0, bool withdrawn = false) {
    auto e = platform::MakeEnvelope(platform::topic::kCareEventRecorded, absl::StrCat("ce-", id, "-r", revision),
                                    person, on, now, "epr", "");
    auto* c = e.mutable_care_event_recorded();
    c->set_care_event_id(id);
    c->set_revision(revision);
    c->set_withdrawn(withdrawn);
    if (!withdrawn) {
      c->set_type(type);
      c->set_team_id("crht-north");
      c->set_out_of_hours(out_of_hours);
      *c->mutable_occurred_at() = platform::ToProto(on);
    }
    Apply(now, [&](platform::ApplyContext& ctx) {
      return scheduler_->OnCareEvent({platform::topic::kCareEventRecorded, 0, 0, e}, ctx);
    });
  }
  // A timer pass at `now`.
  void Pass(absl::Time now) {
    Apply(now, [&](platform::ApplyContext& ctx) { return scheduler_->AdvanceDueReviews(ctx); });
  }
  void Apply(absl::Time now, const std::function<absl::Status(platform::ApplyContext&)>& step) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, now);
    auto st = step(ctx);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(store_->Write(batch, false).ok());
  }

  // Everything published since the last call.
  std::vector<Published> Take() {
    std::vector<Published> out;
    auto pending = platform::Outbox::ReadPending(*store_);
    EXPECT_TRUE(pending.ok());
    for (const auto& p : pending.value_or(std::vector<platform::PendingEvent>{})) {
      pbr::v1::EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(p.value));
      if (seen_.insert(e.event_id()).second) out.push_back({p.topic, e.event_id(), e});
    }
    return out;
  }
  // The published review-due events as "<basis> <STATE>" or "trigger <kind> <outcome>[ retracted]".
  static std::vector<std::string> Describe(const std::vector<Published>& events) {
    std::vector<std::string> out;
    for (const auto& p : events) {
      if (p.topic == "review-due") {
        const auto& r = p.event.review_due();
        if (r.has_trigger()) {
          out.push_back(absl::StrCat("trigger ", pbr::v1::ReviewTriggerKind_Name(r.trigger().kind()), " ",
                                     pbr::v1::TriggerOutcome_Name(r.trigger().outcome()),
                                     r.retracted() ? " retracted" : ""));
        } else {
          out.push_back(absl::StrCat(r.basis_assessment_id(), " ", pbr::v1::ReviewState_Name(r.state())));
        }
      } else {
        const auto& c = p.event.review_completed();
        out.push_back(c.withdrawn() ? absl::StrCat("completion ", c.assessment_id(), " withdrawn")
                                    : absl::StrCat("completed ", c.reviewed_assessment_id(), " by ", c.assessment_id(),
                                                   c.on_time() ? " on time" : " late"));
      }
    }
    return out;
  }
  pbr::v1::Schedule Get(absl::CivilDay today, const std::string& person = "person-1") {
    auto s = Scheduler::Lookup(*store_, person, today);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.value_or(pbr::v1::Schedule{});
  }
  int Count(absl::string_view family) {
    int n = 0;
    EXPECT_TRUE(store_->Scan(family, "", [&](absl::string_view, absl::string_view) { return ++n, true; }).ok());
    return n;
  }
  pbr::v1::CountOverdueReply Counts(const std::string& team = "") {
    pbr::v1::CountOverdueRequest request;
    request.set_team_id(team);
    auto reply = queries_->CountOverdue(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.value_or(pbr::v1::CountOverdueReply{});
  }

  testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::shared_ptr<const care::RuleSet> rules_;
  prometheus::Registry registry_;
  std::unique_ptr<SchedulerCounters> counters_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ReviewQueries> queries_;
  std::set<std::string> seen_;
};

// ---- formal reviews ----

TEST_F(SchedulerTest, DueOnMhctPlusThePeriodOnTimeThatDayOverdueTheNext) {
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a1");  // cluster 4: 6 months under the SOP
  pbr::v1::Schedule s = Get(D(2026, 1, 12));
  EXPECT_EQ(platform::FromProto(s.due_date()), D(2026, 7, 12));
  EXPECT_EQ(platform::FromProto(s.window_opens()), D(2026, 7, 2));
  EXPECT_EQ(s.review_policy(), "sop");
  EXPECT_EQ(Get(D(2026, 7, 1)).state(), pbr::v1::REVIEW_STATE_UPCOMING);
  EXPECT_EQ(Get(D(2026, 7, 2)).state(), pbr::v1::REVIEW_STATE_DUE);
  EXPECT_EQ(Get(D(2026, 7, 12)).state(), pbr::v1::REVIEW_STATE_DUE);  // the due date itself: still on time
  EXPECT_EQ(Get(D(2026, 7, 13)).state(), pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_THAT(Take(), IsEmpty());

  Pass(At(D(2026, 7, 1), 23, 59, 59));
  EXPECT_THAT(Take(), IsEmpty());
  Pass(At(D(2026, 7, 2), 0, 0, 0));
  EXPECT_THAT(Describe(Take()), ElementsAre("a1 REVIEW_STATE_DUE"));
  Pass(At(D(2026, 7, 12), 23, 59, 59));
  EXPECT_THAT(Take(), IsEmpty());
  Pass(At(D(2026, 7, 13), 0, 0, 0));
  const auto overdue = Take();
  ASSERT_THAT(Describe(overdue), ElementsAre("a1 REVIEW_STATE_OVERDUE"));
  EXPECT_EQ(platform::FromProto(overdue[0].event.occurred_at()), At(D(2026, 7, 13), 0));
  EXPECT_EQ(overdue[0].event.review_due().service_area(), "community_non_psychosis");
  Pass(At(D(2026, 7, 20)));
  EXPECT_THAT(Take(), IsEmpty());
}

TEST_F(SchedulerTest, AReviewOnTheDueDateIsOnTimeAndTheDayAfterIsLate) {
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a1", "on-time");
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "b1", "late");
  Pass(At(D(2026, 7, 2)));
  Take();
  Assess(At(D(2026, 7, 12), 16), At(D(2026, 7, 12), 15), 4, "a2", pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, "on-time");
  Pass(At(D(2026, 7, 13)));
  Assess(At(D(2026, 7, 13), 10), At(D(2026, 7, 13), 9), 5, "b2", pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW, "late");
  std::vector<pbr::v1::ReviewCompleted> completions;
  for (const auto& p : Take()) {
    if (p.topic == "review-completed") completions.push_back(p.event.review_completed());
  }
  ASSERT_EQ(completions.size(), 2u);
  EXPECT_EQ(completions[0].assessment_id(), "a2");
  EXPECT_TRUE(completions[0].on_time());
  EXPECT_EQ(completions[0].days_early(), 0);
  EXPECT_EQ(completions[0].days_late(), 0);
  EXPECT_TRUE(completions[0].within_window());
  EXPECT_EQ(completions[0].kind(), pbr::v1::REVIEW_KIND_FORMAL);
  EXPECT_EQ(platform::FromProto(completions[0].due_date()), D(2026, 7, 12));
  EXPECT_EQ(completions[1].assessment_id(), "b2");
  EXPECT_FALSE(completions[1].on_time());
  EXPECT_EQ(completions[1].days_late(), 1);
  EXPECT_FALSE(completions[1].within_window());
  EXPECT_EQ(completions[1].kind(), pbr::v1::REVIEW_KIND_UNPLANNED);
  EXPECT_EQ(completions[1].reviewed_assessment_id(), "b1");
  EXPECT_EQ(completions[1].cluster(), 5);
  // The late one was overdue for a day; its review took it off the overdue count.
  EXPECT_EQ(Counts().total(), 0);
}

TEST_F(SchedulerTest, AnEarlyReviewIsOnTimeByItsDaysEarlyButOutsideTheWindow) {
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a1");
  Assess(At(D(2026, 5, 1)), At(D(2026, 5, 1)), 4, "a2");
  const auto events = Take();
  ASSERT_THAT(Describe(events), ElementsAre("completed a1 by a2 on time"));
  EXPECT_EQ(events[0].event.review_completed().days_early(), 72);  // 1 May to 12 Jul
  EXPECT_FALSE(events[0].event.review_completed().within_window());
  EXPECT_EQ(platform::FromProto(Get(D(2026, 5, 1)).due_date()), D(2026, 11, 1));
}

TEST_F(SchedulerTest, MonthEndsClampAndWeekClustersCountDays) {
  Initial(At(D(2026, 8, 31)), At(D(2026, 8, 31)), 4, "a1", "p-aug");
  EXPECT_EQ(platform::FromProto(Get(D(2026, 8, 31), "p-aug").due_date()), D(2027, 2, 28));
  Initial(At(D(2028, 2, 29)), At(D(2028, 2, 29)), 18, "a1", "p-leap", "memory-west");  // 12 months
  EXPECT_EQ(platform::FromProto(Get(D(2028, 2, 29), "p-leap").due_date()), D(2029, 2, 28));
  Initial(At(D(2026, 11, 4)), At(D(2026, 11, 4)), 14, "a1", "p-crisis", "crht-north");  // 4 weeks
  EXPECT_EQ(platform::FromProto(Get(D(2026, 11, 4), "p-crisis").due_date()), D(2026, 12, 2));
}

TEST_F(SchedulerTest, ABacklogAssessmentAlreadyOverdueIsOverdueAtOnceWithoutADueAnnouncement) {
  Initial(At(D(2026, 11, 20)), At(D(2026, 3, 2)), 4, "old");  // due 2 Sep: long past
  EXPECT_THAT(Describe(Take()), ElementsAre("old REVIEW_STATE_OVERDUE"));
  EXPECT_EQ(Counts().total(), 1);
  Initial(At(D(2026, 11, 20)), At(D(2026, 5, 25)), 4, "inwindow", "p2");  // due 25 Nov: in its window
  EXPECT_THAT(Describe(Take()), ElementsAre("inwindow REVIEW_STATE_DUE"));
  Pass(At(D(2026, 11, 26)));
  EXPECT_THAT(Describe(Take()), ElementsAre("inwindow REVIEW_STATE_OVERDUE"));
}

TEST_F(SchedulerTest, AfterDowntimeEachMissedTransitionIsPublishedOnceInOrder) {
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a1");
  Pass(At(D(2026, 9, 1)));  // nothing ran from January to September
  EXPECT_THAT(Describe(Take()), ElementsAre("a1 REVIEW_STATE_DUE", "a1 REVIEW_STATE_OVERDUE"));
  Pass(At(D(2026, 9, 2)));
  EXPECT_THAT(Take(), IsEmpty());
}

TEST_F(SchedulerTest, AFactRecordedAfterTransitionsTheTimerHadNotYetTakenIsPrecededByThem) {
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a1");
  // The review was recorded on 20 July, after the window opened (2 Jul) and the review fell overdue
  // (13 Jul); the scheduler was down all that time and takes the assessment before any timer pass.
  Assess(At(D(2026, 7, 20)), At(D(2026, 7, 20)), 4, "a2");
  EXPECT_THAT(Describe(Take()),
              ElementsAre("a1 REVIEW_STATE_DUE", "a1 REVIEW_STATE_OVERDUE", "completed a1 by a2 late"));
  EXPECT_EQ(Counts().total(), 0);
}

TEST_F(SchedulerTest, WithdrawingTheReviewingAssessmentWithdrawsItsCompletionAndReannouncesTheReview) {
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a1");
  Pass(At(D(2026, 7, 13)));
  Assess(At(D(2026, 7, 14)), At(D(2026, 7, 14)), 4, "a2");
  EXPECT_THAT(Describe(Take()),
              ElementsAre("a1 REVIEW_STATE_DUE", "a1 REVIEW_STATE_OVERDUE", "completed a1 by a2 late"));
  Withdraw(At(D(2026, 7, 15)), "a2", 1);
  EXPECT_THAT(Describe(Take()), ElementsAre("a1 REVIEW_STATE_OVERDUE", "completion a2 withdrawn"));
  EXPECT_EQ(Get(D(2026, 7, 15)).basis_assessment_id(), "a1");
  EXPECT_EQ(Counts().total(), 1);
}

TEST_F(SchedulerTest, AmendingTheReviewedBasisRepublishesTheCompletionWithNewFigures) {
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a1");
  Assess(At(D(2026, 7, 10)), At(D(2026, 7, 10)), 4, "a2");
  // Recorded inside the window (from 2 Jul), which the scheduler had not yet announced: it is first.
  EXPECT_THAT(Describe(Take()), ElementsAre("a1 REVIEW_STATE_DUE", "completed a1 by a2 on time"));
  // The initial MHCT was really on 5 January: due 5 July, so the review was 5 days late.
  Assess(At(D(2026, 7, 11)), At(D(2026, 1, 5)), 4, "a1", pbr::v1::ASSESSMENT_REASON_INITIAL, "person-1",
         "cmht-north", 1);
  const auto events = Take();
  ASSERT_THAT(Describe(events), ElementsAre("completed a1 by a2 late"));
  EXPECT_EQ(events[0].event.review_completed().days_late(), 5) << events[0].event.DebugString();
  EXPECT_EQ(events[0].event.review_completed().assessment_id(), "a2");
}

TEST_F(SchedulerTest, ADischargeClosesTheScheduleAndANewReferralReopensIt) {
  Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a1");
  Pass(At(D(2026, 7, 14)));
  Take();
  EXPECT_EQ(Counts().total(), 1);
  Care(At(D(2026, 7, 20)), "out", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, At(D(2026, 7, 20)));
  auto closed = Scheduler::Lookup(*store_, "person-1", D(2026, 7, 20));
  EXPECT_TRUE(absl::IsNotFound(closed.status()));
  EXPECT_THAT(std::string(closed.status().message()), ::testing::HasSubstr("discharged from service on 2026-07-20"));
  EXPECT_EQ(Counts().total(), 0);
  EXPECT_EQ(Count(kDueIndexFamily), 0);
  EXPECT_EQ(Count(kTimersFamily), 0);
  Pass(At(D(2027, 1, 1)));
  EXPECT_THAT(Take(), IsEmpty());

  Care(At(D(2027, 2, 1)), "back", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, At(D(2027, 2, 1)));
  Initial(At(D(2027, 2, 3)), At(D(2027, 2, 3)), 11, "b1", "person-1", "cmht-south");
  EXPECT_THAT(Take(), IsEmpty());  // a new referral's first assessment reviews nothing
  EXPECT_EQ(platform::FromProto(Get(D(2027, 2, 3)).due_date()), D(2027, 8, 3));
  EXPECT_EQ(Count(kDueIndexFamily), 5);
}

TEST_F(SchedulerTest, FactsArrivingInAnyOrderGiveTheSameSchedule) {
  // The initial and the review arrive reversed, the discharge-and-return around them.
  Assess(At(D(2026, 6, 2)), At(D(2026, 6, 1)), 5, "a2", pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, "p-rev");
  Initial(At(D(2026, 6, 2)), At(D(2026, 1, 5)), 4, "a1", "p-rev");
  Initial(At(D(2026, 6, 2)), At(D(2026, 1, 5)), 4, "a1", "p-fwd");
  Assess(At(D(2026, 6, 2)), At(D(2026, 6, 1)), 5, "a2", pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, "p-fwd");
  const auto rev = Get(D(2026, 6, 2), "p-rev");
  const auto fwd = Get(D(2026, 6, 2), "p-fwd");
  EXPECT_EQ(rev.basis_assessment_id(), "a2");
  EXPECT_EQ(ReviewKey(rev), ReviewKey(fwd));
  EXPECT_EQ(platform::FromProto(rev.due_date()), D(2026, 12, 1));
}

// ---- event-triggered reviews ----

TEST_F(SchedulerTest, AnInHoursReferralIsMetByAReviewWithinTheFiveDaysBeforeIt) {
  const absl::Time referral = At(D(2026, 3, 10), 11);
  Initial(At(D(2026, 1, 5)), At(D(2026, 1, 5)), 4, "a1", "met");
  Assess(At(D(2026, 3, 5), 11), At(D(2026, 3, 5), 11), 4, "a2", pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW, "met");
  Care(referral, "crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, referral, false, "met");  // exactly 5 days after
  Initial(At(D(2026, 1, 5)), At(D(2026, 1, 5)), 4, "a1", "missed");
  Assess(At(D(2026, 3, 5), 11), At(D(2026, 3, 5), 10, 59, 59), 4, "a2", pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW,
         "missed");
  Care(referral, "crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, referral, false, "missed");  // 1 s too early
  EXPECT_EQ(Get(D(2026, 3, 10), "missed").triggers(0).outcome(), pbr::v1::TRIGGER_OUTCOME_PENDING);  // until the referral is past
  Pass(referral + absl::Seconds(1));
  std::vector<std::string> triggers;
  for (const auto& p : Take()) {
    if (p.topic == "review-due") triggers.push_back(absl::StrCat(p.event.person_id(), " ", Describe({p})[0]));
  }
  EXPECT_THAT(triggers, ElementsAre("missed trigger REVIEW_TRIGGER_IN_HOURS_REFERRAL TRIGGER_OUTCOME_MISSED"));
  const auto met = Get(D(2026, 3, 10), "met");
  ASSERT_EQ(met.triggers_size(), 1);
  EXPECT_EQ(met.triggers(0).outcome(), pbr::v1::TRIGGER_OUTCOME_MET);
  EXPECT_EQ(met.triggers(0).met_by_assessment_id(), "a2");
  EXPECT_EQ(Get(D(2026, 3, 10), "missed").triggers(0).outcome(), pbr::v1::TRIGGER_OUTCOME_MISSED);
}

TEST_F(SchedulerTest, AnOutOfHoursReferralWaitsSeventyTwoHoursAndALateRecordedReviewRetractsTheMiss) {
  const absl::Time referral = At(D(2026, 3, 10), 22);
  Initial(At(D(2026, 1, 5)), At(D(2026, 1, 5)), 4, "a1");
  Care(referral, "crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, referral, /*out_of_hours=*/true);
  EXPECT_EQ(Get(D(2026, 3, 10)).triggers(0).outcome(), pbr::v1::TRIGGER_OUTCOME_PENDING);
  Pass(referral + absl::Hours(72));
  EXPECT_THAT(Take(), IsEmpty());  // the deadline itself is still inside
  Pass(referral + absl::Hours(72) + absl::Seconds(1));
  const auto missed = Take();
  ASSERT_THAT(Describe(missed), ElementsAre("trigger REVIEW_TRIGGER_OUT_OF_HOURS_REFERRAL TRIGGER_OUTCOME_MISSED"));
  EXPECT_EQ(missed[0].event.review_due().basis_assessment_id(), "a1");
  EXPECT_EQ(platform::FromProto(missed[0].event.review_due().trigger().deadline()), referral + absl::Hours(72));
  Pass(referral + absl::Hours(100));
  EXPECT_THAT(Take(), IsEmpty());
  // The review was done within the 72 hours but only entered on the EPR a week later.
  Assess(referral + absl::Hours(24 * 7), referral + absl::Hours(72), 14, "a2",
         pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW);
  EXPECT_THAT(Describe(Take()), ElementsAre("trigger REVIEW_TRIGGER_OUT_OF_HOURS_REFERRAL TRIGGER_OUTCOME_MET retracted",
                                            "completed a1 by a2 on time"));
}

TEST_F(SchedulerTest, ADischargeReviewNeedsTheReviewWithinTwentyFourHoursAfterIt) {
  const absl::Time review_meeting = At(D(2026, 4, 1), 10);
  for (const std::string person : {"in-time", "too-late"}) {
    Initial(At(D(2026, 1, 5)), At(D(2026, 1, 5)), 4, "a1", person);
    Care(review_meeting, "dr", pbr::v1::CARE_EVENT_DISCHARGE_REVIEW, review_meeting, false, person);
  }
  Assess(review_meeting + absl::Hours(24), review_meeting + absl::Hours(24), 4, "a2",
         pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW, "in-time");
  Pass(review_meeting + absl::Hours(24) + absl::Seconds(1));
  std::vector<std::string> seen;
  for (const auto& p : Take()) seen.push_back(absl::StrCat(p.event.person_id(), ": ", Describe({p})[0]));
  EXPECT_THAT(seen, ElementsAre("in-time: completed a1 by a2 on time",
                                "too-late: trigger REVIEW_TRIGGER_DISCHARGE_REVIEW TRIGGER_OUTCOME_MISSED"));
}

TEST_F(SchedulerTest, AnAdmissionNeedsTheInitialAllocationWithinTwoBedNights) {
  const absl::Time admitted = At(D(2026, 3, 10), 22);
  for (const std::string person : {"allocated", "waiting"}) {
    Care(admitted, "adm", pbr::v1::CARE_EVENT_ADMISSION, admitted, false, person);
  }
  Initial(At(D(2026, 3, 12), 23, 59, 59), At(D(2026, 3, 12), 23, 59, 59), 14, "a1", "allocated", "ward-north");
  Pass(At(D(2026, 3, 12), 23, 59, 59));
  EXPECT_THAT(Take(), IsEmpty());
  Pass(At(D(2026, 3, 13), 0, 0, 0));
  const auto missed = Take();
  ASSERT_EQ(missed.size(), 1u);
  EXPECT_EQ(missed[0].event.person_id(), "waiting");
  EXPECT_EQ(missed[0].event.review_due().trigger().kind(), pbr::v1::REVIEW_TRIGGER_INPATIENT_ADMISSION);
  EXPECT_TRUE(missed[0].event.review_due().basis_assessment_id().empty());  // nobody allocated yet
  EXPECT_EQ(missed[0].event.review_due().team_id(), "crht-north");          // the admission's team
  // An admission of someone who already has a cluster is a transfer (its referral is the trigger).
  Initial(At(D(2026, 1, 5)), At(D(2026, 1, 5)), 4, "b1", "known");
  Care(admitted, "adm", pbr::v1::CARE_EVENT_ADMISSION, admitted, false, "known");
  EXPECT_EQ(Get(D(2026, 3, 10), "known").triggers_size(), 0);
}

TEST_F(SchedulerTest, AFactTakenAfterDowntimeCountsAsOfWhenItWasRecorded) {
  // Admitted on 2 Dec with no cluster and allocated on 3 Dec (within 2 bed nights): both recorded
  // while the scheduler was down, and taken on 5 Dec, after the deadline, the admission first.
  const absl::Time admitted = At(D(2025, 12, 2), 14);
  const absl::Time allocated = At(D(2025, 12, 3), 10);
  const absl::Time back = At(D(2025, 12, 5), 0, 0, 30);
  auto admission = platform::MakeEnvelope(platform::topic::kCareEventRecorded, "ce-adm-r0", "person-1", admitted,
                                          /*recorded_at=*/admitted, "epr", "");
  auto* c = admission.mutable_care_event_recorded();
  c->set_care_event_id("adm");
  c->set_type(pbr::v1::CARE_EVENT_ADMISSION);
  c->set_team_id("ward-north");
  *c->mutable_occurred_at() = platform::ToProto(admitted);
  Apply(back, [&](platform::ApplyContext& ctx) {
    return scheduler_->OnCareEvent({platform::topic::kCareEventRecorded, 0, 0, admission}, ctx);
  });
  EXPECT_THAT(Take(), IsEmpty()) << "when it was recorded the admission's 2 bed nights had not passed";
  auto initial = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, "ev-a1-r0", "person-1", allocated,
                                        /*recorded_at=*/allocated, "epr", "");
  auto* a = initial.mutable_assessment_recorded();
  a->set_assessment_id("a1");
  a->set_team_id("ward-north");
  a->set_service_area("inpatient");
  a->set_cluster(14);
  a->set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  *a->mutable_assessed_at() = platform::ToProto(allocated);
  *a->mutable_effective_at() = platform::ToProto(admitted);
  Apply(back, [&](platform::ApplyContext& ctx) {
    return scheduler_->OnAssessment({platform::topic::kAssessmentRecorded, 0, 0, initial}, ctx);
  });
  EXPECT_THAT(Take(), IsEmpty()) << "met in time: never missed, nothing to retract";
  const pbr::v1::Schedule s = Get(D(2025, 12, 5));
  ASSERT_EQ(s.triggers_size(), 1);
  EXPECT_EQ(s.triggers(0).outcome(), pbr::v1::TRIGGER_OUTCOME_MET);
}

TEST_F(SchedulerTest, WithdrawingTheCareEventOfAMissedTriggerRetractsIt) {
  const absl::Time referral = At(D(2026, 3, 10), 11);
  Initial(At(D(2026, 1, 5)), At(D(2026, 1, 5)), 4, "a1");
  Care(referral, "crht", pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS, referral);
  Pass(referral + absl::Minutes(1));
  EXPECT_THAT(Describe(Take()), ElementsAre("trigger REVIEW_TRIGGER_IN_HOURS_REFERRAL TRIGGER_OUTCOME_MISSED"));
  Care(referral + absl::Hours(1), "crht", pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS, referral, false, "person-1", 1,
       /*withdrawn=*/true);
  EXPECT_THAT(Describe(Take()),
              ElementsAre("trigger REVIEW_TRIGGER_IN_HOURS_REFERRAL TRIGGER_OUTCOME_WITHDRAWN retracted"));
  EXPECT_EQ(Get(D(2026, 3, 10)).triggers_size(), 0);
}

TEST_F(SchedulerTest, CountersFollowWhatWasPublished) {
  Initial(At(D(2026, 1, 5)), At(D(2026, 1, 5)), 4, "a1");
  Assess(At(D(2026, 7, 5)), At(D(2026, 7, 5)), 4, "a2");
  Assess(At(D(2027, 2, 1)), At(D(2027, 2, 1)), 4, "a3", pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW);
  Care(At(D(2027, 3, 1)), "crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(D(2027, 3, 1)));
  Pass(At(D(2027, 3, 2)));
  double on_time = 0, late = 0, missed = 0;
  for (const auto& family : registry_.Collect()) {
    for (const auto& m : family.metric) {
      auto label = [&](const std::string& name) {
        for (const auto& l : m.label) {
          if (l.name == name) return l.value;
        }
        return std::string();
      };
      if (family.name == "pbr_reviews_completed_total" && label("timeliness") == "on_time") on_time += m.counter.value;
      if (family.name == "pbr_reviews_completed_total" && label("timeliness") == "late") late += m.counter.value;
      if (family.name == "pbr_review_triggers_total" && label("outcome") == "missed") missed += m.counter.value;
    }
  }
  EXPECT_EQ(on_time, 1);
  EXPECT_EQ(late, 1);
  EXPECT_EQ(missed, 1);
}

// ---- queries ----

class QueriesTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerTest::SetUp();
    // Due dates 12 Jul (north, 4), 5 Jul (north, 11), 20 Jul (south, 4), 1 Jul (south, 4), 1 Dec (north).
    Initial(At(D(2026, 1, 12)), At(D(2026, 1, 12)), 4, "a", "p-north-4", "cmht-north");
    Initial(At(D(2026, 1, 5)), At(D(2026, 1, 5)), 11, "a", "p-north-11", "cmht-north");
    Initial(At(D(2026, 1, 20)), At(D(2026, 1, 20)), 4, "a", "p-south-4a", "cmht-south");
    Initial(At(D(2026, 1, 1)), At(D(2026, 1, 1)), 4, "a", "p-south-4b", "cmht-south");
    Initial(At(D(2026, 6, 1)), At(D(2026, 6, 1)), 4, "a", "p-north-late", "cmht-north");
    Pass(At(D(2026, 7, 21)));
    Take();
  }
  std::vector<std::string> Overdue(pbr::v1::ListOverdueRequest request, std::string* next = nullptr) {
    auto reply = queries_->ListOverdue(request, D(2026, 7, 21));
    EXPECT_TRUE(reply.ok()) << reply.status();
    std::vector<std::string> out;
    for (const auto& r : reply->reviews()) out.push_back(absl::StrCat(r.person_id(), "+", r.days_overdue()));
    if (next != nullptr) *next = reply->next_page_token();
    return out;
  }
};

TEST_F(QueriesTest, ListOverdueIsOldestFirstAndFiltersByTeamAreaAndCluster) {
  EXPECT_THAT(Overdue({}), ElementsAre("p-south-4b+20", "p-north-11+16", "p-north-4+9", "p-south-4a+1"));
  pbr::v1::ListOverdueRequest team;
  team.set_team_id("cmht-north");
  EXPECT_THAT(Overdue(team), ElementsAre("p-north-11+16", "p-north-4+9"));
  pbr::v1::ListOverdueRequest cluster;
  cluster.set_has_cluster(true);
  cluster.set_cluster(4);
  EXPECT_THAT(Overdue(cluster), ElementsAre("p-south-4b+20", "p-north-4+9", "p-south-4a+1"));
  team.set_has_cluster(true);
  team.set_cluster(11);
  EXPECT_THAT(Overdue(team), ElementsAre("p-north-11+16"));
  pbr::v1::ListOverdueRequest area;
  area.set_service_area("community_psychosis");
  EXPECT_THAT(Overdue(area), IsEmpty());  // both teams are non-psychosis teams
  pbr::v1::ListOverdueRequest earlier;
  *earlier.mutable_as_of() = platform::ToProto(D(2026, 7, 13));
  EXPECT_THAT(Overdue(earlier), ElementsAre("p-south-4b+12", "p-north-11+8", "p-north-4+1"));
}

TEST_F(QueriesTest, ListOverduePagesWithTokens) {
  pbr::v1::ListOverdueRequest request;
  request.set_page_size(3);
  std::string next;
  EXPECT_THAT(Overdue(request, &next), ElementsAre("p-south-4b+20", "p-north-11+16", "p-north-4+9"));
  ASSERT_FALSE(next.empty());
  request.set_page_token(next);
  EXPECT_THAT(Overdue(request, &next), ElementsAre("p-south-4a+1"));
  EXPECT_TRUE(next.empty());
}

TEST_F(QueriesTest, BadRequestsNameTheField) {
  pbr::v1::ListOverdueRequest request;
  request.set_page_size(1001);
  EXPECT_THAT(std::string(queries_->ListOverdue(request, D(2026, 7, 21)).status().message()),
              ::testing::StartsWith("page_size:"));
  request.set_page_size(0);
  request.set_page_token("not-a-token!");
  EXPECT_THAT(std::string(queries_->ListOverdue(request, D(2026, 7, 21)).status().message()),
              ::testing::StartsWith("page_token:"));
  request.clear_page_token();
  request.set_has_cluster(true);
  request.set_cluster(9);
  EXPECT_THAT(std::string(queries_->ListOverdue(request, D(2026, 7, 21)).status().message()),
              ::testing::StartsWith("cluster:"));
  pbr::v1::ListOverdueRequest long_team;
  long_team.set_team_id(std::string(129, 't'));
  EXPECT_THAT(std::string(queries_->ListOverdue(long_team, D(2026, 7, 21)).status().message()),
              ::testing::StartsWith("team_id: longer than 128"));
  pbr::v1::ListOverdueRequest unknown;
  unknown.set_team_id("cmht-nowhere");
  EXPECT_TRUE(absl::IsNotFound(queries_->ListOverdue(unknown, D(2026, 7, 21)).status()));
  pbr::v1::ListDueRequest due;
  EXPECT_THAT(std::string(queries_->ListDue(due, D(2026, 7, 21)).status().message()), ::testing::StartsWith("from:"));
  *due.mutable_from() = platform::ToProto(D(2026, 7, 1));
  *due.mutable_to() = platform::ToProto(D(2027, 8, 1));
  EXPECT_THAT(std::string(queries_->ListDue(due, D(2026, 7, 21)).status().message()), ::testing::StartsWith("to:"));
}

TEST_F(QueriesTest, ListDueIsByDueDateWithTodaysState) {
  pbr::v1::ListDueRequest request;
  *request.mutable_from() = platform::ToProto(D(2026, 7, 5));
  *request.mutable_to() = platform::ToProto(D(2026, 12, 1));
  request.set_team_id("cmht-north");
  auto reply = queries_->ListDue(request, D(2026, 7, 21));
  ASSERT_TRUE(reply.ok()) << reply.status();
  std::vector<std::string> got;
  for (const auto& r : reply->reviews()) {
    got.push_back(absl::StrCat(r.person_id(), " ", pbr::v1::ReviewState_Name(r.state()), " ", r.basis_assessment_id()));
  }
  EXPECT_THAT(got, ElementsAre("p-north-11 REVIEW_STATE_OVERDUE a", "p-north-4 REVIEW_STATE_OVERDUE a",
                               "p-north-late REVIEW_STATE_UPCOMING a"));
}

TEST_F(QueriesTest, CountOverdueByTeamAndClusterEqualsTheGauge) {
  const auto counts = Counts();
  EXPECT_EQ(counts.total(), 4);
  std::vector<std::string> got;
  for (const auto& c : counts.counts()) got.push_back(absl::StrCat(c.team_id(), "/", c.cluster(), "=", c.overdue()));
  EXPECT_THAT(got, ElementsAre("cmht-north/4=1", "cmht-north/11=1", "cmht-south/4=2"));
  EXPECT_EQ(platform::FromProto(counts.as_of()), D(2026, 7, 21));
  EXPECT_EQ(platform::FromProto(counts.oldest_due_date()), D(2026, 7, 1));
  EXPECT_EQ(Counts("cmht-south").total(), 2);

  std::map<std::string, double> gauge;
  double oldest = -1;
  for (const auto& f : queries_->Gauges(D(2026, 7, 21))) {
    for (const auto& m : f.metric) {
      if (f.name == "pbr_reviews_overdue") gauge[absl::StrCat(m.label[0].value, "/", m.label[1].value)] = m.gauge.value;
      if (f.name == "pbr_oldest_overdue_review_days") oldest = m.gauge.value;
    }
  }
  for (const auto& c : counts.counts()) EXPECT_EQ(gauge[absl::StrCat(c.team_id(), "/", c.cluster())], c.overdue());
  EXPECT_EQ(gauge.size(), static_cast<size_t>(counts.counts_size()));
  EXPECT_EQ(oldest, 20);
}

}  // namespace
}  // namespace pbr::scheduler
