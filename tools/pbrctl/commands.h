// pbrctl's subcommands. Each returns the process exit code: 0 success, 1 the platform said no or could not
// be reached, 2 bad input (unreadable or malformed file, bad flag value).
#pragma once

#include <string>

#include "absl/time/time.h"
#include "demo_data.h"
#include "rpc.h"

namespace pbr::cli {

inline constexpr int kExitOk = 0, kExitFailed = 1, kExitBadInput = 2;

struct QueryFormat {
  bool json = false;
  bool persons = false;  // caseload only: list every person too
};

// Records the RecordAssessmentRequest in `path` ("-" = stdin): the reply with its rule checks and top
// suggestions, or as JSON.
int RunRecord(const RpcOptions& rpc, const std::string& path, const QueryFormat& format);
// Corrects an assessment the EPR sent before: the file is a whole RecordAssessmentRequest with the same
// source_system and source_record_id.
int RunAmend(const RpcOptions& rpc, const std::string& path, const QueryFormat& format);
int RunWithdraw(const RpcOptions& rpc, const std::string& source_system, const std::string& source_record_id,
                const std::string& reason, const QueryFormat& format);
// Records the RecordCareEventRequest in `path`.
int RunCareEvent(const RpcOptions& rpc, const std::string& path, const QueryFormat& format);
// Ranks clusters for the ratings in `path` (see ParseSuggestInput); `service_area` may be empty.
int RunSuggest(const RpcOptions& rpc, const std::string& path, const std::string& service_area,
               const QueryFormat& format);
// Exactly one of `nhs_number` and `person_id` is non-empty.
int RunPerson(const RpcOptions& rpc, const std::string& nhs_number, const std::string& person_id,
              const QueryFormat& format);

struct HistoryOptions {
  bool episodes = false;   // ListEpisodes rather than ListAssessments
  int page_size = 0;       // 0: the server's default
  std::string page_token;  // start here (from a previous page)
  bool all = false;        // follow next_page_token to the end
};
int RunHistory(const RpcOptions& rpc, const std::string& person_id, const HistoryOptions& options,
               const QueryFormat& format);
int RunSchedule(const RpcOptions& rpc, const std::string& person_id, const QueryFormat& format);
int RunOutcomes(const RpcOptions& rpc, const std::string& person_id, const QueryFormat& format);
int RunCaseload(const RpcOptions& rpc, const std::string& team_id, const QueryFormat& format);

// Waits until every service answers the gRPC health check with SERVING, or `deadline` passes.
int RunWaitReady(const RpcOptions& rpc, absl::Duration deadline);

// Generates the demo set and records it with `concurrency` calls in flight.
int RunDemo(const RpcOptions& rpc, const pbr::demo::DemoOptions& data, int concurrency);

}  // namespace pbr::cli
