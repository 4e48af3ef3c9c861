#pragma once
// The keys of the scheduler's indexes. Parts are joined by \x1f (unit separator), which no validated
// identifier contains, so a team id can never run into the next part.
//
// due_index: one entry per open review and dimension, "<dimension>\x1f<due yyyy-mm-dd>\x1f<person>",
// value a ScheduledReview holding team, service area and cluster (for filtering without a lookup).
// Dimensions: "all", "team\x1f<team>", "area\x1f<area>", "cluster\x1f<nn>", "team-cluster\x1f<team>\x1f<nn>";
// a scan of one dimension from its first key lists its reviews oldest due date first.
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "pbr/v1/review_scheduler.pb.h"

namespace pbr::scheduler {

inline constexpr char kSep = '\x1f';

std::string DayText(absl::CivilDay day);  // "yyyy-mm-dd"

std::string AllDimension();
std::string TeamDimension(absl::string_view team_id);
std::string AreaDimension(absl::string_view service_area);
std::string ClusterDimension(int cluster);
std::string TeamClusterDimension(absl::string_view team_id, int cluster);

// "<dimension>\x1f<due>\x1f<person>".
std::string DueIndexKey(absl::string_view dimension, absl::CivilDay due, absl::string_view person_id);
// Every due_index key of an open review.
std::vector<std::string> DueIndexKeys(const pbr::v1::Schedule& schedule);
// The value stored under each of them.
std::string DueIndexValue(const pbr::v1::Schedule& schedule);

// What follows a dimension's prefix: the due day and the person. False when `rest` is not that.
bool ParseDueIndexRest(absl::string_view rest, absl::CivilDay* due, std::string* person_id);

// "<UTC instant, fixed width>\x1f<person>": sorts by instant.
std::string TimerKey(absl::Time at, absl::string_view person_id);
// The first timer key later than every timer due at `now`.
std::string TimerScanEnd(absl::Time now);

// "<team>\x1f<nn>".
std::string OverdueCountKey(absl::string_view team_id, int cluster);
bool ParseOverdueCountKey(absl::string_view key, std::string* team_id, int* cluster);

}  // namespace pbr::scheduler
