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

}  // namespace pbr::platform
