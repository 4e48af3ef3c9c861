#pragma once
// Helpers for tests that run real processes: spawn a binary, wait for a line it prints, stop it
// with SIGTERM or kill it with SIGKILL. Every wait has a deadline; nothing is left running.
#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pbr::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv` and extra environment variables; stdout is captured, stderr goes
  // to `log_path` (appended) so a failing test can show it.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  ~ChildProcess();  // SIGKILLs the child if still running

  // Reads stdout lines until one starts with `prefix`; returns that line.
  absl::StatusOr<std::string> WaitForLine(absl::string_view prefix, absl::Duration deadline);
  // SIGTERM, then wait up to `deadline`; returns the exit code (SIGKILL and an error after it).
  absl::StatusOr<int> Terminate(absl::Duration deadline);
  void Kill();  // SIGKILL and reap (a stopped child too)
  bool Running();
  // SIGSTOP: the child is frozen, its sockets stay open and nothing is answered, until Continue
  // (SIGCONT). Each returns once the kernel reports the new state. Terminate continues a stopped
  // child so it can take its SIGTERM; Kill and the destructor end it either way.
  absl::Status Stop();
  absl::Status Continue();
  bool Stopped() const;  // the kernel's view (/proc/<pid>/stat), not a remembered flag
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  std::string log_path_;
  std::optional<int> exit_code_;
};

// Polls `condition` until it is true or the deadline passes.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration deadline,
               absl::Duration poll = absl::Milliseconds(20));

// A fresh directory under the test's temp dir, removed when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A plain HTTP/1.0 GET of http://HOST:PORT/path (loopback only); returns the body.
absl::StatusOr<std::string> HttpGet(const std::string& host_port, const std::string& path,
                                    absl::Duration deadline = absl::Seconds(5));

// The sum of a metric's samples (every label) on a service's /metrics page at HOST:PORT; nullopt when
// the page cannot be read or has none.
std::optional<double> MetricSum(const std::string& host_port, absl::string_view name);

// The last lines of a file, for failure messages.
std::string Tail(const std::string& path, int lines = 40);

}  // namespace pbr::testing
