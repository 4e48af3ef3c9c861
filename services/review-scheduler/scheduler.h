#pragma once
// The review scheduler is the authority on when each person's cluster must next be reviewed. Each
// assessment or care event is folded into the person's ledger facts; the person's review view
// (review_view.h: the open review and its state, the reviews completed, the event-triggered reviews)
// is derived afresh; and what changed since it was last published is published:
// - review-due: a review entering its window (DUE) or falling overdue (OVERDUE), once each; a
//   missed event-triggered review, once (and its retraction if a correction meets it after all);
// - review-completed: every completed review, with its kind and how early or late it was (again,
//   with the new figures, when a correction changes it; `withdrawn` when one removes it).
// Which transitions are announced depends on the facts and on when each fact was recorded, never on
// when the scheduler got to it: before applying a fact recorded at R the person is first caught up
// to R, so after downtime each missed transition is published exactly once and in order.
//
// Families: "review_people" (what was published, per person), "timers" (when each person's view
// next changes with time alone: a timer pass costs what fell due, not the number of people),
// "due_index" (open reviews by due day, per team, service area and cluster), "overdue_counts"
// (reviews overdue now per team and cluster), "scheduler_meta" (the day of the last timer pass)
// and "ledger" (the person's facts, services/common/ledger_store.h).
#include <map>
#include <memory>

#include "care/rules.h"
#include "ledger/ledger.h"
#include "pbr/state/v1/state.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/consumer.h"
#include "platform/metrics.h"
#include "platform/store.h"
#include "review_view.h"

namespace pbr::scheduler {

inline constexpr absl::string_view kPeopleFamily = "review_people";     // person -> SchedulerPerson
inline constexpr absl::string_view kTimersFamily = "timers";            // "<UTC instant>\x1f<person>" -> ""
inline constexpr absl::string_view kDueIndexFamily = "due_index";       // see queries.h
inline constexpr absl::string_view kOverdueCountsFamily = "overdue_counts";  // "<team>\x1f<cluster>" -> count
inline constexpr absl::string_view kMetaFamily = "scheduler_meta";      // "timer_day" -> "yyyy-mm-dd"
inline constexpr absl::string_view kLedgerFamily = "ledger";
inline constexpr absl::string_view kTimerDayKey = "timer_day";

// Counters of what the scheduler published; gauges are read from the store on scrape (queries.h).
class SchedulerCounters {
 public:
  explicit SchedulerCounters(prometheus::Registry& registry);
  void ReviewCompleted(pbr::v1::ReviewKind kind, bool on_time);
  void TriggerDecided(pbr::v1::ReviewTriggerKind kind, pbr::v1::TriggerOutcome outcome);

 private:
  prometheus::Family<prometheus::Counter>& completed_;
  prometheus::Family<prometheus::Counter>& triggers_;
};

class Scheduler {
 public:
  // `counters` may be null (tests).
  Scheduler(std::shared_ptr<const care::RuleSet> rules, care::ReviewPolicy policy, SchedulerCounters* counters = nullptr)
      : rules_(std::move(rules)), policy_(policy), counters_(counters) {}

  // Fold an assessment (amendment, withdrawal) or a care event into the person's facts and publish
  // what changed. A stale or repeated revision changes nothing.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Re-derives everyone whose view changes by ctx.now() (a bounded number per pass: the next pass
  // takes the rest) and records the day of the pass.
  absl::Status AdvanceDueReviews(platform::ApplyContext& ctx) const;

  // The person's schedule in its state on `today`. NOT_FOUND when there is none, saying so when the
  // person was discharged from service (and on which day).
  static absl::StatusOr<pbr::v1::Schedule> Lookup(const platform::StoreReader& store, absl::string_view person_id,
                                                  absl::CivilDay today);

  static constexpr int kPeoplePerPass = 5000;

 private:
  // Changes to the overdue counts staged by one batch (several people may share a count).
  using CountDeltas = std::map<std::string, int64_t>;
  // Re-derives the person and stages what changed. `cause` is the event applied (null for a timer).
  absl::Status Reevaluate(platform::ApplyContext& ctx, const std::string& person_id, const ledger::PersonFacts& facts,
                          const pbr::v1::EventEnvelope* cause, CountDeltas& deltas) const;
  absl::Status Changed(const platform::ConsumedEvent& event, platform::ApplyContext& ctx,
                       const ledger::PersonFacts& facts) const;

  std::shared_ptr<const care::RuleSet> rules_;
  care::ReviewPolicy policy_;
  SchedulerCounters* counters_;
};

// Adds the staged deltas to the stored counts.
absl::Status ApplyCountDeltas(platform::ApplyContext& ctx, const std::map<std::string, int64_t>& deltas);

}  // namespace pbr::scheduler
