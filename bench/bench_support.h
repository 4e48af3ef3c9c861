#pragma once
// What the benchmark programs (platform_bench, scheduler_bench) share: flag parsing, the run
// header, the work dir, the processes a run starts and their stopping, latency summaries, the bare
// gRPC echo baseline, and readings of memory and disk. A program, not a test, uses these: they
// print to stdout and read /proc. See README.md.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "testing/local_platform.h"
#include "testing/process.h"

namespace pbr::bench {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

inline double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }
inline double Millis(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// ---------------------------------------------------------------------------------------------
// Flags

// A whole-number flag and the range it must lie in.
struct IntFlag {
  int* field;
  int min;
  int max;
};

// The flags a program takes: --name=value for ints and strings, --name alone for switches.
struct FlagTable {
  std::map<std::string, IntFlag> ints;
  std::map<std::string, std::string*> strings;
  std::map<std::string, bool*> switches;
};

// Sets the fields `argv` names. --help or -h is NotFound carrying `usage`; an unknown flag, a
// malformed argument or a number out of its range is InvalidArgument naming the flag.
absl::Status ParseFlagArgs(int argc, char** argv, const FlagTable& table, const char* usage);

// What main returns when its flags did not parse: the usage on stdout and 0 for --help, else the
// error on stderr prefixed with `program` (ending in one newline), and 2.
int FlagsExit(const char* program, const absl::Status& status);

// ---------------------------------------------------------------------------------------------
// The run

// The start of a run: the work dir set in `*work_dir` (the one given, created if missing and refused
// unless empty, as a successful run removes it; else a fresh one from mkdtemp's `fresh_template`,
// "/tmp/pbr-bench-XXXXXX"), then "== <program>" with the machine, the load average, the build type
// and the work dir. Returns 0 to go on, or main's exit code once the reason is on stderr (2 for a
// refused --work-dir). With `resume`, a --work-dir that is not empty is taken as it is: the program
// continues the run it holds.
int StartRun(const char* program, const std::string& fresh_template, std::string* work_dir, bool resume = false);

// /proc/loadavg's 1, 5 and 15 minute averages, or "unknown": other work on the machine skews every
// figure, so a run shows how busy the machine was.
std::string LoadAverage();

// Prints a stage's heading ("\n-- <what>") and flushes, so a slow stage shows where the run is.
void Stage(const char* what);

// The failure of a run on stderr, with where its logs are kept ("service logs", `work_dir`); returns
// main's exit code, 1.
int Failed(const char* program, const absl::Status& status, const char* kept, const std::string& work_dir);

// ---------------------------------------------------------------------------------------------
// The processes a run starts

// The processes a run started, shared with the signal watcher so an interrupted run stops them too.
// `what` names them in messages ("the platform").
class OwnedProcesses {
 public:
  OwnedProcesses(std::string program, std::string what) : program_(std::move(program)), what_(std::move(what)) {}
  OwnedProcesses(const OwnedProcesses&) = delete;
  OwnedProcesses& operator=(const OwnedProcesses&) = delete;

  // Kept until StopAll; `name` names the process if it does not stop cleanly. Returns it for use meanwhile.
  testing::ChildProcess* Adopt(std::string name, std::unique_ptr<testing::ChildProcess> child);
  testing::LocalPlatform* Adopt(std::unique_ptr<testing::LocalPlatform> platform);

  // Every process stops, the latest adopted first; one that does not exit 0 on SIGTERM within 30 s
  // is an error (the first one is returned).
  absl::Status StopAll();

  // StopAll after a run: a failure to stop is printed, and is the result when `run` was OK.
  absl::Status StopAfter(absl::Status run);

  // From now on SIGINT, SIGTERM and SIGHUP stop every process, then exit 128 + the signal; SIGPIPE
  // is ignored (output piped into `head` must not leave processes running). Call before any other
  // thread starts: the signals are blocked here so that only the watcher receives them (children
  // reset their mask when spawned).
  void StopOnSignals();

 private:
  const std::string program_, what_;
  std::mutex mu_;
  std::vector<std::function<absl::Status()>> stops_;  // in adoption order
};

// A service started on a store a bench built, with its own pbr-broker on a free loopback port.
struct ServiceOnStore {
  testing::ChildProcess* process = nullptr;  // owned by the OwnedProcesses given
  std::string bootstrap, grpc_address, metrics_address, clock;
  double start_s = 0;  // spawn to READY
};

// Starts `bin_dir`/pbr-broker, then `bin_dir`/pbr-<service> on `data_dir` with `rules_dir`, loopback
// ports and its clock fixed at `clock_at`; both adopted by `owned`, their logs in `work_dir`. Returns
// once the service printed READY (within `ready_within`), with the addresses it printed, and says so
// on stdout; an error carries the tail of the service's log.
absl::StatusOr<ServiceOnStore> StartOnStore(const std::string& bin_dir, const std::string& service,
                                            const std::string& data_dir, const std::string& rules_dir,
                                            absl::Time clock_at, const std::string& work_dir, absl::Duration ready_within,
                                            OwnedProcesses& owned);

// ---------------------------------------------------------------------------------------------
// Measuring

struct Percentiles {
  size_t n = 0;
  double p50 = 0, p99 = 0, max = 0;
};

// Nearest-rank p50 and p99, and the maximum, of `samples`; all 0 when there are none.
Percentiles Summarize(std::vector<double> samples);

// "p50 X ms, p99 Y ms, max Z ms", each with `decimals` decimals.
std::string Describe(const Percentiles& p, int decimals = 3);

// `call` `warmup` times unmeasured, then `calls` times, each timed; the first failure ends it.
absl::StatusOr<Percentiles> TimeCalls(int warmup, int calls, const std::function<absl::Status()>& call);

// A fast deterministic generator (splitmix64): the same seed always gives the same draws, so person i
// is the same person however often a bench makes them.
class Draws {
 public:
  explicit Draws(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  int Percent() { return static_cast<int>(Next() % 100); }

 private:
  uint64_t state_;
};

// A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"), as bytes; -1 when unreadable.
int64_t StatusBytes(pid_t pid, absl::string_view field);

// Bytes under a directory: RocksDB's data files (tables, write-ahead logs, MANIFEST), and everything
// (also RocksDB's info LOG and OPTIONS). What cannot be read counts 0.
std::pair<int64_t, int64_t> DirBytes(const std::string& dir);

// ---------------------------------------------------------------------------------------------
// Rules

// `rules_dir` copied to `work_dir`/rules with a teams file of the bench's own (teams.bench.yaml, its
// `teams_yaml` being the whole file), pointed at by the copied manifest, as a trust replaces the example
// teams (rules/README.md). Returns the copy's directory once it loads as a rule set.
absl::StatusOr<std::string> CopyRulesWithTeams(const std::string& rules_dir, const std::string& work_dir,
                                               const std::string& teams_yaml);

// ---------------------------------------------------------------------------------------------
// gRPC

// A channel to a loopback address that takes no proxy from the environment: a bench only ever
// talks to 127.0.0.1.
std::shared_ptr<grpc::Channel> LoopbackChannel(const std::string& address);

// A gRPC status as an absl one with the same code, its message prefixed with `what` (the call).
absl::Status FromGrpc(const grpc::Status& status, absl::string_view what);

// The baseline of a unary call: a bare Echo (echo.proto) served in this process by a default sync
// server on 127.0.0.1:0, like the services', carrying a payload of a given size there and back.
class EchoBaseline {
 public:
  static absl::StatusOr<std::unique_ptr<EchoBaseline>> Start(size_t payload_bytes);
  ~EchoBaseline();  // shuts the server down, waiting up to 5 s for calls in flight

  // One call (safe from many threads at once); an error when it fails or the payload comes back changed.
  absl::Status Call() const;

 private:
  class Service final : public pbr::bench::Echo::Service {
    grpc::Status Echo(grpc::ServerContext*, const EchoMessage* request, EchoMessage* reply) override;
  };
  EchoBaseline() = default;

  Service service_;  // outlives the server, which is declared after it
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pbr::bench::Echo::Stub> stub_;
  EchoMessage request_;
};

}  // namespace pbr::bench
