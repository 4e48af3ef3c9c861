#pragma once
// Between the events and the shared ledger (libs/ledger), and how a consumer keeps a person's
// ledger facts in its own store. The ledger itself decides what the facts mean; this file only
// converts and stores them, so every consumer reads the events and keeps the facts alike.
//
// Storage: one column family (the consumer names it, "ledger" in each consumer), keys
// "<person>/a/<assessment id>" -> pbr.state.v1.LedgerAssessment and "<person>/e/<care event id>" ->
// pbr.state.v1.LedgerCareEvent, each fact as last folded (withdrawn ones kept as tombstones). A
// handler loads the person's facts, folds the event's fact in memory, stages that one fact in the
// message's batch (reads do not see the batch) and derives the person's care from the folded facts.
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger/ledger.h"
#include "ledger_kinds.h"
#include "pbr/state/v1/state.pb.h"
#include "pbr/v1/events.pb.h"
#include "platform/consumer.h"
#include "platform/store.h"

namespace pbr::services {

// An event's payload as the ledger's fact. A withdrawal carries only its identity (id, revision,
// withdrawn): its other fields are as last recorded and count nowhere. A live assessment without
// `effective_at` took effect at its MHCT time (`assessed_at`).
ledger::Assessment AssessmentFromEvent(const pbr::v1::AssessmentRecorded& a);
ledger::CareEvent CareEventFromEvent(const pbr::v1::CareEventRecorded& e);

// A fact as stored, and back (a withdrawal again with its identity only).
pbr::state::v1::LedgerAssessment ToRecord(const ledger::Assessment& a);
pbr::state::v1::LedgerCareEvent ToRecord(const ledger::CareEvent& e);
ledger::Assessment FromRecord(const pbr::state::v1::LedgerAssessment& r);
ledger::CareEvent FromRecord(const pbr::state::v1::LedgerCareEvent& r);

std::string LedgerAssessmentKey(absl::string_view person_id, absl::string_view assessment_id);
std::string LedgerCareEventKey(absl::string_view person_id, absl::string_view care_event_id);

// Every fact stored for the person in `family`, by one prefix scan. A key under the person's prefix
// that is not exactly the key of the record it holds belongs to another person whose id starts
// with this one's and "/" (it is skipped); an unreadable record is DATA_LOSS.
absl::StatusOr<ledger::PersonFacts> LoadPersonFacts(const platform::StoreReader& store, absl::string_view family,
                                                   absl::string_view person_id);
// One stored assessment, if held.
absl::StatusOr<std::optional<ledger::Assessment>> LoadLedgerAssessment(const platform::StoreReader& store,
                                                                      absl::string_view family,
                                                                      absl::string_view person_id,
                                                                      absl::string_view assessment_id);

// Stages one folded fact (as the fold now holds it) in the message's batch.
void StageFact(platform::ApplyContext& ctx, absl::string_view family, absl::string_view person_id,
               const ledger::Assessment& a);
void StageFact(platform::ApplyContext& ctx, absl::string_view family, absl::string_view person_id,
               const ledger::CareEvent& e);

// The person's facts with `fact` folded in, and whether the fold changed them. When it did, the
// fact is staged in the batch; a stale or repeated revision changes nothing and stages nothing.
struct Folded {
  ledger::PersonFacts facts;
  bool changed = false;
};
absl::StatusOr<Folded> FoldIntoLedger(platform::ApplyContext& ctx, absl::string_view family,
                                      absl::string_view person_id, ledger::Assessment fact);
absl::StatusOr<Folded> FoldIntoLedger(platform::ApplyContext& ctx, absl::string_view family,
                                      absl::string_view person_id, ledger::CareEvent fact);

// What every consumer does with a care-event-recorded message: checks the person and the event's
// identity (InvalidArgument, dead-lettered, when missing) and folds the event into the person's facts.
absl::StatusOr<Folded> FoldCareEventRecorded(const platform::ConsumedEvent& event, platform::ApplyContext& ctx,
                                             absl::string_view family);

}  // namespace pbr::services
