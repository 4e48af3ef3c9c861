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

namespace {
std::string RejectsHeader() { return CsvLine({"line", "source_record_id", "code", "reason"}); }
std::string RejectLine(const Reject& r) {
  return CsvLine({std::to_string(r.line), r.source_record_id, r.code, r.reason});
}
}  // namespace

std::string RejectsCsv(const std::vector<Reject>& rejects) {
  std::string out = RejectsHeader();
  for (const Reject& r : rejects) out += RejectLine(r);
  return out;
}

RejectsWriter::~RejectsWriter() {
  if (committed_) return;
  out_.close();
  std::error_code ignored;
  std::filesystem::remove(temporary_, ignored);
}

absl::Status RejectsWriter::Append(const std::vector<Reject>& rejects) {
  if (rejects.empty()) return absl::OkStatus();
  if (!out_.is_open()) {
    out_.open(temporary_, std::ios::binary | std::ios::trunc);
    if (!out_) return absl::UnavailableError(absl::StrCat("cannot write ", temporary_, ": ", std::strerror(errno)));
    out_ << RejectsHeader();
  }
  for (const Reject& r : rejects) out_ << RejectLine(r);
  out_.flush();
  if (!out_) return absl::UnavailableError(absl::StrCat("cannot write ", temporary_, ": ", std::strerror(errno)));
  written_ += rejects.size();
  return absl::OkStatus();
}

absl::Status RejectsWriter::Commit() {
  std::error_code error;
  committed_ = true;
  if (written_ == 0) {
    std::filesystem::remove(path_, error);
    if (error) return absl::UnavailableError(absl::StrCat("cannot remove the stale ", path_, ": ", error.message()));
    return absl::OkStatus();
  }
  out_.close();
  if (!out_) return absl::UnavailableError(absl::StrCat("cannot write ", temporary_, ": ", std::strerror(errno)));
  std::filesystem::rename(temporary_, path_, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot write ", path_, ": ", error.message()));
  return absl::OkStatus();
}

absl::Status WriteRejectsFile(const std::string& path, const std::vector<Reject>& rejects) {
  RejectsWriter writer(path);
  if (auto st = writer.Append(rejects); !st.ok()) return st;
  return writer.Commit();
}

void AddToSummary(Summary& s, const ImportFile& file, const SendResult* sent) {
  s.rows += file.rows.size() + file.rejects.size();
  for (const ImportRow& row : file.rows) {
    ++(row.is_assessment() ? s.assessments : s.care_events);
    if (row.action == Action::kAmendAssessment) ++s.amendments;
    if (row.action == Action::kWithdrawAssessment || row.action == Action::kWithdrawCareEvent) ++s.withdrawals;
  }
  for (const Reject& r : file.rejects) ++s.rejects_by_code[r.code];
  s.rejected_locally += file.rejects.size();
  if (sent == nullptr) return;
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
}

Summary Summarise(const ImportFile& file, const SendResult* sent) {
  Summary s;
  s.dry_run = sent == nullptr;
  AddToSummary(s, file, sent);
  return s;
}

std::string RenderSummary(const Summary& s) {
  std::string out = absl::StrFormat("rows          %d (%d assessments, %d care events, %d unreadable)\n", s.rows,
                                    s.assessments, s.care_events, s.rejected_locally);
  if (s.amendments + s.withdrawals > 0) {
    absl::StrAppendFormat(&out, "corrections   %d amendments, %d withdrawals (of those rows)\n", s.amendments,
                          s.withdrawals);
  }
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
