#include "allocation_fixture.h"
#include "allocation_service.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "event_rules.h"
#include "grpcpp/server_context.h"
#include "care_bridge.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "testing/process.h"

namespace pbr::allocation {
namespace {

using ::testing::HasSubstr;
using testing::AllocationFixture;
using testing::Day;
using testing::kNhsNumber;
using testing::kSecret;


pbr::v1::RecordAssessmentRequest ValidRequest(std::string record_id = "rec-1") {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("epr-north");
  r.set_source_record_id(std::move(record_id));
  r.set_nhs_number(kNhsNumber);
  r.set_team_id("cmht-east");
  r.set_clinician_id("clin-7");
  *r.mutable_assessed_at() = platform::ToProto(Day(2026, 3, 2));
  for (int i = 0; i < 18; ++i) r.mutable_ratings()->add_items(i == 6 ? 3 : 1);  // item 8 rated 1 needs a type
  r.mutable_ratings()->set_item8_problem_type("B");
  r.set_cluster(4);
  r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  r.set_clinical_rationale("test fixture: the example profiles are not the national grid");
  return r;
}

class AllocationTest : public AllocationFixture {};

TEST_F(AllocationTest, RecordsAssessmentAndPublishesItWithTheClusterStart) {
  auto reply = service_->Record(ValidRequest(), "trace-1");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->person_id(), platform::KeyedHash(kSecret, kNhsNumber));
  EXPECT_FALSE(reply->duplicate());
  EXPECT_TRUE(reply->cluster_changed());
  EXPECT_FALSE(reply->rule_version().empty());

  auto assessed = Pending("assessment-recorded");
  ASSERT_EQ(assessed.size(), 1u);
  EXPECT_EQ(assessed[0].person_id(), reply->person_id());
  EXPECT_EQ(assessed[0].trace_id(), "trace-1");
  EXPECT_EQ(assessed[0].assessment_recorded().cluster(), 4);
  EXPECT_EQ(assessed[0].assessment_recorded().team_id(), "cmht-east");
  EXPECT_EQ(assessed[0].assessment_recorded().ratings().items(6), 3);
  auto changed = Pending("cluster-changed");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_FALSE(changed[0].cluster_changed().has_previous_cluster());
  EXPECT_EQ(changed[0].cluster_changed().cluster(), 4);
}

TEST_F(AllocationTest, TheNhsNumberNeverLeavesAllocation) {
  ASSERT_TRUE(service_->Record(ValidRequest(), "").ok());
  const auto pending = platform::Outbox::ReadPending(*store_);
  ASSERT_TRUE(pending.ok());
  for (const auto& p : *pending) {
    EXPECT_EQ(p.value.find(kNhsNumber), std::string::npos) << p.topic;
    EXPECT_EQ(p.key.find(kNhsNumber), std::string::npos) << p.topic;
  }
}

TEST_F(AllocationTest, ARetryReturnsTheFirstReplyAndPublishesNothingNew) {
  auto first = service_->Record(ValidRequest(), "");
  ASSERT_TRUE(first.ok());
  const size_t pending = platform::Outbox::ReadPending(*store_)->size();
  auto again = service_->Record(ValidRequest(), "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate());
  EXPECT_EQ(again->assessment_id(), first->assessment_id());
  EXPECT_EQ(platform::Outbox::ReadPending(*store_)->size(), pending);
  // Answered identically (suggestions, checks, episode and all), but for the duplicate flag.
  pbr::v1::RecordAssessmentReply expected = *first;
  expected.set_duplicate(true);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*again, expected))
      << again->DebugString() << "\nvs\n" << expected.DebugString();
  EXPECT_GT(first->suggestions_size(), 0);
}

// What a retry needs is stored, not what can be recomputed: no 6 KB written-out reply per record.
TEST_F(AllocationTest, AStoredAssessmentHoldsWhatARetryNeedsNotTheWholeReply) {
  pbr::v1::RecordAssessmentRequest r = ValidRequest();
  ASSERT_TRUE(service_->Record(r, "").ok());
  int records = 0;
  ASSERT_TRUE(store_->Scan(kAssessmentsFamily, "", [&](absl::string_view, absl::string_view v) {
    pbr::state::v1::StoredAssessment stored;
    EXPECT_TRUE(stored.ParseFromArray(v.data(), static_cast<int>(v.size())));
    EXPECT_FALSE(stored.has_reply());
    EXPECT_LT(v.size(), 1500u) << stored.DebugString();
    return ++records, true;
  }).ok());
  EXPECT_EQ(records, 1);
}

TEST_F(AllocationTest, TheSameRecordIdWithOtherContentIsRefused) {
  ASSERT_TRUE(service_->Record(ValidRequest(), "").ok());
  auto changed = ValidRequest();
  changed.set_cluster(5);
  auto reply = service_->Record(changed, "");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(reply.status().message(), HasSubstr("source_record_id: 'rec-1' from 'epr-north'"));
}

TEST_F(AllocationTest, ClusterChangedOnlyWhenTheLatestAssessmentMovesTheCluster) {
  ASSERT_TRUE(service_->Record(ValidRequest("r1"), "").ok());
  auto same = ValidRequest("r2");
  *same.mutable_assessed_at() = platform::ToProto(Day(2026, 6, 1));
  same.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  same.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  same.set_clinical_rationale("test: ratings are not the point here");
  EXPECT_FALSE(service_->Record(same, "")->cluster_changed());

  auto moved = ValidRequest("r3");
  *moved.mutable_assessed_at() = platform::ToProto(Day(2026, 9, 1));
  moved.set_cluster(5);
  moved.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  moved.set_change_class(pbr::v1::CHANGE_CLASS_DETERIORATION);
  moved.set_clinical_rationale("test: ratings are not the point here");
  EXPECT_TRUE(service_->Record(moved, "")->cluster_changed());

  // A late back-fill from before the latest assessment does not move the current cluster.
  auto backfill = ValidRequest("r0");
  *backfill.mutable_assessed_at() = platform::ToProto(Day(2025, 12, 1));
  backfill.set_cluster(8);
  backfill.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  EXPECT_FALSE(service_->Record(backfill, "")->cluster_changed());

  auto changes = Pending("cluster-changed");
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[1].cluster_changed().has_previous_cluster());
  EXPECT_EQ(changes[1].cluster_changed().previous_cluster(), 4);
  EXPECT_EQ(changes[1].cluster_changed().cluster(), 5);
  EXPECT_EQ(Pending("assessment-recorded").size(), 4u);
}

struct BadInput {
  std::string name;
  std::function<void(pbr::v1::RecordAssessmentRequest&)> spoil;
  std::string field;
};

void PrintTo(const BadInput& b, std::ostream* os) { *os << b.name; }

class AllocationRejects : public AllocationTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(AllocationRejects, InvalidInputNamingTheField) {
  auto r = ValidRequest();
  GetParam().spoil(r);
  auto reply = service_->Record(r, "");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr(GetParam().field));
  EXPECT_TRUE(platform::Outbox::ReadPending(*store_)->empty()) << "nothing is published for a refused call";
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, AllocationRejects,
    ::testing::Values(
        BadInput{"RatingAboveFour", [](auto& r) { r.mutable_ratings()->set_items(3, 5); }, "item"},
        BadInput{"NegativeRating", [](auto& r) { r.mutable_ratings()->set_items(17, -1); }, "item"},
        BadInput{"TooFewRatings", [](auto& r) { r.mutable_ratings()->mutable_items()->RemoveLast(); }, "ratings.items"},
        BadInput{"BlankCluster", [](auto& r) { r.set_cluster(9); }, "cluster: 9 is the blank cluster"},
        BadInput{"ClusterOutOfRange", [](auto& r) { r.set_cluster(22); }, "cluster: 22"},
        BadInput{"NegativeCluster", [](auto& r) { r.set_cluster(-1); }, "cluster: -1"},
        BadInput{"MissingCluster", [](auto& r) { r.clear_cluster(); }, "cluster: required"},
        BadInput{"NhsChecksum", [](auto& r) { r.set_nhs_number("9434765918"); }, "nhs_number"},
        BadInput{"NhsLength", [](auto& r) { r.set_nhs_number("943476591"); }, "nhs_number"},
        BadInput{"MissingRecordId", [](auto& r) { r.clear_source_record_id(); }, "source_record_id: required"},
        BadInput{"MissingSourceSystem", [](auto& r) { r.clear_source_system(); }, "source_system: required"},
        BadInput{"MissingTeam", [](auto& r) { r.clear_team_id(); }, "team_id: required"},
        BadInput{"MissingClinician", [](auto& r) { r.clear_clinician_id(); }, "clinician_id: required"},
        BadInput{"MissingDate", [](auto& r) { r.clear_assessed_at(); }, "assessed_at: required"},
        BadInput{"FutureDate", [](auto& r) { *r.mutable_assessed_at() = platform::ToProto(Day(2027, 1, 1)); },
                 "assessed_at: is in the future"},
        BadInput{"MissingReason", [](auto& r) { r.clear_reason(); }, "reason: required"},
        BadInput{"Item8WithoutType", [](auto& r) { r.mutable_ratings()->clear_item8_problem_type(); }, "item"}),
    [](const auto& info) { return info.param.name; });


// ---- rule checks, rationale, back-dating ----

class AllocationRulesTest : public AllocationTest {
 protected:
  // Clusters whose red rules these ratings meet, and one whose red rules they break.
  void Classify(const pbr::v1::RecordAssessmentRequest& r, int* fitting, int* breaking) {
    auto ratings = services::RatingsFromProto(r.ratings());
    ASSERT_TRUE(ratings.ok());
    auto s = rules_->SuggestClusters(*ratings);
    ASSERT_TRUE(s.ok());
    ASSERT_FALSE(s->ranked.empty());
    ASSERT_FALSE(s->excluded.empty()) << "the example profiles should exclude some cluster for these ratings";
    // The best fit the initial tool may offer: in the team's service area, never a cluster unused
    // in secondary care (1-3).
    const care::ServiceArea* area = rules_->service_areas().Find(rules_->teams().Find(r.team_id())->service_area);
    *fitting = -1;
    for (const auto& c : s->ranked) {
      if (rules_->FindCluster(c.cluster)->used_in_secondary_care &&
          (area->allowed.count(c.cluster) || area->rarely.count(c.cluster))) {
        *fitting = c.cluster;
        break;
      }
    }
    *breaking = s->excluded.front().cluster;
  }
};

TEST_F(AllocationRulesTest, ARedRuleBreachNeedsARationaleAndIsRecordedWithIt) {
  auto r = ValidRequest("red");
  r.clear_clinical_rationale();
  int fitting = 0, breaking = 0;
  Classify(r, &fitting, &breaking);
  r.set_cluster(breaking);
  auto refused = service_->Record(r, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("clinical_rationale: required"));
  EXPECT_THAT(refused.status().message(), HasSubstr("red rules"));
  EXPECT_TRUE(platform::Outbox::ReadPending(*store_)->empty());

  r.set_clinical_rationale("known history of psychosis; ratings reflect a good fortnight");
  auto accepted = service_->Record(r, "");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ASSERT_FALSE(accepted->checks().empty());
  EXPECT_EQ(accepted->checks(0).rule(), "red-rules");
  EXPECT_FALSE(accepted->checks(0).passed());
  auto published = Pending("assessment-recorded");
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].assessment_recorded().clinical_rationale(), r.clinical_rationale());
  EXPECT_FALSE(published[0].assessment_recorded().checks(0).passed()) << "a breach is published, not hidden";
  EXPECT_FALSE(accepted->suggestions().empty());
  EXPECT_EQ(accepted->suggestions(0).cluster(), fitting);
}

TEST_F(AllocationRulesTest, AServiceAreaMismatchIsRefusedNamingTheAllowedClusters) {
  auto r = ValidRequest("area");
  r.set_team_id("memory-west");
  r.set_service_area("memory_dementia");
  r.set_cluster(11);
  r.clear_clinical_rationale();
  auto refused = service_->Record(r, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("service_area: cluster 11 is not held by 'memory_dementia' (allowed: 18, 19, 20, 21)"));
  r.set_service_area("no-such-area");
  EXPECT_THAT(service_->Record(r, "").status().message(), HasSubstr("service_area: 'no-such-area' is not a service area"));
}

TEST_F(AllocationRulesTest, ClusterElevenIsNotUsedAtAFirstPresentation) {
  auto r = ValidRequest("first");
  r.set_team_id("eip-central");  // a psychosis team: the area holds 11, the first presentation does not
  r.set_cluster(11);
  r.clear_clinical_rationale();
  auto refused = service_->Record(r, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("clinical_rationale: required"));
  EXPECT_THAT(refused.status().message(), HasSubstr("11"));
  r.set_clinical_rationale("known to another trust's psychosis service for years");
  auto accepted = service_->Record(r, "");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  bool recorded = false;
  for (const auto& c : accepted->checks()) recorded |= c.rule() == "cluster-restriction" && !c.passed();
  EXPECT_TRUE(recorded);
}

TEST_F(AllocationRulesTest, InpatientInitialAllocationIsBackDatedToAdmission) {
  auto r = ValidRequest("ward");
  *r.mutable_admitted_at() = platform::ToProto(Day(2026, 2, 20));
  auto reply = service_->Record(r, "");
  ASSERT_TRUE(reply.ok()) << reply.status();
  pbr::v1::ListRequest list;
  list.set_person_id(reply->person_id());
  auto episodes = service_->ListEpisodes(list);
  ASSERT_TRUE(episodes.ok());
  ASSERT_EQ(episodes->episodes_size(), 1);
  EXPECT_EQ(platform::FromProto(episodes->episodes(0).started_at()), Day(2026, 2, 20));
  EXPECT_EQ(platform::FromProto(Pending("cluster-changed")[0].cluster_changed().effective_at()), Day(2026, 2, 20));
  const auto events = Pending("assessment-recorded");
  const auto& published = events.at(0).assessment_recorded();
  EXPECT_EQ(platform::FromProto(published.admitted_at()), Day(2026, 2, 20));
  EXPECT_EQ(platform::FromProto(published.effective_at()), Day(2026, 2, 20));
  EXPECT_EQ(platform::FromProto(published.assessed_at()), Day(2026, 3, 2)) << "the review clock keeps the MHCT date";
}

TEST_F(AllocationRulesTest, AReviewOutsideTheTransitionProtocolNeedsARationale) {
  auto first = ValidRequest("t1");
  first.set_team_id("eip-central");
  first.set_cluster(11);
  ASSERT_TRUE(service_->Record(first, "").ok());
  // A CRHT referral in the last 12 months: a person on 11 must step up, not stay.
  pbr::v1::RecordCareEventRequest crisis;
  crisis.set_source_system("epr-north");
  crisis.set_source_record_id("ce-1");
  crisis.set_nhs_number(kNhsNumber);
  crisis.set_team_id("crht-east");
  crisis.set_type(pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT);
  *crisis.mutable_occurred_at() = platform::ToProto(Day(2026, 5, 1));
  ASSERT_TRUE(service_->RecordCareEvent(crisis, "").ok());

  auto review = ValidRequest("t2");
  review.set_team_id("eip-central");
  review.set_cluster(11);
  review.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  review.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  *review.mutable_assessed_at() = platform::ToProto(Day(2026, 8, 1));
  review.clear_clinical_rationale();
  auto refused = service_->Record(review, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("clinical_rationale: required"));
}

// ---- identity across EPRs ----

TEST_F(AllocationTest, OneNhsNumberFromTwoEprsIsOnePersonAndLocalIdsMustNotConflict) {
  auto a = ValidRequest("a-1");
  a.set_local_patient_id("RIO123");
  auto b = ValidRequest("b-1");
  b.set_source_system("epr-south");
  b.set_local_patient_id("S-9");
  *b.mutable_assessed_at() = platform::ToProto(Day(2026, 4, 1));
  b.set_reason(pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW);
  b.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  auto ra = service_->Record(a, "");
  auto rb = service_->Record(b, "");
  ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status() << rb.status();
  EXPECT_EQ(ra->person_id(), rb->person_id());
  pbr::v1::GetPersonRequest get;
  get.set_nhs_number(kNhsNumber);
  auto person = service_->GetPerson(get);
  ASSERT_TRUE(person.ok());
  EXPECT_EQ(person->local_ids_size(), 2);
  EXPECT_EQ(person->assessments(), 2);

  // Another NHS number claiming RIO123 in epr-north is refused, and so is a second id for this one.
  auto other = ValidRequest("a-2");
  other.set_nhs_number("4010232137");
  other.set_local_patient_id("RIO123");
  auto refused = service_->Record(other, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("already belongs to another NHS number"));
  auto second_id = ValidRequest("a-3");
  second_id.set_local_patient_id("RIO999");
  EXPECT_THAT(service_->Record(second_id, "").status().message(), HasSubstr("is already 'RIO123' in 'epr-north'"));
}

// ---- corrections ----

TEST_F(AllocationTest, AnAmendmentReplacesTheAssessmentAndAWithdrawalFallsBack) {
  ASSERT_TRUE(service_->Record(ValidRequest("r1"), "").ok());
  auto review = ValidRequest("r2");
  *review.mutable_assessed_at() = platform::ToProto(Day(2026, 6, 1));
  review.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  review.set_change_class(pbr::v1::CHANGE_CLASS_DETERIORATION);
  review.set_cluster(5);
  ASSERT_TRUE(service_->Record(review, "")->cluster_changed());

  // The EPR corrects the review: it was cluster 6.
  review.set_cluster(6);
  EXPECT_EQ(service_->Record(review, "").status().code(), absl::StatusCode::kAlreadyExists)
      << "a changed record must be sent as an amendment";
  auto amended = service_->Amend(review, "");
  ASSERT_TRUE(amended.ok()) << amended.status();
  EXPECT_EQ(amended->revision(), 1);
  EXPECT_TRUE(amended->cluster_changed());
  EXPECT_TRUE(service_->Amend(review, "")->duplicate()) << "a retried amendment is answered from the first";

  auto withdrawn = service_->Withdraw([] {
    pbr::v1::WithdrawAssessmentRequest w;
    w.set_source_system("epr-north");
    w.set_source_record_id("r2");
    w.set_reason("entered against the wrong patient");
    return w;
  }(), "");
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_EQ(withdrawn->revision(), 2);
  EXPECT_TRUE(withdrawn->cluster_changed());

  auto events = Pending("assessment-recorded");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].assessment_recorded().revision(), 1);
  EXPECT_EQ(events[2].assessment_recorded().cluster(), 6);
  EXPECT_TRUE(events[3].assessment_recorded().withdrawn());
  EXPECT_EQ(events[3].assessment_recorded().assessment_id(), events[1].assessment_recorded().assessment_id());
  auto changes = Pending("cluster-changed");
  ASSERT_EQ(changes.size(), 4u);  // start on 4, to 5, corrected to 6, back to 4
  EXPECT_EQ(changes[3].cluster_changed().cluster(), 4);
  EXPECT_EQ(changes[3].cluster_changed().previous_cluster(), 6);

  pbr::v1::GetPersonRequest get;
  get.set_nhs_number(kNhsNumber);
  EXPECT_EQ(service_->GetPerson(get)->cluster(), 4);
  EXPECT_EQ(service_->GetPerson(get)->assessments(), 1);
  EXPECT_EQ(service_->Amend(review, "").status().code(), absl::StatusCode::kFailedPrecondition);
  auto unknown = ValidRequest("never-sent");
  EXPECT_EQ(service_->Amend(unknown, "").status().code(), absl::StatusCode::kNotFound);
}

// The care co-ordinator the EPR names travels on the event, is replaced by an amendment like every other
// field (left out, none is named any more), and stays on the withdrawal's content.
TEST_F(AllocationTest, TheCareCoordinatorTravelsOnTheEventThroughAmendmentsAndTheWithdrawal) {
  auto r = ValidRequest("r1");
  r.set_care_coordinator_id("cc-ann");
  ASSERT_TRUE(service_->Record(r, "").ok());
  auto retry = r;
  retry.set_care_coordinator_id("cc-bob");
  EXPECT_EQ(service_->Record(retry, "").status().code(), absl::StatusCode::kAlreadyExists)
      << "another care co-ordinator is other content, not a retry";
  ASSERT_TRUE(service_->Amend(retry, "").ok());
  auto without = retry;
  without.clear_care_coordinator_id();
  ASSERT_TRUE(service_->Amend(without, "").ok());
  auto again = without;
  again.set_care_coordinator_id("cc-cat");
  ASSERT_TRUE(service_->Amend(again, "").ok());
  pbr::v1::WithdrawAssessmentRequest w;
  w.set_source_system("epr-north");
  w.set_source_record_id("r1");
  ASSERT_TRUE(service_->Withdraw(w, "").ok());

  const auto events = Pending("assessment-recorded");
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].assessment_recorded().care_coordinator_id(), "cc-ann");
  EXPECT_EQ(events[0].assessment_recorded().clinician_id(), "clin-7");
  EXPECT_EQ(events[1].assessment_recorded().care_coordinator_id(), "cc-bob");
  EXPECT_EQ(events[2].assessment_recorded().care_coordinator_id(), "");
  EXPECT_EQ(events[3].assessment_recorded().care_coordinator_id(), "cc-cat");
  EXPECT_TRUE(events[4].assessment_recorded().withdrawn());
  EXPECT_EQ(events[4].assessment_recorded().care_coordinator_id(), "cc-cat");
}

// ---- care events ----

TEST_F(AllocationTest, CareEventsArePublishedOnceAndValidated) {
  pbr::v1::RecordCareEventRequest e;
  e.set_source_system("epr-north");
  e.set_source_record_id("ce-9");
  e.set_nhs_number(kNhsNumber);
  e.set_team_id("crht-east");
  e.set_type(pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT);
  e.set_out_of_hours(true);
  *e.mutable_occurred_at() = platform::ToProto(Day(2026, 10, 1));
  auto first = service_->RecordCareEvent(e, "");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(service_->RecordCareEvent(e, "")->duplicate());
  auto published = Pending("care-event-recorded");
  ASSERT_EQ(published.size(), 1u);
  EXPECT_TRUE(published[0].care_event_recorded().out_of_hours());
  EXPECT_EQ(published[0].person_id(), platform::KeyedHash(kSecret, kNhsNumber));

  e.set_type(pbr::v1::CARE_EVENT_ADMISSION);
  e.set_out_of_hours(false);
  EXPECT_EQ(service_->RecordCareEvent(e, "").status().code(), absl::StatusCode::kAlreadyExists);
  e.set_source_record_id("ce-10");
  e.set_out_of_hours(true);
  auto bad = service_->RecordCareEvent(e, "");
  EXPECT_THAT(bad.status().message(), HasSubstr("out_of_hours: applies to referrals only"));
  e.clear_type();
  EXPECT_THAT(service_->RecordCareEvent(e, "").status().message(), HasSubstr("type: required"));
}

// ---- suggestions and history queries ----

TEST_F(AllocationTest, SuggestionsRankNeverNineAndRespectTheServiceArea) {
  pbr::v1::SuggestClustersRequest q;
  *q.mutable_ratings() = ValidRequest().ratings();
  auto all = service_->Suggest(q);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->example_profiles());
  for (const auto& s : all->suggestions()) EXPECT_NE(s.cluster(), 9);
  q.set_service_area("memory_dementia");
  auto memory = service_->Suggest(q);
  ASSERT_TRUE(memory.ok());
  for (const auto& s : memory->suggestions()) EXPECT_GE(s.cluster(), 18);
  EXPECT_TRUE(platform::Outbox::ReadPending(*store_)->empty()) << "suggestions store nothing";
}

TEST_F(AllocationTest, HistoryIsNewestFirstAndPaged) {
  std::string person;
  for (int m = 1; m <= 5; ++m) {
    auto r = ValidRequest(absl::StrCat("h", m));
    *r.mutable_assessed_at() = platform::ToProto(Day(2026, m, 10));
    if (m > 1) {
      r.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
      r.set_change_class(pbr::v1::CHANGE_CLASS_DETERIORATION);
    }
    r.set_cluster(m % 2 == 0 ? 5 : 4);
    auto reply = service_->Record(r, "");
    ASSERT_TRUE(reply.ok()) << reply.status();
    person = reply->person_id();
  }
  pbr::v1::ListRequest list;
  list.set_person_id(person);
  list.set_page_size(2);
  auto page1 = service_->ListAssessments(list);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->assessments_size(), 2);
  EXPECT_EQ(page1->assessments(0).source_record_id(), "h5");
  list.set_page_token(page1->next_page_token());
  auto page2 = service_->ListAssessments(list);
  EXPECT_EQ(page2->assessments(0).source_record_id(), "h3");
  list.set_page_token("nonsense");
  EXPECT_EQ(service_->ListAssessments(list).status().code(), absl::StatusCode::kInvalidArgument);
  list.clear_page_token();
  list.set_page_size(0);
  auto episodes = service_->ListEpisodes(list);
  ASSERT_TRUE(episodes.ok());
  EXPECT_EQ(episodes->episodes_size(), 5);  // 4, 5, 4, 5, 4
  EXPECT_FALSE(episodes->episodes(0).has_ended_at()) << "the newest is current";
  EXPECT_TRUE(episodes->episodes(1).has_ended_at());
}

}  // namespace
}  // namespace pbr::allocation

namespace pbr::allocation {
namespace {

// Re-publishing a journal that began after the first assessments would rebuild consumers from
// part of the history: such a store is recognised, and remembered, on its first start.
TEST_F(AllocationTest, AJournalCoversTheHistoryOnlyWhenItBeganWithTheStore) {
  auto fresh = JournalCoversHistory(*store_);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(*fresh);
  ASSERT_TRUE(service_->Record(ValidRequest(), "").ok());
  EXPECT_TRUE(*JournalCoversHistory(*store_)) << "decided once, on the first start";

  pbr::testing::TempDir older;
  auto store = platform::Store::Open(older.path(), AllocationFamilies());
  ASSERT_TRUE(store.ok());
  auto outbox = platform::Outbox::Open(**store, platform::KafkaSettings{}, nullptr);
  ASSERT_TRUE(outbox.ok());
  AllocationService earlier(**store, **outbox, clock_, rules_, kSecret);  // an earlier version: no journal
  ASSERT_TRUE(earlier.Record(ValidRequest(), "").ok());
  auto partial = JournalCoversHistory(**store);
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(*partial);
  EXPECT_FALSE(*JournalCoversHistory(**store));
}

// ---- Referral periods, discharge and the SOP's allocation rules (issue 8) ----

class CareRecordTest : public AllocationTest {
 protected:
  pbr::v1::RecordCareEventRequest CareEvent(std::string id, pbr::v1::CareEventType type, absl::Time at) {
    pbr::v1::RecordCareEventRequest e;
    e.set_source_system("epr-north");
    e.set_source_record_id(std::move(id));
    e.set_nhs_number(kNhsNumber);
    e.set_team_id("cmht-east");
    e.set_type(type);
    *e.mutable_occurred_at() = platform::ToProto(at);
    return e;
  }
  pbr::v1::RecordAssessmentRequest Review(std::string id, absl::Time at, int cluster,
                                          pbr::v1::ChangeClass change = pbr::v1::CHANGE_CLASS_NO_CHANGE) {
    auto r = ValidRequest(std::move(id));
    *r.mutable_assessed_at() = platform::ToProto(at);
    r.set_cluster(cluster);
    r.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
    r.set_change_class(change);
    return r;
  }
  pbr::v1::Person Person() {
    pbr::v1::GetPersonRequest q;
    q.set_nhs_number(kNhsNumber);
    auto p = service_->GetPerson(q);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : pbr::v1::Person();
  }
  std::string PersonId() const { return platform::KeyedHash(kSecret, kNhsNumber); }
};

TEST_F(CareRecordTest, ADischargeEndsTheEpisodeAndAnnouncesIt) {
  ASSERT_TRUE(service_->Record(ValidRequest("init"), "").ok());
  auto discharged = service_->RecordCareEvent(
      CareEvent("dis", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Day(2026, 6, 1)), "");
  ASSERT_TRUE(discharged.ok()) << discharged.status();
  EXPECT_TRUE(discharged->cluster_changed());
  EXPECT_FALSE(discharged->referral_id().empty());

  const pbr::v1::Person p = Person();
  EXPECT_FALSE(p.referral_open());
  EXPECT_FALSE(p.has_cluster());
  EXPECT_EQ(platform::FromProto(p.discharged_at()), Day(2026, 6, 1));
  auto changed = Pending("cluster-changed");
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_TRUE(changed[1].cluster_changed().ended());
  EXPECT_EQ(changed[1].cluster_changed().cluster(), 4);
  EXPECT_EQ(platform::FromProto(changed[1].cluster_changed().effective_at()), Day(2026, 6, 1));
  auto published = Pending("care-event-recorded");
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].care_event_recorded().referral_id(), discharged->referral_id());

  pbr::v1::ListRequest list;
  list.set_person_id(PersonId());
  auto episodes = service_->ListEpisodes(list);
  ASSERT_TRUE(episodes.ok());
  ASSERT_EQ(episodes->episodes_size(), 1);
  EXPECT_TRUE(episodes->episodes(0).ended_by_discharge());
  EXPECT_EQ(platform::FromProto(episodes->episodes(0).ended_at()), Day(2026, 6, 1));
}

TEST_F(CareRecordTest, AWithdrawnDischargeReopensTheReferralAndTheEpisode) {
  ASSERT_TRUE(service_->Record(ValidRequest("init"), "").ok());
  ASSERT_TRUE(
      service_->RecordCareEvent(CareEvent("dis", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Day(2026, 6, 1)), "").ok());
  ASSERT_FALSE(Person().referral_open());
  pbr::v1::WithdrawCareEventRequest w;
  w.set_source_system("epr-north");
  w.set_source_record_id("dis");
  w.set_reason("recorded against the wrong patient");
  auto withdrawn = service_->WithdrawCareEvent(w, "");
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_EQ(withdrawn->revision(), 1);
  EXPECT_TRUE(withdrawn->cluster_changed());
  EXPECT_TRUE(Person().referral_open());
  EXPECT_TRUE(Person().has_cluster());
  EXPECT_EQ(Person().cluster(), 4);
  auto published = Pending("care-event-recorded");
  ASSERT_EQ(published.size(), 2u);
  EXPECT_TRUE(published[1].care_event_recorded().withdrawn());
  EXPECT_EQ(published[1].care_event_recorded().revision(), 1);
  EXPECT_NE(published[1].event_id(), published[0].event_id());
  auto again = service_->WithdrawCareEvent(w, "");  // a retry: already done, nothing new
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->revision(), 1);
  EXPECT_EQ(Pending("care-event-recorded").size(), 2u);
  w.set_source_record_id("no-such-event");
  EXPECT_EQ(service_->WithdrawCareEvent(w, "").status().code(), absl::StatusCode::kNotFound);
  // Now a review is welcome again: the person was never really discharged.
  ASSERT_TRUE(service_->Record(Review("review", Day(2026, 7, 1), 4), "").ok());
}

TEST_F(CareRecordTest, AReviewAfterADischargeIsRefusedAndAnInitialAssessmentOpensANewReferral) {
  auto first = service_->Record(ValidRequest("init"), "");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(
      service_->RecordCareEvent(CareEvent("dis", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Day(2026, 6, 1)), "").ok());
  auto review = service_->Record(Review("late-review", Day(2026, 7, 1), 4), "");
  EXPECT_EQ(review.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(review.status().message(), HasSubstr("discharged from service on 2026-06-01"));

  auto again = ValidRequest("re-referred");
  *again.mutable_assessed_at() = platform::ToProto(Day(2026, 8, 1));
  auto second = service_->Record(again, "");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->referral_id(), first->referral_id());
  EXPECT_NE(second->episode_id(), first->episode_id());
  EXPECT_TRUE(second->cluster_changed());
  EXPECT_TRUE(Person().referral_open());
  EXPECT_TRUE(Person().has_cluster());

  pbr::v1::ListRequest list;
  list.set_person_id(PersonId());
  auto referrals = service_->ListReferrals(list);
  ASSERT_TRUE(referrals.ok());
  ASSERT_EQ(referrals->referrals_size(), 2);
  EXPECT_FALSE(referrals->referrals(0).has_closed_at());  // newest first
  EXPECT_TRUE(referrals->referrals(1).has_closed_at());
}

TEST_F(CareRecordTest, AReferralOpensAPeriodThatTheInitialAssessmentJoins) {
  auto referred = service_->RecordCareEvent(
      CareEvent("ref", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, Day(2026, 2, 20)), "");
  ASSERT_TRUE(referred.ok()) << referred.status();
  EXPECT_FALSE(referred->referral_id().empty());
  EXPECT_TRUE(Person().referral_open());
  EXPECT_FALSE(Person().has_cluster());
  auto initial = service_->Record(ValidRequest("init"), "");
  ASSERT_TRUE(initial.ok()) << initial.status();
  EXPECT_EQ(initial->referral_id(), referred->referral_id());
}

TEST_F(CareRecordTest, AnInitialAssessmentForAPersonWithAnOpenReferralAndClusterIsATransfer) {
  auto r = ValidRequest("init");
  r.set_cluster(13);
  r.set_service_area("community_psychosis");
  r.set_team_id("eip-north");
  ASSERT_TRUE(service_->Record(r, "").ok());
  auto disguised = ValidRequest("transfer");
  *disguised.mutable_assessed_at() = platform::ToProto(Day(2026, 5, 1));
  disguised.set_cluster(4);
  auto refused = service_->Record(disguised, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("ASSESSMENT_REASON_TRANSFER_REVIEW"));
  EXPECT_THAT(refused.status().message(), HasSubstr("cluster 13"));

  // Recorded as the transfer it is, the move is checked against the transition protocol.
  disguised.set_reason(pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW);
  disguised.set_change_class(pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS);
  disguised.clear_clinical_rationale();
  auto checked = service_->Record(disguised, "");
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(checked.status().message(), HasSubstr("transition protocol"));
}

TEST_F(CareRecordTest, AReviewForAPersonWithNoClusterIsCheckedAsAnInitialAllocationAndSaysSo) {
  auto r = Review("first-seen", Day(2026, 3, 2), 4);
  auto reply = service_->Record(r, "");
  ASSERT_TRUE(reply.ok()) << reply.status();
  std::vector<std::string> rules;
  for (const auto& c : reply->checks()) rules.push_back(c.rule());
  EXPECT_THAT(rules, ::testing::Contains("initial-allocation"));
  EXPECT_THAT(rules, ::testing::Contains("cluster-restriction"));
  EXPECT_THAT(rules, ::testing::Not(::testing::Contains("transition-protocol")));
  EXPECT_FALSE(reply->suggestions().empty()) << "checked as an initial allocation, it gets the initial tool's ranking";
  EXPECT_TRUE(reply->protocol_options().empty());
}

TEST_F(CareRecordTest, AReviewListsTheProtocolsOptionsAndNoRanking) {
  ASSERT_TRUE(service_->Record(ValidRequest("init"), "").ok());
  auto reply = service_->Record(Review("review", Day(2026, 6, 1), 5, pbr::v1::CHANGE_CLASS_DETERIORATION), "");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->suggestions().empty()) << "the review tool uses no algorithm (SOP 4.6)";
  EXPECT_THAT(reply->protocol_options(), ::testing::ElementsAre(5, 6));
}

TEST_F(CareRecordTest, InitialSuggestionsStayInTheServiceAreaAndNeverOfferClustersUnusedInSecondaryCare) {
  auto r = ValidRequest("init");
  r.set_service_area("community_non_psychosis");
  for (int i = 0; i < 18; ++i) r.mutable_ratings()->set_items(i, i == 6 ? 2 : 0);  // a low-need profile
  r.mutable_ratings()->clear_item8_problem_type();
  auto reply = service_->Record(r, "");
  ASSERT_TRUE(reply.ok()) << reply.status();
  const care::ServiceArea* area = rules_->service_areas().Find("community_non_psychosis");
  for (const auto& s : reply->suggestions()) {
    EXPECT_TRUE(area->allowed.count(s.cluster()) || area->rarely.count(s.cluster())) << s.cluster();
    EXPECT_TRUE(rules_->FindCluster(s.cluster())->used_in_secondary_care) << s.cluster();
  }
  pbr::v1::SuggestClustersRequest q;
  *q.mutable_ratings() = r.ratings();
  auto suggested = service_->Suggest(q);
  ASSERT_TRUE(suggested.ok());
  for (const auto& s : suggested->suggestions()) EXPECT_GT(s.cluster() == 0 ? 4 : s.cluster(), 3) << s.cluster();
}

TEST_F(CareRecordTest, ADischargeNeedsAnOpenReferralAndComesAfterItsAssessments) {
  auto nothing = service_->RecordCareEvent(
      CareEvent("dis-0", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Day(2026, 1, 1)), "");
  EXPECT_EQ(nothing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(nothing.status().message(), HasSubstr("no open referral period"));

  ASSERT_TRUE(service_->Record(ValidRequest("init"), "").ok());
  ASSERT_TRUE(service_->Record(Review("review", Day(2026, 6, 1), 4), "").ok());
  auto early = service_->RecordCareEvent(
      CareEvent("dis-1", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Day(2026, 5, 1)), "");
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.status().message(), HasSubstr("occurred_at"));
  EXPECT_TRUE(Person().referral_open());

  // The discharge review and the discharge at the same moment: the review belongs to the period.
  auto review = Review("discharge-review", Day(2026, 7, 1), 4);
  review.set_reason(pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW);
  ASSERT_TRUE(service_->Record(review, "").ok());
  ASSERT_TRUE(
      service_->RecordCareEvent(CareEvent("dis-2", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Day(2026, 7, 1)), "").ok());
  EXPECT_FALSE(Person().referral_open());
}

TEST_F(CareRecordTest, ABackDatedInpatientEpisodeStartsAtTheAdmissionAndTheCurrentClusterIsTheLatestMhct) {
  auto r = ValidRequest("ward");
  r.set_cluster(14);
  r.set_service_area("inpatient");
  r.set_team_id("ward-north");
  *r.mutable_admitted_at() = platform::ToProto(Day(2026, 2, 27));
  ASSERT_TRUE(service_->Record(r, "").ok());
  const pbr::v1::Person p = Person();
  EXPECT_EQ(p.cluster(), 14);
  EXPECT_EQ(platform::FromProto(p.cluster_since()), Day(2026, 2, 27));
  EXPECT_EQ(platform::FromProto(p.referral_opened_at()), Day(2026, 2, 27));
  auto published = Pending("assessment-recorded");
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(platform::FromProto(published[0].assessment_recorded().assessed_at()), Day(2026, 3, 2));
  EXPECT_EQ(platform::FromProto(published[0].assessment_recorded().effective_at()), Day(2026, 2, 27));
}

// The acute-event rule through allocation: a care event of the last 12 months changes what the
// protocol expects, and a referral to inpatients counts by itself (SOP Table 12, rows 11-13).
struct AcuteCase {
  std::string name;
  pbr::v1::CareEventType event;
  int from = 13;
  int to = 12;
  bool adherent = false;
};
void PrintTo(const AcuteCase& c, std::ostream* os) { *os << c.name; }

class AcuteEventRule : public CareRecordTest, public ::testing::WithParamInterface<AcuteCase> {};

TEST_P(AcuteEventRule, DecidesWhetherAnImprovementMayStepDown) {
  const AcuteCase& c = GetParam();
  auto r = ValidRequest("init");
  r.set_cluster(c.from);
  r.set_service_area("community_psychosis");
  r.set_team_id("eip-north");
  ASSERT_TRUE(service_->Record(r, "").ok());
  auto e = CareEvent("acute", c.event, Day(2026, 5, 1));
  if (c.event == pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT || c.event == pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS) {
    e.set_out_of_hours(false);
  }
  ASSERT_TRUE(service_->RecordCareEvent(e, "").ok());
  auto review = Review("review", Day(2026, 8, 1), c.to, pbr::v1::CHANGE_CLASS_IMPROVEMENT);
  review.set_service_area("community_psychosis");
  review.set_team_id("eip-north");
  // With a rationale the assessment is recorded whatever the example profiles say; the
  // transition-protocol check says whether the move adheres (KPI 8 counts it either way).
  auto reply = service_->Record(review, "");
  ASSERT_TRUE(reply.ok()) << reply.status();
  const pbr::v1::RuleCheck* protocol = nullptr;
  for (const auto& check : reply->checks()) {
    if (check.rule() == "transition-protocol") protocol = &check;
  }
  ASSERT_NE(protocol, nullptr);
  EXPECT_EQ(protocol->passed(), c.adherent) << protocol->reason();
  if (!c.adherent) {
    EXPECT_THAT(reply->protocol_options(), ::testing::ElementsAre(c.from));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sop, AcuteEventRule,
    ::testing::Values(
        AcuteCase{"On13ImprovedAfterCrhtReferralMustRemainOn13", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, 13, 12, false},
        AcuteCase{"On13ImprovedAfterCrhtReferralStaysOn13", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, 13, 13, true},
        AcuteCase{"On12ImprovedAfterAdmissionMustRemainOn12", pbr::v1::CARE_EVENT_ADMISSION, 12, 11, false},
        AcuteCase{"On12ImprovedAfterAdmissionMayNotGoUpTo13", pbr::v1::CARE_EVENT_ADMISSION, 12, 13, false},
        AcuteCase{"On12ImprovedAfterMhaAssessmentStaysOn12", pbr::v1::CARE_EVENT_MHA_ASSESSMENT, 12, 12, true},
        AcuteCase{"AReferralToInpatientsAloneTriggersTheRule", pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS, 13, 12,
                  false},
        AcuteCase{"NonConcordanceTriggersTheRule", pbr::v1::CARE_EVENT_MEDICATION_NON_CONCORDANCE, 12, 11, false},
        AcuteCase{"AFaceToFaceContactIsNoAcuteEvent", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, 13, 12, true}),
    [](const auto& info) { return info.param.name; });

TEST_F(CareRecordTest, ClusterSevenIsNotUsedForAReturningPatient) {
  auto first = ValidRequest("first");
  first.set_cluster(4);
  ASSERT_TRUE(service_->Record(first, "").ok());
  ASSERT_TRUE(
      service_->RecordCareEvent(CareEvent("dis", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Day(2026, 6, 1)), "").ok());
  auto back = ValidRequest("returning");
  *back.mutable_assessed_at() = platform::ToProto(Day(2026, 9, 1));
  back.set_cluster(7);
  back.clear_clinical_rationale();
  auto refused = service_->Record(back, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("Cluster 7"));
}

TEST_F(CareRecordTest, ClusterSevenIsNotUsedForAFirstPresentation) {
  auto r = ValidRequest("first");
  r.set_cluster(7);
  r.clear_clinical_rationale();
  auto refused = service_->Record(r, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("Cluster 7"));
}

TEST_F(CareRecordTest, AdvisoryRulesAreRecordedAndPublishedWithoutRefusing) {
  auto r = ValidRequest("init");
  r.set_cluster(13);
  r.set_service_area("community_psychosis");
  r.set_team_id("eip-north");
  ASSERT_TRUE(service_->Record(r, "").ok());
  // Three months on 13, then an improvement to 12: within the protocol, but the SOP wants about
  // 12 months of sustained recovery before a psychosis cluster steps down.
  auto review = Review("review", Day(2026, 6, 1), 12, pbr::v1::CHANGE_CLASS_IMPROVEMENT);
  review.set_service_area("community_psychosis");
  review.set_team_id("eip-north");
  review.clear_clinical_rationale();
  auto reply = service_->Record(review, "");
  ASSERT_TRUE(reply.ok()) << reply.status() << ": advisory rules never refuse";
  const pbr::v1::RuleCheck* advisory = nullptr;
  for (const auto& c : reply->checks()) {
    if (c.advisory()) advisory = &c;
  }
  ASSERT_NE(advisory, nullptr);
  EXPECT_EQ(advisory->rule(), "advisory:psychosis_sustained_recovery");
  EXPECT_FALSE(advisory->passed());
  auto published = Pending("assessment-recorded");
  ASSERT_EQ(published.size(), 2u);
  bool recorded = false;
  for (const auto& c : published[1].assessment_recorded().checks()) recorded |= c.advisory() && !c.passed();
  EXPECT_TRUE(recorded) << "published with the assessment";
}

}  // namespace
}  // namespace pbr::allocation

// ---- The audit trail (issue 14) ----

namespace pbr::allocation {
namespace {

AuditContext Feed() {
  AuditContext who;
  who.caller = {"epr-feed", "epr-north", "CN=epr-north-feed,O=Test Trust", true};
  who.peer = "ipv4:127.0.0.1:50001";
  return who;
}

std::vector<std::string> Calls(const pbr::v1::ListAuditReply& reply) {
  std::vector<std::string> calls;
  for (const auto& e : reply.entries()) calls.push_back(e.call());
  return calls;
}

TEST_F(CareRecordTest, EveryCorrectionIsAuditedWithTheChangeAndPublished) {
  ASSERT_TRUE(service_->Record(ValidRequest("r1"), "").ok());
  auto amended = ValidRequest("r1");
  amended.set_clinician_id("clin-8");
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(service_->Amend(amended, "", Feed()).ok());
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(service_->Amend(amended, "", Feed())->duplicate());  // a retry changes nothing: no entry
  ASSERT_TRUE(service_->RecordCareEvent(CareEvent("ce-1", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, Day(2026, 10, 1)), "")
                  .ok());
  pbr::v1::WithdrawCareEventRequest we;
  we.set_source_system("epr-north");
  we.set_source_record_id("ce-1");
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(service_->WithdrawCareEvent(we, "", Feed()).ok());
  pbr::v1::WithdrawAssessmentRequest wa;
  wa.set_source_system("epr-north");
  wa.set_source_record_id("r1");
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(service_->Withdraw(wa, "").ok());  // in-process: recorded with no subject
  ASSERT_TRUE(service_->Withdraw(wa, "", Feed()).ok());  // already withdrawn: no entry
  auto unknown = ValidRequest("never-recorded");
  EXPECT_EQ(service_->Amend(unknown, "", Feed()).status().code(), absl::StatusCode::kNotFound);  // no entry

  const std::string person = platform::KeyedHash(kSecret, kNhsNumber);
  pbr::v1::ListAuditRequest by_person;
  by_person.set_person_id(person);
  auto trail = service_->audit().List(by_person);
  ASSERT_TRUE(trail.ok()) << trail.status();
  EXPECT_THAT(Calls(*trail), ::testing::ElementsAre("/pbr.v1.Allocation/WithdrawAssessment",
                                                    "/pbr.v1.Allocation/WithdrawCareEvent",
                                                    "/pbr.v1.Allocation/AmendAssessment"))
      << "newest first; recording is not a correction";
  const pbr::v1::AuditEntry& amend = trail->entries(2);
  EXPECT_EQ(amend.caller_subject(), "CN=epr-north-feed,O=Test Trust");
  EXPECT_EQ(amend.caller_role(), "epr-feed");
  EXPECT_EQ(amend.caller_source_system(), "epr-north");
  EXPECT_EQ(amend.peer(), "ipv4:127.0.0.1:50001");
  EXPECT_EQ(amend.person_id(), person);
  EXPECT_EQ(amend.looked_up_by(), "source_record");
  EXPECT_EQ(amend.outcome(), "OK");
  EXPECT_EQ(platform::FromProto(amend.at()), Day(2026, 11, 22) + absl::Minutes(1));
  EXPECT_EQ(trail->entries(0).caller_subject(), "");

  pbr::v1::ListAuditRequest by_caller;
  by_caller.set_caller_subject("CN=epr-north-feed,O=Test Trust");
  EXPECT_EQ(service_->audit().List(by_caller)->entries_size(), 2);

  const auto published = Pending("audit-recorded");
  ASSERT_EQ(published.size(), 3u);
  for (const auto& event : published) {
    EXPECT_EQ(event.person_id(), person);
    EXPECT_TRUE(services::ValidateEvent(*rules_, "audit-recorded", event).ok());
  }
  EXPECT_EQ(published[0].audit_recorded().audit_id(), amend.audit_id()) << "in the order recorded";
}

TEST_F(AllocationTest, EveryIdentifiableReadThroughGrpcIsAuditedFoundOrNot) {
  ASSERT_TRUE(service_->Record(ValidRequest("r1"), "").ok());
  const std::string person = platform::KeyedHash(kSecret, kNhsNumber);
  grpc::ServerContext ctx;  // a plaintext in-process call: no certificate
  pbr::v1::GetPersonRequest get;
  get.set_nhs_number(kNhsNumber);
  pbr::v1::Person got;
  ASSERT_TRUE(service_->GetPerson(&ctx, &get, &got).ok());
  get.set_nhs_number("9434765870");  // valid, never recorded: NOT_FOUND still tells something
  EXPECT_EQ(service_->GetPerson(&ctx, &get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_nhs_number("123");  // malformed: refused before anyone is read
  EXPECT_EQ(service_->GetPerson(&ctx, &get, &got).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  pbr::v1::ListRequest list;
  list.set_person_id(person);
  pbr::v1::ListEpisodesReply episodes;
  pbr::v1::ListAssessmentsReply assessments;
  pbr::v1::ListReferralsReply referrals;
  ASSERT_TRUE(service_->ListEpisodes(&ctx, &list, &episodes).ok());
  ASSERT_TRUE(service_->ListAssessments(&ctx, &list, &assessments).ok());
  ASSERT_TRUE(service_->ListReferrals(&ctx, &list, &referrals).ok());

  pbr::v1::ListAuditRequest by_person;
  by_person.set_person_id(person);
  by_person.set_page_size(2);
  pbr::v1::ListAuditReply page;
  ASSERT_TRUE(service_->ListAudit(&ctx, &by_person, &page).ok());
  std::vector<std::string> calls = Calls(page);
  ASSERT_FALSE(page.next_page_token().empty());
  by_person.set_page_token(page.next_page_token());
  ASSERT_TRUE(service_->ListAudit(&ctx, &by_person, &page).ok());
  for (const auto& c : Calls(page)) calls.push_back(c);
  EXPECT_TRUE(page.next_page_token().empty());
  // All made within one tick of the manual clock: newest first still, by the order made.
  EXPECT_THAT(calls, ::testing::ElementsAre("/pbr.v1.Allocation/ListReferrals", "/pbr.v1.Allocation/ListAssessments",
                                            "/pbr.v1.Allocation/ListEpisodes", "/pbr.v1.Allocation/GetPerson"));
  pbr::v1::ListAuditRequest malformed;
  malformed.set_person_id(platform::KeyedHash(kSecret, "123"));
  EXPECT_EQ(service_->audit().List(malformed)->entries_size(), 0) << "a malformed request read nobody";
  pbr::v1::ListAuditRequest unknown;
  unknown.set_person_id(platform::KeyedHash(kSecret, "9434765870"));
  auto not_found = service_->audit().List(unknown);
  ASSERT_EQ(not_found->entries_size(), 1);
  EXPECT_EQ(not_found->entries(0).outcome(), "NOT_FOUND");
  EXPECT_EQ(not_found->entries(0).looked_up_by(), "nhs_number");

  pbr::v1::ListAuditRequest bad;
  bad.set_page_size(501);
  auto refused = service_->audit().List(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("person_id or caller_subject: one is required"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("page_size: 501 is not 0-500"));
}

// A read the trail cannot record is not answered: the audit write's error is the caller's.
TEST_F(AllocationTest, AReadWhoseAuditEntryCannotBeWrittenIsRefused) {
  ASSERT_TRUE(service_->Record(ValidRequest("r1"), "").ok());
  service_.reset();
  outbox_.reset();
  store_.reset();
  auto free = std::make_shared<std::atomic<uint64_t>>(1ull << 30);
  platform::StoreOptions options;
  options.free_bytes = [free](const std::string&) -> absl::StatusOr<uint64_t> { return free->load(); };
  store_ = *platform::Store::Open(dir_.path(), AllocationFamilies(), options);
  outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
  service_ = std::make_unique<AllocationService>(*store_, *outbox_, clock_, rules_, kSecret);

  free->store(0);  // the disk is full
  grpc::ServerContext ctx;
  pbr::v1::GetPersonRequest get;
  get.set_nhs_number(kNhsNumber);
  pbr::v1::Person got;
  const grpc::Status refused = service_->GetPerson(&ctx, &get, &got);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_TRUE(got.person_id().empty()) << "nothing of the record is answered";
  free->store(1ull << 30);
  ASSERT_TRUE(service_->GetPerson(&ctx, &get, &got).ok());
  pbr::v1::ListAuditRequest by_person;
  by_person.set_person_id(got.person_id());
  EXPECT_EQ(service_->audit().List(by_person)->entries_size(), 1) << "only the answered read";
}

}  // namespace
}  // namespace pbr::allocation
