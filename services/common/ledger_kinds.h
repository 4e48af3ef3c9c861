#pragma once
// The contracts' enums as the shared ledger's kinds and the rules' words, and back. Light on purpose (protos and the ledger
// only), so a tool that builds ledger facts (pbrctl's demo data) maps them exactly as the services do.
#include <optional>

#include "care/transitions.h"
#include "ledger/ledger.h"
#include "pbr/v1/common.pb.h"

namespace pbr::services {

// The contracts' enums as the ledger's kinds, and back. A value this build does not know is
// unspecified (an assessment) or other (a care event): the ledger gives those no meaning.
ledger::AssessmentKind AssessmentKindOf(pbr::v1::AssessmentReason reason);
pbr::v1::AssessmentReason AssessmentReasonOf(ledger::AssessmentKind kind);
ledger::CareEventKind CareEventKindOf(pbr::v1::CareEventType type);
pbr::v1::CareEventType CareEventTypeOf(ledger::CareEventKind kind);

// The rules' words for them. An unset change class is no change (what the transition protocol
// assumes of a review that does not say); a care event that is not an acute event is no trigger.
care::ChangeClass ChangeClassOf(pbr::v1::ChangeClass change);
std::optional<care::HistoryTrigger> HistoryTriggerOf(ledger::CareEventKind kind);

}  // namespace pbr::services
