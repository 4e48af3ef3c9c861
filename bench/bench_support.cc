#include "bench_support.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "care/rules.h"

namespace pbr::bench {

// ---------------------------------------------------------------------------------------------
// Flags

absl::Status ParseFlagArgs(int argc, char** argv, const FlagTable& table, const char* usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::NotFoundError(usage);
    if (arg.rfind("--", 0) == 0) {
      if (auto sw = table.switches.find(arg.substr(2)); sw != table.switches.end()) {
        *sw->second = true;
        continue;
      }
    }
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'\n", usage));
    }
    const std::string name = arg.substr(2, eq - 2), value = arg.substr(eq + 1);
    if (auto it = table.ints.find(name); it != table.ints.end()) {
      const IntFlag& flag = it->second;
      if (!absl::SimpleAtoi(value, flag.field) || *flag.field < flag.min || *flag.field > flag.max) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, ": '", value, "' is not a whole number from ", flag.min, " to ", flag.max));
      }
    } else if (auto s = table.strings.find(name); s != table.strings.end()) {
      *s->second = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, "\n", usage));
    }
  }
  return absl::OkStatus();
}

int FlagsExit(const char* program, const absl::Status& status) {
  if (absl::IsNotFound(status)) {
    std::fputs(std::string(status.message()).c_str(), stdout);
    return 0;
  }
  const std::string message(status.message());
  std::fprintf(stderr, "%s: %s%s", program, message.c_str(), absl::EndsWith(message, "\n") ? "" : "\n");
  return 2;
}

// ---------------------------------------------------------------------------------------------
// The run

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return in ? absl::StrCat(one, " ", five, " ", fifteen) : "unknown";
}

namespace {

// Like nproc(1): the CPUs this process may run on.
int Nproc() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return static_cast<int>(std::thread::hardware_concurrency());
  return CPU_COUNT(&set);
}

// The first "model name" in /proc/cpuinfo, or "unknown".
std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// The work dir StartRun describes; InvalidArgument when the one given cannot be used.
absl::StatusOr<std::string> PrepareWorkDir(const std::string& given, const std::string& fresh_template, bool resume) {
  if (given.empty()) {
    std::string dir = fresh_template;
    if (mkdtemp(dir.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp ", fresh_template, ": ", std::strerror(errno)));
    }
    return dir;
  }
  std::error_code ec;
  std::filesystem::create_directories(given, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--work-dir ", given, ": ", ec.message()));
  const bool empty = std::filesystem::is_empty(given, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--work-dir ", given, ": ", ec.message()));
  if (!empty && !resume) return absl::InvalidArgumentError(absl::StrCat("--work-dir ", given, " is not empty"));
  return given;
}

}  // namespace

int StartRun(const char* program, const std::string& fresh_template, std::string* work_dir, bool resume) {
  auto dir = PrepareWorkDir(*work_dir, fresh_template, resume);
  if (!dir.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, std::string(dir.status().message()).c_str());
    return absl::IsInvalidArgument(dir.status()) ? 2 : 1;
  }
  *work_dir = *std::move(dir);
  std::printf("== %s\n", program);
  std::printf("machine: nproc %d, %s\n", Nproc(), CpuModel().c_str());
  std::printf("load average (1/5/15 min) at start: %s\n", LoadAverage().c_str());
  std::printf("build: %s; work dir: %s\n", PBR_BUILD_TYPE, work_dir->c_str());
  return 0;
}

void Stage(const char* what) {
  std::printf("\n-- %s\n", what);
  std::fflush(stdout);
}

int Failed(const char* program, const absl::Status& status, const char* kept, const std::string& work_dir) {
  std::fprintf(stderr, "\n%s: FAILED: %s\n(%s are in %s)\n", program, status.ToString().c_str(), kept,
               work_dir.c_str());
  return 1;
}

// ---------------------------------------------------------------------------------------------
// The processes a run starts

testing::ChildProcess* OwnedProcesses::Adopt(std::string name, std::unique_ptr<testing::ChildProcess> child) {
  testing::ChildProcess* raw = child.get();
  std::shared_ptr<testing::ChildProcess> owned = std::move(child);
  std::lock_guard lock(mu_);
  stops_.push_back([owned, name = std::move(name)]() -> absl::Status {
    auto code = owned->Terminate(absl::Seconds(30));
    if (!code.ok()) return code.status();
    if (*code != 0) {
      return absl::InternalError(absl::StrCat(name, " exited with code ", *code, " on SIGTERM; its log:\n",
                                              testing::Tail(owned->log_path())));
    }
    return absl::OkStatus();
  });
  return raw;
}

testing::LocalPlatform* OwnedProcesses::Adopt(std::unique_ptr<testing::LocalPlatform> platform) {
  testing::LocalPlatform* raw = platform.get();
  std::shared_ptr<testing::LocalPlatform> owned = std::move(platform);
  std::lock_guard lock(mu_);
  stops_.push_back([owned] { return owned->StopAll(absl::Seconds(30)); });
  return raw;
}

absl::Status OwnedProcesses::StopAll() {
  std::lock_guard lock(mu_);
  absl::Status result;
  for (auto it = stops_.rbegin(); it != stops_.rend(); ++it) {
    if (absl::Status st = (*it)(); !st.ok() && result.ok()) result = st;
  }
  stops_.clear();  // each process is released (and killed if it still runs) once stopped
  return result;
}

absl::Status OwnedProcesses::StopAfter(absl::Status run) {
  if (absl::Status stopped = StopAll(); !stopped.ok()) {
    std::fprintf(stderr, "%s: stopping %s: %s\n", program_.c_str(), what_.c_str(), stopped.ToString().c_str());
    if (run.ok()) return stopped;
  }
  return run;
}

void OwnedProcesses::StopOnSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, sig);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::thread([this, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "\n%s: signal %d: stopping %s\n", program_.c_str(), sig, what_.c_str());
    StopAll().IgnoreError();
    std::_Exit(128 + sig);
  }).detach();
}

absl::StatusOr<ServiceOnStore> StartOnStore(const std::string& bin_dir, const std::string& service,
                                            const std::string& data_dir, const std::string& rules_dir,
                                            absl::Time clock_at, const std::string& work_dir, absl::Duration ready_within,
                                            OwnedProcesses& owned) {
  ServiceOnStore out;
  auto broker = testing::ChildProcess::Spawn({bin_dir + "/pbr-broker", "--partitions=6"}, work_dir + "/broker.log");
  if (!broker.ok()) return broker.status();
  testing::ChildProcess* broker_process = owned.Adopt("pbr-broker", *std::move(broker));
  auto line = broker_process->WaitForLine("BOOTSTRAP ", absl::Seconds(30));
  if (!line.ok()) return line.status();
  out.bootstrap = line->substr(std::string("BOOTSTRAP ").size());

  const std::string binary = "pbr-" + service;
  out.clock = absl::StrCat("fixed:", absl::FormatTime(absl::RFC3339_full, clock_at, absl::UTCTimeZone()));
  const TimePoint spawned = SteadyClock::now();
  std::vector<std::string> argv = {bin_dir + "/" + binary, "--grpc-address=127.0.0.1:0", "--grpc-plaintext=true",
                                   "--metrics-address=127.0.0.1:0", "--data-dir=" + data_dir,
                                   "--kafka-bootstrap=" + out.bootstrap, "--rules-dir=" + rules_dir,
                                   "--clock=" + out.clock};
  if (service == "reporting") argv.push_back("--http-address=127.0.0.1:0");  // its dashboard, on a free port
  auto child = testing::ChildProcess::Spawn(argv, work_dir + "/" + service + ".log");
  if (!child.ok()) return child.status();
  out.process = owned.Adopt(binary, *std::move(child));
  auto ready = out.process->WaitForLine("READY ", ready_within);
  if (!ready.ok()) {
    return absl::Status(ready.status().code(), absl::StrCat(binary, ": ", ready.status().message(), "\n",
                                                            testing::Tail(out.process->log_path())));
  }
  out.start_s = Seconds(SteadyClock::now() - spawned);
  // "READY <service> grpc=HOST:PORT metrics=HOST:PORT[ http=HOST:PORT]"
  std::vector<std::string> parts = absl::StrSplit(*ready, ' ');
  if (parts.size() < 4 || parts.size() > 5 || !absl::StartsWith(parts[2], "grpc=") ||
      !absl::StartsWith(parts[3], "metrics=")) {
    return absl::InternalError(absl::StrCat("unexpected ready line: ", *ready));
  }
  out.grpc_address = parts[2].substr(5);
  out.metrics_address = parts[3].substr(8);
  std::printf("ready after %.2f s (broker %s, clock %s, pid %d)\n", out.start_s, out.bootstrap.c_str(),
              out.clock.c_str(), out.process->pid());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Measuring

Percentiles Summarize(std::vector<double> samples) {
  Percentiles p;
  p.n = samples.size();
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double q) {
    return samples[std::max<size_t>(1, static_cast<size_t>(std::ceil(q * samples.size()))) - 1];
  };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  p.max = samples.back();
  return p;
}

std::string Describe(const Percentiles& p, int decimals) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "p50 %.*f ms, p99 %.*f ms, max %.*f ms", decimals, p.p50, decimals, p.p99, decimals,
                p.max);
  return buf;
}

absl::StatusOr<Percentiles> TimeCalls(int warmup, int calls, const std::function<absl::Status()>& call) {
  for (int i = 0; i < warmup; ++i) {
    if (auto st = call(); !st.ok()) return st;
  }
  std::vector<double> ms;
  ms.reserve(calls);
  for (int i = 0; i < calls; ++i) {
    const TimePoint t0 = SteadyClock::now();
    absl::Status st = call();
    ms.push_back(Millis(SteadyClock::now() - t0));
    if (!st.ok()) return st;
  }
  return Summarize(std::move(ms));
}

int64_t StatusBytes(pid_t pid, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  const std::string prefix = absl::StrCat(field, ":");
  for (std::string line; std::getline(in, line);) {
    if (!absl::StartsWith(line, prefix)) continue;
    absl::string_view rest = absl::StripAsciiWhitespace(absl::string_view(line).substr(prefix.size()));
    absl::ConsumeSuffix(&rest, "kB");
    int64_t kb = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kb)) return kb * 1024;
  }
  return -1;
}

std::pair<int64_t, int64_t> DirBytes(const std::string& dir) {
  int64_t data = 0, total = 0;
  std::error_code ec;  // the walk stops at the first entry it cannot list, rather than throwing
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec)) continue;
    const uintmax_t size = it->file_size(file_ec);
    if (file_ec) continue;  // gone since it was listed
    const int64_t n = static_cast<int64_t>(size);
    const std::string name = it->path().filename().string();
    total += n;
    if (absl::EndsWith(name, ".sst") || absl::EndsWith(name, ".log") || absl::StartsWith(name, "MANIFEST")) data += n;
  }
  return {data, total};
}

// ---------------------------------------------------------------------------------------------
// Rules

absl::StatusOr<std::string> CopyRulesWithTeams(const std::string& rules_dir, const std::string& work_dir,
                                               const std::string& teams_yaml) {
  const std::string dir = work_dir + "/rules";
  std::error_code ec;
  std::filesystem::copy(rules_dir, dir, std::filesystem::copy_options::recursive, ec);
  if (ec) return absl::InternalError(absl::StrCat("copying ", rules_dir, " to ", dir, ": ", ec.message()));
  if (!(std::ofstream(dir + "/teams.bench.yaml") << teams_yaml)) {
    return absl::InternalError(absl::StrCat("writing ", dir, "/teams.bench.yaml"));
  }
  // The manifest's files.teams (the only "teams:" key in it) points at the bench's file.
  std::ifstream in(dir + "/manifest.yaml");
  std::string manifest, line;
  bool pointed = false;
  while (std::getline(in, line)) {
    const std::string key = std::string(absl::StripLeadingAsciiWhitespace(line));
    if (absl::StartsWith(key, "teams:") && key.size() < line.size()) {
      line = absl::StrCat(line.substr(0, line.size() - key.size()), "teams: teams.bench.yaml");
      pointed = true;
    }
    absl::StrAppend(&manifest, line, "\n");
  }
  if (!pointed) return absl::FailedPreconditionError(absl::StrCat(rules_dir, "/manifest.yaml names no teams file"));
  if (!(std::ofstream(dir + "/manifest.yaml") << manifest)) {
    return absl::InternalError(absl::StrCat("writing ", dir, "/manifest.yaml"));
  }
  auto loaded = care::RuleSet::LoadFromDirectory(dir);
  if (!loaded.ok()) return loaded.status();
  return dir;
}

// ---------------------------------------------------------------------------------------------
// gRPC

std::shared_ptr<grpc::Channel> LoopbackChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

grpc::Status EchoBaseline::Service::Echo(grpc::ServerContext*, const EchoMessage* request, EchoMessage* reply) {
  reply->set_payload(request->payload());
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<EchoBaseline>> EchoBaseline::Start(size_t payload_bytes) {
  std::unique_ptr<EchoBaseline> echo(new EchoBaseline());
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&echo->service_);
  echo->server_ = builder.BuildAndStart();
  if (echo->server_ == nullptr || port == 0) return absl::UnavailableError("echo server did not start on 127.0.0.1");
  echo->stub_ = pbr::bench::Echo::NewStub(LoopbackChannel(absl::StrCat("127.0.0.1:", port)));
  echo->request_.set_payload(std::string(payload_bytes, 'x'));
  return echo;
}

EchoBaseline::~EchoBaseline() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

absl::Status EchoBaseline::Call() const {
  EchoMessage reply;
  if (auto st = FromGrpc(stub_->Echo(testing::CallContext().get(), request_, &reply), "echo"); !st.ok()) return st;
  if (reply.payload().size() != request_.payload().size()) return absl::DataLossError("echo payload changed");
  return absl::OkStatus();
}

}  // namespace pbr::bench
