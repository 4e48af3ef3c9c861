#pragma once
// Validation of what EPRs send: every problem is reported at once, each naming its field. The
// per-field rules and limits are shared with every consumer (services/common/field_rules.h,
// field_limits.h); what only intake can know (the current time, the rule set's service areas) is added here.
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::allocation {

// `trace_id` is the call's x-trace-id metadata: it travels on every event, so it is bounded too.
absl::Status ValidateAssessment(const care::RuleSet& rules, absl::Time now, const pbr::v1::RecordAssessmentRequest& r,
                                absl::string_view trace_id = "");
absl::Status ValidateCareEvent(absl::Time now, const pbr::v1::RecordCareEventRequest& r,
                               absl::string_view trace_id = "");
absl::Status ValidateWithdrawal(const pbr::v1::WithdrawAssessmentRequest& r, absl::string_view trace_id = "");
absl::Status ValidateSuggestion(const care::RuleSet& rules, const pbr::v1::SuggestClustersRequest& r);
// The queries: bounded too, though they store nothing.
absl::Status ValidatePersonQuery(const pbr::v1::GetPersonRequest& r);
absl::Status ValidateListRequest(const pbr::v1::ListRequest& r);

}  // namespace pbr::allocation
