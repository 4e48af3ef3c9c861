#pragma once
// Creating the platform's topics on a real Kafka cluster through the Admin API (the embedded
// broker creates them itself: its mock cannot serve CreateTopics).
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/kafka.h"

namespace pbr::platform {

struct TopicSpec {
  std::string name;  // with the environment prefix
  int partitions = 0;
  int replication_factor = 0;
  std::map<std::string, std::string> configs;
};

// Every platform topic. Consumers keep offsets in RocksDB and never reset, and a lost state is
// rebuilt by replaying from offset 0, so topics keep everything (no time or size retention).
std::vector<TopicSpec> PlatformTopics(absl::string_view prefix, int partitions, int replication_factor,
                                      int min_insync_replicas);

struct TopicOutcome {
  std::string name;
  bool created = false;  // false: it already existed
};

// Creates each topic that does not exist yet; an existing topic is left as it is and reported.
// Any other error fails the whole call, naming the topic.
absl::StatusOr<std::vector<TopicOutcome>> CreateTopics(const KafkaSettings& settings,
                                                       const std::vector<TopicSpec>& topics);

// The log end (high watermark) of every partition of each topic (unprefixed names), by topic
// (unprefixed) and partition: what a consumer has applied all of when its positions reach them.
// For the tests and tools that check a group has caught up; every call has the settings' timeout.
absl::StatusOr<std::map<std::pair<std::string, int32_t>, int64_t>> ReadLogEnds(const KafkaSettings& settings,
                                                                               const std::vector<std::string>& topics);

}  // namespace pbr::platform
