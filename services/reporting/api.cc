#include "api.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "field_rules.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "platform/service_host.h"
#include "projections/caseload/queries.h"
#include "projections/kpis/queries.h"
#include "projections/national_measures/queries.h"

namespace pbr::reporting {
namespace {

// A report's scope (KPIs and national measures alike): a kind, and an id that the trust must not have and
// the others must (bounded like every identifier).
void CheckScopeFields(const pbr::v1::ReportScope& scope, services::Problems& p) {
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
      p.Add("scope.kind", scope.kind() == pbr::v1::REPORT_SCOPE_UNSPECIFIED
                              ? "unspecified: name the trust, a team, a service area or a commissioner"
                              : absl::StrCat(scope.kind(), " is not a scope kind"));
  }
}

// A well-formed scope names something that exists: a team of the registry, a service area of the rules
// (NOT_FOUND otherwise). A commissioner is any identifier: one nobody names simply has zeros.
absl::Status CheckScopeExists(const pbr::v1::ReportScope& scope, const care::RuleSet& rules) {
  if (scope.kind() == pbr::v1::REPORT_SCOPE_TEAM && rules.teams().Find(scope.id()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("scope.id: ", platform::Quote(scope.id()),
                                            " is not a team of the rule set's team registry (teams ",
                                            platform::Quote(rules.teams().version), ")"));
  }
  if (scope.kind() == pbr::v1::REPORT_SCOPE_SERVICE_AREA && rules.service_areas().Find(scope.id()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("scope.id: ", platform::Quote(scope.id()),
                                            " is not a service area of the rules (service areas ",
                                            platform::Quote(rules.service_areas().version), ")"));
  }
  return absl::OkStatus();
}

// A calendar month: present and a real month (the caller says whether it may be after the current one).
void CheckMonthFields(bool present, const pbr::v1::CalendarMonth& m, services::Problems& p) {
  if (!present) {
    p.Add("month", "missing");
    return;
  }
  if (m.year() < 1900 || m.year() > 2999) p.Add("month.year", absl::StrCat(m.year(), " is not in 1900-2999"));
  if (m.month() < 1 || m.month() > 12) p.Add("month.month", absl::StrCat(m.month(), " is not in 1-12"));
}

}  // namespace

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
                      platform::ClinicalDay(clock_->Now()));
}

grpc::Status ReportingApi::GetCaseload(grpc::ServerContext*, const pbr::v1::GetCaseloadRequest* request,
                                       pbr::v1::Caseload* reply) {
  auto caseload = GetCaseload(*request);
  if (!caseload.ok()) return platform::ToGrpc(caseload.status());
  *reply = *std::move(caseload);
  return grpc::Status::OK;
}

absl::StatusOr<pbr::v1::NationalMeasures> ReportingApi::GetNationalMeasures(
    const pbr::v1::GetNationalMeasuresRequest& request) const {
  services::Problems p;
  CheckScopeFields(request.scope(), p);
  CheckMonthFields(request.has_month(), request.month(), p);
  if (!p.ok()) return p.Result();
  if (auto st = CheckScopeExists(request.scope(), *rules_); !st.ok()) return st;
  const absl::CivilMonth month(request.month().year(), request.month().month());
  const absl::CivilMonth current(platform::ClinicalDay(clock_->Now()));
  if (month > current) {
    return absl::InvalidArgumentError(absl::StrCat("month: ", absl::FormatCivilTime(month),
                                                   " is after the current month ", absl::FormatCivilTime(current)));
  }
  return NationalMeasuresAt(store_, *rules_, request.scope(), month, request.publication_rounding());
}

grpc::Status ReportingApi::GetNationalMeasures(grpc::ServerContext*, const pbr::v1::GetNationalMeasuresRequest* request,
                                               pbr::v1::NationalMeasures* reply) {
  auto measures = GetNationalMeasures(*request);
  if (!measures.ok()) return platform::ToGrpc(measures.status());
  *reply = *std::move(measures);
  return grpc::Status::OK;
}

absl::StatusOr<pbr::v1::KpiReport> ReportingApi::GetKpis(const pbr::v1::GetKpisRequest& request,
                                                         absl::CivilDay today) const {
  services::Problems p;
  CheckScopeFields(request.scope(), p);
  switch (request.period_case()) {
    case pbr::v1::GetKpisRequest::kMonth: {
      CheckMonthFields(true, request.month(), p);
      const pbr::v1::CalendarMonth& m = request.month();
      if (p.ok() && absl::CivilMonth(m.year(), m.month()) > absl::CivilMonth(today)) {
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
  if (auto st = CheckScopeExists(request.scope(), *rules_); !st.ok()) return st;
  return kpis::KpiReportFor(store_, *rules_, policy_, request, today);
}

grpc::Status ReportingApi::GetKpis(grpc::ServerContext*, const pbr::v1::GetKpisRequest* request,
                                   pbr::v1::KpiReport* reply) {
  auto report = GetKpis(*request, platform::ClinicalDay(clock_->Now()));
  if (!report.ok()) return platform::ToGrpc(report.status());
  *reply = *std::move(report);
  return grpc::Status::OK;
}

}  // namespace pbr::reporting
