// pbr-outcomes: HoNOS outcome measures for every assessment, episode and group.
#include "access.h"
#include "api.h"
#include "care_bridge.h"
#include "event_rules.h"
#include "platform/service_host.h"
#include "projections/episode_outcomes/episode_outcomes.h"

int main(int argc, char** argv, char** envp) {
  auto settings = pbr::platform::CommonSettings("outcomes", 50053, 9103);
  settings.push_back(pbr::platform::ResetStateSetting());
  return pbr::platform::RunService(
      "outcomes", settings, pbr::outcomes::EpisodeOutcomesFamilies(), argc, argv, envp,
      [&](pbr::platform::ServiceHost& host) -> absl::Status {
        auto rules = pbr::services::LoadRulesFor(host);
        if (!rules.ok()) return rules.status();
        host.ValidateEventsWith(pbr::services::SharedEventRules(*rules));
        if (auto st = host.AddProjection(std::make_shared<pbr::outcomes::EpisodeOutcomes>(*rules)); !st.ok()) {
          return st;
        }
        host.SetAccessPolicy(pbr::services::AuthorizeCall);  // the role matrix, under mutual TLS
        host.AddService(std::make_unique<pbr::outcomes::OutcomesApi>(host.store(), *rules,
                                                                     [&host] { return host.consumed_share(); }));
        return absl::OkStatus();
      });
}
