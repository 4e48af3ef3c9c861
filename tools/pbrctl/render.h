// pbrctl's input and output formats: protobuf JSON in and out, and the human-readable tables.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "pbr/v1/allocation.pb.h"
#include "pbr/v1/outcomes.pb.h"
#include "pbr/v1/reporting.pb.h"
#include "pbr/v1/review_scheduler.pb.h"

namespace pbr::cli {

// A RecordAssessmentRequest in the protobuf JSON mapping: field names in either "sourceSystem" or
// "source_system" form, assessedAt as an RFC 3339 string, reason as the enum name. Unknown fields are
// errors, so a misspelt field is reported rather than silently dropped. InvalidArgument says what is wrong.
absl::StatusOr<pbr::v1::RecordAssessmentRequest> ParseAssessmentJson(const std::string& text);

// Pretty-printed JSON that shows every field, zero values included (so "duplicate": false is visible).
std::string ToJson(const google::protobuf::Message& message);

std::string RenderSchedule(const pbr::v1::Schedule& schedule);
std::string RenderOutcomes(const pbr::v1::PersonOutcomes& outcomes);
// Clusters with people, due, overdue and mean latest HoNOS, and a totals row; `with_persons` adds a
// row per person.
std::string RenderCaseload(const pbr::v1::Caseload& caseload, bool with_persons);

// A plain text table with aligned columns; numeric columns are right-aligned.
class Table {
 public:
  Table(std::vector<std::string> header, std::vector<bool> right_aligned);
  void AddRow(std::vector<std::string> cells);
  void AddSeparator();  // a dashed line, e.g. before a totals row
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_aligned_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a separator
};

}  // namespace pbr::cli
