// RFC 4180 CSV as EPR exports write it: quoted fields (commas, doubled quotes and line breaks inside),
// LF or CRLF line ends, and an optional UTF-8 byte order mark.
#pragma once

#include <cstdint>
#include <istream>
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

// Reads the records of a stream one at a time, holding only the record being read and one read-ahead
// chunk, so a file of millions of rows is read in constant memory. Blank lines are skipped (they hold
// no row, and exports often end with one). A quoted field still open at the end of the file is an
// error on the record that opened it; a record longer than `max_record_bytes` (an unclosed quote in
// the middle of a large file, say) is an error on its first line, and reading goes on at the next line.
class CsvReader {
 public:
  static constexpr size_t kDefaultChunkBytes = 1 << 20;
  static constexpr size_t kDefaultMaxRecordBytes = 1 << 20;

  explicit CsvReader(std::istream& in, size_t chunk_bytes = kDefaultChunkBytes,
                     size_t max_record_bytes = kDefaultMaxRecordBytes);

  // The next non-blank record; false at the end of the stream.
  bool Next(CsvRecord& record);
  // Bytes consumed so far (for progress against the file's size).
  uint64_t bytes_read() const { return consumed_ + pos_; }
  // The stream failed (not just ended) while reading.
  bool failed() const { return failed_; }

 private:
  // One record from pos_; sets ran_out_ when it reached the end of what is read before the stream's end.
  void ParseRecord(CsvRecord& record);
  bool ReadQuoted(CsvRecord& record, std::string& field);
  bool ReadUnquoted(CsvRecord& record, std::string& field);
  bool Fail(CsvRecord& record, std::string message);
  void ConsumeLineBreak();
  void SkipRestOfLine();
  // Drops what is consumed and appends the next chunk; false when the stream has nothing more.
  bool Refill();
  bool AtEnd() {
    if (pos_ < buffer_.size()) return false;
    if (!eof_) ran_out_ = true;
    return true;
  }
  char Peek() { return AtEnd() ? '\0' : buffer_[pos_]; }
  bool AtLineBreak() { return Peek() == '\n' || Peek() == '\r'; }

  std::istream& in_;
  const size_t chunk_bytes_, max_record_bytes_;
  std::string buffer_;
  size_t pos_ = 0;
  uint64_t consumed_ = 0;  // bytes dropped from the front of buffer_
  int line_ = 1;
  bool eof_ = false, failed_ = false, ran_out_ = false, started_ = false;
};

// Every record of `text` in file order (CsvReader over the whole text).
std::vector<CsvRecord> ParseCsv(std::string_view text);

// `value` as one CSV field: quoted (with quotes doubled) only when it holds a comma, quote, line break
// or leading/trailing space, so ordinary values stay readable.
std::string CsvField(std::string_view value);

// The fields joined by commas, each through CsvField, ending in "\n".
std::string CsvLine(const std::vector<std::string>& fields);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace pbr::import
