#include "access.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pbr::services {
namespace {

const std::vector<std::string> kEveryRole = {"epr-feed", "clinician", "operations", "finance", "admin"};

}  // namespace

const std::vector<CallAccess>& AccessMatrix() {
  static const auto* matrix = new std::vector<CallAccess>{
      // Allocation: EPR feeds write their own records; clinicians read one person, identifiably.
      {"/pbr.v1.Allocation/RecordAssessment", {"epr-feed"}},
      {"/pbr.v1.Allocation/RecordCareEvent", {"epr-feed"}},
      {"/pbr.v1.Allocation/RecordIntake", {"epr-feed"}},
      {"/pbr.v1.Allocation/AmendAssessment", {"epr-feed"}, true},
      {"/pbr.v1.Allocation/WithdrawAssessment", {"epr-feed"}, true},
      {"/pbr.v1.Allocation/WithdrawCareEvent", {"epr-feed"}, true},
      {"/pbr.v1.Allocation/SuggestClusters", {"epr-feed", "clinician"}},  // ratings in, clusters out: no identity
      {"/pbr.v1.Allocation/GetPerson", {"clinician"}, true},
      {"/pbr.v1.Allocation/ListEpisodes", {"clinician"}, true},
      {"/pbr.v1.Allocation/ListAssessments", {"clinician"}, true},
      {"/pbr.v1.Allocation/ListReferrals", {"clinician"}, true},
      // Who read or corrected whose record: subjects and pseudonyms, for the trust's information governance.
      {"/pbr.v1.Allocation/ListAudit", {"admin"}},
      // The scheduler, outcomes and reporting: pseudonymous.
      {"/pbr.v1.ReviewScheduler/GetSchedule", {"clinician", "operations"}},
      {"/pbr.v1.ReviewScheduler/ListOverdue", {"operations"}},
      {"/pbr.v1.ReviewScheduler/ListDue", {"operations"}},
      {"/pbr.v1.ReviewScheduler/CountOverdue", {"operations"}},
      {"/pbr.v1.Outcomes/GetOutcomes", {"clinician", "operations"}},
      {"/pbr.v1.Outcomes/SummariseOutcomes", {"operations"}},
      {"/pbr.v1.Reporting/GetCaseload", {"operations"}},
      {"/pbr.v1.Reporting/GetKpis", {"operations"}},
      {"/pbr.v1.Reporting/GetNationalMeasures", {"operations"}},
      {"/pbr.v1.Dashboard/IssueSignInLink", {"operations"}},
      {"/pbr.v1.Finance/StreamTariffActivity", {"finance"}},
      {"/pbr.v1.Finance/ExportTariff", {"finance"}},
      // Every role may ask whether a service is up; only admin may list what it serves.
      {"/grpc.health.v1.Health/Check", kEveryRole},
      {"/grpc.health.v1.Health/Watch", kEveryRole},
      {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", {"admin"}},
  };
  return *matrix;
}

absl::Status AuthorizeCall(const platform::Caller& caller, absl::string_view method) {
  static const auto* by_method = [] {
    auto* m = new std::map<std::string, const CallAccess*, std::less<>>();
    for (const CallAccess& a : AccessMatrix()) m->emplace(a.method, &a);
    return m;
  }();
  const std::string call(method.substr(0, 200));
  auto it = by_method->find(method);
  if (it == by_method->end()) {
    return absl::PermissionDeniedError(absl::StrCat("role ", caller.role, " may not call ", call,
                                                    ": it is not a call of the access matrix"));
  }
  const auto& roles = it->second->roles;
  if (std::find(roles.begin(), roles.end(), caller.role) == roles.end()) {
    return absl::PermissionDeniedError(absl::StrCat("role ", caller.role, " may not call ", call, " (allowed: ",
                                                    absl::StrJoin(roles, ", "), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckOwnSource(const platform::Caller& caller, absl::string_view source_system) {
  // Nothing named is the request's own error: validation refuses it naming the field.
  if (!caller.authenticated || source_system.empty()) return absl::OkStatus();
  if (caller.role != "epr-feed" || caller.source_system != source_system) {
    return absl::PermissionDeniedError(absl::StrCat(
        "source_system: the ", caller.role, caller.source_system.empty() ? "" : absl::StrCat(" for ", caller.source_system),
        " certificate may not record or correct records of source system '", source_system.substr(0, 64), "'"));
  }
  return absl::OkStatus();
}

}  // namespace pbr::services
