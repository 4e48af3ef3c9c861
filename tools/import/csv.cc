#include "csv.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace pbr::import {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Reads records one at a time, tracking the physical line so every error can name it.
class CsvParser {
 public:
  explicit CsvParser(std::string_view text) : text_(text) {
    if (text_.substr(0, kUtf8Bom.size()) == kUtf8Bom) pos_ = kUtf8Bom.size();
  }

  bool AtEnd() const { return pos_ >= text_.size(); }

  CsvRecord Next() {
    CsvRecord record;
    record.line = line_;
    for (;;) {
      std::string field;
      const bool ok = Peek() == '"' ? ReadQuoted(record, field) : ReadUnquoted(record, field);
      record.fields.push_back(std::move(field));
      if (!ok) return record;
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      ConsumeLineBreak();  // or the end of the file
      return record;
    }
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool AtLineBreak() const { return Peek() == '\n' || Peek() == '\r'; }

  // "\r\n", "\n" or a lone "\r" (old Mac exports) each end one line.
  void ConsumeLineBreak() {
    if (Peek() == '\r') ++pos_;
    if (Peek() == '\n') ++pos_;
    ++line_;
  }

  // After an error, resynchronise at the next line so the following rows are still read.
  void SkipRestOfLine() {
    while (!AtEnd() && !AtLineBreak()) ++pos_;
    if (!AtEnd()) ConsumeLineBreak();
  }

  bool Fail(CsvRecord& record, std::string message) {
    record.error = std::move(message);
    SkipRestOfLine();
    return false;
  }

  bool ReadUnquoted(CsvRecord& record, std::string& field) {
    while (!AtEnd() && Peek() != ',' && !AtLineBreak()) {
      if (Peek() == '"') {
        return Fail(record,
                    "a quote inside an unquoted field (a field holding quotes must be quoted, "
                    "with each quote doubled)");
      }
      field += text_[pos_++];
    }
    return true;
  }

  bool ReadQuoted(CsvRecord& record, std::string& field) {
    ++pos_;  // the opening quote
    for (;;) {
      if (AtEnd()) {
        record.error = absl::StrCat("a quoted field opened on this line is never closed; the rest of the file (",
                                    line_ - record.line + 1, " lines) was read into it");
        return false;
      }
      const char c = text_[pos_++];
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

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

bool IsBlank(const CsvRecord& record) {
  return record.error.empty() && record.fields.size() == 1 && record.fields[0].empty();
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return false;
  if (value.front() == ' ' || value.back() == ' ') return true;
  return value.find_first_of(",\"\r\n") != std::string_view::npos;
}

}  // namespace

std::vector<CsvRecord> ParseCsv(std::string_view text) {
  std::vector<CsvRecord> records;
  CsvParser parser(text);
  while (!parser.AtEnd()) {
    CsvRecord record = parser.Next();
    if (!IsBlank(record)) records.push_back(std::move(record));
  }
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
