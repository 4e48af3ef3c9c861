// The review view: the ledger says which assessment is the basis and which reviewed which; the rules
// library says when each review falls due and what window an event-triggered review has.
#include "review_view.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "care/review_triggers.h"
#include "platform/events.h"

namespace pbr::scheduler {
namespace {

using platform::ClinicalDay;
using platform::ToProto;

pbr::v1::ReviewTriggerKind ProtoKindOf(care::ReviewTriggerKind kind) {
  switch (kind) {
    case care::ReviewTriggerKind::kInHoursReferral: return pbr::v1::REVIEW_TRIGGER_IN_HOURS_REFERRAL;
    case care::ReviewTriggerKind::kOutOfHoursReferral: return pbr::v1::REVIEW_TRIGGER_OUT_OF_HOURS_REFERRAL;
    case care::ReviewTriggerKind::kDischargeReview: return pbr::v1::REVIEW_TRIGGER_DISCHARGE_REVIEW;
    case care::ReviewTriggerKind::kInpatientAdmission: return pbr::v1::REVIEW_TRIGGER_INPATIENT_ADMISSION;
  }
  return pbr::v1::REVIEW_TRIGGER_KIND_UNSPECIFIED;
}

absl::StatusOr<care::ReviewDue> DueOf(const ReviewRules& rules, const ledger::ReviewBasis& basis) {
  auto due = rules.rules->ReviewDueDate(basis.cluster, ClinicalDay(basis.assessed_at), rules.policy);
  if (!due.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster: assessment ", basis.assessment_id, ": ", due.status().message()));
  }
  return due;
}

// Event-triggered reviews as the ledger finds them (ledger::TriggeredReviews): which care events trigger,
// for whom, and which assessment answered; the scheduler adds where each stands at `now`.
std::vector<pbr::v1::ReviewTrigger> Triggers(const ReviewRules& rules, const ledger::PersonFacts& facts,
                                             const ledger::CareRecord& record, absl::Time now) {
  std::vector<pbr::v1::ReviewTrigger> out;
  for (const ledger::TriggeredReview& r :
       ledger::TriggeredReviews(facts, record, rules.rules->kpis(), platform::ClinicalTimeZone())) {
    pbr::v1::ReviewTrigger& t = out.emplace_back();
    t.set_kind(ProtoKindOf(r.kind));
    t.set_care_event_id(r.event->id);
    *t.mutable_occurred_at() = ToProto(r.event->occurred_at);
    *t.mutable_window_opens() = ToProto(r.window.opens);
    *t.mutable_deadline() = ToProto(r.window.deadline);
    t.set_team_id(r.event->team_id);
    t.set_rule_version(r.window.rule_version);
    if (r.answered_by != nullptr) {
      t.set_outcome(pbr::v1::TRIGGER_OUTCOME_MET);
      t.set_met_by_assessment_id(r.answered_by->id);
    } else if (care::TriggerMissed(r.window, now)) {
      t.set_outcome(pbr::v1::TRIGGER_OUTCOME_MISSED);
    } else {
      t.set_outcome(pbr::v1::TRIGGER_OUTCOME_PENDING);
    }
  }
  return out;
}

}  // namespace

pbr::v1::ReviewKind ReviewKindOf(ledger::AssessmentKind kind) {
  switch (kind) {
    case ledger::AssessmentKind::kFormalReview: return pbr::v1::REVIEW_KIND_FORMAL;
    case ledger::AssessmentKind::kTransferReview: return pbr::v1::REVIEW_KIND_TRANSFER;
    case ledger::AssessmentKind::kDischargeReview: return pbr::v1::REVIEW_KIND_DISCHARGE;
    case ledger::AssessmentKind::kUnplannedReview: return pbr::v1::REVIEW_KIND_UNPLANNED;
    default: return pbr::v1::REVIEW_KIND_UNSPECIFIED;
  }
}

pbr::v1::ReviewState ReviewStateOn(const pbr::v1::Schedule& schedule, absl::CivilDay today) {
  return ReviewStateOn(platform::FromProto(schedule.window_opens()), platform::FromProto(schedule.due_date()), today);
}

pbr::v1::ReviewState ReviewStateOn(absl::CivilDay window_opens, absl::CivilDay due_date, absl::CivilDay today) {
  care::ReviewDue due;
  due.due = due_date;
  due.window_opens = window_opens;
  if (care::IsOverdue(due, today)) return pbr::v1::REVIEW_STATE_OVERDUE;
  if (care::IsInReviewWindow(due, today)) return pbr::v1::REVIEW_STATE_DUE;
  return pbr::v1::REVIEW_STATE_UPCOMING;
}

absl::Time StateStarts(const pbr::v1::Schedule& schedule, pbr::v1::ReviewState state) {
  const absl::CivilDay day = state == pbr::v1::REVIEW_STATE_OVERDUE ? platform::FromProto(schedule.due_date()) + 1
                                                                    : platform::FromProto(schedule.window_opens());
  return absl::FromCivil(day, platform::ClinicalTimeZone());
}

std::string ReviewKey(const pbr::v1::Schedule& s) {
  const absl::CivilDay due = platform::FromProto(s.due_date());
  return absl::StrFormat("%s/%d/%d/%04d-%02d-%02d", s.basis_assessment_id(),
                         absl::ToUnixSeconds(platform::FromProto(s.basis_assessed_at())), s.cluster(), due.year(),
                         due.month(), due.day());
}

absl::StatusOr<ReviewView> EvaluateReviews(const ReviewRules& rules, absl::string_view person_id,
                                           const ledger::PersonFacts& facts, absl::Time now) {
  ReviewView view;
  const ledger::CareRecord record = ledger::Derive(person_id, facts);
  const absl::CivilDay today = ClinicalDay(now);
  auto wait_for = [&](absl::Time t) {
    if (t > now && (!view.next_change.has_value() || t < *view.next_change)) view.next_change = t;
  };

  for (const ledger::CompletedReview& c : ledger::CompletedReviews(facts, record)) {
    auto due = DueOf(rules, c.reviewed);
    if (!due.ok()) return due.status();
    const absl::CivilDay reviewed_on = ClinicalDay(c.by->assessed_at);
    pbr::v1::ReviewCompleted& r = view.completions.emplace_back();
    r.set_assessment_id(c.by->id);
    r.set_revision(c.by->revision);
    *r.mutable_assessed_at() = ToProto(c.by->assessed_at);
    r.set_kind(ReviewKindOf(c.by->kind));
    r.set_team_id(c.by->team_id);
    r.set_cluster(c.by->cluster);
    r.set_reviewed_assessment_id(c.reviewed.assessment_id);
    *r.mutable_reviewed_mhct_date() = ToProto(ClinicalDay(c.reviewed.assessed_at));
    r.set_reviewed_cluster(c.reviewed.cluster);
    *r.mutable_window_opens() = ToProto(due->window_opens);
    *r.mutable_due_date() = ToProto(due->due);
    r.set_on_time(!care::IsOverdue(*due, reviewed_on));
    r.set_days_early(r.on_time() ? static_cast<int32_t>(due->due - reviewed_on) : 0);
    r.set_days_late(r.on_time() ? 0 : static_cast<int32_t>(reviewed_on - due->due));
    r.set_within_window(care::IsInReviewWindow(*due, reviewed_on));
    r.set_referral_id(c.reviewed.referral_id);
    r.set_rule_version(due->rule_version);
  }

  view.triggers = Triggers(rules, facts, record, now);
  for (const auto& t : view.triggers) {
    if (t.outcome() == pbr::v1::TRIGGER_OUTCOME_PENDING) wait_for(platform::FromProto(t.deadline()) + absl::Nanoseconds(1));
  }

  if (const std::optional<ledger::ReviewBasis> basis = record.review_basis()) {
    auto due = DueOf(rules, *basis);
    if (!due.ok()) return due.status();
    pbr::v1::Schedule& s = view.schedule.emplace();
    s.set_person_id(std::string(person_id));
    s.set_team_id(basis->team_id);
    s.set_cluster(basis->cluster);
    s.set_basis_assessment_id(basis->assessment_id);
    *s.mutable_basis_assessed_at() = ToProto(basis->assessed_at);
    *s.mutable_latest_mhct_date() = ToProto(ClinicalDay(basis->assessed_at));
    *s.mutable_window_opens() = ToProto(due->window_opens);
    *s.mutable_due_date() = ToProto(due->due);
    s.set_rule_version(due->rule_version);
    s.set_review_policy(std::string(care::ReviewPolicyName(rules.policy)));
    if (record.latest.has_value()) s.set_service_area(record.latest->service_area);
    s.set_state(ReviewStateOn(s, today));
    const ledger::ReferralPeriod* open = record.open_referral();
    for (const auto& t : view.triggers) {
      auto of = record.referral_of.find(t.care_event_id());
      if (open != nullptr && of != record.referral_of.end() && of->second == open->id) *s.add_triggers() = t;
    }
    if (s.state() == pbr::v1::REVIEW_STATE_UPCOMING) wait_for(StateStarts(s, pbr::v1::REVIEW_STATE_DUE));
    if (s.state() == pbr::v1::REVIEW_STATE_DUE) wait_for(StateStarts(s, pbr::v1::REVIEW_STATE_OVERDUE));
  }
  return view;
}

}  // namespace pbr::scheduler
