// pbr-review-scheduler: the authority on when each person's cluster must next be reviewed.
// Consumes assessment-recorded and care-event-recorded (the person's ledger facts); publishes
// review-due (windows opening, reviews overdue, missed event-triggered reviews) and review-completed.
#include "access.h"
#include "api.h"
#include "care_bridge.h"
#include "event_rules.h"
#include "platform/events.h"
#include "platform/service_host.h"
#include "queries.h"
#include "scheduler.h"

int main(int argc, char** argv, char** envp) {
  using pbr::platform::SettingKind;
  namespace scheduler = pbr::scheduler;
  auto settings = pbr::platform::CommonSettings("review-scheduler", 50052, 9102);
  settings.push_back(pbr::platform::ResetStateSetting());
  settings.push_back({"review-policy", SettingKind::kChoice, "sop",
                      "review periods to schedule by: the trust SOP or the national 2014/15 periods", false, 0, 0,
                      {"sop", "national"}});
  settings.push_back({"timer-interval", SettingKind::kDuration, "1s", "how often due and overdue reviews are checked"});
  std::unique_ptr<scheduler::SchedulerCounters> counters;
  std::unique_ptr<scheduler::Scheduler> reviews;
  std::unique_ptr<scheduler::ReviewQueries> queries;
  return pbr::platform::RunService(
      "review-scheduler", settings,
      {std::string(scheduler::kPeopleFamily), std::string(scheduler::kTimersFamily),
       std::string(scheduler::kDueIndexFamily), std::string(scheduler::kOverdueCountsFamily),
       std::string(scheduler::kMetaFamily), std::string(scheduler::kLedgerFamily)},
      argc, argv, envp,
      [&](pbr::platform::ServiceHost& host) -> absl::Status {
        auto rules = pbr::services::LoadRulesFor(host);
        if (!rules.ok()) return rules.status();
        host.ValidateEventsWith(pbr::services::SharedEventRules(*rules));
        auto policy = care::ParseReviewPolicy(host.config().GetString("review-policy"));
        if (!policy.ok()) return policy.status();
        counters = std::make_unique<scheduler::SchedulerCounters>(host.metrics().registry());
        reviews = std::make_unique<scheduler::Scheduler>(*rules, *policy, counters.get());
        queries = std::make_unique<scheduler::ReviewQueries>(host.store(), *rules);
        host.metrics().AddCollector(
            [&] { return queries->Gauges(pbr::platform::ClinicalDay(host.clock().Now())); });
        host.On(pbr::platform::topic::kAssessmentRecorded,
                [&](const auto& ev, auto& ctx) { return reviews->OnAssessment(ev, ctx); });
        host.On(pbr::platform::topic::kCareEventRecorded,
                [&](const auto& ev, auto& ctx) { return reviews->OnCareEvent(ev, ctx); });
        host.Every(host.config().GetDuration("timer-interval"),
                   [&](auto& ctx) { return reviews->AdvanceDueReviews(ctx); });
        host.SetAccessPolicy(pbr::services::AuthorizeCall);  // the role matrix, under mutual TLS
        host.AddService(std::make_unique<scheduler::ReviewSchedulerApi>(host.store(), host.clock(), *queries));
        return absl::OkStatus();
      });
}
