#include "report.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pbr::import {

std::string DefaultRejectsPath(const std::string& input) {
  constexpr std::string_view kCsv = ".csv";
  std::string stem = input;
  if (stem.size() > kCsv.size() && absl::AsciiStrToLower(stem.substr(stem.size() - kCsv.size())) == kCsv) {
    stem.resize(stem.size() - kCsv.size());
  }
  return stem + ".rejects.csv";
}

std::vector<Reject> CollectRejects(const ImportFile& file, const SendResult* sent) {
  std::vector<Reject> out = file.rejects;
  if (sent != nullptr) {
    for (size_t i = 0; i < file.rows.size() && i < sent->outcomes.size(); ++i) {
      const RowOutcome& o = sent->outcomes[i];
      if (o.state != RowOutcome::State::kRejected) continue;
      out.push_back(Reject{file.rows[i].line, file.rows[i].source_record_id(), o.code, o.reason});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Reject& a, const Reject& b) { return a.line < b.line; });
  return out;
}

std::string RejectsCsv(const std::vector<Reject>& rejects) {
  std::string out = CsvLine({"line", "source_record_id", "code", "reason"});
  for (const Reject& r : rejects) out += CsvLine({std::to_string(r.line), r.source_record_id, r.code, r.reason});
  return out;
}

absl::Status WriteRejectsFile(const std::string& path, const std::vector<Reject>& rejects) {
  std::error_code error;
  if (rejects.empty()) {
    std::filesystem::remove(path, error);
    if (error) return absl::UnavailableError(absl::StrCat("cannot remove the stale ", path, ": ", error.message()));
    return absl::OkStatus();
  }
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << RejectsCsv(rejects);
    out.close();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", temporary, ": ", std::strerror(errno)));
  }
  std::filesystem::rename(temporary, path, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", error.message()));
  return absl::OkStatus();
}

Summary Summarise(const ImportFile& file, const SendResult* sent) {
  Summary s;
  s.dry_run = sent == nullptr;
  s.rows = file.rows.size() + file.rejects.size();
  for (const ImportRow& row : file.rows) ++(row.is_assessment() ? s.assessments : s.care_events);
  for (const Reject& r : file.rejects) ++s.rejects_by_code[r.code];
  s.rejected_locally = file.rejects.size();
  if (sent == nullptr) return s;
  for (const RowOutcome& o : sent->outcomes) {
    switch (o.state) {
      case RowOutcome::State::kAccepted:
        ++s.accepted;
        break;
      case RowOutcome::State::kDuplicate:
        ++s.duplicates;
        break;
      case RowOutcome::State::kNotSent:
        ++s.not_sent;
        break;
      case RowOutcome::State::kRejected:
        ++s.rejected_by_service;
        ++s.rejects_by_code[o.code];
        break;
    }
  }
  return s;
}

std::string RenderSummary(const Summary& s) {
  std::string out = absl::StrFormat("rows          %d (%d assessments, %d care events, %d unreadable)\n", s.rows,
                                    s.assessments, s.care_events, s.rejected_locally);
  if (s.dry_run) {
    absl::StrAppendFormat(&out, "would send    %d (dry run: nothing was sent)\n", s.assessments + s.care_events);
  } else {
    absl::StrAppendFormat(&out, "accepted      %d\nduplicates    %d (recorded before: nothing changed)\n", s.accepted,
                          s.duplicates);
  }
  absl::StrAppendFormat(&out, "rejected      %d (%d unreadable, %d refused by the service)\n",
                        s.rejected_locally + s.rejected_by_service, s.rejected_locally, s.rejected_by_service);
  for (const auto& [code, count] : s.rejects_by_code) absl::StrAppendFormat(&out, "  %-20s %d\n", code, count);
  if (s.not_sent > 0) absl::StrAppendFormat(&out, "not sent      %d\n", s.not_sent);
  return out;
}

}  // namespace pbr::import
