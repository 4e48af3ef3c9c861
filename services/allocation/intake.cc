#include "intake.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "care/nhs_number.h"
#include "field_rules.h"
#include "platform/events.h"
#include "platform/quote.h"

namespace pbr::allocation {
namespace {

using services::Need;
using services::Problems;
namespace limits = services::limits;

// A clinical time: well-formed and inside the platform's window (shared), and not in the future.
// True when present and valid, so it may be compared with others.
bool CheckClinicalTime(Problems& p, absl::string_view field, const google::protobuf::Timestamp& t, bool present,
                       Need need, absl::Time now) {
  Problems shape;
  shape.Time(field, t, present, need);
  if (!shape.ok()) {
    p.Check(shape.Result());
    return false;
  }
  if (present && platform::FromProto(t) > now + limits::kMaxClockSkew) {
    p.Add(field, "is in the future");
    return false;
  }
  return present;
}

// Known to the rule set's service areas (the list is the rules', so it is bounded).
void CheckServiceArea(Problems& p, const care::RuleSet& rules, absl::string_view area) {
  if (area.empty()) return;
  Problems shape;
  shape.Identifier("service_area", area, Need::kOptional, limits::kServiceAreaBytes);
  if (!shape.ok()) {
    p.Check(shape.Result());
  } else if (rules.service_areas().Find(std::string_view(area.data(), area.size())) == nullptr) {
    std::vector<std::string> known;
    for (const auto& a : rules.service_areas().areas) known.push_back(a.id);
    p.Add("service_area", absl::StrCat(platform::Quote(area), " is not a service area (", absl::StrJoin(known, ", "), ")"));
  }
}

const care::Team* FindTeam(const care::RuleSet& rules, absl::string_view team_id) {
  return rules.teams().Find(std::string_view(team_id.data(), team_id.size()));
}

// A well-formed team_id (checked by the caller) is registered, unless unknown teams are admitted; a
// service area sent with a registered team is the team's.
void CheckTeam(Problems& p, const care::RuleSet& rules, absl::string_view team_id, absl::string_view service_area,
               const IntakeOptions& options) {
  Problems shape;
  shape.Identifier("team_id", team_id, Need::kRequired);
  if (!shape.ok()) return;  // already reported
  const care::Team* team = FindTeam(rules, team_id);
  if (team == nullptr) {
    if (!options.allow_unknown_teams) {
      p.Add("team_id", absl::StrCat(platform::Quote(team_id), " is not a team of the rule set's team registry (teams ",
                                    platform::Quote(rules.teams().version), ")"));
    }
    return;
  }
  if (!service_area.empty() && service_area != team->service_area &&
      rules.service_areas().Find(std::string_view(service_area.data(), service_area.size())) != nullptr) {
    p.Add("service_area", absl::StrCat(platform::Quote(service_area), " is not the service area of team ",
                                       platform::Quote(team_id), ", which is ", platform::Quote(team->service_area),
                                       " (leave service_area out to use the team's)"));
  }
}

}  // namespace

absl::Status ValidateAssessment(const care::RuleSet& rules, absl::Time now, const pbr::v1::RecordAssessmentRequest& r,
                                absl::string_view trace_id, const IntakeOptions& options) {
  Problems p;
  p.Identifier("source_system", r.source_system(), Need::kRequired);
  p.Identifier("source_record_id", r.source_record_id(), Need::kRequired);
  p.Identifier("team_id", r.team_id(), Need::kRequired);
  p.Identifier("clinician_id", r.clinician_id(), Need::kRequired);
  p.Identifier("care_coordinator_id", r.care_coordinator_id(), Need::kOptional);
  p.Identifier("local_patient_id", r.local_patient_id(), Need::kOptional);
  p.Identifier("commissioner_id", r.commissioner_id(), Need::kOptional);
  p.Identifier("x-trace-id", trace_id, Need::kOptional);
  p.Check(care::ValidateNhsNumber(r.nhs_number()));
  const bool assessed = CheckClinicalTime(p, "assessed_at", r.assessed_at(), r.has_assessed_at(), Need::kRequired, now);
  CheckClinicalTime(p, "first_contact_at", r.first_contact_at(), r.has_first_contact_at(), Need::kOptional, now);
  const bool admitted = CheckClinicalTime(p, "admitted_at", r.admitted_at(), r.has_admitted_at(), Need::kOptional, now);
  if (assessed && admitted && platform::FromProto(r.admitted_at()) > platform::FromProto(r.assessed_at())) {
    p.Add("admitted_at", "is after assessed_at");
  }
  p.Ratings(r.ratings(), r.has_ratings());
  if (!r.has_cluster()) {
    p.Add("cluster", "required (0-21 except 9)");
  } else {
    p.Cluster(rules, "cluster", r.cluster());
  }
  p.Reason(r.reason(), r.change_class());
  p.FaceToFaceContacts(r.face_to_face_contacts());
  CheckServiceArea(p, rules, r.service_area());
  CheckTeam(p, rules, r.team_id(), r.service_area(), options);
  p.Text("clinical_rationale", r.clinical_rationale(), limits::kClinicalRationaleBytes);
  return p.Result();
}

absl::Status ValidateCareEvent(const care::RuleSet& rules, absl::Time now, const pbr::v1::RecordCareEventRequest& r,
                               absl::string_view trace_id, const IntakeOptions& options) {
  Problems p;
  p.Identifier("source_system", r.source_system(), Need::kRequired);
  p.Identifier("source_record_id", r.source_record_id(), Need::kRequired);
  p.Identifier("team_id", r.team_id(), Need::kRequired);
  p.Identifier("clinician_id", r.clinician_id(), Need::kOptional);
  p.Identifier("local_patient_id", r.local_patient_id(), Need::kOptional);
  p.Identifier("x-trace-id", trace_id, Need::kOptional);
  p.Check(care::ValidateNhsNumber(r.nhs_number()));
  CheckClinicalTime(p, "occurred_at", r.occurred_at(), r.has_occurred_at(), Need::kRequired, now);
  p.CareEventType(r.type(), r.out_of_hours());
  CheckTeam(p, rules, r.team_id(), "", options);
  return p.Result();
}

namespace {
// Both withdrawals name a record by its source and may say why.
template <typename Request>
absl::Status ValidateWithdrawalOf(const Request& r, absl::string_view trace_id) {
  Problems p;
  p.Identifier("source_system", r.source_system(), Need::kRequired);
  p.Identifier("source_record_id", r.source_record_id(), Need::kRequired);
  p.Text("reason", r.reason(), limits::kWithdrawReasonBytes);
  p.Identifier("x-trace-id", trace_id, Need::kOptional);
  return p.Result();
}
}  // namespace

absl::Status ValidateWithdrawal(const pbr::v1::WithdrawAssessmentRequest& r, absl::string_view trace_id) {
  return ValidateWithdrawalOf(r, trace_id);
}

absl::Status ValidateWithdrawal(const pbr::v1::WithdrawCareEventRequest& r, absl::string_view trace_id) {
  return ValidateWithdrawalOf(r, trace_id);
}

absl::Status ValidateSuggestion(const care::RuleSet& rules, const pbr::v1::SuggestClustersRequest& r,
                                const IntakeOptions& options) {
  Problems p;
  p.Ratings(r.ratings(), r.has_ratings());
  CheckServiceArea(p, rules, r.service_area());
  p.Identifier("team_id", r.team_id(), Need::kOptional);
  if (!r.team_id().empty()) CheckTeam(p, rules, r.team_id(), r.service_area(), options);
  return p.Result();
}

pbr::v1::RecordAssessmentRequest WithTeamDefaults(const care::RuleSet& rules, const pbr::v1::RecordAssessmentRequest& r) {
  pbr::v1::RecordAssessmentRequest out = r;
  if (const care::Team* team = FindTeam(rules, r.team_id())) {
    out.set_service_area(team->service_area);
    if (out.commissioner_id().empty()) out.set_commissioner_id(team->default_commissioner);
  }
  return out;
}

std::string SuggestionServiceArea(const care::RuleSet& rules, const pbr::v1::SuggestClustersRequest& r) {
  if (!r.service_area().empty()) return r.service_area();
  const care::Team* team = r.team_id().empty() ? nullptr : FindTeam(rules, r.team_id());
  return team != nullptr ? team->service_area : "";
}

std::optional<pbr::v1::RuleCheck> UnknownTeamCheck(const care::RuleSet& rules, absl::string_view team_id) {
  if (FindTeam(rules, team_id) != nullptr) return std::nullopt;
  pbr::v1::RuleCheck c;
  c.set_rule("team");
  c.set_passed(false);
  c.set_reason(absl::StrCat("Team ", platform::Quote(team_id), " is not in the team registry (teams ",
                            platform::Quote(rules.teams().version),
                            "); admitted while unknown teams are allowed, so the service area and commissioner "
                            "are only what the EPR sent."));
  c.set_rule_version(rules.version());
  return c;
}

absl::Status ValidatePersonQuery(const pbr::v1::GetPersonRequest& r) {
  Problems p;
  if (r.who_case() == pbr::v1::GetPersonRequest::kNhsNumber) {
    p.Check(care::ValidateNhsNumber(r.nhs_number()));
  } else if (r.who_case() == pbr::v1::GetPersonRequest::kPersonId && !r.person_id().empty()) {
    p.Identifier("person_id", r.person_id(), Need::kRequired);
  } else {
    p.Add("nhs_number or person_id", "one is required");
  }
  return p.Result();
}

absl::Status ValidateListRequest(const pbr::v1::ListRequest& r) {
  Problems p;
  p.Identifier("person_id", r.person_id(), Need::kRequired);
  p.Identifier("page_token", r.page_token(), Need::kOptional, limits::kPageTokenBytes);
  return p.Result();
}

}  // namespace pbr::allocation
