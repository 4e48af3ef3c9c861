#pragma once
// Connection settings shared by the consumer and the outbox relay, and small RAII helpers for
// librdkafka's C API (the same library the embedded broker is built on).
#include <cstdint>
#include <memory>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "librdkafka/rdkafka.h"

namespace pbr::platform {

class Config;

struct KafkaSettings {
  std::string bootstrap;
  std::string extra;          // "key=value;key=value" passed through to librdkafka
  std::string topic_prefix;
  std::string group_id;
  absl::Duration session_timeout = absl::Seconds(6);
  absl::Duration fetch_wait_max = absl::Milliseconds(5);
  absl::Duration timeout = absl::Seconds(10);  // deadline for blocking calls and for delivery
  // Flow control of the outbox relay (see flow_control.h): the consumer groups whose committed
  // offsets this service's events must not outrun (none: off), and by how much at most on any
  // partition. The broker deletes the oldest data beyond its retention (the embedded one beyond
  // 5 MiB or 100,000 message sets per partition), so a producer that runs ahead of a consumer by
  // more than that loses events; the defaults keep well inside the embedded broker's limits.
  std::vector<std::string> flow_control_groups;
  // A group given as GROUP=TOPIC|TOPIC reads those topics (names without the prefix) and is held to
  // them from the start, before it has committed anything (it may not have joined yet while a load
  // begins). A group given by name alone counts on a topic only once it has committed an offset there.
  std::map<std::string, std::set<std::string>, std::less<>> flow_control_group_topics;
  int64_t flow_control_max_lag_bytes = 4 << 20;
  int64_t flow_control_max_lag_messages = 50000;

  static KafkaSettings FromConfig(const Config& config);
  std::string Topic(absl::string_view name) const { return topic_prefix + std::string(name); }
};

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct KafkaConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaConfDeleter>;

// A configuration with the bootstrap servers and extra properties applied.
absl::StatusOr<KafkaConf> BaseKafkaConf(const KafkaSettings& settings);
absl::Status SetKafkaProperty(rd_kafka_conf_t* conf, const std::string& key, const std::string& value);

// How many partitions `topic` (with its prefix) has, from the broker's metadata within `timeout`;
// UNAVAILABLE naming the topic when it cannot be read or has none.
absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, absl::Duration timeout);

}  // namespace pbr::platform
