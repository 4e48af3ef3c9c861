#include "caseload.h"

#include "api.h"
#include "person_record.h"
#include "queries.h"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "care_bridge.h"
#include "shipped_rules.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "pbr/state/v1/caseload_state.pb.h"
#include "platform/clock.h"
#include "platform/outbox.h"
#include "testing/process.h"

namespace pbr::reporting {
namespace {

namespace topic = platform::topic;
absl::Time T(int day) { return absl::FromUnixSeconds(1'767'225'600 + day * 86'400); }  // day 0 = 2026-01-01
absl::CivilDay Day(int day) { return platform::ClinicalDay(T(day)); }
constexpr int kToday = 400;  // the day caseloads are asked for unless a test says otherwise

// The shipped rules: the team registry and the cluster catalogue (super classes, indicative periods).
const std::shared_ptr<const care::RuleSet>& Rules() { return services::ShippedRules(); }

// An assessment as allocation records it: who assessed, who co-ordinates, and its rule checks.
struct Assessed {
  std::string clinician = "clin-1";
  std::string coordinator;           // empty: none named
  std::optional<bool> red_rules;     // the "red-rules" check's result, when recorded
  std::optional<bool> transition;    // the "transition-protocol" check's result, when recorded
  bool advisory_transition = false;  // that check is advisory
  int revision = 0;
  std::optional<int> effective_day;  // an inpatient initial allocation back-dated to its admission
  std::string source_record_id;
};

class ReportingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Rules(), nullptr);
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
  void Assess(const std::string& person, const std::string& id, int day, const std::string& team, int cluster,
              const Assessed& how = {}) {
    auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, absl::StrCat("e", id, "-r", how.revision), person,
                                    T(day), T(day), "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_revision(how.revision);
    a->set_source_record_id(how.source_record_id);
    a->set_team_id(team);
    a->set_cluster(cluster);
    a->set_clinician_id(how.clinician);
    a->set_care_coordinator_id(how.coordinator);
    *a->mutable_assessed_at() = platform::ToProto(T(day));
    if (how.effective_day.has_value()) *a->mutable_effective_at() = platform::ToProto(T(*how.effective_day));
    auto* area = a->add_checks();  // a check neither figure reads
    area->set_rule("service-area");
    area->set_passed(false);
    if (how.red_rules.has_value()) {
      auto* c = a->add_checks();
      c->set_rule("red-rules");
      c->set_passed(*how.red_rules);
    }
    if (how.transition.has_value()) {
      auto* c = a->add_checks();
      c->set_rule("transition-protocol");
      c->set_passed(*how.transition);
      c->set_advisory(how.advisory_transition);
    }
    Apply(topic::kAssessmentRecorded, e);
  }
  // An outcome whose episode (the referral period's first against last valid rating) is paired with
  // this reliable-change class, or not paired.
  void EpisodeOutcome(const std::string& person, const std::string& id, int day, int total,
                      std::optional<pbr::v1::ReliableChange> pair) {
    auto e = platform::MakeEnvelope(topic::kOutcomeRecorded, absl::StrCat("o", id, "-", ++outcomes_), person, T(day),
                                    T(day), "epr", "");
    auto* o = e.mutable_outcome_recorded();
    o->set_assessment_id(id);
    *o->mutable_assessed_at() = platform::ToProto(T(day));
    o->set_honos_total(total);
    o->set_total_valid(true);
    o->mutable_episode()->set_paired(pair.has_value());
    if (pair.has_value()) o->mutable_episode()->mutable_change()->set_reliable_change(*pair);
    Apply(topic::kOutcomeRecorded, e);
  }
  void Contact(const std::string& person, const std::string& id, int day) {
    Care(person, id, pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, day);
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
  pbr::v1::Caseload Get(const std::string& team, const std::string& coordinator = "", int today = kToday) {
    auto c = TeamCaseload(*store_, Rules()->catalogue(), team, coordinator, Day(today));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(pbr::v1::Caseload{});
  }
  // The person's row on the team's caseload (asked on `today`); a failure when they are not on it.
  pbr::v1::CaseloadPerson Row(const std::string& team, const std::string& person, int today = kToday) {
    const auto caseload = Get(team, "", today);
    for (const auto& p : caseload.persons()) {
      if (p.person_id() == person) return p;
    }
    ADD_FAILURE() << person << " is not on " << team << "'s caseload";
    return {};
  }
  static std::vector<pbr::v1::DiscussionReason> Reasons(const pbr::v1::CaseloadPerson& p) {
    std::vector<pbr::v1::DiscussionReason> out;
    for (int r : p.discuss()) out.push_back(static_cast<pbr::v1::DiscussionReason>(r));
    return out;
  }
  // The kept counts agree with the people's rows: per cluster, and for every care co-ordinator's part.
  void ExpectCountsMatchRows(const std::string& team, int today = kToday) {
    const auto all = Get(team, "", today);
    std::map<int, std::vector<const pbr::v1::CaseloadPerson*>> by_cluster;
    std::set<std::string> coordinators;
    for (const auto& p : all.persons()) {
      by_cluster[p.cluster()].push_back(&p);
      coordinators.insert(p.care_coordinator_id());
    }
    ASSERT_EQ(all.clusters_size(), static_cast<int>(by_cluster.size())) << all.DebugString();
    int i = 0;
    for (const auto& [cluster, people] : by_cluster) {
      const auto& k = all.clusters(i++);
      EXPECT_EQ(k.cluster(), cluster);
      int due = 0, overdue = 0, with_honos = 0;
      for (const auto* p : people) {
        due += p->review_state() == pbr::v1::REVIEW_STATE_DUE;
        overdue += p->review_state() == pbr::v1::REVIEW_STATE_OVERDUE;
        with_honos += p->has_honos();
      }
      EXPECT_EQ(k.people(), static_cast<int>(people.size())) << "cluster " << cluster;
      EXPECT_EQ(k.reviews_due(), due) << "cluster " << cluster;
      EXPECT_EQ(k.reviews_overdue(), overdue) << "cluster " << cluster;
      EXPECT_EQ(k.people_with_honos(), with_honos) << "cluster " << cluster;
    }
    int people = 0;
    for (const std::string& who : coordinators) people += Get(team, who, today).people();
    EXPECT_EQ(people, all.people()) << "every person counts for exactly one care co-ordinator";
  }

  pbr::testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  CaseloadProjection model_;
  int announcements_ = 0;
  int outcomes_ = 0;
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

TEST_F(ReportingTest, AnOutcomeOfAnAssessmentNoLongerTheBasisIsHeldAndShownOnceItIsTheBasisAgain) {
  // A bulk load: both assessments arrive before the initial's outcome.
  Assessment("p1", "a1", 10, "east", 11);
  Assessment("p1", "a2", 50, "west", 13);
  Outcome("p1", "a2", 50, 8);
  Outcome("p1", "a1", 10, 12);  // not the basis: nothing shown changes
  auto west = Get("west");
  ASSERT_EQ(west.persons_size(), 1);
  EXPECT_EQ(west.persons(0).latest_honos_total(), 8);
  EXPECT_EQ(west.clusters(0).people_with_honos(), 1);
  EXPECT_DOUBLE_EQ(west.clusters(0).mean_latest_honos(), 8.0);
  EXPECT_EQ(Get("east").people(), 0);
  // The later one withdrawn: the initial is the basis again, with the outcome held for it.
  Withdraw("p1", "a2", 1);
  auto east = Get("east");
  ASSERT_EQ(east.persons_size(), 1);
  EXPECT_TRUE(east.persons(0).has_honos());
  EXPECT_EQ(east.persons(0).latest_honos_total(), 12);
  EXPECT_DOUBLE_EQ(east.clusters(0).mean_latest_honos(), 12.0);
  // And a revised outcome of the basis replaces what is shown, without any other fact.
  Outcome("p1", "a1", 10, 15);
  east = Get("east");
  EXPECT_EQ(east.persons(0).latest_honos_total(), 15);
  EXPECT_DOUBLE_EQ(east.clusters(0).mean_latest_honos(), 15.0);
  EXPECT_EQ(Get("west").people(), 0);
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
  ExpectCountsMatchRows("west");
  ExpectCountsMatchRows("north");
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
  // The caseload row shows it from the person's next change (here a care event the caseload ignores).
  Care("p1", "mha", pbr::v1::CARE_EVENT_MHA_ASSESSMENT, 11);
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
  ExpectCountsMatchRows("east");
  ExpectCountsMatchRows("west");
}

// The API answers for the teams of the registry (rules/teams.yaml) only.
TEST_F(ReportingTest, ACaseloadIsForARegisteredTeamAndEmptyWhenNobodyIsOnIt) {
  platform::ManualClock clock(T(kToday));
  ReportingApi api(*store_, Rules(), &clock);
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

// ---- caseload profiles: what supervision looks at (reference section 9) ----

using pbr::v1::DISCUSS_BEYOND_INDICATIVE_PERIOD;
using pbr::v1::DISCUSS_NO_RECENT_CONTACT;
using pbr::v1::DISCUSS_OVERDUE_REVIEW;
using pbr::v1::DISCUSS_RELIABLE_DETERIORATION;
using pbr::v1::DISCUSS_TRANSITION_OUTSIDE_PROTOCOL;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(ReportingTest, TheProfileShowsTheCareCoordinatorSuperClassAndTimeInTheCluster) {
  Assess("p1", "a1", 10, "east", 14, {.clinician = "clin-a", .coordinator = "cc-x"});  // P, "8-12 weeks"
  Assess("p2", "b1", 20, "east", 11, {.clinician = "clin-b"});                         // P, "3+ years"
  Assess("p3", "c1", 30, "east", 4, {.clinician = "clin-a", .coordinator = "cc-x"});   // NP, "12 months"
  const auto east = Get("east", "", 100);
  EXPECT_EQ(platform::FromProto(east.as_of()), Day(100));
  EXPECT_EQ(east.rule_version(), Rules()->catalogue().version);
  ASSERT_EQ(east.persons_size(), 3);
  const auto& p1 = east.persons(0);
  EXPECT_EQ(p1.care_coordinator_id(), "cc-x");
  EXPECT_EQ(p1.super_class(), "P");
  EXPECT_EQ(platform::FromProto(p1.in_cluster_since()), Day(10));
  EXPECT_EQ(p1.days_in_cluster(), 90);
  EXPECT_TRUE(p1.beyond_indicative_period()) << "12 weeks from day 10 ended on day 94";
  const auto& p2 = east.persons(1);
  EXPECT_EQ(p2.care_coordinator_id(), "clin-b") << "no care co-ordinator named: the assessing clinician";
  EXPECT_EQ(p2.super_class(), "P");
  EXPECT_EQ(p2.days_in_cluster(), 80);
  EXPECT_FALSE(p2.beyond_indicative_period()) << "an open-ended period never ends";
  const auto& p3 = east.persons(2);
  EXPECT_EQ(p3.super_class(), "NP");
  EXPECT_EQ(p3.days_in_cluster(), 70);
  EXPECT_FALSE(p3.beyond_indicative_period());

  ASSERT_EQ(east.clusters_size(), 3);
  EXPECT_EQ(east.clusters(0).cluster(), 4);
  EXPECT_EQ(east.clusters(0).super_class(), "NP");
  EXPECT_EQ(east.clusters(0).indicative_period(), "12 months");
  EXPECT_EQ(east.clusters(0).beyond_indicative_period(), 0);
  EXPECT_DOUBLE_EQ(east.clusters(0).mean_days_in_cluster(), 70.0);
  EXPECT_EQ(east.clusters(1).cluster(), 11);
  EXPECT_EQ(east.clusters(1).indicative_period(), "3+ years");
  EXPECT_EQ(east.clusters(2).cluster(), 14);
  EXPECT_EQ(east.clusters(2).super_class(), "P");
  EXPECT_EQ(east.clusters(2).indicative_period(), "8-12 weeks");
  EXPECT_EQ(east.clusters(2).beyond_indicative_period(), 1);
  EXPECT_DOUBLE_EQ(east.clusters(2).mean_days_in_cluster(), 90.0);
  ASSERT_EQ(east.super_classes_size(), 2);
  EXPECT_EQ(east.super_classes(0).super_class(), "NP");
  EXPECT_EQ(east.super_classes(0).people(), 1);
  EXPECT_EQ(east.super_classes(1).super_class(), "P");
  EXPECT_EQ(east.super_classes(1).people(), 2);

  // On the period's last day the person is still within it; beyond from the day after.
  EXPECT_FALSE(Row("east", "p1", 94).beyond_indicative_period());
  EXPECT_THAT(Reasons(Row("east", "p1", 94)), IsEmpty());
  EXPECT_TRUE(Row("east", "p1", 95).beyond_indicative_period());
  EXPECT_THAT(Reasons(Row("east", "p1", 95)), ElementsAre(DISCUSS_BEYOND_INDICATIVE_PERIOD));
  EXPECT_EQ(Get("east", "", 95).clusters(2).beyond_indicative_period(), 1);
  EXPECT_EQ(Get("east", "", 95).cases_to_discuss(), 1);
}

TEST_F(ReportingTest, TimeInTheClusterRunsFromTheCurrentEpisodesStart) {
  Assess("p1", "a1", 10, "east", 11);
  Assess("p1", "a2", 50, "east", 11, {.transition = true});  // the same cluster: the episode goes on
  EXPECT_EQ(platform::FromProto(Row("east", "p1").in_cluster_since()), Day(10));
  EXPECT_EQ(Row("east", "p1").days_in_cluster(), kToday - 10);
  Assess("p1", "a3", 70, "east", 12, {.transition = true});  // a new cluster: a new episode
  EXPECT_EQ(platform::FromProto(Row("east", "p1").in_cluster_since()), Day(70));
  EXPECT_EQ(Row("east", "p1").days_in_cluster(), kToday - 70);
  // An inpatient initial allocation is back-dated to the admission, and so is its episode.
  Assess("p2", "b1", 30, "east", 14, {.effective_day = 27});
  EXPECT_EQ(platform::FromProto(Row("east", "p2").in_cluster_since()), Day(27));
}

TEST_F(ReportingTest, FaceToFaceContactsAreCountedOverTheNinetyDaysUpToToday) {
  Assess("p1", "a1", 10, "east", 11);  // "3+ years": never beyond, whatever the day
  Contact("p1", "c0", 5);  // before the referral period opened: the person's, though not the period's
  Contact("p1", "c1", 20);
  Contact("p1", "c2", 20);  // two on one day are two contacts
  const auto early = Row("east", "p1", 100);
  EXPECT_EQ(early.face_to_face_contacts_90_days(), 2) << "days 11-100";
  ASSERT_TRUE(early.has_last_face_to_face_contact());
  EXPECT_EQ(platform::FromProto(early.last_face_to_face_contact()), Day(20));
  EXPECT_EQ(Row("east", "p1", 94).face_to_face_contacts_90_days(), 3) << "days 5-94";
  EXPECT_EQ(Get("east", "", 100).clusters(0).people_with_recent_contact(), 1);

  Contact("p1", "c3", 200);
  Contact("p1", "c4", 250);
  Contact("p1", "c5", 290);
  EXPECT_EQ(Row("east", "p1", 300).face_to_face_contacts_90_days(), 2) << "days 211-300";
  EXPECT_EQ(Row("east", "p1", 290).face_to_face_contacts_90_days(), 2) << "days 201-290";
  EXPECT_EQ(Row("east", "p1", 289 + 90).face_to_face_contacts_90_days(), 1);
  EXPECT_EQ(platform::FromProto(Row("east", "p1", 300).last_face_to_face_contact()), Day(290));
  EXPECT_THAT(Reasons(Row("east", "p1", 379)), IsEmpty());
  EXPECT_EQ(Row("east", "p1", 380).face_to_face_contacts_90_days(), 0);
  EXPECT_THAT(Reasons(Row("east", "p1", 380)), ElementsAre(DISCUSS_NO_RECENT_CONTACT));
  EXPECT_EQ(Get("east", "", 380).clusters(0).people_with_recent_contact(), 0);

  // A withdrawn contact no longer counts.
  Care("p1", "c5", pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED, 290, 1, /*withdrawn=*/true);
  EXPECT_EQ(Row("east", "p1", 300).face_to_face_contacts_90_days(), 1);
  EXPECT_EQ(platform::FromProto(Row("east", "p1", 300).last_face_to_face_contact()), Day(250));

  // Contacts of an earlier referral period count in the 90 days, but the last contact is the open one's.
  Assess("p2", "b1", 10, "east", 11);
  Contact("p2", "d1", 50);
  Discharge("p2", "x1", 60);
  Referral("p2", "r2", 70);
  Assess("p2", "b2", 80, "east", 11);
  EXPECT_EQ(Row("east", "p2", 100).face_to_face_contacts_90_days(), 1);
  EXPECT_FALSE(Row("east", "p2", 100).has_last_face_to_face_contact());
  Contact("p2", "d2", 90);
  EXPECT_EQ(Row("east", "p2", 100).face_to_face_contacts_90_days(), 2);
  EXPECT_EQ(platform::FromProto(Row("east", "p2", 100).last_face_to_face_contact()), Day(90));
}

TEST_F(ReportingTest, NoRecentContactIsRaisedOnlyOnceTheReferralHasBeenOpenNinetyDays) {
  Referral("p1", "r1", 10);
  Assess("p1", "a1", 30, "east", 4);
  EXPECT_THAT(Reasons(Row("east", "p1", 99)), IsEmpty()) << "opened 89 days before";
  EXPECT_THAT(Reasons(Row("east", "p1", 100)), ElementsAre(DISCUSS_NO_RECENT_CONTACT));
  Contact("p1", "c1", 95);
  EXPECT_THAT(Reasons(Row("east", "p1", 100)), IsEmpty());
  EXPECT_THAT(Reasons(Row("east", "p1", 184)), IsEmpty()) << "day 95 is within days 95-184";
  EXPECT_THAT(Reasons(Row("east", "p1", 185)), ElementsAre(DISCUSS_NO_RECENT_CONTACT));
  EXPECT_EQ(Get("east", "", 185).cases_to_discuss(), 1);
}

TEST_F(ReportingTest, AnOverdueReviewIsToDiscuss) {
  Assess("p1", "a1", 390, "east", 4);
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty());
  ReviewOf("p1", "a1", 390, 4, pbr::v1::REVIEW_STATE_DUE);
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty()) << "due is still on time";
  ReviewOf("p1", "a1", 390, 4, pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_THAT(Reasons(Row("east", "p1")), ElementsAre(DISCUSS_OVERDUE_REVIEW));
  EXPECT_EQ(Get("east").cases_to_discuss(), 1);
}

TEST_F(ReportingTest, ATransitionOutsideTheProtocolIsToDiscussWhileItsReviewIsTheBasis) {
  Assess("p1", "a1", 350, "east", 4, {.red_rules = true});
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty());
  Assess("p1", "a2", 380, "east", 5, {.transition = false});
  EXPECT_THAT(Reasons(Row("east", "p1")), ElementsAre(DISCUSS_TRANSITION_OUTSIDE_PROTOCOL));
  Assess("p1", "a2", 380, "east", 5, {.transition = true, .revision = 1});  // corrected
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty());
  Assess("p1", "a2", 380, "east", 5, {.transition = false, .advisory_transition = true, .revision = 2});
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty()) << "guidance not met is not a breach";
  Assess("p1", "a3", 390, "east", 7, {.transition = false});
  EXPECT_THAT(Reasons(Row("east", "p1")), ElementsAre(DISCUSS_TRANSITION_OUTSIDE_PROTOCOL));
  Assess("p1", "a4", 395, "east", 7, {.transition = true});
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty()) << "the breach was an earlier review's";
  Withdraw("p1", "a4", 1);
  EXPECT_THAT(Reasons(Row("east", "p1")), ElementsAre(DISCUSS_TRANSITION_OUTSIDE_PROTOCOL));

  // A referral period's first assessment reviewed nothing, whatever it carries.
  Assess("p2", "b1", 390, "east", 4, {.transition = false});
  EXPECT_THAT(Reasons(Row("east", "p2")), IsEmpty());
}

TEST_F(ReportingTest, AReliableDeteriorationIsTheBasissLatestOutcomesEpisodePair) {
  Assess("p1", "a1", 350, "east", 4);
  Assess("p1", "a2", 380, "east", 4);
  EpisodeOutcome("p1", "a2", 380, 20, pbr::v1::RELIABLE_CHANGE_DETERIORATED);
  EXPECT_THAT(Reasons(Row("east", "p1")), ElementsAre(DISCUSS_RELIABLE_DETERIORATION));
  EXPECT_EQ(Row("east", "p1").latest_honos_total(), 20);
  EpisodeOutcome("p1", "a2", 380, 12, pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE);  // the period changed
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty());
  EpisodeOutcome("p1", "a1", 350, 5, pbr::v1::RELIABLE_CHANGE_DETERIORATED);  // not the basis's
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty());
  EpisodeOutcome("p1", "a2", 380, 20, std::nullopt);  // no pair (one valid rating, or one day)
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty());
  EpisodeOutcome("p1", "a2", 380, 20, pbr::v1::RELIABLE_CHANGE_DETERIORATED);
  EXPECT_THAT(Reasons(Row("east", "p1")), ElementsAre(DISCUSS_RELIABLE_DETERIORATION));
  // Withdrawn: the basis is a1 again, as its own latest outcome describes it.
  Withdraw("p1", "a2", 1);
  EXPECT_THAT(Reasons(Row("east", "p1")), ElementsAre(DISCUSS_RELIABLE_DETERIORATION));
  EpisodeOutcome("p1", "a1", 350, 5, pbr::v1::RELIABLE_CHANGE_IMPROVED);
  EXPECT_THAT(Reasons(Row("east", "p1")), IsEmpty());

  // The outcome may arrive before its assessment.
  EpisodeOutcome("p2", "b1", 390, 30, pbr::v1::RELIABLE_CHANGE_DETERIORATED);
  Assess("p2", "b1", 390, "east", 4);
  EXPECT_THAT(Reasons(Row("east", "p2")), ElementsAre(DISCUSS_RELIABLE_DETERIORATION));
}

TEST_F(ReportingTest, EveryReasonIsGivenInTheEnumsOrder) {
  Assess("p1", "a1", 10, "east", 14, {.red_rules = true});
  Assess("p1", "a2", 20, "east", 15, {.transition = false});  // "8-12 weeks": ended on day 104
  EpisodeOutcome("p1", "a2", 20, 30, pbr::v1::RELIABLE_CHANGE_DETERIORATED);
  ReviewOf("p1", "a2", 20, 15, pbr::v1::REVIEW_STATE_OVERDUE);
  EXPECT_THAT(Reasons(Row("east", "p1", 200)),
              ElementsAre(DISCUSS_OVERDUE_REVIEW, DISCUSS_BEYOND_INDICATIVE_PERIOD, DISCUSS_TRANSITION_OUTSIDE_PROTOCOL,
                          DISCUSS_RELIABLE_DETERIORATION, DISCUSS_NO_RECENT_CONTACT));
}

TEST_F(ReportingTest, ClusteringQualityCountsEveryLiveAssessmentOfTheTeamByClinician) {
  // p1: an initial allocation meeting the red rules, a review within the protocol, one outside it.
  Assess("p1", "a1", 10, "east", 4, {.clinician = "clin-a", .red_rules = true});
  Assess("p1", "a2", 50, "east", 5, {.clinician = "clin-b", .red_rules = false, .transition = true});
  Assess("p1", "a3", 90, "east", 6, {.clinician = "clin-a", .red_rules = true, .transition = false});
  // p2: the red rules broken at allocation; a review with no transition check (the cluster kept).
  Assess("p2", "b1", 20, "east", 4, {.clinician = "clin-b", .red_rules = false});
  Assess("p2", "b2", 60, "east", 4, {.clinician = "clin-b"});
  // p3: another team's. p4: discharged since, still counted (quality is all time); no red-rules check.
  Assess("p3", "c1", 30, "west", 4, {.clinician = "clin-a", .red_rules = true});
  Assess("p4", "d1", 40, "east", 4, {.clinician = "clin-c"});
  Discharge("p4", "x4", 45);

  struct Want {
    std::string clinician;
    int initial, red_met, reviews, within;
  };
  auto expect = [](const pbr::v1::ClusteringQuality& q, const Want& w) {
    EXPECT_EQ(q.clinician_id(), w.clinician);
    EXPECT_EQ(q.initial_allocations(), w.initial) << w.clinician;
    EXPECT_EQ(q.red_rules_met(), w.red_met) << w.clinician;
    EXPECT_DOUBLE_EQ(q.red_rules_met_percent(), w.initial == 0 ? 0.0 : 100.0 * w.red_met / w.initial) << w.clinician;
    EXPECT_EQ(q.reviews(), w.reviews) << w.clinician;
    EXPECT_EQ(q.reviews_within_protocol(), w.within) << w.clinician;
    EXPECT_DOUBLE_EQ(q.reviews_within_protocol_percent(), w.reviews == 0 ? 0.0 : 100.0 * w.within / w.reviews)
        << w.clinician;
  };
  auto expect_team = [&](const std::string& team, const Want& all, const std::vector<Want>& clinicians) {
    SCOPED_TRACE(team);
    const auto c = Get(team);
    expect(c.quality(), all);
    ASSERT_EQ(c.quality_by_clinician_size(), static_cast<int>(clinicians.size())) << c.DebugString();
    for (size_t i = 0; i < clinicians.size(); ++i) expect(c.quality_by_clinician(static_cast<int>(i)), clinicians[i]);
  };
  expect_team("east", {"", 3, 1, 3, 2}, {{"clin-a", 1, 1, 1, 0}, {"clin-b", 1, 0, 2, 2}, {"clin-c", 1, 0, 0, 0}});
  expect_team("west", {"", 1, 1, 0, 0}, {{"clin-a", 1, 1, 0, 0}});
  EXPECT_DOUBLE_EQ(Get("east").quality().red_rules_met_percent(), 100.0 / 3);

  // Withdrawn, a1 leaves: a2 is now p1's initial allocation (its red rules were broken).
  Withdraw("p1", "a1", 1);
  expect_team("east", {"", 3, 0, 2, 1}, {{"clin-a", 0, 0, 1, 0}, {"clin-b", 2, 0, 1, 1}, {"clin-c", 1, 0, 0, 0}});
  // A back-filled earlier assessment is the initial allocation, and a2 a review again.
  Assess("p1", "a0", 5, "east", 4, {.clinician = "clin-c", .red_rules = true});
  expect_team("east", {"", 3, 1, 3, 2}, {{"clin-a", 0, 0, 1, 0}, {"clin-b", 1, 0, 2, 2}, {"clin-c", 2, 1, 0, 0}});
  // Referred again: the new period's first assessment is an initial allocation too.
  Referral("p4", "r4", 70);
  Assess("p4", "d2", 75, "east", 4, {.clinician = "clin-c", .red_rules = true});
  expect_team("east", {"", 4, 2, 3, 2}, {{"clin-a", 0, 0, 1, 0}, {"clin-b", 1, 0, 2, 2}, {"clin-c", 3, 2, 0, 0}});
  // Moved to another team by an amendment: it counts there now.
  Assess("p4", "d2", 75, "west", 4, {.clinician = "clin-c", .red_rules = true, .revision = 1});
  expect_team("east", {"", 3, 1, 3, 2}, {{"clin-a", 0, 0, 1, 0}, {"clin-b", 1, 0, 2, 2}, {"clin-c", 2, 1, 0, 0}});
  expect_team("west", {"", 2, 2, 0, 0}, {{"clin-a", 1, 1, 0, 0}, {"clin-c", 1, 1, 0, 0}});
}

TEST_F(ReportingTest, ACareCoordinatorsCaseloadHoldsOnlyTheirPeopleAndTheirOwnClustering) {
  Assess("p1", "a1", 390, "east", 4, {.clinician = "clin-a", .coordinator = "cc-x", .red_rules = true});
  Outcome("p1", "a1", 390, 10);
  Assess("p2", "b1", 391, "east", 11, {.clinician = "clin-b", .coordinator = "cc-x"});
  ReviewOf("p2", "b1", 391, 11, pbr::v1::REVIEW_STATE_OVERDUE);
  Assess("p3", "c1", 392, "east", 4, {.clinician = "cc-x"});  // co-ordinated by the assessing clinician
  Assess("p4", "d1", 393, "east", 4, {.clinician = "clin-a", .red_rules = true});
  Assess("p5", "e1", 394, "west", 4, {.clinician = "clin-a", .coordinator = "cc-x"});  // another team's

  const auto cc = Get("east", "cc-x");
  EXPECT_EQ(cc.care_coordinator_id(), "cc-x");
  ASSERT_EQ(cc.persons_size(), 3);
  EXPECT_EQ(cc.persons(0).person_id(), "p1");
  EXPECT_EQ(cc.persons(1).person_id(), "p2");
  EXPECT_EQ(cc.persons(2).person_id(), "p3");
  for (const auto& p : cc.persons()) EXPECT_EQ(p.care_coordinator_id(), "cc-x");
  EXPECT_EQ(cc.people(), 3);
  EXPECT_EQ(cc.reviews_overdue(), 1);
  ASSERT_EQ(cc.clusters_size(), 2);
  EXPECT_EQ(cc.clusters(0).cluster(), 4);
  EXPECT_EQ(cc.clusters(0).people(), 2);
  EXPECT_EQ(cc.clusters(0).people_with_honos(), 1);
  EXPECT_DOUBLE_EQ(cc.clusters(0).mean_latest_honos(), 10.0);
  EXPECT_EQ(cc.clusters(1).cluster(), 11);
  EXPECT_EQ(cc.clusters(1).reviews_overdue(), 1);
  ASSERT_EQ(cc.super_classes_size(), 2);
  EXPECT_EQ(cc.super_classes(0).people(), 2);  // NP
  EXPECT_EQ(cc.super_classes(1).people(), 1);  // P
  // Their clustering is what they assessed themselves: c1, an initial allocation without a red-rules check.
  EXPECT_EQ(cc.quality().clinician_id(), "cc-x");
  EXPECT_EQ(cc.quality().initial_allocations(), 1);
  EXPECT_EQ(cc.quality().red_rules_met(), 0);
  ASSERT_EQ(cc.quality_by_clinician_size(), 1);
  EXPECT_EQ(cc.quality_by_clinician(0).clinician_id(), "cc-x");
  EXPECT_EQ(cc.assessments_recorded(), 1);

  const auto a = Get("east", "clin-a");
  ASSERT_EQ(a.persons_size(), 1);
  EXPECT_EQ(a.persons(0).person_id(), "p4");
  EXPECT_EQ(a.quality().initial_allocations(), 2) << "a1 and d1: whoever co-ordinates the person";
  EXPECT_EQ(a.quality().red_rules_met(), 2);
  EXPECT_DOUBLE_EQ(a.quality().red_rules_met_percent(), 100.0);
  EXPECT_EQ(a.assessments_recorded(), 2);

  const auto nobody = Get("east", "cc-nobody");
  EXPECT_EQ(nobody.people(), 0);
  EXPECT_EQ(nobody.persons_size(), 0);
  EXPECT_EQ(nobody.clusters_size(), 0);
  EXPECT_EQ(nobody.quality().clinician_id(), "cc-nobody");
  EXPECT_EQ(nobody.quality().initial_allocations(), 0);
  EXPECT_EQ(nobody.quality_by_clinician_size(), 0);

  // An amendment naming another care co-ordinator moves the person, and their counts, to them.
  Assess("p1", "a1", 390, "east", 4,
         {.clinician = "clin-a", .coordinator = "cc-y", .red_rules = true, .revision = 1});
  EXPECT_EQ(Get("east", "cc-x").people(), 2);
  EXPECT_EQ(Get("east", "cc-x").clusters(0).people_with_honos(), 0);
  EXPECT_EQ(Get("east", "cc-y").people(), 1);
  EXPECT_EQ(Get("east", "cc-y").clusters(0).people_with_honos(), 1);
  EXPECT_EQ(Get("east").people(), 4);
  ExpectCountsMatchRows("east");
}

TEST_F(ReportingTest, NothingIdentifiableIsAnswered) {
  // The caseload's contract has no place for an NHS number or an EPR's own ids...
  std::vector<const google::protobuf::Descriptor*> pending = {pbr::v1::Caseload::descriptor()};
  std::set<const google::protobuf::Descriptor*> seen;
  while (!pending.empty()) {
    const google::protobuf::Descriptor* d = pending.back();
    pending.pop_back();
    if (!seen.insert(d).second) continue;
    for (int i = 0; i < d->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* f = d->field(i);
      for (const char* word : {"nhs", "local_patient", "source_record", "source_system", "rationale"}) {
        EXPECT_FALSE(absl::StrContains(f->name(), word)) << d->full_name() << "." << f->name();
      }
      if (f->message_type() != nullptr) pending.push_back(f->message_type());
    }
  }
  // ...and what the EPR sent with the person's records is not answered: only the pseudonym.
  const std::string nhs_number = "9434765919";
  const std::string person = platform::KeyedHash("a-test-secret", nhs_number);
  Assess(person, "a1", 390, "east", 4, {.clinician = "clin-a", .source_record_id = "RIO-RECORD-4711"});
  EpisodeOutcome(person, "a1", 390, 12, std::nullopt);
  Contact(person, "c1", 392);
  const auto east = Get("east");
  ASSERT_EQ(east.persons_size(), 1);
  EXPECT_EQ(east.persons(0).person_id(), person);
  for (const std::string& text : {east.SerializeAsString(), east.DebugString()}) {
    EXPECT_FALSE(absl::StrContains(text, nhs_number));
    EXPECT_FALSE(absl::StrContains(text, "RIO-RECORD-4711"));
  }
}

TEST_F(ReportingTest, OneTeamsRowsNeverIncludeAnotherTeamsWhoseIdStartsWithIt) {
  Assess("p1", "a1", 10, "north", 4, {.clinician = "clin-a"});
  Assess("p2", "b1", 10, "north/east", 4, {.clinician = "clin-a"});
  Assess("p3", "c1", 10, "nort", 4, {.clinician = "clin-a"});
  for (const std::string team : {"north", "north/east", "nort"}) {
    const auto c = Get(team);
    EXPECT_EQ(c.people(), 1) << team;
    EXPECT_EQ(c.persons_size(), 1) << team;
    EXPECT_EQ(c.quality().initial_allocations(), 1) << team;
  }
}

TEST_F(ReportingTest, AStoreWithoutCaseloadRowsAsksForAReset) {
  Assess("p1", "a1", 10, "east", 4);
  rocksdb::WriteBatch batch;  // an index entry as an earlier build wrote it: no row
  batch.Put(store_->Family(kCaseloadTeamIndexFamily), TeamIndexKey("east", "p0"), "");
  ASSERT_TRUE(store_->Write(batch, false).ok());
  auto c = TeamCaseload(*store_, Rules()->catalogue(), "east", "", Day(kToday));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(c.status().message(), ::testing::HasSubstr("--reset-state=true"));
}

TEST_F(ReportingTest, TheApiCountsToTheServiceClocksDayAndBoundsTheCareCoordinator) {
  platform::ManualClock clock(T(kToday));
  ReportingApi api(*store_, Rules(), &clock);
  Assess("p1", "a1", 10, "cmht-north", 4, {.clinician = "clin-a", .coordinator = "cc-x"});
  pbr::v1::GetCaseloadRequest request;
  request.set_team_id("cmht-north");
  request.set_care_coordinator_id("cc-x");
  auto c = api.GetCaseload(request);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(platform::FromProto(c->as_of()), Day(kToday));
  EXPECT_EQ(c->care_coordinator_id(), "cc-x");
  ASSERT_EQ(c->persons_size(), 1);
  EXPECT_EQ(c->persons(0).days_in_cluster(), kToday - 10);
  clock.Set(T(kToday + 30) + absl::Hours(23));  // late in the UK day
  c = api.GetCaseload(request);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(platform::FromProto(c->as_of()), Day(kToday + 30));
  EXPECT_EQ(c->persons(0).days_in_cluster(), kToday + 30 - 10);
  request.set_care_coordinator_id("cc-other");
  EXPECT_EQ(api.GetCaseload(request)->people(), 0);
  request.set_care_coordinator_id(std::string(129, 'c'));
  EXPECT_THAT(std::string(api.GetCaseload(request).status().message()),
              ::testing::StartsWith("care_coordinator_id: longer than 128"));
  request.set_care_coordinator_id("cc\x01");
  EXPECT_EQ(api.GetCaseload(request).status().code(), absl::StatusCode::kInvalidArgument);
}

// What its state is read with: the rule set (a change needs the state rebuilt, never mixed in).
TEST(CaseloadDerivation, IsTheRulesVersion) {
  auto rules = services::LoadRules(PBR_RULES_DIR);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(CaseloadProjection(*rules).derivation(), absl::StrCat("rules ", (*rules)->care_version(), "; review index"));
  EXPECT_EQ(CaseloadProjection().derivation(), "review index");
}

}  // namespace
}  // namespace pbr::reporting
