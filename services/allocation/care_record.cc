#include "care_record.h"

#include "platform/events.h"

namespace pbr::allocation {

using platform::FromProto;

ledger::AssessmentKind KindOf(pbr::v1::AssessmentReason reason) {
  switch (reason) {
    case pbr::v1::ASSESSMENT_REASON_INITIAL: return ledger::AssessmentKind::kInitial;
    case pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW: return ledger::AssessmentKind::kFormalReview;
    case pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW: return ledger::AssessmentKind::kTransferReview;
    case pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW: return ledger::AssessmentKind::kDischargeReview;
    case pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW: return ledger::AssessmentKind::kUnplannedReview;
    default: return ledger::AssessmentKind::kUnspecified;
  }
}

ledger::CareEventKind KindOf(pbr::v1::CareEventType type) {
  switch (type) {
    case pbr::v1::CARE_EVENT_REFERRAL_RECEIVED: return ledger::CareEventKind::kReferralReceived;
    case pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT: return ledger::CareEventKind::kReferralToCrht;
    case pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS: return ledger::CareEventKind::kReferralToInpatients;
    case pbr::v1::CARE_EVENT_ADMISSION: return ledger::CareEventKind::kAdmission;
    case pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT: return ledger::CareEventKind::kFaceToFaceContact;
    case pbr::v1::CARE_EVENT_DISCHARGE_REVIEW: return ledger::CareEventKind::kDischargeReview;
    case pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE: return ledger::CareEventKind::kDischargeFromService;
    case pbr::v1::CARE_EVENT_MHA_ASSESSMENT: return ledger::CareEventKind::kMhaAssessment;
    case pbr::v1::CARE_EVENT_MEDICATION_NON_CONCORDANCE: return ledger::CareEventKind::kMedicationNonConcordance;
    default: return ledger::CareEventKind::kOther;
  }
}

ledger::Assessment FactOf(const pbr::state::v1::StoredAssessment& stored) {
  const auto& c = stored.content();
  ledger::Assessment a;
  a.id = c.assessment_id();
  a.revision = c.revision();
  a.withdrawn = c.withdrawn();
  a.assessed_at = FromProto(c.assessed_at());
  a.effective_at = stored.has_effective_at() ? FromProto(stored.effective_at()) : a.assessed_at;
  a.cluster = c.cluster();
  a.kind = KindOf(c.reason());
  a.team_id = c.team_id();
  a.commissioner_id = c.commissioner_id();
  a.service_area = c.service_area();
  return a;
}

ledger::CareEvent FactOf(const pbr::state::v1::StoredCareEvent& stored) {
  const auto& c = stored.content();
  ledger::CareEvent e;
  e.id = c.care_event_id();
  e.revision = c.revision();
  e.withdrawn = c.withdrawn();
  e.kind = KindOf(c.type());
  e.occurred_at = FromProto(c.occurred_at());
  e.team_id = c.team_id();
  e.out_of_hours = c.out_of_hours();
  return e;
}

pbr::v1::Episode ToProto(const ledger::Episode& e) {
  pbr::v1::Episode out;
  out.set_episode_id(e.id);
  out.set_cluster(e.cluster);
  out.set_team_id(e.team_id);
  *out.mutable_started_at() = platform::ToProto(e.started_at);
  if (e.ended_at) *out.mutable_ended_at() = platform::ToProto(*e.ended_at);
  out.set_started_by_assessment_id(e.started_by);
  out.set_commissioner_id(e.commissioner_id);
  out.set_referral_id(e.referral_id);
  out.set_ended_by_discharge(e.ended_by_discharge);
  return out;
}

pbr::v1::ReferralPeriod ToProto(const ledger::ReferralPeriod& r) {
  pbr::v1::ReferralPeriod out;
  out.set_referral_id(r.id);
  *out.mutable_opened_at() = platform::ToProto(r.opened_at);
  out.set_opened_by(r.opened_by);
  if (r.closed_at) *out.mutable_closed_at() = platform::ToProto(*r.closed_at);
  out.set_closed_by(r.closed_by);
  return out;
}

}  // namespace pbr::allocation
