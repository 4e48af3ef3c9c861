#pragma once
// The outcome summaries' queries: read from the tallies only, never a person.
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "care/outcomes.h"
#include "platform/store.h"

namespace pbr::reporting {

// "<team><sep><yyyy-mm>" (the separator 0x1f, which no team id holds).
std::string TallyKey(absl::string_view team_id, absl::CivilMonth month);

struct TeamOutcomes {
  std::map<std::string, care::OutcomeTally> teams;  // by team id; only teams with an episode counted
  care::OutcomeTally all;                           // every team's together
};
// The episodes counted in the months from `first` to `last` (inclusive), per team; only `teams` when given.
absl::StatusOr<TeamOutcomes> OutcomesByTeam(const platform::StoreReader& store, absl::CivilMonth first,
                                            absl::CivilMonth last, const std::set<std::string>* teams = nullptr);

}  // namespace pbr::reporting
