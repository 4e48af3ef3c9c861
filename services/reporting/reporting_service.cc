// Reporting's caseload read model: each assessment and care event is folded into the person's
// ledger facts and the person derived afresh by the shared ledger; outcomes keep each assessment's
// HoNOS; review-due keeps the review last announced, honoured only for the current review basis.
#include "reporting_service.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ledger/ledger.h"
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

// Whether the stored review is the one `r` announces (overdue then outranks due). The MHCT date
// and cluster tell an amended basis apart from its earlier revision.
bool SameReview(const ReportingPerson& p, const pbr::v1::ReviewDue& r) {
  if (p.review_basis_assessment_id() != r.basis_assessment_id()) return false;
  if (p.has_review_mhct_date() != r.has_latest_mhct_date()) return false;
  return !r.has_latest_mhct_date() ||
         (FromProto(p.review_mhct_date()) == FromProto(r.latest_mhct_date()) && p.review_cluster() == r.cluster());
}

// A review counts only while it belongs to the person's review basis as it now stands (the latest
// live assessment of the open referral period: its id, MHCT date and cluster).
pbr::v1::ReviewState HonouredReview(const ReportingPerson& p) {
  if (p.latest_assessment_id().empty() || p.review_basis_assessment_id() != p.latest_assessment_id()) {
    return pbr::v1::REVIEW_STATE_UPCOMING;
  }
  if (p.has_review_mhct_date() &&
      (FromProto(p.review_mhct_date()) != platform::ClinicalDay(FromProto(p.latest_assessed_at())) ||
       p.review_cluster() != p.cluster())) {
    return pbr::v1::REVIEW_STATE_UPCOMING;  // announced for an earlier revision of the basis
  }
  return p.review_state();
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
  auto p = Load(ctx.store(), event.event.person_id());
  if (!p.ok()) return p.status();
  // A review belongs to one assessment (as of one revision); overdue outranks due for the same one.
  if (SameReview(*p, r) && p->review_state() >= r.state()) return absl::OkStatus();
  p->set_review_basis_assessment_id(r.basis_assessment_id());
  p->set_review_state(r.state());
  if (r.has_latest_mhct_date()) {
    *p->mutable_review_mhct_date() = r.latest_mhct_date();
  } else {
    p->clear_review_mhct_date();
  }
  p->set_review_cluster(r.cluster());
  Save(ctx, event.event.person_id(), p->team_id(), *p);
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
    const pbr::v1::ReviewState review = HonouredReview(*p);
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
    person->set_review_state(review == pbr::v1::REVIEW_STATE_UNSPECIFIED ? pbr::v1::REVIEW_STATE_UPCOMING : review);
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
  if (team.empty()) return absl::InvalidArgumentError("team_id: required");
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
