// pbr-outcomes: HoNOS outcome measures for every assessment.
#include "care_bridge.h"
#include "event_rules.h"
#include "outcomes_service.h"
#include "platform/events.h"
#include "platform/service_host.h"

int main(int argc, char** argv, char** envp) {
  std::unique_ptr<pbr::outcomes::OutcomeRecorder> recorder;
  auto settings = pbr::platform::CommonSettings("outcomes", 50053, 9103);
  settings.push_back(pbr::platform::ResetStateSetting());
  return pbr::platform::RunService(
      "outcomes", settings,
      {std::string(pbr::outcomes::kOutcomesFamily), std::string(pbr::outcomes::kAssessmentsFamily)}, argc, argv, envp,
      [&](pbr::platform::ServiceHost& host) -> absl::Status {
        auto rules = pbr::services::LoadRulesFor(host);
        if (!rules.ok()) return rules.status();
        host.ValidateEventsWith(pbr::services::SharedEventRules(*rules));
        recorder = std::make_unique<pbr::outcomes::OutcomeRecorder>(*rules);
        host.On(pbr::platform::topic::kAssessmentRecorded,
                [&](const auto& ev, auto& ctx) { return recorder->OnAssessment(ev, ctx); });
        host.AddService(std::make_unique<pbr::outcomes::OutcomesApi>(host.store()));
        return absl::OkStatus();
      });
}
