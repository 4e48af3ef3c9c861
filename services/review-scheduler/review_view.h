#pragma once
// What the review scheduler holds about one person, derived afresh from their ledger facts and the
// clock alone: the open review and its state, every review completed, and every event-triggered
// review (SOP Table 13) with its outcome. Pure: the same facts and the same instant always give the
// same view, whatever order the facts arrived in and however late the scheduler got to them. The
// store side (scheduler.h) compares it with what was published and publishes the difference.
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "ledger/ledger.h"
#include "pbr/v1/review_scheduler.pb.h"

namespace pbr::scheduler {

struct ReviewRules {
  const care::RuleSet* rules = nullptr;
  care::ReviewPolicy policy = care::ReviewPolicy::kTrustSop;
};

struct ReviewView {
  // The open referral period's review, its state as of `now`, with that period's triggers. None when
  // the person is discharged or has nothing live to review.
  std::optional<pbr::v1::Schedule> schedule;
  std::vector<pbr::v1::ReviewCompleted> completions;  // every completed review, oldest first
  std::vector<pbr::v1::ReviewTrigger> triggers;       // every applicable trigger, by care event time
  // The next instant at which the view changes with time alone (a window opening, a review falling
  // overdue, a trigger's deadline passing); none when nothing is waiting on the clock.
  std::optional<absl::Time> next_change;
};

// InvalidArgument naming the field when a live fact cannot be scheduled (a cluster without a
// review period).
absl::StatusOr<ReviewView> EvaluateReviews(const ReviewRules& rules, absl::string_view person_id,
                                           const ledger::PersonFacts& facts, absl::Time now);

// The state of a schedule on a clinical day: UPCOMING before window_opens, DUE from it to due_date,
// OVERDUE after due_date.
pbr::v1::ReviewState ReviewStateOn(const pbr::v1::Schedule& schedule, absl::CivilDay today);
pbr::v1::ReviewState ReviewStateOn(absl::CivilDay window_opens, absl::CivilDay due_date, absl::CivilDay today);
// The instant (start of the clinical day) at which a schedule enters DUE or OVERDUE.
absl::Time StateStarts(const pbr::v1::Schedule& schedule, pbr::v1::ReviewState state);
// What identifies the review a schedule is for: the basis id, MHCT date and cluster
// (ledger::ReviewBasis::key), and the due date (a change of rules or policy is a new review).
std::string ReviewKey(const pbr::v1::Schedule& schedule);

pbr::v1::ReviewKind ReviewKindOf(ledger::AssessmentKind kind);

}  // namespace pbr::scheduler
