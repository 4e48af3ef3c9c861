// pbr-reporting: read models (team caseloads) built from every topic; who is on a caseload comes from
// the person's ledger facts (assessment-recorded and care-event-recorded).
#include "care_bridge.h"
#include "event_rules.h"
#include "platform/events.h"
#include "platform/service_host.h"
#include "reporting_service.h"

int main(int argc, char** argv, char** envp) {
  pbr::reporting::CaseloadModel model;
  namespace topic = pbr::platform::topic;
  auto settings = pbr::platform::CommonSettings("reporting", 50054, 9104);
  settings.push_back(pbr::platform::ResetStateSetting());
  return pbr::platform::RunService(
      "reporting", settings,
      {std::string(pbr::reporting::kPersonsFamily), std::string(pbr::reporting::kTeamIndexFamily),
       std::string(pbr::reporting::kTeamCountsFamily), std::string(pbr::reporting::kAssessmentsFamily),
       std::string(pbr::reporting::kLedgerFamily)},
      argc, argv, envp,
      [&](pbr::platform::ServiceHost& host) -> absl::Status {
        // Reporting applies no clinical rule itself, but checks every event by the shared ones.
        auto rules = pbr::services::LoadRules(host.config().GetString("rules-dir"));
        if (!rules.ok()) return rules.status();
        host.ValidateEventsWith(pbr::services::SharedEventRules(*rules));
        host.On(topic::kAssessmentRecorded, [&](const auto& ev, auto& ctx) { return model.OnAssessment(ev, ctx); });
        host.On(topic::kCareEventRecorded, [&](const auto& ev, auto& ctx) { return model.OnCareEvent(ev, ctx); });
        // Still consumed (the handler ignores it): the ledger's facts decide the cluster.
        host.On(topic::kClusterChanged, [&](const auto& ev, auto& ctx) { return model.OnClusterChanged(ev, ctx); });
        host.On(topic::kOutcomeRecorded, [&](const auto& ev, auto& ctx) { return model.OnOutcome(ev, ctx); });
        host.On(topic::kReviewDue, [&](const auto& ev, auto& ctx) { return model.OnReviewDue(ev, ctx); });
        host.AddService(std::make_unique<pbr::reporting::ReportingApi>(host.store()));
        return absl::OkStatus();
      });
}
