#pragma once
// The platform's field limits: one table for every request allocation takes and every event on
// the topics (intake and ValidateEvent both read it; the .proto comments and the README quote it).
// Every string and repeated field has a bound, so every event allocation publishes fits the
// broker's message limit by construction (the static_assert at the end computes the worst case).
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace pbr::services::limits {

// Identifiers (printable ASCII): source_system, source_record_id, team_id, clinician_id,
// care_coordinator_id, local_patient_id, commissioner_id, person_id, the platform's ids (event,
// assessment, care event, episode), rule versions, and the x-trace-id call metadata. They become
// Kafka keys and RocksDB key parts.
inline constexpr size_t kIdentifierBytes = 128;
// service_area: an id from rules/service_areas.yaml (identifier characters).
inline constexpr size_t kServiceAreaBytes = 64;
// Free text (UTF-8, counted in bytes).
inline constexpr size_t kItem8OtherTextBytes = 500;      // ratings.item8_other_text
inline constexpr size_t kClinicalRationaleBytes = 4000;  // clinical_rationale
inline constexpr size_t kWithdrawReasonBytes = 1000;     // WithdrawAssessmentRequest.reason
// IntakeBatch.items: a bulk batch is one durable write; this bounds its size (each item is bounded below).
inline constexpr int kMaxIntakeBatchItems = 1000;
// ratings.items: exactly this many (items 1-13, A-E); ratings.item8_problem_type: one letter A-J.
inline constexpr int kRatingItems = 18;
inline constexpr size_t kItem8ProblemTypeBytes = 1;
// face_to_face_contacts: contacts before an initial allocation (KPI 5 counts a handful).
inline constexpr int kMaxFaceToFaceContacts = 1000;
// ListRequest.page_token: a decimal offset from a previous reply.
inline constexpr size_t kPageTokenBytes = 20;
// The audit trail: a client certificate's subject (UTF-8) and gRPC's peer string as recorded
// (longer ones are cut at a character boundary), and ListAuditRequest's page token.
inline constexpr size_t kCallerSubjectBytes = 512;
inline constexpr size_t kPeerBytes = 256;
inline constexpr size_t kAuditPageTokenBytes = 128;
inline constexpr int kMaxAuditPageSize = 500;

// What allocation adds to an assessment-recorded event itself: its rule checks (red rules,
// service area, cluster restriction, transition protocol; room for more), each with a reason in
// words from the rule files and the clusters it expected.
inline constexpr int kMaxRuleChecks = 12;
inline constexpr size_t kRuleNameBytes = 64;             // checks.rule
inline constexpr size_t kRuleReasonBytes = 2000;         // checks.reason
inline constexpr int kMaxExpectedClusters = 22;          // checks.expected_clusters (0-21)

// Every Timestamp: nanos 0-999,999,999 and within this fixed window (clinical and system times,
// and the dates computed from them such as review due dates). Fixed, not "now"-dependent, so every
// consumer decides alike; intake also refuses clinical times more than a day in the future.
inline constexpr int64_t kEarliestUnixSeconds = 946'684'800;   // 2000-01-01T00:00:00Z
inline constexpr int64_t kLatestUnixSeconds = 7'258'118'400;   // 2200-01-01T00:00:00Z, exclusive
inline constexpr int kEarliestYear = 2000, kLatestYear = 2199;  // the same window for CivilDate fields
inline constexpr absl::Duration kMaxClockSkew = absl::Hours(24);  // intake: "in the future" beyond this

// The Kafka producer's message.max.bytes (librdkafka's default); the outbox publishes with it.
inline constexpr size_t kBrokerMessageBytes = 1'000'000;

namespace worst_case {
// Upper bounds of protobuf's encoding: a tag is at most 2 bytes (field numbers below 2048), a
// length or varint at most 10.
constexpr size_t String(size_t max_bytes) { return 2 + 10 + max_bytes; }
constexpr size_t Varint() { return 2 + 10; }
constexpr size_t Message(size_t body) { return 2 + 10 + body; }
constexpr size_t Timestamp() { return Message(Varint() + Varint()); }

constexpr size_t Envelope(size_t payload) {
  return String(kIdentifierBytes) /* event_id */ + String(32) /* event_type */ + Varint() /* schema_version */ +
         2 * Timestamp() + 3 * String(kIdentifierBytes) /* source_system, person_id, trace_id */ + Message(payload);
}
constexpr size_t RuleCheck() {
  return String(kRuleNameBytes) + Varint() + String(kRuleReasonBytes) + Message(kMaxExpectedClusters * 10) +
         String(kIdentifierBytes) + Varint();
}
constexpr size_t AssessmentRecorded() {
  return 8 * String(kIdentifierBytes) /* assessment, source record, team, clinician, commissioner, episode,
                                          referral, care co-ordinator */ +
         String(kIdentifierBytes) /* rule_version */ + String(kServiceAreaBytes) +
         Message(Message(kRatingItems * 10) + String(kItem8ProblemTypeBytes) + String(kItem8OtherTextBytes)) +
         7 * Varint() /* cluster, reason, revision, withdrawn, change_class, contacts, spare */ +
         kMaxRuleChecks * Message(RuleCheck()) + String(kClinicalRationaleBytes) + 4 * Timestamp();
}
}  // namespace worst_case

// The largest assessment-recorded event allocation can stage (its other events are far smaller).
inline constexpr size_t kMaxAssessmentEventBytes = worst_case::Envelope(worst_case::AssessmentRecorded());
static_assert(kMaxAssessmentEventBytes < kBrokerMessageBytes,
              "an assessment-recorded event at every limit must fit the broker's message limit");

}  // namespace pbr::services::limits
