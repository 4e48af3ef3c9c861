// pbr-review-scheduler: keeps every person's next cluster review and announces due and overdue reviews.
// Consumes assessment-recorded and care-event-recorded (the person's ledger facts: a discharge from
// service closes the schedule); publishes review-due.
#include "care_bridge.h"
#include "event_rules.h"
#include "platform/events.h"
#include "platform/service_host.h"
#include "scheduler.h"

int main(int argc, char** argv, char** envp) {
  using pbr::platform::SettingKind;
  auto settings = pbr::platform::CommonSettings("review-scheduler", 50052, 9102);
  settings.push_back(pbr::platform::ResetStateSetting());
  settings.push_back({"review-policy", SettingKind::kChoice, "sop",
                      "review periods to schedule by: the trust SOP or the national 2014/15 periods", false, 0, 0,
                      {"sop", "national"}});
  settings.push_back({"timer-interval", SettingKind::kDuration, "1s", "how often due and overdue reviews are checked"});
  std::unique_ptr<pbr::scheduler::Scheduler> scheduler;
  return pbr::platform::RunService(
      "review-scheduler", settings,
      {std::string(pbr::scheduler::kSchedulesFamily), std::string(pbr::scheduler::kTimersFamily),
       std::string(pbr::scheduler::kLedgerFamily)},
      argc, argv, envp,
      [&](pbr::platform::ServiceHost& host) -> absl::Status {
        auto rules = pbr::services::LoadRules(host.config().GetString("rules-dir"));
        if (!rules.ok()) return rules.status();
        host.ValidateEventsWith(pbr::services::SharedEventRules(*rules));
        auto policy = care::ParseReviewPolicy(host.config().GetString("review-policy"));
        if (!policy.ok()) return policy.status();
        scheduler = std::make_unique<pbr::scheduler::Scheduler>(*rules, *policy);
        host.On(pbr::platform::topic::kAssessmentRecorded,
                [&](const auto& ev, auto& ctx) { return scheduler->OnAssessment(ev, ctx); });
        host.On(pbr::platform::topic::kCareEventRecorded,
                [&](const auto& ev, auto& ctx) { return scheduler->OnCareEvent(ev, ctx); });
        host.Every(host.config().GetDuration("timer-interval"),
                   [&](auto& ctx) { return scheduler->AdvanceDueReviews(ctx); });
        host.AddService(std::make_unique<pbr::scheduler::ReviewSchedulerApi>(host.store(), host.clock()));
        return absl::OkStatus();
      });
}
