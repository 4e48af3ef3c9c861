#pragma once
// The transactional outbox: a service stages outgoing events in the same WriteBatch as the state
// change that caused them, and a relay thread publishes them with the idempotent producer and
// deletes each entry only on its delivery report. A crash at any point re-sends at worst an
// event that was already delivered; its deterministic event id lets consumers drop the copy.
#include <atomic>
#include <condition_variable>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pbr/v1/events.pb.h"
#include "platform/kafka.h"
#include "platform/metrics.h"
#include "platform/store.h"

namespace pbr::platform {

// An event stored in the outbox and not yet acknowledged by the broker.
struct PendingEvent {
  uint64_t sequence = 0;
  std::string topic;  // full topic name, with the environment prefix
  std::string key;
  std::string value;
};

class Outbox {
 public:
  // Everything waiting in a store's outbox, oldest first (for tools and tests).
  static absl::StatusOr<std::vector<PendingEvent>> ReadPending(const Store& store);

  static absl::StatusOr<std::unique_ptr<Outbox>> Open(Store& store, KafkaSettings settings, Metrics* metrics);
  ~Outbox();

  // Adds `event` to `batch` for publication on topic `topic_name` (without the environment prefix),
  // keyed by the event's person id. Nothing is sent until the batch is written and Wake() is called.
  void Stage(rocksdb::WriteBatch& batch, absl::string_view topic_name, const pbr::v1::EventEnvelope& event);
  // The same for a raw message (the dead-letter path keeps the original bytes).
  void StageRaw(rocksdb::WriteBatch& batch, absl::string_view topic_name, absl::string_view key, absl::string_view value);
  void Wake();

  absl::Status Start();
  // Stops the relay, giving in-flight messages up to `deadline` to be acknowledged.
  // Whatever is not acknowledged stays stored and is sent after the next start.
  void Stop(absl::Duration deadline);

  // Entries stored and not yet acknowledged, as of the relay's last pass.
  int64_t depth() const { return depth_.load(); }
  // Blocks until the relay has seen an empty outbox, or the deadline passes; true if empty.
  bool WaitUntilEmpty(absl::Duration deadline);

 private:
  Outbox(Store& store, KafkaSettings settings, Metrics* metrics);
  absl::Status CreateProducer();
  void Run();
  // Sends what is stored and not in flight. A full pass reads the whole family; a quick pass
  // starts where unsent entries can still be, so it does not wade through the tombstones of
  // everything already delivered.
  void RelayPass(bool full);
  uint64_t QuickPassStart();
  // Deletes the entries the broker acknowledged since the last call; false when there were none.
  bool ForgetDelivered();
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);

  Store& store_;
  const KafkaSettings settings_;
  Metrics* metrics_;
  std::atomic<uint64_t> next_seq_{0};
  // Sequences staged but not yet picked up by the relay, with when they were staged. A batch is
  // written moments after staging, so anything below the lowest of these (and below what is in
  // flight) has been delivered; a batch that was dropped is forgotten after a grace period, and
  // periodic full passes catch any entry whose write took longer still.
  std::mutex staged_mu_;
  std::map<uint64_t, absl::Time> staged_unseen_;
  KafkaHandle producer_;
  std::thread relay_;

  std::mutex mu_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  bool stopping_ = false;
  std::condition_variable empty_cv_;

  // Owned by the relay thread.
  std::set<uint64_t> in_flight_;
  std::vector<uint64_t> delivered_;
  bool delivery_failed_ = false;
  std::atomic<int64_t> depth_{0};
};

}  // namespace pbr::platform
