#include "projections/kpis/queries.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "platform/events.h"
#include "projections/kpis/aggregates.h"

namespace pbr::reporting::kpis {
namespace {

// What each KPI's denominator counts, in words (KpiValue.counted).
const char* CountedOf(int kpi) {
  switch (kpi) {
    case 1: return "active cases at the end of the stock day";
    case 2: return "active cases with a cluster at the end of the stock day";
    case 3: return "active cases with a cluster at the end of the stock day";
    case 4: return "initial allocations (first assessment of a referral period) in the month";
    case 5: return "referral periods whose first face-to-face contact was in the month (not inpatient), decided";
    case 6: return "initial allocations in the month";
    case 7: return "reviews falling due in the month, decided";
    case 8: return "formal reviews completed in the month";
    case 9: return "in-hours referrals to CRHT or inpatients in the month, decided";
    case 10: return "out-of-hours referrals to CRHT or inpatients in the month, decided";
    case 11: return "transfer referrals in the month whose review met its window";
    case 12: return "discharge reviews in the month, decided";
    case 13: return "discharge reviews in the month whose review met its window";
  }
  return "";
}

void Add(pbr::v1::KpiReport& report, const care::RuleSet& rules, int kpi, int64_t numerator, int64_t denominator) {
  const care::KpiResult r =
      care::MakeKpiResult(rules.kpis(), absl::StrCat("KPI", kpi), numerator, denominator, rules.kpis().version);
  pbr::v1::KpiValue* v = report.add_kpis();
  v->set_id(r.id);
  v->set_title(r.title);
  v->set_numerator(r.numerator);
  v->set_denominator(r.denominator);
  v->set_has_percent(r.percent.has_value());
  if (r.percent.has_value()) v->set_percent(*r.percent);
  v->set_target_percent(r.target_percent);
  v->set_met(r.met);
  v->set_counted(CountedOf(kpi));
}

std::string VersionOf(const care::RuleSet& rules, const char* part) {
  auto it = rules.file_versions().find(part);
  return it == rules.file_versions().end() ? "" : it->second;
}

}  // namespace

KpiPeriod PeriodOf(const pbr::v1::GetKpisRequest& request, absl::CivilDay today) {
  KpiPeriod p;
  if (request.has_as_at()) {
    const absl::CivilDay as_at = platform::FromProto(request.as_at());
    p.period_start = absl::CivilDay(absl::CivilMonth(as_at));
    p.period_end = as_at;
    p.stock_day = as_at;
    p.judged_on = as_at;
  } else {
    const absl::CivilMonth month(request.month().year(), request.month().month());
    p.period_start = absl::CivilDay(month);
    p.period_end = absl::CivilDay(month + 1) - 1;
    p.stock_day = std::min(p.period_end, today);
    p.judged_on = today;
  }
  return p;
}

absl::StatusOr<pbr::v1::KpiReport> KpiReportFor(const platform::StoreReader& store, const care::RuleSet& rules,
                                                care::ReviewPolicy policy, const pbr::v1::GetKpisRequest& request,
                                                absl::CivilDay today, int64_t* reads) {
  const KpiPeriod period = PeriodOf(request, today);
  const std::string scope = ScopeKey(request.scope());
  pbr::v1::KpiReport report;
  *report.mutable_scope() = request.scope();
  *report.mutable_period_start() = platform::ToProto(period.period_start);
  *report.mutable_period_end() = platform::ToProto(period.period_end);
  *report.mutable_stock_day() = platform::ToProto(period.stock_day);
  *report.mutable_judged_on() = platform::ToProto(period.judged_on);
  report.set_rule_version(absl::StrCat(rules.kpis().version, "; review periods ", VersionOf(rules, "review_periods"),
                                       " (", std::string(care::ReviewPolicyName(policy)), ")"));

  int64_t stock[5] = {};
  for (StockPart part : {StockPart::kActive, StockPart::kWithCluster, StockPart::kSecondaryCare,
                         StockPart::kWithinReviewPeriod, StockPart::kFitsServiceArea}) {
    auto n = StockOn(store, part, scope, period.stock_day, reads);
    if (!n.ok()) return n.status();
    stock[static_cast<int>(part)] = *n;
  }
  auto at = [&](StockPart p) { return stock[static_cast<int>(p)]; };
  Add(report, rules, 1, at(StockPart::kSecondaryCare), at(StockPart::kActive));
  Add(report, rules, 2, at(StockPart::kWithinReviewPeriod), at(StockPart::kWithCluster));
  Add(report, rules, 3, at(StockPart::kFitsServiceArea), at(StockPart::kWithCluster));
  const absl::CivilMonth month(period.period_start);
  for (int kpi = 4; kpi <= 13; ++kpi) {
    auto t = FlowOf(store, kpi, scope, month, period.judged_on, reads);
    if (!t.ok()) return t.status();
    Add(report, rules, kpi, t->met, t->count);
  }
  return report;
}

}  // namespace pbr::reporting::kpis
