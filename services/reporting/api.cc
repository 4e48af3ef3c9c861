#include "api.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "field_rules.h"
#include "platform/quote.h"
#include "platform/service_host.h"
#include "platform/events.h"
#include "projections/caseload/queries.h"
#include "projections/kpis/queries.h"

namespace pbr::reporting {

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
  return TeamCaseload(store_, team);
}

grpc::Status ReportingApi::GetCaseload(grpc::ServerContext*, const pbr::v1::GetCaseloadRequest* request,
                                       pbr::v1::Caseload* reply) {
  auto caseload = GetCaseload(*request);
  if (!caseload.ok()) return platform::ToGrpc(caseload.status());
  *reply = *std::move(caseload);
  return grpc::Status::OK;
}

absl::StatusOr<pbr::v1::KpiReport> ReportingApi::GetKpis(const pbr::v1::GetKpisRequest& request,
                                                         absl::CivilDay today) const {
  services::Problems p;
  const pbr::v1::ReportScope& scope = request.scope();
  switch (scope.kind()) {
    case pbr::v1::REPORT_SCOPE_TRUST:
      if (!scope.id().empty()) p.Add("scope.id", "must be empty for the trust");
      break;
    case pbr::v1::REPORT_SCOPE_TEAM:
    case pbr::v1::REPORT_SCOPE_SERVICE_AREA:
    case pbr::v1::REPORT_SCOPE_COMMISSIONER:
      p.Identifier("scope.id", scope.id(), services::Need::kRequired);
      break;
    default:
      p.Add("scope.kind", "must be one of TRUST, TEAM, SERVICE_AREA, COMMISSIONER");
  }
  switch (request.period_case()) {
    case pbr::v1::GetKpisRequest::kMonth: {
      const pbr::v1::CalendarMonth& m = request.month();
      const bool month_ok = m.month() >= 1 && m.month() <= 12;
      const bool year_ok = m.year() >= 1900 && m.year() <= 2999;
      if (!month_ok) p.Add("month.month", absl::StrCat(m.month(), " is outside 1-12"));
      if (!year_ok) p.Add("month.year", absl::StrCat(m.year(), " is outside 1900-2999"));
      if (month_ok && year_ok && absl::CivilMonth(m.year(), m.month()) > absl::CivilMonth(today)) {
        p.Add("month", absl::StrFormat("%04d-%02d is after the current month", m.year(), m.month()));
      }
      break;
    }
    case pbr::v1::GetKpisRequest::kAsAt:
      p.Date("as_at", request.as_at(), true, services::Need::kRequired);
      if (p.ok() && platform::FromProto(request.as_at()) > today) p.Add("as_at", "is after today");
      break;
    default:
      p.Add("period", "missing: give a month or as_at");
  }
  if (!p.ok()) return p.Result();
  if (scope.kind() == pbr::v1::REPORT_SCOPE_TEAM && rules_->teams().Find(scope.id()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("scope.id: ", platform::Quote(scope.id()),
                                            " is not a team of the rule set's team registry (teams ",
                                            platform::Quote(rules_->teams().version), ")"));
  }
  if (scope.kind() == pbr::v1::REPORT_SCOPE_SERVICE_AREA && rules_->service_areas().Find(scope.id()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("scope.id: ", platform::Quote(scope.id()),
                                            " is not a service area of the rules (service areas ",
                                            platform::Quote(rules_->service_areas().version), ")"));
  }
  return kpis::KpiReportFor(store_, *rules_, policy_, request, today);
}

grpc::Status ReportingApi::GetKpis(grpc::ServerContext*, const pbr::v1::GetKpisRequest* request,
                                   pbr::v1::KpiReport* reply) {
  const absl::Time now = clock_ != nullptr ? clock_->Now() : absl::Now();
  auto report = GetKpis(*request, platform::ClinicalDay(now));
  if (!report.ok()) return platform::ToGrpc(report.status());
  *reply = *std::move(report);
  return grpc::Status::OK;
}

}  // namespace pbr::reporting
