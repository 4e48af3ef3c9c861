#include "projections/national_measures/queries.h"

#include "care/national_measures.h"
#include "platform/events.h"
#include "projections/national_measures/aggregates.h"

namespace pbr::reporting {
namespace {

void Fill(pbr::v1::NationalMeasure& m, const national::Counts& c, bool publication_rounding) {
  if (!publication_rounding) {
    m.set_acc33(c.acc33);
    m.set_acc36(c.acc36);
    m.set_acc37(care::Acc37Percent(c.acc36, c.acc33));
    return;
  }
  const care::PublishedNationalMeasure p = care::PublishNationalMeasure(c.acc33, c.acc36);
  m.set_acc33(p.acc33.value);
  m.set_acc33_suppressed(p.acc33.suppressed);
  m.set_acc36(p.acc36.value);
  m.set_acc36_suppressed(p.acc36.suppressed);
  m.set_acc37(p.acc37);
  m.set_acc37_suppressed(p.acc37_suppressed);
}

}  // namespace

absl::StatusOr<pbr::v1::NationalMeasures> NationalMeasuresAt(const platform::StoreReader& store, const care::RuleSet& rules,
                                                             const pbr::v1::ReportScope& scope,
                                                             absl::CivilMonth month, bool publication_rounding) {
  auto counts = national::CountsAt(store, national::ScopeKey(scope.kind(), scope.id()), month);
  if (!counts.ok()) return counts.status();
  pbr::v1::NationalMeasures out;
  *out.mutable_scope() = scope;
  *out.mutable_period_end() = platform::ToProto(absl::CivilDay(month + 1) - 1);
  out.set_publication_rounding(publication_rounding);
  out.set_rule_version(rules.review_periods().version);
  national::Counts all;
  for (const auto& [cluster, c] : *counts) {  // ascending cluster; only clusters someone counts in
    auto* row = out.add_clusters();
    row->set_cluster(cluster);
    Fill(*row, c, publication_rounding);
    all.acc33 += c.acc33;
    all.acc36 += c.acc36;
  }
  Fill(*out.mutable_all(), all, publication_rounding);
  return out;
}

}  // namespace pbr::reporting
