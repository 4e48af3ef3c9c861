// pbr-reporting: the read side. Each read model is a projection (projections/<name>/) that every
// message of its topics is fanned out to; the gRPC handlers (api.h) answer from their queries.
#include "access.h"
#include "api.h"
#include "dashboard/dashboard.h"
#include "dashboard/gauges.h"
#include "dashboard/sign_in.h"
#include "finance_api.h"
#include "care_bridge.h"
#include "event_rules.h"
#include "platform/projection.h"
#include "platform/service_host.h"
#include "projections/caseload/caseload.h"
#include "projections/kpis/kpis.h"
#include "projections/national_measures/national_measures.h"
#include "projections/outcome_summaries/outcome_summaries.h"
#include "projections/tariff/tariff.h"

int main(int argc, char** argv, char** envp) {
  using pbr::platform::SettingKind;
  auto settings = pbr::platform::CommonSettings("reporting", 50054, 9104);
  settings.push_back(pbr::platform::ResetStateSetting());
  settings.push_back(pbr::platform::HttpAddressSetting(8094));  // the operations dashboard
  // The same setting, choices and default as the review scheduler's: KPIs 2 and 7 time reviews as it does.
  settings.push_back({"review-policy", SettingKind::kChoice, "sop",
                      "review periods the KPIs time reviews by: the trust SOP or the national 2014/15 periods", false,
                      0, 0, {"sop", "national"}});
  settings.push_back({"tariff-close-days", SettingKind::kInt, "0",
                      "days into the next month a month's tariff lines are issued (late records then correct them)",
                      false, 0, 28});
  // A secret setting: PBR_DASHBOARD_TOKEN_SECRET or --dashboard-token-secret-file=FILE, never a flag.
  pbr::platform::SettingSpec token_key{"dashboard-token-secret", SettingKind::kString, "",
                                       "random key signing dashboard sign-ins, so sessions survive a restart and every "
                                       "replica takes them; without it each process makes its own"};
  token_key.secret = true;
  token_key.min_entropy_bits = 128;
  settings.push_back(std::move(token_key));
  settings.push_back({"tariff-close-interval", SettingKind::kDuration, "1s",
                      "how often the tariff ledger checks for a month to close (each pass bills up to 1000 people)"});
  return pbr::platform::RunService(
      "reporting", settings,
      pbr::platform::FamiliesOf(pbr::reporting::kCaseloadFamilies, pbr::reporting::kNationalFamilies,
                                pbr::reporting::kKpisFamilies, pbr::reporting::kTariffFamilies,
                                pbr::reporting::kOutcomeSummariesFamilies),
      argc, argv, envp,
      [&](pbr::platform::ServiceHost& host) -> absl::Status {
        // Every event is checked by the shared rules; the rules' team registry says which teams exist.
        auto rules = pbr::services::LoadRulesFor(host);
        if (!rules.ok()) return rules.status();
        auto policy = care::ParseReviewPolicy(host.config().GetString("review-policy"));
        if (!policy.ok()) return policy.status();
        host.ValidateEventsWith(pbr::services::SharedEventRules(*rules));
        if (auto st = host.AddProjection(std::make_shared<pbr::reporting::CaseloadProjection>(*rules)); !st.ok()) {
          return st;
        }
        if (auto st = host.AddProjection(std::make_shared<pbr::reporting::NationalMeasuresProjection>(*rules));
            !st.ok()) {
          return st;
        }
        if (auto st = host.AddProjection(std::make_shared<pbr::reporting::KpisProjection>(*rules, *policy)); !st.ok()) {
          return st;
        }
        if (auto st = host.AddProjection(std::make_shared<pbr::reporting::OutcomeSummariesProjection>()); !st.ok()) {
          return st;
        }
        auto tariff = std::make_shared<pbr::reporting::TariffProjection>(
            *rules, static_cast<int>(host.config().GetInt("tariff-close-days")));
        if (auto st = host.AddProjection(tariff); !st.ok()) return st;
        host.Every(host.config().GetDuration("tariff-close-interval"),
                   [tariff](auto& ctx) { return tariff->CloseMonths(ctx); });
        auto api = std::make_unique<pbr::reporting::ReportingApi>(host.store(), *rules, &host.clock(), *policy);
        const pbr::reporting::ReportingApi& reporting = *api;  // kept alive by the host with the service
        host.SetAccessPolicy(pbr::services::AuthorizeCall);  // the role matrix, under mutual TLS
        host.AddService(std::move(api));
        // The operations dashboard and its gauges, from the same checked queries as the gRPC API.
        auto dashboard = std::make_shared<pbr::reporting::Dashboard>(
            host.store(), *rules, reporting, host.clock(),
            pbr::reporting::DashboardStatusSource{host.started_at(), [&host] { return host.consumer_progress(); }});
        dashboard->Register([&host, dashboard](const std::string& path, pbr::platform::HttpHandler handler) {
          host.ServeHttp(path, [dashboard, handler = std::move(handler)](const auto& r) { return handler(r); });
        });
        // Under mutual TLS the dashboard is for the operations role only.
        const std::string& token_key = host.config().GetString("dashboard-token-secret");
        auto sign_in = std::make_shared<const pbr::reporting::DashboardSignIn>(
            token_key.empty() ? pbr::platform::SessionTokens::WithRandomKey()
                              : pbr::platform::SessionTokens::WithKey(token_key));
        host.ServeHttp(pbr::reporting::kSignInPath, [sign_in](const auto& r) { return sign_in->SignIn(r); });
        host.GuardHttp([sign_in](const auto& r) { return sign_in->Guard(r); });
        host.AddService(std::make_unique<pbr::reporting::DashboardSignInApi>(sign_in, [&host] { return host.http_port(); }));
        host.metrics().AddCollector([&store = host.store(), rules = *rules, &reporting, &clock = host.clock()] {
          auto gauges = pbr::reporting::DashboardGauges(store, *rules, reporting, clock);
          if (!gauges.ok()) throw std::runtime_error(gauges.status().ToString());
          return *std::move(gauges);
        });
        host.AddService(std::make_unique<pbr::reporting::FinanceApi>(host.store(), host.stopping()));
        return absl::OkStatus();
      });
}
