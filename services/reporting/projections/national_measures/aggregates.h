#pragma once
// The national measures' maintained aggregates: per scope and cluster, how much ACC33 and ACC36 at a
// month end change from the month end before (pbr.state.v1.NationalDelta), kept per month and rolled up
// per year. The figure at the end of month M of year Y is the sum of the year keys before Y and the
// month keys of Y up to M: two short key-ordered reads whatever the number of people. A person's change
// takes away what their runs added before and adds what they add now, in the message's batch.
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "pbr/state/v1/national_state.pb.h"
#include "pbr/v1/reporting.pb.h"
#include "platform/consumer.h"
#include "platform/store.h"
#include "projections/national_measures/contributions.h"

namespace pbr::reporting::national {

inline constexpr absl::string_view kNationalDeltasFamily = "national_deltas";

// The key prefix of a scope: "trust/" or "<kind>/<length of id>:<id>/" (kind "team", "area" or
// "commissioner"). The length makes the prefix unambiguous whatever characters the id holds.
// Empty for REPORT_SCOPE_UNSPECIFIED.
std::string ScopeKey(pbr::v1::ReportScopeKind kind, absl::string_view id);
// Every scope a standing is counted under: the trust, its team, its service area (when it has one) and
// its commissioner.
std::vector<std::string> ScopesOf(const Standing& standing);

struct Counts {
  int64_t acc33 = 0;
  int64_t acc36 = 0;
};

// The changes of one message, summed per key in memory, so each key is read and written once.
class DeltaChanges {
 public:
  // Adds (sign +1) or takes away (-1) what a run adds: its standing from its first month, until its end.
  void Add(const Contribution& run, int sign);
  // One read and one write (a delete when it comes to nothing) per key changed.
  absl::Status Apply(platform::ApplyContext& ctx) const;
  size_t size() const { return changes_.size(); }

 private:
  void AddAt(const std::vector<std::string>& scopes, int cluster, absl::CivilMonth month, int64_t acc33,
             int64_t acc36);
  std::map<std::string, Counts> changes_;
};

// Per cluster, ACC33 and ACC36 at the end of `month` under the scope (ScopeKey); clusters nobody is
// counted in are absent. DATA_LOSS when a stored delta is unreadable or the sums cannot be right
// (negative, or more within the review period than counted).
absl::StatusOr<std::map<int, Counts>> CountsAt(const platform::StoreReader& store, absl::string_view scope_key,
                                               absl::CivilMonth month);

// A run as stored, and back.
pbr::state::v1::NationalContribution ToRecord(const Contribution& run);
absl::StatusOr<Contribution> FromRecord(const pbr::state::v1::NationalContribution& record);

}  // namespace pbr::reporting::national
