#pragma once
// The national projection's queries: read from its own families only (the deltas, never a person).
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "care/rules.h"
#include "pbr/v1/reporting.pb.h"
#include "platform/store.h"

namespace pbr::reporting {

// ACC33/36/37 per cluster at the end of `month` for a scope the caller has checked (a known kind; an id
// of the registry or the rules where that matters). Clusters nobody counts in are left out; `all` is
// every cluster together. With `publication_rounding` every row is as published below England level
// (care::PublishNationalMeasure). `rules` names the national periods' version the answer follows.
absl::StatusOr<pbr::v1::NationalMeasures> NationalMeasuresAt(const platform::StoreReader& store, const care::RuleSet& rules,
                                                             const pbr::v1::ReportScope& scope,
                                                             absl::CivilMonth month, bool publication_rounding);

}  // namespace pbr::reporting
