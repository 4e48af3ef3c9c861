#include "csv.h"

#include <algorithm>
#include <cstdint>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace pbr::import {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool IsBlank(const CsvRecord& record) {
  return record.error.empty() && record.fields.size() == 1 && record.fields[0].empty();
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return false;
  if (value.front() == ' ' || value.back() == ' ') return true;
  return value.find_first_of(",\"\r\n") != std::string_view::npos;
}

}  // namespace

CsvReader::CsvReader(std::istream& in, size_t chunk_bytes, size_t max_record_bytes)
    : in_(in), chunk_bytes_(std::max<size_t>(chunk_bytes, 1)), max_record_bytes_(std::max<size_t>(max_record_bytes, 1)) {}

bool CsvReader::Refill() {
  buffer_.erase(0, pos_);
  consumed_ += pos_;
  pos_ = 0;
  if (eof_) return false;
  const size_t had = buffer_.size();
  buffer_.resize(had + chunk_bytes_);
  in_.read(buffer_.data() + had, static_cast<std::streamsize>(chunk_bytes_));
  const auto got = static_cast<size_t>(in_.gcount());
  buffer_.resize(had + got);
  if (got < chunk_bytes_) {
    eof_ = true;
    failed_ = in_.bad();
  }
  return got > 0;
}

bool CsvReader::Next(CsvRecord& record) {
  if (!started_) {
    started_ = true;
    while (buffer_.size() < kUtf8Bom.size() && Refill()) {
    }
    if (std::string_view(buffer_).substr(0, kUtf8Bom.size()) == kUtf8Bom) pos_ = kUtf8Bom.size();
  }
  for (;;) {
    if (pos_ >= buffer_.size()) {
      if (!Refill()) return false;
      continue;
    }
    const size_t start = pos_;
    const int start_line = line_;
    ran_out_ = false;
    CsvRecord parsed;
    ParseRecord(parsed);
    const bool more_to_read = ran_out_ && !eof_;
    if (failed_ && pos_ >= buffer_.size() && (pos_ == 0 || (buffer_[pos_ - 1] != '\n' && buffer_[pos_ - 1] != '\r'))) {
      // The file could not be read to its end: a record cut by the read error is not a record.
      pos_ = buffer_.size();
      return false;
    }
    // A record this long is refused wherever it falls in the file, so the result never depends on
    // where the chunks end.
    const bool too_long = (more_to_read ? buffer_.size() : pos_) - start >= max_record_bytes_;
    if (more_to_read && !too_long) {
      // The record goes on past what is read: read more and parse it again from its start.
      pos_ = start;
      line_ = start_line;
      Refill();
      continue;
    }
    if (too_long) {
      pos_ = start;
      line_ = start_line;
      parsed = CsvRecord{start_line, {}, ""};
      parsed.error = absl::StrCat("a record longer than ", max_record_bytes_,
                                  " bytes starts on this line (an unclosed quote?); reading goes on at the next line");
      // Skips the rest of this physical line, reading on as needed.
      for (;;) {
        while (pos_ < buffer_.size() && buffer_[pos_] != '\n' && buffer_[pos_] != '\r') ++pos_;
        if (pos_ < buffer_.size() || !Refill()) break;  // at the line break, or the file ends on this line
      }
      if (pos_ + 1 >= buffer_.size() && !eof_) Refill();  // a "\r" last in the buffer may be half of "\r\n"
      if (pos_ < buffer_.size()) ConsumeLineBreak();
      record = std::move(parsed);
      return true;
    }
    if (IsBlank(parsed)) continue;
    record = std::move(parsed);
    return true;
  }
}

void CsvReader::ParseRecord(CsvRecord& record) {
  record.line = line_;
  for (;;) {
    std::string field;
    const bool ok = Peek() == '"' ? ReadQuoted(record, field) : ReadUnquoted(record, field);
    record.fields.push_back(std::move(field));
    if (!ok) return;
    if (Peek() == ',') {
      ++pos_;
      continue;
    }
    ConsumeLineBreak();  // or the end of the file
    return;
  }
}

// "\r\n", "\n" or a lone "\r" (old Mac exports) each end one line.
void CsvReader::ConsumeLineBreak() {
  if (Peek() == '\r') ++pos_;
  if (Peek() == '\n') ++pos_;
  ++line_;
}

// After an error, resynchronise at the next line so the following rows are still read.
void CsvReader::SkipRestOfLine() {
  while (!AtEnd() && !AtLineBreak()) ++pos_;
  if (!AtEnd()) ConsumeLineBreak();
}

bool CsvReader::Fail(CsvRecord& record, std::string message) {
  record.error = std::move(message);
  SkipRestOfLine();
  return false;
}

bool CsvReader::ReadUnquoted(CsvRecord& record, std::string& field) {
  const size_t from = pos_;
  while (!AtEnd() && Peek() != ',' && !AtLineBreak()) {
    if (Peek() == '"') {
      return Fail(record,
                  "a quote inside an unquoted field (a field holding quotes must be quoted, "
                  "with each quote doubled)");
    }
    ++pos_;
  }
  field.assign(buffer_, from, pos_ - from);
  return true;
}

bool CsvReader::ReadQuoted(CsvRecord& record, std::string& field) {
  ++pos_;  // the opening quote
  for (;;) {
    if (AtEnd()) {
      record.error = absl::StrCat("a quoted field opened on this line is never closed; the rest of the file (",
                                  line_ - record.line + 1, " lines) was read into it");
      return false;
    }
    const char c = buffer_[pos_++];
    if (c == '"') {
      if (Peek() != '"') break;  // the closing quote
      ++pos_;                    // a doubled quote stands for one
    } else if (c == '\n' || (c == '\r' && Peek() != '\n')) {
      ++line_;  // a line break inside the field still moves later rows' line numbers
    }
    field += c;
  }
  if (AtEnd() || Peek() == ',' || AtLineBreak()) return true;
  return Fail(record, "text after a closing quote (a quote inside a quoted field must be doubled)");
}

std::vector<CsvRecord> ParseCsv(std::string_view text) {
  std::istringstream in{std::string(text)};
  CsvReader reader(in);
  std::vector<CsvRecord> records;
  CsvRecord record;
  while (reader.Next(record)) records.push_back(std::move(record));
  return records;
}

std::string CsvField(std::string_view value) {
  if (!NeedsQuotes(value)) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += CsvField(fields[i]);
  }
  out += '\n';
  return out;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    int extra = 0;
    uint32_t cp = 0, min = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1, cp = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2, cp = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3, cp = lead & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace pbr::import
