#include "platform/topic_admin.h"

#include "absl/strings/str_cat.h"
#include "platform/events.h"

namespace pbr::platform {

std::vector<TopicSpec> PlatformTopics(absl::string_view prefix, int partitions, int replication_factor,
                                      int min_insync_replicas) {
  std::vector<TopicSpec> out;
  for (absl::string_view t : topic::kAll) {
    out.push_back({absl::StrCat(prefix, t),
                   partitions,
                   replication_factor,
                   {{"retention.ms", "-1"},
                    {"retention.bytes", "-1"},
                    {"cleanup.policy", "delete"},
                    {"min.insync.replicas", absl::StrCat(min_insync_replicas)},
                    {"unclean.leader.election.enable", "false"}}});
  }
  return out;
}

absl::StatusOr<std::vector<TopicOutcome>> CreateTopics(const KafkaSettings& settings,
                                                       const std::vector<TopicSpec>& topics) {
  auto conf = BaseKafkaConf(settings);
  if (!conf.ok()) return conf.status();
  char err[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err));
  if (!rk) return absl::InvalidArgumentError(absl::StrCat("kafka admin client: ", err));
  conf->release();

  std::vector<rd_kafka_NewTopic_t*> requests;
  for (const auto& t : topics) {
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication_factor, err, sizeof err);
    if (nt == nullptr) {
      for (auto* r : requests) rd_kafka_NewTopic_destroy(r);
      return absl::InvalidArgumentError(absl::StrCat("topic ", t.name, ": ", err));
    }
    for (const auto& [k, v] : t.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    requests.push_back(nt);
  }
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(settings.timeout));
  rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, err, sizeof err);
  rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, err, sizeof err);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk.get());
  rd_kafka_CreateTopics(rk.get(), requests.data(), requests.size(), options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, timeout_ms + 1000);

  absl::StatusOr<std::vector<TopicOutcome>> result;
  if (event == nullptr) {
    result = absl::DeadlineExceededError(absl::StrCat("CreateTopics: no answer from ", settings.bootstrap, " within ",
                                                      absl::FormatDuration(settings.timeout)));
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = absl::UnavailableError(absl::StrCat("CreateTopics: ", rd_kafka_event_error_string(event)));
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
    std::vector<TopicOutcome> outcomes;
    for (size_t i = 0; i < n && result.ok(); ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      const char* name = rd_kafka_topic_result_name(results[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        outcomes.push_back({name, e == RD_KAFKA_RESP_ERR_NO_ERROR});
      } else {
        const char* why = rd_kafka_topic_result_error_string(results[i]);
        result = absl::FailedPreconditionError(
            absl::StrCat("topic ", name, ": ", why != nullptr ? why : rd_kafka_err2str(e)));
      }
    }
    if (result.ok()) result = std::move(outcomes);
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  for (auto* r : requests) rd_kafka_NewTopic_destroy(r);
  return result;
}

absl::StatusOr<std::map<std::pair<std::string, int32_t>, int64_t>> ReadLogEnds(const KafkaSettings& settings,
                                                                               const std::vector<std::string>& topics) {
  auto conf = BaseKafkaConf(settings);
  if (!conf.ok()) return conf.status();
  char err[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err));
  if (!rk) return absl::InvalidArgumentError(absl::StrCat("kafka client: ", err));
  conf->release();
  std::map<std::pair<std::string, int32_t>, int64_t> out;
  for (const std::string& name : topics) {
    const std::string topic = settings.Topic(name);
    auto count = PartitionCount(rk.get(), topic, settings.timeout);
    if (!count.ok()) return count.status();
    for (int32_t p = 0; p < *count; ++p) {
      int64_t low = 0, high = 0;
      if (rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
              rk.get(), topic.c_str(), p, &low, &high, static_cast<int>(absl::ToInt64Milliseconds(settings.timeout)));
          e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return absl::UnavailableError(absl::StrCat("cannot read the end of ", topic, " partition ", p, ": ", rd_kafka_err2str(e)));
      }
      out[{name, p}] = high;
    }
  }
  return out;
}

}  // namespace pbr::platform
