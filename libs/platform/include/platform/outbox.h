#pragma once
// The transactional outbox: a service stages outgoing events in the same WriteBatch as the state
// change that caused them, and a relay thread publishes them with the idempotent producer and
// deletes each entry only on its delivery report. A crash at any point re-sends at worst an
// event that was already delivered; its deterministic event id lets consumers drop the copy.
//
// An event the broker refuses for good (too large, invalid) is never retried for ever in silence:
// it is moved to the `outbox_undeliverable` family, logged as an error naming it, counted in a
// metric and reported by undeliverable() (the service's health then says NOT_SERVING for
// "outbox"). Intake bounds every field so this cannot happen by construction.
//
// With flow control (KafkaSettings::flow_control_groups, flow_control.h) the relay never runs
// further ahead of the listed consumer groups than the broker keeps: when the next entry would take
// a partition of its topic over the bound, the pass stops there (every topic, so no person's later
// event overtakes an earlier one held back) and the entries wait, stored, until the groups' committed
// offsets have moved on; held_back() and the pbr_outbox_held_back gauge say so meanwhile.
//
// A service that is a system of record keeps a journal of every event it ever staged, so the
// whole history can be re-published to a new broker (RepublishJournal).
#include <atomic>
#include <condition_variable>
#include <map>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pbr/v1/events.pb.h"
#include "platform/flow_control.h"
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

  // From now on every staged event is also kept in the store's journal family (which the store
  // must have been opened with). Call before anything is staged.
  void KeepJournal() { keep_journal_ = true; }
  // Stages every journalled event again, in the order first staged (so per person in order, with
  // the same event ids), for a broker that lacks them. `progress` is told how many so far.
  // Returns how many were staged. Call before Start.
  absl::StatusOr<int64_t> RepublishJournal(const std::function<void(int64_t done, int64_t total)>& progress);

  // Adds `event` to `batch` for publication on topic `topic_name` (without the environment prefix),
  // keyed by the event's person id. Nothing is sent until the batch is written and Wake() is called.
  void Stage(rocksdb::WriteBatchBase& batch, absl::string_view topic_name, const pbr::v1::EventEnvelope& event);
  // The same for a raw message (the dead-letter path keeps the original bytes).
  void StageRaw(rocksdb::WriteBatchBase& batch, absl::string_view topic_name, absl::string_view key, absl::string_view value);
  void Wake();

  absl::Status Start();
  // Stops the relay, giving in-flight messages up to `deadline` to be acknowledged.
  // Whatever is not acknowledged stays stored and is sent after the next start.
  void Stop(absl::Duration deadline);

  // Entries stored and not yet acknowledged, as of the relay's last pass.
  int64_t depth() const { return depth_.load(); }
  // Events the broker refused for good, kept aside for an operator (see above).
  int64_t undeliverable() const { return undeliverable_.load(); }
  // True while flow control holds entries back because a listed consumer group is too far behind
  // (or its committed offsets cannot be read).
  bool held_back() const { return held_back_.load(); }
  // Blocks until the relay has seen an empty outbox, or the deadline passes; true if empty.
  bool WaitUntilEmpty(absl::Duration deadline);

 private:
  Outbox(Store& store, KafkaSettings settings, Metrics* metrics);
  absl::Status CreateProducer();
  void Run();
  // Wakes the relay for another pass without anything newly staged (flow control read the offsets).
  void Nudge();
  // Records whether the last pass was held back, logging a change.
  void NoteHeldBack(bool held, const std::string& why);
  // Sends what is stored and not in flight. A full pass reads the whole family; a quick pass
  // starts where unsent entries can still be, so it does not wade through the tombstones of
  // everything already delivered.
  void RelayPass(bool full);
  uint64_t QuickPassStart();
  // Deletes the entries the broker acknowledged since the last call; false when there were none.
  bool ForgetDelivered();
  // Moves a refused entry out of the outbox so it neither blocks nor loops.
  bool SetAside(uint64_t seq, absl::string_view topic, absl::string_view entry, absl::string_view why);
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
  bool nudged_ = false;  // by flow control's reading of the offsets, not by newly staged events
  bool stopping_ = false;
  std::condition_variable empty_cv_;

  std::unique_ptr<FlowControl> flow_;
  std::atomic<bool> held_back_{false};
  std::atomic<bool> waits_for_flow_{false};  // a pass stopped for flow control: re-run it on the next read

  // Owned by the relay thread.
  // The first entry a pass left unsent (held back, or the producer's queue was full): where the
  // next quick pass starts at the latest, so no later entry goes before it.
  uint64_t resume_from_ = UINT64_MAX;
  std::string held_for_;  // why the relay holds back, as last logged
  std::set<uint64_t> in_flight_;
  std::vector<uint64_t> delivered_;
  struct Refused {
    uint64_t seq;
    std::string topic;
    std::string why;
  };
  std::vector<Refused> refused_;  // by the broker in a delivery report
  bool delivery_failed_ = false;
  std::atomic<int64_t> depth_{0};
  std::atomic<int64_t> undeliverable_{0};
  bool keep_journal_ = false;
};

// Broker errors that no retry can cure for this message.
bool IsPermanentProduceError(rd_kafka_resp_err_t err);

}  // namespace pbr::platform
