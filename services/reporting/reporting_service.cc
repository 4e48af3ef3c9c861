// Reporting's caseload read model: each assessment and care event is folded into the person's
// ledger facts and the person derived afresh by the shared ledger; outcomes keep each assessment's
// HoNOS; review-due keeps the last announcement of each of the person's latest reviews, and the
// caseload shows the one for the current review basis.
#include "reporting_service.h"

#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ledger/ledger.h"
#include "field_rules.h"
#include "ledger_store.h"
#include "pbr/state/v1/state.pb.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "platform/service_host.h"

namespace pbr::reporting {
namespace {

using platform::FromProto;
using pbr::state::v1::ReportingAssessment;
using pbr::state::v1::ReportingPerson;

absl::StatusOr<ReportingPerson> Load(const platform::Store& store, absl::string_view person_id) {
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  ReportingPerson p;
  auto stored = store.Get(kPersonsFamily, person_id);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && !p.ParseFromString(**stored)) return absl::DataLossError("stored person is unreadable");
  return p;
}

void Save(platform::ApplyContext& ctx, const std::string& person_id, const std::string& old_team,
          const ReportingPerson& p) {
  auto& batch = ctx.batch();
  if (old_team != p.team_id()) {
    if (!old_team.empty()) batch.Delete(ctx.store().Family(kTeamIndexFamily), absl::StrCat(old_team, "/", person_id));
    if (!p.team_id().empty()) batch.Put(ctx.store().Family(kTeamIndexFamily), absl::StrCat(p.team_id(), "/", person_id), "");
  }
  batch.Put(ctx.store().Family(kPersonsFamily), person_id, p.SerializeAsString());
}

// The HoNOS held for one assessment, as last received from outcomes ("<person>/<assessment id>").
std::string HonosKey(absl::string_view person_id, absl::string_view assessment_id) {
  return absl::StrCat(person_id, "/", assessment_id);
}

absl::StatusOr<std::optional<ReportingAssessment>> LoadHonos(const platform::Store& store, absl::string_view person_id,
                                                             absl::string_view assessment_id) {
  auto stored = store.Get(kAssessmentsFamily, HonosKey(person_id, assessment_id));
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
  auto p = Load(ctx.store(), person_id);
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
    auto count = ctx.store().Get(kTeamCountsFamily, team);
    if (!count.ok()) return count.status();
    int64_t n = 0;
    if (count->has_value() && !absl::SimpleAtoi(**count, &n)) return absl::DataLossError("stored team count is unreadable");
    ctx.batch().Put(ctx.store().Family(kTeamCountsFamily), team, absl::StrCat(n + delta));
  }
  return absl::OkStatus();
}

// A review is identified by its basis, the basis's MHCT date and its cluster (the scheduler's
// contract, proto/pbr/v1/events.proto ReviewDue): an amended basis with a new date or cluster is
// another review though its id is unchanged.
bool SameReview(const pbr::v1::ReviewDue& a, const pbr::v1::ReviewDue& b) {
  return a.basis_assessment_id() == b.basis_assessment_id() && a.cluster() == b.cluster() &&
         a.has_latest_mhct_date() == b.has_latest_mhct_date() &&
         (!a.has_latest_mhct_date() || FromProto(a.latest_mhct_date()) == FromProto(b.latest_mhct_date()));
}

// A record written by a build that kept only the person's last announcement (fields 8-11) has that
// one, without a due date, until the next announcement moves it into `reviews`.
std::optional<pbr::v1::ReviewDue> LegacyReview(const ReportingPerson& p) {
  if (p.reviews_size() > 0 || p.review_basis_assessment_id().empty()) return std::nullopt;
  pbr::v1::ReviewDue r;
  r.set_basis_assessment_id(p.review_basis_assessment_id());
  r.set_state(p.review_state());
  if (p.has_review_mhct_date()) *r.mutable_latest_mhct_date() = p.review_mhct_date();
  r.set_cluster(p.review_cluster());
  return r;
}

// The announcement the caseload shows: the last one for the person's current review basis (the
// latest live assessment of the open referral period, as the ledger derives it: its id, MHCT date
// and cluster, the current episode's being the basis's), if any. None: the review is UPCOMING, as
// the scheduler holds it, for it announces every other state.
std::optional<pbr::v1::ReviewDue> HonouredReview(const ReportingPerson& p) {
  if (p.latest_assessment_id().empty() || !p.has_latest_assessed_at()) return std::nullopt;
  pbr::v1::ReviewDue basis;
  basis.set_basis_assessment_id(p.latest_assessment_id());
  *basis.mutable_latest_mhct_date() = platform::ToProto(platform::ClinicalDay(FromProto(p.latest_assessed_at())));
  basis.set_cluster(p.cluster());
  for (const pbr::v1::ReviewDue& r : p.reviews()) {
    if (SameReview(r, basis)) return r;
  }
  std::optional<pbr::v1::ReviewDue> legacy = LegacyReview(p);
  if (legacy.has_value() && SameReview(*legacy, basis)) return legacy;
  return std::nullopt;
}

}  // namespace

absl::Status CaseloadModel::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  if (!a.withdrawn() && !a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");
  auto facts = services::LoadPersonFacts(ctx.store(), kLedgerFamily, person_id);
  if (!facts.ok()) return facts.status();
  std::optional<ledger::Assessment> before;
  if (const ledger::Assessment* held = facts->FindAssessment(a.assessment_id())) before = *held;
  if (!facts->Fold(services::AssessmentFromEvent(a))) return absl::OkStatus();  // stale or repeated
  const ledger::Assessment& now = *facts->FindAssessment(a.assessment_id());
  services::StageFact(ctx, kLedgerFamily, person_id, now);
  if (now.withdrawn) {
    // Its HoNOS goes with it (outcomes does not announce withdrawals, so this is where reporting
    // learns of them); a late outcome for it is refused by the ledger's tombstone.
    ctx.batch().Delete(ctx.store().Family(kAssessmentsFamily), HonosKey(person_id, a.assessment_id()));
  }

  // Recorded counts follow the assessment: a move between teams moves one, a withdrawal removes one.
  std::map<std::string, int64_t> deltas;
  if (before.has_value() && !before->withdrawn) --deltas[before->team_id];
  if (!now.withdrawn) ++deltas[now.team_id];
  if (auto st = AddToTeamCounts(ctx, deltas); !st.ok()) return st;
  return Refold(ctx, person_id, *facts);
}

absl::Status CaseloadModel::OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const std::string& person_id = event.event.person_id();
  auto folded = services::FoldCareEventRecorded(event, ctx, kLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Refold(ctx, person_id, folded->facts);
}

absl::Status CaseloadModel::OnClusterChanged(const platform::ConsumedEvent&, platform::ApplyContext&) const {
  return absl::OkStatus();
}

absl::Status CaseloadModel::OnOutcome(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& o = event.event.outcome_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (o.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  auto facts = services::LoadPersonFacts(ctx.store(), kLedgerFamily, person_id);
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
    ctx.batch().Delete(ctx.store().Family(kAssessmentsFamily), key);
  } else {
    held.set_has_outcome(true);
    held.set_honos_total(o.honos_total());
    held.set_honos_valid(o.total_valid());
    ctx.batch().Put(ctx.store().Family(kAssessmentsFamily), key, held.SerializeAsString());
  }
  return Refold(ctx, person_id, *facts, &held);
}

absl::Status CaseloadModel::OnReviewDue(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
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
  auto p = Load(ctx.store(), person_id);
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

absl::StatusOr<pbr::v1::Caseload> CaseloadModel::Caseload(const platform::Store& store, absl::string_view team_id) {
  pbr::v1::Caseload out;
  out.set_team_id(std::string(team_id));
  std::map<int, pbr::v1::ClusterCaseload> clusters;
  std::map<int, int64_t> honos_sums;
  absl::Status failure;
  const std::string prefix = absl::StrCat(team_id, "/");
  auto st = store.Scan(kTeamIndexFamily, prefix, [&](absl::string_view key, absl::string_view) {
    const absl::string_view person_id = key.substr(prefix.size());
    auto p = Load(store, person_id);
    if (!p.ok()) {
      failure = p.status();
      return false;
    }
    const std::optional<pbr::v1::ReviewDue> announced = HonouredReview(*p);
    const pbr::v1::ReviewState review =
        announced.has_value() && (announced->state() == pbr::v1::REVIEW_STATE_DUE ||
                                  announced->state() == pbr::v1::REVIEW_STATE_OVERDUE)
            ? announced->state()
            : pbr::v1::REVIEW_STATE_UPCOMING;
    auto& c = clusters[p->cluster()];
    c.set_cluster(p->cluster());
    c.set_people(c.people() + 1);
    if (review == pbr::v1::REVIEW_STATE_DUE) c.set_reviews_due(c.reviews_due() + 1);
    if (review == pbr::v1::REVIEW_STATE_OVERDUE) c.set_reviews_overdue(c.reviews_overdue() + 1);
    if (p->has_honos()) {
      c.set_people_with_honos(c.people_with_honos() + 1);
      honos_sums[p->cluster()] += p->latest_honos_total();
    }
    auto* person = out.add_persons();
    person->set_person_id(std::string(person_id));
    person->set_cluster(p->cluster());
    person->set_has_honos(p->has_honos());
    person->set_latest_honos_total(p->latest_honos_total());
    person->set_review_state(review);
    // The scheduler's due date, as announced: reporting computes none.
    if (review != pbr::v1::REVIEW_STATE_UPCOMING && announced->has_due_date()) {
      *person->mutable_review_due_date() = announced->due_date();
    }
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  auto count = store.Get(kTeamCountsFamily, team_id);
  if (!count.ok()) return count.status();
  int64_t recorded = 0;
  if (count->has_value() && !absl::SimpleAtoi(**count, &recorded)) {
    return absl::DataLossError("stored team count is unreadable");
  }
  out.set_assessments_recorded(recorded);
  for (auto& [id, c] : clusters) {
    if (c.people_with_honos() > 0) c.set_mean_latest_honos(static_cast<double>(honos_sums[id]) / c.people_with_honos());
    out.set_people(out.people() + c.people());
    out.set_reviews_due(out.reviews_due() + c.reviews_due());
    out.set_reviews_overdue(out.reviews_overdue() + c.reviews_overdue());
    *out.add_clusters() = c;
  }
  return out;
}

absl::StatusOr<pbr::v1::Caseload> ReportingApi::GetCaseload(const pbr::v1::GetCaseloadRequest& request) const {
  const std::string& team = request.team_id();
  services::Problems p;  // bounded like every identifier, so nothing oversized reaches the store
  p.Identifier("team_id", team, services::Need::kRequired);
  if (!p.ok()) return p.Result();
  if (rules_->teams().Find(team) == nullptr) {
    return absl::NotFoundError(absl::StrCat("team_id: ", platform::Quote(team),
                                            " is not a team of the rule set's team registry (teams ",
                                            platform::Quote(rules_->teams().version), ")"));
  }
  return CaseloadModel::Caseload(store_, team);
}

grpc::Status ReportingApi::GetCaseload(grpc::ServerContext*, const pbr::v1::GetCaseloadRequest* request,
                                       pbr::v1::Caseload* reply) {
  auto caseload = GetCaseload(*request);
  if (!caseload.ok()) return platform::ToGrpc(caseload.status());
  *reply = *std::move(caseload);
  return grpc::Status::OK;
}

}  // namespace pbr::reporting
