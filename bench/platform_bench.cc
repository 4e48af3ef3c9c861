// platform_bench: how close the platform comes to what this machine can do.
//
// Every platform figure is printed beside a baseline measured in the same run on the same machine:
//   intake throughput (RecordAssessment/s)  vs  a bare in-process gRPC echo (calls/s)
//   ack-to-report latency at a fixed rate   vs  bare produce-to-consume through the same broker
// plus the time reporting needs to reflect a burst of assessments. See bench/README.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench_support.h"
#include "national_year.h"  // tools/loadgen: the synthetic national year
#include "care/rules.h"
#include "demo_data.h"
#include "grpcpp/grpcpp.h"
#include "librdkafka/rdkafka.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "testing/local_platform.h"

namespace pbr::bench {
namespace {

constexpr const char* kProgram = "platform_bench";
constexpr const char* kBenchTopic = "pbr-bench-latency";

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
  int bulk_people = 10000;  // the bulk stage: an initial assessment and a review each
  int bulk_streams = 4;
  int bulk_batch = 500;
  int year_people = 0;  // the national-year stage (pbr-loadgen's year on a platform of its own); 0 skips it
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
  --bulk-people=10000     people loaded on the bulk path (RecordIntake), two assessments each; 0 skips it
  --bulk-streams=4        concurrent RecordIntake streams
  --bulk-batch=500        assessments per batch (one durable write each)
  --year-people=0         the national-year stage: pbr-loadgen's synthetic year for this many people (3 assessments
                          each, and their care events) through RecordIntake on a platform of its own, timed to
                          reporting showing every assessment; 0 skips it (1000000 is the issue's national year)
  --bin-dir=DIR           where pbr-broker and pbr-<service> are (default: this build's bin/)
  --rules-dir=DIR         rule data (default: the repo's rules/)
  --work-dir=DIR          data directories and service logs (default: a fresh /tmp/pbr-bench-*)
  --keep-work-dir         keep the work dir after a successful run (it is always kept on failure)
)";

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  const FlagTable table = {
      .ints = {{"clients", {&f.clients, 1, 1000}},
               // People are numbered into disjoint NHS-number ranges below; the intake's ends at 300000.
               {"assessments", {&f.assessments, 1, 150000}},
               {"teams", {&f.teams, 1, 10000}},
               {"rate", {&f.rate, 1, 100000}},
               {"latency-seconds", {&f.latency_seconds, 1, 100000}},
               {"latency-workers", {&f.latency_workers, 1, 1000}},
               {"poll-ms", {&f.poll_ms, 0, 10000}},
               {"reflect-timeout", {&f.reflect_timeout, 1, 86400}},
               {"partitions", {&f.partitions, 1, 1000}},  // the broker's own limit
               {"bulk-people", {&f.bulk_people, 0, 99999}},  // from kBulkPeople to the warm-up person
               {"bulk-streams", {&f.bulk_streams, 1, 64}},
               {"bulk-batch", {&f.bulk_batch, 1, 1000}},
               {"year-people", {&f.year_people, 0, 1000000}}},
      .strings = {{"bin-dir", &f.bin_dir}, {"rules-dir", &f.rules_dir}, {"work-dir", &f.work_dir}},
      .switches = {{"keep-work-dir", &f.keep_work_dir}},
  };
  if (auto st = ParseFlagArgs(argc, argv, table, kUsage); !st.ok()) return st;
  if (static_cast<int64_t>(f.rate) * f.latency_seconds > 100000) {
    return absl::InvalidArgumentError("--rate x --latency-seconds: at most 100000 samples");
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Requests

// Person numbers: intake 0.., the plaintext intake from 150000, latency samples from 300000, the
// bulk load from 400000, the warm-up at 499999 (NhsNumber has room for 500000).
constexpr int64_t kPlaintextPeople = 150000;
constexpr int64_t kLatencyPeople = 300000;
constexpr int64_t kBulkPeople = 400000;
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

// ---------------------------------------------------------------------------------------------
// Measurement helpers

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

// The bulk path: `streams` RecordIntake streams, each sending its share of the people as batches of
// `batch` assessments (a person's initial assessment, then their review a month on, in order), one
// batch in flight per stream, each answered once it is durable.
struct BulkResult {
  int64_t accepted = 0, refused = 0;
  std::string first_refusal;
  TimePoint start, end;
  double PerSecond() const { return accepted / std::chrono::duration<double>(end - start).count(); }
};

pbr::v1::RecordAssessmentRequest BulkRequest(int64_t person, bool review, const std::string& team) {
  pbr::v1::RecordAssessmentRequest r =
      MakeRequest(person, absl::StrCat(review ? "bulk-review-" : "bulk-", person), team);
  const absl::Time at = absl::Now() - absl::Hours(24) - (review ? absl::ZeroDuration() : absl::Hours(24 * 30));
  r.mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(at));
  if (review) {
    r.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
    r.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  }
  return r;
}

absl::StatusOr<BulkResult> RunBulk(const Flags& f, const testing::LocalPlatform& p) {
  BulkResult r;
  std::mutex mu;
  absl::Status failure;
  r.start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < f.bulk_streams; ++t) {
    threads.emplace_back([&, t] {
      auto stub = p.Stub<pbr::v1::Allocation>("allocation", "epr-feed:bench-epr");
      auto ctx = testing::CallContext(absl::Seconds(f.reflect_timeout));
      auto stream = stub->RecordIntake(ctx.get());
      pbr::v1::IntakeBatch batch;
      int64_t accepted = 0, refused = 0;
      std::string first_refusal;
      absl::Status st;
      auto send = [&]() {
        if (batch.items_size() == 0) return true;
        pbr::v1::IntakeBatchResult result;
        if (!stream->Write(batch) || !stream->Read(&result)) return false;
        for (const auto& item : result.results()) {
          if (item.code() == 0 && !item.assessment().duplicate()) {
            ++accepted;
          } else if (refused++ == 0) {
            first_refusal = item.code() == 0 ? "a duplicate" : item.message();
          }
        }
        batch.set_sequence(batch.sequence() + 1);
        batch.clear_items();
        return true;
      };
      bool ok = true;
      for (int64_t i = t; i < f.bulk_people && ok; i += f.bulk_streams) {
        const std::string team = absl::StrCat("bench-team-", i % f.teams);
        *batch.add_items()->mutable_assessment() = BulkRequest(kBulkPeople + i, false, team);
        *batch.add_items()->mutable_assessment() = BulkRequest(kBulkPeople + i, true, team);
        if (batch.items_size() + 1 >= f.bulk_batch) ok = send();
      }
      if (ok) ok = send();
      stream->WritesDone();
      grpc::Status finished = stream->Finish();
      std::lock_guard lock(mu);
      r.accepted += accepted;
      r.refused += refused;
      if (r.first_refusal.empty()) r.first_refusal = first_refusal;
      if (!finished.ok() && failure.ok()) failure = FromGrpc(finished, "RecordIntake");
    });
  }
  for (auto& th : threads) th.join();
  r.end = SteadyClock::now();
  if (!failure.ok()) return failure;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Baseline 1: bare gRPC echo, in process, same client shape as the intake.

absl::StatusOr<ClosedLoopResult> RunEcho(const Flags& f, size_t payload_bytes) {
  auto echo = EchoBaseline::Start(payload_bytes);
  if (!echo.ok()) return echo.status();
  // Connect before timing, as the intake's stub already is by then.
  if (auto st = (*echo)->Call(); !st.ok()) return st;
  return RunClosedLoop(f.clients, f.assessments, [&](int) { return (*echo)->Call(); });
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
  // Over the platform's mutual TLS, as the bench EPR's feed and as operations.
  explicit Platform(const testing::LocalPlatform& p)
      : allocation_(p.Stub<pbr::v1::Allocation>("allocation", "epr-feed:bench-epr")),
        reporting_(p.Stub<pbr::v1::Reporting>("reporting")) {}
  // Allocation restarted on plaintext (grpc-plaintext, loopback): the same intake without TLS.
  void UsePlaintextAllocation(const testing::LocalPlatform& p) {
    allocation_ = pbr::v1::Allocation::NewStub(LoopbackChannel(p.GrpcAddress("allocation")));
  }

  absl::Status Record(const pbr::v1::RecordAssessmentRequest& request) {
    pbr::v1::RecordAssessmentReply reply;
    if (auto st = FromGrpc(allocation_->RecordAssessment(testing::CallContext().get(), request, &reply),
                           "RecordAssessment");
        !st.ok()) {
      return st;
    }
    if (reply.duplicate()) return absl::AlreadyExistsError(absl::StrCat(request.source_record_id(), " was a duplicate"));
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Recorded(const std::string& team) {
    pbr::v1::GetCaseloadRequest request;
    request.set_team_id(team);
    pbr::v1::Caseload caseload;
    if (auto st = FromGrpc(reporting_->GetCaseload(testing::CallContext(absl::Seconds(5)).get(), request, &caseload),
                           "GetCaseload");
        !st.ok()) {
      return st;
    }
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

struct Results {
  double echo_per_s = 0;
  double intake_per_s = 0;            // over mutual TLS, as the platform runs
  double plaintext_intake_per_s = 0;  // the same burst with allocation on grpc-plaintext
  int64_t accepted = 0;
  double reflect_s = 0;         // last ack -> reporting shows every assessment
  double end_to_end_per_s = 0;  // accepted / (first send -> fully reflected)
  int64_t bulk_accepted = 0;
  int64_t stored = 0;             // every assessment the platform holds at the end
  double bulk_per_s = 0;          // acknowledged on the bulk path
  double bulk_end_to_end_per_s = 0;  // bulk accepted / (first batch sent -> reporting shows all)
  LatencyResult latency;
  Percentiles kafka;
  struct Year {
    int64_t people = 0, assessments = 0, rows = 0;
    double acked_per_s = 0, end_to_end_per_s = 0;
    double first_tenth_per_s = 0, last_tenth_per_s = 0;  // acknowledged assessments/s over each tenth
    double restart_to_ready_s = 0;                        // reporting, stopped and started on the full store
    Percentiles caseload_ms;                              // GetCaseload on the full store
    std::vector<std::pair<std::string, int64_t>> rss;     // per service, at the end
  } year;
  struct ServiceFootprint {
    std::string name;
    int64_t rss_bytes = 0;
    int64_t data_bytes = 0;   // table files, write-ahead logs and MANIFEST after a clean stop
    int64_t total_bytes = 0;  // everything in the data directory (also RocksDB's info LOG and OPTIONS)
  };
  std::vector<ServiceFootprint> footprint;
};

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
  std::string teams = "# Written by platform_bench: the teams it records for.\nkind: teams\nversion: \"bench\"\nteams:\n";
  auto add = [&](const std::string& id) {
    absl::StrAppend(&teams, "  - {id: ", id, ", name: bench, service_area: ", widest->id,
                    ", default_commissioner: bench}\n");
  };
  add("bench-warmup");
  for (int t = 0; t < f.teams; ++t) add(absl::StrCat("bench-team-", t));
  for (int i = 0; i < f.rate * f.latency_seconds; ++i) add(absl::StrCat("lat-", i));
  return CopyRulesWithTeams(f.rules_dir, f.work_dir, teams);
}

absl::Status RunBench(const Flags& f, OwnedProcesses& owned, Results& out) {
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
  testing::LocalPlatform* local = owned.Adopt(*std::move(started));
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
  std::printf("%zu messages at %d/s: %s\n", kafka->n, f.rate, Describe(*kafka, 2).c_str());

  Stage("platform: ack -> visible in reporting, at a fixed rate");
  auto latency = RunPlatformLatency(f, platform);
  if (!latency.ok()) return latency.status();
  out.latency = *latency;
  std::printf("%zu samples at %.1f/s (%d started late) with %d workers, polling every %d ms\n", latency->visible.n,
              latency->achieved_rate, latency->late, f.latency_workers, f.poll_ms);
  std::printf("ack -> visible:        %s\n", Describe(latency->visible, 2).c_str());
  std::printf("RecordAssessment call: %s\n", Describe(latency->ack, 2).c_str());

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

  if (f.bulk_people > 0) {
    Stage("platform: the bulk path (RecordIntake), until reporting reflects it");
    auto bulk = RunBulk(f, *local);
    if (!bulk.ok()) return bulk.status();
    std::printf("%lld accepted, %lld refused in %.2f s on %d streams of %d-assessment batches: %.0f assessments/s\n",
                static_cast<long long>(bulk->accepted), static_cast<long long>(bulk->refused),
                Seconds(bulk->end - bulk->start), f.bulk_streams, f.bulk_batch, bulk->PerSecond());
    if (bulk->refused > 0) return absl::InternalError(absl::StrCat(bulk->refused, " refused; first: ", bulk->first_refusal));
    out.bulk_accepted = bulk->accepted;
    out.bulk_per_s = bulk->PerSecond();
    const int64_t want = out.accepted + bulk->accepted;
    const TimePoint bulk_deadline = bulk->end + std::chrono::seconds(f.reflect_timeout);
    for (;;) {
      int64_t seen = 0;
      for (int t = 0; t < f.teams; ++t) {
        auto got = platform.Recorded(absl::StrCat("bench-team-", t));
        if (!got.ok()) return got.status();
        seen += *got;
      }
      reflected = SteadyClock::now();
      if (seen >= want) {
        if (seen != want) return absl::InternalError(absl::StrCat("reporting shows ", seen, ", expected ", want));
        break;
      }
      if (reflected > bulk_deadline) {
        return absl::DeadlineExceededError(absl::StrCat("reporting shows ", seen, " of ", want, " after ",
                                                        f.reflect_timeout, " s"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    out.bulk_end_to_end_per_s = bulk->accepted / Seconds(reflected - bulk->start);
    std::printf("all visible %.2f s after the last batch; first batch -> all visible: %.0f assessments/s\n",
                Seconds(reflected - bulk->end), out.bulk_end_to_end_per_s);
  }

  // The same burst without TLS, on the same platform and machine, so the cost of mutual TLS is seen
  // beside it: allocation restarted with grpc-plaintext (loopback only).
  Stage("platform: intake throughput without TLS (allocation restarted with grpc-plaintext)");
  if (auto st = local->StopService("allocation"); !st.ok()) return st;
  if (auto st = local->StartService("allocation", absl::Seconds(60), {"--grpc-plaintext=true"}); !st.ok()) return st;
  platform.UsePlaintextAllocation(*local);
  for (int i = 0; i < f.assessments; ++i) {
    requests[i] = MakeRequest(kPlaintextPeople + i, absl::StrCat("bench-plain-", i), absl::StrCat("bench-team-", i % f.teams));
  }
  auto plain = RunClosedLoop(f.clients, f.assessments, [&](int i) { return platform.Record(requests[i]); });
  out.plaintext_intake_per_s = plain.PerSecond();
  std::printf("%lld accepted, %lld rejected in %.2f s with %d clients: %.0f assessments/s (TLS: %.0f)\n",
              static_cast<long long>(plain.ok), static_cast<long long>(plain.failed), Seconds(plain.end - plain.start),
              f.clients, out.plaintext_intake_per_s, out.intake_per_s);
  if (plain.failed > 0) {
    return absl::InternalError(absl::StrCat(plain.failed, " plaintext assessments were not accepted; first: ", plain.first_error));
  }
  const int64_t stored_assessments = out.accepted + plain.ok + out.bulk_accepted;
  out.stored = stored_assessments;

  Stage("footprint: memory while running, bytes stored after a clean stop");
  for (const char* name : testing::LocalPlatform::kServices) {
    out.footprint.push_back({name, StatusBytes(local->Pid(name), "VmRSS")});
  }
  if (auto st = owned.StopAll(); !st.ok()) return st;
  for (auto& s : out.footprint) {
    std::tie(s.data_bytes, s.total_bytes) = DirBytes(absl::StrCat(f.work_dir, "/", s.name));
    std::printf("%-17s RSS %7.1f MiB   stored %8.1f MiB (%6.0f bytes/assessment; whole directory %6.0f)\n",
                s.name.c_str(), s.rss_bytes / 1048576.0, s.data_bytes / 1048576.0,
                static_cast<double>(s.data_bytes) / (stored_assessments + 1),
                static_cast<double>(s.total_bytes) / (stored_assessments + 1));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// The national year (issue 15): pbr-loadgen's synthetic year through the bulk path, on a platform of
// its own with the rules as given (their teams and clusters are what the generator draws on), timed
// until reporting's caseloads show every assessment, then measured at that size.

absl::Status RunNationalYear(const Flags& f, OwnedProcesses& owned, Results::Year& out) {
  auto rules = care::RuleSet::LoadFromDirectory(f.rules_dir);
  if (!rules.ok()) return rules.status();
  loadgen::NationalYearOptions o;
  o.people = f.year_people;
  o.assessments = 3 * static_cast<int64_t>(f.year_people);
  o.seed = 1;
  o.source_systems = 1;  // one EPR feed: one certificate, batches never split by source
  o.year_end = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) - 1;
  auto year = loadgen::NationalYear::Create(*rules, o);
  if (!year.ok()) return year.status();
  const std::string source = loadgen::SourceSystemNames(1).front();

  // Generated before the clock starts, as the batches each stream will send: a person's rows in one
  // stream, in order, so their history reaches allocation as the generator wrote it.
  struct Batch {
    pbr::v1::IntakeBatch items;
    int64_t assessments = 0;
  };
  const int streams = f.bulk_streams;
  std::vector<std::vector<Batch>> batches(streams);
  year->Run([&](const loadgen::PersonRecord& p) {
    std::vector<Batch>& mine = batches[p.index % streams];
    for (const import::ImportRow& row : p.rows) {
      if (mine.empty() || mine.back().items.items_size() >= f.bulk_batch) mine.emplace_back();
      Batch& b = mine.back();
      pbr::v1::IntakeItem& item = *b.items.add_items();
      if (const auto* a = std::get_if<import::AssessmentRequest>(&row.request)) {
        *item.mutable_assessment() = *a;
        ++b.assessments;
      } else {
        *item.mutable_care_event() = std::get<import::CareEventRequest>(row.request);
      }
      ++out.rows;
    }
    return true;
  });
  const loadgen::NationalYearStats& stats = year->stats();
  out.people = stats.people;
  out.assessments = stats.assessments;
  std::printf("generated %lld people, %lld assessments, %lld rows (%s)\n", static_cast<long long>(out.people),
              static_cast<long long>(out.assessments), static_cast<long long>(out.rows), source.c_str());

  testing::LocalPlatformOptions options;
  options.bin_dir = f.bin_dir;
  options.rules_dir = f.rules_dir;
  options.work_dir = f.work_dir + "/year";
  // Every generated row is before noon of the year's last day.
  options.clock = absl::StrCat("fixed:", absl::FormatCivilTime(o.year_end), "T12:00:00Z");
  options.partitions = f.partitions;
  auto started = testing::LocalPlatform::Start(options);
  if (!started.ok()) return started.status();
  testing::LocalPlatform* local = owned.Adopt(*std::move(started));

  // Sent: each stream's batches one after another, each acknowledged (durable) before the next.
  std::mutex mu;
  std::vector<std::pair<TimePoint, int64_t>> acked;  // when each batch was acknowledged, its assessments
  absl::Status failure;
  const TimePoint start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < streams; ++t) {
    threads.emplace_back([&, t] {
      auto stub = local->Stub<pbr::v1::Allocation>("allocation", "epr-feed:" + source);
      auto ctx = testing::CallContext(absl::Seconds(f.reflect_timeout) + absl::Milliseconds(10) * out.rows);
      auto stream = stub->RecordIntake(ctx.get());
      absl::Status st;
      uint64_t sequence = 0;
      for (Batch& b : batches[t]) {
        b.items.set_sequence(++sequence);
        pbr::v1::IntakeBatchResult result;
        if (!stream->Write(b.items) || !stream->Read(&result)) break;
        for (const auto& item : result.results()) {
          const bool duplicate = item.has_assessment() ? item.assessment().duplicate() : item.care_event().duplicate();
          if ((item.code() != 0 || duplicate) && st.ok()) {
            st = absl::InternalError(absl::StrCat("a generated row was ", item.code() != 0 ? "refused: " : "a duplicate",
                                                  item.message()));
          }
        }
        std::lock_guard lock(mu);
        acked.emplace_back(SteadyClock::now(), b.assessments);
      }
      stream->WritesDone();
      grpc::Status finished = stream->Finish();
      std::lock_guard lock(mu);
      if (!finished.ok() && failure.ok()) failure = FromGrpc(finished, "RecordIntake");
      if (!st.ok() && failure.ok()) failure = st;
    });
  }
  for (auto& th : threads) th.join();
  const TimePoint sent = SteadyClock::now();
  if (!failure.ok()) return failure;
  batches.clear();

  // Flatness: the rate over the first and the last tenth of the assessments acknowledged.
  std::sort(acked.begin(), acked.end());
  int64_t total = 0;
  for (const auto& [at, n] : acked) total += n;
  if (total != out.assessments) {
    return absl::InternalError(absl::StrCat(total, " assessments acknowledged of ", out.assessments));
  }
  // The first tenth: up to the first acknowledgement with at least 10% done; the last: after the last
  // acknowledgement with at most 90% done. Each rate is the assessments actually in its span.
  TimePoint tenth = start, nine_tenths = start;
  int64_t running = 0, at_tenth = -1, at_nine_tenths = 0;
  for (const auto& [at, n] : acked) {
    running += n;
    if (at_tenth < 0 && running * 10 >= total) tenth = at, at_tenth = running;
    if (running * 10 <= total * 9) nine_tenths = at, at_nine_tenths = running;
  }
  const TimePoint last_ack = acked.empty() ? start : acked.back().first;
  out.acked_per_s = total / Seconds(sent - start);
  out.first_tenth_per_s = std::max<int64_t>(at_tenth, 0) / std::max(Seconds(tenth - start), 1e-3);
  out.last_tenth_per_s = (total - at_nine_tenths) / std::max(Seconds(last_ack - nine_tenths), 1e-3);
  std::printf("%lld rows acknowledged in %.1f s on %d streams: %.0f assessments/s (first tenth %.0f/s, last tenth %.0f/s)\n",
              static_cast<long long>(out.rows), Seconds(sent - start), streams, out.acked_per_s, out.first_tenth_per_s,
              out.last_tenth_per_s);

  // Reflected: every team's caseload counts every assessment generated for it.
  Platform platform(*local);
  auto recorded = [&]() -> absl::StatusOr<int64_t> {
    int64_t n = 0;
    for (const auto& [team, unused] : rules->teams().teams) {
      auto got = platform.Recorded(team);
      if (!got.ok()) return got.status();
      n += *got;
    }
    return n;
  };
  const TimePoint deadline = sent + std::chrono::seconds(f.reflect_timeout) + std::chrono::milliseconds(out.rows);
  TimePoint reflected;
  for (;;) {
    auto n = recorded();
    if (!n.ok()) return n.status();
    reflected = SteadyClock::now();
    if (*n == out.assessments) break;
    if (*n > out.assessments) return absl::InternalError(absl::StrCat("reporting shows ", *n, " of ", out.assessments));
    if (reflected > deadline) return absl::DeadlineExceededError(absl::StrCat("reporting shows ", *n, " of ", out.assessments));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  out.end_to_end_per_s = out.assessments / Seconds(reflected - start);
  std::printf("all visible in reporting %.1f s after the last batch: %.0f assessments/s end to end\n",
              Seconds(reflected - sent), out.end_to_end_per_s);

  for (const char* name : testing::LocalPlatform::kServices) {
    out.rss.emplace_back(name, StatusBytes(local->Pid(name), "VmRSS"));
  }
  // Queries on the full store: GetCaseload of each team in turn.
  std::vector<double> samples;
  for (int i = 0; i < 200; ++i) {
    auto it = rules->teams().teams.begin();
    std::advance(it, i % rules->teams().teams.size());
    const TimePoint t0 = SteadyClock::now();
    if (auto got = platform.Recorded(it->first); !got.ok()) return got.status();
    samples.push_back(1000 * Seconds(SteadyClock::now() - t0));
  }
  out.caseload_ms = Summarize(std::move(samples));
  // Restart to ready: reporting stopped cleanly and started on the full store.
  if (auto st = local->StopService("reporting"); !st.ok()) return st;
  const TimePoint restart = SteadyClock::now();
  if (auto st = local->StartService("reporting", absl::Seconds(120)); !st.ok()) return st;
  out.restart_to_ready_s = Seconds(SteadyClock::now() - restart);
  std::printf("GetCaseload: %s; reporting restarted to ready in %.2f s\n", Describe(out.caseload_ms, 2).c_str(),
              out.restart_to_ready_s);
  for (const auto& [name, rss] : out.rss) std::printf("%-17s RSS %7.1f MiB\n", name.c_str(), rss / 1048576.0);
  return owned.StopAll();
}

void PrintTable(const Flags& f, const Results& r) {
  std::printf("\n== summary\n");
  std::printf("%-34s %12s %12s %10s\n", "measure", "platform", "baseline", "ratio");
  std::printf("%-34s %12.0f %12.0f %9.1f%%  (platform over mutual TLS / gRPC echo)\n", "intake, assessments/s",
              r.intake_per_s, r.echo_per_s, 100 * r.intake_per_s / r.echo_per_s);
  std::printf("%-34s %12.0f %12.0f %9.1f%%  (mutual TLS / plaintext, same run)\n", "intake over TLS vs plaintext",
              r.intake_per_s, r.plaintext_intake_per_s, 100 * r.intake_per_s / r.plaintext_intake_per_s);
  std::printf("%-34s %12.2f %12s %10s\n", "reflected after last ack, s", r.reflect_s, "-", "-");
  if (r.bulk_accepted > 0) {
    std::printf("%-34s %12.0f %12.0f %9.1f%%  (bulk path acked / gRPC echo calls; target: 10000/s end to end)\n",
                "bulk intake, assessments/s", r.bulk_per_s, r.echo_per_s, 100 * r.bulk_per_s / r.echo_per_s);
    std::printf("%-34s %12.0f %12.0f %9.1f%%  (first batch -> all visible / gRPC echo)\n",
                "bulk, first send -> visible, /s", r.bulk_end_to_end_per_s, r.echo_per_s,
                100 * r.bulk_end_to_end_per_s / r.echo_per_s);
  }
  std::printf("%-34s %12.0f %12.0f %9.1f%%  (end-to-end / gRPC echo)\n", "first send -> all visible, /s",
              r.end_to_end_per_s, r.echo_per_s, 100 * r.end_to_end_per_s / r.echo_per_s);
  std::printf("%-34s %12.2f %12.2f %9.1fx  (platform / Kafka)\n", "ack -> visible p50, ms", r.latency.visible.p50,
              r.kafka.p50, r.latency.visible.p50 / r.kafka.p50);
  std::printf("%-34s %12.2f %12.2f %9.1fx  (platform / Kafka)\n", "ack -> visible p99, ms", r.latency.visible.p99,
              r.kafka.p99, r.latency.visible.p99 / r.kafka.p99);
  std::printf("%-34s %12.2f %12.2f %10s\n", "ack -> visible max, ms", r.latency.visible.max, r.kafka.max, "-");
  for (const auto& s : r.footprint) {
    std::printf("%-34s %12.0f %12s %10s  (RSS %.0f MiB)\n", absl::StrCat(s.name, " bytes/assessment").c_str(),
                static_cast<double>(s.data_bytes) / (r.stored + 1), "-", "-", s.rss_bytes / 1048576.0);
  }
  std::printf("(latency at %d/s for %d s; intake %d assessments, %d clients, %d teams)\n", f.rate, f.latency_seconds,
              f.assessments, f.clients, f.teams);
  if (r.year.assessments == 0) return;
  const Results::Year& y = r.year;
  std::printf("\n== national year: %lld people, %lld assessments, %lld rows (issue 15's targets beside each)\n",
              static_cast<long long>(y.people), static_cast<long long>(y.assessments), static_cast<long long>(y.rows));
  std::printf("%-34s %12s %12s %10s\n", "measure", "platform", "baseline", "ratio");
  std::printf("%-34s %12.0f %12.0f %9.1f%%  (acknowledged / gRPC echo calls)\n", "year intake acked, /s", y.acked_per_s,
              r.echo_per_s, 100 * y.acked_per_s / r.echo_per_s);
  std::printf("%-34s %12.0f %12.0f %9.1f%%  (first batch -> all visible / gRPC echo; target: 10000/s)\n",
              "year end to end, assessments/s", y.end_to_end_per_s, r.echo_per_s, 100 * y.end_to_end_per_s / r.echo_per_s);
  std::printf("%-34s %12.0f %12.0f %9.1f%%  (last tenth / first tenth acknowledged; target: at least 90%%)\n",
              "year rate, last vs first tenth", y.last_tenth_per_s, y.first_tenth_per_s,
              100 * y.last_tenth_per_s / y.first_tenth_per_s);
  std::printf("%-34s %12.2f %12s %10s  (target: under 5 s)\n", "reporting restart to ready, s", y.restart_to_ready_s,
              "-", "-");
  std::printf("%-34s %12.2f %12s %10s  (target: under 10 ms)\n", "GetCaseload p99, ms", y.caseload_ms.p99, "-", "-");
  for (const auto& [name, rss] : y.rss) {
    std::printf("%-34s %12.0f %12s %10s  (target: under 1024 MiB)\n", absl::StrCat(name, " RSS, MiB").c_str(),
                rss / 1048576.0, "-", "-");
  }
}

}  // namespace
}  // namespace pbr::bench

int main(int argc, char** argv) {
  using namespace pbr::bench;
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) return FlagsExit(kProgram, flags.status());
  Flags& f = *flags;
  if (int exit_code = StartRun(kProgram, "/tmp/pbr-bench-XXXXXX", &f.work_dir); exit_code != 0) return exit_code;
  std::printf("params: --clients=%d --assessments=%d --teams=%d --rate=%d --latency-seconds=%d "
              "--latency-workers=%d --poll-ms=%d --reflect-timeout=%d --partitions=%d\n",
              f.clients, f.assessments, f.teams, f.rate, f.latency_seconds, f.latency_workers, f.poll_ms,
              f.reflect_timeout, f.partitions);
  std::fflush(stdout);

  // Ctrl-C, SIGTERM or SIGHUP mid-run: stop the platform's processes before leaving.
  OwnedProcesses owned(kProgram, "the platform");
  owned.StopOnSignals();

  Results results;
  // Every process stops, whatever happened in the run.
  if (absl::Status status = owned.StopAfter(RunBench(f, owned, results)); !status.ok()) {
    return Failed(kProgram, status, "service logs", f.work_dir);
  }
  if (f.year_people > 0) {
    Stage(absl::StrCat("the national year: pbr-loadgen's year for ", f.year_people,
                       " people through RecordIntake, on a platform of its own")
              .c_str());
    if (absl::Status status = owned.StopAfter(RunNationalYear(f, owned, results.year)); !status.ok()) {
      return Failed(kProgram, status, "service logs", f.work_dir);
    }
  }
  PrintTable(f, results);
  if (!f.keep_work_dir) std::filesystem::remove_all(f.work_dir);
  return 0;
}
