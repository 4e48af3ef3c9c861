#pragma once
// Validation of what EPRs send: every problem is reported at once, each naming its field.
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::allocation {

// Identifiers from EPRs become Kafka keys and RocksDB key parts: printable ASCII, at most 128.
absl::Status CheckIdentifier(absl::string_view field, absl::string_view value, bool required = true);

absl::Status ValidateAssessment(const care::RuleSet& rules, absl::Time now, const pbr::v1::RecordAssessmentRequest& r);
absl::Status ValidateCareEvent(absl::Time now, const pbr::v1::RecordCareEventRequest& r);

}  // namespace pbr::allocation
