#include "scheduler.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "platform/events.h"
#include "platform/service_host.h"

namespace pbr::scheduler {
namespace {

using platform::FromProto;
using platform::ToProto;
namespace topic = platform::topic;

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
                     pbr::v1::Schedule schedule, const pbr::v1::EventEnvelope& cause) const {
  auto& batch = ctx.batch();
  const auto& store = ctx.store();
  if (previous != nullptr) {
    if (auto day = NextChange(*previous)) batch.Delete(store.Family(kTimersFamily), TimerKey(*day, person_id));
  }
  if (auto day = NextChange(schedule)) batch.Put(store.Family(kTimersFamily), TimerKey(*day, person_id), "");
  batch.Put(store.Family(kSchedulesFamily), person_id, schedule.SerializeAsString());

  const bool announce = schedule.state() == pbr::v1::REVIEW_STATE_DUE || schedule.state() == pbr::v1::REVIEW_STATE_OVERDUE;
  if (!announce || (previous != nullptr && previous->basis_assessment_id() == schedule.basis_assessment_id() &&
                    previous->state() == schedule.state())) {
    return;
  }
  const std::string state_name = pbr::v1::ReviewState_Name(schedule.state());
  auto event = platform::MakeEnvelope(
      topic::kReviewDue,
      platform::DeterministicId(topic::kReviewDue, {person_id, schedule.basis_assessment_id(), state_name}),
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
  if (!a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");

  auto stored = ctx.store().Get(kSchedulesFamily, person_id);
  if (!stored.ok()) return stored.status();
  std::optional<pbr::v1::Schedule> previous;
  if (stored->has_value()) {
    previous.emplace();
    if (!previous->ParseFromString(**stored)) return absl::DataLossError("stored schedule is unreadable");
    // The review clock runs from the latest MHCT: an older assessment arriving late changes nothing.
    if (FromProto(previous->basis_assessed_at()) > FromProto(a.assessed_at())) return absl::OkStatus();
  }

  const absl::CivilDay mhct_day = platform::ClinicalDay(FromProto(a.assessed_at()));
  auto due = rules_->ReviewDueDate(a.cluster(), mhct_day, policy_);
  if (!due.ok()) return absl::InvalidArgumentError(absl::StrCat("cluster: ", due.status().message()));

  pbr::v1::Schedule schedule;
  schedule.set_person_id(person_id);
  schedule.set_team_id(a.team_id());
  schedule.set_cluster(a.cluster());
  schedule.set_basis_assessment_id(a.assessment_id());
  *schedule.mutable_basis_assessed_at() = a.assessed_at();
  *schedule.mutable_latest_mhct_date() = ToProto(mhct_day);
  *schedule.mutable_window_opens() = ToProto(due->window_opens);
  *schedule.mutable_due_date() = ToProto(due->due);
  schedule.set_rule_version(due->rule_version);
  schedule.set_state(ReviewStateOn(schedule, platform::ClinicalDay(ctx.now())));
  Save(ctx, person_id, previous ? &*previous : nullptr, std::move(schedule), event.event);
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
    auto stored = ctx.store().Get(kSchedulesFamily, person_id);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) continue;
    pbr::v1::Schedule previous;
    if (!previous.ParseFromString(**stored)) return absl::DataLossError("stored schedule is unreadable");
    pbr::v1::Schedule next = previous;
    next.set_state(ReviewStateOn(next, today));
    if (next.state() == previous.state()) continue;
    pbr::v1::EventEnvelope cause;  // a timer has no upstream event
    Save(ctx, person_id, &previous, std::move(next), cause);
  }
  return absl::OkStatus();
}

absl::StatusOr<pbr::v1::Schedule> Scheduler::Lookup(const platform::Store& store, absl::string_view person_id,
                                                    absl::CivilDay today) {
  auto stored = store.Get(kSchedulesFamily, person_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return absl::NotFoundError(absl::StrCat("person_id: no schedule for '", person_id, "'"));
  pbr::v1::Schedule s;
  if (!s.ParseFromString(**stored)) return absl::DataLossError("stored schedule is unreadable");
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
