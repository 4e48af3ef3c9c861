#pragma once
// The dashboard's figures as Prometheus gauges, worked out at scrape time from the same calls the page
// uses, so an alert or a Grafana panel shows what the page shows:
//   pbr_kpi_percent{kpi, team}, pbr_kpi_trust_percent{kpi}: KPIs 1-13 for the current month (no series
//     while a KPI has nothing to count);
//   pbr_kpi_target_percent{kpi}: each KPI's target, ACC37's included;
//   pbr_acc37_percent{team}, pbr_acc37_trust_percent: ACC37 at the current month's end;
//   pbr_dashboard_reviews_overdue{team, cluster}: reviews overdue as the page lists them.
// Team labels are the rules' team registry (bounded); a scrape reads each team's KPI aggregates.
#include <functional>
#include <memory>
#include <vector>

#include "api.h"
#include "care/rules.h"
#include "platform/clock.h"
#include "platform/store.h"
#include "prometheus/metric_family.h"

namespace pbr::reporting {

// The families, or an error status (the scrape leaves them out and logs it).
absl::StatusOr<std::vector<prometheus::MetricFamily>> DashboardGauges(const platform::StoreReader& store,
                                                                      const care::RuleSet& rules,
                                                                      const ReportingApi& api,
                                                                      const platform::Clock& clock);

}  // namespace pbr::reporting
