#pragma once
// The KPIs' maintained aggregates (family "kpis_totals", pbr.state.v1.KpiTotal; key layout in
// kpis_state.proto). Every person's contributions (contributions.h) are added under their team, service
// area, commissioner and the trust; a change of the person takes away what they added before and adds
// what they add now, key by key in memory, then reads and writes each changed key once in the message's
// batch. A query reads a bounded number of keys and never a person:
//  - stock (KPIs 1-3): each segment adds +1 on its first day and -1 on the day after its last, with the
//    month and year sums beside the day, so the count on a day is the earlier years' sums (one key per year
//    with data), the earlier months' of its year (at most 11) and its month's days up to it (at most 31);
//  - flow (KPIs 4-13): records counted per reference month and decision day, so a month judged on a day
//    reads that month's decision days up to it (a month and the weeks its records take to be decided).
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "pbr/v1/reporting.pb.h"
#include "platform/consumer.h"
#include "platform/store.h"
#include "projections/kpis/contributions.h"

namespace pbr::reporting::kpis {

inline constexpr absl::string_view kKpisTotalsFamily = "kpis_totals";

// What a stock count counts: the denominators and numerators of KPIs 1-3.
enum class StockPart {
  kActive,              // KPI 1 denominator: active cases
  kWithCluster,         // KPI 2 and 3 denominators
  kSecondaryCare,       // KPI 1 numerator
  kWithinReviewPeriod,  // KPI 2 numerator
  kFitsServiceArea,     // KPI 3 numerator
};
absl::string_view StockPartName(StockPart part);  // "active", "clustered", "secondary", "within", "fits"

// A scope's part of a key: "trust", "team:<id>", "area:<id>", "commissioner:<id>" (the id's '%' and
// '/' escaped, so a key's parts never run together). An unspecified scope is "".
std::string ScopeKey(const pbr::v1::ReportScope& scope);

struct Total {
  int64_t count = 0;
  int64_t met = 0;
};
// Key -> the change to add to it.
using TotalChanges = std::map<std::string, Total>;

// Adds `sign` (+1 or -1) times everything `c` contributes.
void AddContributions(const Contributions& c, int sign, TotalChanges& changes);

// Takes away what `before` contributed and adds what `now` does, leaving out the segments and records
// both hold: a message usually changes few of a person's records, and the rest would cancel key by key.
// The same changes as AddContributions(before, -1) then AddContributions(now, +1), less work.
void AddDifference(const Contributions& before, const Contributions& now, TotalChanges& changes);

// Adds each key's change to its row in the message's batch (one read and one write per changed key;
// a key whose change is zero is not touched). A flow row that would go below zero, or count more met
// than records, is DATA_LOSS (the rows and the people disagree); a row back at zero is deleted.
absl::Status ApplyTotalChanges(platform::ApplyContext& ctx, const TotalChanges& changes);

// Active cases counted in `part` at the end of `day`. `reads` (optional) counts the keys read.
absl::StatusOr<int64_t> StockOn(const platform::StoreReader& store, StockPart part, absl::string_view scope_key,
                                absl::CivilDay day, int64_t* reads = nullptr);
// The records of `kpi` whose reference day is in `month` and that were decided by `judged_on`.
absl::StatusOr<Total> FlowOf(const platform::StoreReader& store, int kpi, absl::string_view scope_key,
                             absl::CivilMonth month, absl::CivilDay judged_on, int64_t* reads = nullptr);

}  // namespace pbr::reporting::kpis
