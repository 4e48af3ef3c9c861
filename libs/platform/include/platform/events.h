#pragma once
// The event envelope, topic names, deterministic ids and time conversions shared by every service.
#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "pbr/v1/common.pb.h"
#include "pbr/v1/events.pb.h"

namespace pbr::platform {

// Event types; each is also the topic name (after the environment's prefix).
namespace topic {
inline constexpr absl::string_view kAssessmentRecorded = "assessment-recorded";
inline constexpr absl::string_view kCareEventRecorded = "care-event-recorded";
inline constexpr absl::string_view kClusterChanged = "cluster-changed";
inline constexpr absl::string_view kReviewDue = "review-due";
inline constexpr absl::string_view kReviewCompleted = "review-completed";
inline constexpr absl::string_view kOutcomeRecorded = "outcome-recorded";
inline constexpr absl::string_view kTariffActivity = "tariff-activity";
inline constexpr absl::string_view kDeadLetter = "dead-letter";
inline constexpr absl::string_view kAuditRecorded = "audit-recorded";
inline constexpr absl::string_view kAll[] = {kAssessmentRecorded, kCareEventRecorded, kClusterChanged,
                                            kReviewDue,          kReviewCompleted,   kOutcomeRecorded,
                                            kTariffActivity,     kDeadLetter,        kAuditRecorded};
}  // namespace topic

// The payload schema version this build writes and the newest it can read.
inline constexpr uint32_t kSchemaVersion = 1;

// A hex digest of the type and the parts that identify the fact, so the same fact always gets
// the same id (a retried RPC, a replayed message) and consumers can de-duplicate on it.
std::string DeterministicId(absl::string_view type, std::initializer_list<absl::string_view> parts);

// A keyed hash (HMAC-SHA-256) of `value`: used for person pseudonyms so the NHS number never
// leaves allocation, yet the same person always gets the same key.
std::string KeyedHash(absl::string_view secret, absl::string_view value);

// The event type named by the payload case, or "" when unset.
absl::string_view EventTypeOf(const pbr::v1::EventEnvelope& e);

google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& t);
pbr::v1::CivilDate ToProto(absl::CivilDay d);
absl::CivilDay FromProto(const pbr::v1::CivilDate& d);
// The calendar day of a clinical time. Clinical dates are recorded in UK local time.
absl::CivilDay ClinicalDay(absl::Time t);
const absl::TimeZone& ClinicalTimeZone();

}  // namespace pbr::platform

namespace pbr::platform {

// A new envelope with the common fields set; the caller sets the payload.
pbr::v1::EventEnvelope MakeEnvelope(absl::string_view event_type, std::string event_id, std::string person_id,
                                    absl::Time occurred_at, absl::Time recorded_at, std::string source_system,
                                    std::string trace_id);

}  // namespace pbr::platform
