#pragma once
// The per-field rules intake (allocation) and every consumer (ValidateEvent) share, so a value is
// refused in one place for one reason. Every problem is collected and reported at once, each
// naming its field; values are quoted only through platform::Quote (a short prefix).
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "care/rules.h"
#include "google/protobuf/timestamp.pb.h"
#include "field_limits.h"
#include "pbr/v1/common.pb.h"

namespace pbr::services {

enum class Need { kRequired, kOptional };

bool IsReview(pbr::v1::AssessmentReason reason);

class Problems {
 public:
  // `prefix` goes before every field name, e.g. "assessment_recorded." for an event's payload.
  explicit Problems(std::string prefix = "") : prefix_(std::move(prefix)) {}

  void Add(absl::string_view field, absl::string_view problem);
  // Takes each "; "-separated problem of a non-OK status (which already names its field).
  void Check(const absl::Status& status);

  // Printable ASCII, at most limits::kIdentifierBytes (or `max_bytes`).
  void Identifier(absl::string_view field, absl::string_view value, Need need,
                  size_t max_bytes = limits::kIdentifierBytes);
  // Free text (proto3 guarantees UTF-8) of at most `max_bytes`.
  void Text(absl::string_view field, absl::string_view value, size_t max_bytes);
  // A repeated field of at most `max` entries.
  void Count(absl::string_view field, int size, int max);
  // A well-formed Timestamp (nanos 0-999,999,999) inside the fixed window of limits::
  // kEarliestUnixSeconds to kLatestUnixSeconds. `present` is the has_ accessor.
  void Time(absl::string_view field, const google::protobuf::Timestamp& t, bool present, Need need);
  // A real calendar date whose year is inside the same window.
  void Date(absl::string_view field, const pbr::v1::CivilDate& d, bool present, Need need);
  // A care cluster of the rule set: 0-21, never the blank cluster 9.
  void Cluster(const care::RuleSet& rules, absl::string_view field, int cluster);
  // `ratings`: exactly 18, each valid by the rules library; item 8's problem type and text bounded.
  void Ratings(const pbr::v1::MhctRatings& ratings, bool present);
  // The reason is one of the five; a review also needs a change class.
  void Reason(pbr::v1::AssessmentReason reason, pbr::v1::ChangeClass change_class);
  void FaceToFaceContacts(int contacts);
  void CareEventType(pbr::v1::CareEventType type, bool out_of_hours);

  bool ok() const { return list_.empty(); }
  // InvalidArgument listing every problem, "; "-separated; OK if none.
  absl::Status Result() const;

 private:
  std::string prefix_;
  std::vector<std::string> list_;
};

}  // namespace pbr::services
