// pbr-broker: the embedded Kafka broker for running the platform on one machine.
// Prints "BOOTSTRAP <host:port>" once ready; exits cleanly on SIGTERM/SIGINT.
#include <signal.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "platform/config.h"
#include "platform/embedded_broker.h"

int main(int argc, char** argv, char** envp) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  using pbr::platform::SettingKind;
  const std::vector<pbr::platform::SettingSpec> specs = {
      {"partitions", SettingKind::kInt, "6", "partitions per topic", false, 1, 1000},
      {"brokers", SettingKind::kInt, "1", "mock brokers in the cluster", false, 1, 9},
      {"topic-prefix", SettingKind::kString, "", "prefix for every topic name"},
      {"extra-topics", SettingKind::kString, "", "more topics to create, NAME[,NAME]; prefixed, same partitions"},
  };
  auto config = pbr::platform::Config::Load(specs, argc, argv, envp);
  if (!config.ok()) {
    const bool help = absl::IsNotFound(config.status());
    std::fprintf(help ? stdout : stderr, "pbr-broker: %s\n", std::string(config.status().message()).c_str());
    return help ? 0 : 2;
  }
  auto broker = pbr::platform::EmbeddedBroker::Start(static_cast<int>(config->GetInt("partitions")),
                                                     config->GetString("topic-prefix"),
                                                     static_cast<int>(config->GetInt("brokers")));
  if (!broker.ok()) {
    std::fprintf(stderr, "pbr-broker: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  // Created before BOOTSTRAP is printed: the mock broker needs a topic to exist before a client names it.
  for (absl::string_view topic : absl::StrSplit(config->GetString("extra-topics"), ',', absl::SkipWhitespace())) {
    auto st = (*broker)->CreateTopic(config->GetString("topic-prefix") + std::string(absl::StripAsciiWhitespace(topic)),
                                     static_cast<int>(config->GetInt("partitions")));
    if (!st.ok()) {
      std::fprintf(stderr, "pbr-broker: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  std::printf("BOOTSTRAP %s\n", (*broker)->bootstrap().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  broker->reset();
  std::fprintf(stderr, "pbr-broker: stopped on signal %d\n", sig);
  return 0;
}
