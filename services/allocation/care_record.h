#pragma once
// Allocation's records seen through the shared ledger (libs/ledger): a person's stored assessments
// and care events become ledger facts, and the derived care record becomes the wire forms
// allocation stores and answers with. No person logic lives here: the ledger decides.
#include <vector>

#include "ledger/ledger.h"
#include "pbr/state/v1/allocation_state.pb.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::allocation {

ledger::Assessment FactOf(const pbr::state::v1::StoredAssessment& stored);
ledger::CareEvent FactOf(const pbr::state::v1::StoredCareEvent& stored);

pbr::v1::Episode ToProto(const ledger::Episode& episode);
pbr::v1::ReferralPeriod ToProto(const ledger::ReferralPeriod& referral);

}  // namespace pbr::allocation
