#include "projections/national_measures/national_measures.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "api.h"
#include "care/national_measures.h"
#include "care/teams.h"
#include "care_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger_store.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "projections/national_measures/aggregates.h"
#include "projections/national_measures/contributions.h"
#include "projections/national_measures/queries.h"
#include "testing/process.h"

namespace pbr::reporting {
namespace {

namespace topic = platform::topic;
using absl::CivilDay;
using absl::CivilMonth;
using national::Counts;

// Noon on a clinical (UK) day: far from midnight whatever the clocks do.
absl::Time At(CivilDay d) { return absl::FromCivil(absl::CivilHour(d) + 12, platform::ClinicalTimeZone()); }
CivilDay LastDay(CivilMonth m) { return CivilDay(m + 1) - 1; }

std::shared_ptr<const care::RuleSet> Rules() {
  static const auto rules = [] {
    auto r = services::LoadRules(PBR_RULES_DIR);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      std::abort();
    }
    return *r;
  }();
  return rules;
}

CivilDay NationalDue(int cluster, CivilDay mhct) {
  return Rules()->ReviewDueDate(cluster, mhct, care::ReviewPolicy::kNational)->due;
}

pbr::v1::ReportScope Scope(pbr::v1::ReportScopeKind kind, std::string id = "") {
  pbr::v1::ReportScope s;
  s.set_kind(kind);
  s.set_id(std::move(id));
  return s;
}
const pbr::v1::ReportScope kTrust = Scope(pbr::v1::REPORT_SCOPE_TRUST);

// An assessment as allocation announces it; `effective` defaults to the MHCT day (an inpatient initial
// allocation is back-dated to its admission).
struct AssessmentSpec {
  std::string person;
  std::string id;
  CivilDay mhct;
  int cluster = 4;
  std::string team = "cmht-north";
  std::string area = "community_non_psychosis";
  std::string commissioner = "00X";
  std::optional<CivilDay> effective;
  int revision = 0;
};

class NationalMeasuresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), model_.families());
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
  }
  // Applied straight to the projection, as the consumer would after the shared rules (which these tests
  // bypass, so a cluster the rules refuse can be shown to be dropped here too).
  absl::Status TryApply(absl::string_view topic_name, const pbr::v1::EventEnvelope& e) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, At(CivilDay(2027, 1, 1)));
    platform::ConsumedEvent ev{topic_name, 0, 0, e};
    if (auto st = model_.Apply(ev, ctx); !st.ok()) return st;
    return store_->Write(batch, false);
  }
  void Apply(absl::string_view topic_name, const pbr::v1::EventEnvelope& e) {
    const absl::Status st = TryApply(topic_name, e);
    ASSERT_TRUE(st.ok()) << st;
  }
  void Assess(const AssessmentSpec& s) {
    auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, absl::StrCat("e", s.id, "-r", s.revision), s.person,
                                    At(s.mhct), At(s.mhct), "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(s.id);
    a->set_revision(s.revision);
    a->set_team_id(s.team);
    a->set_service_area(s.area);
    a->set_commissioner_id(s.commissioner);
    a->set_cluster(s.cluster);
    *a->mutable_assessed_at() = platform::ToProto(At(s.mhct));
    if (s.effective.has_value()) {
      *a->mutable_admitted_at() = platform::ToProto(At(*s.effective));
      *a->mutable_effective_at() = platform::ToProto(At(*s.effective));
    }
    Apply(topic::kAssessmentRecorded, e);
  }
  void Assess(const std::string& person, const std::string& id, CivilDay mhct, int cluster) {
    Assess({.person = person, .id = id, .mhct = mhct, .cluster = cluster});
  }
  void Withdraw(const std::string& person, const std::string& id, int revision) {
    auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, absl::StrCat("e", id, "-r", revision), person,
                                    At(CivilDay(2026, 1, 1)), At(CivilDay(2026, 1, 1)), "epr", "");
    e.mutable_assessment_recorded()->set_assessment_id(id);
    e.mutable_assessment_recorded()->set_revision(revision);
    e.mutable_assessment_recorded()->set_withdrawn(true);
    Apply(topic::kAssessmentRecorded, e);
  }
  void Care(const std::string& person, const std::string& id, pbr::v1::CareEventType type, CivilDay day,
            int revision = 0, bool withdrawn = false) {
    auto e = platform::MakeEnvelope(topic::kCareEventRecorded, absl::StrCat("c", id, "-r", revision), person, At(day),
                                    At(day), "epr", "");
    auto* c = e.mutable_care_event_recorded();
    c->set_care_event_id(id);
    c->set_revision(revision);
    c->set_withdrawn(withdrawn);
    if (!withdrawn) {
      c->set_type(type);
      c->set_team_id("cmht-north");
      *c->mutable_occurred_at() = platform::ToProto(At(day));
    }
    Apply(topic::kCareEventRecorded, e);
  }
  void Discharge(const std::string& person, const std::string& id, CivilDay day, int revision = 0) {
    Care(person, id, pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, day, revision);
  }
  void Referral(const std::string& person, const std::string& id, CivilDay day) {
    Care(person, id, pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, day);
  }

  pbr::v1::NationalMeasures Measures(const pbr::v1::ReportScope& scope, CivilMonth month, bool rounding = false) {
    auto m = NationalMeasuresAt(*store_, *Rules(), scope, month, rounding);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : pbr::v1::NationalMeasures();
  }
  // {ACC33, ACC36} of one cluster (0, 0 when absent).
  std::pair<int64_t, int64_t> Of(const pbr::v1::ReportScope& scope, CivilMonth month, int cluster) {
    const auto measures = Measures(scope, month);
    for (const auto& row : measures.clusters()) {
      if (row.cluster() == cluster) return {row.acc33(), row.acc36()};
    }
    return {0, 0};
  }
  std::pair<int64_t, int64_t> All(const pbr::v1::ReportScope& scope, CivilMonth month) {
    const auto m = Measures(scope, month);
    return {m.all().acc33(), m.all().acc36()};
  }
  // The person's national view from the facts the projection holds.
  national::NationalView ViewOf(const std::string& person) {
    auto facts = services::LoadPersonFacts(*store_, kNationalLedgerFamily, person);
    EXPECT_TRUE(facts.ok()) << facts.status();
    return national::NationalViewOf(person, *facts, *Rules());
  }

  using Pair = std::pair<int64_t, int64_t>;
  pbr::testing::TempDir dir_;
  NationalMeasuresProjection model_{Rules()};
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
};

// ---- the pure reading of a person's facts ----

TEST(NationalContributions, RunsAreTheStandingAtEveryMonthEnd) {
  // Every month end the runs cover is judged as StandingAt judges it, and none other: checked month by
  // month over random histories (back-dated records, discharges, re-referrals, invalid codes).
  std::mt19937 rng(20260711);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const CivilDay origin(2024, 1, 1);
  for (int person = 0; person < 200; ++person) {
    ledger::PersonFacts facts;
    const int n = pick(1, 6);
    for (int i = 0; i < n; ++i) {
      ledger::Assessment a;
      a.id = absl::StrCat("a", i);
      const CivilDay mhct = origin + pick(0, 900);
      a.assessed_at = At(mhct);
      a.effective_at = pick(0, 3) == 0 ? At(mhct - pick(0, 40)) : a.assessed_at;
      a.cluster = pick(0, 8) == 0 ? 9 : pick(0, 21);
      a.team_id = pick(0, 1) ? "cmht-north" : "eip-north";
      facts.Fold(a);
    }
    for (int i = 0; i < pick(0, 3); ++i) {
      ledger::CareEvent e;
      e.id = absl::StrCat("c", i);
      e.kind = pick(0, 1) ? ledger::CareEventKind::kDischargeFromService : ledger::CareEventKind::kReferralReceived;
      e.occurred_at = At(origin + pick(0, 1000));
      facts.Fold(e);
    }
    const national::NationalView view = national::NationalViewOf("p", facts, *Rules());
    const std::vector<national::Contribution> runs = national::ContributionsOf(view);
    for (size_t i = 1; i < runs.size(); ++i) {
      ASSERT_TRUE(runs[i - 1].end.has_value());
      EXPECT_LE(*runs[i - 1].end, runs[i].first) << "runs are oldest first and do not overlap";
      EXPECT_FALSE(*runs[i - 1].end == runs[i].first && runs[i - 1].standing == runs[i].standing)
          << "adjacent runs with one standing are merged";
    }
    for (CivilMonth m(2023, 12); m <= CivilMonth(2027, 6); ++m) {
      std::optional<national::Standing> from_runs;
      for (const auto& run : runs) {
        if (run.first <= m && (!run.end.has_value() || m < *run.end)) from_runs = run.standing;
      }
      const std::optional<national::Standing> direct = national::StandingAt(view, LastDay(m));
      ASSERT_EQ(from_runs.has_value(), direct.has_value()) << "person " << person << " month " << m;
      if (direct.has_value()) {
        EXPECT_EQ(from_runs->cluster, direct->cluster);
        EXPECT_EQ(from_runs->team_id, direct->team_id);
        EXPECT_EQ(from_runs->within_review_period, direct->within_review_period);
      }
    }
  }
}

ledger::Assessment Fact(const char* id, CivilDay mhct, CivilDay effective, int cluster) {
  ledger::Assessment a;
  a.id = id;
  a.assessed_at = At(mhct);
  a.effective_at = At(effective);
  a.cluster = cluster;
  a.team_id = "cmht-north";
  return a;
}

ledger::CareEvent CareFact(const char* id, ledger::CareEventKind kind, CivilDay day) {
  ledger::CareEvent e;
  e.id = id;
  e.kind = kind;
  e.occurred_at = At(day);
  return e;
}

TEST(NationalContributions, TheRecordInEffectIsTheLedgersAndAnInvalidCodeCountsNowhere) {
  // a3 is recorded after a2 but back-dated inside a1's record. It takes effect where the ledger's episode
  // for it starts, on a2's effective day, not before: at the end of January a1 (cluster 4) is the record;
  // at the end of February a3, whose code is no cluster, so the person counts nowhere.
  ledger::PersonFacts facts;
  facts.Fold(Fact("a1", CivilDay(2026, 1, 10), CivilDay(2026, 1, 10), 4));
  facts.Fold(Fact("a2", CivilDay(2026, 2, 10), CivilDay(2026, 2, 10), 11));
  facts.Fold(Fact("a3", CivilDay(2026, 2, 15), CivilDay(2026, 1, 20), 9));
  const national::NationalView view = national::NationalViewOf("p", facts, *Rules());
  ASSERT_EQ(view.records.size(), 3u);
  EXPECT_EQ(view.records[2].effective, CivilDay(2026, 1, 20));
  EXPECT_FALSE(view.records[2].national_due.has_value());
  ASSERT_EQ(view.care.episodes.size(), 3u);
  EXPECT_EQ(view.care.episodes[2].started_at, At(CivilDay(2026, 2, 10))) << "the ledger's episode for a3";
  const auto january = national::StandingAt(view, CivilDay(2026, 1, 31));
  ASSERT_TRUE(january.has_value());
  EXPECT_EQ(january->cluster, 4);
  const auto before_a2 = national::StandingAt(view, CivilDay(2026, 2, 9));
  ASSERT_TRUE(before_a2.has_value());
  EXPECT_EQ(before_a2->cluster, 4) << "a1 until a2 takes effect";
  EXPECT_FALSE(national::StandingAt(view, CivilDay(2026, 2, 28)).has_value());
}

TEST(NationalContributions, TheReferralPeriodMustBeOpenAtThePeriodEnd) {
  // A record counts only while a referral period is open at P too (opened on or before P, not discharged
  // on or before P), even one back-dated to before the period.
  const CivilDay p(2026, 1, 31);
  auto standing = [&](std::vector<ledger::CareEvent> events, CivilDay mhct) {
    ledger::PersonFacts facts;
    for (auto& e : events) facts.Fold(std::move(e));
    facts.Fold(Fact("a", mhct, CivilDay(2026, 1, 5), 4));
    return national::StandingAt(national::NationalViewOf("p", facts, *Rules()), p);
  };
  using K = ledger::CareEventKind;
  EXPECT_FALSE(standing({CareFact("r", K::kReferralReceived, p + 1)}, p + 2).has_value()) << "opened after P";
  EXPECT_TRUE(standing({CareFact("r", K::kReferralReceived, p)}, p + 2).has_value()) << "opened on P";
  EXPECT_FALSE(standing({CareFact("out", K::kDischargeFromService, p)}, CivilDay(2026, 1, 5)).has_value())
      << "discharged on P";
  EXPECT_TRUE(standing({CareFact("out", K::kDischargeFromService, p + 1)}, CivilDay(2026, 1, 5)).has_value())
      << "discharged the day after P";
}

// ---- the projection ----

TEST_F(NationalMeasuresTest, ADischargeOnThePeriodEndClosesTheReferral) {
  Assess("p1", "a1", CivilDay(2026, 1, 10), 4);
  Discharge("p1", "d1", CivilDay(2026, 3, 31));
  Assess("p2", "a2", CivilDay(2026, 1, 12), 4);
  Discharge("p2", "d2", CivilDay(2026, 4, 1));
  EXPECT_EQ(Of(kTrust, CivilMonth(2025, 12), 4), Pair(0, 0));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 1), 4), Pair(2, 2));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 2), 4), Pair(2, 2));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 3), 4), Pair(1, 1));  // p1 discharged on 31 March: closed at its end
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 4), 4), Pair(0, 0));  // p2 discharged on 1 April
  // A new referral period with its own assessment counts again.
  Referral("p1", "r1", CivilDay(2026, 6, 2));
  Assess("p1", "a3", CivilDay(2026, 6, 9), 11);
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 5), 11), Pair(0, 0));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 6), 11), Pair(1, 1));
}

TEST_F(NationalMeasuresTest, ARecordBackDatedBeforeItsReferralCountsFromTheReferral) {
  // Referred on 3 February, admitted on 29 January: the allocation's record starts on the admission, but
  // at the end of January no referral period was open yet.
  Referral("p1", "r1", CivilDay(2026, 2, 3));
  Assess({.person = "p1", .id = "a1", .mhct = CivilDay(2026, 2, 5), .cluster = 14, .team = "ward-1",
          .area = "inpatient", .effective = CivilDay(2026, 1, 29)});
  EXPECT_EQ(ViewOf("p1").records.at(0).effective, CivilDay(2026, 1, 29));
  EXPECT_EQ(All(kTrust, CivilMonth(2026, 1)), Pair(0, 0));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 2), 14), Pair(1, 1));
}

TEST_F(NationalMeasuresTest, ARecordEndingOnThePeriodEndIsClosedThen) {
  // p1's cluster 4 record ends on 31 March, when the review's cluster 11 takes effect: at the end of
  // March p1 counts in cluster 11 only.
  Assess("p1", "a1", CivilDay(2026, 1, 10), 4);
  Assess("p1", "a2", CivilDay(2026, 3, 31), 11);
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 2), 4), Pair(1, 1));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 3), 4), Pair(0, 0));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 3), 11), Pair(1, 1));
  // p2's cluster 4 record ends on 31 March too, with an assessment whose code is no cluster: at the end
  // of March p2 has no open record with a valid code and is not counted.
  Assess("p2", "b1", CivilDay(2026, 1, 10), 4);
  Assess("p2", "b2", CivilDay(2026, 3, 31), 9);
  EXPECT_EQ(All(kTrust, CivilMonth(2026, 2)), Pair(2, 2));
  EXPECT_EQ(All(kTrust, CivilMonth(2026, 3)), Pair(1, 1));
  // An open record with a code that is no cluster at all (22) counts nowhere either.
  Assess("p3", "c1", CivilDay(2026, 1, 10), 22);
  EXPECT_EQ(All(kTrust, CivilMonth(2026, 2)), Pair(2, 2));
  const auto march = Measures(kTrust, CivilMonth(2026, 3));
  for (const auto& row : march.clusters()) {
    EXPECT_TRUE(care::IsValidClusterId(row.cluster())) << row.DebugString();
  }
}

TEST_F(NationalMeasuresTest, DueOnThePeriodEndIsOutsideDueTheDayAfterIsWithin) {
  const CivilDay march_end(2026, 3, 31);
  // Cluster 7: 12 months nationally (6 under the trust SOP, which these measures never use).
  ASSERT_EQ(NationalDue(7, CivilDay(2025, 3, 31)), march_end);
  ASSERT_EQ(NationalDue(7, CivilDay(2025, 4, 1)), march_end + 1);
  ASSERT_LT(Rules()->ReviewDueDate(7, CivilDay(2025, 6, 15), care::ReviewPolicy::kTrustSop)->due, march_end);
  Assess("due-on", "a1", CivilDay(2025, 3, 31), 7);
  Assess("due-after", "a2", CivilDay(2025, 4, 1), 7);
  Assess("sop-overdue", "a3", CivilDay(2025, 6, 15), 7);
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 2), 7), Pair(3, 3));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 3), 7), Pair(3, 2));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 4), 7), Pair(3, 1));
  // A period counted in days (cluster 14: 28 days).
  ASSERT_EQ(NationalDue(14, CivilDay(2026, 3, 3)), march_end);
  Assess("days", "a4", CivilDay(2026, 3, 3), 14);
  Assess("days-after", "a5", CivilDay(2026, 3, 4), 14);
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 3), 14), Pair(2, 1));
  const auto m = Measures(kTrust, CivilMonth(2026, 3));
  EXPECT_EQ(m.all().acc33(), 5);
  EXPECT_EQ(m.all().acc36(), 3);
  EXPECT_DOUBLE_EQ(m.all().acc37(), 100.0 * 3 / 5);
  EXPECT_EQ(platform::FromProto(m.period_end()), march_end);
  EXPECT_EQ(m.rule_version(), Rules()->review_periods().version);
}

TEST_F(NationalMeasuresTest, ABackDatedRecordTakesEffectAsTheLedgersEpisodeTiesGoingToTheLater) {
  // a3, recorded on 20 February after a2 but back-dated to 10 January, takes effect where the ledger's
  // episode for it can start: on 5 February, when a2 took effect, and being the later in ledger order on
  // that day it is the record from then; January keeps a1's.
  Assess("p1", "a1", CivilDay(2026, 1, 10), 4);
  Assess("p1", "a2", CivilDay(2026, 2, 5), 11);
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 1), 4), Pair(1, 1));
  Assess({.person = "p1", .id = "a3", .mhct = CivilDay(2026, 2, 20), .cluster = 7,
          .effective = CivilDay(2026, 1, 10)});
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 1), 4), Pair(1, 1));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 1), 7), Pair(0, 0));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 2), 7), Pair(1, 1));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 2), 11), Pair(0, 0));
  // Back-dated onto the very start of b1's episode: the tie goes to b3, the later in ledger order.
  Assess("p2", "b1", CivilDay(2026, 1, 10), 4);
  Assess({.person = "p2", .id = "b3", .mhct = CivilDay(2026, 2, 20), .cluster = 7,
          .effective = CivilDay(2026, 1, 10)});
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 1), 7), Pair(1, 1));
  EXPECT_EQ(All(kTrust, CivilMonth(2026, 1)), Pair(2, 2));
}

TEST_F(NationalMeasuresTest, ABackDatedInpatientAllocationCountsFromItsAdmission) {
  // Admitted on 29 January, allocated on 3 February: the record (and the referral period the allocation
  // opens) starts on the admission day, so the person counts at the end of January. The review clock runs
  // from the MHCT date: 28 days for cluster 14, due on 3 March.
  const CivilDay mhct(2026, 2, 3);
  ASSERT_EQ(NationalDue(14, mhct), CivilDay(2026, 3, 3));
  EXPECT_EQ(All(kTrust, CivilMonth(2026, 1)), Pair(0, 0));
  Assess({.person = "p1", .id = "a1", .mhct = mhct, .cluster = 14, .team = "ward-1", .area = "inpatient",
          .effective = CivilDay(2026, 1, 29)});
  EXPECT_EQ(All(kTrust, CivilMonth(2025, 12)), Pair(0, 0));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 1), 14), Pair(1, 1));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 2), 14), Pair(1, 1));
  EXPECT_EQ(Of(kTrust, CivilMonth(2026, 3), 14), Pair(1, 0));
  EXPECT_EQ(Of(Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "inpatient"), CivilMonth(2026, 1), 14), Pair(1, 1));
}

TEST_F(NationalMeasuresTest, AmendmentsAndWithdrawalsRestatePastMonths) {
  const auto north = Scope(pbr::v1::REPORT_SCOPE_TEAM, "cmht-north");
  const auto eip = Scope(pbr::v1::REPORT_SCOPE_TEAM, "eip-north");
  Assess("p1", "a1", CivilDay(2026, 1, 10), 4);
  Discharge("p1", "d1", CivilDay(2026, 4, 15));
  EXPECT_EQ(Of(north, CivilMonth(2026, 3), 4), Pair(1, 1));
  // The allocation is corrected: another cluster and team, from the start.
  Assess({.person = "p1", .id = "a1", .mhct = CivilDay(2026, 1, 10), .cluster = 11, .team = "eip-north",
          .area = "community_psychosis", .revision = 1});
  for (CivilMonth m(2026, 1); m <= CivilMonth(2026, 3); ++m) {
    EXPECT_EQ(All(north, m), Pair(0, 0)) << m;
    EXPECT_EQ(Of(eip, m, 11), Pair(1, 1)) << m;
  }
  EXPECT_EQ(All(eip, CivilMonth(2026, 4)), Pair(0, 0));
  // A stale revision changes nothing.
  Assess({.person = "p1", .id = "a1", .mhct = CivilDay(2026, 1, 10), .cluster = 4});
  EXPECT_EQ(Of(eip, CivilMonth(2026, 2), 11), Pair(1, 1));
  // The discharge is withdrawn: the person counts on, every month from then.
  Care("p1", "d1", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, CivilDay(2026, 4, 15), 1, true);
  EXPECT_EQ(Of(eip, CivilMonth(2026, 4), 11), Pair(1, 1));
  EXPECT_EQ(Of(eip, CivilMonth(2026, 12), 11), Pair(1, 1));
  EXPECT_EQ(Of(eip, CivilMonth(2027, 1), 11), Pair(1, 0));  // national 12 months: due on 10 January 2027
  // The assessment is withdrawn: the person counts nowhere, in any month, and nothing is kept of them.
  Withdraw("p1", "a1", 2);
  for (CivilMonth m(2025, 12); m <= CivilMonth(2027, 3); ++m) EXPECT_EQ(All(kTrust, m), Pair(0, 0)) << m;
  EXPECT_FALSE(store_->Get(kNationalPersonsFamily, "p1")->has_value());
  int deltas = 0;
  ASSERT_TRUE(store_->Scan(kNationalDeltasFamily, "", [&](absl::string_view, absl::string_view) {
    ++deltas;
    return true;
  }).ok());
  EXPECT_EQ(deltas, 0) << "every delta came back to nothing and was deleted";
}

TEST_F(NationalMeasuresTest, EachScopeCountsItsOwnRecords) {
  Assess({.person = "p1", .id = "a1", .mhct = CivilDay(2026, 1, 5), .cluster = 4});
  Assess({.person = "p2", .id = "a2", .mhct = CivilDay(2026, 1, 6), .cluster = 4, .commissioner = "00Y"});
  Assess({.person = "p3", .id = "a3", .mhct = CivilDay(2026, 1, 7), .cluster = 11, .team = "eip-north",
          .area = "community_psychosis", .commissioner = ""});
  Assess({.person = "p4", .id = "a4", .mhct = CivilDay(2025, 1, 7), .cluster = 4, .team = "cmht-south"});
  const CivilMonth m(2026, 2);
  EXPECT_EQ(Of(kTrust, m, 4), Pair(3, 2));  // p4's review fell due in July 2025
  EXPECT_EQ(Of(kTrust, m, 11), Pair(1, 1));
  EXPECT_EQ(All(kTrust, m), Pair(4, 3));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_TEAM, "cmht-north"), m), Pair(2, 2));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_TEAM, "cmht-south"), m), Pair(1, 0));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_TEAM, "eip-north"), m), Pair(1, 1));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "community_non_psychosis"), m), Pair(3, 2));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "community_psychosis"), m), Pair(1, 1));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "00X"), m), Pair(2, 1));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "00Y"), m), Pair(1, 1));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, std::string(care::kUnknownCommissioner)), m), Pair(1, 1));
  EXPECT_EQ(All(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "00Z"), m), Pair(0, 0));
  const auto measures = Measures(kTrust, m);
  const auto& clusters = measures.clusters();
  ASSERT_EQ(clusters.size(), 2);
  EXPECT_EQ(clusters[0].cluster(), 4);  // ascending
  EXPECT_EQ(clusters[1].cluster(), 11);
}

TEST_F(NationalMeasuresTest, PublicationRoundingSuppressesSmallCountsAndKeepsAcc37Exact) {
  // 13 people in cluster 4, 4 of them out of their review period; 3 in cluster 11.
  for (int i = 0; i < 13; ++i) {
    Assess(absl::StrCat("p", i), absl::StrCat("a", i), i < 4 ? CivilDay(2025, 1, 10) : CivilDay(2026, 1, 10), 4);
  }
  for (int i = 0; i < 3; ++i) Assess(absl::StrCat("q", i), absl::StrCat("b", i), CivilDay(2026, 1, 10), 11);
  const CivilMonth m(2026, 2);
  const auto exact = Measures(kTrust, m, false);
  ASSERT_EQ(exact.clusters_size(), 2);
  EXPECT_FALSE(exact.publication_rounding());
  EXPECT_EQ(exact.clusters(0).acc33(), 13);
  EXPECT_EQ(exact.clusters(0).acc36(), 9);
  const auto published = Measures(kTrust, m, true);
  EXPECT_TRUE(published.publication_rounding());
  ASSERT_EQ(published.clusters_size(), 2);  // rows are those with people before rounding
  const auto& c4 = published.clusters(0);
  const care::PublishedNationalMeasure expect4 = care::PublishNationalMeasure(13, 9);
  EXPECT_EQ(c4.acc33(), expect4.acc33.value);
  EXPECT_EQ(c4.acc36(), expect4.acc36.value);
  EXPECT_DOUBLE_EQ(c4.acc37(), expect4.acc37);
  EXPECT_FALSE(c4.acc33_suppressed());
  const auto& c11 = published.clusters(1);
  EXPECT_EQ(c11.cluster(), 11);
  EXPECT_TRUE(c11.acc33_suppressed());
  EXPECT_TRUE(c11.acc36_suppressed());
  EXPECT_TRUE(c11.acc37_suppressed());
  EXPECT_EQ(c11.acc33(), 0);
  const care::PublishedNationalMeasure expect_all = care::PublishNationalMeasure(16, 12);
  EXPECT_EQ(published.all().acc33(), expect_all.acc33.value);
  EXPECT_EQ(published.all().acc36(), expect_all.acc36.value);
  EXPECT_DOUBLE_EQ(published.all().acc37(), expect_all.acc37);
}

// Random histories, applied in a random order with amendments and withdrawals: every scope's figures at
// every month end equal the people counted one by one from the facts the projection holds, and they are
// answered from the deltas alone.
TEST_F(NationalMeasuresTest, TheDeltasAlwaysSumToThePeopleCountedOneByOne) {
  std::mt19937 rng(11);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const CivilDay origin(2024, 1, 1);
  const std::vector<std::string> teams = {"cmht-north", "cmht-south", "eip-north"};
  const std::vector<std::string> commissioners = {"00X", "00Y", ""};
  std::vector<std::function<void()>> events;
  std::vector<std::string> people;
  for (int p = 0; p < 40; ++p) {
    const std::string person = absl::StrCat("p", p);
    people.push_back(person);
    for (int i = 0; i < pick(1, 4); ++i) {
      AssessmentSpec s{.person = person, .id = absl::StrCat(person, "-a", i), .mhct = origin + pick(0, 800),
                       .cluster = pick(0, 21)};
      s.team = teams[pick(0, 2)];
      s.area = s.team == "eip-north" ? "community_psychosis" : "community_non_psychosis";
      s.commissioner = commissioners[pick(0, 2)];
      if (pick(0, 4) == 0) s.effective = s.mhct - pick(0, 20);
      events.push_back([this, s] { Assess(s); });
      if (pick(0, 5) == 0) {  // amended later: another cluster and day
        AssessmentSpec amended = s;
        amended.revision = 1;
        amended.cluster = pick(0, 21);
        amended.mhct = s.mhct + pick(0, 60);
        amended.effective.reset();
        events.push_back([this, amended] { Assess(amended); });
      }
      if (pick(0, 7) == 0) events.push_back([this, s] { Withdraw(s.person, s.id, 5); });
    }
    for (int i = 0; i < pick(0, 2); ++i) {
      const CivilDay day = origin + pick(0, 900);
      const std::string id = absl::StrCat(person, "-c", i);
      const auto type = pick(0, 1) ? pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE : pbr::v1::CARE_EVENT_REFERRAL_RECEIVED;
      events.push_back([this, person, id, type, day] { Care(person, id, type, day); });
    }
  }
  std::shuffle(events.begin(), events.end(), rng);
  for (const auto& apply : events) apply();

  std::vector<national::NationalView> views;
  for (const auto& person : people) views.push_back(ViewOf(person));
  std::vector<pbr::v1::ReportScope> scopes = {kTrust, Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "community_psychosis"),
                                              Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "unknown")};
  for (const auto& team : teams) scopes.push_back(Scope(pbr::v1::REPORT_SCOPE_TEAM, team));
  auto in_scope = [](const national::Standing& s, const pbr::v1::ReportScope& scope) {
    switch (scope.kind()) {
      case pbr::v1::REPORT_SCOPE_TEAM: return s.team_id == scope.id();
      case pbr::v1::REPORT_SCOPE_SERVICE_AREA: return s.service_area == scope.id();
      case pbr::v1::REPORT_SCOPE_COMMISSIONER: return s.commissioner_id == scope.id();
      default: return true;
    }
  };
  std::map<std::tuple<int, int, int>, pbr::v1::NationalMeasures> answered;  // scope, month, -> answer
  int64_t counted = 0;
  for (size_t k = 0; k < scopes.size(); ++k) {
    for (CivilMonth m(2023, 12); m <= CivilMonth(2026, 12); ++m) {
      std::map<int, Counts> expected;
      for (const auto& view : views) {
        const auto s = national::StandingAt(view, LastDay(m));
        if (!s.has_value() || !in_scope(*s, scopes[k])) continue;
        ++expected[s->cluster].acc33;
        if (s->within_review_period) ++expected[s->cluster].acc36;
        ++counted;
      }
      const auto got = Measures(scopes[k], m);
      ASSERT_EQ(got.clusters_size(), static_cast<int>(expected.size())) << scopes[k].DebugString() << m;
      for (const auto& row : got.clusters()) {
        EXPECT_EQ(row.acc33(), expected[row.cluster()].acc33) << scopes[k].DebugString() << m << " " << row.cluster();
        EXPECT_EQ(row.acc36(), expected[row.cluster()].acc36) << scopes[k].DebugString() << m << " " << row.cluster();
      }
      answered[{static_cast<int>(k), m.year(), m.month()}] = got;
    }
  }
  EXPECT_GT(counted, 0) << "the histories put people in the measures";

  // The answers come from the deltas alone: with every person's facts and runs gone, they are the same.
  rocksdb::WriteBatch wipe;
  for (absl::string_view family : {kNationalPersonsFamily, kNationalLedgerFamily}) {
    ASSERT_TRUE(store_->Scan(family, "", [&](absl::string_view key, absl::string_view) {
      wipe.Delete(store_->Family(family), rocksdb::Slice(key.data(), key.size()));
      return true;
    }).ok());
  }
  ASSERT_TRUE(store_->Write(wipe, false).ok());
  for (const auto& [key, before] : answered) {
    const auto& [k, year, month] = key;
    EXPECT_EQ(Measures(scopes[k], CivilMonth(year, month)).SerializeAsString(), before.SerializeAsString());
  }
}

TEST_F(NationalMeasuresTest, EventsWithoutTheirIdentityAreRefused) {
  auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, "e1", "p1", At(CivilDay(2026, 1, 1)),
                                  At(CivilDay(2026, 1, 1)), "epr", "");
  e.mutable_assessment_recorded()->set_assessment_id("a1");
  EXPECT_EQ(TryApply(topic::kAssessmentRecorded, e).code(), absl::StatusCode::kInvalidArgument);  // no assessed_at
  e.clear_person_id();
  EXPECT_EQ(TryApply(topic::kAssessmentRecorded, e).code(), absl::StatusCode::kInvalidArgument);
  auto c = platform::MakeEnvelope(topic::kCareEventRecorded, "c1", "p1", At(CivilDay(2026, 1, 1)),
                                  At(CivilDay(2026, 1, 1)), "epr", "");
  EXPECT_EQ(TryApply(topic::kCareEventRecorded, c).code(), absl::StatusCode::kInvalidArgument);  // no id
  // A face-to-face contact changes no one's figures and writes no delta.
  Assess("p1", "a1", CivilDay(2026, 1, 10), 4);
  Care("p1", "f1", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, CivilDay(2026, 1, 20));
  EXPECT_EQ(All(kTrust, CivilMonth(2026, 1)), Pair(1, 1));
}

// ---- the API ----

TEST_F(NationalMeasuresTest, TheApiChecksTheScopeAndMonthNamingTheField) {
  platform::ManualClock clock(At(CivilDay(2026, 7, 15)));
  ReportingApi api(*store_, Rules(), &clock);
  Assess("p1", "a1", CivilDay(2026, 1, 10), 4);
  auto request = [](pbr::v1::ReportScope scope, int year, int month) {
    pbr::v1::GetNationalMeasuresRequest r;
    *r.mutable_scope() = std::move(scope);
    r.mutable_month()->set_year(year);
    r.mutable_month()->set_month(month);
    return r;
  };
  auto ok = api.GetNationalMeasures(request(kTrust, 2026, 7));  // the current month
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->all().acc33(), 1);
  EXPECT_EQ(platform::FromProto(ok->period_end()), CivilDay(2026, 7, 31));
  EXPECT_EQ(ok->scope().kind(), pbr::v1::REPORT_SCOPE_TRUST);

  auto expect_error = [&](const pbr::v1::GetNationalMeasuresRequest& r, absl::StatusCode code,
                          const std::string& starts) {
    auto got = api.GetNationalMeasures(r);
    EXPECT_EQ(got.status().code(), code) << r.DebugString() << got.status();
    EXPECT_THAT(std::string(got.status().message()), ::testing::StartsWith(starts)) << r.DebugString();
  };
  expect_error(request(kTrust, 2026, 8), absl::StatusCode::kInvalidArgument,
               "month: 2026-08 is after the current month 2026-07");
  expect_error(request(Scope(pbr::v1::REPORT_SCOPE_UNSPECIFIED), 2026, 1), absl::StatusCode::kInvalidArgument,
               "scope.kind");
  expect_error(request(Scope(static_cast<pbr::v1::ReportScopeKind>(17), "x"), 2026, 1),
               absl::StatusCode::kInvalidArgument, "scope.kind");
  expect_error(request(Scope(pbr::v1::REPORT_SCOPE_TRUST, "x"), 2026, 1), absl::StatusCode::kInvalidArgument,
               "scope.id");
  expect_error(request(Scope(pbr::v1::REPORT_SCOPE_TEAM), 2026, 1), absl::StatusCode::kInvalidArgument, "scope.id");
  expect_error(request(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, std::string(129, 'c')), 2026, 1),
               absl::StatusCode::kInvalidArgument, "scope.id");
  expect_error(request(kTrust, 1899, 1), absl::StatusCode::kInvalidArgument, "month.year");
  expect_error(request(kTrust, 3000, 1), absl::StatusCode::kInvalidArgument, "month.year");
  expect_error(request(kTrust, 2026, 0), absl::StatusCode::kInvalidArgument, "month.month");
  expect_error(request(kTrust, 2026, 13), absl::StatusCode::kInvalidArgument, "month.month");
  pbr::v1::GetNationalMeasuresRequest no_month;
  *no_month.mutable_scope() = kTrust;
  expect_error(no_month, absl::StatusCode::kInvalidArgument, "month: missing");
  expect_error(request(Scope(pbr::v1::REPORT_SCOPE_TEAM, "no-such-team"), 2026, 1), absl::StatusCode::kNotFound,
               "scope.id: 'no-such-team' is not a team");
  expect_error(request(Scope(pbr::v1::REPORT_SCOPE_SERVICE_AREA, "no_such_area"), 2026, 1),
               absl::StatusCode::kNotFound, "scope.id: 'no_such_area' is not a service area");
  // Malformed fields are reported before anything is looked up, all at once.
  auto both = api.GetNationalMeasures(request(Scope(pbr::v1::REPORT_SCOPE_TEAM, "no-such-team"), 2026, 13));
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument);
  // A commissioner nobody names, a registered team nobody is in: zeros, not errors.
  auto nobody = api.GetNationalMeasures(request(Scope(pbr::v1::REPORT_SCOPE_COMMISSIONER, "00Q"), 2026, 1));
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  EXPECT_EQ(nobody->clusters_size(), 0);
  EXPECT_EQ(nobody->all().acc33(), 0);
  EXPECT_EQ(nobody->all().acc37(), 0);
  auto empty_team = api.GetNationalMeasures(request(Scope(pbr::v1::REPORT_SCOPE_TEAM, "cmht-south"), 2026, 1));
  ASSERT_TRUE(empty_team.ok()) << empty_team.status();
  EXPECT_EQ(empty_team->all().acc33(), 0);
  // Through gRPC, as a client sees it.
  pbr::v1::NationalMeasures reply;
  const auto r = request(kTrust, 2026, 9);
  EXPECT_EQ(api.GetNationalMeasures(nullptr, &r, &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const auto fine = request(Scope(pbr::v1::REPORT_SCOPE_TEAM, "cmht-north"), 2026, 2);
  ASSERT_TRUE(api.GetNationalMeasures(nullptr, &fine, &reply).ok());
  EXPECT_EQ(reply.all().acc33(), 1);
}

// What the runs are derived with: the rule set's national review periods and cluster codes.
TEST(NationalDerivation, IsTheRulesVersion) {
  EXPECT_EQ(NationalMeasuresProjection(Rules()).derivation(), absl::StrCat("rules ", Rules()->care_version()));
}

}  // namespace
}  // namespace pbr::reporting
