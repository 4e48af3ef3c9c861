#include "reporting_service.h"

#include <functional>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "testing/process.h"

namespace pbr::reporting {
namespace {

namespace topic = platform::topic;
absl::Time T(int day) { return absl::FromUnixSeconds(1'767'225'600 + day * 86'400); }  // day 0 = 2026-01-01

class ReportingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), {std::string(kPersonsFamily), std::string(kTeamIndexFamily),
                                                     std::string(kTeamCountsFamily), std::string(kAssessmentsFamily),
                                                     std::string(kLedgerFamily)});
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
  }
  void Apply(absl::string_view topic_name, const pbr::v1::EventEnvelope& e) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, T(400));
    platform::ConsumedEvent ev{topic_name, 0, 0, e};
    absl::Status st;
    if (topic_name == topic::kAssessmentRecorded) st = model_.OnAssessment(ev, ctx);
    if (topic_name == topic::kOutcomeRecorded) st = model_.OnOutcome(ev, ctx);
    if (topic_name == topic::kReviewDue) st = model_.OnReviewDue(ev, ctx);
    if (topic_name == topic::kClusterChanged) st = model_.OnClusterChanged(ev, ctx);
    if (topic_name == topic::kCareEventRecorded) st = model_.OnCareEvent(ev, ctx);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(store_->Write(batch, false).ok());
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
  void Review(const std::string& person, const std::string& basis, pbr::v1::ReviewState state) {
    auto e = platform::MakeEnvelope(topic::kReviewDue, "r" + basis + std::to_string(state), person, T(1), T(1), "", "");
    e.mutable_review_due()->set_basis_assessment_id(basis);
    e.mutable_review_due()->set_state(state);
    Apply(topic::kReviewDue, e);
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
  // A review as the scheduler announces it: with the basis's MHCT date and cluster.
  void ReviewOf(const std::string& person, const std::string& basis, int mhct_day, int cluster,
                pbr::v1::ReviewState state) {
    auto e = platform::MakeEnvelope(topic::kReviewDue, absl::StrCat("r", basis, mhct_day, state), person, T(1), T(1),
                                    "", "");
    auto* r = e.mutable_review_due();
    r->set_basis_assessment_id(basis);
    r->set_state(state);
    r->set_cluster(cluster);
    *r->mutable_latest_mhct_date() = platform::ToProto(platform::ClinicalDay(T(mhct_day)));
    Apply(topic::kReviewDue, e);
  }
  pbr::v1::Caseload Get(const std::string& team) {
    auto c = CaseloadModel::Caseload(*store_, team);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(pbr::v1::Caseload{});
  }

  pbr::testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  CaseloadModel model_;
};

TEST_F(ReportingTest, CaseloadCountsPeoplePerClusterReviewsAndLatestHonos) {
  Assessment("p1", "a1", 10, "east", 11);
  Outcome("p1", "a1", 10, 12);
  Assessment("p2", "a2", 11, "east", 11);
  Outcome("p2", "a2", 11, 20);
  Review("p2", "a2", pbr::v1::REVIEW_STATE_DUE);
  Assessment("p3", "a3", 12, "east", 4);
  Review("p3", "a3", pbr::v1::REVIEW_STATE_OVERDUE);
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
  Review("p1", "a1", pbr::v1::REVIEW_STATE_OVERDUE);
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
  Review("p1", "a2", pbr::v1::REVIEW_STATE_OVERDUE);
  Review("p1", "a2", pbr::v1::REVIEW_STATE_DUE);  // a late 'due' does not undo 'overdue'
  Assessment("p1", "a2", 50, "east", 12);
  Assessment("p1", "a1", 10, "north", 11);  // older assessment arrives later
  auto east = Get("east");
  ASSERT_EQ(east.persons_size(), 1);
  EXPECT_EQ(east.persons(0).cluster(), 12);
  EXPECT_EQ(east.persons(0).latest_honos_total(), 8);
  EXPECT_EQ(east.persons(0).review_state(), pbr::v1::REVIEW_STATE_OVERDUE);
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
  Review("p1", "a1", pbr::v1::REVIEW_STATE_OVERDUE);
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
  // The scheduler re-announces the amended basis before reporting sees the amendment itself.
  ReviewOf("p1", "a1", 40, 11, pbr::v1::REVIEW_STATE_DUE);
  EXPECT_EQ(Get("east").reviews_overdue(), 0);
  EXPECT_EQ(Get("east").reviews_due(), 0) << "not yet: reporting still holds the first revision";
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

}  // namespace
}  // namespace pbr::reporting
