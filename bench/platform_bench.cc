// platform_bench: how close the platform comes to what this machine can do.
//
// Every platform figure is printed beside a baseline measured in the same run on the same machine:
//   intake throughput (RecordAssessment/s)  vs  a bare in-process gRPC echo (calls/s)
//   ack-to-report latency at a fixed rate   vs  bare produce-to-consume through the same broker
// plus the time reporting needs to reflect a burst of assessments. See bench/README.md.
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "demo_data.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "librdkafka/rdkafka.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "testing/local_platform.h"

namespace pbr::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
constexpr const char* kBenchTopic = "pbr-bench-latency";

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Flags {
  int clients = 16;
  int assessments = 4000;
  int teams = 8;
  int rate = 50;
  int latency_seconds = 10;
  int latency_workers = 6;
  int poll_ms = 1;
  int reflect_timeout = 120;  // seconds
  int partitions = 6;
  std::string bin_dir = PBR_BIN_DIR;
  std::string rules_dir = PBR_RULES_DIR;
  std::string work_dir;  // default: a fresh directory under /tmp, removed after a successful run
  bool keep_work_dir = false;
};

constexpr const char* kUsage = R"(usage: platform_bench [--flag=value ...]
  --clients=16            concurrent blocking clients for the intake and echo stages
  --assessments=4000      assessments recorded in the intake stage (distinct people), and echo calls
  --teams=8               teams the intake assessments are spread over
  --rate=50               per second, for the latency stage and its Kafka baseline
  --latency-seconds=10    duration of the latency stage and of its Kafka baseline
  --latency-workers=6     threads issuing the latency samples (so the rate holds while they poll)
  --poll-ms=1             GetCaseload poll interval while waiting for one sample to show
  --reflect-timeout=120   seconds to wait for reporting to reflect the intake
  --partitions=6          partitions per topic in the embedded broker
  --bin-dir=DIR           where pbr-broker and pbr-<service> are (default: this build's bin/)
  --rules-dir=DIR         rule data (default: the repo's rules/)
  --work-dir=DIR          data directories and service logs (default: a fresh /tmp/pbr-bench-*)
  --keep-work-dir         keep the work dir after a successful run (it is always kept on failure)
)";

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  const std::map<std::string, std::pair<int*, int>> ints = {  // name -> (field, minimum)
      {"clients", {&f.clients, 1}},         {"assessments", {&f.assessments, 1}},
      {"teams", {&f.teams, 1}},             {"rate", {&f.rate, 1}},
      {"latency-seconds", {&f.latency_seconds, 1}}, {"latency-workers", {&f.latency_workers, 1}},
      {"poll-ms", {&f.poll_ms, 0}},         {"reflect-timeout", {&f.reflect_timeout, 1}},
      {"partitions", {&f.partitions, 1}},
  };
  const std::map<std::string, std::string*> strings = {
      {"bin-dir", &f.bin_dir}, {"rules-dir", &f.rules_dir}, {"work-dir", &f.work_dir}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::NotFoundError(kUsage);
    if (arg == "--keep-work-dir") {
      f.keep_work_dir = true;
      continue;
    }
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'\n", kUsage));
    }
    const std::string name = arg.substr(2, eq - 2), value = arg.substr(eq + 1);
    if (auto it = ints.find(name); it != ints.end()) {
      if (!absl::SimpleAtoi(value, it->second.first) || *it->second.first < it->second.second) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", value, "' is not a whole number >= ",
                                                       it->second.second));
      }
    } else if (auto s = strings.find(name); s != strings.end()) {
      *s->second = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, "\n", kUsage));
    }
  }
  // People are numbered into disjoint NHS-number ranges below; keep the intake inside its range.
  if (f.assessments > 300000) return absl::InvalidArgumentError("--assessments: at most 300000");
  if (static_cast<int64_t>(f.rate) * f.latency_seconds > 100000) {
    return absl::InvalidArgumentError("--rate x --latency-seconds: at most 100000 samples");
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Requests

// Person numbers: intake 0.., latency samples from 300000, the warm-up at 499999.
constexpr int64_t kLatencyPeople = 300000;
constexpr int64_t kWarmupPerson = 499999;

// A distinct valid NHS number per person: 999 (test range) + two candidates per person, of which at
// most one can have the never-issued check value 10 (their check values differ by 2 mod 11).
std::string NhsNumber(int64_t person) {
  for (int64_t nine = 999000000 + 2 * person;; ++nine) {
    const std::string s = absl::StrCat(nine);
    if (int check = demo::NhsCheckDigit(s); check >= 0) return absl::StrCat(s, check);
  }
}

pbr::v1::RecordAssessmentRequest MakeRequest(int64_t person, const std::string& record_id, const std::string& team) {
  static constexpr int kClusters[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("bench-epr");
  r.set_source_record_id(record_id);
  r.set_nhs_number(NhsNumber(person));
  r.set_team_id(team);
  r.set_clinician_id(absl::StrCat("clin-", person % 50));
  // Yesterday, so a system clock never finds it in the future.
  r.mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24)));
  auto* ratings = r.mutable_ratings();
  for (int i = 0; i < 18; ++i) ratings->add_items(static_cast<int>((person * 7 + i * 3) % 5));
  if (ratings->items(7) >= 1) ratings->set_item8_problem_type("D");
  r.set_cluster(kClusters[person % std::size(kClusters)]);
  r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  r.set_clinical_rationale("benchmark: synthetic ratings");
  return r;
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  return ctx;
}

// No proxy from the environment: the benchmark only ever talks to 127.0.0.1.
std::shared_ptr<grpc::Channel> LoopbackChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

struct Percentiles {
  size_t n = 0;
  double p50 = 0, p99 = 0, max = 0;
};

Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) { return v[std::max<size_t>(1, static_cast<size_t>(std::ceil(q * v.size()))) - 1]; };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  p.max = v.back();
  return p;
}

struct ClosedLoopResult {
  int64_t ok = 0;
  int64_t failed = 0;
  std::string first_error;
  TimePoint start, end;
  double PerSecond() const { return ok / Seconds(end - start); }
};

// `clients` threads call `call(i)` for i in [0, count) as fast as answers come back.
ClosedLoopResult RunClosedLoop(int clients, int count, const std::function<absl::Status(int)>& call) {
  ClosedLoopResult r;
  std::atomic<int> next{0};
  std::atomic<int64_t> ok{0}, failed{0};
  std::mutex mu;
  r.start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < count;) {
        absl::Status st = call(i);
        if (st.ok()) {
          ok.fetch_add(1);
        } else if (failed.fetch_add(1) == 0) {
          std::lock_guard lock(mu);
          r.first_error = st.ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  r.end = SteadyClock::now();
  r.ok = ok;
  r.failed = failed;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Baseline 1: bare gRPC echo, in process, same client shape as the intake.

class EchoService final : public pbr::bench::Echo::Service {
  grpc::Status Echo(grpc::ServerContext*, const EchoMessage* request, EchoMessage* reply) override {
    reply->set_payload(request->payload());
    return grpc::Status::OK;
  }
};

absl::StatusOr<ClosedLoopResult> RunEcho(const Flags& f, size_t payload_bytes) {
  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;  // a default sync server, like the services'
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return absl::UnavailableError("echo server did not start on 127.0.0.1");
  auto stub = pbr::bench::Echo::NewStub(LoopbackChannel(absl::StrCat("127.0.0.1:", port)));
  EchoMessage request;
  request.set_payload(std::string(payload_bytes, 'x'));
  {  // connect before timing, as the intake's stub already is by then
    EchoMessage reply;
    if (grpc::Status st = stub->Echo(Context().get(), request, &reply); !st.ok()) {
      return absl::UnavailableError(absl::StrCat("echo: ", st.error_message()));
    }
  }
  auto result = RunClosedLoop(f.clients, f.assessments, [&](int) {
    EchoMessage reply;
    grpc::Status st = stub->Echo(Context().get(), request, &reply);
    if (!st.ok()) return absl::UnavailableError(st.error_message());
    if (reply.payload().size() != payload_bytes) return absl::DataLossError("echo payload changed");
    return absl::OkStatus();
  });
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return result;
}

// ---------------------------------------------------------------------------------------------
// Baseline 2: bare produce-then-consume through the platform's own broker.

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_destroy(rk);
  }
};
using Kafka = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

absl::StatusOr<Kafka> NewKafka(rd_kafka_type_t type, const std::vector<std::pair<std::string, std::string>>& props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("kafka ", k, "=", v, ": ", err));
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("kafka client: ", err));
  }
  return Kafka(rk);
}

absl::StatusOr<Percentiles> RunKafkaBaseline(const Flags& f, const std::string& bootstrap, size_t payload_bytes) {
  // The same client settings as the platform's outbox relay and consumers (libs/platform).
  auto producer = NewKafka(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap},
                                               {"enable.idempotence", "true"},
                                               {"acks", "all"},
                                               {"linger.ms", "1"},
                                               {"partitioner", "murmur2_random"}});
  if (!producer.ok()) return producer.status();
  auto consumer = NewKafka(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                               {"group.id", "pbr-bench"},
                                               {"enable.auto.commit", "false"},
                                               {"fetch.wait.max.ms", "5"},
                                               {"isolation.level", "read_committed"}});
  if (!consumer.ok()) return consumer.status();
  rd_kafka_poll_set_consumer(consumer->get());
  // Assigned, not subscribed: no group rebalance in the way; the fetch path is the same.
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(f.partitions);
  for (int p = 0; p < f.partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, kBenchTopic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t e = rd_kafka_assign(consumer->get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return absl::InternalError(absl::StrCat("assign: ", rd_kafka_err2str(e)));

  // Message value: the sample index (negative for warm-up) followed by padding to the payload size.
  const int n = f.rate * f.latency_seconds;
  std::vector<TimePoint> sent(n), received(n);
  std::atomic<int> got{0}, warm{0};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer->get(), 50);
      if (m == nullptr) continue;
      const TimePoint now = SteadyClock::now();
      int64_t index = 0;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len >= sizeof index) {
        std::memcpy(&index, m->payload, sizeof index);
        if (index < 0) {
          warm.fetch_add(1);
        } else if (index < n) {
          received[index] = now;
          got.fetch_add(1);
        }
      }
      rd_kafka_message_destroy(m);
    }
  });
  std::string value(std::max(payload_bytes, sizeof(int64_t)), 'x');
  auto produce = [&](int64_t index, int32_t partition) {
    std::memcpy(value.data(), &index, sizeof index);
    const std::string key = absl::StrCat("k", index);
    return rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC(kBenchTopic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  };
  auto finish = [&](absl::Status st) -> absl::Status {
    stop = true;
    reader.join();
    rd_kafka_flush(producer->get(), 5000);
    rd_kafka_consumer_close(consumer->get());
    return st;
  };

  // Warm-up: one message per partition, so connections and fetch sessions exist before timing.
  for (int p = 0; p < f.partitions; ++p) {
    if (auto err = produce(-1 - p, p); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return finish(absl::InternalError(absl::StrCat("produce: ", rd_kafka_err2str(err))));
    }
  }
  rd_kafka_flush(producer->get(), 10000);
  if (!testing::WaitUntil([&] { return warm.load() >= f.partitions; }, absl::Seconds(30), absl::Milliseconds(5))) {
    return finish(absl::DeadlineExceededError("kafka baseline: warm-up messages not consumed within 30s"));
  }

  const auto period = std::chrono::nanoseconds(1'000'000'000 / f.rate);
  const TimePoint t0 = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_until(t0 + i * period);
    sent[i] = SteadyClock::now();
    if (auto err = produce(i, RD_KAFKA_PARTITION_UA); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return finish(absl::InternalError(absl::StrCat("produce: ", rd_kafka_err2str(err))));
    }
    rd_kafka_poll(producer->get(), 0);  // serve delivery reports
  }
  if (!testing::WaitUntil([&] { return got.load() >= n; }, absl::Seconds(30), absl::Milliseconds(5))) {
    return finish(absl::DeadlineExceededError(absl::StrCat("kafka baseline: ", got.load(), " of ", n,
                                                           " messages consumed within 30s")));
  }
  if (auto st = finish(absl::OkStatus()); !st.ok()) return st;
  std::vector<double> ms(n);
  for (int i = 0; i < n; ++i) ms[i] = Millis(received[i] - sent[i]);
  return Summarize(ms);
}

// ---------------------------------------------------------------------------------------------
// The platform stages

class Platform {
 public:
  explicit Platform(const testing::LocalPlatform& p)
      : allocation_(pbr::v1::Allocation::NewStub(LoopbackChannel(p.GrpcAddress("allocation")))),
        reporting_(pbr::v1::Reporting::NewStub(LoopbackChannel(p.GrpcAddress("reporting")))) {}

  absl::Status Record(const pbr::v1::RecordAssessmentRequest& request) {
    pbr::v1::RecordAssessmentReply reply;
    grpc::Status st = allocation_->RecordAssessment(Context().get(), request, &reply);
    if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    if (reply.duplicate()) return absl::AlreadyExistsError(absl::StrCat(request.source_record_id(), " was a duplicate"));
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Recorded(const std::string& team) {
    pbr::v1::GetCaseloadRequest request;
    request.set_team_id(team);
    pbr::v1::Caseload caseload;
    grpc::Status st = reporting_->GetCaseload(Context(absl::Seconds(5)).get(), request, &caseload);
    if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    return caseload.assessments_recorded();
  }

 private:
  std::unique_ptr<pbr::v1::Allocation::Stub> allocation_;
  std::unique_ptr<pbr::v1::Reporting::Stub> reporting_;
};

// Polls `team` until it shows `want` assessments; returns when that was seen.
absl::StatusOr<TimePoint> WaitForRecorded(Platform& platform, const std::string& team, int64_t want,
                                          absl::Duration timeout, int poll_ms) {
  const TimePoint deadline = SteadyClock::now() + absl::ToChronoMilliseconds(timeout);
  for (;;) {
    auto got = platform.Recorded(team);
    const TimePoint now = SteadyClock::now();
    if (!got.ok()) return got.status();
    if (*got == want) return now;
    if (*got > want) return absl::InternalError(absl::StrCat(team, " shows ", *got, " assessments, expected ", want));
    if (now > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(team, " still shows ", *got, " of ", want,
                                                      " assessments after ", absl::FormatDuration(timeout)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

struct LatencyResult {
  Percentiles visible;   // ack -> GetCaseload shows it
  Percentiles ack;       // RecordAssessment call time at this rate
  double achieved_rate = 0;
  int late = 0;          // samples started more than one period behind schedule
};

absl::StatusOr<LatencyResult> RunPlatformLatency(const Flags& f, Platform& platform) {
  const int n = f.rate * f.latency_seconds;
  std::vector<double> visible_ms(n), ack_ms(n);
  std::vector<TimePoint> started(n);
  std::atomic<int> next{0}, late{0};
  std::mutex mu;
  absl::Status first_error;
  const auto period = std::chrono::nanoseconds(1'000'000'000 / f.rate);
  const TimePoint t0 = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < f.latency_workers; ++w) {
    workers.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < n;) {
        std::this_thread::sleep_until(t0 + i * period);
        started[i] = SteadyClock::now();
        if (started[i] - (t0 + i * period) > period) late.fetch_add(1);
        const std::string team = absl::StrCat("lat-", i);
        absl::Status st = platform.Record(MakeRequest(kLatencyPeople + i, team, team));
        const TimePoint acked = SteadyClock::now();
        absl::StatusOr<TimePoint> seen =
            st.ok() ? WaitForRecorded(platform, team, 1, absl::Seconds(10), f.poll_ms) : absl::StatusOr<TimePoint>(st);
        if (!seen.ok()) {
          std::lock_guard lock(mu);
          if (first_error.ok()) first_error = seen.status();
          next = n;  // stop everyone: one failed sample fails the stage
          return;
        }
        ack_ms[i] = Millis(acked - started[i]);
        visible_ms[i] = Millis(*seen - acked);
      }
    });
  }
  for (auto& t : workers) t.join();
  if (!first_error.ok()) return first_error;
  LatencyResult r;
  r.visible = Summarize(visible_ms);
  r.ack = Summarize(ack_ms);
  r.late = late;
  r.achieved_rate = n > 1 ? (n - 1) / Seconds(started[n - 1] - started[0]) : f.rate;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Reporting

int Nproc() {  // like nproc(1): the CPUs this process may run on
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return static_cast<int>(std::thread::hardware_concurrency());
  return CPU_COUNT(&set);
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// Other work on the machine skews every figure; the header shows how busy it was at the start.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return in ? absl::StrCat(one, " ", five, " ", fifteen) : "unknown";
}

struct Results {
  double echo_per_s = 0;
  double intake_per_s = 0;
  int64_t accepted = 0;
  double reflect_s = 0;         // last ack -> reporting shows every assessment
  double end_to_end_per_s = 0;  // accepted / (first send -> fully reflected)
  LatencyResult latency;
  Percentiles kafka;
  struct ServiceFootprint {
    std::string name;
    int64_t rss_bytes = 0;
    int64_t data_bytes = 0;   // table files, write-ahead logs and MANIFEST after a clean stop
    int64_t total_bytes = 0;  // everything in the data directory (also RocksDB's info LOG and OPTIONS)
  };
  std::vector<ServiceFootprint> footprint;
};

// Resident memory of a process (VmRSS), in bytes; -1 when unreadable.
int64_t RssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    int64_t kb = 0;
    if (absl::StartsWith(line, "VmRSS:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(6, line.size() - 9)), &kb)) {
      return kb * 1024;
    }
  }
  return -1;
}

// Bytes under a data directory: RocksDB's data files, and everything.
std::pair<int64_t, int64_t> DirBytes(const std::string& dir) {
  int64_t data = 0, total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const int64_t n = static_cast<int64_t>(e.file_size(ec));
    const std::string name = e.path().filename().string();
    total += n;
    if (absl::EndsWith(name, ".sst") || absl::EndsWith(name, ".log") || absl::StartsWith(name, "MANIFEST")) data += n;
  }
  return {data, total};
}

void Stage(const char* what) {
  std::printf("\n-- %s\n", what);
  std::fflush(stdout);
}

// The rules the platform runs on: --rules-dir copied, with a teams file of the bench's own (as a trust
// replaces the example one, rules/README.md) listing every team it records for: the warm-up's, the
// intake's and one per latency sample. They are all in the service area holding the most clusters.
absl::StatusOr<std::string> WriteBenchRules(const Flags& f) {
  auto rules = care::RuleSet::LoadFromDirectory(f.rules_dir);
  if (!rules.ok()) return rules.status();
  const care::ServiceArea* widest = nullptr;
  for (const care::ServiceArea& a : rules->service_areas().areas) {
    if (widest == nullptr || a.allowed.size() + a.rarely.size() > widest->allowed.size() + widest->rarely.size()) {
      widest = &a;
    }
  }
  const std::string dir = f.work_dir + "/rules";
  std::error_code ec;
  std::filesystem::copy(f.rules_dir, dir, std::filesystem::copy_options::recursive, ec);
  if (ec) return absl::InternalError(absl::StrCat("copying ", f.rules_dir, " to ", dir, ": ", ec.message()));
  std::string teams = "# Written by platform_bench: the teams it records for.\nkind: teams\nversion: \"bench\"\nteams:\n";
  auto add = [&](const std::string& id) {
    absl::StrAppend(&teams, "  - {id: ", id, ", name: bench, service_area: ", widest->id,
                    ", default_commissioner: bench}\n");
  };
  add("bench-warmup");
  for (int t = 0; t < f.teams; ++t) add(absl::StrCat("bench-team-", t));
  for (int i = 0; i < f.rate * f.latency_seconds; ++i) add(absl::StrCat("lat-", i));
  std::ofstream(dir + "/teams.bench.yaml") << teams;
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
  if (!pointed) return absl::FailedPreconditionError(absl::StrCat(f.rules_dir, "/manifest.yaml names no teams file"));
  std::ofstream(dir + "/manifest.yaml") << manifest;
  auto bench_rules = care::RuleSet::LoadFromDirectory(dir);
  if (!bench_rules.ok()) return bench_rules.status();
  return dir;
}

// The running platform, shared with the signal watcher so an interrupted run stops it too.
struct Owned {
  std::mutex mu;
  std::unique_ptr<testing::LocalPlatform> platform;

  // Every process stops; one that does not exit cleanly on SIGTERM is a failure too.
  absl::Status StopAll() {
    std::lock_guard lock(mu);
    if (!platform) return absl::OkStatus();
    absl::Status st = platform->StopAll();
    platform.reset();
    return st;
  }
};

absl::Status RunBench(const Flags& f, Owned& owned, Results& out) {
  const size_t payload_bytes = MakeRequest(0, "bench-0", "bench-team-0").ByteSizeLong();
  std::printf("payload: %zu bytes (a serialized RecordAssessmentRequest; echo and Kafka baselines use the same)\n",
              payload_bytes);

  // Echo first, while nothing else runs: it is the machine's limit for this call shape.
  Stage("baseline: bare gRPC echo");
  auto echo = RunEcho(f, payload_bytes);
  if (!echo.ok()) return echo.status();
  if (echo->failed > 0) return absl::InternalError(absl::StrCat(echo->failed, " echo calls failed: ", echo->first_error));
  out.echo_per_s = echo->PerSecond();
  std::printf("%lld calls in %.2f s with %d clients: %.0f calls/s\n", static_cast<long long>(echo->ok),
              Seconds(echo->end - echo->start), f.clients, out.echo_per_s);

  Stage("starting the platform (broker + 4 services)");
  auto rules_dir = WriteBenchRules(f);
  if (!rules_dir.ok()) return rules_dir.status();
  testing::LocalPlatformOptions options;
  options.bin_dir = f.bin_dir;
  options.rules_dir = *rules_dir;
  options.work_dir = f.work_dir;
  options.clock = "system";
  options.partitions = f.partitions;
  options.broker_flags = {absl::StrCat("--extra-topics=", kBenchTopic)};
  const TimePoint boot = SteadyClock::now();
  auto started = testing::LocalPlatform::Start(options);
  if (!started.ok()) return started.status();
  testing::LocalPlatform* local = started->get();
  {
    std::lock_guard lock(owned.mu);
    owned.platform = *std::move(started);
  }
  Platform platform(*local);
  // The first assessment also waits for consumer groups to form; keep that out of every figure.
  if (auto st = platform.Record(MakeRequest(kWarmupPerson, "warmup", "bench-warmup")); !st.ok()) return st;
  if (auto seen = WaitForRecorded(platform, "bench-warmup", 1, absl::Seconds(60), 10); !seen.ok()) return seen.status();
  std::printf("ready, and a first assessment visible in reporting, after %.2f s (broker %s)\n",
              Seconds(SteadyClock::now() - boot), local->bootstrap().c_str());

  // Both latency measurements run on a quiet platform, before the intake burst.
  Stage("baseline: bare Kafka produce -> consume on the same broker");
  auto kafka = RunKafkaBaseline(f, local->bootstrap(), payload_bytes);
  if (!kafka.ok()) return kafka.status();
  out.kafka = *kafka;
  std::printf("%zu messages at %d/s: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", kafka->n, f.rate, kafka->p50,
              kafka->p99, kafka->max);

  Stage("platform: ack -> visible in reporting, at a fixed rate");
  auto latency = RunPlatformLatency(f, platform);
  if (!latency.ok()) return latency.status();
  out.latency = *latency;
  std::printf("%zu samples at %.1f/s (%d started late) with %d workers, polling every %d ms\n", latency->visible.n,
              latency->achieved_rate, latency->late, f.latency_workers, f.poll_ms);
  std::printf("ack -> visible:        p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", latency->visible.p50,
              latency->visible.p99, latency->visible.max);
  std::printf("RecordAssessment call: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", latency->ack.p50, latency->ack.p99,
              latency->ack.max);

  Stage("platform: intake throughput");
  std::vector<pbr::v1::RecordAssessmentRequest> requests;
  requests.reserve(f.assessments);
  for (int i = 0; i < f.assessments; ++i) {
    requests.push_back(MakeRequest(i, absl::StrCat("bench-", i), absl::StrCat("bench-team-", i % f.teams)));
  }
  auto intake = RunClosedLoop(f.clients, f.assessments, [&](int i) { return platform.Record(requests[i]); });
  out.accepted = intake.ok;
  out.intake_per_s = intake.PerSecond();
  std::printf("%lld accepted, %lld rejected in %.2f s with %d clients: %.0f assessments/s\n",
              static_cast<long long>(intake.ok), static_cast<long long>(intake.failed),
              Seconds(intake.end - intake.start), f.clients, out.intake_per_s);
  if (intake.failed > 0) {
    return absl::InternalError(absl::StrCat(intake.failed, " assessments were not accepted; first: ", intake.first_error));
  }

  Stage("platform: until reporting reflects every accepted assessment");
  const TimePoint deadline = intake.end + std::chrono::seconds(f.reflect_timeout);
  int64_t shown = 0;
  TimePoint reflected;
  for (;;) {
    shown = 0;
    for (int t = 0; t < f.teams; ++t) {
      auto got = platform.Recorded(absl::StrCat("bench-team-", t));
      if (!got.ok()) return got.status();
      shown += *got;
    }
    reflected = SteadyClock::now();
    if (shown >= out.accepted) break;
    if (reflected > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("reporting shows ", shown, " of ", out.accepted,
                                                      " assessments after ", f.reflect_timeout, " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (shown != out.accepted) {
    return absl::InternalError(absl::StrCat("reporting shows ", shown, " assessments, but ", out.accepted,
                                            " were accepted"));
  }
  out.reflect_s = Seconds(reflected - intake.end);
  out.end_to_end_per_s = out.accepted / Seconds(reflected - intake.start);
  std::printf("all %lld visible %.2f s after the last ack; first send -> all visible: %.0f assessments/s\n",
              static_cast<long long>(out.accepted), out.reflect_s, out.end_to_end_per_s);

  Stage("footprint: memory while running, bytes stored after a clean stop");
  for (const char* name : testing::LocalPlatform::kServices) {
    out.footprint.push_back({name, RssBytes(local->Pid(name))});
  }
  if (auto st = owned.StopAll(); !st.ok()) return st;
  for (auto& s : out.footprint) {
    std::tie(s.data_bytes, s.total_bytes) = DirBytes(absl::StrCat(f.work_dir, "/", s.name));
    std::printf("%-17s RSS %7.1f MiB   stored %8.1f MiB (%6.0f bytes/assessment; whole directory %6.0f)\n",
                s.name.c_str(), s.rss_bytes / 1048576.0, s.data_bytes / 1048576.0,
                static_cast<double>(s.data_bytes) / (out.accepted + 1), static_cast<double>(s.total_bytes) / (out.accepted + 1));
  }
  return absl::OkStatus();
}

void PrintTable(const Flags& f, const Results& r) {
  std::printf("\n== summary\n");
  std::printf("%-34s %12s %12s %10s\n", "measure", "platform", "baseline", "ratio");
  std::printf("%-34s %12.0f %12.0f %9.1f%%  (platform / gRPC echo)\n", "intake, assessments/s", r.intake_per_s,
              r.echo_per_s, 100 * r.intake_per_s / r.echo_per_s);
  std::printf("%-34s %12.2f %12s %10s\n", "reflected after last ack, s", r.reflect_s, "-", "-");
  std::printf("%-34s %12.0f %12.0f %9.1f%%  (end-to-end / gRPC echo)\n", "first send -> all visible, /s",
              r.end_to_end_per_s, r.echo_per_s, 100 * r.end_to_end_per_s / r.echo_per_s);
  std::printf("%-34s %12.2f %12.2f %9.1fx  (platform / Kafka)\n", "ack -> visible p50, ms", r.latency.visible.p50,
              r.kafka.p50, r.latency.visible.p50 / r.kafka.p50);
  std::printf("%-34s %12.2f %12.2f %9.1fx  (platform / Kafka)\n", "ack -> visible p99, ms", r.latency.visible.p99,
              r.kafka.p99, r.latency.visible.p99 / r.kafka.p99);
  std::printf("%-34s %12.2f %12.2f %10s\n", "ack -> visible max, ms", r.latency.visible.max, r.kafka.max, "-");
  for (const auto& s : r.footprint) {
    std::printf("%-34s %12.0f %12s %10s  (RSS %.0f MiB)\n", absl::StrCat(s.name, " bytes/assessment").c_str(),
                static_cast<double>(s.data_bytes) / (r.accepted + 1), "-", "-", s.rss_bytes / 1048576.0);
  }
  std::printf("(latency at %d/s for %d s; intake %d assessments, %d clients, %d teams)\n", f.rate, f.latency_seconds,
              f.assessments, f.clients, f.teams);
}

}  // namespace
}  // namespace pbr::bench

int main(int argc, char** argv) {
  using namespace pbr::bench;
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    const bool help = absl::IsNotFound(flags.status());
    std::fprintf(help ? stdout : stderr, "%s%s", help ? "" : "platform_bench: ",
                 std::string(flags.status().message()).c_str());
    return help ? 0 : 2;
  }
  Flags& f = *flags;
  if (f.work_dir.empty()) {
    char tmpl[] = "/tmp/pbr-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::perror("platform_bench: mkdtemp");
      return 1;
    }
    f.work_dir = tmpl;
  }

  std::printf("== platform_bench\n");
  std::printf("machine: nproc %d, %s\n", Nproc(), CpuModel().c_str());
  std::printf("load average (1/5/15 min) at start: %s\n", LoadAverage().c_str());
  std::printf("build: %s; work dir: %s\n", PBR_BUILD_TYPE, f.work_dir.c_str());
  std::printf("params: --clients=%d --assessments=%d --teams=%d --rate=%d --latency-seconds=%d "
              "--latency-workers=%d --poll-ms=%d --reflect-timeout=%d --partitions=%d\n",
              f.clients, f.assessments, f.teams, f.rate, f.latency_seconds, f.latency_workers, f.poll_ms,
              f.reflect_timeout, f.partitions);
  std::fflush(stdout);

  // Ctrl-C, SIGTERM or SIGHUP mid-run: stop the platform's processes before leaving. Blocked here, before
  // any thread starts, so only the watcher receives them (children reset their mask when spawned).
  Owned owned;
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, sig);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // output piped into `head` must not kill us with the platform still running
  std::thread([&owned, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "\nplatform_bench: signal %d: stopping the platform\n", sig);
    owned.StopAll().IgnoreError();
    std::_Exit(128 + sig);
  }).detach();

  Results results;
  absl::Status status = RunBench(f, owned, results);
  // Every process stops, whatever happened above.
  if (absl::Status stopped = owned.StopAll(); !stopped.ok()) {
    std::fprintf(stderr, "platform_bench: stopping the platform: %s\n", stopped.ToString().c_str());
    if (status.ok()) status = stopped;
  }
  if (!status.ok()) {
    std::fprintf(stderr, "\nplatform_bench: FAILED: %s\n(service logs are in %s)\n", status.ToString().c_str(),
                 f.work_dir.c_str());
    return 1;
  }
  PrintTable(f, results);
  if (!f.keep_work_dir) std::filesystem::remove_all(f.work_dir);
  return 0;
}
