#pragma once
// Validation of what EPRs send: every problem is reported at once, each naming its field. The
// per-field rules and limits are shared with every consumer (services/common/field_rules.h,
// field_limits.h); what only intake can know (the current time, the rule set's service areas and teams) is
// added here.
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::allocation {

struct IntakeOptions {
  // The allow-unknown-teams setting, for a migration: a team_id the rule set's team registry does not
  // list is admitted (recorded with a failed "team" check, see UnknownTeamCheck) instead of refused.
  bool allow_unknown_teams = false;
};

// The team_id of every call must be a registered team (rules/teams.yaml) unless `options` admit unknown
// ones, and a service_area sent with it must be the team's.
// `trace_id` is the call's x-trace-id metadata: it travels on every event, so it is bounded too.
absl::Status ValidateAssessment(const care::RuleSet& rules, absl::Time now, const pbr::v1::RecordAssessmentRequest& r,
                                absl::string_view trace_id = "", const IntakeOptions& options = {});
absl::Status ValidateCareEvent(const care::RuleSet& rules, absl::Time now, const pbr::v1::RecordCareEventRequest& r,
                               absl::string_view trace_id = "", const IntakeOptions& options = {});
absl::Status ValidateWithdrawal(const pbr::v1::WithdrawAssessmentRequest& r, absl::string_view trace_id = "");
absl::Status ValidateWithdrawal(const pbr::v1::WithdrawCareEventRequest& r, absl::string_view trace_id = "");
// team_id is optional here.
absl::Status ValidateSuggestion(const care::RuleSet& rules, const pbr::v1::SuggestClustersRequest& r,
                                const IntakeOptions& options = {});

// A validated assessment as the rules see it and allocation records it: the service area is the team's,
// and so is the commissioner when the EPR names none. An (admitted) unknown team leaves it as sent.
pbr::v1::RecordAssessmentRequest WithTeamDefaults(const care::RuleSet& rules, const pbr::v1::RecordAssessmentRequest& r);
// The service area a validated suggestion is for: the request's, else its team's; "" for none.
std::string SuggestionServiceArea(const care::RuleSet& rules, const pbr::v1::SuggestClustersRequest& r);
// The check recorded with an assessment whose team the registry does not list (passed false, saying so);
// nullopt for a registered team.
std::optional<pbr::v1::RuleCheck> UnknownTeamCheck(const care::RuleSet& rules, absl::string_view team_id);
// The queries: bounded too, though they store nothing.
absl::Status ValidatePersonQuery(const pbr::v1::GetPersonRequest& r);
absl::Status ValidateListRequest(const pbr::v1::ListRequest& r);

}  // namespace pbr::allocation
