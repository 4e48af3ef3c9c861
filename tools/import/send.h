// Sending parsed rows to the allocation intake: bounded concurrency, one person's rows in file order,
// retries of transient failures, and an early stop when the service cannot be reached.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "rows.h"
#include "rpc.h"

namespace pbr::import {

// One call to the intake for one row; the seam the tests replace with a fake.
class Intake {
 public:
  struct Answer {
    grpc::Status status;
    bool duplicate = false;  // the reply's duplicate flag: recorded before, nothing changed
  };
  // What a batch came to: `status` not OK when the batch failed as a whole (nothing of it is
  // recorded: send it again, or it is every row's refusal); else one answer per row, in order.
  struct BatchAnswer {
    grpc::Status status;
    std::vector<Answer> answers;
  };
  virtual ~Intake() = default;
  virtual Answer Send(const ImportRow& row) = 0;  // called from several threads at once
  // Rows of one source system, in file order, as one call. By default one Send per row, stopping at
  // the first that did not reach the service (its status is the batch's).
  virtual BatchAnswer SendBatch(const std::vector<const ImportRow*>& rows);
};

// RecordAssessment or RecordCareEvent on the allocation service, each with its own deadline, as
// the feed of the row's source system (pbr::cli::FeedStubs).
class GrpcIntake : public Intake {
 public:
  GrpcIntake(const std::string& address, absl::Duration timeout) : stubs_(address), timeout_(timeout) {}
  Answer Send(const ImportRow& row) override;
  // Allocation.RecordIntake: the rows as one batch, recorded in one durable write.
  BatchAnswer SendBatch(const std::vector<const ImportRow*>& rows) override;
  // Connects before any row is sent, so nothing listening fails once rather than once per row.
  grpc::Status Connect(const std::string& source_system, absl::Duration timeout);

 private:
  pbr::cli::FeedStubs stubs_;
  absl::Duration timeout_;
};

// Row indices per worker. Every row of one NHS number lands in the same shard, in file order, so a
// person's history reaches the service in the order the file gives it whatever the concurrency.
std::vector<std::vector<size_t>> ShardByPerson(const std::vector<ImportRow>& rows, size_t shards);

struct SendOptions {
  int concurrency = 8;
  // Rows per call: more than 1 sends each worker's rows in batches (consecutive rows of one source
  // system, so one certificate); 1 is one call per row, as an EPR interface makes them.
  int batch_rows = 1;
  int attempts = 3;  // per row, for UNAVAILABLE, DEADLINE_EXCEEDED and CANCELLED (a server shutting down)
  absl::Duration backoff = absl::Milliseconds(500);  // before the 2nd attempt; doubles after
};

struct RowOutcome {
  enum class State { kNotSent, kAccepted, kDuplicate, kRejected };
  State state = State::kNotSent;
  std::string code;    // kRejected: the gRPC status name, e.g. "INVALID_ARGUMENT"
  std::string reason;  // kRejected: the service's message
};

struct SendResult {
  std::vector<RowOutcome> outcomes;  // one per row, same order
  // Sending stopped early because a row failed with UNAVAILABLE or DEADLINE_EXCEEDED on every attempt;
  // the rows after it were not sent (every later call would fail the same way).
  bool stopped_early = false;
  grpc::Status stop_status;  // the last failure of that row
  size_t not_sent() const;
};

// Sends every row. `on_row_done` is called once per answered row (from the workers) for progress.
// Retrying is safe because the intake is idempotent on (source_system, source_record_id).
SendResult SendAll(const std::vector<ImportRow>& rows, Intake& intake, const SendOptions& options,
                   const std::function<void()>& on_row_done);

}  // namespace pbr::import
