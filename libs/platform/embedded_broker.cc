#include "platform/embedded_broker.h"

#include "absl/strings/str_cat.h"
#include "librdkafka/rdkafka_mock.h"
#include "platform/events.h"

namespace pbr::platform {

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(int partitions, absl::string_view topic_prefix,
                                                                       int brokers) {
  if (partitions < 1 || partitions > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("partitions: ", partitions, " is not between 1 and 1000"));
  }
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  // The mock cluster needs a client instance for its bookkeeping; it never produces.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("embedded broker: ", err));
  }
  broker->handle_.reset(rk);
  broker->cluster_ = rd_kafka_mock_cluster_new(rk, brokers);
  if (broker->cluster_ == nullptr) return absl::UnavailableError("embedded broker: mock cluster did not start");
  broker->bootstrap_ = rd_kafka_mock_cluster_bootstraps(broker->cluster_);
  for (absl::string_view t : topic::kAll) {
    if (auto st = broker->CreateTopic(absl::StrCat(topic_prefix, t), partitions); !st.ok()) return st;
  }
  return broker;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

absl::Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("create topic ", topic, ": ", rd_kafka_err2str(e)));
  }
  return absl::OkStatus();
}

}  // namespace pbr::platform
