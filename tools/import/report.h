// What the import tells the user: the summary on stdout and the reject file.
#pragma once

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

// Writes the reject file, or removes a stale one when there is nothing to reject, so the file next to
// the input always describes the latest run. Written to a temporary file first: never half a file.
absl::Status WriteRejectsFile(const std::string& path, const std::vector<Reject>& rejects);

struct Summary {
  size_t rows = 0;                          // data rows in the file
  size_t assessments = 0, care_events = 0;  // of the rows that parsed
  size_t accepted = 0, duplicates = 0, not_sent = 0;
  size_t rejected_locally = 0, rejected_by_service = 0;
  std::map<std::string, size_t> rejects_by_code;
  bool dry_run = false;
};

Summary Summarise(const ImportFile& file, const SendResult* sent);

// The summary as aligned lines for stdout.
std::string RenderSummary(const Summary& summary);

}  // namespace pbr::import
