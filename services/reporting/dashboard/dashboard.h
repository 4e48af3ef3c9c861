#pragma once
// The operations dashboard: the page operations teams open every morning, and the JSON it reads
// (services/reporting/dashboard/README.md documents every endpoint). Each JSON answer is built from the
// same calls the gRPC API answers from (ReportingApi's checked queries, the caseload's review index, the
// team outcomes' tallies), so the page and a gRPC client see the same figures. People are pseudonyms and
// teams registry ids: no NHS number, EPR id or clinician is ever in an answer.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "api.h"
#include "care/rules.h"
#include "platform/clock.h"
#include "platform/consumer.h"
#include "platform/http_server.h"
#include "platform/store.h"

namespace pbr::reporting {

// What the page's filters and period selector ask for, checked: a team of the registry, a service area
// of the rules, a commissioner identifier, a month not after the current one.
struct DashboardQuery {
  std::string team_id;
  std::string service_area;
  std::string commissioner_id;
  absl::CivilMonth month;  // the KPI period; the current month when not given
};

// Where the process and its consumer stand, for the page's "last updated" and its warnings.
struct DashboardStatusSource {
  absl::Time started_at;
  std::function<platform::Consumer::Progress()> progress;
};

class Dashboard {
 public:
  Dashboard(const platform::StoreReader& store, std::shared_ptr<const care::RuleSet> rules, const ReportingApi& api,
            const platform::Clock& clock, DashboardStatusSource status);

  // Reads ?team=&service_area=&commissioner=&month=YYYY-MM. INVALID_ARGUMENT naming the parameter for a
  // malformed one, NOT_FOUND naming it for a team or service area the rules do not know.
  absl::StatusOr<DashboardQuery> ParseQuery(const platform::HttpRequest& request) const;

  // The JSON answers (README.md in this folder).
  std::string Status() const;
  std::string Filters() const;
  absl::StatusOr<std::string> Reviews(const DashboardQuery& q) const;
  absl::StatusOr<std::string> Kpis(const DashboardQuery& q) const;
  absl::StatusOr<std::string> Caseloads(const DashboardQuery& q) const;
  absl::StatusOr<std::string> Outcomes(const DashboardQuery& q) const;
  // Everything the page shows in one answer, so a refresh is one request (the panels are read one after
  // another, not from one snapshot).
  absl::StatusOr<std::string> Everything(const DashboardQuery& q) const;

  // Registers the page, its assets and the JSON endpoints.
  void Register(const std::function<void(const std::string&, platform::HttpHandler)>& serve) const;

  // At most this many teams' caseload profiles in one answer (each reads the team's rows).
  static constexpr size_t kMaxCaseloadTeams = 12;
  // At most this many reviews in each list (totals and groups count every one).
  static constexpr size_t kMaxListedReviews = 200;
  static constexpr int kDueWithinDays = 7;

 private:
  const platform::StoreReader& store_;
  std::shared_ptr<const care::RuleSet> rules_;
  const ReportingApi& api_;
  const platform::Clock& clock_;
  DashboardStatusSource status_;
};

}  // namespace pbr::reporting
