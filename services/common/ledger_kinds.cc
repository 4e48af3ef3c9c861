// The contracts' enums and the ledger's kinds: one mapping for the services and the tools.
#include "ledger_kinds.h"

namespace pbr::services {

ledger::AssessmentKind AssessmentKindOf(pbr::v1::AssessmentReason reason) {
  switch (reason) {
    case pbr::v1::ASSESSMENT_REASON_INITIAL: return ledger::AssessmentKind::kInitial;
    case pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW: return ledger::AssessmentKind::kFormalReview;
    case pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW: return ledger::AssessmentKind::kTransferReview;
    case pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW: return ledger::AssessmentKind::kDischargeReview;
    case pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW: return ledger::AssessmentKind::kUnplannedReview;
    default: return ledger::AssessmentKind::kUnspecified;
  }
}

pbr::v1::AssessmentReason AssessmentReasonOf(ledger::AssessmentKind kind) {
  switch (kind) {
    case ledger::AssessmentKind::kInitial: return pbr::v1::ASSESSMENT_REASON_INITIAL;
    case ledger::AssessmentKind::kFormalReview: return pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW;
    case ledger::AssessmentKind::kTransferReview: return pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
    case ledger::AssessmentKind::kDischargeReview: return pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW;
    case ledger::AssessmentKind::kUnplannedReview: return pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW;
    case ledger::AssessmentKind::kUnspecified: break;
  }
  return pbr::v1::ASSESSMENT_REASON_UNSPECIFIED;
}

ledger::CareEventKind CareEventKindOf(pbr::v1::CareEventType type) {
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

pbr::v1::CareEventType CareEventTypeOf(ledger::CareEventKind kind) {
  switch (kind) {
    case ledger::CareEventKind::kReferralReceived: return pbr::v1::CARE_EVENT_REFERRAL_RECEIVED;
    case ledger::CareEventKind::kReferralToCrht: return pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT;
    case ledger::CareEventKind::kReferralToInpatients: return pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS;
    case ledger::CareEventKind::kAdmission: return pbr::v1::CARE_EVENT_ADMISSION;
    case ledger::CareEventKind::kFaceToFaceContact: return pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT;
    case ledger::CareEventKind::kDischargeReview: return pbr::v1::CARE_EVENT_DISCHARGE_REVIEW;
    case ledger::CareEventKind::kDischargeFromService: return pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE;
    case ledger::CareEventKind::kMhaAssessment: return pbr::v1::CARE_EVENT_MHA_ASSESSMENT;
    case ledger::CareEventKind::kMedicationNonConcordance: return pbr::v1::CARE_EVENT_MEDICATION_NON_CONCORDANCE;
    case ledger::CareEventKind::kOther: break;
  }
  return pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED;
}

care::ChangeClass ChangeClassOf(pbr::v1::ChangeClass change) {
  switch (change) {
    case pbr::v1::CHANGE_CLASS_IMPROVEMENT: return care::ChangeClass::kImprovement;
    case pbr::v1::CHANGE_CLASS_DETERIORATION: return care::ChangeClass::kDeterioration;
    case pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS: return care::ChangeClass::kChangeInDiagnosis;
    default: return care::ChangeClass::kNoChange;
  }
}

std::optional<care::HistoryTrigger> HistoryTriggerOf(ledger::CareEventKind kind) {
  switch (kind) {
    case ledger::CareEventKind::kReferralToCrht: return care::HistoryTrigger::kCrhtReferral;
    case ledger::CareEventKind::kReferralToInpatients: return care::HistoryTrigger::kInpatientReferral;
    case ledger::CareEventKind::kAdmission: return care::HistoryTrigger::kAdmission;
    case ledger::CareEventKind::kMhaAssessment: return care::HistoryTrigger::kMhaAssessment;
    case ledger::CareEventKind::kMedicationNonConcordance: return care::HistoryTrigger::kMedicationNonConcordance;
    default: return std::nullopt;
  }
}

}  // namespace pbr::services
