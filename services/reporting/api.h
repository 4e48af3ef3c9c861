#pragma once
// Reporting's gRPC handlers: each checks its request (errors name the field), calls one projection's
// query and answers. No reporting logic lives here.
#include <memory>

#include "care/rules.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "platform/clock.h"
#include "platform/store.h"

namespace pbr::reporting {

class ReportingApi final : public pbr::v1::Reporting::Service {
 public:
  // `rules` supplies the team registry (a caseload is answered for registered teams only) and the cluster
  // catalogue; `clock` is the service's, whose clinical day is the today time-based figures count to.
  ReportingApi(const platform::Store& store, std::shared_ptr<const care::RuleSet> rules, const platform::Clock& clock)
      : store_(store), rules_(std::move(rules)), clock_(clock) {}
  // NOT_FOUND naming team_id for a team the registry does not list; a registered team with nobody on
  // its caseload is an empty caseload. INVALID_ARGUMENT naming the field for a team_id or
  // care_coordinator_id that is not an identifier.
  absl::StatusOr<pbr::v1::Caseload> GetCaseload(const pbr::v1::GetCaseloadRequest& request) const;
  grpc::Status GetCaseload(grpc::ServerContext*, const pbr::v1::GetCaseloadRequest* request,
                           pbr::v1::Caseload* reply) override;

 private:
  const platform::Store& store_;
  std::shared_ptr<const care::RuleSet> rules_;
  const platform::Clock& clock_;
};

}  // namespace pbr::reporting
