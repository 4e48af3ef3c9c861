#include "send.h"

#include <algorithm>
#include <map>
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

// The withdrawal of the record a row names, with the correction's reason.
template <typename Request>
Request WithdrawalOf(const ImportRow& row) {
  Request withdraw;
  withdraw.set_source_system(row.source_system());
  withdraw.set_source_record_id(row.source_record_id());
  withdraw.set_reason(row.correction_reason);
  return withdraw;
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
    if (options_.batch_rows <= 1) {
      for (size_t i : shard) {
        if (stop_) return;
        SendRow(i);
      }
      return;
    }
    // A batch per source system (each has its own certificate), rows in file order. A person's rows
    // stay in order: a batch is applied in order, and a row whose person waits in another source's
    // batch sends that batch first.
    std::map<std::string, std::vector<size_t>> batches;  // by source system
    std::map<std::string, std::string> waiting_in;       // NHS number -> the source whose batch holds their rows
    auto flush = [&](const std::string& source) {
      std::vector<size_t>& batch = batches[source];
      if (batch.empty()) return;
      for (size_t i : batch) waiting_in.erase(rows_[i].nhs_number());
      if (!stop_) SendBatch(batch);
      batch.clear();
    };
    for (size_t i : shard) {
      if (stop_) return;
      const ImportRow& row = rows_[i];
      if (row.is_correction()) {
        // Amendments and withdrawals are single calls (the bulk path only records), after every
        // earlier row of the person.
        if (auto w = waiting_in.find(row.nhs_number()); w != waiting_in.end()) flush(std::string(w->second));
        if (!stop_) SendRow(i);
        continue;
      }
      if (auto w = waiting_in.find(row.nhs_number()); w != waiting_in.end() && w->second != row.source_system()) {
        flush(std::string(w->second));
      }
      batches[row.source_system()].push_back(i);
      waiting_in[row.nhs_number()] = row.source_system();
      if (batches[row.source_system()].size() >= static_cast<size_t>(options_.batch_rows)) flush(row.source_system());
    }
    for (auto& [source, batch] : batches) flush(source);
  }

  void SendBatch(const std::vector<size_t>& batch) {
    std::vector<const ImportRow*> rows;
    for (size_t i : batch) rows.push_back(&rows_[i]);
    absl::Duration wait = options_.backoff;
    for (int attempt = 1;; ++attempt) {
      Intake::BatchAnswer answer = intake_.SendBatch(rows);
      if (!Transient(answer.status)) {
        for (size_t k = 0; k < batch.size(); ++k) {
          // A batch refused whole (PERMISSION_DENIED, say) is each row's refusal.
          Intake::Answer row{answer.status};
          if (answer.status.ok()) {
            row = k < answer.answers.size()
                      ? answer.answers[k]
                      : Intake::Answer{grpc::Status(grpc::StatusCode::INTERNAL, "no answer for this row of the batch")};
          }
          result_.outcomes[batch[k]] = OutcomeOf(row);
          if (on_row_done_) on_row_done_();
        }
        return;
      }
      if (stop_) return;
      if (attempt >= options_.attempts) {
        Stop(answer.status);
        return;
      }
      absl::SleepFor(wait);
      wait *= 2;
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
  switch (row.action) {
    case Action::kRecord:
      break;
    case Action::kAmendAssessment: {
      pbr::v1::RecordAssessmentReply reply;
      answer.status = stub.AmendAssessment(&context, std::get<AssessmentRequest>(row.request), &reply);
      answer.duplicate = reply.duplicate();  // the same amendment again
      return answer;
    }
    case Action::kWithdrawAssessment: {
      pbr::v1::WithdrawAssessmentReply reply;
      answer.status =
          stub.WithdrawAssessment(&context, WithdrawalOf<pbr::v1::WithdrawAssessmentRequest>(row), &reply);
      return answer;
    }
    case Action::kWithdrawCareEvent: {
      pbr::v1::WithdrawCareEventReply reply;
      answer.status = stub.WithdrawCareEvent(&context, WithdrawalOf<pbr::v1::WithdrawCareEventRequest>(row), &reply);
      return answer;
    }
  }
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

Intake::BatchAnswer Intake::SendBatch(const std::vector<const ImportRow*>& rows) {
  BatchAnswer batch;
  for (const ImportRow* row : rows) {
    Answer answer = Send(*row);
    if (Transient(answer.status)) return BatchAnswer{answer.status, {}};  // sent again whole: idempotent
    batch.answers.push_back(std::move(answer));
  }
  return batch;
}

Intake::BatchAnswer GrpcIntake::SendBatch(const std::vector<const ImportRow*>& rows) {
  BatchAnswer out;
  if (rows.empty()) return out;
  auto feed = stubs_.For(rows.front()->source_system());
  if (!feed.ok()) {
    // No certificate for this source system: its rows are refused, saying so, and the rest go on.
    out.status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, std::string(feed.status().message()));
    return out;
  }
  pbr::v1::IntakeBatch batch;
  for (const ImportRow* row : rows) {
    pbr::v1::IntakeItem& item = *batch.add_items();
    if (const auto* a = std::get_if<AssessmentRequest>(&row->request)) *item.mutable_assessment() = *a;
    else *item.mutable_care_event() = std::get<CareEventRequest>(row->request);
  }
  grpc::ClientContext context;
  pbr::cli::SetTimeout(context, timeout_);
  context.AddMetadata("x-trace-id", absl::StrCat("pbr-import-batch-", rows.front()->source_record_id()));
  auto stream = (*feed)->stub->RecordIntake(&context);
  pbr::v1::IntakeBatchResult result;
  const bool sent = stream->Write(batch) && stream->WritesDone();
  const bool answered = sent && stream->Read(&result);
  out.status = stream->Finish();
  if (!out.status.ok()) return out;
  if (!answered || result.results_size() != batch.items_size()) {
    out.status = grpc::Status(grpc::StatusCode::INTERNAL,
                              absl::StrCat("allocation answered ", result.results_size(), " of ", batch.items_size(),
                                           " rows of a batch"));
    return out;
  }
  for (const pbr::v1::IntakeItemResult& r : result.results()) {
    Answer& answer = out.answers.emplace_back();
    if (r.code() != 0) {
      answer.status = grpc::Status(static_cast<grpc::StatusCode>(r.code()), r.message());
    } else {
      answer.duplicate = r.has_assessment() ? r.assessment().duplicate() : r.care_event().duplicate();
    }
  }
  return out;
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
