// The dashboard's JSON answers against the projections they read and the gRPC answers for the same data.
#include "dashboard/dashboard.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "care/kpi.h"
#include "care_bridge.h"
#include "shipped_rules.h"
#include "dashboard/gauges.h"
#include "dashboard/page_assets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "platform/clock.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/projection.h"
#include "projections/caseload/caseload.h"
#include "projections/kpis/kpis.h"
#include "projections/national_measures/national_measures.h"
#include "projections/outcome_summaries/outcome_summaries.h"
#include "projections/tariff/tariff.h"
#include "testing/process.h"

namespace pbr::reporting {
namespace {

namespace topic = platform::topic;
using Json = nlohmann::json;

absl::Time T(int day) { return absl::FromUnixSeconds(1'767'225'600 + day * 86'400 + 10 * 3600); }  // day 0 = 2026-01-01
absl::CivilDay Day(int day) { return platform::ClinicalDay(T(day)); }
constexpr int kToday = 400;

const std::shared_ptr<const care::RuleSet>& Rules() { return services::ShippedRules(); }

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Rules(), nullptr);
    projections_ = {std::make_shared<CaseloadProjection>(Rules()), std::make_shared<KpisProjection>(Rules(), care::ReviewPolicy::kTrustSop),
                    std::make_shared<NationalMeasuresProjection>(Rules()), std::make_shared<OutcomeSummariesProjection>()};
    store_ = *platform::Store::Open(dir_.path(), platform::FamiliesOf(kCaseloadFamilies, kNationalFamilies, kKpisFamilies,
                                                                      kTariffFamilies, kOutcomeSummariesFamilies));
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    api_ = std::make_unique<ReportingApi>(*store_, Rules(), &clock_);
    dashboard_ = std::make_unique<Dashboard>(*store_, Rules(), *api_, clock_,
                                             DashboardStatusSource{T(kToday) - absl::Hours(1), [this] { return progress_; }});
  }
  void Apply(absl::string_view topic_name, const pbr::v1::EventEnvelope& e) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, T(kToday));
    platform::ConsumedEvent ev{topic_name, 0, 0, e};
    for (const auto& p : projections_) {
      const auto topics = p->topics();
      if (std::find(topics.begin(), topics.end(), topic_name) == topics.end()) continue;
      ASSERT_TRUE(p->Apply(ev, ctx).ok()) << p->name();
    }
    ASSERT_TRUE(store_->Write(batch, false).ok());
  }
  // A person on `team`'s caseload in `cluster` from an initial allocation on `day`, for `commissioner`.
  void Allocate(const std::string& person, int day, const std::string& team, int cluster,
                const std::string& commissioner = "") {
    auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, "e-" + person, person, T(day), T(day), "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id("a-" + person);
    a->set_team_id(team);
    a->set_cluster(cluster);
    a->set_commissioner_id(commissioner);
    a->set_clinician_id("clin");
    *a->mutable_assessed_at() = platform::ToProto(T(day));
    Apply(topic::kAssessmentRecorded, e);
  }
  // The scheduler's announcement of the person's review, due on `due_day`.
  void Announce(const std::string& person, int mhct_day, int cluster, pbr::v1::ReviewState state, int due_day) {
    auto e = platform::MakeEnvelope(topic::kReviewDue, absl::StrCat("r", ++announcements_), person, T(1), T(1), "", "");
    auto* r = e.mutable_review_due();
    r->set_basis_assessment_id("a-" + person);
    r->set_state(state);
    r->set_cluster(cluster);
    r->set_rule_version("test");
    *r->mutable_latest_mhct_date() = platform::ToProto(Day(mhct_day));
    *r->mutable_due_date() = platform::ToProto(Day(due_day));
    *r->mutable_window_opens() = platform::ToProto(Day(due_day - 10));
    Apply(topic::kReviewDue, e);
  }
  // Outcomes' announcement of the person's referral period: counted under `team` on `day`, paired with
  // this change in the HoNOS total, judged `reliable`.
  void Outcome(const std::string& person, const std::string& team, int day, int total_change,
               pbr::v1::ReliableChange reliable) {
    auto e = platform::MakeEnvelope(topic::kOutcomeRecorded, absl::StrCat("o", ++announcements_), person, T(day), T(day), "", "");
    auto* o = e.mutable_outcome_recorded();
    o->set_assessment_id("a2-" + person);
    o->mutable_measures()->set_assessment_id("a2-" + person);
    o->mutable_measures()->set_referral_id("ref-" + person);
    auto* ep = o->mutable_episode();
    ep->set_referral_id("ref-" + person);
    ep->set_first_assessment_id("a-" + person);
    ep->set_paired(true);
    ep->set_team_id(team);
    *ep->mutable_counted_on() = platform::ToProto(Day(day));
    ep->mutable_change()->set_total_change(total_change);
    ep->mutable_change()->set_reliable_change(reliable);
    Apply(topic::kOutcomeRecorded, e);
  }
  Json Get(absl::StatusOr<std::string> body) {
    EXPECT_TRUE(body.ok()) << body.status();
    return body.ok() ? Json::parse(*body) : Json();
  }
  DashboardQuery Query(std::map<std::string, std::string> params = {}) {
    auto q = dashboard_->ParseQuery(platform::HttpRequest{"/api/v1/dashboard", params});
    EXPECT_TRUE(q.ok()) << q.status();
    return q.ok() ? *q : DashboardQuery{};
  }
  // Three overdue reviews (two north, one south) and two due soon.
  void LoadReviews() {
    Allocate("p-old", 100, "cmht-north", 4, "00X");
    Announce("p-old", 100, 4, pbr::v1::REVIEW_STATE_OVERDUE, 280);
    Allocate("p-mid", 150, "cmht-north", 4, "00Y");
    Announce("p-mid", 150, 4, pbr::v1::REVIEW_STATE_OVERDUE, 330);
    Allocate("p-south", 200, "cmht-south", 11);
    Announce("p-south", 200, 11, pbr::v1::REVIEW_STATE_OVERDUE, 380);
    Allocate("p-due", 225, "cmht-north", 3);
    Announce("p-due", 225, 3, pbr::v1::REVIEW_STATE_DUE, kToday + 3);
    Allocate("p-later", 230, "cmht-south", 3);
    Announce("p-later", 230, 3, pbr::v1::REVIEW_STATE_DUE, kToday + 9);  // in its window, not due within 7 days
    Allocate("p-quiet", 390, "cmht-north", 3);                             // nothing announced: upcoming
  }

  pbr::testing::TempDir dir_;
  platform::ManualClock clock_{T(kToday)};
  std::vector<std::shared_ptr<platform::Projection>> projections_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::unique_ptr<ReportingApi> api_;
  std::unique_ptr<Dashboard> dashboard_;
  platform::Consumer::Progress progress_{.caught_up = true, .lag = 0};
  int announcements_ = 0;
};

TEST_F(DashboardTest, OverdueReviewsOldestFirstWithDaysOverdueAndTheirGroups) {
  LoadReviews();
  const Json r = Get(dashboard_->Reviews(Query()));
  EXPECT_EQ(r["today"], absl::FormatCivilTime(Day(kToday)));
  EXPECT_EQ(r["overdue_total"], 3);
  ASSERT_EQ(r["overdue"].size(), 3u);
  EXPECT_EQ(r["overdue"][0]["person_id"], "p-old");
  EXPECT_EQ(r["overdue"][0]["days_overdue"], kToday - 280);
  EXPECT_EQ(r["overdue"][0]["due_date"], absl::FormatCivilTime(Day(280)));
  EXPECT_EQ(r["overdue"][1]["person_id"], "p-mid");
  EXPECT_EQ(r["overdue"][2]["person_id"], "p-south");
  EXPECT_EQ(r["overdue"][2]["days_overdue"], kToday - 380);
  ASSERT_EQ(r["overdue_by_team_cluster"].size(), 2u);
  EXPECT_EQ(r["overdue_by_team_cluster"][0], (Json{{"team_id", "cmht-north"}, {"cluster", 4}, {"overdue", 2},
                                                    {"oldest_due_date", absl::FormatCivilTime(Day(280))},
                                                    {"most_days_overdue", kToday - 280}}));
  EXPECT_EQ(r["due_soon_total"], 1);
  EXPECT_EQ(r["due_soon"][0]["person_id"], "p-due");
  EXPECT_EQ(r["due_soon_until"], absl::FormatCivilTime(Day(kToday + 6)));
}

TEST_F(DashboardTest, OverdueCountsEqualTheGrpcCaseloads) {
  LoadReviews();
  const Json r = Get(dashboard_->Reviews(Query()));
  int64_t from_caseloads = 0;
  for (const std::string team : {"cmht-north", "cmht-south"}) {
    pbr::v1::GetCaseloadRequest req;
    req.set_team_id(team);
    auto c = api_->GetCaseload(req);
    ASSERT_TRUE(c.ok()) << c.status();
    from_caseloads += c->reviews_overdue();
    const Json one = Get(dashboard_->Reviews(Query({{"team", team}})));
    EXPECT_EQ(one["overdue_total"], c->reviews_overdue()) << team;
  }
  EXPECT_EQ(r["overdue_total"], from_caseloads);
}

TEST_F(DashboardTest, FiltersByTeamServiceAreaAndCommissioner) {
  LoadReviews();
  EXPECT_EQ(Get(dashboard_->Reviews(Query({{"team", "cmht-south"}})))["overdue_total"], 1);
  EXPECT_EQ(Get(dashboard_->Reviews(Query({{"service_area", "community_non_psychosis"}})))["overdue_total"], 3);
  EXPECT_EQ(Get(dashboard_->Reviews(Query({{"service_area", "crht"}})))["overdue_total"], 0);
  const Json x = Get(dashboard_->Reviews(Query({{"commissioner", "00X"}})));
  ASSERT_EQ(x["overdue_total"], 1);
  EXPECT_EQ(x["overdue"][0]["person_id"], "p-old");
  // An assessment naming no commissioner counts under "unknown", as the KPIs count it.
  EXPECT_EQ(Get(dashboard_->Reviews(Query({{"commissioner", "unknown"}})))["overdue_total"], 1);
}

TEST_F(DashboardTest, AReviewLeavesTheListWhenThePersonIsReviewedOrDischarged) {
  LoadReviews();
  // A new assessment is a new basis: the old announcement no longer holds, and nothing new is announced yet.
  auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, "e-review", "p-old", T(399), T(399), "epr", "");
  auto* a = e.mutable_assessment_recorded();
  a->set_assessment_id("a-review");
  a->set_team_id("cmht-north");
  a->set_cluster(4);
  *a->mutable_assessed_at() = platform::ToProto(T(399));
  Apply(topic::kAssessmentRecorded, e);
  const Json r = Get(dashboard_->Reviews(Query()));
  EXPECT_EQ(r["overdue_total"], 2);
  EXPECT_EQ(r["overdue"][0]["person_id"], "p-mid");
}

// Due soon is today and the 6 days after; the day before today is overdue by 1 whatever was announced.
TEST_F(DashboardTest, TheSevenDayWindowAndADueDateThatHasJustPassed) {
  Allocate("p-today", 300, "cmht-north", 3);
  Announce("p-today", 300, 3, pbr::v1::REVIEW_STATE_DUE, kToday);
  Allocate("p-last", 300, "cmht-north", 3);
  Announce("p-last", 300, 3, pbr::v1::REVIEW_STATE_DUE, kToday + 6);
  Allocate("p-out", 300, "cmht-north", 3);
  Announce("p-out", 300, 3, pbr::v1::REVIEW_STATE_DUE, kToday + 7);
  // Announced due yesterday; the scheduler has not yet announced it overdue.
  Allocate("p-yesterday", 300, "cmht-north", 3);
  Announce("p-yesterday", 300, 3, pbr::v1::REVIEW_STATE_DUE, kToday - 1);
  const Json r = Get(dashboard_->Reviews(Query()));
  ASSERT_EQ(r["due_soon_total"], 2);
  EXPECT_EQ(r["due_soon"][0]["person_id"], "p-today");
  EXPECT_EQ(r["due_soon"][1]["person_id"], "p-last");
  ASSERT_EQ(r["overdue_total"], 1);
  EXPECT_EQ(r["overdue"][0]["person_id"], "p-yesterday");
  EXPECT_EQ(r["overdue"][0]["days_overdue"], 1);
  EXPECT_EQ(r["overdue"][0]["state"], "overdue");
}

TEST_F(DashboardTest, OutcomeSummariesPerTeamForTheTwelveMonthsToTheKpiMonth) {
  Outcome("p1", "cmht-north", kToday - 20, -6, pbr::v1::RELIABLE_CHANGE_IMPROVED);
  Outcome("p2", "cmht-north", kToday - 40, 4, pbr::v1::RELIABLE_CHANGE_DETERIORATED);
  Outcome("p3", "cmht-south", kToday - 10, -1, pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE);
  Outcome("p4", "cmht-north", kToday - 400, -8, pbr::v1::RELIABLE_CHANGE_IMPROVED);  // over 12 months before
  const Json o = Get(dashboard_->Outcomes(Query()));
  EXPECT_EQ(o["to_month"], "2027-02");
  EXPECT_EQ(o["from_month"], "2026-03");
  ASSERT_EQ(o["teams"].size(), 2u);
  const Json& north = o["teams"][0];
  EXPECT_EQ(north["team_id"], "cmht-north");
  EXPECT_EQ(north["episodes"], 2);
  EXPECT_EQ(north["paired"], 2);
  EXPECT_EQ(north["improved"], 1);
  EXPECT_EQ(north["deteriorated"], 1);
  EXPECT_DOUBLE_EQ(north["mean_total_change"].get<double>(), -1.0);
  EXPECT_EQ(o["all"]["episodes"], 3);
  EXPECT_EQ(o["all"]["no_reliable_change"], 1);
  // A team filter narrows the panel to the team.
  const Json south = Get(dashboard_->Outcomes(Query({{"team", "cmht-south"}})));
  ASSERT_EQ(south["teams"].size(), 1u);
  EXPECT_EQ(south["teams"][0]["team_id"], "cmht-south");
  // A team with nothing counted has no row, and its percentages are null, never 0.
  const Json east = Get(dashboard_->Outcomes(Query({{"team", "cmht-east"}})));
  EXPECT_EQ(east["teams"].size(), 0u);
  EXPECT_TRUE(east["all"]["share_improved"].is_null());
}

TEST_F(DashboardTest, QueryErrorsNameTheParameter) {
  auto parse = [&](std::map<std::string, std::string> params) {
    return dashboard_->ParseQuery(platform::HttpRequest{"/api/v1/dashboard", std::move(params)}).status();
  };
  EXPECT_THAT(std::string(parse({{"month", "2027-13"}}).message()), ::testing::HasSubstr("month"));
  EXPECT_EQ(parse({{"month", "2027-13"}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parse({{"month", "2099-01"}}).message()), ::testing::HasSubstr("after the current month"));
  EXPECT_THAT(std::string(parse({{"colour", "red"}}).message()), ::testing::HasSubstr("colour"));
  EXPECT_THAT(std::string(parse({{"team", "bad team\x01"}}).message()), ::testing::HasSubstr("team"));
  const absl::Status unknown = parse({{"team", "nowhere"}});
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.message()), ::testing::StartsWith("team:"));
  EXPECT_EQ(parse({{"service_area", "moon"}}).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(parse({{"month", "2026-11"}, {"commissioner", "00X"}}).ok());
  // A team and a service area it is not in would answer for nobody: refused, naming the service area.
  const absl::Status apart = parse({{"team", "cmht-north"}, {"service_area", "crht"}});
  EXPECT_EQ(apart.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(apart.message()), ::testing::StartsWith("service_area: team cmht-north is in"));
  EXPECT_TRUE(parse({{"team", "cmht-north"}, {"service_area", "community_non_psychosis"}}).ok());
}

TEST_F(DashboardTest, KpisEqualTheGrpcReportWithTheirStatusAndAcc37) {
  LoadReviews();
  const Json k = Get(dashboard_->Kpis(Query({{"team", "cmht-north"}})));
  pbr::v1::GetKpisRequest req;
  req.mutable_scope()->set_kind(pbr::v1::REPORT_SCOPE_TEAM);
  req.mutable_scope()->set_id("cmht-north");
  req.mutable_month()->set_year(2027);
  req.mutable_month()->set_month(2);
  auto report = api_->GetKpis(req, Day(kToday));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(k["scope"], (Json{{"kind", "team"}, {"id", "cmht-north"}}));
  EXPECT_EQ(k["month"], "2027-02");
  ASSERT_EQ(k["kpis"].size(), static_cast<size_t>(report->kpis_size()));
  const double amber = Rules()->kpis().amber_points_below_target;
  for (int i = 0; i < report->kpis_size(); ++i) {
    const auto& want = report->kpis(i);
    const Json& got = k["kpis"][i];
    EXPECT_EQ(got["id"], want.id());
    EXPECT_EQ(got["numerator"], want.numerator());
    EXPECT_EQ(got["denominator"], want.denominator());
    EXPECT_EQ(got["percent"].is_null(), !want.has_percent());
    if (want.has_percent()) EXPECT_DOUBLE_EQ(got["percent"].get<double>(), want.percent());
    const auto status = care::StatusAgainstTarget(
        want.has_percent() ? std::optional<double>(want.percent()) : std::nullopt, want.target_percent(), amber);
    EXPECT_EQ(got["status"], care::KpiStatusName(status)) << want.id();
  }
  // KPI 1 counts the caseload: the four north people.
  EXPECT_EQ(k["kpis"][0]["denominator"], 4);
  pbr::v1::GetNationalMeasuresRequest nreq;
  *nreq.mutable_scope() = req.scope();
  *nreq.mutable_month() = req.month();
  auto national = api_->GetNationalMeasures(nreq);
  ASSERT_TRUE(national.ok()) << national.status();
  EXPECT_EQ(k["acc37"]["denominator"], national->all().acc33());
  EXPECT_EQ(k["acc37"]["numerator"], national->all().acc36());
  EXPECT_EQ(k["acc37"]["target_percent"], 95);
  EXPECT_THAT(k["status_bands"]["amber"].get<std::string>(), ::testing::HasSubstr("5 percentage points"));
}

TEST_F(DashboardTest, CaseloadProfilesPerTeamWithReasonsToDiscuss) {
  LoadReviews();
  const Json c = Get(dashboard_->Caseloads(Query({{"service_area", "community_non_psychosis"}})));
  EXPECT_EQ(c["teams_matching"], 3);  // north, south and east of the registry's community non-psychosis teams
  const Json& north = c["teams"][1];
  ASSERT_EQ(north["team_id"], "cmht-north");
  EXPECT_EQ(north["people"], 4);
  EXPECT_EQ(north["reviews_overdue"], 2);
  EXPECT_GE(north["discussion_reasons"]["overdue_review"], 2);
  pbr::v1::GetCaseloadRequest req;
  req.set_team_id("cmht-north");
  auto grpc = api_->GetCaseload(req);
  ASSERT_TRUE(grpc.ok());
  EXPECT_EQ(north["cases_to_discuss"], grpc->cases_to_discuss());
  EXPECT_EQ(north["clusters"].size(), static_cast<size_t>(grpc->clusters_size()));
}

TEST_F(DashboardTest, StatusSaysWhenTheFiguresAreBehindAndWhenTheServiceStarted) {
  Json s = Json::parse(dashboard_->Status());
  EXPECT_EQ(s["behind"], false);
  EXPECT_EQ(s["started_at"], absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", T(kToday) - absl::Hours(1), absl::UTCTimeZone()));
  progress_.lag = 42;
  s = Json::parse(dashboard_->Status());
  EXPECT_EQ(s["behind"], true);
  EXPECT_EQ(s["lag_messages"], 42);
  progress_ = platform::Consumer::Progress{};  // just started: not caught up, lag not measured
  s = Json::parse(dashboard_->Status());
  EXPECT_EQ(s["behind"], true);
  EXPECT_TRUE(s["lag_messages"].is_null());
  EXPECT_TRUE(s["last_applied_at"].is_null());
}

TEST_F(DashboardTest, NoIdentityBeyondPseudonymsAndTeamsIsAnswered) {
  LoadReviews();
  const std::string all = *dashboard_->Everything(Query());
  EXPECT_THAT(all, ::testing::Not(::testing::HasSubstr("clin")));  // no clinician
  EXPECT_THAT(all, ::testing::Not(::testing::HasSubstr("epr")));   // no source system or record
  EXPECT_THAT(all, ::testing::HasSubstr("p-old"));
}

TEST_F(DashboardTest, GaugesShowTheFiguresThePageShows) {
  LoadReviews();
  auto families = DashboardGauges(*store_, *Rules(), *api_, clock_);
  ASSERT_TRUE(families.ok()) << families.status();
  std::map<std::string, double> overdue, kpi_team, targets;
  for (const auto& f : *families) {
    for (const auto& m : f.metric) {
      std::map<std::string, std::string> l;
      for (const auto& p : m.label) l[p.name] = p.value;
      if (f.name == "pbr_dashboard_reviews_overdue") overdue[l["team"] + "/" + l["cluster"]] = m.gauge.value;
      if (f.name == "pbr_kpi_percent") kpi_team[l["team"] + "/" + l["kpi"]] = m.gauge.value;
      if (f.name == "pbr_kpi_target_percent") targets[l["kpi"]] = m.gauge.value;
    }
  }
  const Json r = Get(dashboard_->Reviews(Query()));
  std::map<std::string, double> page;
  for (const auto& g : r["overdue_by_team_cluster"]) {
    page[g["team_id"].get<std::string>() + "/" + std::to_string(g["cluster"].get<int>())] = g["overdue"];
  }
  EXPECT_EQ(overdue, page);
  const Json k = Get(dashboard_->Kpis(Query({{"team", "cmht-north"}})));
  for (const auto& v : k["kpis"]) {
    const std::string key = "cmht-north/" + v["id"].get<std::string>();
    if (v["percent"].is_null()) {
      EXPECT_EQ(kpi_team.count(key), 0u) << key;
    } else {
      ASSERT_EQ(kpi_team.count(key), 1u) << key;
      EXPECT_DOUBLE_EQ(kpi_team[key], v["percent"].get<double>());
    }
  }
  EXPECT_EQ(targets["ACC37"], 95);
  EXPECT_EQ(targets["KPI1"], 100);
}

TEST(DashboardPage, EveryAssetIsServedLocallyAndTheScriptWritesNoHtml) {
  std::map<std::string, std::string> assets;
  for (const PageAsset& a : PageAssets()) assets[std::string(a.path)] = std::string(a.body);
  ASSERT_TRUE(assets.count("/index.html") && assets.count("/dashboard.js") && assets.count("/dashboard.css"));
  EXPECT_THAT(assets["/index.html"], ::testing::HasSubstr("<script src=\"/dashboard.js\""));
  for (const auto& [path, body] : assets) {
    EXPECT_THAT(body, ::testing::Not(::testing::HasSubstr("http://"))) << path;
    EXPECT_THAT(body, ::testing::Not(::testing::HasSubstr("https://"))) << path;
  }
  EXPECT_THAT(assets["/dashboard.js"], ::testing::Not(::testing::HasSubstr("innerHTML")));
}

}  // namespace
}  // namespace pbr::reporting
