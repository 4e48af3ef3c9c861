#pragma once
// The outcome summaries projection: outcomes per team and calendar month for the dashboard, summed from
// the outcome-recorded topic. Each announcement carries its referral period's episode as it now stands (its
// pair, its change, where it counts: the first valid rating's team, on the UK day of the last valid rating),
// so the projection keeps what each period last added and moves the team's tally by the difference in the
// same write: a re-announced period never counts twice, and one emptied by withdrawals, or left by every
// assessment a correction moved into another period, leaves. The sums
// are the outcomes service's (services/common/outcome_tally.h, care::OutcomeTally), so a team's figures
// here equal Outcomes.SummariseOutcomes grouped by team over the same months.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "platform/projection.h"

namespace pbr::reporting {

// person -> pbr.state.v1.OutcomeSummaryPerson
inline constexpr absl::string_view kOutcomeSummariesPeopleFamily = "outcome_summaries_people";
// "<team><sep><yyyy-mm>" -> pbr.state.v1.OutcomeTallyRecord: the episodes counted in that month
inline constexpr absl::string_view kOutcomeSummariesTalliesFamily = "outcome_summaries_tallies";
inline constexpr absl::string_view kOutcomeSummariesFamilies[] = {kOutcomeSummariesPeopleFamily,
                                                                  kOutcomeSummariesTalliesFamily};

class OutcomeSummariesProjection final : public platform::Projection {
 public:
  absl::string_view name() const override { return "outcome_summaries"; }
  std::vector<std::string> topics() const override;
  std::vector<std::string> families() const override;
  // INVALID_ARGUMENT (dead-lettered): no person, no assessment id, an episode without its referral id or
  // with a valid rating but no team or day to count it under, a live outcome without its referral id.
  absl::Status Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const override;
};

}  // namespace pbr::reporting
