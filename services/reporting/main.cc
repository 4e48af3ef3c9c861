// pbr-reporting: the read side. Each read model is a projection (projections/<name>/) that every
// message of its topics is fanned out to; the gRPC handlers (api.h) answer from their queries.
#include "api.h"
#include "care_bridge.h"
#include "event_rules.h"
#include "platform/projection.h"
#include "platform/service_host.h"
#include "projections/caseload/caseload.h"

int main(int argc, char** argv, char** envp) {
  auto settings = pbr::platform::CommonSettings("reporting", 50054, 9104);
  settings.push_back(pbr::platform::ResetStateSetting());
  return pbr::platform::RunService(
      "reporting", settings, pbr::platform::FamiliesOf(pbr::reporting::kCaseloadFamilies), argc, argv, envp,
      [&](pbr::platform::ServiceHost& host) -> absl::Status {
        // Every event is checked by the shared rules; the rules' team registry says which teams exist.
        auto rules = pbr::services::LoadRulesFor(host);
        if (!rules.ok()) return rules.status();
        host.ValidateEventsWith(pbr::services::SharedEventRules(*rules));
        if (auto st = host.AddProjection(std::make_shared<pbr::reporting::CaseloadProjection>()); !st.ok()) return st;
        host.AddService(std::make_unique<pbr::reporting::ReportingApi>(host.store(), *rules, host.clock()));
        return absl::OkStatus();
      });
}
