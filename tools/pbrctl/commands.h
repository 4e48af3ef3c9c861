// pbrctl's subcommands. Each returns the process exit code: 0 success, 1 the platform said no or could not
// be reached, 2 bad input (unreadable or malformed file, bad flag value).
#pragma once

#include <string>

#include "absl/time/time.h"
#include "demo_data.h"
#include "rpc.h"

namespace pbr::cli {

inline constexpr int kExitOk = 0, kExitFailed = 1, kExitBadInput = 2;

// Records the RecordAssessmentRequest in `path` ("-" = stdin) and prints the reply as JSON.
int RunRecord(const RpcOptions& rpc, const std::string& path);

struct QueryFormat {
  bool json = false;
  bool persons = false;  // caseload only: list every person too
};
int RunSchedule(const RpcOptions& rpc, const std::string& person_id, const QueryFormat& format);
int RunOutcomes(const RpcOptions& rpc, const std::string& person_id, const QueryFormat& format);
int RunCaseload(const RpcOptions& rpc, const std::string& team_id, const QueryFormat& format);

// Waits until every service answers the gRPC health check with SERVING, or `deadline` passes.
int RunWaitReady(const RpcOptions& rpc, absl::Duration deadline);

// Generates the demo set and records it with `concurrency` calls in flight.
int RunDemo(const RpcOptions& rpc, const pbr::demo::DemoOptions& data, int concurrency);

}  // namespace pbr::cli
