#pragma once
// The effectively-once consumer. Each message is applied in one RocksDB WriteBatch holding the
// handler's state change, the partition's next offset and any outgoing events (staged in the
// outbox). On partition assignment it seeks to the offsets stored in RocksDB, never to Kafka's
// committed offsets, so state and position can never disagree. Event ids already applied are
// skipped, because a re-sent outbox entry carries the same id.
//
// A handler returns OK to apply, InvalidArgument to send the message to the dead-letter topic with
// its reason, and any other error to stop the consumer (the service then exits non-zero, and a
// restart resumes from the last applied message). A stored offset the broker no longer has, or a
// log under the stored offset that is not the one consumed (a replaced or reset broker: checked by
// the cluster id and by re-reading the last applied message), is a DATA_LOSS error naming the topic
// and partition: silently resetting or skipping would lose or double events.
//
// When the store cannot write (a full disk), the consumer pauses at the message it could not
// apply, commits nothing, and resumes by itself once the store writes again.
//
// Several replicas of a service may share the group (each with its own store): the group assigns
// partitions by range, so every subscribed topic's partition N goes to the same replica, and each
// replica applies and answers for its partitions only (Share). A partition that moves resumes from
// what the new owner's store applied there (from the log's start if nothing): state and position
// still come from one store, so a moved partition is neither skipped nor applied twice.
//
// It also commits to Kafka where it stands, for producers' flow control (flow_control.h) and for
// operators (kafka-consumer-groups --describe): asynchronously, after each run of messages is
// written, and for every assigned partition on assignment (what it stored, or the log's start), so
// a group that has started shows an offset on every partition it reads. Advisory only: the store
// stays the truth and is what an assignment resumes from; a failed commit is only logged.
#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "pbr/state/v1/state.pb.h"
#include "pbr/v1/events.pb.h"
#include "platform/clock.h"
#include "platform/kafka.h"
#include "platform/metrics.h"
#include "platform/outbox.h"
#include "platform/pending_writes.h"
#include "platform/store.h"

namespace pbr::platform {

struct ConsumedEvent {
  absl::string_view topic_name;  // without the environment prefix
  int32_t partition = 0;
  int64_t offset = 0;
  const pbr::v1::EventEnvelope& event;
};

// Checks an event's payload against the platform's shared contract rules before any handler sees
// it, so every service accepts or refuses the same events for the same reason. A non-OK result
// dead-letters the message with the status message as the reason.
using EventValidator = std::function<absl::Status(absl::string_view topic_name, const pbr::v1::EventEnvelope&)>;

// What a handler may use while applying one event.
class ApplyContext {
 public:
  // With a validator, every event emitted is checked by the same shared rules the consumers apply,
  // so a service never publishes what its consumers would dead-letter.
  // `store` is what the handler reads: the Store, or (in the consumer) the Store through the pending
  // writes of the run, the messages before this one included. Whether a read sees what this same
  // message has already staged depends on the path, so a handler reads a key before it writes it;
  // and it never writes from inside a Scan's callback (that would invalidate the scan).
  ApplyContext(const StoreReader& store, Outbox& outbox, rocksdb::WriteBatchBase& batch, absl::Time now,
               const EventValidator* validator = nullptr)
      : store_(store), outbox_(outbox), batch_(batch), now_(now), validator_(validator) {}
  const StoreReader& store() const { return store_; }
  rocksdb::WriteBatchBase& batch() { return batch_; }
  absl::Time now() const { return now_; }
  // Stages an outgoing event in this message's batch. One the shared rules refuse is not staged;
  // the first such problem is kept in emit_problem() and the consumer then applies nothing.
  void Emit(absl::string_view topic_name, const pbr::v1::EventEnvelope& event) {
    Emit(topic_name, event, event.person_id());
  }
  // The same, keyed by `key` instead of the person (tariff lines keep each commissioner's order).
  void Emit(absl::string_view topic_name, const pbr::v1::EventEnvelope& event, absl::string_view key) {
    if (validator_ != nullptr && *validator_) {
      if (auto st = (*validator_)(topic_name, event); !st.ok()) {
        if (emit_problem_.ok()) {
          emit_problem_ = absl::InvalidArgumentError(
              absl::StrCat("would publish an invalid ", topic_name, " event: ", st.message()));
        }
        return;
      }
    }
    outbox_.StageRaw(batch_, topic_name, key, event.SerializeAsString());
    ++emitted_;
  }
  int emitted() const { return emitted_; }
  const absl::Status& emit_problem() const { return emit_problem_; }

 private:
  const StoreReader& store_;
  Outbox& outbox_;
  rocksdb::WriteBatchBase& batch_;
  absl::Time now_;
  const EventValidator* validator_;
  int emitted_ = 0;
  absl::Status emit_problem_;
};

// What a consumer's store answers for in its group: the partition numbers last assigned (and kept
// until the group assigns again, across a restart too) and how far each topic's partition there
// is applied.
struct ConsumedShare {
  std::optional<std::set<int32_t>> partitions;  // nullopt: never assigned; answers for all it holds
  struct Applied {
    std::string topic;  // unprefixed
    int32_t partition = 0;
    int64_t next_offset = 0;
  };
  std::vector<Applied> applied;  // of those partitions, by topic then partition
  bool Answers(int32_t partition) const { return !partitions.has_value() || partitions->contains(partition); }
};

// Reading a share as the contracts carry it: the partitions answered for (nullopt: never assigned,
// so everything stored), and whether one of them is.
std::optional<std::set<int32_t>> AnsweredPartitions(const pbr::v1::ConsumedShare& share);
bool Answers(const pbr::v1::ConsumedShare& share, int32_t partition);

// Where a consumer keeps its last assignment (pbr.state.v1.AssignedPartitions), in kOffsetsFamily
// beside the "<topic>/<partition>" positions.
inline constexpr absl::string_view kAssignedPartitionsKey = "assigned-partitions";

using EventHandler = std::function<absl::Status(const ConsumedEvent&, ApplyContext&)>;

struct NamedHandler {
  std::string name;  // a projection's, prefixing a rejection's reason
  EventHandler handle;
};

// What applying one event came to.
struct AppliedEvent {
  bool duplicate = false;  // its id was applied before: nothing done
  bool staged = false;     // a handler staged outgoing events
  std::string rejected;    // non-empty: refused (INVALID_ARGUMENT), nothing of it kept; why
};

// Applies one checked event to a topic's handlers into `pending`, as the consumer does for every
// message: skipped when its id was applied already (in the store or earlier in the run), else each
// handler in order, reading through `pending`, and its id remembered until `remember_until`. A
// handler's INVALID_ARGUMENT (or an event the shared rules refuse to let it publish) leaves nothing
// of the event; any other error is returned, and nothing of the event is kept either.
absl::StatusOr<AppliedEvent> ApplyEvent(PendingWrites& pending, Outbox& outbox, const std::vector<NamedHandler>& handlers,
                                        const ConsumedEvent& consumed, absl::Time now, const EventValidator* validator,
                                        absl::Time remember_until);

class Consumer {
 public:
  // A backlog (after a restart, a bulk load) is applied a run of messages per write, each key the
  // run changed written once; a run ends at whatever the client has not fetched yet, or here.
  static constexpr size_t kMaxRunMessages = 512;
  static constexpr size_t kMaxRunBytes = 8 << 20;

  Consumer(Store& store, Outbox& outbox, KafkaSettings settings, Metrics* metrics, const Clock& clock);
  ~Consumer();

  // Adds a handler for one topic (name without prefix). Call before Start. A topic may have several
  // (one per projection): each message goes to all of them, in the order they were added, and
  // their changes are written in one batch; an INVALID_ARGUMENT from any of them dead-letters the
  // message and nothing of it is kept. `name` (a projection's) prefixes a rejection's reason.
  void On(absl::string_view topic_name, EventHandler handler, std::string name = "");
  // The shared payload rules; required before Start when any topic is subscribed (Start refuses
  // otherwise).
  void ValidateWith(EventValidator validator) { validator_ = std::move(validator); }
  // How long applied event ids are remembered for de-duplication (see kSeenFamily).
  void SetDedupRetention(absl::Duration retention) { dedup_retention_ = retention; }

  // Runs `task` every `interval` on the consumer's own thread, between messages, so it never races
  // a handler; what it writes into the context's batch is stored (with its events) in one write.
  // A non-OK result stops the consumer like a handler's storage error. Call before Start.
  // After a start, tasks first wait until every partition of the subscribed topics has been read to
  // its end (at most `catch_up_limit`), so a timer never judges a backlog it has not read yet: the
  // facts recorded while the service was down come first, then what time alone changed.
  void Every(absl::Duration interval, std::function<absl::Status(ApplyContext&)> task);

  // Joins the group and starts applying messages on a thread of its own. `on_fatal` is called
  // once, from that thread, if the consumer has to stop.
  absl::Status Start(std::function<void(const absl::Status&)> on_fatal);
  // Leaves the group and stops. Messages not yet applied are applied by the next start.
  void Stop();

  // Messages fully handled (applied, skipped as duplicate, or dead-lettered) since start.
  int64_t handled() const { return handled_.load(); }
  // Store writes those messages took (a run of messages is one).
  int64_t writes() const { return writes_.load(); }
  // True while paused because the store cannot write.
  bool paused() const { return paused_.load(); }

  // Where the consumer stands, for a page that must show when its figures are behind. Any thread.
  struct Progress {
    bool caught_up = false;        // every subscribed partition read to its end since start
    std::optional<int64_t> lag;    // messages on the broker not yet applied (all partitions); none before measured
    absl::Time lag_measured_at = absl::InfinitePast();
    absl::Time last_write_at = absl::InfinitePast();  // the last run of messages written; InfinitePast: none yet
    int64_t handled = 0;
    bool paused = false;
  };
  Progress progress() const;

  // What this consumer answers for (any thread): the assignment as of the last rebalance (or as
  // stored, before the first one) and the applied positions read from the store.
  absl::StatusOr<ConsumedShare> Share() const;

 private:
  void Run();
  void LeaveGroup();  // the consumer loop's last step, bounded by the Kafka timeout
  // Applies `first` and whatever else is already fetched (a run, bounded by kMaxRunMessages and
  // kMaxRunBytes) into one batch, and writes it. Nothing of a run is written unless all of it is.
  absl::Status ApplyRun(const rd_kafka_message_t* first);
  // Applies one message into the run's pending writes (or skips it: applied already).
  absl::Status Stage(const rd_kafka_message_t* msg);
  // Writes the run; on a refusal nothing is written and the run stays pending.
  absl::Status WriteRun();
  // Forgets a run that was not written, and where it had moved the partitions.
  void DropRun();
  // A message carrying an error: a partition read to its end, or ErrorOf.
  absl::Status NoteError(const rd_kafka_message_t* msg);
  // Checks, once per assignment, that the first message read from a partition is the one last
  // applied there; true when `msg` was that message (already applied: not handled again).
  absl::StatusOr<bool> VerifyResumePoint(const rd_kafka_message_t* msg);
  // The partition's first and next offsets on the broker (a few tries within the timeout).
  absl::Status LogExtent(rd_kafka_t* rk, const std::string& topic, int32_t partition, int64_t& low, int64_t& high) const;
  // DATA_LOSS unless a partition nothing was applied from still starts at offset 0.
  absl::Status CheckWholeLog(rd_kafka_t* rk, const std::string& topic, int32_t partition);
  absl::Status CheckResumable(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                              const pbr::state::v1::ConsumedPosition& stored, const std::string& cluster_id);
  // Holds the consumer at the first message of the run it could not write (each partition's),
  // dropping the run, until the store writes again or the consumer stops.
  absl::Status PauseUntilWritable();
  absl::Status SeekTo(const char* topic, int32_t partition, int64_t offset);
  // What a message carrying an error means: OK to carry on, or why to stop.
  absl::Status ErrorOf(const rd_kafka_message_t* msg);
  absl::Status DeadLetter(const rd_kafka_message_t* msg, absl::string_view topic_name, const std::string& reason,
                          rocksdb::WriteBatchBase& batch);
  void UpdateLag();
  // Commits (asynchronously) the next offset of each partition the run just written moved.
  void CommitRun();
  // Commits the positions in `offsets` to Kafka, asynchronously.
  void Commit(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* offsets);
  static void OnCommitted(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                          void* opaque);
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                          void* opaque);
  std::string OffsetKey(absl::string_view topic, int32_t partition) const;
  // Keeps a new assignment's partition numbers for Share (and, in the store, for a restart).
  void NoteAssignment(const rd_kafka_topic_partition_list_t* parts);

  Store& store_;
  Outbox& outbox_;
  const KafkaSettings settings_;
  Metrics* metrics_;
  const Clock& clock_;
  absl::Status RunDueTasks();
  // Whether periodic tasks may run: every subscribed partition read to its end since start.
  bool CaughtUp();

  std::map<std::string, std::vector<NamedHandler>, std::less<>> handlers_;  // by unprefixed topic name
  EventValidator validator_;
  absl::Duration dedup_retention_ = absl::Hours(24 * 30);
  struct ResumePoint {
    int64_t offset;
    std::string digest;
  };
  std::map<std::string, ResumePoint, std::less<>> resume_points_;  // by offset key; consumer thread only
  // The offset each partition must deliver next (consumer thread only): a lower one was applied
  // already, a higher one would skip messages.
  std::map<std::string, int64_t, std::less<>> next_offsets_;
  std::string cluster_id_;  // of the broker the current assignment came from
  // The run being applied (consumer thread only).
  struct RunMessage {
    std::string topic_name;
    bool staged = false;           // it staged outgoing events
    std::string dead_letter_kind;  // dead-lettered: the reason's first word; else applied or a duplicate
  };
  struct RunStart {
    std::string topic;  // with the prefix
    int32_t partition = 0;
    int64_t offset = 0;
  };
  std::unique_ptr<PendingWrites> pending_;
  std::vector<RunMessage> run_;
  std::map<std::string, RunStart, std::less<>> run_first_offsets_;  // by offset key: where each partition's part starts
  std::map<std::string, int64_t, std::less<>> run_offsets_before_;  // next_offsets_ before the run
  std::vector<std::string> run_read_to_end_;  // partitions whose end the run reached
  std::atomic<bool> paused_{false};
  struct Task {
    absl::Duration interval;
    std::function<absl::Status(ApplyContext&)> run;
    absl::Time next = absl::InfinitePast();
  };
  std::vector<Task> tasks_;
  std::set<std::string> read_to_end_;   // offset keys of partitions that reported their end
  int subscribed_partitions_ = 0;       // of the subscribed topics, from the broker's metadata
  bool caught_up_ = false;
  absl::Time started_at_ = absl::InfinitePast();
  absl::Time next_metadata_query_ = absl::InfinitePast();
  absl::Duration catch_up_limit_ = absl::Minutes(5);
  KafkaHandle consumer_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool closed_ = false;  // LeaveGroup ran (set by the loop, read after it is joined)
  std::atomic<int64_t> handled_{0};
  std::atomic<bool> caught_up_seen_{false};
  std::atomic<int64_t> lag_total_{-1};             // -1: not measured yet
  std::atomic<int64_t> lag_measured_unix_ns_{0};
  std::atomic<int64_t> last_write_unix_ns_{0};     // 0: nothing written since start
  std::atomic<int64_t> writes_{0};
  std::function<void(const absl::Status&)> on_fatal_;
  absl::Status rebalance_error_;
  // The partition numbers last assigned; read by Share from any thread.
  mutable std::mutex assigned_mu_;
  std::optional<std::set<int32_t>> assigned_;  // guarded by assigned_mu_; empty between revoke and assign
  absl::Status load_error_;  // reading the stored assignment at construction
  absl::Time commit_warned_at_ = absl::InfinitePast();  // consumer thread
};

}  // namespace pbr::platform
