// The review scheduler's store side: fold, catch up, re-derive, publish the difference, and keep the
// timer, due-date index and overdue counts in step, all in the one batch of the message or pass.
#include "scheduler.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "due_index.h"
#include "ledger_store.h"
#include "platform/events.h"
#include "platform/log.h"
#include "platform/quote.h"
#include "platform/service_host.h"

namespace pbr::scheduler {
namespace {

using platform::FromProto;
using platform::ToProto;
using pbr::state::v1::SchedulerPerson;
using pbr::state::v1::SchedulerTrigger;
namespace topic = platform::topic;

absl::StatusOr<SchedulerPerson> LoadPerson(const platform::StoreReader& store, absl::string_view person_id) {
  SchedulerPerson p;
  auto stored = store.Get(kPeopleFamily, person_id);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && !p.ParseFromString(**stored)) {
    return absl::DataLossError(absl::StrCat("stored review record of ", platform::Quote(person_id), " is unreadable"));
  }
  return p;
}

bool Announced(const SchedulerPerson& p, pbr::v1::ReviewState state) {
  return std::find(p.announced().begin(), p.announced().end(), state) != p.announced().end();
}

// Who is publishing, for the envelope: the event applied, or none for a timer.
struct Cause {
  const pbr::v1::EventEnvelope* event = nullptr;
  std::string source_system() const { return event != nullptr ? event->source_system() : ""; }
  std::string trace_id() const { return event != nullptr ? event->trace_id() : ""; }
};

class Publisher {
 public:
  Publisher(platform::ApplyContext& ctx, const std::string& person_id, Cause cause)
      : ctx_(ctx), person_id_(person_id), cause_(cause) {}

  // A formal review entering `state` for the basis entry `entry`.
  void ReviewState(const pbr::v1::Schedule& s, pbr::v1::ReviewState state, const std::string& entry) {
    auto event = Envelope(topic::kReviewDue,
                          platform::DeterministicId(topic::kReviewDue, {person_id_, ReviewKey(s),
                                                                        pbr::v1::ReviewState_Name(state), entry}),
                          StateStarts(s, state));
    FillReview(s, event.mutable_review_due());
    event.mutable_review_due()->set_state(state);
    ctx_.Emit(topic::kReviewDue, event);
  }

  // A missed trigger (`retracted` false) or the retraction of one (outcome MET or WITHDRAWN).
  void Trigger(const pbr::v1::ReviewTrigger& t, const pbr::v1::Schedule* current, bool retracted, int sequence) {
    auto event = Envelope(topic::kReviewDue,
                          platform::DeterministicId(topic::kReviewDue, {person_id_, "trigger", t.care_event_id(),
                                                                        retracted ? "retracted" : "missed",
                                                                        absl::StrCat(sequence)}),
                          FromProto(t.deadline()));
    auto* r = event.mutable_review_due();
    if (current != nullptr) FillReview(*current, r);
    if (r->team_id().empty()) r->set_team_id(t.team_id());
    r->set_state(pbr::v1::REVIEW_STATE_OVERDUE);
    *r->mutable_trigger() = t;
    r->set_retracted(retracted);
    ctx_.Emit(topic::kReviewDue, event);
  }

  void Completion(const pbr::v1::ReviewCompleted& c, const std::string& digest) {
    auto event = Envelope(topic::kReviewCompleted,
                          platform::DeterministicId(topic::kReviewCompleted, {person_id_, c.assessment_id(), digest}),
                          FromProto(c.assessed_at()));
    *event.mutable_review_completed() = c;
    ctx_.Emit(topic::kReviewCompleted, event);
  }

  void CompletionWithdrawn(const std::string& assessment_id, const std::string& reviewed_id, const std::string& digest) {
    auto event = Envelope(topic::kReviewCompleted,
                          platform::DeterministicId(topic::kReviewCompleted,
                                                    {person_id_, assessment_id, "withdrawn", digest}),
                          ctx_.now());
    auto* c = event.mutable_review_completed();
    c->set_assessment_id(assessment_id);
    c->set_reviewed_assessment_id(reviewed_id);
    c->set_withdrawn(true);
    ctx_.Emit(topic::kReviewCompleted, event);
  }

 private:
  pbr::v1::EventEnvelope Envelope(absl::string_view topic_name, std::string id, absl::Time occurred_at) {
    return platform::MakeEnvelope(topic_name, std::move(id), person_id_, occurred_at, ctx_.now(),
                                  cause_.source_system(), cause_.trace_id());
  }
  static void FillReview(const pbr::v1::Schedule& s, pbr::v1::ReviewDue* r) {
    r->set_basis_assessment_id(s.basis_assessment_id());
    r->set_team_id(s.team_id());
    r->set_cluster(s.cluster());
    *r->mutable_latest_mhct_date() = s.latest_mhct_date();
    *r->mutable_window_opens() = s.window_opens();
    *r->mutable_due_date() = s.due_date();
    r->set_rule_version(s.rule_version());
    r->set_service_area(s.service_area());
  }

  platform::ApplyContext& ctx_;
  const std::string& person_id_;
  Cause cause_;
};

// Announces the states the stored review reached by `until` and had not announced: DUE unless the
// review was already overdue when its basis entered, then OVERDUE.
void AnnounceReached(SchedulerPerson& p, absl::Time until, Publisher& publish) {
  if (!p.has_schedule()) return;
  const pbr::v1::Schedule& s = p.schedule();
  const absl::Time overdue_from = StateStarts(s, pbr::v1::REVIEW_STATE_OVERDUE);
  const bool entered_overdue = FromProto(p.entered_at()) >= overdue_from;
  if (until >= StateStarts(s, pbr::v1::REVIEW_STATE_DUE) && !entered_overdue && !Announced(p, pbr::v1::REVIEW_STATE_DUE) &&
      !Announced(p, pbr::v1::REVIEW_STATE_OVERDUE)) {
    publish.ReviewState(s, pbr::v1::REVIEW_STATE_DUE, p.entry_cause_event_id());
    p.add_announced(pbr::v1::REVIEW_STATE_DUE);
  }
  if (until >= overdue_from && !Announced(p, pbr::v1::REVIEW_STATE_OVERDUE)) {
    publish.ReviewState(s, pbr::v1::REVIEW_STATE_OVERDUE, p.entry_cause_event_id());
    p.add_announced(pbr::v1::REVIEW_STATE_OVERDUE);
  }
}

// Announces the stored pending triggers whose deadline passed by `until` as missed: what would
// have been published had the scheduler been running then.
void MissStoredTriggers(SchedulerPerson& p, absl::Time until, Publisher& publish, SchedulerCounters* counters) {
  for (auto& [id, t] : *p.mutable_triggers()) {
    if (t.outcome() != pbr::v1::TRIGGER_OUTCOME_PENDING || FromProto(t.trigger().deadline()) >= until) continue;
    t.set_outcome(pbr::v1::TRIGGER_OUTCOME_MISSED);
    t.mutable_trigger()->set_outcome(pbr::v1::TRIGGER_OUTCOME_MISSED);
    publish.Trigger(t.trigger(), p.has_schedule() ? &p.schedule() : nullptr, false, t.announcements());
    t.set_missed_announced(true);
    t.set_announcements(t.announcements() + 1);
    if (counters != nullptr) counters->TriggerDecided(t.trigger().kind(), pbr::v1::TRIGGER_OUTCOME_MISSED);
  }
}

std::string Digest(const pbr::v1::ReviewCompleted& c) {
  return platform::DeterministicId("review-completed-content", {c.SerializeAsString()});
}

}  // namespace

SchedulerCounters::SchedulerCounters(prometheus::Registry& registry)
    : completed_(prometheus::BuildCounter()
                     .Name("pbr_reviews_completed_total")
                     .Help("Reviews completed (first published), by kind and whether on time (on or before the due date)")
                     .Register(registry)),
      triggers_(prometheus::BuildCounter()
                    .Name("pbr_review_triggers_total")
                    .Help("Event-triggered reviews (SOP Table 13) decided, by kind and outcome (met or missed)")
                    .Register(registry)) {}

void SchedulerCounters::ReviewCompleted(pbr::v1::ReviewKind kind, bool on_time) {
  completed_.Add({{"kind", pbr::v1::ReviewKind_Name(kind)}, {"timeliness", on_time ? "on_time" : "late"}}).Increment();
}

void SchedulerCounters::TriggerDecided(pbr::v1::ReviewTriggerKind kind, pbr::v1::TriggerOutcome outcome) {
  triggers_
      .Add({{"kind", pbr::v1::ReviewTriggerKind_Name(kind)},
            {"outcome", outcome == pbr::v1::TRIGGER_OUTCOME_MET ? "met" : "missed"}})
      .Increment();
}

absl::Status ApplyCountDeltas(platform::ApplyContext& ctx, const std::map<std::string, int64_t>& deltas) {
  for (const auto& [key, delta] : deltas) {
    if (delta == 0) continue;
    auto stored = ctx.store().Get(kOverdueCountsFamily, key);
    if (!stored.ok()) return stored.status();
    int64_t n = 0;
    if (stored->has_value() && !absl::SimpleAtoi(**stored, &n)) return absl::DataLossError("stored overdue count is unreadable");
    n += delta;
    if (n < 0) return absl::DataLossError(absl::StrCat("overdue count would go negative (", n, ")"));
    if (n == 0) {
      ctx.batch().Delete(ctx.store().Family(kOverdueCountsFamily), key);
    } else {
      ctx.batch().Put(ctx.store().Family(kOverdueCountsFamily), key, absl::StrCat(n));
    }
  }
  return absl::OkStatus();
}

absl::Status Scheduler::Reevaluate(platform::ApplyContext& ctx, const std::string& person_id,
                                   const ledger::PersonFacts& facts, const pbr::v1::EventEnvelope* cause,
                                   CountDeltas& deltas) const {
  // A fact counts as of when it was recorded, whenever the scheduler gets to it: a fact taken late
  // (after downtime) must not find its triggers missed by a time its later facts are still queued
  // for. What time alone changes after that is the timer's (the view's next change is then due).
  const absl::Time recorded =
      cause != nullptr && cause->has_recorded_at() ? std::min(FromProto(cause->recorded_at()), ctx.now()) : ctx.now();
  auto view = EvaluateReviews({rules_.get(), policy_}, person_id, facts, recorded);
  if (!view.ok()) return view.status();
  auto stored = LoadPerson(ctx.store(), person_id);
  if (!stored.ok()) return stored.status();
  const SchedulerPerson before = *stored;
  SchedulerPerson& p = *stored;
  Publisher publish(ctx, person_id, Cause{cause});

  // 1. Catch up to when the fact was recorded, as the facts stood before it.
  AnnounceReached(p, recorded, publish);
  MissStoredTriggers(p, recorded, publish, counters_);

  // 2. The formal review.
  if (view->schedule.has_value()) {
    pbr::v1::Schedule s = *view->schedule;
    if (!p.has_schedule() || ReviewKey(p.schedule()) != ReviewKey(s)) {
      // A new review (or an earlier one again, after a correction): its announcements start afresh.
      p.set_entry_cause_event_id(cause != nullptr ? cause->event_id() : absl::StrCat("pass:", absl::ToUnixNanos(ctx.now())));
      *p.mutable_entered_at() = ToProto(recorded);
      p.clear_announced();
    }
    *p.mutable_schedule() = std::move(s);
    AnnounceReached(p, recorded, publish);
  } else {
    p.clear_schedule();
    p.clear_entry_cause_event_id();
    p.clear_entered_at();
    p.clear_announced();
  }

  // 3. Event-triggered reviews.
  std::set<std::string> seen;
  const pbr::v1::Schedule* current = p.has_schedule() ? &p.schedule() : nullptr;
  for (const pbr::v1::ReviewTrigger& t : view->triggers) {
    seen.insert(t.care_event_id());
    SchedulerTrigger& held = (*p.mutable_triggers())[t.care_event_id()];
    const pbr::v1::TriggerOutcome was = held.outcome();
    if (t.outcome() == pbr::v1::TRIGGER_OUTCOME_MISSED && !held.missed_announced()) {
      publish.Trigger(t, current, false, held.announcements());
      held.set_missed_announced(true);
      held.set_announcements(held.announcements() + 1);
    } else if (t.outcome() != pbr::v1::TRIGGER_OUTCOME_MISSED && held.missed_announced()) {
      publish.Trigger(t, current, true, held.announcements());  // met after all, or no longer past its deadline
      held.set_missed_announced(false);
      held.set_announcements(held.announcements() + 1);
    }
    if (counters_ != nullptr && t.outcome() != was &&
        (t.outcome() == pbr::v1::TRIGGER_OUTCOME_MET || t.outcome() == pbr::v1::TRIGGER_OUTCOME_MISSED)) {
      counters_->TriggerDecided(t.kind(), t.outcome());
    }
    held.set_outcome(t.outcome());
    *held.mutable_trigger() = t;
  }
  for (auto it = p.mutable_triggers()->begin(); it != p.mutable_triggers()->end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.missed_announced()) {  // its care event was withdrawn (or the trigger no longer applies)
      pbr::v1::ReviewTrigger gone = it->second.trigger();
      gone.set_outcome(pbr::v1::TRIGGER_OUTCOME_WITHDRAWN);
      gone.clear_met_by_assessment_id();
      publish.Trigger(gone, current, true, it->second.announcements());
    }
    it = p.mutable_triggers()->erase(it);
  }

  // 4. Completed reviews: publish what is new or changed, withdraw what no longer stands.
  std::map<std::string, std::string> published(p.completions().begin(), p.completions().end());
  p.clear_completions();
  for (const pbr::v1::ReviewCompleted& c : view->completions) {
    const std::string digest = Digest(c);
    const std::string value = absl::StrCat(digest, "/", c.reviewed_assessment_id());
    auto old = published.find(c.assessment_id());
    if (old == published.end() || old->second != value) {
      publish.Completion(c, digest);
      if (counters_ != nullptr && old == published.end()) counters_->ReviewCompleted(c.kind(), c.on_time());
    }
    if (old != published.end()) published.erase(old);
    (*p.mutable_completions())[c.assessment_id()] = value;
  }
  for (const auto& [assessment_id, value] : published) {
    const size_t slash = value.find('/');
    publish.CompletionWithdrawn(assessment_id, value.substr(slash + 1), value.substr(0, slash));
  }

  // 5. Indexes: due-date entries, the overdue count, the timer.
  auto& batch = ctx.batch();
  const auto& store = ctx.store();
  std::vector<std::string> keys;
  if (p.has_schedule()) keys = DueIndexKeys(p.schedule());
  const std::set<std::string> wanted(keys.begin(), keys.end());
  const std::set<std::string> had(before.index_keys().begin(), before.index_keys().end());
  for (const auto& k : had) {
    if (!wanted.count(k)) batch.Delete(store.Family(kDueIndexFamily), k);
  }
  const bool value_changed = !before.has_schedule() || !p.has_schedule() ||
                             DueIndexValue(before.schedule()) != DueIndexValue(p.schedule());
  for (const auto& k : wanted) {
    if (!had.count(k) || value_changed) batch.Put(store.Family(kDueIndexFamily), k, DueIndexValue(p.schedule()));
  }
  p.clear_index_keys();
  for (const auto& k : keys) p.add_index_keys(k);

  const std::string count_key = p.has_schedule() && p.schedule().state() == pbr::v1::REVIEW_STATE_OVERDUE
                                    ? OverdueCountKey(p.schedule().team_id(), p.schedule().cluster())
                                    : "";
  if (count_key != before.overdue_count_key()) {
    if (!before.overdue_count_key().empty()) --deltas[before.overdue_count_key()];
    if (!count_key.empty()) ++deltas[count_key];
  }
  p.set_overdue_count_key(count_key);

  const std::string timer = view->next_change.has_value() ? TimerKey(*view->next_change, person_id) : "";
  if (timer != before.timer_key()) {
    if (!before.timer_key().empty()) batch.Delete(store.Family(kTimersFamily), before.timer_key());
    if (!timer.empty()) batch.Put(store.Family(kTimersFamily), timer, "");
  }
  p.set_timer_key(timer);

  batch.Put(store.Family(kPeopleFamily), person_id, p.SerializeAsString());
  return absl::OkStatus();
}

absl::Status Scheduler::Changed(const platform::ConsumedEvent& event, platform::ApplyContext& ctx,
                                const ledger::PersonFacts& facts) const {
  CountDeltas deltas;
  if (auto st = Reevaluate(ctx, event.event.person_id(), facts, &event.event, deltas); !st.ok()) return st;
  return ApplyCountDeltas(ctx, deltas);
}

absl::Status Scheduler::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  // A withdrawal's other fields may be anything as last recorded: only live content is checked.
  if (!a.withdrawn()) {
    if (!a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");
    auto due = rules_->ReviewDueDate(a.cluster(), platform::ClinicalDay(FromProto(a.assessed_at())), policy_);
    if (!due.ok()) return absl::InvalidArgumentError(absl::StrCat("cluster: ", due.status().message()));
  }
  auto folded = services::FoldIntoLedger(ctx, kLedgerFamily, person_id, services::AssessmentFromEvent(a));
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Changed(event, ctx, folded->facts);
}

absl::Status Scheduler::OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  auto folded = services::FoldCareEventRecorded(event, ctx, kLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Changed(event, ctx, folded->facts);
}

absl::Status Scheduler::AdvanceDueReviews(platform::ApplyContext& ctx) const {
  const std::string end = TimerScanEnd(ctx.now());
  std::vector<std::pair<std::string, std::string>> due;  // timer key, person
  auto st = ctx.store().Scan(kTimersFamily, "", [&](absl::string_view key, absl::string_view) {
    if (key >= end || due.size() >= static_cast<size_t>(kPeoplePerPass)) return false;
    const size_t sep = key.find(kSep);
    if (sep != absl::string_view::npos) due.emplace_back(std::string(key), std::string(key.substr(sep + 1)));
    return true;
  });
  if (!st.ok()) return st;
  CountDeltas deltas;
  for (const auto& [timer, person_id] : due) {
    auto facts = services::LoadPersonFacts(ctx.store(), kLedgerFamily, person_id);
    if (!facts.ok()) return facts.status();
    if (auto re = Reevaluate(ctx, person_id, *facts, nullptr, deltas); !re.ok()) {
      // A person the rules can no longer schedule (a rule set without a period for their cluster)
      // must not hold up everyone else's reviews: logged, and left until a new fact arrives.
      if (!absl::IsInvalidArgument(re)) return re;
      PBR_LOG(err) << "review-scheduler: person " << person_id << " cannot be scheduled: " << re.message();
      ctx.batch().Delete(ctx.store().Family(kTimersFamily), timer);
    }
  }
  if (auto applied = ApplyCountDeltas(ctx, deltas); !applied.ok()) return applied;
  // The day the counts hold for, once every timer due by now has been taken.
  if (due.size() < static_cast<size_t>(kPeoplePerPass)) {
    ctx.batch().Put(ctx.store().Family(kMetaFamily), std::string(kTimerDayKey), DayText(platform::ClinicalDay(ctx.now())));
  }
  return absl::OkStatus();
}

absl::StatusOr<pbr::v1::Schedule> Scheduler::Lookup(const platform::StoreReader& store, absl::string_view person_id,
                                                    absl::CivilDay today) {
  auto stored = LoadPerson(store, person_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_schedule()) {
    // Why there is none, from the person's facts: a discharge closes the schedule.
    auto facts = services::LoadPersonFacts(store, kLedgerFamily, person_id);
    if (!facts.ok()) return facts.status();
    const ledger::CareRecord record = ledger::Derive(person_id, *facts);
    if (const ledger::ReferralPeriod* last = record.last_referral(); last != nullptr && !last->open()) {
      return absl::NotFoundError(absl::StrCat("person_id: ", platform::Quote(person_id),
                                              " was discharged from service on ",
                                              absl::FormatCivilTime(platform::ClinicalDay(*last->closed_at)),
                                              ": no review is scheduled"));
    }
    return absl::NotFoundError(absl::StrCat("person_id: no schedule for ", platform::Quote(person_id)));
  }
  pbr::v1::Schedule s = stored->schedule();
  s.set_state(ReviewStateOn(s, today));  // as of now, even between timer passes
  return s;
}

}  // namespace pbr::scheduler
