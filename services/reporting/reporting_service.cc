#include "reporting_service.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

using Assessments = std::map<std::string, ReportingAssessment>;  // by assessment id

// The person's assessments as stored. Handlers change one entry in memory, write it into the
// batch and derive the person from the map (reads do not see the batch).
absl::StatusOr<Assessments> LoadAssessments(const platform::Store& store, absl::string_view person_id) {
  Assessments out;
  bool corrupt = false;
  auto st = store.Scan(kAssessmentsFamily, absl::StrCat(person_id, "/"), [&](absl::string_view, absl::string_view v) {
    ReportingAssessment a;
    corrupt = !a.ParseFromArray(v.data(), static_cast<int>(v.size()));
    if (!corrupt) out[a.assessment_id()] = std::move(a);
    return !corrupt;
  });
  if (!st.ok()) return st;
  if (corrupt) return absl::DataLossError("stored assessment is unreadable");
  return out;
}

void Put(platform::ApplyContext& ctx, absl::string_view person_id, const ReportingAssessment& a) {
  ctx.batch().Put(ctx.store().Family(kAssessmentsFamily), absl::StrCat(person_id, "/", a.assessment_id()),
                  a.SerializeAsString());
}

bool Live(const ReportingAssessment& a) { return a.recorded() && !a.withdrawn(); }

// The latest live assessment: by assessed_at, ties broken by assessment id (as the scheduler does,
// so its review basis and this read model agree).
const ReportingAssessment* LatestLive(const Assessments& all) {
  const ReportingAssessment* latest = nullptr;
  for (const auto& [id, a] : all) {
    if (!Live(a)) continue;
    if (latest == nullptr || FromProto(a.assessed_at()) > FromProto(latest->assessed_at()) ||
        (FromProto(a.assessed_at()) == FromProto(latest->assessed_at()) && id > latest->assessment_id())) {
      latest = &a;
    }
  }
  return latest;
}

// Derives the person's team, cluster and HoNOS from their latest live assessment (none: the
// person leaves every caseload) and moves the team index with them.
absl::Status Refold(platform::ApplyContext& ctx, const std::string& person_id, const Assessments& all) {
  auto p = Load(ctx.store(), person_id);
  if (!p.ok()) return p.status();
  const std::string old_team = p->team_id();
  const ReportingAssessment* latest = LatestLive(all);
  p->clear_team_id();
  p->clear_cluster();
  p->clear_latest_assessment_id();
  p->clear_latest_assessed_at();
  p->clear_has_honos();
  p->clear_latest_honos_total();
  p->clear_honos_assessed_at();
  if (latest != nullptr) {
    p->set_team_id(latest->team_id());
    p->set_cluster(latest->cluster());
    p->set_latest_assessment_id(latest->assessment_id());
    *p->mutable_latest_assessed_at() = latest->assessed_at();
    if (latest->has_outcome()) {
      p->set_has_honos(latest->honos_valid());
      p->set_latest_honos_total(latest->honos_total());
      *p->mutable_honos_assessed_at() = latest->assessed_at();
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

// A review counts only while it belongs to the person's latest assessment as it now stands.
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
  auto all = LoadAssessments(ctx.store(), person_id);
  if (!all.ok()) return all.status();
  ReportingAssessment& held = (*all)[a.assessment_id()];
  if (held.recorded() && a.revision() <= held.revision()) return absl::OkStatus();  // stale or repeated

  const ReportingAssessment before = held;
  held.set_assessment_id(a.assessment_id());
  held.set_recorded(true);
  held.set_revision(a.revision());
  held.set_withdrawn(a.withdrawn());
  if (a.withdrawn()) {
    // Its content no longer counts anywhere, and its HoNOS goes with it (outcomes does not
    // announce withdrawals, so this is where reporting learns of them).
    held.clear_assessed_at();
    held.clear_team_id();
    held.clear_cluster();
    held.clear_has_outcome();
    held.clear_honos_total();
    held.clear_honos_valid();
  } else {
    *held.mutable_assessed_at() = a.assessed_at();
    held.set_team_id(a.team_id());
    held.set_cluster(a.cluster());
  }
  Put(ctx, person_id, held);

  // Recorded counts follow the assessment: a move between teams moves one, a withdrawal removes one.
  std::map<std::string, int64_t> deltas;
  if (Live(before)) --deltas[before.team_id()];
  if (Live(held)) ++deltas[held.team_id()];
  if (auto st = AddToTeamCounts(ctx, deltas); !st.ok()) return st;
  return Refold(ctx, person_id, *all);
}

absl::Status CaseloadModel::OnClusterChanged(const platform::ConsumedEvent&, platform::ApplyContext&) const {
  return absl::OkStatus();
}

absl::Status CaseloadModel::OnOutcome(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& o = event.event.outcome_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (o.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  auto all = LoadAssessments(ctx.store(), person_id);
  if (!all.ok()) return all.status();
  ReportingAssessment& held = (*all)[o.assessment_id()];
  // A withdrawn assessment has no outcome, whatever arrives for it afterwards. Otherwise the
  // outcome last received wins: outcomes announces revisions in order on one partition.
  if (held.withdrawn()) return absl::OkStatus();
  held.set_assessment_id(o.assessment_id());
  if (o.withdrawn()) {  // the assessment's own withdrawal may not have arrived yet
    held.set_has_outcome(false);
    held.set_honos_total(0);
    held.set_honos_valid(false);
    Put(ctx, person_id, held);
    return Refold(ctx, person_id, *all);
  }
  held.set_has_outcome(true);
  held.set_honos_total(o.honos_total());
  held.set_honos_valid(o.total_valid());
  Put(ctx, person_id, held);
  return Refold(ctx, person_id, *all);
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
