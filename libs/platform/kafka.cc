#include "platform/kafka.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "platform/config.h"

namespace pbr::platform {

void KafkaDeleter::operator()(rd_kafka_t* rk) const {
  if (rk != nullptr) rd_kafka_destroy(rk);
}

KafkaSettings KafkaSettings::FromConfig(const Config& config) {
  KafkaSettings s;
  s.bootstrap = config.GetString("kafka-bootstrap");
  s.extra = config.GetString("kafka-extra");
  s.topic_prefix = config.GetString("topic-prefix");
  s.group_id = config.GetString("consumer-group");
  s.session_timeout = config.GetDuration("session-timeout");
  s.fetch_wait_max = config.GetDuration("fetch-wait-max");
  s.timeout = config.GetDuration("kafka-timeout");
  for (absl::string_view spec : absl::StrSplit(config.GetString("flow-control-groups"), ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> group_topics = absl::StrSplit(spec, absl::MaxSplits('=', 1));
    const std::string group(absl::StripAsciiWhitespace(group_topics.first));
    s.flow_control_groups.push_back(group);
    if (absl::StrContains(spec, '=')) {
      auto& topics = s.flow_control_group_topics[group];
      for (absl::string_view t : absl::StrSplit(group_topics.second, '|', absl::SkipWhitespace())) {
        topics.insert(std::string(absl::StripAsciiWhitespace(t)));
      }
    }
  }
  s.flow_control_max_lag_bytes = config.GetInt("flow-control-max-lag-bytes");
  s.flow_control_max_lag_messages = config.GetInt("flow-control-max-lag-messages");
  return s;
}

namespace {
// A SASL password, a key's passphrase or an OAuth secret must not reach a log in an error message.
bool SecretProperty(absl::string_view key) {
  for (absl::string_view word : {"pass", "secret", "jaas", ".pem", "token"}) {
    if (absl::StrContains(key, word)) return true;
  }
  return false;
}
}  // namespace

absl::Status SetKafkaProperty(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    const std::string shown = SecretProperty(key) ? "(hidden)" : value;
    std::string why = err;
    if (SecretProperty(key) && !value.empty() && absl::StrContains(why, value)) why = "refused by librdkafka";
    return absl::InvalidArgumentError(absl::StrCat("kafka property ", key, "=", shown, ": ", why));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, absl::Duration timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) return absl::InternalError(absl::StrCat("topic ", topic, ": ", rd_kafka_err2str(rd_kafka_last_error())));
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  rd_kafka_topic_destroy(rkt);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("cannot read the partitions of ", topic, ": ", rd_kafka_err2str(e)));
  }
  int count = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic == md->topics[i].topic) {
      count = md->topics[i].partition_cnt;
      topic_err = md->topics[i].err;
    }
  }
  rd_kafka_metadata_destroy(md);
  if (count <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot read the partitions of ", topic, ": ",
                                               topic_err ? rd_kafka_err2str(topic_err) : "no partitions"));
  }
  return count;
}

absl::StatusOr<KafkaConf> BaseKafkaConf(const KafkaSettings& settings) {
  KafkaConf conf(rd_kafka_conf_new());
  if (auto st = SetKafkaProperty(conf.get(), "bootstrap.servers", settings.bootstrap); !st.ok()) return st;
  // Client logs go to stderr through librdkafka's default logger; keep them to warnings.
  if (auto st = SetKafkaProperty(conf.get(), "log_level", "4"); !st.ok()) return st;
  for (absl::string_view kv : absl::StrSplit(settings.extra, ';', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("kafka-extra: '", kv, "' is not KEY=VALUE"));
    }
    if (auto st = SetKafkaProperty(conf.get(), std::string(absl::StripAsciiWhitespace(p.first)),
                                   std::string(absl::StripAsciiWhitespace(p.second)));
        !st.ok()) {
      return st;
    }
  }
  return conf;
}

}  // namespace pbr::platform
