// libFuzzer target: the CSV import decoder (tools/import/csv.* and rows.*) on arbitrary bytes.
// Besides not crashing, two properties the importer relies on:
//  - CsvLine writes what ParseCsv reads back: a reject file (written with CsvLine) can be re-imported;
//  - every row of the file ends up either parsed or rejected, with the line it started on;
//  - reading a chunk at a time (pbr-import streams large files) gives exactly the records, lines and
//    errors of reading the whole text, wherever the chunks fall.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "csv.h"
#include "rows.h"

namespace {

// A broken property is a crash, so libFuzzer keeps the input.
void Check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "import_csv_fuzzer: property broken: %s\n", what);
  std::abort();
}

const absl::TimeZone& London() {
  static const absl::TimeZone* tz = [] {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/London", z)) *z = absl::UTCTimeZone();
    return z;
  }();
  return *tz;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)pbr::import::IsValidUtf8(text);

  const std::vector<pbr::import::CsvRecord> records = pbr::import::ParseCsv(text);
  int previous_line = 0;
  for (const auto& record : records) {
    Check(record.line > previous_line, "records in file order, each on a later line");
    previous_line = record.line;
    if (!record.error.empty()) continue;
    // Round trip. Two records cannot come back as they were: one empty field is a blank line
    // (skipped), and a first field starting with a byte order mark loses it at the file's start.
    if (record.fields.size() == 1 && record.fields[0].empty()) continue;
    if (record.fields[0].starts_with("\xEF\xBB\xBF")) continue;
    const std::vector<pbr::import::CsvRecord> again = pbr::import::ParseCsv(pbr::import::CsvLine(record.fields));
    Check(again.size() == 1, "CsvLine gives one record");
    Check(again[0].error.empty(), "CsvLine gives a well-formed record");
    Check(again[0].fields == record.fields, "CsvLine gives the same fields back");
  }

  // The chunk size comes from the input, so the fuzzer explores boundaries inside BOMs, CRLFs, quotes.
  const size_t chunk = size == 0 ? 1 : 1 + data[0] % 13;
  std::istringstream in{std::string(text)};
  pbr::import::CsvReader reader(in, chunk);
  pbr::import::CsvRecord record;
  size_t n = 0;
  while (reader.Next(record)) {
    Check(n < records.size(), "chunked reading gives no more records");
    Check(record.line == records[n].line, "chunked reading gives the same lines");
    Check(record.fields == records[n].fields, "chunked reading gives the same fields");
    Check(record.error == records[n].error, "chunked reading gives the same errors");
    ++n;
  }
  Check(n == records.size(), "chunked reading gives every record");
  Check(reader.bytes_read() == size, "chunked reading reads every byte");

  auto file = pbr::import::ParseImportFile(text, London());
  if (file.ok()) {
    for (const auto& row : file->rows) {
      Check(row.line >= 1, "a parsed row names its line");
      (void)row.nhs_number();
      (void)row.source_record_id();
    }
    for (const auto& reject : file->rejects) {
      Check(reject.line >= 1, "a reject names its line");
      Check(!reject.code.empty() && !reject.reason.empty(), "a reject says why");
    }
  }
  return 0;
}
