#pragma once
// KPIs 1-13 for one scope and one period, answered from the maintained aggregates (aggregates.h) alone.
//  - month: KPIs 1-3 count the caseload at the end of min(the month's last day, today); KPIs 4-13 count
//    the month's records decided by today (judged_on = today).
//  - as_at: KPIs 1-3 on as_at; KPIs 4-13 count as_at's month's records decided by as_at.
// A record decided after judged_on is pending: in neither numerator nor denominator.
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "care/rules.h"
#include "pbr/v1/reporting.pb.h"
#include "platform/store.h"

namespace pbr::reporting::kpis {

// The days a request counts on.
struct KpiPeriod {
  absl::CivilDay period_start;
  absl::CivilDay period_end;
  absl::CivilDay stock_day;
  absl::CivilDay judged_on;
};
// For a request already checked (a month or an as_at not after today).
KpiPeriod PeriodOf(const pbr::v1::GetKpisRequest& request, absl::CivilDay today);

// `request` already checked (the API does: scope and period). `reads` (optional) counts the rows read.
absl::StatusOr<pbr::v1::KpiReport> KpiReportFor(const platform::StoreReader& store, const care::RuleSet& rules,
                                                care::ReviewPolicy policy, const pbr::v1::GetKpisRequest& request,
                                                absl::CivilDay today, int64_t* reads = nullptr);

}  // namespace pbr::reporting::kpis
