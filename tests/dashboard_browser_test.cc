// The operations dashboard in a real browser: headless Chromium (through ChromeDriver) against the whole
// platform. The page's overdue counts, KPI values and caseload figures equal the gRPC answers for the same
// data; a filter narrows them; new assessments appear at the next refresh; a reporting restart and an
// unreachable reporting are shown, not hidden; Prometheus shows the figures the page shows. A screenshot is
// saved as a test artefact ($TEST_ARTIFACTS_DIR, else build/test-artifacts/).
#include <csignal>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform_fixture.h"
#include "testing/local_platform.h"
#include "testing/process.h"
#include "testing/certificates.h"
#include "testing/webdriver.h"

namespace pbr {
namespace {

using Json = nlohmann::json;
constexpr absl::Duration kDeadline = absl::Seconds(90);

class DashboardBrowserTest : public systemtest::PlatformFixture {
 protected:
  // Loads the demo history (synthetic people from two EPRs) through allocation, as an EPR would.
  void LoadDemo(int people, int seed) {
    std::vector<std::string> argv = {std::string(PBR_BIN_DIR) + "/pbrctl",
                                     "--allocation=" + platform_->GrpcAddress("allocation"), "demo",
                                     absl::StrCat("--people=", people), absl::StrCat("--seed=", seed),
                                     "--as-of=2026-11-22"};
    // Each EPR's records go over its own feed certificate.
    auto tls = platform_->FeedTlsFlags({"rio-north", "systmone-south"});
    ASSERT_TRUE(tls.ok()) << tls.status();
    argv.insert(argv.end(), tls->begin(), tls->end());
    auto demo = testing::ChildProcess::Spawn(argv, dir_.path() + absl::StrCat("/demo-", seed, ".log"));
    ASSERT_TRUE(demo.ok()) << demo.status();
    ASSERT_TRUE(testing::WaitUntil([&] { return !(*demo)->Running(); }, kDeadline)) << "pbrctl demo did not finish";
    auto code = (*demo)->Terminate(absl::Seconds(5));
    ASSERT_TRUE(code.ok() && *code == 0) << testing::Tail(dir_.path() + absl::StrCat("/demo-", seed, ".log"));
  }
  // The dashboard's JSON over HTTPS, as the holder of an operations client certificate.
  Json Http(const std::string& path) {
    auto cert = platform_->ClientCertificate("operations");
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return Json();
    auto body = testing::HttpsGet(platform_->HttpAddress("reporting"), path, platform_->ca()->pem(), cert->cert_pem,
                                  cert->key_pem);
    EXPECT_TRUE(body.ok()) << path << ": " << body.status();
    return body.ok() ? Json::parse(*body, nullptr, false) : Json();
  }
  std::map<std::string, int64_t> SchedulerOverdue(int64_t* total) {
    auto scheduler = platform_->Stub<pbr::v1::ReviewScheduler>("review-scheduler");
    pbr::v1::CountOverdueReply reply;
    auto ctx = testing::CallContext();
    const grpc::Status st = scheduler->CountOverdue(ctx.get(), pbr::v1::CountOverdueRequest(), &reply);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::map<std::string, int64_t> out;
    for (const auto& c : reply.counts()) out[absl::StrCat(c.team_id(), "/", c.cluster())] = c.overdue();
    *total = reply.total();
    return out;
  }
  // The reviews the scheduler says are due (in their window) with a due date from `today` to 6 days after.
  int64_t SchedulerDueSoon(absl::CivilDay today) {
    auto scheduler = platform_->Stub<pbr::v1::ReviewScheduler>("review-scheduler");
    pbr::v1::ListDueRequest req;
    systemtest::SetDate(req.mutable_from(), today);
    systemtest::SetDate(req.mutable_to(), today + 6);
    req.set_page_size(1000);
    int64_t due = 0;
    for (int page = 0; page < 100; ++page) {
      pbr::v1::ListDueReply reply;
      auto ctx = testing::CallContext();
      const grpc::Status st = scheduler->ListDue(ctx.get(), req, &reply);
      EXPECT_TRUE(st.ok()) << st.error_message();
      if (!st.ok()) break;
      for (const auto& r : reply.reviews()) due += r.state() == pbr::v1::REVIEW_STATE_DUE;
      if (reply.next_page_token().empty()) break;
      req.set_page_token(reply.next_page_token());
    }
    return due;
  }
  pbr::v1::Caseload Caseload(const std::string& team) {
    auto reporting = platform_->Stub<pbr::v1::Reporting>("reporting");
    pbr::v1::GetCaseloadRequest req;
    req.set_team_id(team);
    pbr::v1::Caseload reply;
    auto ctx = testing::CallContext();
    const grpc::Status st = reporting->GetCaseload(ctx.get(), req, &reply);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return reply;
  }
  int64_t ReportingOverdue() {
    int64_t total = 0;
    for (const auto& [id, team] : rules_->teams().teams) total += Caseload(id).reviews_overdue();
    return total;
  }
  // The sum of a metric's series on a service's /metrics; none when it has no series.
  std::optional<double> MetricSum(const std::string& service, const std::string& name) {
    return testing::MetricSum(platform_->MetricsAddress(service), name);
  }
  // Every event applied everywhere: no service has events waiting in its outbox or unread on its topics,
  // reporting says it is current, and it shows every review the scheduler counts overdue; twice running.
  void WaitForQuiet() {
    int quiet_in_a_row = 0;
    const bool quiet = testing::WaitUntil(
        [&] {
          bool idle = true;
          for (const char* service : testing::LocalPlatform::kServices) {
            idle = idle && MetricSum(service, "pbr_outbox_depth").value_or(1) == 0;
            if (std::string(service) != "allocation") {
              idle = idle && MetricSum(service, "pbr_consumer_lag").value_or(1) == 0;
            }
          }
          const Json s = Http("/api/v1/status");
          int64_t scheduler_total = 0;
          SchedulerOverdue(&scheduler_total);
          idle = idle && s.is_object() && s["behind"] == false && scheduler_total == ReportingOverdue();
          quiet_in_a_row = idle ? quiet_in_a_row + 1 : 0;
          return quiet_in_a_row >= 2;
        },
        kDeadline, absl::Milliseconds(250));
    ASSERT_TRUE(quiet) << "the platform did not settle";
  }
  std::string PageUrl(const std::string& query = "") {
    return absl::StrCat("https://", platform_->HttpAddress("reporting"), "/?refresh=2", query);
  }
  // Waits for the page's next refresh after now to have finished.
  absl::Status WaitForRefresh(testing::Browser& b) {
    auto n = b.Execute("return Number(document.body.dataset.refreshes);");
    if (!n.ok()) return n.status();
    return b.WaitFor(absl::StrCat("Number(document.body.dataset.refreshes) > ", n->get<int64_t>()), absl::Seconds(20));
  }
  static std::string ArtefactDir() {
    const char* dir = std::getenv("TEST_ARTIFACTS_DIR");
    std::string out = dir != nullptr && *dir != '\0' ? dir : std::string(PBR_BIN_DIR) + "/../test-artifacts";
    std::filesystem::create_directories(out);
    return out;
  }
};

// An element's text read in one script, so a refresh replacing the element between finding it and reading it
// cannot intervene; "<none>" when nothing matches.
std::string Read(testing::Browser& b, const std::string& css) {
  auto text = b.Execute("const e = document.querySelector(arguments[0]); return e ? e.textContent : '<none>';",
                        Json::array({css}));
  EXPECT_TRUE(text.ok()) << css << ": " << text.status();
  return text.ok() ? text->get<std::string>() : "";
}

std::string PercentText(const pbr::v1::KpiValue& k) {
  return k.has_percent() ? absl::StrFormat("%.1f%%", k.percent()) : "–";
}

// A sign-in link from reporting, as `pbrctl dashboard-link` asks for it with an operations certificate.
std::string SignInUrl(testing::LocalPlatform& platform) {
  pbr::v1::SignInLink link;
  const grpc::Status st =
      platform.Stub<pbr::v1::Dashboard>("reporting")->IssueSignInLink(testing::CallContext().get(), {}, &link);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return absl::StrCat("https://127.0.0.1:", link.port(), link.path());
}

// Chromium trusts exactly reporting's certificate (its public key), as a trust's browsers trust its CA.
testing::BrowserOptions TrustingReporting(const testing::LocalPlatform& platform, const std::string& work_dir) {
  testing::BrowserOptions options;
  std::ifstream in(work_dir + "/tls/reporting.pem");
  std::stringstream pem;
  pem << in.rdbuf();
  auto spki = testing::SpkiSha256(pem.str());
  EXPECT_TRUE(spki.ok()) << spki.status();
  if (spki.ok()) options.extra_args.push_back("--ignore-certificate-errors-spki-list=" + *spki);
  return options;
}

// Whether `pid` ignores SIGPIPE (the SigIgn mask of /proc/<pid>/status).
bool IgnoresSigpipe(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "SigIgn:")) continue;
    uint64_t mask = 0;
    return absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line.substr(7)), &mask) && ((mask >> (SIGPIPE - 1)) & 1) != 0;
  }
  return false;
}

// Under mutual TLS the page and its JSON are for the operations role: nobody else gets in, by
// certificate or without one, and a sign-in link starts a session in a browser.
TEST_F(DashboardBrowserTest, OnlyTheOperationsRoleReadsTheDashboard) {
  const std::string address = platform_->HttpAddress("reporting");
  const std::string ca = platform_->ca()->pem();
  auto none = testing::HttpsGet(address, "/api/v1/dashboard", ca);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated) << none.status();
  EXPECT_NE(none.status().message().find("pbrctl dashboard-link"), std::string::npos) << none.status();
  for (const std::string role : {"clinician", "finance", "admin", "epr-feed:rio-north"}) {
    auto cert = platform_->ClientCertificate(role);
    ASSERT_TRUE(cert.ok());
    auto refused = testing::HttpsGet(address, "/api/v1/dashboard", ca, cert->cert_pem, cert->key_pem);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << role << ": " << refused.status();
  }
  // Another CA's certificate fails the handshake.
  auto stranger_ca = testing::TestCa::Create("another trust's CA");
  ASSERT_TRUE(stranger_ca.ok());
  auto stranger = (*stranger_ca)->Issue("ops elsewhere", {"URI:urn:pbr:role:operations"});
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(testing::HttpsGet(address, "/api/v1/status", ca, stranger->cert_pem, stranger->key_pem).status().code(),
            absl::StatusCode::kUnavailable);
  // A peer gone mid-write (refused at the handshake, a tab closed) ends a connection, never a service.
  for (const char* name : testing::LocalPlatform::kServices) {
    EXPECT_TRUE(IgnoresSigpipe(platform_->Pid(name))) << name << " would be ended by SIGPIPE";
  }
  auto ops = platform_->ClientCertificate("operations");
  ASSERT_TRUE(ops.ok());
  EXPECT_TRUE(testing::HttpsGet(address, "/api/v1/status", ca, ops->cert_pem, ops->key_pem).ok());
  // Plain HTTP is not answered on the HTTPS port.
  EXPECT_FALSE(testing::HttpGet(address, "/api/v1/status").ok());
  // Only operations may ask for a sign-in link.
  pbr::v1::SignInLink link;
  EXPECT_EQ(platform_->Stub<pbr::v1::Dashboard>("reporting", "finance")
                ->IssueSignInLink(testing::CallContext().get(), {}, &link)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  auto browser = testing::Browser::Start(TrustingReporting(*platform_, dir_.path()));
  if (browser.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << browser.status();
  ASSERT_TRUE(browser.ok()) << browser.status();
  testing::Browser& b = **browser;
  ASSERT_TRUE(b.Navigate(PageUrl()).ok());
  EXPECT_TRUE(b.WaitFor("document.body.textContent.includes('Not signed in')", absl::Seconds(10)).ok())
      << "without a sign-in the page says how to get one";
  ASSERT_TRUE(b.Navigate(SignInUrl(*platform_)).ok());
  EXPECT_EQ(b.Execute("return location.pathname + location.search", nullptr).value_or(Json("")), Json("/"))
      << "the link goes on to the page, leaving no token in the address bar";
  ASSERT_TRUE(b.Navigate(PageUrl()).ok());
  EXPECT_TRUE(b.WaitFor("document.body.dataset.state === 'current'", absl::Seconds(30)).ok())
      << "signed in, the page shows its figures: " << Read(b, "#status-banner");
  // The session is an HttpOnly cookie: the page's scripts cannot read it.
  auto cookie = b.Execute("return document.cookie", nullptr);
  ASSERT_TRUE(cookie.ok());
  EXPECT_EQ(cookie->get<std::string>().find("pbr_dashboard"), std::string::npos);
}

TEST_F(DashboardBrowserTest, ThePageShowsTheGrpcFiguresFiltersRefreshesAndShowsARestart) {
  auto browser = testing::Browser::Start(TrustingReporting(*platform_, dir_.path()));
  if (browser.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << browser.status();
  ASSERT_TRUE(browser.ok()) << browser.status();
  testing::Browser& b = **browser;

  LoadDemo(300, 1);
  WaitForQuiet();
  ASSERT_TRUE(b.Navigate(SignInUrl(*platform_)).ok());  // signed in as operations
  ASSERT_TRUE(b.Navigate(PageUrl()).ok());
  ASSERT_TRUE(b.WaitFor("document.body.dataset.state === 'current'", absl::Seconds(30)).ok())
      << Read(b, "#status-banner");
  EXPECT_EQ(*b.Title(), "Care clusters: operations dashboard");

  // Overdue reviews: the page's total and groups are the scheduler's counts and reporting's caseloads.
  int64_t scheduler_total = 0;
  const std::map<std::string, int64_t> scheduler = SchedulerOverdue(&scheduler_total);
  ASSERT_GT(scheduler_total, 0) << "the demo history has overdue reviews";
  EXPECT_EQ(Read(b, "#overdue-total"), absl::StrCat(scheduler_total));
  EXPECT_EQ(ReportingOverdue(), scheduler_total);
  auto groups = b.Execute(
      "const out = {}; for (const tr of document.querySelectorAll('#overdue-groups tbody tr')) "
      "out[tr.dataset.team + '/' + tr.dataset.cluster] = Number(tr.querySelector('[data-field=overdue]').textContent);"
      " return out;");
  ASSERT_TRUE(groups.ok()) << groups.status();
  std::map<std::string, int64_t> shown;
  for (const auto& [k, v] : groups->items()) shown[k] = v.get<int64_t>();
  EXPECT_EQ(shown, scheduler);
  // Oldest first: the list's days overdue never increase down the table.
  auto days = b.Execute("return [...document.querySelectorAll('#overdue-list [data-field=days_overdue]')].map(e => Number(e.textContent));");
  ASSERT_TRUE(days.ok());
  for (size_t i = 1; i < days->size(); ++i) EXPECT_GE((*days)[i - 1].get<int>(), (*days)[i].get<int>());
  // Due in the next 7 days: the scheduler's reviews due in their window over the same days.
  absl::CivilDay today;
  ASSERT_TRUE(absl::ParseCivilTime(Http("/api/v1/status")["today"].get<std::string>(), &today));
  const int64_t due_soon = SchedulerDueSoon(today);
  EXPECT_GT(due_soon, 0) << "the demo history has reviews due this week";
  EXPECT_EQ(Read(b, "#due-soon-total"), absl::StrCat(due_soon));

  // KPIs: the trust's current month, as Reporting.GetKpis answers it, each with its status colour.
  auto reporting = platform_->Stub<pbr::v1::Reporting>("reporting");
  pbr::v1::GetKpisRequest kreq;
  kreq.mutable_scope()->set_kind(pbr::v1::REPORT_SCOPE_TRUST);
  kreq.mutable_month()->set_year(2026);
  kreq.mutable_month()->set_month(11);
  pbr::v1::KpiReport kpis;
  {
    auto ctx = testing::CallContext();
    ASSERT_TRUE(reporting->GetKpis(ctx.get(), kreq, &kpis).ok());
  }
  auto shown_kpis = b.Execute(
      "const out = {}; for (const tr of document.querySelectorAll('#kpis tbody tr')) out[tr.dataset.kpi] = {"
      "percent: tr.querySelector('[data-field=percent]').textContent, counts: "
      "tr.querySelector('[data-field=counts]').textContent, status: tr.dataset.status}; return out;");
  ASSERT_TRUE(shown_kpis.ok()) << shown_kpis.status();
  for (const auto& k : kpis.kpis()) {
    ASSERT_TRUE(shown_kpis->contains(k.id())) << k.id();
    const Json& row = (*shown_kpis)[k.id()];
    EXPECT_EQ(row["percent"], PercentText(k)) << k.id();
    EXPECT_EQ(row["counts"], absl::StrCat(k.numerator(), " / ", k.denominator())) << k.id();
    EXPECT_EQ(row["status"] == "green", k.met()) << k.id();
    EXPECT_EQ(row["status"] == "no_data", !k.has_percent()) << k.id();
  }
  EXPECT_NE(Read(b, "#kpi-bands").find("percentage points"), std::string::npos);
  EXPECT_TRUE(shown_kpis->contains("ACC37"));

  // Caseloads: every team card's people and cases to discuss are Reporting.GetCaseload's.
  auto cards = b.Execute("return [...document.querySelectorAll('.team-caseload')].map(c => [c.dataset.team, "
                         "Number(c.querySelector('[data-field=people]').textContent), "
                         "Number(c.querySelector('[data-field=cases_to_discuss]').textContent)]);");
  ASSERT_TRUE(cards.ok());
  ASSERT_FALSE(cards->empty());
  std::string busiest;
  int busiest_people = -1;
  for (const auto& card : *cards) {
    const std::string team = card[0].get<std::string>();
    const pbr::v1::Caseload c = Caseload(team);
    EXPECT_EQ(card[1].get<int>(), c.people()) << team;
    EXPECT_EQ(card[2].get<int>(), c.cases_to_discuss()) << team;
    if (c.people() > busiest_people) busiest = team, busiest_people = c.people();
  }

  // Outcomes per team: the outcomes service's own summary by team over the same 12 months.
  pbr::v1::SummariseOutcomesRequest oreq;
  oreq.set_group_by(pbr::v1::OUTCOME_GROUPING_TEAM);
  systemtest::SetDate(oreq.mutable_period_start(), absl::CivilDay(2025, 12, 1));
  systemtest::SetDate(oreq.mutable_period_end(), absl::CivilDay(2026, 11, 30));
  pbr::v1::OutcomesSummary summary;
  {
    auto outcomes = platform_->Stub<pbr::v1::Outcomes>("outcomes");
    auto ctx = testing::CallContext();
    const grpc::Status st = outcomes->SummariseOutcomes(ctx.get(), oreq, &summary);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_GT(summary.groups_size(), 0) << "the demo history has outcomes";
  auto outcome_rows = b.Execute(
      "const out = {}; for (const tr of document.querySelectorAll('#outcomes tbody tr')) out[tr.dataset.team] = "
      "['episodes', 'paired', 'improved', 'no_reliable_change', 'deteriorated'].map(f => "
      "Number(tr.querySelector('[data-field=' + f + ']').textContent)); return out;");
  ASSERT_TRUE(outcome_rows.ok()) << outcome_rows.status();
  for (const auto& g : summary.groups()) {
    ASSERT_TRUE(outcome_rows->contains(g.group())) << g.group();
    EXPECT_EQ((*outcome_rows)[g.group()],
              Json::array({g.episodes(), g.paired_episodes(), g.improved(), g.no_reliable_change(), g.deteriorated()}))
        << g.group();
  }
  EXPECT_EQ((*outcome_rows)["All"][0], summary.all().episodes());

  // Prometheus shows what the page shows.
  auto metrics = testing::HttpGet(platform_->MetricsAddress("reporting"), "/metrics");
  ASSERT_TRUE(metrics.ok());
  int64_t gauge_total = 0;
  for (absl::string_view line : absl::StrSplit(*metrics, '\n')) {
    if (!absl::StartsWith(line, "pbr_dashboard_reviews_overdue{")) continue;
    double v = 0;
    ASSERT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) << line;
    gauge_total += static_cast<int64_t>(v);
  }
  EXPECT_EQ(gauge_total, scheduler_total);
  for (const auto& k : kpis.kpis()) {
    if (!k.has_percent()) continue;
    EXPECT_NE(metrics->find(absl::StrCat("pbr_kpi_trust_percent{kpi=\"", k.id(), "\",service=\"reporting\"} ")),
              std::string::npos) << k.id();
  }

  // A filter: one team's figures only.
  ASSERT_TRUE(b.SelectOption("#filter-team", busiest).ok());
  ASSERT_TRUE(b.WaitFor(absl::StrCat("document.getElementById('kpi-scope').textContent.includes('", busiest, "')"),
                        absl::Seconds(20)).ok());
  const pbr::v1::Caseload before = Caseload(busiest);
  EXPECT_EQ(Read(b, "#overdue-total"), absl::StrCat(before.reviews_overdue()));
  EXPECT_EQ(*b.Execute("return document.querySelectorAll('.team-caseload').length;"), 1);
  EXPECT_EQ(Read(b, absl::StrCat(".team-caseload[data-team='", busiest, "'] [data-field=people]")),
            absl::StrCat(before.people()));

  // New assessments arrive: the page shows them at a refresh, without being reloaded.
  LoadDemo(40, 2);
  WaitForQuiet();
  const pbr::v1::Caseload after = Caseload(busiest);
  ASSERT_NE(after.people(), before.people()) << "the second load gave " << busiest << " nobody new";
  EXPECT_TRUE(b.WaitFor(absl::StrCat("document.querySelector(\".team-caseload[data-team='", busiest,
                                     "'] [data-field=people]\").textContent === '", after.people(), "'"),
                        absl::Seconds(20)).ok());
  EXPECT_EQ(Read(b, "#overdue-total"), absl::StrCat(after.reviews_overdue()));
  ASSERT_TRUE(b.Screenshot(ArtefactDir() + "/dashboard.png").ok());

  // Reporting stops: the page says it cannot reach it and keeps the figures, dimmed.
  const std::string http_address = platform_->HttpAddress("reporting");
  ASSERT_TRUE(platform_->StopService("reporting").ok());
  EXPECT_TRUE(b.WaitFor("document.body.dataset.state === 'stale'", absl::Seconds(20)).ok());
  EXPECT_NE(Read(b, "#status-banner").find("Cannot reach reporting"), std::string::npos);
  EXPECT_EQ(Read(b, absl::StrCat(".team-caseload[data-team='", busiest, "'] [data-field=people]")),
            absl::StrCat(after.people()));
  // It starts again on the same address: the page says it restarted.
  ASSERT_TRUE(platform_->StartService("reporting", absl::Seconds(30), {"--http-address=" + http_address}).ok());
  EXPECT_TRUE(b.WaitFor("document.getElementById('status-banner').textContent.includes('restarted')",
                        absl::Seconds(30)).ok()) << Read(b, "#status-banner");
  // Once it has read its topics again it is current: the restart stays said, no "behind" warning stays.
  EXPECT_TRUE(b.WaitFor("document.body.dataset.state === 'current'", absl::Seconds(60)).ok()) << Read(b, "#status-banner");
  EXPECT_EQ(Read(b, "#status-banner").find("not yet applied"), std::string::npos) << Read(b, "#status-banner");
  ASSERT_TRUE(b.Screenshot(ArtefactDir() + "/dashboard-after-restart.png").ok());
  auto errors = b.ConsoleErrors();
  ASSERT_TRUE(errors.ok());
  for (const std::string& e : *errors) {
    // Failed fetches while reporting was down are expected; nothing else may be logged.
    EXPECT_TRUE(e.find("Failed to fetch") != std::string::npos || e.find("ERR_CONNECTION_REFUSED") != std::string::npos ||
                e.find("net::") != std::string::npos) << e;
  }
}

}  // namespace
}  // namespace pbr
