// pbr-reporting: the read side. Each read model is a projection (projections/<name>/) that every
// message of its topics is fanned out to; the gRPC handlers (api.h) answer from their queries.
#include "api.h"
#include "care_bridge.h"
#include "event_rules.h"
#include "platform/projection.h"
#include "platform/service_host.h"
#include "projections/caseload/caseload.h"
#include "projections/kpis/kpis.h"
#include "projections/national_measures/national_measures.h"

int main(int argc, char** argv, char** envp) {
  using pbr::platform::SettingKind;
  auto settings = pbr::platform::CommonSettings("reporting", 50054, 9104);
  settings.push_back(pbr::platform::ResetStateSetting());
  // The same setting, choices and default as the review scheduler's: KPIs 2 and 7 time reviews as it does.
  settings.push_back({"review-policy", SettingKind::kChoice, "sop",
                      "review periods the KPIs time reviews by: the trust SOP or the national 2014/15 periods", false,
                      0, 0, {"sop", "national"}});
  return pbr::platform::RunService(
      "reporting", settings,
      pbr::platform::FamiliesOf(pbr::reporting::kCaseloadFamilies, pbr::reporting::kNationalFamilies,
                                pbr::reporting::kKpisFamilies),
      argc, argv, envp,
      [&](pbr::platform::ServiceHost& host) -> absl::Status {
        // Every event is checked by the shared rules; the rules' team registry says which teams exist.
        auto rules = pbr::services::LoadRulesFor(host);
        if (!rules.ok()) return rules.status();
        auto policy = care::ParseReviewPolicy(host.config().GetString("review-policy"));
        if (!policy.ok()) return policy.status();
        host.ValidateEventsWith(pbr::services::SharedEventRules(*rules));
        if (auto st = host.AddProjection(std::make_shared<pbr::reporting::CaseloadProjection>(*rules)); !st.ok()) {
          return st;
        }
        if (auto st = host.AddProjection(std::make_shared<pbr::reporting::NationalMeasuresProjection>(*rules));
            !st.ok()) {
          return st;
        }
        if (auto st = host.AddProjection(std::make_shared<pbr::reporting::KpisProjection>(*rules, *policy)); !st.ok()) {
          return st;
        }
        host.AddService(std::make_unique<pbr::reporting::ReportingApi>(host.store(), *rules, &host.clock(), *policy));
        return absl::OkStatus();
      });
}
