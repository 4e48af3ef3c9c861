// pbrctl's subcommands. Each returns the process exit code: 0 success, 1 the platform said no or could not
// be reached, 2 bad input (unreadable or malformed file, bad flag value).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "demo_data.h"
#include "pbr/v1/reporting.pb.h"
#include "rpc.h"

namespace pbr::cli {

inline constexpr int kExitOk = 0, kExitFailed = 1, kExitBadInput = 2;

// A flag's date, YYYY-MM-DD and a real calendar day; nullopt otherwise.
std::optional<absl::CivilDay> ParseDateFlag(const std::string& text);
// Empty when `text` is a care cluster; otherwise what is wrong with it (for `--cluster`).
std::string ClusterFlagProblem(const std::string& text);
// A report's scope flag: "trust", "team:<id>", "area:<id>" (a service area) or "commissioner:<id>";
// nullopt otherwise. The server checks the id itself.
std::optional<pbr::v1::ReportScope> ParseScopeFlag(const std::string& text);
// A flag's calendar month, YYYY-MM; nullopt otherwise.
std::optional<absl::CivilMonth> ParseMonthFlag(const std::string& text);

struct QueryFormat {
  bool json = false;
  bool persons = false;  // caseload only: list every person too
};

// Records the RecordAssessmentRequest in `path` ("-" = stdin): the reply with its rule checks and top
// suggestions, or as JSON.
int RunRecord(const RpcOptions& rpc, const std::string& path, const QueryFormat& format);
// Corrects an assessment the EPR sent before: the file is a whole RecordAssessmentRequest with the same
// source_system and source_record_id.
int RunAmend(const RpcOptions& rpc, const std::string& path, const QueryFormat& format);
int RunWithdraw(const RpcOptions& rpc, const std::string& source_system, const std::string& source_record_id,
                const std::string& reason, const QueryFormat& format);
// Records the RecordCareEventRequest in `path`.
int RunCareEvent(const RpcOptions& rpc, const std::string& path, const QueryFormat& format);
// Ranks clusters for the ratings in `path` (see ParseSuggestInput); `service_area` may be empty.
int RunSuggest(const RpcOptions& rpc, const std::string& path, const std::string& service_area,
               const QueryFormat& format);
// Exactly one of `nhs_number` and `person_id` is non-empty.
int RunPerson(const RpcOptions& rpc, const std::string& nhs_number, const std::string& person_id,
              const QueryFormat& format);

// `--all` gathers every page in memory before printing; past this many items it stops (exit 1) with
// the listing so far and the token to go on from, rather than grow without bound. Several times the
// largest caseload a trust holds.
inline constexpr int kMaxListedItems = 200000;
// With `--all`, a line on stderr every this many pages, so a long listing is visibly alive.
inline constexpr int kProgressEveryPages = 10;

// How much of a paged listing to print.
struct PageOptions {
  int page_size = 0;       // 0: the server's default
  std::string page_token;  // start here (from a previous page)
  bool all = false;        // follow next_page_token to the end
  int max_items = kMaxListedItems;  // with `all`: stop after this many
};

struct HistoryOptions {
  bool episodes = false;   // ListEpisodes rather than ListAssessments
  PageOptions pages;
};
int RunHistory(const RpcOptions& rpc, const std::string& person_id, const HistoryOptions& options,
               const QueryFormat& format);
// `pbrctl audit`: the audit trail of one person (by pseudonym) or one caller (certificate subject).
struct AuditOptions {
  std::string person_id;
  std::string caller_subject;
  PageOptions pages;
};
int RunAudit(const RpcOptions& rpc, const AuditOptions& options, const QueryFormat& format);
// The person's next review, the review policy, and their event-triggered reviews.
int RunSchedule(const RpcOptions& rpc, const std::string& person_id, const QueryFormat& format);

// `pbrctl overdue`: the filters are optional (empty, or no cluster); `as_of` is YYYY-MM-DD, empty for
// the scheduler's today. With `pages.all` every page is judged on the first page's as_of.
struct OverdueOptions {
  std::string team_id;
  std::string service_area;
  std::optional<int> cluster;  // 0 is cluster 0 (Variance)
  std::string as_of;
  PageOptions pages;
};
int RunOverdue(const RpcOptions& rpc, const OverdueOptions& options, const QueryFormat& format);

// `pbrctl due`: reviews due from `from` to `to` (YYYY-MM-DD, both required, inclusive).
struct DueOptions {
  std::string from;
  std::string to;
  std::string team_id;  // optional
  PageOptions pages;
};
int RunDue(const RpcOptions& rpc, const DueOptions& options, const QueryFormat& format);

// `pbrctl overdue-count`: overdue reviews per team and cluster (one team's when `team_id` is given).
int RunOverdueCount(const RpcOptions& rpc, const std::string& team_id, const QueryFormat& format);
int RunOutcomes(const RpcOptions& rpc, const std::string& person_id, const QueryFormat& format);
// `pbrctl outcomes-summary`: episodes' outcomes by team, cluster, commissioner or super-class.
struct OutcomesSummaryOptions {
  std::string by = "team";  // team | cluster | commissioner | super-class
  std::string from, to;     // optional days (inclusive)
};
int RunOutcomesSummary(const RpcOptions& rpc, const OutcomesSummaryOptions& options, const QueryFormat& format);
// `care_coordinator_id` empty: the whole team.
int RunCaseload(const RpcOptions& rpc, const std::string& team_id, const std::string& care_coordinator_id,
                const QueryFormat& format);
// `pbrctl kpis`: KPIs 1-13 for one scope and one period.
struct KpisOptions {
  std::string scope = "trust";  // trust | team:<id> | area:<id> | commissioner:<id>
  std::string month;            // YYYY-MM
  std::string as_at;            // YYYY-MM-DD (exactly one of month and as_at)
};
// The request the options ask for; InvalidArgument naming the flag otherwise (the server checks the rest).
absl::StatusOr<pbr::v1::GetKpisRequest> KpisRequestOf(const KpisOptions& options);
int RunKpis(const RpcOptions& rpc, const KpisOptions& options, const QueryFormat& format);
// `pbrctl national`: ACC33/36/37 per cluster at the end of `month` (YYYY-MM) for `scope` (ParseScopeFlag).
struct NationalOptions {
  std::string scope;
  std::string month;
  bool publication_rounding = false;
};
int RunNational(const RpcOptions& rpc, const NationalOptions& options, const QueryFormat& format);

// One commissioner's closed month of tariff lines (Finance.ExportTariff) written to `out` as CSV: written to a
// "<out>.partial.XXXXXX" file of its own, synced, renamed and the directory synced, so `out` is either the whole
// export or as it was. The call may take up to 30 minutes (or --timeout, if longer). Prints the totals.
struct TariffExportOptions {
  std::string commissioner;
  std::string month;  // YYYY-MM
  std::string out;
};
int RunTariffExport(const RpcOptions& rpc, const TariffExportOptions& options, const QueryFormat& format);

// Waits until every service answers the gRPC health check with SERVING, or `deadline` passes.
int RunWaitReady(const RpcOptions& rpc, absl::Duration deadline);
// A sign-in link for the operations dashboard (operations role), printed as a URL to open.
int RunDashboardLink(const RpcOptions& rpc, const QueryFormat& format);
// One service's health within --timeout, for a container's probes: 0 only when it is SERVING.
int RunProbe(const RpcOptions& rpc, const std::string& service);

// Generates the demo set and records it with `concurrency` calls in flight.
int RunDemo(const RpcOptions& rpc, const pbr::demo::DemoOptions& data, int concurrency);

}  // namespace pbr::cli
