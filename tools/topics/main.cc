// pbr-topics: creates the platform's topics on a real Kafka cluster through the Admin API.
// Safe to re-run: existing topics are reported and left alone. (The embedded broker creates its
// own topics; its mock cannot serve CreateTopics.)
#include <cstdio>

#include "platform/config.h"
#include "platform/topic_admin.h"

int main(int argc, char** argv, char** envp) {
  using pbr::platform::SettingKind;
  const std::vector<pbr::platform::SettingSpec> specs = {
      {"kafka-bootstrap", SettingKind::kString, "", "Kafka bootstrap servers, HOST:PORT[,HOST:PORT]", true},
      {"kafka-extra", SettingKind::kString, "", "extra librdkafka properties, KEY=VALUE;KEY=VALUE (TLS, SASL)"},
      {"topic-prefix", SettingKind::kString, "", "prefix for every topic name, per environment"},
      {"partitions", SettingKind::kInt, "12", "partitions per topic: fixed for a topic's life", false, 1, 10000},
      {"replication-factor", SettingKind::kInt, "3", "copies of each partition", false, 1, 16},
      {"min-insync-replicas", SettingKind::kInt, "2", "copies that must acknowledge a write", false, 1, 16},
      {"kafka-timeout", SettingKind::kDuration, "30s", "deadline for the whole request"},
  };
  auto config = pbr::platform::Config::Load(specs, argc, argv, envp);
  if (!config.ok()) {
    const bool help = absl::IsNotFound(config.status());
    std::fprintf(help ? stdout : stderr, "pbr-topics: %s\n", std::string(config.status().message()).c_str());
    return help ? 0 : 2;
  }
  if (config->GetInt("min-insync-replicas") > config->GetInt("replication-factor")) {
    std::fprintf(stderr, "pbr-topics: min-insync-replicas must not exceed replication-factor\n");
    return 2;
  }
  pbr::platform::KafkaSettings settings;
  settings.bootstrap = config->GetString("kafka-bootstrap");
  settings.extra = config->GetString("kafka-extra");
  settings.timeout = config->GetDuration("kafka-timeout");
  auto outcomes = pbr::platform::CreateTopics(
      settings, pbr::platform::PlatformTopics(config->GetString("topic-prefix"),
                                              static_cast<int>(config->GetInt("partitions")),
                                              static_cast<int>(config->GetInt("replication-factor")),
                                              static_cast<int>(config->GetInt("min-insync-replicas"))));
  if (!outcomes.ok()) {
    std::fprintf(stderr, "pbr-topics: %s\n", outcomes.status().ToString().c_str());
    return 1;
  }
  for (const auto& o : *outcomes) std::printf("%s %s\n", o.created ? "created" : "exists ", o.name.c_str());
  return 0;
}
