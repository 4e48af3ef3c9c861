#include "reporting_service.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pbr/state/v1/state.pb.h"
#include "platform/events.h"
#include "platform/service_host.h"

namespace pbr::reporting {
namespace {

using platform::FromProto;
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

// Applies the latest assessment's team and cluster (newest clinical time wins).
void TakeAssessment(ReportingPerson& p, const std::string& assessment_id, const google::protobuf::Timestamp& at,
                    const std::string& team_id, int cluster) {
  if (p.has_latest_assessed_at() && FromProto(p.latest_assessed_at()) > FromProto(at)) return;
  p.set_latest_assessment_id(assessment_id);
  *p.mutable_latest_assessed_at() = at;
  p.set_team_id(team_id);
  p.set_cluster(cluster);
}

}  // namespace

absl::Status CaseloadModel::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  auto p = Load(ctx.store(), event.event.person_id());
  if (!p.ok()) return p.status();
  const std::string old_team = p->team_id();
  TakeAssessment(*p, a.assessment_id(), a.assessed_at(), a.team_id(), a.cluster());
  Save(ctx, event.event.person_id(), old_team, *p);
  // A running count: correct only because each event is applied exactly once.
  auto count = ctx.store().Get(kTeamCountsFamily, a.team_id());
  if (!count.ok()) return count.status();
  int64_t n = 0;
  if (count->has_value() && !absl::SimpleAtoi(**count, &n)) return absl::DataLossError("stored team count is unreadable");
  ctx.batch().Put(ctx.store().Family(kTeamCountsFamily), a.team_id(), absl::StrCat(n + 1));
  return absl::OkStatus();
}

absl::Status CaseloadModel::OnClusterChanged(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& c = event.event.cluster_changed();
  auto p = Load(ctx.store(), event.event.person_id());
  if (!p.ok()) return p.status();
  const std::string old_team = p->team_id();
  TakeAssessment(*p, c.assessment_id(), c.effective_at(), c.team_id(), c.cluster());
  Save(ctx, event.event.person_id(), old_team, *p);
  return absl::OkStatus();
}

absl::Status CaseloadModel::OnOutcome(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& o = event.event.outcome_recorded();
  auto p = Load(ctx.store(), event.event.person_id());
  if (!p.ok()) return p.status();
  if (p->has_honos_assessed_at() && FromProto(p->honos_assessed_at()) > FromProto(o.assessed_at())) {
    return absl::OkStatus();
  }
  p->set_has_honos(o.total_valid());
  p->set_latest_honos_total(o.honos_total());
  *p->mutable_honos_assessed_at() = o.assessed_at();
  Save(ctx, event.event.person_id(), p->team_id(), *p);
  return absl::OkStatus();
}

absl::Status CaseloadModel::OnReviewDue(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& r = event.event.review_due();
  auto p = Load(ctx.store(), event.event.person_id());
  if (!p.ok()) return p.status();
  // A review belongs to one assessment; overdue outranks due for the same one.
  if (p->review_basis_assessment_id() == r.basis_assessment_id() && p->review_state() >= r.state()) {
    return absl::OkStatus();
  }
  p->set_review_basis_assessment_id(r.basis_assessment_id());
  p->set_review_state(r.state());
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
    // A review announcement counts only while it belongs to the person's latest assessment.
    const pbr::v1::ReviewState review = p->review_basis_assessment_id() == p->latest_assessment_id()
                                            ? p->review_state()
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

grpc::Status ReportingApi::GetCaseload(grpc::ServerContext*, const pbr::v1::GetCaseloadRequest* request,
                                       pbr::v1::Caseload* reply) {
  if (request->team_id().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "team_id: required");
  auto caseload = CaseloadModel::Caseload(store_, request->team_id());
  if (!caseload.ok()) return platform::ToGrpc(caseload.status());
  *reply = *std::move(caseload);
  return grpc::Status::OK;
}

}  // namespace pbr::reporting
