#include "api.h"

#include "absl/strings/str_cat.h"
#include "field_rules.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "platform/service_host.h"
#include "projections/caseload/queries.h"

namespace pbr::reporting {

absl::StatusOr<pbr::v1::Caseload> ReportingApi::GetCaseload(const pbr::v1::GetCaseloadRequest& request) const {
  const std::string& team = request.team_id();
  services::Problems p;  // bounded like every identifier, so nothing oversized reaches the store
  p.Identifier("team_id", team, services::Need::kRequired);
  p.Identifier("care_coordinator_id", request.care_coordinator_id(), services::Need::kOptional);
  if (!p.ok()) return p.Result();
  if (rules_->teams().Find(team) == nullptr) {
    return absl::NotFoundError(absl::StrCat("team_id: ", platform::Quote(team),
                                            " is not a team of the rule set's team registry (teams ",
                                            platform::Quote(rules_->teams().version), ")"));
  }
  return TeamCaseload(store_, rules_->catalogue(), team, request.care_coordinator_id(),
                      platform::ClinicalDay(clock_.Now()));
}

grpc::Status ReportingApi::GetCaseload(grpc::ServerContext*, const pbr::v1::GetCaseloadRequest* request,
                                       pbr::v1::Caseload* reply) {
  auto caseload = GetCaseload(*request);
  if (!caseload.ok()) return platform::ToGrpc(caseload.status());
  *reply = *std::move(caseload);
  return grpc::Status::OK;
}

}  // namespace pbr::reporting
