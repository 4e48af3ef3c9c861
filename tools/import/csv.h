// RFC 4180 CSV as EPR exports write it: quoted fields (commas, doubled quotes and line breaks inside),
// LF or CRLF line ends, and an optional UTF-8 byte order mark.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pbr::import {

// One record of the file. A malformed record keeps its line number and says what is wrong, so one bad
// row is reported rather than failing the whole file.
struct CsvRecord {
  int line = 0;                     // 1-based physical line where the record starts
  std::vector<std::string> fields;  // unquoted values
  std::string error;                // empty when the record is well formed
};

// Every record of `text` in file order. Blank lines are skipped (they hold no row, and exports often end
// with one). A quoted field still open at the end of the file is an error on the record that opened it.
std::vector<CsvRecord> ParseCsv(std::string_view text);

// `value` as one CSV field: quoted (with quotes doubled) only when it holds a comma, quote, line break
// or leading/trailing space, so ordinary values stay readable.
std::string CsvField(std::string_view value);

// The fields joined by commas, each through CsvField, ending in "\n".
std::string CsvLine(const std::vector<std::string>& fields);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace pbr::import
