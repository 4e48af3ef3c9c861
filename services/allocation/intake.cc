#include "intake.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "care/nhs_number.h"
#include "care_bridge.h"
#include "platform/events.h"
#include "rule_checks.h"

namespace pbr::allocation {
namespace {

const absl::Time kEarliest = absl::FromCivil(absl::CivilDay(2000, 1, 1), absl::UTCTimeZone());

class Problems {
 public:
  void Check(const absl::Status& st) {
    if (!st.ok()) list_.emplace_back(st.message());
  }
  void Add(std::string problem) { list_.push_back(std::move(problem)); }
  // A clinical time: present (if required), not in the future, not before care clusters.
  void CheckTime(absl::string_view field, const google::protobuf::Timestamp& t, bool present, bool required,
                 absl::Time now) {
    if (!present) {
      if (required) Add(absl::StrCat(field, ": required"));
      return;
    }
    const absl::Time at = platform::FromProto(t);
    if (at > now + absl::Hours(24)) Add(absl::StrCat(field, ": is in the future"));
    if (at < kEarliest) Add(absl::StrCat(field, ": is before 2000, before care clusters existed"));
  }
  absl::Status Result() const {
    return list_.empty() ? absl::OkStatus() : absl::InvalidArgumentError(absl::StrJoin(list_, "; "));
  }

 private:
  std::vector<std::string> list_;
};

}  // namespace

absl::Status CheckIdentifier(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) return required ? absl::InvalidArgumentError(absl::StrCat(field, ": required")) : absl::OkStatus();
  if (value.size() > 128) return absl::InvalidArgumentError(absl::StrCat(field, ": longer than 128 characters"));
  for (char c : value) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) && c != ' ') {
      return absl::InvalidArgumentError(absl::StrCat(field, ": contains a control or non-ASCII character"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAssessment(const care::RuleSet& rules, absl::Time now, const pbr::v1::RecordAssessmentRequest& r) {
  Problems p;
  p.Check(CheckIdentifier("source_system", r.source_system()));
  p.Check(CheckIdentifier("source_record_id", r.source_record_id()));
  p.Check(CheckIdentifier("team_id", r.team_id()));
  p.Check(CheckIdentifier("clinician_id", r.clinician_id()));
  p.Check(CheckIdentifier("local_patient_id", r.local_patient_id(), false));
  p.Check(CheckIdentifier("commissioner_id", r.commissioner_id(), false));
  p.Check(care::ValidateNhsNumber(r.nhs_number()));
  p.CheckTime("assessed_at", r.assessed_at(), r.has_assessed_at(), true, now);
  p.CheckTime("first_contact_at", r.first_contact_at(), r.has_first_contact_at(), false, now);
  p.CheckTime("admitted_at", r.admitted_at(), r.has_admitted_at(), false, now);
  if (r.has_admitted_at() && r.has_assessed_at() &&
      platform::FromProto(r.admitted_at()) > platform::FromProto(r.assessed_at())) {
    p.Add("admitted_at: is after assessed_at");
  }
  if (auto ratings = services::RatingsFromProto(r.ratings()); !ratings.ok()) {
    p.Check(ratings.status());
  } else {
    p.Check(care::ValidateMhct(*ratings));
  }
  if (!r.has_cluster()) {
    p.Add("cluster: required (0-21 except 9)");
  } else if (!care::IsValidClusterId(r.cluster())) {
    p.Add(absl::StrCat("cluster: ", r.cluster(),
                       r.cluster() == care::kBlankCluster ? " is the blank cluster, never used"
                                                          : " is not a care cluster (0-21)"));
  }
  if (r.reason() == pbr::v1::ASSESSMENT_REASON_UNSPECIFIED || !pbr::v1::AssessmentReason_IsValid(r.reason())) {
    p.Add("reason: required (initial assessment, formal, transfer, discharge or unplanned review)");
  }
  if (IsReview(r.reason()) &&
      (r.change_class() == pbr::v1::CHANGE_CLASS_UNSPECIFIED || !pbr::v1::ChangeClass_IsValid(r.change_class()))) {
    p.Add("change_class: required for a review (improvement, no change, deterioration or change in diagnosis)");
  }
  if (r.face_to_face_contacts() < 0) p.Add("face_to_face_contacts: must not be negative");
  if (!r.service_area().empty() && rules.service_areas().Find(r.service_area()) == nullptr) {
    std::vector<std::string> known;
    for (const auto& a : rules.service_areas().areas) known.push_back(a.id);
    p.Add(absl::StrCat("service_area: '", r.service_area(), "' is not a service area (", absl::StrJoin(known, ", "), ")"));
  }
  if (r.clinical_rationale().size() > 4000) p.Add("clinical_rationale: longer than 4000 characters");
  return p.Result();
}

absl::Status ValidateCareEvent(absl::Time now, const pbr::v1::RecordCareEventRequest& r) {
  Problems p;
  p.Check(CheckIdentifier("source_system", r.source_system()));
  p.Check(CheckIdentifier("source_record_id", r.source_record_id()));
  p.Check(CheckIdentifier("team_id", r.team_id()));
  p.Check(CheckIdentifier("clinician_id", r.clinician_id(), false));
  p.Check(CheckIdentifier("local_patient_id", r.local_patient_id(), false));
  p.Check(care::ValidateNhsNumber(r.nhs_number()));
  p.CheckTime("occurred_at", r.occurred_at(), r.has_occurred_at(), true, now);
  if (r.type() == pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED || !pbr::v1::CareEventType_IsValid(r.type())) {
    p.Add("type: required (referral to CRHT or inpatients, admission, contact, discharge, MHA assessment, "
          "non-concordance)");
  }
  const bool referral =
      r.type() == pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT || r.type() == pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS;
  if (r.out_of_hours() && !referral) p.Add("out_of_hours: applies to referrals only");
  return p.Result();
}

}  // namespace pbr::allocation
