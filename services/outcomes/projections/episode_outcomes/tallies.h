#pragma once
// The summaries' maintained aggregates: one row per consumed partition, grouping, UK day and group, holding
// the sums of the episodes whose last valid rating fell on that day (pbr.state.v1.OutcomeTallyRecord). Per
// partition, so a replica answers for the partitions it owns and replicas' answers add up (consumer.h). A person's change
// takes away what their episodes added before and adds what they add now, in the same batch, so a
// summary is always the sum of the people and never needs them read.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "care/outcomes.h"
#include "pbr/state/v1/outcomes_state.pb.h"
#include "pbr/v1/outcomes.pb.h"
#include "platform/consumer.h"
#include "outcome_tally.h"
#include "platform/store.h"

namespace pbr::outcomes {

inline constexpr absl::string_view kTalliesFamily = "episode_outcomes_tallies";

// The grouping's key prefix: "team", "cluster", "commissioner", "super_class"; empty for UNSPECIFIED.
absl::string_view GroupingName(pbr::v1::OutcomeGrouping g);
// The groupings every episode is counted under.
inline constexpr pbr::v1::OutcomeGrouping kGroupings[] = {
    pbr::v1::OUTCOME_GROUPING_TEAM, pbr::v1::OUTCOME_GROUPING_CLUSTER, pbr::v1::OUTCOME_GROUPING_COMMISSIONER,
    pbr::v1::OUTCOME_GROUPING_SUPER_CLASS};

// "<partition>/<grouping>/<yyyy-mm-dd>/<group>".
std::string TallyKey(int32_t partition, pbr::v1::OutcomeGrouping g, absl::CivilDay day, absl::string_view group);
// The episode's group under a grouping (its team, cluster number, commissioner or super-class code); an
// episode whose assessment named no commissioner is in care::kUnknownCommissioner's group.
std::string GroupOf(const pbr::v1::EpisodeOutcome& episode, pbr::v1::OutcomeGrouping g);

// The record conversions are services/common/outcome_tally.h's (reporting counts episodes the same way).
using services::FromRecord;
using services::Signed;
using services::ToRecord;

// Adds each key's change to its row, in the message's batch. A row that would go below zero is
// DATA_LOSS (the rows and the people disagree); an emptied row is deleted.
absl::Status ApplyTallyChanges(platform::ApplyContext& ctx, const std::map<std::string, care::OutcomeTally>& changes);

// The rows of one grouping with days in [first, last] (either end open) in the given partitions (nullopt:
// every partition stored), summed per group.
struct GroupTallies {
  std::map<std::string, care::OutcomeTally> groups;
  int64_t rows_read = 0;
};
absl::StatusOr<GroupTallies> ReadTallies(const platform::StoreReader& store, pbr::v1::OutcomeGrouping g,
                                         std::optional<absl::CivilDay> first, std::optional<absl::CivilDay> last,
                                         const std::optional<std::set<int32_t>>& partitions = std::nullopt);

}  // namespace pbr::outcomes
