#include "caseload.h"

#include "api.h"
#include "queries.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "care_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "pbr/state/v1/caseload_state.pb.h"
#include "platform/outbox.h"
#include "testing/process.h"

namespace pbr::reporting {
namespace {

namespace topic = platform::topic;
absl::Time T(int day) { return absl::FromUnixSeconds(1'767'225'600 + day * 86'400); }  // day 0 = 2026-01-01
absl::CivilDay Day(int day) { return platform::ClinicalDay(T(day)); }

class ReportingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), model_.families());
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
  }
  // The handler's status; its batch is written only when it succeeds.
  absl::Status TryApply(absl::string_view topic_name, const pbr::v1::EventEnvelope& e) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, T(400));
    platform::ConsumedEvent ev{topic_name, 0, 0, e};
    if (auto st = model_.Apply(ev, ctx); !st.ok()) return st;
    return store_->Write(batch, false);
  }
  void Apply(absl::string_view topic_name, const pbr::v1::EventEnvelope& e) {
    const absl::Status st = TryApply(topic_name, e);
    ASSERT_TRUE(st.ok()) << st;
  }
  void Assessment(const std::string& person, const std::string& id, int day, const std::string& team, int cluster) {
    auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, "e" + id, person, T(day), T(day), "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_team_id(team);
    a->set_cluster(cluster);
    *a->mutable_assessed_at() = platform::ToProto(T(day));
    Apply(topic::kAssessmentRecorded, e);
  }
  void Outcome(const std::string& person, const std::string& id, int day, int total, bool valid = true) {
    auto e = platform::MakeEnvelope(topic::kOutcomeRecorded, "o" + id, person, T(day), T(day), "epr", "");
    auto* o = e.mutable_outcome_recorded();
    o->set_assessment_id(id);
    *o->mutable_assessed_at() = platform::ToProto(T(day));
    o->set_honos_total(total);
    o->set_total_valid(valid);
    Apply(topic::kOutcomeRecorded, e);
  }
  // Revision `revision` of assessment `id`: an amendment with new content.
  void Amend(const std::string& person, const std::string& id, int revision, int day, const std::string& team,
             int cluster) {
    auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, absl::StrCat("e", id, "-r", revision), person, T(day),
                                    T(day), "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_revision(revision);
    a->set_team_id(team);
    a->set_cluster(cluster);
    *a->mutable_assessed_at() = platform::ToProto(T(day));
    Apply(topic::kAssessmentRecorded, e);
  }
  // A withdrawal carries nothing but the id and revision here (its other fields may be anything).
  void Withdraw(const std::string& person, const std::string& id, int revision) {
    auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, absl::StrCat("e", id, "-r", revision), person, T(0),
                                    T(0), "epr", "");
    e.mutable_assessment_recorded()->set_assessment_id(id);
    e.mutable_assessment_recorded()->set_revision(revision);
    e.mutable_assessment_recorded()->set_withdrawn(true);
    Apply(topic::kAssessmentRecorded, e);
  }
  // Revision `revision` of care event `id` (a withdrawal carries its identity only).
  void Care(const std::string& person, const std::string& id, pbr::v1::CareEventType type, int day,
            int revision = 0, bool withdrawn = false) {
    auto e = platform::MakeEnvelope(topic::kCareEventRecorded, absl::StrCat("c", id, "-r", revision), person, T(day),
                                    T(day), "epr", "");
    auto* c = e.mutable_care_event_recorded();
    c->set_care_event_id(id);
    c->set_revision(revision);
    c->set_withdrawn(withdrawn);
    if (!withdrawn) {
      c->set_type(type);
      c->set_team_id("east");
      *c->mutable_occurred_at() = platform::ToProto(T(day));
    }
    Apply(topic::kCareEventRecorded, e);
  }
  void Discharge(const std::string& person, const std::string& id, int day) {
    Care(person, id, pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, day);
  }
  void Referral(const std::string& person, const std::string& id, int day) {
    Care(person, id, pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, day);
  }
  // A formal review as the scheduler announces it: its key (the basis, its MHCT date and cluster),
  // its state and its due date (the scheduler's, whatever it is: reporting computes none), here
  // `due_day` (default: 180 days after the MHCT date). Every announcement has its own event id.
  pbr::v1::EventEnvelope ReviewEvent(const std::string& person, const std::string& basis, int mhct_day, int cluster,
                                     pbr::v1::ReviewState state, std::optional<int> due_day = std::nullopt) {
    auto e = platform::MakeEnvelope(topic::kReviewDue, absl::StrCat("r", ++announcements_), person, T(1), T(1), "", "");
    auto* r = e.mutable_review_due();
    r->set_basis_assessment_id(basis);
    r->set_team_id("east");
    r->set_state(state);
    r->set_cluster(cluster);
    r->set_rule_version("test");
    *r->mutable_latest_mhct_date() = platform::ToProto(Day(mhct_day));
    const int due = due_day.value_or(mhct_day + 180);
    *r->mutable_due_date() = platform::ToProto(Day(due));
    *r->mutable_window_opens() = platform::ToProto(Day(due - 10));
    return e;
  }
  void ReviewOf(const std::string& person, const std::string& basis, int mhct_day, int cluster,
                pbr::v1::ReviewState state, std::optional<int> due_day = std::nullopt) {
    Apply(topic::kReviewDue, ReviewEvent(person, basis, mhct_day, cluster, state, due_day));
  }
  // A missed event-triggered review (or, `retracted`, its withdrawal), as the scheduler announces
  // it: OVERDUE, with the formal review's basis as it stood (`basis` empty: no cluster yet).
  void Trigger(const std::string& person, const std::string& basis, int mhct_day, int cluster,
               bool retracted = false) {
    auto e = platform::MakeEnvelope(topic::kReviewDue, absl::StrCat("t", ++announcements_), person, T(1), T(1), "", "");
    auto* r = e.mutable_review_due();
    r->set_basis_assessment_id(basis);
    r->set_team_id("east");
    r->set_state(pbr::v1::REVIEW_STATE_OVERDUE);
    r->set_cluster(cluster);
    if (!basis.empty()) *r->mutable_latest_mhct_date() = platform::ToProto(Day(mhct_day));
    *r->mutable_due_date() = platform::ToProto(Day(mhct_day + 3));
    *r->mutable_window_opens() = platform::ToProto(Day(mhct_day));
    r->mutable_trigger()->set_kind(pbr::v1::REVIEW_TRIGGER_IN_HOURS_REFERRAL);
    r->mutable_trigger()->set_care_event_id("crht-" + person);
    r->set_retracted(retracted);
    Apply(topic::kReviewDue, e);
  }
  // The person's entry on `team`'s caseload has this review state and due date (nullopt: unset).
  void ExpectReview(const std::string& team, const std::string& person, pbr::v1::ReviewState state,
                    std::optional<int> due_day) {
    const auto caseload = Get(team);
    auto it = std::find_if(caseload.persons().begin(), caseload.persons().end(),
                           [&](const pbr::v1::CaseloadPerson& p) { return p.person_id() == person; });
    ASSERT_NE(it, caseload.persons().end()) << person << " is not on " << team << "'s caseload";
    EXPECT_EQ(it->review_state(), state) << person << " on " << team << ": " << it->DebugString();
    if (due_day.has_value()) {
      ASSERT_TRUE(it->has_review_due_date()) << person << ": " << it->DebugString();
      EXPECT_EQ(platform::FromProto(it->review_due_date()), Day(*due_day)) << person;
    } else {
      EXPECT_FALSE(it->has_review_due_date()) << person << ": " << it->DebugString();
    }
  }
  pbr::v1::Caseload Get(const std::string& team) {
    auto c = TeamCaseload(*store_, team);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(pbr::v1::Caseload{});
  }

  pbr::testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  CaseloadProjection model_;
  int announcements_ = 0;
};

TEST_F(ReportingTest, CaseloadCountsPeoplePerClusterReviewsAndLatestHonos) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 12);
  Assessment("p2", "a2", 11, "east", 11);
  Outcome("p2", "a2", 11, 20);
  ReviewOf("p2", "a2", 11, 11, pbr::v1::REVIEW_STATE_DUE);
  Assessment("p3", "a3", 12, "east", 4);
  ReviewOf("p3", "a3", 12, 4, pbr::v1::REVIEW_STATE_OVERDUE);
  Assessment("p4", "a4", 12, "west", 4);

  auto east = Get("east");
  EXPECT_EQ(east.people(), 3);
  EXPECT_EQ(east.reviews_due(), 1);
  EXPECT_EQ(east.reviews_overdue(), 1);
  ASSERT_EQ(east.clusters_size(), 2);
  EXPECT_EQ(east.clusters(0).cluster(), 4);
  EXPECT_EQ(east.clusters(0).people(), 1);
  EXPECT_EQ(east.clusters(1).cluster(), 11);
  EXPECT_EQ(east.clusters(1).people(), 2);
  EXPECT_EQ(east.clusters(1).people_with_honos(), 2);
  EXPECT_DOUBLE_EQ(east.clusters(1).mean_latest_honos(), 16.0);
  EXPECT_EQ(east.assessments_recorded(), 3);
  EXPECT_EQ(Get("west").people(), 1);
  EXPECT_EQ(Get("nobody").people(), 0);
}

TEST_F(ReportingTest, ANewAssessmentMovesThePersonAndClosesTheOldReview) {
  Assessment("p1", "a1", 10, "east", 14);
  ReviewOf("p1", "a1", 10, 14, pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_EQ(Get("east").reviews_overdue(), 1);
  Assessment("p1", "a2", 50, "west", 13);
  EXPECT_EQ(Get("east").people(), 0);
  auto west = Get("west");
  EXPECT_EQ(west.people(), 1);
  EXPECT_EQ(west.reviews_overdue(), 0) << "the overdue review belonged to the earlier assessment";
  EXPECT_EQ(west.clusters(0).cluster(), 13);
}

TEST_F(ReportingTest, FactsArrivingOutOfOrderKeepTheNewest) {
  Outcome("p1", "a2", 50, 8);
  Outcome("p1", "a1", 10, 30);  // older outcome arrives later
  // The review's announcements, in the scheduler's order, before the assessment they belong to.
  ReviewOf("p1", "a2", 50, 12, pbr::v1::REVIEW_STATE_DUE, 230);
  ReviewOf("p1", "a2", 50, 12, pbr::v1::REVIEW_STATE_OVERDUE, 230);
  Assessment("p1", "a2", 50, "east", 12);
  Assessment("p1", "a1", 10, "north", 11);  // older assessment arrives later
  auto east = Get("east");
  ASSERT_EQ(east.persons_size(), 1);
  EXPECT_EQ(east.persons(0).cluster(), 12);
  EXPECT_EQ(east.persons(0).latest_honos_total(), 8);
  EXPECT_EQ(east.persons(0).review_state(), pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_EQ(platform::FromProto(east.persons(0).review_due_date()), Day(230));
  EXPECT_EQ(Get("north").people(), 0);
}

TEST_F(ReportingTest, AnAmendmentMovesThePersonTheirClusterAndTheTeamCount) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 12);
  Amend("p1", "a1", 1, 12, "west", 4);
  auto east = Get("east");
  EXPECT_EQ(east.people(), 0);
  EXPECT_EQ(east.assessments_recorded(), 0) << "the assessment now counts for the team it was amended to";
  auto west = Get("west");
  ASSERT_EQ(west.persons_size(), 1);
  EXPECT_EQ(west.persons(0).cluster(), 4);
  EXPECT_EQ(west.persons(0).latest_honos_total(), 12) << "the outcome as last received, until the amended one";
  EXPECT_EQ(west.assessments_recorded(), 1);
  Outcome("p1", "a1", 12, 20);
  EXPECT_EQ(Get("west").persons(0).latest_honos_total(), 20);
}

TEST_F(ReportingTest, WithdrawingTheLatestFallsBackToThePreviousAssessment) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 12);
  Assessment("p1", "a2", 50, "west", 13);
  Outcome("p1", "a2", 50, 8);
  ASSERT_EQ(Get("west").people(), 1);
  Withdraw("p1", "a2", 1);
  Outcome("p1", "a2", 50, 30);  // a late outcome for the withdrawn assessment changes nothing
  auto west = Get("west");
  EXPECT_EQ(west.people(), 0);
  EXPECT_EQ(west.assessments_recorded(), 0);
  auto east = Get("east");
  ASSERT_EQ(east.persons_size(), 1);
  EXPECT_EQ(east.persons(0).cluster(), 11);
  EXPECT_EQ(east.persons(0).latest_honos_total(), 12);
  EXPECT_TRUE(east.persons(0).has_honos());
  EXPECT_EQ(east.assessments_recorded(), 1);
}

TEST_F(ReportingTest, WithdrawingTheOnlyAssessmentEmptiesEveryCaseload) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 12);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE);
  ASSERT_EQ(Get("east").reviews_overdue(), 1);
  Withdraw("p1", "a1", 1);
  auto east = Get("east");
  EXPECT_EQ(east.people(), 0);
  EXPECT_EQ(east.reviews_overdue(), 0);
  EXPECT_EQ(east.persons_size(), 0);
  EXPECT_EQ(east.assessments_recorded(), 0);
}

TEST_F(ReportingTest, AStaleRevisionIsIgnored) {
  Assessment("p1", "a1", 10, "east", 11);
  Amend("p1", "a1", 2, 20, "west", 4);
  Amend("p1", "a1", 1, 30, "north", 12);  // older than the revision held
  Amend("p1", "a1", 2, 30, "north", 12);  // the same revision again
  Withdraw("p1", "a1", 0);
  auto west = Get("west");
  ASSERT_EQ(west.persons_size(), 1);
  EXPECT_EQ(west.persons(0).cluster(), 4);
  EXPECT_EQ(west.assessments_recorded(), 1);
  EXPECT_EQ(Get("north").people(), 0);
  EXPECT_EQ(Get("north").assessments_recorded(), 0);
  EXPECT_EQ(Get("east").assessments_recorded(), 0);
}

TEST_F(ReportingTest, RecordedCountsStayExactThroughAmendmentsAndWithdrawals) {
  Assessment("p1", "a1", 10, "east", 11);
  Assessment("p1", "a2", 20, "east", 11);
  Assessment("p2", "a3", 15, "west", 4);
  Amend("p1", "a2", 1, 21, "west", 11);   // moves one east -> west
  Amend("p1", "a2", 2, 22, "west", 12);   // same team: no change in counts
  Withdraw("p1", "a1", 1);                // east loses one
  Withdraw("p1", "a1", 2);                // withdrawn again: nothing more to remove
  Withdraw("p2", "a9", 1);                // never seen: nothing to remove
  EXPECT_EQ(Get("east").assessments_recorded(), 0);
  EXPECT_EQ(Get("west").assessments_recorded(), 2);
  EXPECT_EQ(Get("west").people(), 2);
}

TEST_F(ReportingTest, AReviewOfAnEarlierRevisionOfTheBasisIsNotHonoured) {
  Assessment("p1", "a1", 10, "east", 11);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE);
  ASSERT_EQ(Get("east").reviews_overdue(), 1);
  // The scheduler re-announces the amended basis before reporting sees the amendment itself:
  // reporting still holds the first revision, and shows what was announced for it.
  ReviewOf("p1", "a1", 40, 11, pbr::v1::REVIEW_STATE_DUE);
  EXPECT_EQ(Get("east").reviews_overdue(), 1);
  EXPECT_EQ(Get("east").reviews_due(), 0) << "not yet: the due review is the amended revision's";
  Amend("p1", "a1", 1, 40, "east", 11);
  EXPECT_EQ(Get("east").reviews_due(), 1);
  // Amended again to a date whose review is not announced (upcoming): the old one no longer counts.
  Amend("p1", "a1", 2, 90, "east", 11);
  EXPECT_EQ(Get("east").reviews_due(), 0);
  EXPECT_EQ(Get("east").reviews_overdue(), 0);
}

TEST_F(ReportingTest, ClusterChangedDoesNotOverrideTheAssessmentHistory) {
  Assessment("p1", "a1", 10, "east", 11);
  auto e = platform::MakeEnvelope(topic::kClusterChanged, "c1", "p1", T(60), T(60), "epr", "");
  e.mutable_cluster_changed()->set_assessment_id("a9");
  e.mutable_cluster_changed()->set_team_id("west");
  e.mutable_cluster_changed()->set_cluster(4);
  *e.mutable_cluster_changed()->mutable_effective_at() = platform::ToProto(T(60));
  Apply(topic::kClusterChanged, e);
  ASSERT_EQ(Get("east").persons_size(), 1);
  EXPECT_EQ(Get("east").persons(0).cluster(), 11);
  EXPECT_EQ(Get("west").people(), 0);
}

TEST_F(ReportingTest, AWithdrawnOutcomeStopsCountingBeforeTheAssessmentsOwnWithdrawalArrives) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 12);
  ASSERT_EQ(Get("east").clusters(0).people_with_honos(), 1);
  auto e = platform::MakeEnvelope(topic::kOutcomeRecorded, "o-withdrawn", "p1", T(10), T(11), "epr", "");
  e.mutable_outcome_recorded()->set_assessment_id("a1");
  e.mutable_outcome_recorded()->set_withdrawn(true);
  Apply(topic::kOutcomeRecorded, e);
  auto east = Get("east");
  ASSERT_EQ(east.clusters_size(), 1);
  EXPECT_EQ(east.clusters(0).people_with_honos(), 0);
  EXPECT_FALSE(east.persons(0).has_honos());
}

TEST_F(ReportingTest, ADischargeRemovesThePersonFromEveryCaseload) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 12);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE);
  Assessment("p2", "a2", 12, "east", 11);
  ASSERT_EQ(Get("east").people(), 2);
  ASSERT_EQ(Get("east").reviews_overdue(), 1);
  Discharge("p1", "d1", 30);
  auto east = Get("east");
  EXPECT_EQ(east.people(), 1);
  ASSERT_EQ(east.persons_size(), 1);
  EXPECT_EQ(east.persons(0).person_id(), "p2");
  EXPECT_EQ(east.reviews_overdue(), 0);
  EXPECT_EQ(east.clusters(0).people_with_honos(), 0);
  EXPECT_EQ(east.assessments_recorded(), 2) << "recorded assessments still count after a discharge";
  // A contact recorded later for the closed period changes nothing.
  Care("p1", "contact", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, 20);
  EXPECT_EQ(Get("east").people(), 1);
}

TEST_F(ReportingTest, ADischargeReviewAtTheDischargeInstantThenTheDischargeLeavesNoCaseload) {
  Assessment("p1", "a1", 10, "east", 11);
  Assessment("p1", "dr", 50, "west", 12);  // the discharge review, at the discharge's instant
  ASSERT_EQ(Get("west").people(), 1);
  EXPECT_EQ(Get("west").persons(0).cluster(), 12);
  Discharge("p1", "d1", 50);
  EXPECT_EQ(Get("west").people(), 0);
  EXPECT_EQ(Get("east").people(), 0);

  // The other way round: the discharge first, then its review.
  Assessment("p2", "b1", 10, "east", 11);
  Discharge("p2", "d2", 50);
  Assessment("p2", "dr2", 50, "west", 12);
  EXPECT_EQ(Get("west").people(), 0);
  EXPECT_EQ(Get("east").people(), 0);
  EXPECT_EQ(Get("west").assessments_recorded(), 2);
}

TEST_F(ReportingTest, AReReferralPutsThePersonBackOnTheirNewTeamsCaseload) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 20);
  Discharge("p1", "d1", 30);
  Referral("p1", "r2", 40);
  EXPECT_EQ(Get("east").people(), 0);
  EXPECT_EQ(Get("west").people(), 0) << "referred again, but no cluster yet";
  Assessment("p1", "a2", 45, "west", 4);
  EXPECT_EQ(Get("east").people(), 0);
  auto west = Get("west");
  ASSERT_EQ(west.persons_size(), 1);
  EXPECT_EQ(west.persons(0).cluster(), 4);
  EXPECT_FALSE(west.persons(0).has_honos()) << "the HoNOS of the earlier period is not this one's";
  Outcome("p1", "a2", 45, 7);
  EXPECT_EQ(Get("west").persons(0).latest_honos_total(), 7);
  EXPECT_TRUE(Get("west").persons(0).has_honos());
}

TEST_F(ReportingTest, AReferralAloneOpensNothingOnTheCaseload) {
  Referral("p1", "r1", 10);
  EXPECT_EQ(Get("east").people(), 0);
  EXPECT_EQ(Get("east").persons_size(), 0);
  Assessment("p1", "a1", 12, "east", 3);
  ASSERT_EQ(Get("east").persons_size(), 1);
  EXPECT_EQ(Get("east").persons(0).cluster(), 3);
}

TEST_F(ReportingTest, AWithdrawnDischargeReopensTheCaseloadWithItsReview) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 12);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE);
  Discharge("p1", "d1", 30);
  ASSERT_EQ(Get("east").people(), 0);
  Care("p1", "d1", pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED, 31, 1, /*withdrawn=*/true);
  auto east = Get("east");
  ASSERT_EQ(east.persons_size(), 1);
  EXPECT_EQ(east.persons(0).cluster(), 11);
  EXPECT_EQ(east.persons(0).latest_honos_total(), 12);
  EXPECT_EQ(east.reviews_overdue(), 1) << "the review of the same basis counts again";
  Discharge("p1", "d1", 30);  // the discharge as first recorded, again: stale
  EXPECT_EQ(Get("east").people(), 1);
}

TEST_F(ReportingTest, EventsInAnyOrderAcrossTheTopicsGiveTheSameCaseloads) {
  using Step = std::function<void(const std::string& person)>;
  // Discharged: referred, allocated with a HoNOS, reviewed (overdue), discharged.
  std::vector<Step> discharged = {
      [&](const std::string& p) { Referral(p, "r1", 1); },
      [&](const std::string& p) { Assessment(p, "a1", 2, "north", 11); },
      [&](const std::string& p) { Outcome(p, "a1", 2, 20); },
      [&](const std::string& p) { Assessment(p, "a2", 20, "north", 12); },
      [&](const std::string& p) { Discharge(p, "d1", 30); },
      [&](const std::string& p) { ReviewOf(p, "a2", 20, 12, pbr::v1::REVIEW_STATE_OVERDUE); },
  };
  // Returned: discharged, then allocated again by another team, with a HoNOS and an overdue review.
  std::vector<Step> returned = {
      [&](const std::string& p) { Referral(p, "r1", 1); },
      [&](const std::string& p) { Assessment(p, "a1", 2, "east", 11); },
      [&](const std::string& p) { Discharge(p, "d1", 30); },
      [&](const std::string& p) { Assessment(p, "a3", 40, "west", 4); },
      [&](const std::string& p) { Outcome(p, "a3", 40, 9); },
      [&](const std::string& p) { ReviewOf(p, "a3", 40, 4, pbr::v1::REVIEW_STATE_OVERDUE); },
  };
  int people = 0;
  for (const std::vector<Step>* steps : {&discharged, &returned}) {
    std::vector<size_t> order(steps->size());
    std::iota(order.begin(), order.end(), 0);
    do {
      const std::string person = absl::StrCat("p", ++people);
      for (size_t i : order) (*steps)[i](person);
      if (HasFailure()) return;
    } while (std::next_permutation(order.begin(), order.end()));
  }
  constexpr int kOrders = 720;  // 6! per case
  ASSERT_EQ(people, 2 * kOrders);
  const auto north = Get("north");
  EXPECT_EQ(north.people(), 0) << "every order ends discharged";
  EXPECT_EQ(north.reviews_overdue(), 0);
  EXPECT_EQ(north.assessments_recorded(), 2 * kOrders);
  EXPECT_EQ(Get("east").people(), 0);
  EXPECT_EQ(Get("east").assessments_recorded(), kOrders);
  const auto west = Get("west");
  EXPECT_EQ(west.people(), kOrders) << "every order ends on west's caseload";
  ASSERT_EQ(west.clusters_size(), 1);
  EXPECT_EQ(west.clusters(0).cluster(), 4);
  EXPECT_EQ(west.clusters(0).people_with_honos(), kOrders);
  EXPECT_DOUBLE_EQ(west.clusters(0).mean_latest_honos(), 9.0);
  EXPECT_EQ(west.reviews_overdue(), kOrders);
  EXPECT_EQ(west.assessments_recorded(), kOrders);
}

// Review states as the scheduler announces them for the person's current basis (its id, MHCT date and
// cluster): the last announcement for that key, else UPCOMING; the due date is the announcement's.

TEST_F(ReportingTest, TriggeredReviewAnnouncementsLeaveTheFormalReviewAsItWas) {
  // Due, then a missed trigger (which says OVERDUE, with this basis) and its retraction.
  Assessment("p1", "a1", 10, "east", 11);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_DUE, 100);
  Trigger("p1", "a1", 10, 11);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_DUE, 100);
  Trigger("p1", "a1", 10, 11, /*retracted=*/true);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_DUE, 100);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 100);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 100);

  // Overdue; then a retraction describing the basis as it stood when the trigger was missed (an
  // earlier assessment), and a missed trigger from before the person had a cluster (no basis).
  Assessment("p2", "b0", 5, "east", 11);
  Assessment("p2", "b1", 20, "east", 11);
  ReviewOf("p2", "b1", 20, 11, pbr::v1::REVIEW_STATE_OVERDUE, 110);
  Trigger("p2", "b0", 5, 11, /*retracted=*/true);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_OVERDUE, 110);
  Trigger("p2", "", 0, 0);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_OVERDUE, 110);

  // Nothing announced yet: a trigger leaves it upcoming, and the window opening then shows due.
  Assessment("p3", "c1", 30, "east", 4);
  Trigger("p3", "c1", 30, 4);
  ExpectReview("east", "p3", pbr::v1::REVIEW_STATE_UPCOMING, std::nullopt);
  ReviewOf("p3", "c1", 30, 4, pbr::v1::REVIEW_STATE_DUE, 120);
  ExpectReview("east", "p3", pbr::v1::REVIEW_STATE_DUE, 120);

  // A trigger for someone reporting has never heard of keeps nothing about them.
  Trigger("p4", "d1", 40, 4);
  Assessment("p4", "d1", 40, "east", 4);
  ExpectReview("east", "p4", pbr::v1::REVIEW_STATE_UPCOMING, std::nullopt);

  const auto east = Get("east");
  EXPECT_EQ(east.reviews_due(), 1);
  EXPECT_EQ(east.reviews_overdue(), 2);
  ASSERT_EQ(east.clusters_size(), 2);
  EXPECT_EQ(east.clusters(0).cluster(), 4);
  EXPECT_EQ(east.clusters(0).reviews_due(), 1);
  EXPECT_EQ(east.clusters(0).reviews_overdue(), 0);
  EXPECT_EQ(east.clusters(1).cluster(), 11);
  EXPECT_EQ(east.clusters(1).reviews_due(), 0);
  EXPECT_EQ(east.clusters(1).reviews_overdue(), 2);
}

TEST_F(ReportingTest, AReviewAnnouncedBeforeItsBasisArrivesCountsOnceTheBasisDoes) {
  Assessment("p1", "a1", 10, "east", 11);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  // The scheduler has a2 and announces its review; reporting hears of that before a2 itself.
  ReviewOf("p1", "a2", 50, 13, pbr::v1::REVIEW_STATE_DUE, 140);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  EXPECT_EQ(Get("east").reviews_overdue(), 1) << "a1 is still the basis reporting holds";
  Assessment("p1", "a2", 50, "west", 13);
  EXPECT_EQ(Get("east").people(), 0);
  EXPECT_EQ(Get("east").reviews_overdue(), 0);
  ExpectReview("west", "p1", pbr::v1::REVIEW_STATE_DUE, 140);
  EXPECT_EQ(Get("west").reviews_due(), 1);

  // Reporting's first event about the person is their review.
  ReviewOf("p2", "b1", 20, 11, pbr::v1::REVIEW_STATE_OVERDUE, 70);
  Assessment("p2", "b1", 20, "east", 11);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_OVERDUE, 70);
}

TEST_F(ReportingTest, ABasisAmendedThenAmendedBackShowsWhatWasAnnouncedForEachRevision) {
  // MHCT date: the scheduler follows both amendments (due for day 40, overdue again for day 10,
  // re-announced) before reporting sees either.
  Assessment("p1", "a1", 10, "east", 11);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  ReviewOf("p1", "a1", 40, 11, pbr::v1::REVIEW_STATE_DUE, 90);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  Amend("p1", "a1", 1, 40, "east", 11);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_DUE, 90);
  Amend("p1", "a1", 2, 10, "east", 11);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);

  // Cluster: the announcements follow the amendments; amended back, the first review shows as
  // announced even before the scheduler's re-announcement arrives.
  Assessment("p2", "b1", 10, "east", 11);
  ReviewOf("p2", "b1", 10, 11, pbr::v1::REVIEW_STATE_DUE, 65);
  Amend("p2", "b1", 1, 10, "east", 12);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_UPCOMING, std::nullopt);
  ReviewOf("p2", "b1", 10, 12, pbr::v1::REVIEW_STATE_OVERDUE, 55);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_OVERDUE, 55);
  Amend("p2", "b1", 2, 10, "east", 11);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_DUE, 65);
  ReviewOf("p2", "b1", 10, 11, pbr::v1::REVIEW_STATE_DUE, 65);  // the re-announcement
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_DUE, 65);

  const auto east = Get("east");
  EXPECT_EQ(east.reviews_due(), 1);
  EXPECT_EQ(east.reviews_overdue(), 1);
  ASSERT_EQ(east.clusters_size(), 1);
  EXPECT_EQ(east.clusters(0).reviews_due(), 1);
  EXPECT_EQ(east.clusters(0).reviews_overdue(), 1);
}

TEST_F(ReportingTest, WithdrawingTheLaterAssessmentShowsTheOlderBasisAsAnnouncedLongAgo) {
  Assessment("p1", "a1", 10, "east", 11);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  Assessment("p1", "a2", 300, "west", 13);
  ReviewOf("p1", "a2", 300, 13, pbr::v1::REVIEW_STATE_DUE, 390);
  ExpectReview("west", "p1", pbr::v1::REVIEW_STATE_DUE, 390);
  EXPECT_EQ(Get("east").people(), 0);
  // The withdrawal arrives before the scheduler's re-announcement of a1's review.
  Withdraw("p1", "a2", 1);
  EXPECT_EQ(Get("west").people(), 0);
  EXPECT_EQ(Get("west").reviews_due(), 0);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  EXPECT_EQ(Get("east").reviews_overdue(), 1);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);

  // Every announcement (the re-announcement too) before any assessment.
  ReviewOf("p2", "b1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  ReviewOf("p2", "b2", 300, 13, pbr::v1::REVIEW_STATE_DUE, 390);
  ReviewOf("p2", "b1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  Assessment("p2", "b1", 10, "east", 11);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  Assessment("p2", "b2", 300, "west", 13);
  ExpectReview("west", "p2", pbr::v1::REVIEW_STATE_DUE, 390);
  Withdraw("p2", "b2", 1);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  EXPECT_EQ(Get("east").reviews_overdue(), 2);
  EXPECT_EQ(Get("west").people(), 0);
}

TEST_F(ReportingTest, AReReferralShowsOnlyTheOpenPeriodsReview) {
  Referral("p1", "r1", 1);
  Assessment("p1", "a1", 10, "east", 11);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  // The scheduler has the discharge, the new referral and its assessment; its announcement of the
  // new period's review reaches reporting first.
  ReviewOf("p1", "a2", 45, 4, pbr::v1::REVIEW_STATE_DUE, 80);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  Discharge("p1", "d1", 30);
  EXPECT_EQ(Get("east").people(), 0);
  EXPECT_EQ(Get("east").reviews_overdue(), 0);
  Referral("p1", "r2", 40);
  EXPECT_EQ(Get("west").people(), 0);
  Assessment("p1", "a2", 45, "west", 4);
  ExpectReview("west", "p1", pbr::v1::REVIEW_STATE_DUE, 80);
  EXPECT_EQ(Get("east").people(), 0);
  // All of it withdrawn: back in the first period, whose review shows as it was announced.
  Withdraw("p1", "a2", 1);
  EXPECT_EQ(Get("west").people(), 0);
  Care("p1", "r2", pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED, 41, 1, /*withdrawn=*/true);
  Care("p1", "d1", pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED, 31, 1, /*withdrawn=*/true);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);

  // Re-referred with nothing announced for the new period yet: upcoming, whatever came before.
  Assessment("p2", "b1", 10, "east", 11);
  ReviewOf("p2", "b1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  Discharge("p2", "e1", 30);
  Referral("p2", "e2", 40);
  Assessment("p2", "b2", 45, "east", 11);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_UPCOMING, std::nullopt);
  EXPECT_EQ(Get("east").reviews_overdue(), 1) << "p1's only";
}

TEST_F(ReportingTest, ATeamMoveKeepsTheAnnouncedReviewOfItsBasis) {
  // The same review (same MHCT date and cluster) moved to another team.
  Assessment("p1", "a1", 10, "east", 11);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  Amend("p1", "a1", 1, 10, "west", 11);
  EXPECT_EQ(Get("east").people(), 0);
  EXPECT_EQ(Get("east").reviews_overdue(), 0);
  ExpectReview("west", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  EXPECT_EQ(Get("west").reviews_overdue(), 1);

  // Moved with a corrected MHCT date, whose review the scheduler announces before reporting sees
  // the amendment: the team keeps the review it had until the amendment arrives.
  Assessment("p2", "b1", 10, "east", 11);
  ReviewOf("p2", "b1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  ReviewOf("p2", "b1", 12, 11, pbr::v1::REVIEW_STATE_DUE, 62);
  ExpectReview("east", "p2", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  Amend("p2", "b1", 1, 12, "west", 11);
  EXPECT_EQ(Get("east").people(), 0);
  ExpectReview("west", "p2", pbr::v1::REVIEW_STATE_DUE, 62);
  EXPECT_EQ(Get("west").reviews_due(), 1);
  EXPECT_EQ(Get("west").reviews_overdue(), 1);
}

TEST_F(ReportingTest, TheLastFourReviewsAnnouncedAreKept) {
  Assessment("p1", "a1", 10, "east", 11);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  // Three later assessments, each announced, each then withdrawn: a1's review is among the four kept.
  for (int i = 2; i <= 4; ++i) {
    const std::string id = absl::StrCat("a", i);
    Assessment("p1", id, 100 * i, "east", 11);
    ReviewOf("p1", id, 100 * i, 11, pbr::v1::REVIEW_STATE_DUE, 100 * i + 50);
    ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_DUE, 100 * i + 50);
  }
  for (int i = 4; i >= 2; --i) Withdraw("p1", absl::StrCat("a", i), 1);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  // A fifth review announced: a1's, the least recently announced, is no longer kept, so until the
  // scheduler re-announces it a1 shows upcoming (the scheduler re-announces a basis that returns).
  Assessment("p1", "a5", 500, "east", 11);
  ReviewOf("p1", "a5", 500, 11, pbr::v1::REVIEW_STATE_DUE, 550);
  Withdraw("p1", "a5", 1);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_UPCOMING, std::nullopt);
  ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, 60);
  // Announcing a review again keeps one entry for it.
  for (int i = 0; i < 10; ++i) ReviewOf("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE, 60);
  auto stored = store_->Get(kCaseloadPersonsFamily, "p1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  pbr::state::v1::ReportingPerson p;
  ASSERT_TRUE(p.ParseFromString(**stored));
  EXPECT_EQ(p.reviews_size(), 4);
}

TEST_F(ReportingTest, AFormalAnnouncementWithoutItsKeyIsRefused) {
  Assessment("p1", "a1", 10, "east", 11);
  auto undated = ReviewEvent("p1", "a1", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE);
  undated.mutable_review_due()->clear_latest_mhct_date();
  const absl::Status st = TryApply(topic::kReviewDue, undated);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), ::testing::HasSubstr("latest_mhct_date"));
  auto no_basis = ReviewEvent("p1", "", 10, 11, pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_EQ(TryApply(topic::kReviewDue, no_basis).code(), absl::StatusCode::kInvalidArgument);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_UPCOMING, std::nullopt);
}

TEST_F(ReportingTest, AReviewKeptByAnEarlierBuildStillCounts) {
  Assessment("p1", "a1", 10, "east", 11);
  // As an earlier build stored its one announcement (fields 8-11, no due date).
  auto stored = store_->Get(kCaseloadPersonsFamily, "p1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  pbr::state::v1::ReportingPerson p;
  ASSERT_TRUE(p.ParseFromString(**stored));
  p.set_review_basis_assessment_id("a1");
  p.set_review_state(pbr::v1::REVIEW_STATE_OVERDUE);
  *p.mutable_review_mhct_date() = platform::ToProto(Day(10));
  p.set_review_cluster(11);
  rocksdb::WriteBatch batch;
  batch.Put(store_->Family(kCaseloadPersonsFamily), "p1", p.SerializeAsString());
  ASSERT_TRUE(store_->Write(batch, false).ok());
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, std::nullopt);
  // It is kept among the reviews once the next one is announced.
  ReviewOf("p1", "a2", 50, 11, pbr::v1::REVIEW_STATE_DUE, 100);
  Assessment("p1", "a2", 50, "east", 11);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_DUE, 100);
  Withdraw("p1", "a2", 1);
  ExpectReview("east", "p1", pbr::v1::REVIEW_STATE_OVERDUE, std::nullopt);
}

// The three topics are not ordered with each other. Each scenario gives each topic's events in
// their order (review-due as the scheduler announced them, triggers included); in every
// interleaving the caseload ends with what the scheduler holds for the final basis.
TEST_F(ReportingTest, EveryInterleavingOfTheTopicsShowsTheAnnouncedReviewOfTheFinalBasis) {
  using Step = std::function<void(const std::string& person)>;
  using pbr::v1::REVIEW_STATE_DUE;
  using pbr::v1::REVIEW_STATE_OVERDUE;
  struct Scenario {
    std::string name;
    std::vector<std::vector<Step>> topics;
    std::string team;
    int cluster;
    pbr::v1::ReviewState state;
    int due_day;
  };
  std::vector<Scenario> scenarios = {
      {"withdrawal back to a review overdue long ago",
       {{[&](const std::string& p) { Assessment(p, "a1", 10, "east", 11); },
         [&](const std::string& p) { Assessment(p, "a2", 300, "west", 13); },
         [&](const std::string& p) { Withdraw(p, "a2", 1); }},
        {[&](const std::string& p) { ReviewOf(p, "a1", 10, 11, REVIEW_STATE_OVERDUE, 60); },
         [&](const std::string& p) { ReviewOf(p, "a2", 300, 13, REVIEW_STATE_DUE, 390); },
         [&](const std::string& p) { Trigger(p, "a2", 300, 13); },
         [&](const std::string& p) { ReviewOf(p, "a1", 10, 11, REVIEW_STATE_OVERDUE, 60); }}},
       "east", 11, REVIEW_STATE_OVERDUE, 60},
      {"amended and amended back, then a trigger",
       {{[&](const std::string& p) { Assessment(p, "a1", 10, "east", 11); },
         [&](const std::string& p) { Amend(p, "a1", 1, 40, "west", 11); },
         [&](const std::string& p) { Amend(p, "a1", 2, 10, "east", 11); }},
        {[&](const std::string& p) { ReviewOf(p, "a1", 10, 11, REVIEW_STATE_DUE, 100); },
         [&](const std::string& p) { ReviewOf(p, "a1", 40, 11, REVIEW_STATE_DUE, 130); },
         [&](const std::string& p) { ReviewOf(p, "a1", 10, 11, REVIEW_STATE_DUE, 100); },
         [&](const std::string& p) { Trigger(p, "a1", 10, 11); },
         [&](const std::string& p) { Trigger(p, "a1", 10, 11, /*retracted=*/true); }}},
       "east", 11, REVIEW_STATE_DUE, 100},
      {"discharged and re-referred to another team",
       {{[&](const std::string& p) { Assessment(p, "a1", 10, "east", 11); },
         [&](const std::string& p) { Assessment(p, "a2", 45, "west", 4); }},
        {[&](const std::string& p) { Referral(p, "r1", 1); },
         [&](const std::string& p) { Discharge(p, "d1", 30); },
         [&](const std::string& p) { Referral(p, "r2", 40); }},
        {[&](const std::string& p) { ReviewOf(p, "a1", 10, 11, REVIEW_STATE_OVERDUE, 60); },
         [&](const std::string& p) { ReviewOf(p, "a2", 45, 4, REVIEW_STATE_DUE, 80); },
         [&](const std::string& p) { Trigger(p, "a2", 45, 4); }}},
       "west", 4, REVIEW_STATE_DUE, 80},
  };
  int people = 0;
  for (const Scenario& sc : scenarios) {
    SCOPED_TRACE(sc.name);
    std::vector<size_t> order;  // which topic's next event comes next
    for (size_t t = 0; t < sc.topics.size(); ++t) order.insert(order.end(), sc.topics[t].size(), t);
    std::vector<std::string> persons;
    do {
      const std::string person = absl::StrCat("p", ++people);
      persons.push_back(person);
      std::vector<size_t> next(sc.topics.size(), 0);
      for (size_t t : order) sc.topics[t][next[t]++](person);
      if (HasFailure()) return;
    } while (std::next_permutation(order.begin(), order.end()));
    const auto caseload = Get(sc.team);
    int found = 0;
    for (const auto& p : caseload.persons()) {
      if (std::find(persons.begin(), persons.end(), p.person_id()) == persons.end()) continue;
      ++found;
      EXPECT_EQ(p.cluster(), sc.cluster) << p.DebugString();
      EXPECT_EQ(p.review_state(), sc.state) << p.DebugString();
      EXPECT_EQ(platform::FromProto(p.review_due_date()), Day(sc.due_day)) << p.DebugString();
    }
    EXPECT_EQ(found, static_cast<int>(persons.size())) << "every order ends on " << sc.team << "'s caseload";
  }
  EXPECT_EQ(people, 35 + 56 + 560);
  const auto east = Get("east");
  EXPECT_EQ(east.reviews_overdue(), 35);
  EXPECT_EQ(east.reviews_due(), 56);
  const auto west = Get("west");
  EXPECT_EQ(west.people(), 560);
  EXPECT_EQ(west.reviews_due(), 560);
  EXPECT_EQ(west.reviews_overdue(), 0);
}

// The API answers for the teams of the registry (rules/teams.yaml) only.
TEST_F(ReportingTest, ACaseloadIsForARegisteredTeamAndEmptyWhenNobodyIsOnIt) {
  auto rules = services::LoadRules(PBR_RULES_DIR);
  ASSERT_TRUE(rules.ok()) << rules.status();
  ReportingApi api(*store_, *rules);
  Assessment("p1", "a1", 10, "cmht-north", 4);
  Assessment("p2", "a2", 12, "not-a-team", 4);  // recorded while allocation admitted unknown teams
  pbr::v1::GetCaseloadRequest request;
  request.set_team_id("cmht-north");
  auto north = api.GetCaseload(request);
  ASSERT_TRUE(north.ok()) << north.status();
  EXPECT_EQ(north->people(), 1);
  request.set_team_id("cmht-south");
  auto nobody = api.GetCaseload(request);
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  EXPECT_EQ(nobody->team_id(), "cmht-south");
  EXPECT_EQ(nobody->people(), 0);
  EXPECT_EQ(nobody->assessments_recorded(), 0);
  request.set_team_id("not-a-team");
  auto unknown = api.GetCaseload(request);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(),
              ::testing::HasSubstr("team_id: 'not-a-team' is not a team of the rule set's team registry"));
  request.clear_team_id();
  EXPECT_EQ(api.GetCaseload(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.set_team_id(std::string(129, 't'));  // bounded before anything is looked up
  EXPECT_THAT(std::string(api.GetCaseload(request).status().message()), ::testing::StartsWith("team_id: longer than 128"));
  // Through gRPC, as a client sees it.
  request.set_team_id("t-north");
  pbr::v1::Caseload reply;
  const grpc::Status st = api.GetCaseload(nullptr, &request, &reply);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("team_id: 't-north'"));
}

// What its state is read with: the rule set (a change needs the state rebuilt, never mixed in).
TEST(CaseloadDerivation, IsTheRulesVersion) {
  auto rules = services::LoadRules(PBR_RULES_DIR);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(CaseloadProjection(*rules).derivation(), absl::StrCat("rules ", (*rules)->version()));
  EXPECT_EQ(CaseloadProjection().derivation(), "");
}

}  // namespace
}  // namespace pbr::reporting
