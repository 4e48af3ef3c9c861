// The review scheduler: each assessment or care event is folded into the person's ledger facts,
// the person is derived afresh by the shared ledger, and the schedule follows the review basis (or
// is closed when there is none). Timers ("<day>/<person>") move schedules between states.
#include "scheduler.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ledger_store.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "platform/service_host.h"

namespace pbr::scheduler {
namespace {

using platform::FromProto;
using platform::ToProto;
namespace topic = platform::topic;

// The review basis a schedule was made from, as far as it identifies the review.
ledger::ReviewBasis BasisOf(const pbr::v1::Schedule& s) {
  ledger::ReviewBasis b;
  b.assessment_id = s.basis_assessment_id();
  b.assessed_at = FromProto(s.basis_assessed_at());
  b.cluster = s.cluster();
  b.team_id = s.team_id();
  return b;
}

// Same review, same team: the schedule would come out the same.
bool SameBasis(const pbr::v1::Schedule& s, const ledger::ReviewBasis& basis) {
  return BasisOf(s).key() == basis.key() && s.team_id() == basis.team_id;
}

absl::StatusOr<std::optional<pbr::v1::Schedule>> LoadSchedule(const platform::Store& store,
                                                              absl::string_view person_id) {
  auto stored = store.Get(kSchedulesFamily, person_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<pbr::v1::Schedule>();
  pbr::v1::Schedule s;
  if (!s.ParseFromString(**stored)) return absl::DataLossError("stored schedule is unreadable");
  return std::optional<pbr::v1::Schedule>(std::move(s));
}

std::string TimerKey(absl::CivilDay day, absl::string_view person_id) {
  return absl::StrFormat("%04d-%02d-%02d/%s", day.year(), day.month(), day.day(), person_id);
}

// The day on which the schedule next changes state, if it will.
std::optional<absl::CivilDay> NextChange(const pbr::v1::Schedule& s) {
  switch (s.state()) {
    case pbr::v1::REVIEW_STATE_UPCOMING: return FromProto(s.window_opens());
    case pbr::v1::REVIEW_STATE_DUE: return FromProto(s.due_date()) + 1;
    default: return std::nullopt;
  }
}

}  // namespace

pbr::v1::ReviewState ReviewStateOn(const pbr::v1::Schedule& schedule, absl::CivilDay today) {
  care::ReviewDue due;
  due.due = FromProto(schedule.due_date());
  due.window_opens = FromProto(schedule.window_opens());
  if (care::IsOverdue(due, today)) return pbr::v1::REVIEW_STATE_OVERDUE;
  if (today >= due.window_opens) return pbr::v1::REVIEW_STATE_DUE;
  return pbr::v1::REVIEW_STATE_UPCOMING;
}

void Scheduler::Save(platform::ApplyContext& ctx, const std::string& person_id, const pbr::v1::Schedule* previous,
                     pbr::v1::Schedule schedule, int32_t basis_revision, const pbr::v1::EventEnvelope& cause) const {
  auto& batch = ctx.batch();
  const auto& store = ctx.store();
  if (previous != nullptr) {
    if (auto day = NextChange(*previous)) batch.Delete(store.Family(kTimersFamily), TimerKey(*day, person_id));
  }
  if (auto day = NextChange(schedule)) batch.Put(store.Family(kTimersFamily), TimerKey(*day, person_id), "");
  batch.Put(store.Family(kSchedulesFamily), person_id, schedule.SerializeAsString());

  const bool announce = schedule.state() == pbr::v1::REVIEW_STATE_DUE || schedule.state() == pbr::v1::REVIEW_STATE_OVERDUE;
  // Reporting matches a review to its basis by id, MHCT date and cluster, so an amended basis
  // (same id, new date or cluster) in the same state is announced again.
  if (!announce || (previous != nullptr && previous->basis_assessment_id() == schedule.basis_assessment_id() &&
                    FromProto(previous->latest_mhct_date()) == FromProto(schedule.latest_mhct_date()) &&
                    previous->cluster() == schedule.cluster() && previous->state() == schedule.state())) {
    return;
  }
  const std::string state_name = pbr::v1::ReviewState_Name(schedule.state());
  // Per basis revision and cause: a timer moves one revision into a state at most once, and an
  // assessment event causes at most one announcement; anything less would collide with an
  // earlier announcement of the same basis and be dropped by consumers as a duplicate.
  auto event = platform::MakeEnvelope(
      topic::kReviewDue,
      platform::DeterministicId(topic::kReviewDue, {person_id, schedule.basis_assessment_id(), state_name,
                                                    absl::StrCat(basis_revision), cause.event_id()}),
      person_id,
      absl::FromCivil(schedule.state() == pbr::v1::REVIEW_STATE_DUE ? FromProto(schedule.window_opens())
                                                                    : FromProto(schedule.due_date()) + 1,
                      platform::ClinicalTimeZone()),
      ctx.now(), cause.source_system(), cause.trace_id());
  auto* r = event.mutable_review_due();
  r->set_basis_assessment_id(schedule.basis_assessment_id());
  r->set_team_id(schedule.team_id());
  r->set_cluster(schedule.cluster());
  *r->mutable_latest_mhct_date() = schedule.latest_mhct_date();
  *r->mutable_window_opens() = schedule.window_opens();
  *r->mutable_due_date() = schedule.due_date();
  r->set_state(schedule.state());
  r->set_rule_version(schedule.rule_version());
  ctx.Emit(topic::kReviewDue, event);
}

absl::Status Scheduler::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  // A withdrawal's other fields may be anything as last recorded: only live content is checked.
  if (!a.withdrawn()) {
    if (!a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");
    auto due = rules_->ReviewDueDate(a.cluster(), platform::ClinicalDay(FromProto(a.assessed_at())), policy_);
    if (!due.ok()) return absl::InvalidArgumentError(absl::StrCat("cluster: ", due.status().message()));
  }
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  auto folded = services::FoldIntoLedger(ctx, kLedgerFamily, person_id, services::AssessmentFromEvent(a));
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Reschedule(ctx, person_id, folded->facts, event.event);
}

absl::Status Scheduler::OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const std::string& person_id = event.event.person_id();
  auto folded = services::FoldCareEventRecorded(event, ctx, kLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Reschedule(ctx, person_id, folded->facts, event.event);
}

absl::Status Scheduler::Reschedule(platform::ApplyContext& ctx, const std::string& person_id,
                                   const ledger::PersonFacts& facts, const pbr::v1::EventEnvelope& cause) const {
  const ledger::CareRecord record = ledger::Derive(person_id, facts);
  const std::optional<ledger::ReviewBasis> basis = record.review_basis();
  auto previous = LoadSchedule(ctx.store(), person_id);
  if (!previous.ok()) return previous.status();

  if (!basis.has_value()) {  // discharged, or nothing live to review: the schedule is closed
    if (previous->has_value()) {
      if (auto day = NextChange(**previous)) ctx.batch().Delete(ctx.store().Family(kTimersFamily), TimerKey(*day, person_id));
      ctx.batch().Delete(ctx.store().Family(kSchedulesFamily), person_id);
    }
    return absl::OkStatus();
  }
  // The review clock runs from the basis's MHCT date: an older assessment arriving late, a change to
  // one that is not the basis, or a care event that leaves the basis as it was, changes nothing.
  if (previous->has_value() && SameBasis(**previous, *basis)) return absl::OkStatus();

  const absl::CivilDay mhct_day = platform::ClinicalDay(basis->assessed_at);
  auto due = rules_->ReviewDueDate(basis->cluster, mhct_day, policy_);
  if (!due.ok()) return absl::InvalidArgumentError(absl::StrCat("cluster: ", due.status().message()));

  pbr::v1::Schedule schedule;
  schedule.set_person_id(person_id);
  schedule.set_team_id(basis->team_id);
  schedule.set_cluster(basis->cluster);
  schedule.set_basis_assessment_id(basis->assessment_id);
  *schedule.mutable_basis_assessed_at() = ToProto(basis->assessed_at);
  *schedule.mutable_latest_mhct_date() = ToProto(mhct_day);
  *schedule.mutable_window_opens() = ToProto(due->window_opens);
  *schedule.mutable_due_date() = ToProto(due->due);
  schedule.set_rule_version(due->rule_version);
  schedule.set_state(ReviewStateOn(schedule, platform::ClinicalDay(ctx.now())));
  Save(ctx, person_id, previous->has_value() ? &**previous : nullptr, std::move(schedule), basis->revision, cause);
  return absl::OkStatus();
}

absl::Status Scheduler::AdvanceDueReviews(platform::ApplyContext& ctx) const {
  const absl::CivilDay today = platform::ClinicalDay(ctx.now());
  const std::string end = TimerKey(today + 1, "");  // every timer up to and including today
  std::vector<std::string> people;
  constexpr size_t kPerPass = 5000;  // bounded work per pass; the next pass takes the rest
  auto st = ctx.store().Scan(kTimersFamily, "", [&](absl::string_view key, absl::string_view) {
    if (key >= end || people.size() >= kPerPass) return false;
    people.emplace_back(key.substr(key.find('/') + 1));
    return true;
  });
  if (!st.ok()) return st;
  for (const auto& person_id : people) {
    auto stored = LoadSchedule(ctx.store(), person_id);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) continue;
    const pbr::v1::Schedule& previous = **stored;
    pbr::v1::Schedule next = previous;
    next.set_state(ReviewStateOn(next, today));
    if (next.state() == previous.state()) continue;
    auto basis = services::LoadLedgerAssessment(ctx.store(), kLedgerFamily, person_id, next.basis_assessment_id());
    if (!basis.ok()) return basis.status();
    pbr::v1::EventEnvelope cause;  // a timer has no upstream event
    Save(ctx, person_id, &previous, std::move(next), basis->has_value() ? (*basis)->revision : 0, cause);
  }
  return absl::OkStatus();
}

absl::StatusOr<pbr::v1::Schedule> Scheduler::Lookup(const platform::Store& store, absl::string_view person_id,
                                                    absl::CivilDay today) {
  auto stored = LoadSchedule(store, person_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
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
  pbr::v1::Schedule s = **std::move(stored);
  s.set_state(ReviewStateOn(s, today));  // as of now, even between timer passes
  return s;
}

grpc::Status ReviewSchedulerApi::GetSchedule(grpc::ServerContext*, const pbr::v1::GetScheduleRequest* request,
                                             pbr::v1::Schedule* reply) {
  if (request->person_id().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "person_id: required");
  auto s = Scheduler::Lookup(store_, request->person_id(), platform::ClinicalDay(clock_.Now()));
  if (!s.ok()) return platform::ToGrpc(s.status());
  *reply = *std::move(s);
  return grpc::Status::OK;
}

}  // namespace pbr::scheduler
