#include "send.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rpc.h"

namespace pbr::import {
namespace {

// The service did not answer: worth retrying, and if it persists nothing else will get through either.
// CANCELLED is here too because the import never cancels a call itself: it is a server shutting down
// mid-call, and the row's fate is unknown until it is sent again.
bool Transient(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         status.error_code() == grpc::StatusCode::CANCELLED;
}

RowOutcome OutcomeOf(const Intake::Answer& answer) {
  RowOutcome outcome;
  if (answer.status.ok()) {
    outcome.state = answer.duplicate ? RowOutcome::State::kDuplicate : RowOutcome::State::kAccepted;
  } else {
    // UNIMPLEMENTED (a service without RecordCareEvent yet) is a refusal like any other.
    outcome.state = RowOutcome::State::kRejected;
    outcome.code = std::string(pbr::cli::StatusCodeName(answer.status.error_code()));
    outcome.reason = answer.status.error_message();
  }
  return outcome;
}

// The workers' shared state. Each row's outcome is written by the one worker that owns its shard, so
// the outcomes need no lock; only the early stop is shared.
class Sender {
 public:
  Sender(const std::vector<ImportRow>& rows, Intake& intake, const SendOptions& options,
         const std::function<void()>& on_row_done)
      : rows_(rows), intake_(intake), options_(options), on_row_done_(on_row_done) {
    result_.outcomes.resize(rows.size());
  }

  SendResult Run() {
    // Kept alive until the workers are joined: each reads its own shard.
    const auto shards = ShardByPerson(rows_, static_cast<size_t>(std::max(options_.concurrency, 1)));
    std::vector<std::thread> workers;
    for (const auto& shard : shards) {
      if (!shard.empty()) workers.emplace_back([this, &shard] { RunShard(shard); });
    }
    for (auto& w : workers) w.join();
    return std::move(result_);
  }

 private:
  void RunShard(const std::vector<size_t>& shard) {
    for (size_t i : shard) {
      if (stop_) return;
      SendRow(i);
    }
  }

  void SendRow(size_t i) {
    absl::Duration wait = options_.backoff;
    for (int attempt = 1;; ++attempt) {
      Intake::Answer answer = intake_.Send(rows_[i]);
      if (!Transient(answer.status)) {
        result_.outcomes[i] = OutcomeOf(answer);
        if (on_row_done_) on_row_done_();
        return;
      }
      if (stop_) return;  // another worker already gave up; this row stays "not sent"
      if (attempt >= options_.attempts) {
        Stop(answer.status);
        return;
      }
      absl::SleepFor(wait);
      wait *= 2;
    }
  }

  void Stop(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_.exchange(true)) return;
    result_.stopped_early = true;
    result_.stop_status = status;
  }

  const std::vector<ImportRow>& rows_;
  Intake& intake_;
  const SendOptions& options_;
  const std::function<void()>& on_row_done_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  SendResult result_;
};

}  // namespace

grpc::Status GrpcIntake::Connect(const std::string& source_system, absl::Duration timeout) {
  auto feed = stubs_.For(source_system);
  if (!feed.ok()) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, std::string(feed.status().message()));
  if ((*feed)->channel->WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat("no connection within ", absl::FormatDuration(timeout)));
}

Intake::Answer GrpcIntake::Send(const ImportRow& row) {
  Answer answer;
  auto feed = stubs_.For(row.source_system());
  if (!feed.ok()) {
    // No certificate for this source system: the row is refused, saying so, and the rest go on.
    answer.status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, std::string(feed.status().message()));
    return answer;
  }
  pbr::v1::Allocation::Stub& stub = *(*feed)->stub;
  grpc::ClientContext context;
  pbr::cli::SetTimeout(context, timeout_);
  // The trace id lets the service's logs be matched to the import row.
  context.AddMetadata("x-trace-id", absl::StrCat("pbr-import-", row.source_record_id()));
  if (const auto* a = std::get_if<AssessmentRequest>(&row.request)) {
    pbr::v1::RecordAssessmentReply reply;
    answer.status = stub.RecordAssessment(&context, *a, &reply);
    answer.duplicate = reply.duplicate();
  } else {
    pbr::v1::RecordCareEventReply reply;
    answer.status = stub.RecordCareEvent(&context, std::get<CareEventRequest>(row.request), &reply);
    answer.duplicate = reply.duplicate();
  }
  return answer;
}

std::vector<std::vector<size_t>> ShardByPerson(const std::vector<ImportRow>& rows, size_t shards) {
  shards = std::max<size_t>(shards, 1);
  std::vector<std::vector<size_t>> out(shards);
  const std::hash<std::string> hash;
  for (size_t i = 0; i < rows.size(); ++i) out[hash(rows[i].nhs_number()) % shards].push_back(i);
  return out;
}

size_t SendResult::not_sent() const {
  size_t n = 0;
  for (const RowOutcome& o : outcomes) n += o.state == RowOutcome::State::kNotSent;
  return n;
}

SendResult SendAll(const std::vector<ImportRow>& rows, Intake& intake, const SendOptions& options,
                   const std::function<void()>& on_row_done) {
  return Sender(rows, intake, options, on_row_done).Run();
}

}  // namespace pbr::import
