// The shared event rules, table-driven: a valid event of each type is accepted, and each spoiled
// field is refused naming that field.
#include "event_rules.h"

#include <functional>

#include "care_bridge.h"
#include "field_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"

namespace pbr::services {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace topic = platform::topic;
using pbr::v1::EventEnvelope;

absl::Time Day(int y, int m, int d) { return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()); }

const care::RuleSet& Rules() {
  static const auto* rules = [] {
    auto loaded = LoadRules(PBR_RULES_DIR);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::shared_ptr<const care::RuleSet>(*loaded);
  }();
  return **rules;
}

EventEnvelope Envelope(absl::string_view type) {
  return platform::MakeEnvelope(type, platform::DeterministicId(type, {"1"}), "0123456789abcdef0123456789abcdef",
                                Day(2026, 3, 2), Day(2026, 3, 3), "epr-north", "trace-1");
}

EventEnvelope Assessment() {
  auto e = Envelope(topic::kAssessmentRecorded);
  auto* a = e.mutable_assessment_recorded();
  a->set_assessment_id("a-1");
  a->set_source_record_id("rec-1");
  a->set_team_id("cmht-east");
  a->set_clinician_id("clin-7");
  a->set_care_coordinator_id("cc-3");
  *a->mutable_assessed_at() = platform::ToProto(Day(2026, 3, 2));
  for (int i = 0; i < 18; ++i) a->mutable_ratings()->add_items(i == 7 ? 2 : 1);
  a->mutable_ratings()->set_item8_problem_type("J");
  a->mutable_ratings()->set_item8_other_text("hoarding");
  a->set_cluster(4);
  a->set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  a->set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  a->set_rule_version("v1#0000");
  a->set_episode_id("ep-1");
  a->set_face_to_face_contacts(3);
  *a->mutable_effective_at() = a->assessed_at();
  auto* c = a->add_checks();
  c->set_rule("red-rules");
  c->set_passed(true);
  c->set_reason("fits");
  c->add_expected_clusters(4);
  return e;
}

EventEnvelope CareEvent() {
  auto e = Envelope(topic::kCareEventRecorded);
  auto* c = e.mutable_care_event_recorded();
  c->set_care_event_id("ce-1");
  c->set_source_record_id("rec-9");
  c->set_type(pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT);
  *c->mutable_occurred_at() = platform::ToProto(Day(2026, 3, 1));
  c->set_out_of_hours(true);
  c->set_team_id("crht");
  return e;
}

EventEnvelope ClusterChanged() {
  auto e = Envelope(topic::kClusterChanged);
  auto* c = e.mutable_cluster_changed();
  c->set_assessment_id("a-1");
  c->set_team_id("cmht-east");
  c->set_has_previous_cluster(true);
  c->set_previous_cluster(3);
  c->set_cluster(4);
  *c->mutable_effective_at() = platform::ToProto(Day(2026, 3, 2));
  return e;
}

EventEnvelope ReviewDue() {
  auto e = Envelope(topic::kReviewDue);
  e.set_source_system("");  // a timer's announcement has no source system
  auto* r = e.mutable_review_due();
  r->set_basis_assessment_id("a-1");
  r->set_team_id("cmht-east");
  r->set_cluster(4);
  *r->mutable_latest_mhct_date() = platform::ToProto(absl::CivilDay(2026, 3, 2));
  *r->mutable_window_opens() = platform::ToProto(absl::CivilDay(2027, 2, 20));
  *r->mutable_due_date() = platform::ToProto(absl::CivilDay(2027, 3, 2));
  r->set_state(pbr::v1::REVIEW_STATE_DUE);
  return e;
}

pbr::v1::ReviewTrigger Trigger(pbr::v1::TriggerOutcome outcome) {
  pbr::v1::ReviewTrigger t;
  t.set_kind(pbr::v1::REVIEW_TRIGGER_OUT_OF_HOURS_REFERRAL);
  t.set_care_event_id("ce-1");
  *t.mutable_occurred_at() = platform::ToProto(Day(2026, 3, 1));
  *t.mutable_window_opens() = platform::ToProto(Day(2026, 3, 1));
  *t.mutable_deadline() = platform::ToProto(Day(2026, 3, 4));
  t.set_outcome(outcome);
  t.set_team_id("crht");
  t.set_rule_version("kpis#0001");
  if (outcome == pbr::v1::TRIGGER_OUTCOME_MET) t.set_met_by_assessment_id("a-2");
  return t;
}

// A missed event-triggered review, announced at its deadline.
EventEnvelope TriggerMissed() {
  auto e = ReviewDue();
  auto* r = e.mutable_review_due();
  r->set_state(pbr::v1::REVIEW_STATE_OVERDUE);
  r->set_service_area("north-community");
  *r->mutable_trigger() = Trigger(pbr::v1::TRIGGER_OUTCOME_MISSED);
  return e;
}

// The same for an inpatient admission of a person with no cluster: no basis to describe.
EventEnvelope AdmissionMissed() {
  auto e = Envelope(topic::kReviewDue);
  e.set_source_system("");
  auto* r = e.mutable_review_due();
  r->set_team_id("ward-3");
  r->set_state(pbr::v1::REVIEW_STATE_OVERDUE);
  *r->mutable_trigger() = Trigger(pbr::v1::TRIGGER_OUTCOME_MISSED);
  r->mutable_trigger()->set_kind(pbr::v1::REVIEW_TRIGGER_INPATIENT_ADMISSION);
  r->mutable_trigger()->set_team_id("ward-3");
  return e;
}

EventEnvelope ReviewCompleted() {
  auto e = Envelope(topic::kReviewCompleted);
  auto* c = e.mutable_review_completed();
  c->set_assessment_id("a-2");
  c->set_revision(0);
  *c->mutable_assessed_at() = platform::ToProto(Day(2027, 2, 25));
  c->set_kind(pbr::v1::REVIEW_KIND_FORMAL);
  c->set_team_id("cmht-east");
  c->set_cluster(5);
  c->set_reviewed_assessment_id("a-1");
  *c->mutable_reviewed_mhct_date() = platform::ToProto(absl::CivilDay(2026, 3, 2));
  c->set_reviewed_cluster(4);
  *c->mutable_window_opens() = platform::ToProto(absl::CivilDay(2027, 2, 20));
  *c->mutable_due_date() = platform::ToProto(absl::CivilDay(2027, 3, 2));
  c->set_on_time(true);
  c->set_days_early(5);
  c->set_within_window(true);
  c->set_referral_id("ref-1");
  c->set_rule_version("v1#0000");
  return e;
}

EventEnvelope Outcome() {
  auto e = Envelope(topic::kOutcomeRecorded);
  auto* o = e.mutable_outcome_recorded();
  o->set_assessment_id("a-1");
  o->set_team_id("cmht-east");
  o->set_cluster(4);
  *o->mutable_assessed_at() = platform::ToProto(Day(2026, 3, 2));
  o->set_honos_total(14);
  o->set_missing_items(1);
  o->set_total_valid(true);
  return e;
}

absl::Status Validate(const EventEnvelope& e) { return ValidateEvent(Rules(), e.event_type(), e); }

TEST(EventRules, AValidEventOfEveryTypeIsAccepted) {
  for (const auto& e : {Assessment(), CareEvent(), ClusterChanged(), ReviewDue(), TriggerMissed(), AdmissionMissed(),
                        ReviewCompleted(), Outcome()}) {
    EXPECT_TRUE(Validate(e).ok()) << e.event_type() << ": " << Validate(e);
  }
}

TEST(EventRules, TheTimeWindowIsTheYears2000To2199) {
  EXPECT_EQ(absl::FromUnixSeconds(limits::kEarliestUnixSeconds), Day(2000, 1, 1));
  EXPECT_EQ(absl::FromUnixSeconds(limits::kLatestUnixSeconds), Day(2200, 1, 1));
  auto e = Outcome();
  *e.mutable_outcome_recorded()->mutable_assessed_at() = platform::ToProto(Day(2200, 1, 1) - absl::Nanoseconds(1));
  EXPECT_TRUE(Validate(e).ok()) << Validate(e);
  *e.mutable_outcome_recorded()->mutable_assessed_at() = platform::ToProto(Day(2000, 1, 1));
  EXPECT_TRUE(Validate(e).ok()) << Validate(e);
  *e.mutable_outcome_recorded()->mutable_assessed_at() = platform::ToProto(Day(2000, 1, 1) - absl::Nanoseconds(1));
  EXPECT_THAT(Validate(e).message(), HasSubstr("outcome_recorded.assessed_at: is before 2000"));
}

TEST(EventRules, AWithdrawalIsCheckedForIdentityAndBoundsOnly) {
  auto e = Assessment();
  auto* a = e.mutable_assessment_recorded();
  a->set_withdrawn(true);
  a->set_revision(2);
  a->set_cluster(99);           // as last recorded, perhaps under older rules: not used by anyone
  a->clear_ratings();
  a->clear_assessed_at();
  EXPECT_TRUE(Validate(e).ok()) << Validate(e);
  a->set_revision(0);
  EXPECT_THAT(Validate(e).message(), HasSubstr("assessment_recorded.revision: a withdrawal follows"));
  a->set_revision(2);
  a->set_clinical_rationale(std::string(4001, 'x'));
  EXPECT_THAT(Validate(e).message(), HasSubstr("assessment_recorded.clinical_rationale: longer than 4000 bytes"));
  a->clear_clinical_rationale();
  a->set_care_coordinator_id(std::string(129, 'c'));  // bounded on every revision: nothing oversized travels
  EXPECT_THAT(Validate(e).message(), HasSubstr("assessment_recorded.care_coordinator_id: longer than 128"));
}

TEST(EventRules, ATriggersRetractionSaysMetWithdrawnOrPending) {
  for (auto outcome : {pbr::v1::TRIGGER_OUTCOME_MET, pbr::v1::TRIGGER_OUTCOME_WITHDRAWN, pbr::v1::TRIGGER_OUTCOME_PENDING}) {
    auto e = TriggerMissed();
    e.mutable_review_due()->set_retracted(true);
    e.mutable_review_due()->mutable_trigger()->set_outcome(outcome);
    EXPECT_TRUE(Validate(e).ok()) << outcome << ": " << Validate(e);
  }
  auto e = TriggerMissed();
  e.mutable_review_due()->set_retracted(true);  // still MISSED
  EXPECT_THAT(Validate(e).message(), HasSubstr("review_due.trigger.outcome: must be met, withdrawn or pending on a retraction"));
}

TEST(EventRules, ALateReviewCompletionIsAccepted) {
  auto e = ReviewCompleted();
  auto* c = e.mutable_review_completed();
  c->set_on_time(false);
  c->set_days_early(0);
  c->set_days_late(3);
  c->set_within_window(false);
  c->set_kind(pbr::v1::REVIEW_KIND_UNSPECIFIED);  // the assessment gave no reason
  EXPECT_TRUE(Validate(e).ok()) << Validate(e);
}

TEST(EventRules, AWithdrawnReviewCompletionNeedsOnlyItsIdentity) {
  auto e = Envelope(topic::kReviewCompleted);
  auto* c = e.mutable_review_completed();
  c->set_withdrawn(true);
  c->set_assessment_id("a-2");
  c->set_reviewed_assessment_id("a-1");
  c->set_cluster(99);  // as last published: not used by anyone
  c->set_days_late(-4);
  EXPECT_TRUE(Validate(e).ok()) << Validate(e);
  c->clear_reviewed_assessment_id();
  EXPECT_THAT(Validate(e).message(), HasSubstr("review_completed.reviewed_assessment_id: required"));
  c->set_reviewed_assessment_id("a-1");
  c->set_team_id(std::string(129, 't'));  // bounds still hold
  EXPECT_THAT(Validate(e).message(), HasSubstr("review_completed.team_id: longer than 128"));
}

TEST(EventRules, EveryProblemIsReportedAtOnce) {
  auto e = Assessment();
  e.clear_person_id();
  e.mutable_assessment_recorded()->set_cluster(99);
  e.mutable_assessment_recorded()->clear_ratings();
  const absl::Status st = Validate(e);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("person_id: required"));
  EXPECT_THAT(st.message(), HasSubstr("assessment_recorded.cluster: 99 is not a care cluster"));
  EXPECT_THAT(st.message(), HasSubstr("assessment_recorded.ratings: required"));
}

TEST(EventRules, TheTopicMustMatchThePayload) {
  auto e = Assessment();
  EXPECT_THAT(ValidateEvent(Rules(), topic::kOutcomeRecorded, e).message(),
              HasSubstr("payload: 'assessment-recorded' does not belong on topic 'outcome-recorded'"));
  e.clear_assessment_recorded();
  EXPECT_THAT(Validate(e).message(), HasSubstr("payload: missing"));
  EXPECT_THAT(ValidateEvent(Rules(), "no-such-topic", Assessment()).message(), HasSubstr("event_type"));
  EXPECT_THAT(ValidateEvent(Rules(), topic::kReviewDue, ReviewCompleted()).message(),
              HasSubstr("payload: 'review-completed' does not belong on topic 'review-due'"));
  EXPECT_THAT(ValidateEvent(Rules(), topic::kReviewCompleted, ReviewDue()).message(),
              HasSubstr("payload: 'review-due' does not belong on topic 'review-completed'"));
  auto completed = ReviewCompleted();
  completed.clear_review_completed();
  EXPECT_THAT(Validate(completed).message(), HasSubstr("payload: missing ('review-completed' needs one)"));
}

TEST(EventRules, QuotesOnlyAShortPrefixOfWhatItRefuses) {
  auto e = Assessment();
  e.set_event_type(std::string(1 << 20, 'x'));
  const absl::Status bad = ValidateEvent(Rules(), topic::kAssessmentRecorded, e);
  EXPECT_THAT(bad.message(), HasSubstr("(1048576 bytes)"));
  EXPECT_LT(bad.message().size(), 1000u);
}

struct Spoiled {
  std::string name;
  std::function<EventEnvelope()> make;
  std::function<void(EventEnvelope&)> spoil;
  std::string problem;  // what the refusal must say, field first
};
void PrintTo(const Spoiled& s, std::ostream* os) { *os << s.name; }

class EventRulesRefuse : public ::testing::TestWithParam<Spoiled> {};

TEST_P(EventRulesRefuse, NamingTheField) {
  auto e = GetParam().make();
  ASSERT_TRUE(Validate(e).ok()) << "the fixture itself must be valid: " << Validate(e);
  GetParam().spoil(e);
  const absl::Status st = Validate(e);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr(GetParam().problem));
}

using pbr::v1::AssessmentRecorded;
auto A = [](EventEnvelope& e) { return e.mutable_assessment_recorded(); };
const int64_t kTwoTo62 = int64_t{1} << 62;

INSTANTIATE_TEST_SUITE_P(
    Envelope, EventRulesRefuse,
    ::testing::Values(
        Spoiled{"NoEventId", Assessment, [](auto& e) { e.clear_event_id(); }, "event_id: required"},
        Spoiled{"LongEventId", Assessment, [](auto& e) { e.set_event_id(std::string(129, 'a')); },
                "event_id: longer than 128"},
        Spoiled{"NoPerson", Outcome, [](auto& e) { e.clear_person_id(); }, "person_id: required"},
        Spoiled{"PersonWithControl", CareEvent, [](auto& e) { e.set_person_id("a\nb"); }, "person_id: contains a control"},
        Spoiled{"LongTrace", ReviewDue, [](auto& e) { e.set_trace_id(std::string(129, 't')); }, "trace_id: longer than 128"},
        Spoiled{"SchemaZero", ClusterChanged, [](auto& e) { e.set_schema_version(0); }, "schema_version: 0 is not 1-1"},
        Spoiled{"NoOccurredAt", Assessment, [](auto& e) { e.clear_occurred_at(); }, "occurred_at: required"},
        Spoiled{"RecordedAtNanosNegative", Assessment, [](auto& e) { e.mutable_recorded_at()->set_nanos(-1); },
                "recorded_at: nanos -1 is not 0-999999999"},
        Spoiled{"OccurredAtFarFuture", Outcome, [](auto& e) { e.mutable_occurred_at()->set_seconds(kTwoTo62); },
                "occurred_at: is after 2199"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    AssessmentRecorded, EventRulesRefuse,
    ::testing::Values(
        Spoiled{"Cluster99", Assessment, [](auto& e) { A(e)->set_cluster(99); },
                "assessment_recorded.cluster: 99 is not a care cluster (0-21)"},
        Spoiled{"BlankCluster", Assessment, [](auto& e) { A(e)->set_cluster(9); },
                "assessment_recorded.cluster: 9 is the blank cluster"},
        Spoiled{"NoRatings", Assessment, [](auto& e) { A(e)->clear_ratings(); }, "assessment_recorded.ratings: required"},
        Spoiled{"SeventeenRatings", Assessment, [](auto& e) { A(e)->mutable_ratings()->mutable_items()->RemoveLast(); },
                "assessment_recorded.ratings.items: expected 18"},
        Spoiled{"RatingFive", Assessment, [](auto& e) { A(e)->mutable_ratings()->set_items(2, 5); },
                "assessment_recorded.ratings.item[2]"},
        Spoiled{"LongOtherText", Assessment,
                [](auto& e) { A(e)->mutable_ratings()->set_item8_other_text(std::string(501, 'x')); },
                "assessment_recorded.ratings.item8_other_text: longer than 500 bytes"},
        Spoiled{"NoReason", Assessment, [](auto& e) { A(e)->clear_reason(); }, "assessment_recorded.reason: required"},
        Spoiled{"UnknownReason", Assessment, [](auto& e) { A(e)->set_reason(static_cast<pbr::v1::AssessmentReason>(77)); },
                "assessment_recorded.reason: required"},
        Spoiled{"ReviewWithoutChangeClass", Assessment, [](auto& e) { A(e)->clear_change_class(); },
                "assessment_recorded.change_class: required for a review"},
        Spoiled{"NoAssessmentId", Assessment, [](auto& e) { A(e)->clear_assessment_id(); },
                "assessment_recorded.assessment_id: required"},
        Spoiled{"NoTeam", Assessment, [](auto& e) { A(e)->clear_team_id(); }, "assessment_recorded.team_id: required"},
        Spoiled{"LongCareCoordinator", Assessment, [](auto& e) { A(e)->set_care_coordinator_id(std::string(129, 'c')); },
                "assessment_recorded.care_coordinator_id: longer than 128"},
        Spoiled{"CareCoordinatorWithControl", Assessment, [](auto& e) { A(e)->set_care_coordinator_id("cc\n1"); },
                "assessment_recorded.care_coordinator_id: contains a control"},
        Spoiled{"LongServiceArea", Assessment, [](auto& e) { A(e)->set_service_area(std::string(65, 's')); },
                "assessment_recorded.service_area: longer than 64"},
        Spoiled{"NoAssessedAt", Assessment, [](auto& e) { A(e)->clear_assessed_at(); },
                "assessment_recorded.assessed_at: required"},
        Spoiled{"AssessedAtNanosBillion", Assessment, [](auto& e) { A(e)->mutable_assessed_at()->set_nanos(1000000000); },
                "assessment_recorded.assessed_at: nanos 1000000000"},
        Spoiled{"AssessedAtNanosIntMax", Assessment, [](auto& e) { A(e)->mutable_assessed_at()->set_nanos(2147483647); },
                "assessment_recorded.assessed_at: nanos 2147483647"},
        Spoiled{"AssessedAt2To62", Assessment, [](auto& e) { A(e)->mutable_assessed_at()->set_seconds(kTwoTo62); },
                "assessment_recorded.assessed_at: is after 2199"},
        Spoiled{"AssessedAtBefore2000", Assessment, [](auto& e) { A(e)->mutable_assessed_at()->set_seconds(-kTwoTo62); },
                "assessment_recorded.assessed_at: is before 2000"},
        Spoiled{"AdmittedAtNanos", Assessment, [](auto& e) { A(e)->mutable_admitted_at()->set_nanos(-1); },
                "assessment_recorded.admitted_at: nanos -1"},
        Spoiled{"FirstContactAt", Assessment, [](auto& e) { A(e)->mutable_first_contact_at()->set_seconds(kTwoTo62); },
                "assessment_recorded.first_contact_at: is after 2199"},
        Spoiled{"EffectiveAt", Assessment, [](auto& e) { A(e)->mutable_effective_at()->set_nanos(-5); },
                "assessment_recorded.effective_at: nanos -5"},
        Spoiled{"Contacts", Assessment, [](auto& e) { A(e)->set_face_to_face_contacts(2147483647); },
                "assessment_recorded.face_to_face_contacts: 2147483647 is not 0-1000"},
        Spoiled{"NegativeRevision", Assessment, [](auto& e) { A(e)->set_revision(-1); },
                "assessment_recorded.revision: -1 is negative"},
        Spoiled{"LongRationale", Assessment, [](auto& e) { A(e)->set_clinical_rationale(std::string(4001, 'r')); },
                "assessment_recorded.clinical_rationale: longer than 4000 bytes"},
        Spoiled{"TooManyChecks", Assessment,
                [](auto& e) {
                  for (int i = 0; i < limits::kMaxRuleChecks; ++i) *A(e)->add_checks() = A(e)->checks(0);
                },
                "assessment_recorded.checks: more than 12 entries (13)"},
        Spoiled{"LongCheckReason", Assessment,
                [](auto& e) { A(e)->mutable_checks(0)->set_reason(std::string(2001, 'x')); },
                "assessment_recorded.checks[0].reason: longer than 2000 bytes"},
        Spoiled{"CheckExpectsCluster99", Assessment, [](auto& e) { A(e)->mutable_checks(0)->add_expected_clusters(99); },
                "assessment_recorded.checks[0].expected_clusters[1]: 99 is not a care cluster"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    OtherPayloads, EventRulesRefuse,
    ::testing::Values(
        Spoiled{"CareEventNoType", CareEvent, [](auto& e) { e.mutable_care_event_recorded()->clear_type(); },
                "care_event_recorded.type: required"},
        Spoiled{"CareEventOutOfHoursAdmission", CareEvent,
                [](auto& e) { e.mutable_care_event_recorded()->set_type(pbr::v1::CARE_EVENT_ADMISSION); },
                "care_event_recorded.out_of_hours: applies to referrals only"},
        Spoiled{"CareEventNoTime", CareEvent, [](auto& e) { e.mutable_care_event_recorded()->clear_occurred_at(); },
                "care_event_recorded.occurred_at: required"},
        Spoiled{"CareEventNoId", CareEvent, [](auto& e) { e.mutable_care_event_recorded()->clear_care_event_id(); },
                "care_event_recorded.care_event_id: required"},
        Spoiled{"ClusterChanged99", ClusterChanged, [](auto& e) { e.mutable_cluster_changed()->set_cluster(99); },
                "cluster_changed.cluster: 99"},
        Spoiled{"ClusterChangedPrevious", ClusterChanged,
                [](auto& e) { e.mutable_cluster_changed()->set_previous_cluster(-3); },
                "cluster_changed.previous_cluster: -3"},
        Spoiled{"ClusterChangedNoTime", ClusterChanged,
                [](auto& e) { e.mutable_cluster_changed()->mutable_effective_at()->set_nanos(1000000000); },
                "cluster_changed.effective_at: nanos"},
        Spoiled{"ReviewDueCluster", ReviewDue, [](auto& e) { e.mutable_review_due()->set_cluster(22); },
                "review_due.cluster: 22"},
        Spoiled{"ReviewDueYear", ReviewDue, [](auto& e) { e.mutable_review_due()->mutable_due_date()->set_year(109626219); },
                "review_due.due_date: year 109626219"},
        Spoiled{"ReviewDueNoDate", ReviewDue, [](auto& e) { e.mutable_review_due()->mutable_window_opens()->set_day(31); },
                "review_due.window_opens: 2027-2-31 is not a calendar date"},
        Spoiled{"ReviewDueState", ReviewDue, [](auto& e) { e.mutable_review_due()->set_state(pbr::v1::REVIEW_STATE_UNSPECIFIED); },
                "review_due.state"},
        Spoiled{"OutcomeCluster", Outcome, [](auto& e) { e.mutable_outcome_recorded()->set_cluster(99); },
                "outcome_recorded.cluster: 99"},
        Spoiled{"OutcomeTotal", Outcome, [](auto& e) { e.mutable_outcome_recorded()->set_honos_total(49); },
                "outcome_recorded.honos_total: 49 is not 0-48"},
        Spoiled{"OutcomeMissing", Outcome, [](auto& e) { e.mutable_outcome_recorded()->set_missing_items(13); },
                "outcome_recorded.missing_items: 13"},
        Spoiled{"OutcomeAssessedAt", Outcome,
                [](auto& e) { e.mutable_outcome_recorded()->mutable_assessed_at()->set_seconds(kTwoTo62); },
                "outcome_recorded.assessed_at: is after 2199"},
        Spoiled{"OutcomeMeasuresForAnother", Outcome,
                [](auto& e) { e.mutable_outcome_recorded()->mutable_measures()->set_assessment_id("other"); },
                "outcome_recorded.measures.assessment_id: is not the outcome's assessment_id"},
        Spoiled{"OutcomeMeasuresItems", Outcome,
                [](auto& e) {
                  auto* m = e.mutable_outcome_recorded()->mutable_measures();
                  m->set_assessment_id(e.outcome_recorded().assessment_id());
                  for (int i = 0; i < 13; ++i) m->add_items();
                },
                "outcome_recorded.measures.items: more than 12 entries (13)"},
        Spoiled{"OutcomeEpisodeWithoutReferral", Outcome,
                [](auto& e) { e.mutable_outcome_recorded()->mutable_episode()->set_team_id("T1"); },
                "outcome_recorded.episode.referral_id: required"}),
    [](const auto& info) { return info.param.name; });

auto R = [](EventEnvelope& e) { return e.mutable_review_due(); };
auto T = [](EventEnvelope& e) { return e.mutable_review_due()->mutable_trigger(); };
auto C = [](EventEnvelope& e) { return e.mutable_review_completed(); };

INSTANTIATE_TEST_SUITE_P(
    ReviewDueTrigger, EventRulesRefuse,
    ::testing::Values(
        Spoiled{"RetractedWithoutTrigger", ReviewDue, [](auto& e) { R(e)->set_retracted(true); },
                "review_due.retracted: only a trigger's announcement is retracted"},
        Spoiled{"LongServiceArea", ReviewDue, [](auto& e) { R(e)->set_service_area(std::string(65, 's')); },
                "review_due.service_area: longer than 64"},
        Spoiled{"ServiceAreaControl", TriggerMissed, [](auto& e) { R(e)->set_service_area("north\tsouth"); },
                "review_due.service_area: contains a control"},
        Spoiled{"NoBasisWithoutTrigger", ReviewDue, [](auto& e) { R(e)->clear_basis_assessment_id(); },
                "review_due.basis_assessment_id: required"},
        Spoiled{"NoTeam", AdmissionMissed, [](auto& e) { R(e)->clear_team_id(); }, "review_due.team_id: required"},
        Spoiled{"TriggerDue", TriggerMissed, [](auto& e) { R(e)->set_state(pbr::v1::REVIEW_STATE_DUE); },
                "review_due.state: must be overdue on a trigger's announcement"},
        Spoiled{"NoKind", TriggerMissed, [](auto& e) { T(e)->clear_kind(); }, "review_due.trigger.kind: 0 is not a trigger"},
        Spoiled{"UnknownKind", TriggerMissed, [](auto& e) { T(e)->set_kind(static_cast<pbr::v1::ReviewTriggerKind>(42)); },
                "review_due.trigger.kind: 42 is not a trigger"},
        Spoiled{"NoCareEvent", TriggerMissed, [](auto& e) { T(e)->clear_care_event_id(); },
                "review_due.trigger.care_event_id: required"},
        Spoiled{"CareEventControl", TriggerMissed, [](auto& e) { T(e)->set_care_event_id("ce\n1"); },
                "review_due.trigger.care_event_id: contains a control"},
        Spoiled{"NoOccurredAt", TriggerMissed, [](auto& e) { T(e)->clear_occurred_at(); },
                "review_due.trigger.occurred_at: required"},
        Spoiled{"NoWindowOpens", AdmissionMissed, [](auto& e) { T(e)->clear_window_opens(); },
                "review_due.trigger.window_opens: required"},
        Spoiled{"DeadlineNanos", TriggerMissed, [](auto& e) { T(e)->mutable_deadline()->set_nanos(-1); },
                "review_due.trigger.deadline: nanos -1"},
        Spoiled{"DeadlineFarFuture", TriggerMissed, [](auto& e) { T(e)->mutable_deadline()->set_seconds(kTwoTo62); },
                "review_due.trigger.deadline: is after 2199"},
        Spoiled{"WindowAfterDeadline", TriggerMissed,
                [](auto& e) { *T(e)->mutable_window_opens() = platform::ToProto(Day(2026, 3, 4) + absl::Nanoseconds(1)); },
                "review_due.trigger.window_opens: is after the deadline"},
        Spoiled{"PendingAnnounced", TriggerMissed, [](auto& e) { T(e)->set_outcome(pbr::v1::TRIGGER_OUTCOME_PENDING); },
                "review_due.trigger.outcome: must be missed"},
        Spoiled{"MetNotRetracted", TriggerMissed, [](auto& e) { T(e)->set_outcome(pbr::v1::TRIGGER_OUTCOME_MET); },
                "review_due.trigger.outcome: must be missed"},
        Spoiled{"RetractedUnspecified", TriggerMissed,
                [](auto& e) {
                  R(e)->set_retracted(true);
                  T(e)->clear_outcome();
                },
                "review_due.trigger.outcome: must be met, withdrawn or pending"},
        Spoiled{"LongTriggerTeam", TriggerMissed, [](auto& e) { T(e)->set_team_id(std::string(129, 't')); },
                "review_due.trigger.team_id: longer than 128"},
        Spoiled{"TriggerBasisDateStillChecked", TriggerMissed, [](auto& e) { R(e)->mutable_due_date()->set_month(13); },
                "review_due.due_date: 2027-13-2 is not a calendar date"},
        Spoiled{"TriggerWithBasisNeedsItsDates", TriggerMissed, [](auto& e) { R(e)->clear_window_opens(); },
                "review_due.window_opens: required"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    ReviewCompleted, EventRulesRefuse,
    ::testing::Values(
        Spoiled{"NoAssessment", ReviewCompleted, [](auto& e) { C(e)->clear_assessment_id(); },
                "review_completed.assessment_id: required"},
        Spoiled{"NoReviewed", ReviewCompleted, [](auto& e) { C(e)->clear_reviewed_assessment_id(); },
                "review_completed.reviewed_assessment_id: required"},
        Spoiled{"ReviewedControl", ReviewCompleted, [](auto& e) { C(e)->set_reviewed_assessment_id("a\x01"); },
                "review_completed.reviewed_assessment_id: contains a control"},
        Spoiled{"NoTeam", ReviewCompleted, [](auto& e) { C(e)->clear_team_id(); }, "review_completed.team_id: required"},
        Spoiled{"NegativeRevision", ReviewCompleted, [](auto& e) { C(e)->set_revision(-1); },
                "review_completed.revision: -1 is negative"},
        Spoiled{"Cluster99", ReviewCompleted, [](auto& e) { C(e)->set_cluster(99); },
                "review_completed.cluster: 99 is not a care cluster"},
        Spoiled{"ReviewedBlankCluster", ReviewCompleted, [](auto& e) { C(e)->set_reviewed_cluster(9); },
                "review_completed.reviewed_cluster: 9 is the blank cluster"},
        Spoiled{"NoAssessedAt", ReviewCompleted, [](auto& e) { C(e)->clear_assessed_at(); },
                "review_completed.assessed_at: required"},
        Spoiled{"AssessedAtNanos", ReviewCompleted, [](auto& e) { C(e)->mutable_assessed_at()->set_nanos(1000000000); },
                "review_completed.assessed_at: nanos 1000000000"},
        Spoiled{"NoReviewedDate", ReviewCompleted, [](auto& e) { C(e)->clear_reviewed_mhct_date(); },
                "review_completed.reviewed_mhct_date: required"},
        Spoiled{"NoWindowOpens", ReviewCompleted, [](auto& e) { C(e)->clear_window_opens(); },
                "review_completed.window_opens: required"},
        Spoiled{"NoDueDate", ReviewCompleted, [](auto& e) { C(e)->clear_due_date(); },
                "review_completed.due_date: required"},
        Spoiled{"DueDateNotADate", ReviewCompleted, [](auto& e) { C(e)->mutable_due_date()->set_day(32); },
                "review_completed.due_date: 2027-3-32 is not a calendar date"},
        Spoiled{"DueDateYear", ReviewCompleted, [](auto& e) { C(e)->mutable_due_date()->set_year(1999); },
                "review_completed.due_date: year 1999 is not 2000-2199"},
        Spoiled{"UnknownKind", ReviewCompleted, [](auto& e) { C(e)->set_kind(static_cast<pbr::v1::ReviewKind>(9)); },
                "review_completed.kind: 9 is not a review kind"},
        Spoiled{"NegativeEarly", ReviewCompleted, [](auto& e) { C(e)->set_days_early(-1); },
                "review_completed.days_early: -1 is negative"},
        Spoiled{"NegativeLate", ReviewCompleted,
                [](auto& e) {
                  C(e)->set_on_time(false);
                  C(e)->set_days_early(0);
                  C(e)->set_days_late(-2);
                },
                "review_completed.days_late: -2 is negative"},
        Spoiled{"EarlyAndLate", ReviewCompleted,
                [](auto& e) {
                  C(e)->set_on_time(false);
                  C(e)->set_days_late(2);
                },
                "review_completed.days_late: 2 with days_early 5: a review is early or late"},
        Spoiled{"OnTimeButLate", ReviewCompleted,
                [](auto& e) {
                  C(e)->set_days_early(0);
                  C(e)->set_days_late(2);
                },
                "review_completed.on_time: set with days_late 2"},
        Spoiled{"LateButNoDays", ReviewCompleted,
                [](auto& e) {
                  C(e)->set_on_time(false);
                  C(e)->set_days_early(0);
                },
                "review_completed.on_time: not set with days_late 0"},
        Spoiled{"LongRuleVersion", ReviewCompleted, [](auto& e) { C(e)->set_rule_version(std::string(129, 'v')); },
                "review_completed.rule_version: longer than 128"}),
    [](const auto& info) { return info.param.name; });

TEST(EventRules, EveryReviewCompletedProblemIsReportedAtOnce) {
  auto e = ReviewCompleted();
  auto* c = e.mutable_review_completed();
  c->clear_team_id();
  c->set_cluster(99);
  c->set_days_early(-1);
  const absl::Status st = Validate(e);
  EXPECT_THAT(st.message(), HasSubstr("review_completed.team_id: required"));
  EXPECT_THAT(st.message(), HasSubstr("review_completed.cluster: 99"));
  EXPECT_THAT(st.message(), HasSubstr("review_completed.days_early: -1 is negative"));
}

EventEnvelope AuditEntry() {
  auto e = Envelope(topic::kAuditRecorded);
  auto* a = e.mutable_audit_recorded();
  a->set_audit_id("audit-1");
  a->set_call("/pbr.v1.Allocation/GetPerson");
  a->set_caller_subject("CN=dr jones,O=North Trust");
  a->set_caller_role("clinician");
  a->set_peer("ipv4:127.0.0.1:50422");
  *a->mutable_at() = platform::ToProto(Day(2026, 3, 3));
  a->set_person_id(e.person_id());
  a->set_looked_up_by("nhs_number");
  a->set_outcome("NOT_FOUND");
  return e;
}

// An audit entry is bounded like every event, and names the person its envelope is keyed by.
TEST(EventRules, AnAuditEntryIsBoundedAndKeyedByItsPerson) {
  EXPECT_TRUE(Validate(AuditEntry()).ok()) << Validate(AuditEntry());
  auto e = AuditEntry();
  auto* a = e.mutable_audit_recorded();
  a->set_caller_subject(std::string(limits::kCallerSubjectBytes + 1, 's'));
  a->set_peer(std::string(limits::kPeerBytes + 1, 'p'));
  a->set_person_id("someone-else");
  a->clear_call();
  a->clear_at();
  const absl::Status st = Validate(e);
  EXPECT_THAT(st.message(), HasSubstr("audit_recorded.caller_subject: longer than 512"));
  EXPECT_THAT(st.message(), HasSubstr("audit_recorded.peer: longer than 256"));
  EXPECT_THAT(st.message(), HasSubstr("audit_recorded.person_id: differs from the envelope's person_id"));
  EXPECT_THAT(st.message(), HasSubstr("audit_recorded.call: required"));
  EXPECT_THAT(st.message(), HasSubstr("audit_recorded.at: required"));
}

}  // namespace
}  // namespace pbr::services
