// The import file's columns, and how each row becomes a RecordAssessmentRequest or RecordCareEventRequest.
// Only parsing happens here: whether a value is acceptable (NHS number check digit, rating ranges, rule
// checks) is the allocation service's decision, made when the row is sent.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "csv.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::import {

// Why a row was not parsed. Local codes are upper-case words like the gRPC status names the service's
// refusals are reported with, so the summary and the reject file count both the same way.
namespace code {
inline constexpr std::string_view kBadCsv = "BAD_CSV";                        // malformed quoting
inline constexpr std::string_view kColumnCount = "COLUMN_COUNT";              // fields differ from the header
inline constexpr std::string_view kBadEncoding = "BAD_ENCODING";              // not UTF-8
inline constexpr std::string_view kBadKind = "BAD_KIND";                      // kind is not assessment|care_event
inline constexpr std::string_view kNotForKind = "NOT_FOR_KIND";               // e.g. a cluster on a care event
inline constexpr std::string_view kBadNumber = "BAD_NUMBER";                  // not a whole number
inline constexpr std::string_view kBadEnum = "BAD_ENUM";                      // unknown reason, event type, ...
inline constexpr std::string_view kBadTime = "BAD_TIME";                      // not RFC 3339 or YYYY-MM-DD
inline constexpr std::string_view kBadBool = "BAD_BOOL";                      // not true|false
inline constexpr std::string_view kIncompleteRatings = "INCOMPLETE_RATINGS";  // some of the 18 items empty
inline constexpr std::string_view kMissingCluster = "MISSING_CLUSTER";        // empty would be sent as cluster 0
inline constexpr std::string_view kBadAction = "BAD_ACTION";                  // unknown, or not for the row's kind
inline constexpr std::string_view kNotForAction = "NOT_FOR_ACTION";           // e.g. a team on a withdrawal
}  // namespace code

using AssessmentRequest = pbr::v1::RecordAssessmentRequest;
using CareEventRequest = pbr::v1::RecordCareEventRequest;

// What a row asks of the service: the `action` column of a corrections file (tools/loadgen/README.md,
// "Corrections"); a file without the column records every row.
enum class Action {
  kRecord,            // RecordAssessment / RecordCareEvent (or a batch of them)
  kAmendAssessment,   // AmendAssessment: the whole assessment as it should be
  kWithdrawAssessment,  // WithdrawAssessment of the row's (source_system, source_record_id)
  kWithdrawCareEvent,   // WithdrawCareEvent of the row's (source_system, source_record_id)
};

// The column's word for the action ("amend_assessment").
std::string ActionWord(Action action);

// A row ready to send.
struct ImportRow {
  int line = 0;
  // The record, or for a withdrawal the record named (only its identifiers are set).
  std::variant<AssessmentRequest, CareEventRequest> request;
  Action action = Action::kRecord;
  std::string correction_reason;  // withdrawals: the reason sent with them

  bool is_assessment() const { return std::holds_alternative<AssessmentRequest>(request); }
  bool is_correction() const { return action != Action::kRecord; }
  const std::string& nhs_number() const;
  const std::string& source_record_id() const;
  const std::string& source_system() const;
};

// A row that was refused, here or by the service.
struct Reject {
  int line = 0;
  std::string source_record_id;  // as written in the file; empty when it could not be read
  std::string code;
  std::string reason;
};

// Column positions from the header row.
class Header {
 public:
  // InvalidArgument naming every unknown or repeated column, or a required one that is missing.
  static absl::StatusOr<Header> Parse(const std::vector<std::string>& names);

  size_t size() const { return columns_.size(); }
  // Index into the column table (see rows.cc) of the file's i-th column.
  size_t column(size_t i) const { return columns_[i]; }
  // The file's position of the named column, or -1 when the file does not have it.
  int position(std::string_view name) const;

 private:
  std::vector<size_t> columns_;
};

// Every column name the import accepts, in the order the README documents them.
std::vector<std::string> KnownColumns();

// A row of the file as a request, or the reasons it cannot be one (every problem found, the first one's
// code). Date-only times mean 12:00 in `local_zone` (Europe/London), the middle of the clinical day,
// so the date survives conversion whatever the offset.
std::variant<ImportRow, Reject> ParseRow(const Header& header, const CsvRecord& record,
                                         const absl::TimeZone& local_zone);

struct ImportFile {
  std::vector<ImportRow> rows;  // in file order
  std::vector<Reject> rejects;  // in file order
};

// Reads an import file a chunk of rows at a time, so a file of any size (a national year is gigabytes)
// is imported in bounded memory with each row's physical line number kept.
class ImportReader {
 public:
  // Reads the header row: InvalidArgument when the file has none usable (row problems are rejects).
  static absl::StatusOr<std::unique_ptr<ImportReader>> Open(std::istream& in, const absl::TimeZone& local_zone,
                                                            size_t chunk_bytes = CsvReader::kDefaultChunkBytes);
  // The next rows, up to `max_rows` of them parsed or rejected, replacing what `chunk` held; false
  // when the file had no more.
  bool ReadChunk(size_t max_rows, ImportFile& chunk);
  uint64_t bytes_read() const { return csv_.bytes_read(); }
  // The file could not be read to its end (an I/O error, not a bad row).
  bool failed() const { return csv_.failed(); }

 private:
  ImportReader(std::istream& in, const absl::TimeZone& zone, size_t chunk_bytes) : csv_(in, chunk_bytes), zone_(zone) {}
  CsvReader csv_;
  const absl::TimeZone& zone_;
  std::optional<Header> header_;
};

// The whole of a file already in memory (tests, small files).
absl::StatusOr<ImportFile> ParseImportFile(std::string_view text, const absl::TimeZone& local_zone);

}  // namespace pbr::import
