#pragma once
// A Kafka broker inside this process, for one machine: librdkafka's mock cluster speaks the real
// Kafka protocol over TCP on loopback. Its limits shape the platform (see README): topics must be
// created here before any client names them; it keeps about 5 MiB per partition and nothing
// across a restart, so a consumer whose stored offset is gone must stop loudly, never reset.
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "platform/kafka.h"

struct rd_kafka_mock_cluster_s;

namespace pbr::platform {

class EmbeddedBroker {
 public:
  // Starts `brokers` mock brokers on 127.0.0.1 (free ports) and creates every platform topic
  // (with `topic_prefix`) with `partitions` partitions.
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(int partitions, absl::string_view topic_prefix,
                                                               int brokers = 1);
  ~EmbeddedBroker();
  const std::string& bootstrap() const { return bootstrap_; }
  absl::Status CreateTopic(const std::string& topic, int partitions);

 private:
  EmbeddedBroker() = default;
  KafkaHandle handle_;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace pbr::platform
