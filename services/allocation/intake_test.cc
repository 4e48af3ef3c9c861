// Intake at its limits, table-driven, for every call that stores and publishes: RecordAssessment,
// AmendAssessment, WithdrawAssessment, RecordCareEvent. Each refusal is INVALID_ARGUMENT naming
// the field, and stores and publishes nothing. Invalid UTF-8 fails while gRPC parses the request,
// so those cases go through a real gRPC server on loopback with the platform's interceptors.
#include <map>

#include "absl/strings/str_cat.h"
#include "allocation_fixture.h"
#include "allocation_service.h"
#include "care_bridge.h"
#include "field_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/service_host.h"
#include "testing/local_platform.h"
#include "testing/process.h"
#include "testing/test_server.h"

namespace pbr::allocation {
namespace {

using ::testing::HasSubstr;
using testing::AllocationFixture;
using testing::Day;
using testing::kNhsNumber;
using testing::kSecret;
namespace limits = services::limits;
const int64_t kTwoTo62 = int64_t{1} << 62;


pbr::v1::RecordAssessmentRequest Assessment(std::string record_id) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("epr-north");
  r.set_source_record_id(std::move(record_id));
  r.set_nhs_number(kNhsNumber);
  r.set_team_id("cmht-east");
  r.set_clinician_id("clin-7");
  *r.mutable_assessed_at() = platform::ToProto(Day(2026, 3, 2));
  for (int i = 0; i < 18; ++i) r.mutable_ratings()->add_items(i == 6 ? 3 : 1);
  r.mutable_ratings()->set_item8_problem_type("B");
  r.set_cluster(4);
  r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  r.set_clinical_rationale("test fixture: the example profiles are not the national grid");
  return r;
}

// One valid request of each kind; a case spoils one field of the one its call sends.
struct Calls {
  // Another person: a second initial assessment for the first one would be a transfer (refused).
  pbr::v1::RecordAssessmentRequest record = [] {
    auto r = Assessment("rec-2");
    r.set_nhs_number("9434765927");
    return r;
  }();
  pbr::v1::RecordAssessmentRequest amend = [] {
    auto r = Assessment("rec-1");  // recorded in SetUp
    r.set_clinician_id("clin-8");
    return r;
  }();
  pbr::v1::WithdrawAssessmentRequest withdraw = [] {
    pbr::v1::WithdrawAssessmentRequest w;
    w.set_source_system("epr-north");
    w.set_source_record_id("rec-1");
    w.set_reason("entered against the wrong patient");
    return w;
  }();
  pbr::v1::RecordCareEventRequest care_event = [] {
    pbr::v1::RecordCareEventRequest e;
    e.set_source_system("epr-north");
    e.set_source_record_id("ce-1");
    e.set_nhs_number(kNhsNumber);
    e.set_team_id("crht-east");
    e.set_type(pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT);
    *e.mutable_occurred_at() = platform::ToProto(Day(2026, 10, 1));
    return e;
  }();
  std::string trace_id = "trace-1";
};

enum class Rpc { kRecord, kAmend, kWithdraw, kCareEvent };
const char* RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kRecord: return "RecordAssessment";
    case Rpc::kAmend: return "AmendAssessment";
    case Rpc::kWithdraw: return "WithdrawAssessment";
    case Rpc::kCareEvent: return "RecordCareEvent";
  }
  return "";
}

struct BadCall {
  std::string name;
  Rpc rpc;
  std::function<void(Calls&)> spoil;
  std::string field;  // the refusal names it
};
void PrintTo(const BadCall& b, std::ostream* os) { *os << RpcName(b.rpc) << "/" << b.name; }

class IntakeTest : public AllocationFixture {
 protected:
  void SetUp() override {
    AllocationFixture::SetUp();
    ASSERT_TRUE(service_->Record(Assessment("rec-1"), "").ok());  // what amend and withdraw correct
  }

  // Everything allocation keeps, and what it has staged to publish.
  std::map<std::string, std::string> Snapshot() const {
    std::map<std::string, std::string> out;
    for (const auto& family : AllocationFamilies()) {
      EXPECT_TRUE(store_->Scan(family, "", [&](absl::string_view k, absl::string_view v) {
        out[absl::StrCat(family, "/", k)] = std::string(v);
        return true;
      }).ok());
    }
    auto pending = platform::Outbox::ReadPending(*store_);
    EXPECT_TRUE(pending.ok());
    for (const auto& p : *pending) out[absl::StrCat("outbox/", p.topic, "/", p.value)] = "";
    return out;
  }

  absl::Status Call(Rpc rpc, const Calls& c) {
    switch (rpc) {
      case Rpc::kRecord: return service_->Record(c.record, c.trace_id).status();
      case Rpc::kAmend: return service_->Amend(c.amend, c.trace_id).status();
      case Rpc::kWithdraw: return service_->Withdraw(c.withdraw, c.trace_id).status();
      case Rpc::kCareEvent: return service_->RecordCareEvent(c.care_event, c.trace_id).status();
    }
    return absl::InternalError("unreachable");
  }
};

TEST_F(IntakeTest, EveryCallOfTheTablesIsAcceptedUnspoiled) {
  Calls c;
  for (Rpc rpc : {Rpc::kRecord, Rpc::kAmend, Rpc::kCareEvent, Rpc::kWithdraw}) {
    EXPECT_TRUE(Call(rpc, c).ok()) << RpcName(rpc) << ": " << Call(rpc, c);
  }
}

// ---- at the limits ----

std::string Id(char c) { return std::string(limits::kIdentifierBytes, c); }

TEST_F(IntakeTest, ARequestWithEveryFieldAtItsLimitIsAcceptedAndItsEventFitsTheBroker) {
  // The longest service area the rules know, a cluster it does not hold, ratings that break the
  // cluster's red rules and a review off the transition protocol: every check allocation adds, each
  // with its reason, on top of every field at its limit. A team id that long is no registered team:
  // admitted as during a migration, it adds the "team" check too.
  AllocationService lenient(*store_, *outbox_, clock_, rules_, kSecret, {.allow_unknown_teams = true});
  std::string area;
  for (const auto& a : rules_->service_areas().areas) {
    if (a.id.size() > area.size()) area = a.id;
  }
  ASSERT_LE(area.size(), limits::kServiceAreaBytes);
  auto r = Assessment(Id('r'));
  r.set_source_system(Id('s'));
  r.set_team_id(Id('t'));
  r.set_clinician_id(Id('c'));
  r.set_local_patient_id(Id('l'));
  r.set_commissioner_id(Id('m'));
  r.set_service_area(area);
  r.set_clinical_rationale(std::string(limits::kClinicalRationaleBytes, 'x'));
  r.clear_ratings();
  for (int i = 0; i < limits::kRatingItems; ++i) r.mutable_ratings()->add_items(i == 7 ? 4 : 0);
  r.mutable_ratings()->set_item8_problem_type("J");
  r.mutable_ratings()->set_item8_other_text(std::string(limits::kItem8OtherTextBytes, 'o'));
  r.set_face_to_face_contacts(limits::kMaxFaceToFaceContacts);
  *r.mutable_first_contact_at() = platform::ToProto(Day(2026, 2, 1) + absl::Nanoseconds(999'999'999));
  *r.mutable_admitted_at() = platform::ToProto(Day(2026, 2, 20));
  r.set_reason(pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW);
  r.set_change_class(pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS);
  *r.mutable_assessed_at() = platform::ToProto(Day(2026, 6, 1));
  // A first assessment for the same person and source, so the review is checked against a transition.
  auto first = r;
  first.set_source_record_id(Id('f'));
  first.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  first.clear_change_class();
  *first.mutable_assessed_at() = platform::ToProto(Day(2026, 3, 1));
  ASSERT_TRUE(lenient.Record(first, Id('a')).ok());
  int breaking = -1;
  for (int cluster : {21, 20, 19, 18, 17, 16, 0}) {
    r.set_cluster(cluster);
    auto red = rules_->CheckRedRules(cluster, *services::RatingsFromProto(r.ratings()));
    if (red.ok() && !red->met) {
      breaking = cluster;
      break;
    }
  }
  ASSERT_NE(breaking, -1) << "some cluster's red rules must be broken by these ratings";

  auto reply = lenient.Record(r, Id('a'));
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto events = Pending(platform::topic::kAssessmentRecorded);
  ASSERT_EQ(events.size(), 3u);  // rec-1 from SetUp, the first, this one
  const auto& event = events.back();
  EXPECT_GE(event.assessment_recorded().checks_size(), 4) << "red rules, service area, transition, team";
  for (const auto& c : event.assessment_recorded().checks()) EXPECT_FALSE(c.reason().empty()) << c.rule();
  EXPECT_LT(event.ByteSizeLong(), limits::kBrokerMessageBytes);
  EXPECT_LE(event.ByteSizeLong(), limits::kMaxAssessmentEventBytes) << "the computed worst case is an upper bound";

  // An amendment and a withdrawal at their limits fit as well.
  r.set_clinician_id(Id('d'));
  ASSERT_TRUE(lenient.Amend(r, Id('a')).ok());
  pbr::v1::WithdrawAssessmentRequest w;
  w.set_source_system(r.source_system());
  w.set_source_record_id(r.source_record_id());
  w.set_reason(std::string(limits::kWithdrawReasonBytes, 'w'));
  ASSERT_TRUE(lenient.Withdraw(w, Id('a')).ok());
  for (const auto& topic : platform::topic::kAll) {
    for (const auto& e : Pending(topic)) EXPECT_LT(e.ByteSizeLong(), limits::kMaxAssessmentEventBytes) << topic;
  }
}

class IntakeRefuses : public IntakeTest, public ::testing::WithParamInterface<BadCall> {};

TEST_P(IntakeRefuses, NamingTheFieldStoringAndPublishingNothing) {
  Calls c;
  GetParam().spoil(c);
  const auto before = Snapshot();
  const absl::Status st = Call(GetParam().rpc, c);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), HasSubstr(GetParam().field));
  EXPECT_LT(st.message().size(), 1000u) << "an error never echoes unbounded input";
  EXPECT_EQ(Snapshot(), before) << "nothing stored, nothing published";
}

auto Over(size_t limit, char c = 'x') { return std::string(limit + 1, c); }
google::protobuf::Timestamp Nanos(int32_t nanos) {
  auto t = platform::ToProto(Day(2026, 3, 1));
  t.set_nanos(nanos);
  return t;
}
google::protobuf::Timestamp Seconds(int64_t seconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  return t;
}

// One byte over each limit.
INSTANTIATE_TEST_SUITE_P(
    OneOver, IntakeRefuses,
    ::testing::Values(
        BadCall{"SourceSystem", Rpc::kRecord, [](Calls& c) { c.record.set_source_system(Over(128)); }, "source_system: longer than 128"},
        BadCall{"SourceRecordId", Rpc::kRecord, [](Calls& c) { c.record.set_source_record_id(Over(128)); }, "source_record_id: longer than 128"},
        BadCall{"TeamId", Rpc::kRecord, [](Calls& c) { c.record.set_team_id(Over(128)); }, "team_id: longer than 128"},
        BadCall{"ClinicianId", Rpc::kRecord, [](Calls& c) { c.record.set_clinician_id(Over(128)); }, "clinician_id: longer than 128"},
        BadCall{"CareCoordinatorId", Rpc::kRecord, [](Calls& c) { c.record.set_care_coordinator_id(Over(128)); }, "care_coordinator_id: longer than 128"},
        BadCall{"LocalPatientId", Rpc::kRecord, [](Calls& c) { c.record.set_local_patient_id(Over(128)); }, "local_patient_id: longer than 128"},
        BadCall{"CommissionerId", Rpc::kRecord, [](Calls& c) { c.record.set_commissioner_id(Over(128)); }, "commissioner_id: longer than 128"},
        BadCall{"ServiceArea", Rpc::kRecord, [](Calls& c) { c.record.set_service_area(Over(64, 'a')); }, "service_area: longer than 64"},
        BadCall{"HugeServiceArea", Rpc::kRecord, [](Calls& c) { c.record.set_service_area(std::string(1 << 20, 'a')); }, "service_area: longer than 64"},
        BadCall{"UnknownServiceArea", Rpc::kRecord, [](Calls& c) { c.record.set_service_area("ward-99"); }, "service_area: 'ward-99' is not a service area"},
        BadCall{"Rationale", Rpc::kRecord, [](Calls& c) { c.record.set_clinical_rationale(Over(4000)); }, "clinical_rationale: longer than 4000 bytes"},
        BadCall{"OtherText", Rpc::kRecord,
                [](Calls& c) {
                  c.record.mutable_ratings()->set_items(7, 2);
                  c.record.mutable_ratings()->set_item8_problem_type("J");
                  c.record.mutable_ratings()->set_item8_other_text(Over(500));
                },
                "ratings.item8_other_text: longer than 500 bytes"},
        BadCall{"OtherText1Point1MB", Rpc::kRecord,
                [](Calls& c) {
                  c.record.mutable_ratings()->set_items(7, 2);
                  c.record.mutable_ratings()->set_item8_problem_type("J");
                  c.record.mutable_ratings()->set_item8_other_text(std::string(1'100'000, 'o'));
                },
                "ratings.item8_other_text: longer than 500 bytes"},
        BadCall{"ProblemType", Rpc::kRecord, [](Calls& c) { c.record.mutable_ratings()->set_item8_problem_type("BB"); }, "ratings.item8_problem_type"},
        BadCall{"NineteenRatings", Rpc::kRecord, [](Calls& c) { c.record.mutable_ratings()->add_items(1); }, "ratings.items: expected 18"},
        BadCall{"Contacts", Rpc::kRecord, [](Calls& c) { c.record.set_face_to_face_contacts(1001); }, "face_to_face_contacts: 1001 is not 0-1000"},
        BadCall{"TraceId", Rpc::kRecord, [](Calls& c) { c.trace_id = Over(128); }, "x-trace-id: longer than 128"},
        BadCall{"AmendTeam", Rpc::kAmend, [](Calls& c) { c.amend.set_team_id(Over(128)); }, "team_id: longer than 128"},
        BadCall{"AmendCareCoordinator", Rpc::kAmend, [](Calls& c) { c.amend.set_care_coordinator_id(Over(128)); }, "care_coordinator_id: longer than 128"},
        BadCall{"AmendRationale", Rpc::kAmend, [](Calls& c) { c.amend.set_clinical_rationale(Over(4000)); }, "clinical_rationale: longer than 4000"},
        BadCall{"AmendServiceArea", Rpc::kAmend, [](Calls& c) { c.amend.set_service_area(std::string(1 << 20, 'a')); }, "service_area: longer than 64"},
        BadCall{"AmendTraceId", Rpc::kAmend, [](Calls& c) { c.trace_id = Over(128); }, "x-trace-id: longer than 128"},
        BadCall{"WithdrawReason", Rpc::kWithdraw, [](Calls& c) { c.withdraw.set_reason(Over(1000)); }, "reason: longer than 1000 bytes"},
        BadCall{"WithdrawSource", Rpc::kWithdraw, [](Calls& c) { c.withdraw.set_source_system(Over(128)); }, "source_system: longer than 128"},
        BadCall{"WithdrawRecordId", Rpc::kWithdraw, [](Calls& c) { c.withdraw.set_source_record_id(Over(128)); }, "source_record_id: longer than 128"},
        BadCall{"WithdrawTraceId", Rpc::kWithdraw, [](Calls& c) { c.trace_id = Over(128); }, "x-trace-id: longer than 128"},
        BadCall{"CareEventSource", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_source_system(Over(128)); }, "source_system: longer than 128"},
        BadCall{"CareEventRecordId", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_source_record_id(Over(128)); }, "source_record_id: longer than 128"},
        BadCall{"CareEventTeam", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_team_id(Over(128)); }, "team_id: longer than 128"},
        BadCall{"CareEventClinician", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_clinician_id(Over(128)); }, "clinician_id: longer than 128"},
        BadCall{"CareEventLocalId", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_local_patient_id(Over(128)); }, "local_patient_id: longer than 128"},
        BadCall{"CareEventNhs", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_nhs_number("94347659190"); }, "nhs_number: must be exactly 10 digits"},
        BadCall{"CareEventTraceId", Rpc::kCareEvent, [](Calls& c) { c.trace_id = Over(128); }, "x-trace-id: longer than 128"}),
    [](const auto& info) { return info.param.name; });

// Values in range for their type but not for the field.
INSTANTIATE_TEST_SUITE_P(
    OutOfRange, IntakeRefuses,
    ::testing::Values(
        BadCall{"NanosMinusOne", Rpc::kRecord, [](Calls& c) { *c.record.mutable_assessed_at() = Nanos(-1); }, "assessed_at: nanos -1 is not 0-999999999"},
        BadCall{"NanosBillion", Rpc::kRecord, [](Calls& c) { *c.record.mutable_assessed_at() = Nanos(1'000'000'000); }, "assessed_at: nanos 1000000000"},
        BadCall{"NanosIntMax", Rpc::kRecord, [](Calls& c) { *c.record.mutable_assessed_at() = Nanos(2147483647); }, "assessed_at: nanos 2147483647"},
        BadCall{"FirstContactNanos", Rpc::kRecord, [](Calls& c) { *c.record.mutable_first_contact_at() = Nanos(-1); }, "first_contact_at: nanos -1"},
        BadCall{"AdmittedNanos", Rpc::kRecord, [](Calls& c) { *c.record.mutable_admitted_at() = Nanos(1'000'000'000); }, "admitted_at: nanos 1000000000"},
        BadCall{"AssessedAt2To62", Rpc::kRecord, [](Calls& c) { *c.record.mutable_assessed_at() = Seconds(kTwoTo62); }, "assessed_at: is after 2199"},
        BadCall{"AssessedAtMinus2To62", Rpc::kRecord, [](Calls& c) { *c.record.mutable_assessed_at() = Seconds(-kTwoTo62); }, "assessed_at: is before 2000"},
        BadCall{"AssessedAtInt64Max", Rpc::kRecord, [](Calls& c) { *c.record.mutable_assessed_at() = Seconds(INT64_MAX); }, "assessed_at: is after 2199"},
        BadCall{"AdmittedAt2To62", Rpc::kRecord, [](Calls& c) { *c.record.mutable_admitted_at() = Seconds(kTwoTo62); }, "admitted_at: is after 2199"},
        BadCall{"NextYear", Rpc::kRecord, [](Calls& c) { *c.record.mutable_assessed_at() = platform::ToProto(Day(2027, 1, 1)); }, "assessed_at: is in the future"},
        BadCall{"NhsZeros", Rpc::kRecord, [](Calls& c) { c.record.set_nhs_number("0000000000"); }, "nhs_number: ten equal digits"},
        BadCall{"ContactsIntMax", Rpc::kRecord, [](Calls& c) { c.record.set_face_to_face_contacts(2147483647); }, "face_to_face_contacts: 2147483647 is not 0-1000"},
        BadCall{"ContactsNegative", Rpc::kRecord, [](Calls& c) { c.record.set_face_to_face_contacts(-1); }, "face_to_face_contacts: -1 is not 0-1000"},
        BadCall{"Cluster99", Rpc::kRecord, [](Calls& c) { c.record.set_cluster(99); }, "cluster: 99 is not a care cluster"},
        BadCall{"UnknownChangeClass", Rpc::kRecord, [](Calls& c) { c.record.set_change_class(static_cast<pbr::v1::ChangeClass>(42)); }, "change_class: 42 is not a change class"},
        BadCall{"UnknownTeam", Rpc::kRecord, [](Calls& c) { c.record.set_team_id("cmht-nowhere"); }, "team_id: 'cmht-nowhere' is not a team of the rule set's team registry"},
        BadCall{"HugeUnknownTeam", Rpc::kRecord, [](Calls& c) { c.record.set_team_id(Id('t')); }, "team_id: 'tttt"},
        BadCall{"NotTheTeamsServiceArea", Rpc::kRecord, [](Calls& c) { c.record.set_service_area("crht"); },
                "service_area: 'crht' is not the service area of team 'cmht-east', which is 'community_non_psychosis'"},
        BadCall{"AmendUnknownTeam", Rpc::kAmend, [](Calls& c) { c.amend.set_team_id("cmht-nowhere"); }, "team_id: 'cmht-nowhere' is not a team"},
        BadCall{"AmendNotTheTeamsServiceArea", Rpc::kAmend, [](Calls& c) { c.amend.set_service_area("inpatient"); },
                "service_area: 'inpatient' is not the service area of team 'cmht-east'"},
        BadCall{"CareEventUnknownTeam", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_team_id("crht-nowhere"); }, "team_id: 'crht-nowhere' is not a team"},
        BadCall{"AmendNanos", Rpc::kAmend, [](Calls& c) { *c.amend.mutable_assessed_at() = Nanos(-1); }, "assessed_at: nanos -1"},
        BadCall{"Amend2To62", Rpc::kAmend, [](Calls& c) { *c.amend.mutable_assessed_at() = Seconds(kTwoTo62); }, "assessed_at: is after 2199"},
        BadCall{"AmendNhsZeros", Rpc::kAmend, [](Calls& c) { c.amend.set_nhs_number("0000000000"); }, "nhs_number: ten equal digits"},
        BadCall{"AmendContacts", Rpc::kAmend, [](Calls& c) { c.amend.set_face_to_face_contacts(2147483647); }, "face_to_face_contacts"},
        BadCall{"WithdrawNoRecord", Rpc::kWithdraw, [](Calls& c) { c.withdraw.clear_source_record_id(); }, "source_record_id: required"},
        BadCall{"WithdrawControlChars", Rpc::kWithdraw, [](Calls& c) { c.withdraw.set_source_system("epr\nnorth"); }, "source_system: contains a control"},
        BadCall{"CareCoordinatorControlChars", Rpc::kRecord, [](Calls& c) { c.record.set_care_coordinator_id("cc\t1"); }, "care_coordinator_id: contains a control"},
        BadCall{"CareEventNanos", Rpc::kCareEvent, [](Calls& c) { *c.care_event.mutable_occurred_at() = Nanos(2147483647); }, "occurred_at: nanos 2147483647"},
        BadCall{"CareEventNanosMinusOne", Rpc::kCareEvent, [](Calls& c) { *c.care_event.mutable_occurred_at() = Nanos(-1); }, "occurred_at: nanos -1"},
        BadCall{"CareEvent2To62", Rpc::kCareEvent, [](Calls& c) { *c.care_event.mutable_occurred_at() = Seconds(kTwoTo62); }, "occurred_at: is after 2199"},
        BadCall{"CareEventNhsZeros", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_nhs_number("0000000000"); }, "nhs_number: ten equal digits"},
        BadCall{"CareEventType", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_type(static_cast<pbr::v1::CareEventType>(77)); }, "type: required"}),
    [](const auto& info) { return info.param.name; });

TEST_F(IntakeTest, QueriesAreBoundedToo) {
  pbr::v1::GetPersonRequest get;
  get.set_person_id(std::string(1 << 20, 'p'));
  auto person = service_->GetPerson(get);
  EXPECT_EQ(person.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(person.status().message(), HasSubstr("person_id: longer than 128"));
  get.set_nhs_number("0000000000");
  EXPECT_THAT(service_->GetPerson(get).status().message(), HasSubstr("nhs_number: ten equal digits"));
  pbr::v1::ListRequest list;
  list.set_person_id(Over(128));
  list.set_page_token(Over(20, '1'));
  const absl::Status listed = service_->ListAssessments(list).status();
  EXPECT_THAT(listed.message(), HasSubstr("person_id: longer than 128"));
  EXPECT_THAT(listed.message(), HasSubstr("page_token: longer than 20"));
  pbr::v1::SuggestClustersRequest suggest;
  *suggest.mutable_ratings() = Assessment("x").ratings();
  suggest.set_service_area(std::string(1 << 20, 'a'));
  const absl::Status suggested = service_->Suggest(suggest).status();
  EXPECT_THAT(suggested.message(), HasSubstr("service_area: longer than 64"));
  EXPECT_LT(suggested.message().size(), 1000u);
}

// ---- through gRPC: what fails while the request is parsed ----

class IntakeOverGrpc : public IntakeTest, public ::testing::WithParamInterface<BadCall> {
 protected:
  void SetUp() override {
    IntakeTest::SetUp();
    server_ = pbr::testing::TestServer::Start({service_.get()},
                                              [](grpc::ServerBuilder& b) { platform::PrepareServer(b, nullptr); });
    ASSERT_NE(server_, nullptr);
    stub_ = pbr::v1::Allocation::NewStub(server_->Channel());
  }
  grpc::Status CallOverGrpc(Rpc rpc, const Calls& c) {
    auto ctx = pbr::testing::CallContext();
    ctx->AddMetadata("x-trace-id", c.trace_id);
    pbr::v1::RecordAssessmentReply assessed;
    pbr::v1::WithdrawAssessmentReply withdrawn;
    pbr::v1::RecordCareEventReply care;
    switch (rpc) {
      case Rpc::kRecord: return stub_->RecordAssessment(ctx.get(), c.record, &assessed);
      case Rpc::kAmend: return stub_->AmendAssessment(ctx.get(), c.amend, &assessed);
      case Rpc::kWithdraw: return stub_->WithdrawAssessment(ctx.get(), c.withdraw, &withdrawn);
      case Rpc::kCareEvent: return stub_->RecordCareEvent(ctx.get(), c.care_event, &care);
    }
    return grpc::Status::CANCELLED;
  }
  std::unique_ptr<pbr::testing::TestServer> server_;
  std::unique_ptr<pbr::v1::Allocation::Stub> stub_;
};

TEST_P(IntakeOverGrpc, RefusedInvalidArgumentNamingTheFieldStoringAndPublishingNothing) {
  Calls c;
  GetParam().spoil(c);
  const auto before = Snapshot();
  const grpc::Status st = CallOverGrpc(GetParam().rpc, c);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr(GetParam().field));
  EXPECT_LT(st.error_message().size(), 1000u);
  EXPECT_EQ(Snapshot(), before) << "nothing stored, nothing published";
}

TEST_F(IntakeOverGrpc, EveryCallIsAcceptedUnspoiled) {
  Calls c;
  for (Rpc rpc : {Rpc::kRecord, Rpc::kAmend, Rpc::kCareEvent, Rpc::kWithdraw}) {
    const grpc::Status st = CallOverGrpc(rpc, c);
    EXPECT_TRUE(st.ok()) << RpcName(rpc) << ": " << st.error_message();
  }
}

const std::string kNotUtf8 = "ok\xc3\x28";  // a lead byte followed by no continuation

INSTANTIATE_TEST_SUITE_P(
    InvalidUtf8, IntakeOverGrpc,
    ::testing::Values(
        BadCall{"SourceSystem", Rpc::kRecord, [](Calls& c) { c.record.set_source_system(kNotUtf8); }, "source_system: is not valid UTF-8"},
        BadCall{"SourceRecordId", Rpc::kRecord, [](Calls& c) { c.record.set_source_record_id(kNotUtf8); }, "source_record_id: is not valid UTF-8"},
        BadCall{"NhsNumber", Rpc::kRecord, [](Calls& c) { c.record.set_nhs_number(kNotUtf8); }, "nhs_number: is not valid UTF-8"},
        BadCall{"TeamId", Rpc::kRecord, [](Calls& c) { c.record.set_team_id(kNotUtf8); }, "team_id: is not valid UTF-8"},
        BadCall{"ClinicianId", Rpc::kRecord, [](Calls& c) { c.record.set_clinician_id(kNotUtf8); }, "clinician_id: is not valid UTF-8"},
        BadCall{"CareCoordinatorId", Rpc::kRecord, [](Calls& c) { c.record.set_care_coordinator_id(kNotUtf8); }, "care_coordinator_id: is not valid UTF-8"},
        BadCall{"ProblemType", Rpc::kRecord, [](Calls& c) { c.record.mutable_ratings()->set_item8_problem_type("\xff"); }, "ratings.item8_problem_type: is not valid UTF-8"},
        BadCall{"OtherText", Rpc::kRecord, [](Calls& c) { c.record.mutable_ratings()->set_item8_other_text(kNotUtf8); }, "ratings.item8_other_text: is not valid UTF-8"},
        BadCall{"LocalPatientId", Rpc::kRecord, [](Calls& c) { c.record.set_local_patient_id(kNotUtf8); }, "local_patient_id: is not valid UTF-8"},
        BadCall{"ServiceArea", Rpc::kRecord, [](Calls& c) { c.record.set_service_area(kNotUtf8); }, "service_area: is not valid UTF-8"},
        BadCall{"CommissionerId", Rpc::kRecord, [](Calls& c) { c.record.set_commissioner_id(kNotUtf8); }, "commissioner_id: is not valid UTF-8"},
        BadCall{"Rationale", Rpc::kRecord, [](Calls& c) { c.record.set_clinical_rationale(kNotUtf8); }, "clinical_rationale: is not valid UTF-8"},
        BadCall{"AmendOtherText", Rpc::kAmend, [](Calls& c) { c.amend.mutable_ratings()->set_item8_other_text(kNotUtf8); }, "ratings.item8_other_text: is not valid UTF-8"},
        BadCall{"AmendTeam", Rpc::kAmend, [](Calls& c) { c.amend.set_team_id(kNotUtf8); }, "team_id: is not valid UTF-8"},
        BadCall{"WithdrawSource", Rpc::kWithdraw, [](Calls& c) { c.withdraw.set_source_system(kNotUtf8); }, "source_system: is not valid UTF-8"},
        BadCall{"WithdrawRecordId", Rpc::kWithdraw, [](Calls& c) { c.withdraw.set_source_record_id(kNotUtf8); }, "source_record_id: is not valid UTF-8"},
        BadCall{"WithdrawReason", Rpc::kWithdraw, [](Calls& c) { c.withdraw.set_reason(kNotUtf8); }, "reason: is not valid UTF-8"},
        BadCall{"CareEventSource", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_source_system(kNotUtf8); }, "source_system: is not valid UTF-8"},
        BadCall{"CareEventRecordId", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_source_record_id(kNotUtf8); }, "source_record_id: is not valid UTF-8"},
        BadCall{"CareEventNhs", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_nhs_number(kNotUtf8); }, "nhs_number: is not valid UTF-8"},
        BadCall{"CareEventLocalId", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_local_patient_id(kNotUtf8); }, "local_patient_id: is not valid UTF-8"},
        BadCall{"CareEventTeam", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_team_id(kNotUtf8); }, "team_id: is not valid UTF-8"},
        BadCall{"CareEventClinician", Rpc::kCareEvent, [](Calls& c) { c.care_event.set_clinician_id(kNotUtf8); }, "clinician_id: is not valid UTF-8"}),
    [](const auto& info) { return info.param.name; });

// The probe's cases end to end: refused with a short message a default client accepts.
INSTANTIATE_TEST_SUITE_P(
    OversizedAndExtreme, IntakeOverGrpc,
    ::testing::Values(
        BadCall{"MegabyteServiceArea", Rpc::kRecord, [](Calls& c) { c.record.set_service_area(std::string(1 << 20, 'a')); }, "service_area: longer than 64"},
        BadCall{"OtherText1Point1MB", Rpc::kRecord,
                [](Calls& c) {
                  c.record.mutable_ratings()->set_items(7, 2);
                  c.record.mutable_ratings()->set_item8_problem_type("J");
                  c.record.mutable_ratings()->set_item8_other_text(std::string(1'100'000, 'o'));
                },
                "ratings.item8_other_text: longer than 500 bytes"},
        BadCall{"AssessedAt2To62", Rpc::kRecord, [](Calls& c) { *c.record.mutable_assessed_at() = Seconds(kTwoTo62); }, "assessed_at: is after 2199"},
        BadCall{"AmendNanos", Rpc::kAmend, [](Calls& c) { *c.amend.mutable_assessed_at() = Nanos(-1); }, "assessed_at: nanos -1"},
        BadCall{"WithdrawReason", Rpc::kWithdraw, [](Calls& c) { c.withdraw.set_reason(std::string(1 << 20, 'w')); }, "reason: longer than 1000 bytes"},
        BadCall{"CareEventNanos", Rpc::kCareEvent, [](Calls& c) { *c.care_event.mutable_occurred_at() = Nanos(1'000'000'000); }, "occurred_at: nanos 1000000000"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace pbr::allocation
