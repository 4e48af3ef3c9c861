// The KPI projection: each KPI from events through the maintained totals to GetKpis, the periods (month
// and as_at, pending records), the scopes, restatement on corrections, and the API's refusals. The
// expected figures are worked by hand from the SOP's standards and written beside each case.
#include "projections/kpis/kpis.h"

#include <algorithm>
#include <map>
#include <random>

#include "api.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "projections/kpis/queries.h"
#include "testing/process.h"

namespace pbr::reporting {
namespace {

namespace topic = platform::topic;
using ::testing::HasSubstr;

std::shared_ptr<const care::RuleSet> ShippedRules() {
  static const auto* rules =
      new std::shared_ptr<const care::RuleSet>(std::make_shared<care::RuleSet>(*care::RuleSet::LoadFromDirectory(PBR_RULES_DIR)));
  return *rules;
}

// A UK wall-clock time in 2026 (January and February: GMT).
absl::Time At(int month, int day, int hour = 10, int minute = 0) {
  return absl::FromCivil(absl::CivilSecond(2026, month, day, hour, minute, 0), platform::ClinicalTimeZone());
}
absl::CivilDay D(int month, int day) { return absl::CivilDay(2026, month, day); }

struct Check {
  const char* rule;
  bool passed;
};

struct AssessmentSpec {
  std::string person, id;
  absl::Time at;
  int cluster = 4;
  std::string team = "cmht-north";
  std::string area = "community_non_psychosis";
  std::string commissioner = "00X";
  pbr::v1::AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_INITIAL;
  std::vector<Check> checks;
  int contacts = 0;
  std::optional<absl::Time> first_contact, admitted;
  int revision = 0;
  bool withdrawn = false;

  AssessmentSpec& Reason(pbr::v1::AssessmentReason r) { reason = r; return *this; }
  AssessmentSpec& Checks(std::vector<Check> c) { checks = std::move(c); return *this; }
  AssessmentSpec& Contacts(int n) { contacts = n; return *this; }
  AssessmentSpec& FirstContact(absl::Time t) { first_contact = t; return *this; }
  AssessmentSpec& Admitted(absl::Time t) { admitted = t; return *this; }
  AssessmentSpec& Commissioner(std::string c) { commissioner = std::move(c); return *this; }
  AssessmentSpec& Revision(int r) { revision = r; return *this; }
  AssessmentSpec& Withdrawn() { withdrawn = true; return *this; }
};

AssessmentSpec A(std::string person, std::string id, absl::Time at, int cluster = 4, std::string team = "cmht-north",
                 std::string area = "community_non_psychosis") {
  AssessmentSpec s;
  s.person = std::move(person);
  s.id = std::move(id);
  s.at = at;
  s.cluster = cluster;
  s.team = std::move(team);
  s.area = std::move(area);
  return s;
}

struct EventSpec {
  std::string person, id;
  pbr::v1::CareEventType type;
  absl::Time at;
  std::string team = "cmht-north";
  bool out_of_hours = false;
  int revision = 0;
  bool withdrawn = false;
};

pbr::v1::EventEnvelope Envelope(const AssessmentSpec& s) {
  auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, absl::StrCat("a-", s.id, "-", s.revision), s.person, s.at,
                                  s.at, "epr", "");
  auto* a = e.mutable_assessment_recorded();
  a->set_assessment_id(s.id);
  a->set_revision(s.revision);
  a->set_withdrawn(s.withdrawn);
  a->set_team_id(s.team);
  a->set_cluster(s.cluster);
  a->set_reason(s.reason);
  a->set_service_area(s.area);
  a->set_commissioner_id(s.commissioner);
  *a->mutable_assessed_at() = platform::ToProto(s.at);
  *a->mutable_effective_at() = platform::ToProto(s.admitted.value_or(s.at));
  for (const Check& c : s.checks) {
    auto* r = a->add_checks();
    r->set_rule(c.rule);
    r->set_passed(c.passed);
  }
  a->set_face_to_face_contacts(s.contacts);
  if (s.first_contact.has_value()) *a->mutable_first_contact_at() = platform::ToProto(*s.first_contact);
  if (s.admitted.has_value()) *a->mutable_admitted_at() = platform::ToProto(*s.admitted);
  return e;
}

pbr::v1::EventEnvelope Envelope(const EventSpec& s) {
  auto e = platform::MakeEnvelope(topic::kCareEventRecorded, absl::StrCat("e-", s.id, "-", s.revision), s.person, s.at,
                                  s.at, "epr", "");
  auto* c = e.mutable_care_event_recorded();
  c->set_care_event_id(s.id);
  c->set_revision(s.revision);
  c->set_withdrawn(s.withdrawn);
  c->set_type(s.type);
  *c->mutable_occurred_at() = platform::ToProto(s.at);
  c->set_team_id(s.team);
  c->set_out_of_hours(s.out_of_hours);
  return e;
}

// A store with the projection and the API over it.
class Harness {
 public:
  Harness() { Open(ShippedRules()); }
  void Open(std::shared_ptr<const care::RuleSet> rules, care::ReviewPolicy policy = care::ReviewPolicy::kTrustSop) {
    projection_ = std::make_unique<KpisProjection>(rules, policy);
    store_.reset();
    store_ = *platform::Store::Open(dir_.path(), projection_->families());
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    api_ = std::make_unique<ReportingApi>(*store_, rules, nullptr, policy);
  }
  absl::Status TryApply(absl::string_view topic_name, const pbr::v1::EventEnvelope& e) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, At(6, 1));
    platform::ConsumedEvent ev{topic_name, 0, 0, e};
    if (auto st = projection_->Apply(ev, ctx); !st.ok()) return st;
    return store_->Write(batch, false);
  }
  void Apply(const AssessmentSpec& s) {
    const absl::Status st = TryApply(topic::kAssessmentRecorded, Envelope(s));
    ASSERT_TRUE(st.ok()) << st;
  }
  void Apply(const EventSpec& s) {
    const absl::Status st = TryApply(topic::kCareEventRecorded, Envelope(s));
    ASSERT_TRUE(st.ok()) << st;
  }
  void Referral(const std::string& person, absl::Time at, const std::string& team = "cmht-north") {
    Apply(EventSpec{person, person + "-referral", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, at, team});
  }

  static pbr::v1::ReportScope Scope(pbr::v1::ReportScopeKind kind, std::string id = "") {
    pbr::v1::ReportScope s;
    s.set_kind(kind);
    s.set_id(std::move(id));
    return s;
  }
  static pbr::v1::ReportScope Trust() { return Scope(pbr::v1::REPORT_SCOPE_TRUST); }

  absl::StatusOr<pbr::v1::KpiReport> AsAt(const pbr::v1::ReportScope& scope, absl::CivilDay day,
                                          absl::CivilDay today = D(6, 1)) {
    pbr::v1::GetKpisRequest r;
    *r.mutable_scope() = scope;
    *r.mutable_as_at() = platform::ToProto(day);
    return api_->GetKpis(r, today);
  }
  absl::StatusOr<pbr::v1::KpiReport> Month(const pbr::v1::ReportScope& scope, int month, absl::CivilDay today) {
    pbr::v1::GetKpisRequest r;
    *r.mutable_scope() = scope;
    r.mutable_month()->set_year(2026);
    r.mutable_month()->set_month(month);
    return api_->GetKpis(r, today);
  }

  // Every row of the totals, for comparing two stores.
  std::map<std::string, std::string> Totals() const {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(store_
                    ->Scan(kpis::kKpisTotalsFamily, "",
                           [&](absl::string_view k, absl::string_view v) {
                             out.emplace(std::string(k), std::string(v));
                             return true;
                           })
                    .ok());
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<KpisProjection> projection_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::unique_ptr<ReportingApi> api_;
};

class KpisTest : public ::testing::Test, public Harness {};

// numerator / denominator of one KPI of a report.
std::pair<int64_t, int64_t> Of(const absl::StatusOr<pbr::v1::KpiReport>& r, int kpi) {
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok() || r->kpis_size() != 13) {
    ADD_FAILURE() << "no KPI" << kpi;
    return {-1, -1};
  }
  const pbr::v1::KpiValue& v = r->kpis(kpi - 1);
  EXPECT_EQ(v.id(), absl::StrCat("KPI", kpi));
  EXPECT_EQ(v.has_percent(), v.denominator() > 0);
  if (v.denominator() > 0) {
    EXPECT_DOUBLE_EQ(v.percent(), 100.0 * v.numerator() / v.denominator());
  }
  return {v.numerator(), v.denominator()};
}
using Frac = std::pair<int64_t, int64_t>;

// ---- KPIs 1-3: the caseload at the end of the stock day.

TEST_F(KpisTest, StockKpisCountActiveCasesAtTheEndOfTheDay) {
  // p1: referred 5 Jan, cluster 4 from 10 Jan (fits community_non_psychosis), discharged 20 Jan.
  Referral("p1", At(1, 5));
  Apply(A("p1", "p1-a", At(1, 10), 4));
  Apply(EventSpec{"p1", "p1-out", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, At(1, 20, 15)});
  // p2: referred to cmht-south, never allocated: active without a cluster, under that team.
  Referral("p2", At(1, 5), "cmht-south");
  // p3: cluster 2 (not used in secondary care, not held by community_non_psychosis), no commissioner named.
  Apply(A("p3", "p3-a", At(1, 12), 2, "cmht-east").Commissioner(""));
  // p4: cluster 14 (4 weeks) from 1 Jan in CRHT: due 29 Jan, so outside the review period at the end of that day.
  Apply(A("p4", "p4-a", At(1, 1), 14, "crht-north", "crht"));

  // 9 Jan: p1 (referred, no cluster yet), p2, p4.
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 9)), 1), Frac(1, 3));
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 9)), 2), Frac(1, 1));
  // 15 Jan: p1 (4), p2, p3 (2), p4 (14): KPI 1 counts 4 and 14 of 4 cases; KPI 2 all three clustered within;
  // KPI 3: 4 and 14 fit their areas, 2 does not.
  auto mid = AsAt(Trust(), D(1, 15));
  EXPECT_EQ(Of(mid, 1), Frac(2, 4));
  EXPECT_EQ(Of(mid, 2), Frac(3, 3));
  EXPECT_EQ(Of(mid, 3), Frac(2, 3));
  EXPECT_EQ(mid->stock_day().day(), 15);
  EXPECT_EQ(mid->judged_on().day(), 15);
  EXPECT_EQ(mid->period_start().day(), 1);
  // The due day itself is outside; the day before within.
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_TEAM, "crht-north"), D(1, 28)), 2), Frac(1, 1));
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_TEAM, "crht-north"), D(1, 29)), 2), Frac(0, 1));
  // Discharged on 20 Jan: not active at that day's end.
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 19)), 1), Frac(2, 4));
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 20)), 1), Frac(1, 3));
  // A month counts on its last day, or today while it is not over.
  auto january = Month(Trust(), 1, D(2, 10));
  EXPECT_EQ(january->stock_day().day(), 31);
  EXPECT_EQ(Of(january, 2), Frac(1, 2));  // p3 within (due 27 Apr), p4 overdue
  auto february = Month(Trust(), 2, D(2, 10));
  EXPECT_EQ(february->stock_day().day(), 10);
  EXPECT_EQ(february->period_end().day(), 28);
  EXPECT_EQ(Of(february, 1), Frac(1, 3));

  // Scopes: the team, service area and commissioner of the basis, else of the referral's team.
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_TEAM, "cmht-north"), D(1, 15)), 1), Frac(1, 1));
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_TEAM, "cmht-south"), D(1, 15)), 1), Frac(0, 1));
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "00Y"), D(1, 15)), 1), Frac(0, 1));  // p2's team default
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "unknown"), D(1, 15)), 3), Frac(0, 1));  // p3
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "00X"), D(1, 15)), 1), Frac(2, 2));  // p1, p4
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "community_non_psychosis"), D(1, 15)), 1), Frac(1, 3));
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "crht"), D(1, 15)), 3), Frac(1, 1));
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "nobody"), D(1, 15)), 1), Frac(0, 0));
  // A year later the stock is still read from the roll-ups (p2, p3, p4 open).
  EXPECT_EQ(Of(AsAt(Trust(), absl::CivilDay(2027, 3, 3), absl::CivilDay(2027, 4, 1)), 1), Frac(1, 3));
}

TEST_F(KpisTest, AnInpatientAllocationBackDatedToTheAdmissionCountsFromTheAdmissionDay) {
  // Referred to the ward on 10 Jan, admitted 14 Jan 22:00, allocated cluster 14 with the MHCT on 16 Jan
  // 23:00 back-dated to the admission (SOP Table 13): a case with a cluster from 14 Jan, as its episode and
  // the national measures have it. KPI 2's clock runs from the MHCT day: 28 days, due 13 Feb.
  Referral("p", At(1, 10), "ward-north");
  Apply(A("p", "p-a", At(1, 16, 23), 14, "ward-north", "inpatient").Admitted(At(1, 14, 22)));
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 13)), 1), Frac(0, 1)) << "referred, not yet admitted: no cluster";
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 13)), 2), Frac(0, 0));
  for (int day : {14, 15, 16}) {
    auto r = AsAt(Trust(), D(1, day));
    EXPECT_EQ(Of(r, 1), Frac(1, 1)) << "14 Jan + " << day - 14;
    EXPECT_EQ(Of(r, 2), Frac(1, 1)) << "14 Jan + " << day - 14;
    EXPECT_EQ(Of(r, 3), Frac(1, 1)) << "14 Jan + " << day - 14;
  }
  // It counts where the allocation says from the admission day: the ward and its area.
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "inpatient"), D(1, 15)), 3), Frac(1, 1));
  EXPECT_EQ(Of(AsAt(Scope(pbr::v1::REPORT_SCOPE_TEAM, "ward-north"), D(1, 14)), 1), Frac(1, 1));
  // Due 28 days from the MHCT day (16 Jan), not from the admission (which would be 11 Feb).
  EXPECT_EQ(Of(AsAt(Trust(), D(2, 12)), 2), Frac(1, 1));
  EXPECT_EQ(Of(AsAt(Trust(), D(2, 13)), 2), Frac(0, 1));
}

TEST_F(KpisTest, AReviewRestartsKpi2AndKpi2FollowsTheReviewPolicy) {
  // Cluster 7: 6 months under the SOP, 12 months nationally.
  Apply(A("p", "a1", At(1, 10), 7));
  EXPECT_EQ(Of(AsAt(Trust(), D(7, 10), D(8, 1)), 2), Frac(0, 1));
  Apply(A("p", "a2", At(7, 1), 7).Reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW));
  EXPECT_EQ(Of(AsAt(Trust(), D(7, 10), D(8, 1)), 2), Frac(1, 1));
  Harness national;
  national.Open(ShippedRules(), care::ReviewPolicy::kNational);
  national.Apply(A("q", "b1", At(1, 10), 7));
  EXPECT_EQ(Of(national.AsAt(Trust(), D(7, 10), D(8, 1)), 2), Frac(1, 1));
}

// ---- KPIs 4-6: the initial allocation of each referral period, and its contacts.

TEST_F(KpisTest, InitialAllocationsAndTheirContacts) {
  // p1: contacts 6 and 20 Jan, allocated 21 Jan counting them (2): KPI 4 met; red rules passed; KPI 5 met on 20 Jan.
  Referral("p1", At(1, 5));
  Apply(EventSpec{"p1", "p1-c1", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, At(1, 6)});
  Apply(EventSpec{"p1", "p1-c2", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, At(1, 20)});
  Apply(A("p1", "p1-a", At(1, 21), 4).Checks({{"red-rules", true}}));
  // p2: 3 contacts to allocation: KPI 4 missed; red rules failed; first contact 2 Jan and no second: KPI 5 missed,
  // decided on 30 Jan (2 Jan + 28 days, the last day allowed: at its end nothing can meet it).
  Apply(A("p2", "p2-a", At(1, 10), 4).Checks({{"red-rules", false}}).Contacts(3).FirstContact(At(1, 2)));
  // p3: admitted 14 Jan 22:00, allocated 16 Jan 23:00 (within 2 bed nights): KPI 4 met; no red-rules check: KPI 6
  // not met; an inpatient has no KPI 5 clock.
  Apply(A("p3", "p3-a", At(1, 16, 23), 14, "crht-north", "inpatient").Admitted(At(1, 14, 22)));
  // p4: memory service (12 weeks): contacts 3 Jan and 20 Mar: KPI 5 met, decided 20 Mar.
  Referral("p4", At(1, 2), "memory-west");
  Apply(EventSpec{"p4", "p4-c1", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, At(1, 3), "memory-west"});
  Apply(EventSpec{"p4", "p4-c2", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, At(3, 20), "memory-west"});
  Apply(A("p4", "p4-a", At(1, 4), 18, "memory-west", "memory_dementia").Checks({{"red-rules", true}}).Contacts(1));

  auto january = Month(Trust(), 1, D(2, 15));
  EXPECT_EQ(Of(january, 4), Frac(3, 4));
  EXPECT_EQ(Of(january, 6), Frac(2, 4));
  EXPECT_EQ(Of(january, 5), Frac(1, 2)) << "p4 pending until 20 Mar";
  EXPECT_EQ(Of(Month(Trust(), 1, D(3, 20)), 5), Frac(2, 3));
  // as_at: the month's records decided by then.
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 25)), 5), Frac(1, 1));
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 29)), 5), Frac(1, 1));
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 30)), 5), Frac(1, 2)) << "as of the deadline day's end";
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 31)), 5), Frac(1, 2));
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 15)), 4), Frac(1, 2));  // p2 and p4 allocated by then
  EXPECT_EQ(Of(Month(Trust(), 2, D(3, 20)), 4), Frac(0, 0));
  EXPECT_EQ(Of(Month(Scope(pbr::v1::REPORT_SCOPE_TEAM, "memory-west"), 1, D(3, 20)), 5), Frac(1, 1));
  EXPECT_EQ(Of(Month(Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "inpatient"), 1, D(3, 20)), 4), Frac(1, 1));
  // Amended to 3 bed nights after the admission: missed.
  Apply(A("p3", "p3-a", At(1, 17, 0, 1), 14, "crht-north", "inpatient").Admitted(At(1, 14, 22)).Revision(1));
  EXPECT_EQ(Of(Month(Trust(), 1, D(2, 15)), 4), Frac(2, 4));
}

// ---- KPIs 7-8: reviews falling due, and formal reviews done.

const pbr::v1::AssessmentReason kFormal = pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW;

TEST_F(KpisTest, ReviewsFallingDueAndFormalReviews) {
  // Cluster 14: reviewed within 4 weeks; the window opens 10 days before the due date.
  // p1: 10 Jan (due 7 Feb, window 28 Jan), reviewed 1 Feb: met, decided 7 Feb; that review is due 1 Mar, not done.
  Apply(A("p1", "p1-a", At(1, 10), 14, "crht-north", "crht"));
  Apply(A("p1", "p1-b", At(2, 1), 14, "crht-north", "crht").Reason(kFormal).Checks({{"transition-protocol", true}}));
  // p2: 5 Jan (due 2 Feb), discharged 1 Feb: no review was owed.
  Apply(A("p2", "p2-a", At(1, 5), 14, "crht-north", "crht"));
  Apply(EventSpec{"p2", "p2-out", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, At(2, 1)});
  // p3: 6 Jan (due 3 Feb, window 24 Jan), reviewed early on 20 Jan breaching the protocol: KPI 7 met by the
  // shipped early_review (met); KPI 8 not. Its review is due 17 Feb and not done: missed, decided 17 Feb (at
  // the due day's end).
  Apply(A("p3", "p3-a", At(1, 6), 14, "crht-north", "crht"));
  Apply(A("p3", "p3-b", At(1, 20), 14, "crht-north", "crht").Reason(kFormal).Checks({{"transition-protocol", false}}));
  // p4: 8 Jan (due 5 Feb) reviewed late on 10 Feb, unplanned: KPI 7 missed, decided 5 Feb; not a formal review.
  Apply(A("p4", "p4-a", At(1, 8), 14, "crht-north", "crht"));
  Apply(A("p4", "p4-b", At(2, 10), 14, "crht-north", "crht").Reason(pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW));

  // February's reviews falling due: p1 (7 Feb, met), p3 (3 Feb, met early), p4 (5 Feb, missed), p3's second
  // (17 Feb, missed); p4's second falls due 10 Mar and p1's second 1 Mar.
  EXPECT_EQ(Of(Month(Trust(), 2, D(3, 10)), 7), Frac(2, 4));
  // On 6 Feb: p3 decided met (3 Feb), p4 decided missed (5 Feb); p1 waits for its due date, p3's second for 17 Feb.
  EXPECT_EQ(Of(Month(Trust(), 2, D(2, 6)), 7), Frac(1, 2));
  EXPECT_EQ(Of(AsAt(Trust(), D(2, 4)), 7), Frac(1, 1));
  EXPECT_EQ(Of(AsAt(Trust(), D(2, 5)), 7), Frac(1, 2)) << "p4 missed as of its due day's end";
  EXPECT_EQ(Of(AsAt(Trust(), D(2, 7)), 7), Frac(2, 3));
  EXPECT_EQ(Of(AsAt(Trust(), D(2, 16)), 7), Frac(2, 3));
  EXPECT_EQ(Of(AsAt(Trust(), D(2, 17)), 7), Frac(2, 4)) << "p3's second, unreviewed, missed on its due day";
  EXPECT_EQ(Of(AsAt(Trust(), D(3, 1)), 7), Frac(0, 1)) << "p1's second missed on its due day, 1 Mar";
  EXPECT_EQ(Of(Month(Trust(), 3, D(3, 9)), 7), Frac(0, 1)) << "p4's second pending (due 10 Mar)";
  EXPECT_EQ(Of(Month(Trust(), 3, D(3, 10)), 7), Frac(0, 2)) << "p4's second missed as of today, its due day";
  // KPI 8: formal reviews by their own day.
  EXPECT_EQ(Of(Month(Trust(), 1, D(3, 10)), 8), Frac(0, 1));
  EXPECT_EQ(Of(Month(Trust(), 2, D(3, 10)), 8), Frac(1, 1));
}

TEST_F(KpisTest, AnEarlyReviewFollowsTheKpiFileOption) {
  // Due 3 Feb (window from 24 Jan), reviewed 20 Jan; the review itself due 17 Feb and missed on that day.
  for (auto [option, want] : {std::pair{care::EarlyReview::kMet, Frac(1, 2)},
                              std::pair{care::EarlyReview::kNotMet, Frac(0, 2)},
                              std::pair{care::EarlyReview::kExcluded, Frac(0, 1)}}) {
    SCOPED_TRACE(care::EarlyReviewName(option));
    care::RuleData data = ShippedRules()->data();
    data.kpis.early_review = option;
    auto rules = care::RuleSet::FromData(data);
    ASSERT_TRUE(rules.ok()) << rules.status();
    Harness h;
    h.Open(std::make_shared<care::RuleSet>(*rules));
    h.Apply(A("p3", "p3-a", At(1, 6), 14, "crht-north", "crht"));
    h.Apply(A("p3", "p3-b", At(1, 20), 14, "crht-north", "crht").Reason(kFormal));
    EXPECT_EQ(Of(h.Month(Trust(), 2, D(3, 10)), 7), want);
  }
}

// ---- KPIs 9-13: event-triggered reviews.

TEST_F(KpisTest, TransfersAndDischargeReviews) {
  const pbr::v1::AssessmentReason transfer = pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
  for (std::string p : {"p1", "p2", "p3", "p4"}) {
    Apply(A(p, p + "-a", At(1, 5), 11, "eip-north", "community_psychosis"));
  }
  // p1: in hours on 20 Jan, reviewed 2 days before keeping to the protocol: KPIs 9 and 11 met on 20 Jan.
  Apply(A("p1", "p1-r", At(1, 18), 12, "eip-north", "community_psychosis").Reason(transfer)
            .Checks({{"transition-protocol", true}}));
  Apply(EventSpec{"p1", "p1-crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(1, 20), "eip-north"});
  // p2: out of hours 20 Jan 22:00, never reviewed: KPI 10 missed when the 72 hours end, 23 Jan.
  Apply(EventSpec{"p2", "p2-crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(1, 20, 22), "eip-north", true});
  // p3: out of hours 30 Jan 22:00, reviewed 1 Feb breaching the protocol: KPI 10 met (January's, decided 1 Feb);
  // KPI 11 not met.
  Apply(EventSpec{"p3", "p3-ward", pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS, At(1, 30, 22), "eip-north", true});
  Apply(A("p3", "p3-r", At(2, 1), 14, "eip-north", "community_psychosis").Reason(transfer)
            .Checks({{"transition-protocol", false}}));
  // p4: discharge review 25 Jan noon, rated the next morning with no protocol check: KPIs 12 and 13 met.
  Apply(EventSpec{"p4", "p4-dr", pbr::v1::CARE_EVENT_DISCHARGE_REVIEW, At(1, 25, 12), "eip-north"});
  Apply(A("p4", "p4-r", At(1, 26), 11, "eip-north", "community_psychosis")
            .Reason(pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW));
  // p5 has no cluster: a referral to CRHT asks for no review.
  Referral("p5", At(1, 2));
  Apply(EventSpec{"p5", "p5-crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(1, 20), "cmht-north"});

  auto end_of_january = Month(Trust(), 1, D(1, 31));
  EXPECT_EQ(Of(end_of_january, 9), Frac(1, 1));
  EXPECT_EQ(Of(end_of_january, 10), Frac(0, 1)) << "p3 pending until 1 Feb";
  EXPECT_EQ(Of(end_of_january, 11), Frac(1, 1));
  EXPECT_EQ(Of(end_of_january, 12), Frac(1, 1));
  EXPECT_EQ(Of(end_of_january, 13), Frac(1, 1));
  auto later = Month(Trust(), 1, D(2, 2));
  EXPECT_EQ(Of(later, 10), Frac(1, 2));
  EXPECT_EQ(Of(later, 11), Frac(1, 2));
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 22)), 10), Frac(0, 0));
  EXPECT_EQ(Of(AsAt(Trust(), D(1, 23)), 10), Frac(0, 1));
  EXPECT_EQ(Of(Month(Trust(), 2, D(2, 2)), 10), Frac(0, 0)) << "a record belongs to its reference month";
  EXPECT_EQ(Of(Month(Scope(pbr::v1::REPORT_SCOPE_TEAM, "cmht-north"), 1, D(2, 2)), 9), Frac(0, 0));
  // The review withdrawn: p1's transfer is missed (decided on the referral's day) and leaves KPI 11.
  Apply(A("p1", "p1-r", At(1, 18), 12, "eip-north", "community_psychosis").Revision(1).Withdrawn());
  EXPECT_EQ(Of(Month(Trust(), 1, D(2, 2)), 9), Frac(0, 1));
  EXPECT_EQ(Of(Month(Trust(), 1, D(2, 2)), 11), Frac(0, 1));
}

// ---- what the totals are: the sum of what each person adds now, whatever happened before.

TEST_F(KpisTest, CorrectionsRestateAndTheTotalsAreTheSameWhateverTheOrder) {
  const std::vector<EventSpec> events = {
      {"p1", "p1-ref", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, At(1, 2)},
      {"p1", "p1-c1", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, At(1, 3)},
      {"p1", "p1-crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(2, 1), "cmht-north", true},
      {"p1", "p1-dr", pbr::v1::CARE_EVENT_DISCHARGE_REVIEW, At(3, 1)},
      {"p1", "p1-out", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, At(3, 2)},
      {"p2", "p2-c1", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, At(1, 4), "cmht-south"},
  };
  const std::vector<AssessmentSpec> facts = {
      A("p1", "p1-a", At(1, 5), 4).Checks({{"red-rules", true}}),
      A("p1", "p1-b", At(2, 2), 5).Reason(pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW),
      A("p1", "p1-c", At(3, 1, 12), 5).Reason(pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW),
      A("p2", "p2-a", At(1, 6), 7, "cmht-south"),
  };
  for (const auto& f : facts) Apply(f);
  for (const auto& e : events) Apply(e);
  const auto before = Totals();
  EXPECT_FALSE(before.empty());
  const Frac january_allocations = Of(Month(Trust(), 1, D(4, 1)), 4);
  EXPECT_EQ(january_allocations.second, 2);

  // An amendment moves p2's allocation into February, then back: January is restated, then as it was.
  AssessmentSpec moved = facts[3];
  moved.at = At(2, 6);
  Apply(moved.Revision(1));
  EXPECT_EQ(Of(Month(Trust(), 1, D(4, 1)), 4).second, 1);
  EXPECT_EQ(Of(Month(Trust(), 2, D(4, 1)), 4).second, 1);
  AssessmentSpec back = facts[3];
  Apply(back.Revision(2));
  EXPECT_EQ(Totals(), before);

  // Another store given the same facts in another order holds the same totals.
  std::vector<std::function<void(Harness&)>> steps;
  for (const auto& f : facts) steps.push_back([f](Harness& h) { h.Apply(f); });
  for (const auto& e : events) steps.push_back([e](Harness& h) { h.Apply(e); });
  std::mt19937 rng(7);
  for (int round = 0; round < 3; ++round) {
    std::shuffle(steps.begin(), steps.end(), rng);
    Harness other;
    for (auto& step : steps) step(other);
    EXPECT_EQ(other.Totals(), Totals()) << "round " << round;
  }

  // Everything withdrawn: nothing is left, in the totals or the people.
  for (auto f : facts) Apply(f.Revision(5).Withdrawn());
  for (auto e : events) {
    e.revision = 5;
    e.withdrawn = true;
    Apply(e);
  }
  EXPECT_TRUE(Totals().empty());
  bool any_person = false;
  ASSERT_TRUE(store_
                  ->Scan(kKpisPeopleFamily, "",
                         [&](absl::string_view, absl::string_view) {
                           any_person = true;
                           return false;
                         })
                  .ok());
  EXPECT_FALSE(any_person);
}

TEST_F(KpisTest, AReportReadsABoundedNumberOfRows) {
  // Two years of reviews every 30 days for a handful of people: many rows, few read.
  for (int p = 0; p < 5; ++p) {
    for (int m = 0; m < 24; ++m) {
      const absl::CivilDay day = absl::CivilDay(2024, 1, 3 + p) + 30 * m;
      const absl::Time at =
          absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), 10, 0, 0), platform::ClinicalTimeZone());
      Apply(A(absl::StrCat("p", p), absl::StrCat("p", p, "-", m), at, 14, "crht-north", "crht")
                .Reason(m == 0 ? pbr::v1::ASSESSMENT_REASON_INITIAL : kFormal));
    }
  }
  pbr::v1::GetKpisRequest r;
  *r.mutable_scope() = Trust();
  *r.mutable_as_at() = platform::ToProto(absl::CivilDay(2025, 11, 30));
  int64_t reads = 0;
  auto report = kpis::KpiReportFor(*store_, *ShippedRules(), care::ReviewPolicy::kTrustSop, r, D(6, 1), &reads);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Of(report, 1), Frac(5, 5));
  // Stock: at most 3 years + 10 months + 30 days per part; flow: at most 30 decision days per KPI.
  EXPECT_LE(reads, 5 * (3 + 10 + 30) + 10 * 30);
  EXPECT_GT(Totals().size(), static_cast<size_t>(reads));
}

// A person's change moves the totals only by the segments and records that changed, and by exactly
// what taking away everything before and adding everything now would.
TEST(KpiAggregates, TheDifferenceIsWhatRemovingAllAndAddingAllWouldMove) {
  std::mt19937 rng(11);
  const kpis::Scope north{"cmht-north", "community_non_psychosis", "00X"};
  const kpis::Scope south{"cmht-south", "community_non_psychosis", "00Y"};
  auto random_contributions = [&] {
    kpis::Contributions c;
    for (int k = 0, n = static_cast<int>(rng() % 5); k < n; ++k) {
      kpis::StockSegment s;
      s.scope = rng() % 2 ? north : south;
      s.first = absl::CivilDay(2026, 1, 1) + static_cast<int>(rng() % 60);
      if (rng() % 2) s.last = s.first + static_cast<int>(rng() % 40);
      s.with_cluster = rng() % 2;
      s.within_review_period = rng() % 2;
      c.stock.push_back(s);
    }
    for (int k = 0, n = static_cast<int>(rng() % 6); k < n; ++k) {
      kpis::FlowRecord f;
      f.kpi = 4 + static_cast<int>(rng() % 3);
      f.scope = rng() % 2 ? north : south;
      f.reference_day = absl::CivilDay(2026, 2, 1) + static_cast<int>(rng() % 30);
      f.decided_on = f.reference_day + static_cast<int>(rng() % 10);
      f.met = rng() % 2;
      c.flow.push_back(f);
    }
    return c;
  };
  auto nonzero = [](const kpis::TotalChanges& changes) {
    kpis::TotalChanges out;
    for (const auto& [key, t] : changes) {
      if (t.count != 0 || t.met != 0) out.emplace(key, t);
    }
    return out;
  };
  for (int trial = 0; trial < 300; ++trial) {
    const kpis::Contributions before = random_contributions();
    kpis::Contributions now = random_contributions();
    // Usually most of the person's records are unchanged.
    for (size_t k = 0; k < before.stock.size(); ++k) {
      if (rng() % 3) now.stock.push_back(before.stock[k]);
    }
    for (size_t k = 0; k < before.flow.size(); ++k) {
      if (rng() % 3) now.flow.push_back(before.flow[k]);
    }
    std::shuffle(now.flow.begin(), now.flow.end(), rng);
    kpis::TotalChanges all, difference;
    kpis::AddContributions(before, -1, all);
    kpis::AddContributions(now, +1, all);
    kpis::AddDifference(before, now, difference);
    const kpis::TotalChanges expected = nonzero(all), got = nonzero(difference);
    ASSERT_EQ(got.size(), expected.size()) << "trial " << trial;
    for (const auto& [key, t] : expected) {
      ASSERT_TRUE(got.count(key)) << key;
      EXPECT_EQ(got.at(key).count, t.count) << key;
      EXPECT_EQ(got.at(key).met, t.met) << key;
    }
    // Nothing shared is visited: a person whose records are all unchanged touches no key at all.
    kpis::TotalChanges same;
    kpis::AddDifference(before, before, same);
    EXPECT_TRUE(same.empty()) << "trial " << trial;
  }
}

// ---- what the totals are derived with: a change of rules or policy must not mix into them.

TEST_F(KpisTest, TheDerivationIsTheRulesVersionAndTheReviewPolicy) {
  const std::string sop = projection_->derivation();
  EXPECT_THAT(sop, HasSubstr(ShippedRules()->care_version()));
  EXPECT_THAT(sop, HasSubstr("review-policy sop"));
  KpisProjection national(ShippedRules(), care::ReviewPolicy::kNational);
  EXPECT_THAT(national.derivation(), HasSubstr("review-policy national"));
  care::RuleData data = ShippedRules()->data();
  data.kpis.early_review = care::EarlyReview::kExcluded;
  auto changed = care::RuleSet::FromData(data, "another digest");
  ASSERT_TRUE(changed.ok()) << changed.status();
  ASSERT_NE(changed->version(), ShippedRules()->version());
  EXPECT_NE(KpisProjection(std::make_shared<care::RuleSet>(*changed), care::ReviewPolicy::kTrustSop).derivation(),
            sop);
}

// ---- the API's refusals name the field.

TEST_F(KpisTest, RefusalsNameTheField) {
  auto refused = [&](pbr::v1::GetKpisRequest r, absl::StatusCode code, const char* field) {
    auto st = api_->GetKpis(r, D(3, 15)).status();
    EXPECT_EQ(st.code(), code) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(field)) << st;
  };
  pbr::v1::GetKpisRequest ok;
  *ok.mutable_scope() = Trust();
  ok.mutable_month()->set_year(2026);
  ok.mutable_month()->set_month(3);
  EXPECT_TRUE(api_->GetKpis(ok, D(3, 15)).ok());

  auto r = ok;
  r.mutable_scope()->set_kind(pbr::v1::REPORT_SCOPE_UNSPECIFIED);
  refused(r, absl::StatusCode::kInvalidArgument, "scope.kind");
  r = ok;
  r.mutable_scope()->set_id("x");
  refused(r, absl::StatusCode::kInvalidArgument, "scope.id");
  r = ok;
  *r.mutable_scope() = Scope(pbr::v1::REPORT_SCOPE_TEAM, "no-such-team");
  refused(r, absl::StatusCode::kNotFound, "scope.id");
  *r.mutable_scope() = Scope(pbr::v1::REPORT_SCOPE_TEAM, "");
  refused(r, absl::StatusCode::kInvalidArgument, "scope.id");
  *r.mutable_scope() = Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "moon");
  refused(r, absl::StatusCode::kNotFound, "scope.id");
  *r.mutable_scope() = Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, std::string(300, 'x'));
  refused(r, absl::StatusCode::kInvalidArgument, "scope.id");
  r = ok;
  r.clear_month();
  refused(r, absl::StatusCode::kInvalidArgument, "period");
  r = ok;
  r.mutable_month()->set_month(13);
  refused(r, absl::StatusCode::kInvalidArgument, "month.month");
  r = ok;
  r.mutable_month()->set_year(1899);
  refused(r, absl::StatusCode::kInvalidArgument, "month.year");
  r = ok;
  r.mutable_month()->set_month(4);
  refused(r, absl::StatusCode::kInvalidArgument, "month");
  r = ok;
  *r.mutable_as_at() = platform::ToProto(D(3, 16));
  refused(r, absl::StatusCode::kInvalidArgument, "as_at");
  pbr::v1::CivilDate impossible;
  impossible.set_year(2026);
  impossible.set_month(2);
  impossible.set_day(30);
  *r.mutable_as_at() = impossible;
  refused(r, absl::StatusCode::kInvalidArgument, "as_at");
  *r.mutable_scope() = Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "nobody-names-this");
  *r.mutable_as_at() = platform::ToProto(D(3, 15));
  auto zeros = api_->GetKpis(r, D(3, 15));
  ASSERT_TRUE(zeros.ok()) << zeros.status();
  EXPECT_EQ(zeros->kpis_size(), 13);
  EXPECT_EQ(zeros->scope().id(), "nobody-names-this");
  EXPECT_FALSE(zeros->rule_version().empty());
}

}  // namespace
}  // namespace pbr::reporting
