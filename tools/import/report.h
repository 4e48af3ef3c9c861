// What the import tells the user: the summary on stdout and the reject file.
#pragma once

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rows.h"
#include "send.h"

namespace pbr::import {

inline constexpr int kExitOk = 0, kExitRejects = 1, kExitFailed = 2;

// "<input without .csv>.rejects.csv": next to the input, so each file's rejects are easy to find.
std::string DefaultRejectsPath(const std::string& input);

// Every rejected row, local and by the service, by line number.
std::vector<Reject> CollectRejects(const ImportFile& file, const SendResult* sent);

// The reject file's text: a header row, then `line,source_record_id,code,reason` per row.
std::string RejectsCsv(const std::vector<Reject>& rejects);

// The reject file, written as the import goes (a chunk's rejects at a time, in line order) to a
// temporary file that Commit puts in place, or removes together with a stale reject file when nothing
// was rejected: the file next to the input always describes one whole run, never half of one.
class RejectsWriter {
 public:
  explicit RejectsWriter(std::string path) : path_(std::move(path)), temporary_(path_ + ".tmp") {}
  ~RejectsWriter();  // an uncommitted temporary file is removed
  RejectsWriter(const RejectsWriter&) = delete;
  RejectsWriter& operator=(const RejectsWriter&) = delete;

  // Unavailable naming the file when it cannot be written (a full disk, say).
  absl::Status Append(const std::vector<Reject>& rejects);
  absl::Status Commit();
  size_t written() const { return written_; }
  const std::string& path() const { return path_; }

 private:
  const std::string path_, temporary_;
  std::ofstream out_;
  size_t written_ = 0;
  bool committed_ = false;
};

// The whole reject file at once (RejectsWriter with one Append).
absl::Status WriteRejectsFile(const std::string& path, const std::vector<Reject>& rejects);

struct Summary {
  size_t rows = 0;                          // data rows in the file
  size_t assessments = 0, care_events = 0;  // of the rows that parsed
  size_t amendments = 0, withdrawals = 0;   // of those, corrections (a corrections file's `action`)
  size_t accepted = 0, duplicates = 0, not_sent = 0;
  size_t rejected_locally = 0, rejected_by_service = 0;
  std::map<std::string, size_t> rejects_by_code;
  bool dry_run = false;
};

// Adds a chunk of the file and what became of it (nullptr: nothing was sent) to `summary`.
void AddToSummary(Summary& summary, const ImportFile& chunk, const SendResult* sent);

// The summary of a whole file (AddToSummary on an empty summary; a dry run when `sent` is nullptr).
Summary Summarise(const ImportFile& file, const SendResult* sent);

// The summary as aligned lines for stdout.
std::string RenderSummary(const Summary& summary);

}  // namespace pbr::import
