#pragma once
// The outcomes projection's answers: a person's outcomes (one read) and the summaries by grouping and
// period (the maintained tallies of the days in the period, never the people).
#include <optional>

#include "absl/status/statusor.h"
#include "care/rules.h"
#include "pbr/v1/outcomes.pb.h"
#include "platform/consumer.h"
#include "platform/store.h"

namespace pbr::outcomes {

// NOT_FOUND naming the person when they have no outcomes here; FAILED_PRECONDITION naming the partition when
// this store holds them in a partition this replica no longer answers for (`share`: another replica of the
// group holds them now). A person this replica never held is NOT_FOUND, wherever they are.
absl::StatusOr<pbr::v1::PersonOutcomes> PersonOutcomesOf(const platform::StoreReader& store, const care::RuleSet& rules,
                                                        absl::string_view person_id,
                                                        const pbr::v1::ConsumedShare& share = {});

struct SummaryQuery {
  pbr::v1::OutcomeGrouping group_by = pbr::v1::OUTCOME_GROUPING_UNSPECIFIED;
  std::optional<absl::CivilDay> first_day, last_day;  // inclusive; none: open on that side
};
// INVALID_ARGUMENT naming the field for a missing grouping, a bad date or a period that ends before it starts.
absl::StatusOr<SummaryQuery> ParseSummaryQuery(const pbr::v1::SummariseOutcomesRequest& request);
// Over the partitions `share` answers for (all stored when never assigned), which the reply names.
absl::StatusOr<pbr::v1::OutcomesSummary> SummariseOutcomes(const platform::StoreReader& store, const care::RuleSet& rules,
                                                          const SummaryQuery& query,
                                                          const pbr::v1::ConsumedShare& share = {});

}  // namespace pbr::outcomes
