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
  // `rules` supplies the team registry: a caseload is answered for registered teams only. `clock` says
  // which month is the current one (the system's clock when none is given).
  ReportingApi(const platform::Store& store, std::shared_ptr<const care::RuleSet> rules,
               const platform::Clock* clock = nullptr)
      : store_(store), rules_(std::move(rules)), clock_(clock != nullptr ? clock : &system_clock_) {}
  // NOT_FOUND naming team_id for a team the registry does not list; a registered team with nobody on
  // its caseload is an empty caseload.
  absl::StatusOr<pbr::v1::Caseload> GetCaseload(const pbr::v1::GetCaseloadRequest& request) const;
  grpc::Status GetCaseload(grpc::ServerContext*, const pbr::v1::GetCaseloadRequest* request,
                           pbr::v1::Caseload* reply) override;
  // INVALID_ARGUMENT naming the field: scope.kind unspecified or unknown, scope.id given for the trust or
  // missing otherwise, month missing, month.year outside 1900-2999, month.month outside 1-12, a month after
  // the current one. NOT_FOUND naming scope.id: a team the registry does not list, a service area the
  // rules do not define. Any commissioner is a scope (one nobody names has zeros).
  absl::StatusOr<pbr::v1::NationalMeasures> GetNationalMeasures(
      const pbr::v1::GetNationalMeasuresRequest& request) const;
  grpc::Status GetNationalMeasures(grpc::ServerContext*, const pbr::v1::GetNationalMeasuresRequest* request,
                                   pbr::v1::NationalMeasures* reply) override;

 private:
  const platform::Store& store_;
  std::shared_ptr<const care::RuleSet> rules_;
  platform::SystemClock system_clock_;
  const platform::Clock* clock_;
};

}  // namespace pbr::reporting
