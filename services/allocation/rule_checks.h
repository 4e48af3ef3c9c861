#pragma once
// The clinician's chosen cluster against the rules: red rules (profile must-score cells), the
// team's service area, and the transition protocol at a review. Every result is recorded; a
// breach is accepted only with a clinical rationale.
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "care/rules.h"
#include "field_rules.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::allocation {

// What the shared ledger says about the person just before this assessment.
struct AllocationFacts {
  std::optional<int> from_cluster;                  // the current cluster of the open referral, if any
  std::optional<absl::CivilDay> from_cluster_start;
  std::optional<int> cluster_before_from;           // the cluster immediately before it
  std::vector<care::HistoryEvent> history;          // care events that trigger the acute-event rule
  bool returning_patient = false;                   // an earlier referral period was closed
};

// Whether the assessment is checked as an initial allocation: an initial assessment, or a review
// for a person the platform holds no cluster for (then checked, and answered, as an initial one).
bool CheckedAsInitial(const pbr::v1::RecordAssessmentRequest& request, const AllocationFacts& facts);

struct CheckResult {
  std::vector<pbr::v1::RuleCheck> checks;
  absl::Status refusal;  // FailedPrecondition when a breach has no rationale
};

using services::IsReview;

// `ratings` were validated already; the request's service area, if given, is known to the rules.
CheckResult CheckAllocation(const care::RuleSet& rules, const pbr::v1::RecordAssessmentRequest& request,
                            const care::MhctRatings& ratings, const AllocationFacts& facts);

// The ranked suggestions in wire form: best fit first, then the excluded clusters. Only clusters the
// service area holds (any area: null) and never those the trust does not use in secondary care.
std::vector<pbr::v1::ClusterSuggestion> ToSuggestions(const care::RuleSet& rules, const care::SuggestionResult& result,
                                                      const care::ServiceArea* only_in_area, size_t max_ranked);

}  // namespace pbr::allocation
