// Reporting's caseload read model: each assessment and care event is folded into the person's
// ledger facts and the person derived afresh by the shared ledger; outcomes keep each assessment's
// HoNOS; review-due keeps the last announcement of each of the person's latest reviews, and the
// caseload shows the one for the current review basis.
#include "caseload.h"
#include "person_record.h"

#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ledger/ledger.h"
#include "field_rules.h"
#include "ledger_store.h"
#include "pbr/state/v1/caseload_state.pb.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "platform/service_host.h"

namespace pbr::reporting {
namespace {

using platform::FromProto;
using pbr::state::v1::ReportingAssessment;
using pbr::state::v1::ReportingPerson;

void Save(platform::ApplyContext& ctx, const std::string& person_id, const std::string& old_team,
          const ReportingPerson& p) {
  auto& batch = ctx.batch();
  if (old_team != p.team_id()) {
    if (!old_team.empty()) batch.Delete(ctx.store().Family(kCaseloadTeamIndexFamily), absl::StrCat(old_team, "/", person_id));
    if (!p.team_id().empty()) batch.Put(ctx.store().Family(kCaseloadTeamIndexFamily), absl::StrCat(p.team_id(), "/", person_id), "");
  }
  batch.Put(ctx.store().Family(kCaseloadPersonsFamily), person_id, p.SerializeAsString());
}

// The HoNOS held for one assessment, as last received from outcomes ("<person>/<assessment id>").
std::string HonosKey(absl::string_view person_id, absl::string_view assessment_id) {
  return absl::StrCat(person_id, "/", assessment_id);
}

absl::StatusOr<std::optional<ReportingAssessment>> LoadHonos(const platform::Store& store, absl::string_view person_id,
                                                             absl::string_view assessment_id) {
  auto stored = store.Get(kCaseloadAssessmentsFamily, HonosKey(person_id, assessment_id));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<ReportingAssessment>();
  ReportingAssessment a;
  if (!a.ParseFromString(**stored)) return absl::DataLossError("stored assessment outcome is unreadable");
  return std::optional<ReportingAssessment>(std::move(a));
}

// Derives the person afresh from their ledger facts and moves the team index with them. They are on
// a caseload only while they have an open referral period with a current cluster episode: their team
// is the review basis's (the latest live assessment of the open referral), their cluster the
// episode's, their HoNOS the basis's. Otherwise (discharged, referred but not yet allocated, nothing
// live) they leave every caseload. `fresh` is a HoNOS record staged by this message, which the
// store's reads do not see yet.
absl::Status Refold(platform::ApplyContext& ctx, const std::string& person_id, const ledger::PersonFacts& facts,
                    const ReportingAssessment* fresh = nullptr) {
  auto p = LoadPerson(ctx.store(), person_id);
  if (!p.ok()) return p.status();
  const std::string old_team = p->team_id();
  p->clear_team_id();
  p->clear_cluster();
  p->clear_latest_assessment_id();
  p->clear_latest_assessed_at();
  p->clear_has_honos();
  p->clear_latest_honos_total();
  p->clear_honos_assessed_at();
  const ledger::CareRecord record = ledger::Derive(person_id, facts);
  const ledger::Episode* episode = record.current_episode();
  const std::optional<ledger::ReviewBasis> basis = record.review_basis();
  if (episode != nullptr && basis.has_value()) {
    p->set_team_id(basis->team_id);
    p->set_cluster(episode->cluster);
    p->set_latest_assessment_id(basis->assessment_id);
    *p->mutable_latest_assessed_at() = platform::ToProto(basis->assessed_at);
    std::optional<ReportingAssessment> honos;
    if (fresh != nullptr && fresh->assessment_id() == basis->assessment_id) {
      honos = *fresh;
    } else {
      auto held = LoadHonos(ctx.store(), person_id, basis->assessment_id);
      if (!held.ok()) return held.status();
      honos = *std::move(held);
    }
    if (honos.has_value() && honos->has_outcome()) {
      p->set_has_honos(honos->honos_valid());
      p->set_latest_honos_total(honos->honos_total());
      *p->mutable_honos_assessed_at() = platform::ToProto(basis->assessed_at);
    }
  }
  Save(ctx, person_id, old_team, *p);
  return absl::OkStatus();
}

// Running per-team counts of live assessments: exact because each event is applied exactly once.
absl::Status AddToTeamCounts(platform::ApplyContext& ctx, const std::map<std::string, int64_t>& deltas) {
  for (const auto& [team, delta] : deltas) {
    if (delta == 0) continue;
    auto count = ctx.store().Get(kCaseloadTeamCountsFamily, team);
    if (!count.ok()) return count.status();
    int64_t n = 0;
    if (count->has_value() && !absl::SimpleAtoi(**count, &n)) return absl::DataLossError("stored team count is unreadable");
    ctx.batch().Put(ctx.store().Family(kCaseloadTeamCountsFamily), team, absl::StrCat(n + delta));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CaseloadProjection::derivation() const {
  return rules_ != nullptr ? absl::StrCat("rules ", rules_->version()) : std::string();
}

std::vector<std::string> CaseloadProjection::topics() const {
  namespace topic = platform::topic;
  return {std::string(topic::kAssessmentRecorded), std::string(topic::kCareEventRecorded),
          std::string(topic::kOutcomeRecorded), std::string(topic::kReviewDue)};
}

std::vector<std::string> CaseloadProjection::families() const {
  return {std::begin(kCaseloadFamilies), std::end(kCaseloadFamilies)};
}

absl::Status CaseloadProjection::Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  namespace topic = platform::topic;
  if (event.topic_name == topic::kAssessmentRecorded) return OnAssessment(event, ctx);
  if (event.topic_name == topic::kCareEventRecorded) return OnCareEvent(event, ctx);
  if (event.topic_name == topic::kOutcomeRecorded) return OnOutcome(event, ctx);
  if (event.topic_name == topic::kReviewDue) return OnReviewDue(event, ctx);
  return absl::OkStatus();
}

absl::Status CaseloadProjection::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  if (!a.withdrawn() && !a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");
  auto facts = services::LoadPersonFacts(ctx.store(), kCaseloadLedgerFamily, person_id);
  if (!facts.ok()) return facts.status();
  std::optional<ledger::Assessment> before;
  if (const ledger::Assessment* held = facts->FindAssessment(a.assessment_id())) before = *held;
  if (!facts->Fold(services::AssessmentFromEvent(a))) return absl::OkStatus();  // stale or repeated
  const ledger::Assessment& now = *facts->FindAssessment(a.assessment_id());
  services::StageFact(ctx, kCaseloadLedgerFamily, person_id, now);
  if (now.withdrawn) {
    // Its HoNOS goes with it (outcomes does not announce withdrawals, so this is where reporting
    // learns of them); a late outcome for it is refused by the ledger's tombstone.
    ctx.batch().Delete(ctx.store().Family(kCaseloadAssessmentsFamily), HonosKey(person_id, a.assessment_id()));
  }

  // Recorded counts follow the assessment: a move between teams moves one, a withdrawal removes one.
  std::map<std::string, int64_t> deltas;
  if (before.has_value() && !before->withdrawn) --deltas[before->team_id];
  if (!now.withdrawn) ++deltas[now.team_id];
  if (auto st = AddToTeamCounts(ctx, deltas); !st.ok()) return st;
  return Refold(ctx, person_id, *facts);
}

absl::Status CaseloadProjection::OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const std::string& person_id = event.event.person_id();
  auto folded = services::FoldCareEventRecorded(event, ctx, kCaseloadLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Refold(ctx, person_id, folded->facts);
}

absl::Status CaseloadProjection::OnOutcome(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& o = event.event.outcome_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (o.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  auto facts = services::LoadPersonFacts(ctx.store(), kCaseloadLedgerFamily, person_id);
  if (!facts.ok()) return facts.status();
  // A withdrawn assessment has no outcome, whatever arrives for it afterwards. Otherwise the
  // outcome last received wins: outcomes announces revisions in order on one partition. An
  // outcome may arrive before its assessment (the topics are not ordered with each other).
  if (const ledger::Assessment* a = facts->FindAssessment(o.assessment_id()); a != nullptr && a->withdrawn) {
    return absl::OkStatus();
  }
  ReportingAssessment held;
  held.set_assessment_id(o.assessment_id());
  const std::string key = HonosKey(person_id, o.assessment_id());
  if (o.withdrawn()) {  // the assessment's own withdrawal may not have arrived yet
    ctx.batch().Delete(ctx.store().Family(kCaseloadAssessmentsFamily), key);
  } else {
    held.set_has_outcome(true);
    held.set_honos_total(o.honos_total());
    held.set_honos_valid(o.total_valid());
    ctx.batch().Put(ctx.store().Family(kCaseloadAssessmentsFamily), key, held.SerializeAsString());
  }
  return Refold(ctx, person_id, *facts, &held);
}

absl::Status CaseloadProjection::OnReviewDue(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& r = event.event.review_due();
  // A missed event-triggered review (or its retraction) says nothing about the formal review: its
  // OVERDUE and basis fields are the trigger's, not an announcement of the review's state. Not kept
  // here (KPI reporting will build on it), and not refused.
  if (r.has_trigger()) return absl::OkStatus();
  if (r.basis_assessment_id().empty()) return absl::InvalidArgumentError("basis_assessment_id: empty");
  if (!r.has_latest_mhct_date()) {
    return absl::InvalidArgumentError("latest_mhct_date: missing (with the basis and cluster it identifies the review)");
  }
  const std::string& person_id = event.event.person_id();
  auto p = LoadPerson(ctx.store(), person_id);
  if (!p.ok()) return p.status();
  // The last announcement for each review key wins: the scheduler announces one person's reviews in
  // order on this topic, and a review's state only moves forward, so nothing is ranked here (an
  // "overdue outranks due" rule would drop a legitimate re-announcement). Kept per key, for the 4
  // reviews announced most recently, rather than only the person's last announcement: the
  // assessment and care-event topics are not ordered with this one, so reporting's basis may still
  // be one the scheduler has since moved on from (its announcements for the new basis arrived
  // first), or may return to one (a withdrawal, an amendment undone, a discharge withdrawn) before
  // the scheduler's re-announcement of it arrives; either way the caseload shows what was announced
  // for the basis reporting holds. A basis older than the 4 shows UPCOMING until its re-announcement.
  constexpr int kReviewsKept = 4;
  if (std::optional<pbr::v1::ReviewDue> legacy = LegacyReview(*p)) *p->add_reviews() = *std::move(legacy);
  p->clear_review_basis_assessment_id();
  p->clear_review_state();
  p->clear_review_mhct_date();
  p->clear_review_cluster();
  pbr::v1::ReviewDue kept;  // the key, the state and the due date: all the caseload shows
  kept.set_basis_assessment_id(r.basis_assessment_id());
  *kept.mutable_latest_mhct_date() = r.latest_mhct_date();
  kept.set_cluster(r.cluster());
  kept.set_state(r.state());
  if (r.has_due_date()) *kept.mutable_due_date() = r.due_date();
  auto* reviews = p->mutable_reviews();
  for (int i = reviews->size() - 1; i >= 0; --i) {
    if (SameReview(reviews->Get(i), kept)) reviews->DeleteSubrange(i, 1);
  }
  *reviews->Add() = std::move(kept);
  if (reviews->size() > kReviewsKept) reviews->DeleteSubrange(0, reviews->size() - kReviewsKept);
  Save(ctx, person_id, p->team_id(), *p);
  return absl::OkStatus();
}

}  // namespace pbr::reporting
