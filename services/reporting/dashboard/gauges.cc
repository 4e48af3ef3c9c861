#include "dashboard/gauges.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "platform/events.h"
#include "projections/caseload/queries.h"

namespace pbr::reporting {
namespace {

using Labels = std::map<std::string, std::string>;

prometheus::MetricFamily Gauge(std::string name, std::string help) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  return f;
}

void Add(prometheus::MetricFamily& f, const Labels& labels, double value) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

}  // namespace

absl::StatusOr<std::vector<prometheus::MetricFamily>> DashboardGauges(const platform::StoreReader& store,
                                                                      const care::RuleSet& rules,
                                                                      const ReportingApi& api,
                                                                      const platform::Clock& clock) {
  const absl::CivilDay today = platform::ClinicalDay(clock.Now());
  const absl::CivilMonth month(today);
  auto kpi_team = Gauge("pbr_kpi_percent", "KPI percentage for the current month, by KPI and team (absent: nothing to count)");
  auto kpi_trust = Gauge("pbr_kpi_trust_percent", "KPI percentage for the current month, trust-wide");
  auto targets = Gauge("pbr_kpi_target_percent", "Each KPI's target percentage (rules/kpis.yaml), ACC37's included");
  auto acc37_team = Gauge("pbr_acc37_percent", "ACC37 at the current month's end by team (absent: nobody in a cluster)");
  auto acc37_trust = Gauge("pbr_acc37_trust_percent", "ACC37 at the current month's end, trust-wide");
  auto overdue = Gauge("pbr_dashboard_reviews_overdue", "Reviews overdue as the dashboard lists them, by team and cluster");

  for (const auto& [id, def] : rules.kpis().kpis) Add(targets, {{"kpi", id}}, def.target_percent);

  auto scoped = [&](pbr::v1::ReportScopeKind kind, const std::string& team,
                    prometheus::MetricFamily& kpis, prometheus::MetricFamily& acc37) -> absl::Status {
    pbr::v1::GetKpisRequest request;
    request.mutable_scope()->set_kind(kind);
    request.mutable_scope()->set_id(team);
    request.mutable_month()->set_year(static_cast<int32_t>(month.year()));
    request.mutable_month()->set_month(month.month());
    auto report = api.GetKpis(request, today);
    if (!report.ok()) return report.status();
    for (const pbr::v1::KpiValue& k : report->kpis()) {
      if (!k.has_percent()) continue;
      Labels labels = {{"kpi", k.id()}};
      if (!team.empty()) labels["team"] = team;
      Add(kpis, labels, k.percent());
    }
    pbr::v1::GetNationalMeasuresRequest national;
    *national.mutable_scope() = request.scope();
    *national.mutable_month() = request.month();
    auto measures = api.GetNationalMeasures(national);
    if (!measures.ok()) return measures.status();
    if (measures->all().acc33() > 0) {
      Add(acc37, team.empty() ? Labels{} : Labels{{"team", team}}, measures->all().acc37());
    }
    return absl::OkStatus();
  };
  if (auto st = scoped(pbr::v1::REPORT_SCOPE_TRUST, "", kpi_trust, acc37_trust); !st.ok()) return st;
  for (const auto& [id, team] : rules.teams().teams) {
    if (auto st = scoped(pbr::v1::REPORT_SCOPE_TEAM, id, kpi_team, acc37_team); !st.ok()) return st;
  }

  auto reviews = ReviewsOverdueAndDueSoon(store, rules.teams(), ReviewFilter{}, today, 7, 0);
  if (!reviews.ok()) return reviews.status();
  // Team labels only from the registry, so the series stay a bounded set: a team outside it (admitted with
  // allow-unknown-teams during a migration) counts under "unregistered".
  std::map<std::pair<std::string, int>, int64_t> by_label;
  for (const OverdueGroup& g : reviews->overdue_by_team_cluster) {
    const std::string team = rules.teams().Find(g.team_id) != nullptr ? g.team_id : "unregistered";
    by_label[{team, g.cluster}] += g.overdue;
  }
  for (const auto& [key, n] : by_label) {
    Add(overdue, {{"team", key.first}, {"cluster", absl::StrCat(key.second)}}, static_cast<double>(n));
  }
  return std::vector<prometheus::MetricFamily>{kpi_team, kpi_trust, targets, acc37_team, acc37_trust, overdue};
}

}  // namespace pbr::reporting
