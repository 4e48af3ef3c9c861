#pragma once
// Reporting's gRPC handlers: each checks its request (errors name the field), calls one projection's
// query and answers. No reporting logic lives here.
#include <memory>

#include "absl/time/civil_time.h"
#include "care/rules.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "platform/clock.h"
#include "platform/store.h"

namespace pbr::reporting {

class ReportingApi final : public pbr::v1::Reporting::Service {
 public:
  // `rules` supplies the team registry: a caseload is answered for registered teams only. `clock` says
  // which month and day are the current ones (the system's clock when none is given); `policy` is the
  // review policy the KPI projection times reviews by (the service's review-policy setting).
  ReportingApi(const platform::StoreReader& store, std::shared_ptr<const care::RuleSet> rules,
               const platform::Clock* clock = nullptr, care::ReviewPolicy policy = care::ReviewPolicy::kTrustSop)
      : store_(store), rules_(std::move(rules)), clock_(clock != nullptr ? clock : &system_clock_), policy_(policy) {}
  // NOT_FOUND naming team_id for a team the registry does not list; a registered team with nobody on
  // its caseload is an empty caseload. INVALID_ARGUMENT naming the field for a team_id or
  // care_coordinator_id that is not an identifier.
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

  // KPIs 1-13 (projections/kpis/queries.h). INVALID_ARGUMENT naming the field for an unspecified scope
  // kind (scope.kind), a trust scope with an id or another scope without a well-formed one (scope.id), no
  // period (period), a month outside 1-12 (month.month) or a year outside 1900-2999 (month.year), an
  // impossible as_at (as_at), or a period after today (month, as_at); NOT_FOUND naming scope.id for a team
  // the registry does not list or a service area the rules do not. A commissioner nobody names is zeros.
  absl::StatusOr<pbr::v1::KpiReport> GetKpis(const pbr::v1::GetKpisRequest& request, absl::CivilDay today) const;
  grpc::Status GetKpis(grpc::ServerContext*, const pbr::v1::GetKpisRequest* request,
                       pbr::v1::KpiReport* reply) override;

 private:
  const platform::StoreReader& store_;
  std::shared_ptr<const care::RuleSet> rules_;
  platform::SystemClock system_clock_;
  const platform::Clock* clock_;
  care::ReviewPolicy policy_;
};

}  // namespace pbr::reporting
