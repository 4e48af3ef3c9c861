#pragma once
// What the outcomes service holds about one person, derived afresh from their ledger facts and the
// ratings of their live assessments: every assessment's HoNOS measures, its change since the episode's
// first and previous valid ratings, and each referral period's pair (NHS England: first valid rating
// against last valid, on a strictly later day). Pure: the same facts give the same view whatever order
// they arrived in, so an amendment or a withdrawal recomputes everything it touches. The episode here is
// the referral period (the ledger's), as NHS England pairs ratings within a referral.
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "outcome_tally.h"
#include "care/outcomes.h"
#include "care/rules.h"
#include "ledger/ledger.h"
#include "pbr/v1/outcomes.pb.h"

namespace pbr::outcomes {

// The ratings of each live assessment, by assessment id.
using RatingsById = std::map<std::string, care::MhctRatings>;

// DATA_LOSS when a live assessment's ratings are missing (the store lost them).
absl::StatusOr<pbr::v1::PersonOutcomes> DeriveOutcomes(const care::RuleSet& rules, absl::string_view person_id,
                                                      const ledger::PersonFacts& facts, const RatingsById& ratings);

// What an episode adds to the summaries: services/common/outcome_tally.h.
using services::ContributionOf;

// The contracts' enums for the rules library's.
pbr::v1::ReliableChange ReliableChangeOf(care::ReliableChange c);
pbr::v1::ItemSignificance ItemSignificanceOf(care::ItemSignificance s);

}  // namespace pbr::outcomes
