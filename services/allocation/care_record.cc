#include "care_record.h"

#include "ledger_store.h"
#include "platform/events.h"

namespace pbr::allocation {

ledger::Assessment FactOf(const pbr::state::v1::StoredAssessment& stored) {
  // The stored content is the event as last published (effective_at included).
  return services::AssessmentFromEvent(stored.content());
}

ledger::CareEvent FactOf(const pbr::state::v1::StoredCareEvent& stored) {
  return services::CareEventFromEvent(stored.content());
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
