#pragma once
// Flow control of the outbox relay: consumer lag as back-pressure. The broker deletes the oldest
// data of a partition beyond its retention (the embedded broker beyond 5 MiB or 100,000 message
// sets), and a consumer whose next offset is gone stops with DATA_LOSS; so a producer must never run
// further ahead of the slowest consumer than the broker keeps. Holding an event back loses nothing:
// it stays in the outbox, in the store.
//
// What lies ahead of a consumer on a partition is measured from the committed offsets of the groups
// in `flow-control-groups` (consumers commit what they applied, advisory only, see consumer.h) to the
// partition's high watermark: the bytes of what this relay had delivered there (from its delivery
// reports), anything older it did not record (produced before this process started, or by another
// producer) estimated at the largest message it has seen, and everything still in flight counted
// against every partition of its topic (the partition is known only on delivery). An event is sent
// only if no partition of its topic would then go over `flow-control-max-lag-bytes` or
// `-messages`, except onto a partition with nothing ahead and nothing in flight (one event always fits).
//
// A group with no committed offset on any partition of a topic does not read it (the dead-letter and
// audit topics are read outside the platform) and is ignored for that topic; a group that reads it
// and has no offset on a partition stands at 0 there. Committed offsets that cannot be read (the
// broker is unreachable) hold everything back: never guessed optimistically.
//
// The offsets are read by a thread of its own every kReadInterval (every call with a deadline), so
// the relay never blocks on them; the rest is the relay thread's alone.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "platform/kafka.h"

namespace pbr::platform {

class FlowControl {
 public:
  static constexpr absl::Duration kReadInterval = absl::Milliseconds(150);
  // What one record costs beyond its key and value (headers, varints, its share of a batch).
  static constexpr int64_t kRecordOverhead = 64;
  static int64_t RecordBytes(size_t key_len, size_t value_len) {
    return static_cast<int64_t>(key_len + value_len) + kRecordOverhead;
  }

  // `on_read` is called (from the reading thread) after each read of the offsets.
  FlowControl(KafkaSettings settings, std::function<void()> on_read);
  ~FlowControl();
  bool enabled() const { return !settings_.flow_control_groups.empty(); }
  // Connects one client per group (no group is joined) and starts reading. Nothing when disabled.
  absl::Status Start();
  void Stop();

  // Relay thread. Whether an event of `bytes` (RecordBytes) for `topic` may be sent now; when not,
  // `why` says which partition and group hold it back, or is empty for a moment's wait (the first
  // read of the offsets for a topic not sent to before).
  bool MaySend(const std::string& topic, int64_t bytes, std::string& why);
  void Sent(const std::string& topic, int64_t bytes);
  void Delivered(const std::string& topic, int32_t partition, int64_t offset, int64_t bytes);
  void NotDelivered(const std::string& topic, int64_t bytes);  // failed or purged: sent again later
  void ForgetInFlight();                                         // the producer was replaced

 private:
  // What one read of the offsets found, per topic.
  struct PartitionMark {
    int64_t high = 0;            // the high watermark
    int64_t slowest = 0;         // the slowest reading group's committed offset
    std::string slowest_group;
  };
  struct TopicMarks {
    std::vector<PartitionMark> partitions;
    bool read = false;  // some listed group reads this topic
  };
  void ReadLoop();
  absl::Status ReadOffsets(std::map<std::string, TopicMarks>& out);
  absl::Status PartitionCounts(const std::set<std::string>& topics);

  const KafkaSettings settings_;
  const std::function<void()> on_read_;
  std::vector<KafkaHandle> groups_;  // one consumer client per group, never subscribed (reading thread)
  std::map<std::string, int> partition_counts_;  // reading thread
  absl::Time counts_read_at_ = absl::InfinitePast();
  std::thread reader_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool read_now_ = false;
  std::set<std::string> topics_;  // what the relay produces to
  std::map<std::string, TopicMarks> marks_;
  int64_t generation_ = 0;        // of marks_: bumped by every successful read
  absl::Status read_status_;  // of the last read (before the first, marks_ has no topic: a moment's wait)
  absl::Time warned_at_ = absl::InfinitePast();

  // Relay thread.
  struct Record {
    int64_t offset;
    int64_t bytes;
  };
  struct PartitionRecords {
    std::deque<Record> records;  // what this relay delivered at or past the slowest group, by offset
    int64_t bytes = 0;           // their sum
  };
  struct InFlight {
    int64_t messages = 0;
    int64_t bytes = 0;
  };
  std::map<std::string, std::vector<PartitionRecords>> delivered_;
  std::map<std::string, InFlight> in_flight_;
  int64_t largest_ = 0;  // the largest record seen
  int64_t pruned_generation_ = -1;
};

}  // namespace pbr::platform
