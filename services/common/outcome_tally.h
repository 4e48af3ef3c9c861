#pragma once
// What an episode's outcome adds to a summary, and the sums as stored: shared by the outcomes service's
// summaries and reporting's per-team outcomes, so both count an episode the same way (the sums themselves
// are care::OutcomeTally's).
#include <optional>

#include "care/outcomes.h"
#include "pbr/state/v1/outcomes_state.pb.h"
#include "pbr/v1/outcome_measures.pb.h"

namespace pbr::services {

// What an episode adds to the summaries; none when it has no valid rating (it counts nowhere).
std::optional<care::EpisodeContribution> ContributionOf(const pbr::v1::EpisodeOutcome& episode);

care::OutcomeTally FromRecord(const pbr::state::v1::OutcomeTallyRecord& r);
pbr::state::v1::OutcomeTallyRecord ToRecord(const care::OutcomeTally& t);
// The record with every sum multiplied by `sign` (-1: what taking it away adds).
care::OutcomeTally Signed(const pbr::state::v1::OutcomeTallyRecord& r, int sign);
// A count below zero: the sums and the episodes they were made from disagree.
bool AnyNegative(const care::OutcomeTally& t);
// Nothing left: the row can be deleted.
bool AllZero(const care::OutcomeTally& t);

}  // namespace pbr::services
