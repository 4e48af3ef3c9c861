// pbrctl: command-line client for the care-cluster platform's gRPC services.
#include <CLI/CLI.hpp>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "commands.h"
#include "tls_flags.h"

namespace {

using pbr::cli::kExitBadInput;

// Every field is printed, zeros included: cluster 0 is a real cluster and a count of 0 is an answer.
constexpr const char* kJsonHelp = "print the reply as JSON (every field, zeros and false included)";

// Validates a duration flag where it is parsed, so CLI11 reports it like any other bad value.
CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return pbr::cli::ParseCliDuration(value) ? "" : "expected a positive duration such as 10s, 500ms or 2m";
      },
      "DURATION");
}

CLI::Validator DateValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        absl::CivilDay day;
        return absl::ParseCivilTime(value, &day) ? "" : "expected a date YYYY-MM-DD";
      },
      "DATE");
}

CLI::Validator ScopeValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return pbr::cli::ParseScopeFlag(value) ? "" : "expected trust, team:<id>, area:<id> or commissioner:<id>";
      },
      "SCOPE");
}

CLI::Validator MonthValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return pbr::cli::ParseMonthFlag(value) ? "" : "expected a month YYYY-MM";
      },
      "MONTH");
}

// Care clusters are 0-21 without 9; checked where parsed, so the error names the flag.
CLI::Validator ClusterValidator() {
  return CLI::Validator([](std::string& value) { return pbr::cli::ClusterFlagProblem(value); }, "CLUSTER");
}

// --page-size, --page-token and --all for a paged listing; `max_page_size` is the call's own limit.
void AddPageFlags(CLI::App& cmd, pbr::cli::PageOptions& pages, int max_page_size, const std::string& default_size) {
  cmd.add_option("--page-size", pages.page_size, "items per page (server default " + default_size + ")")
      ->check(CLI::Range(1, max_page_size));
  cmd.add_option("--page-token", pages.page_token, "start at this page (from a previous listing)");
  cmd.add_flag("--all", pages.all,
               absl::StrCat("follow the pages to the end (at most ", pbr::cli::kMaxListedItems, " items)"));
}

void AddAddressFlags(CLI::App& app, pbr::cli::RpcOptions& rpc) {
  app.add_option("--allocation", rpc.allocation, "allocation service address")
      ->envname("PBRCTL_ALLOCATION_ADDR")->capture_default_str()->group("Services");
  app.add_option("--scheduler", rpc.scheduler, "review-scheduler service address")
      ->envname("PBRCTL_SCHEDULER_ADDR")->capture_default_str()->group("Services");
  app.add_option("--outcomes", rpc.outcomes, "outcomes service address")
      ->envname("PBRCTL_OUTCOMES_ADDR")->capture_default_str()->group("Services");
  app.add_option("--reporting", rpc.reporting, "reporting service address")
      ->envname("PBRCTL_REPORTING_ADDR")->capture_default_str()->group("Services");
}

// Midnight UTC of `date`, or now when it is empty.
absl::Time AsOf(const std::string& date) {
  absl::CivilDay day;
  if (date.empty() || !absl::ParseCivilTime(date, &day)) return absl::Now();
  return absl::FromCivil(day, absl::UTCTimeZone());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pbrctl: record assessments and query the care-cluster platform."};
  app.footer(
      "Exit status: 0 success, 1 the platform refused or could not be reached, 2 bad input.\n"
      "Run `pbrctl SUBCOMMAND --help` for a subcommand's options.");
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand too
  app.set_version_flag("--version", "pbrctl 1 (pbr.v1 contracts)");

  pbr::cli::RpcOptions rpc;
  AddAddressFlags(app, rpc);
  std::string timeout = "10s";
  app.add_option("--timeout", timeout, "deadline for each call")->check(DurationValidator())->capture_default_str();
  pbr::cli::TlsFlags tls;
  pbr::cli::AddTlsFlags(app, tls);

  std::string file;
  std::string id;
  pbr::cli::QueryFormat format;
  auto* record = app.add_subcommand("record", "Record one MHCT assessment (RecordAssessmentRequest as JSON)");
  record->add_option("FILE", file, "JSON file, or - for stdin")->required();
  record->add_flag("--json", format.json, kJsonHelp);
  record->footer("Example: pbrctl record tools/pbrctl/examples/assessment.json\n"
                 "Prints the ids, the rule checks and the best-fitting clusters. Field names in either form\n"
                 "(sourceSystem or source_system); assessedAt as an RFC 3339 time; reason as\n"
                 "ASSESSMENT_REASON_INITIAL etc.; \"cluster\" is required (0 is a real cluster: say it);\n"
                 "careCoordinatorId names the care co-ordinator when it is not the clinician.\n"
                 "A cluster that breaks the rules is refused unless the file gives a clinicalRationale.");
  auto* amend = app.add_subcommand("amend", "Correct a recorded assessment (the whole RecordAssessmentRequest again)");
  amend->add_option("FILE", file, "JSON file, or - for stdin")->required();
  amend->add_flag("--json", format.json, kJsonHelp);
  amend->footer("The assessment is found by sourceSystem and sourceRecordId; everything else is replaced.");

  std::string source_system, source_record_id, withdraw_reason;
  auto* withdraw = app.add_subcommand("withdraw", "Withdraw a recorded assessment (the EPR's record was wrong)");
  withdraw->add_option("SOURCE_SYSTEM", source_system, "the EPR that sent it, e.g. rio-north")->required();
  withdraw->add_option("SOURCE_RECORD_ID", source_record_id, "the EPR's id for the assessment")->required();
  withdraw->add_option("--reason", withdraw_reason, "why, kept with the record");
  withdraw->add_flag("--json", format.json, kJsonHelp);

  auto* care_event = app.add_subcommand("care-event", "Record a care event (RecordCareEventRequest as JSON)");
  care_event->add_option("FILE", file, "JSON file, or - for stdin")->required();
  care_event->add_flag("--json", format.json, kJsonHelp);
  care_event->footer("Example: pbrctl care-event tools/pbrctl/examples/care_event.json\n"
                     "type as CARE_EVENT_REFERRAL_TO_CRHT etc.; outOfHours applies to referrals only.");

  std::string service_area;
  auto* suggest = app.add_subcommand("suggest", "Rank the clusters that fit a set of MHCT ratings (records nothing)");
  suggest->add_option("FILE", file, "JSON file, or - for stdin: MhctRatings or a RecordAssessmentRequest")->required();
  suggest->add_option("--service-area", service_area, "only clusters this service area holds, e.g. crht");
  suggest->add_flag("--json", format.json, kJsonHelp);
  suggest->footer("Examples: pbrctl suggest tools/pbrctl/examples/assessment.json\n"
                  "          echo '{\"items\": [0,1,0,0,1,0,3,2,2,1,0,2,0,0,1,0,1,1], \"item8ProblemType\": \"B\"}' \\\n"
                  "            | pbrctl suggest -\n"
                  "Of a RecordAssessmentRequest only the ratings are used.");

  std::string nhs_number;
  auto* person = app.add_subcommand("person", "Show a person by NHS number or person id");
  auto* nhs_option = person->add_option("--nhs", nhs_number, "the NHS number (10 digits)");
  person->add_option("PERSON_ID", id, "the platform's person id")->excludes(nhs_option);
  person->add_flag("--json", format.json, kJsonHelp);

  pbr::cli::HistoryOptions history_options;
  auto* history = app.add_subcommand("history", "List a person's assessments (or episodes), newest first");
  history->add_option("PERSON_ID", id, "the platform's person id")->required();
  history->add_flag("--episodes", history_options.episodes, "list cluster episodes instead of assessments");
  AddPageFlags(*history, history_options.pages, 500, "50");
  history->add_flag("--json", format.json, std::string(kJsonHelp) + "; with --all, every page in one reply");

  pbr::cli::AuditOptions audit_options;
  auto* audit = app.add_subcommand("audit", "List who read or corrected whose record (admin), newest first");
  auto* audit_person = audit->add_option("--person", audit_options.person_id, "a person id (pseudonym)");
  audit->add_option("--caller", audit_options.caller_subject, "a caller's certificate subject, e.g. CN=dr-jones")
      ->excludes(audit_person);
  AddPageFlags(*audit, audit_options.pages, 500, "100");
  audit->add_flag("--json", format.json, std::string(kJsonHelp) + "; with --all, every page in one reply");
  audit->footer("Every identifiable read (person, history, ListReferrals) and every amendment or withdrawal is recorded\n"
                "with the caller's certificate subject and role, the call, the time and the person's pseudonym.\n"
                "Example: pbrctl audit --person 3f2a... --all");

  auto* schedule = app.add_subcommand(
      "schedule", "Show a person's next cluster review, the review policy and their event-triggered reviews");
  schedule->add_option("PERSON_ID", id, "the platform's person id (from a record reply)")->required();
  schedule->add_flag("--json", format.json, kJsonHelp);

  pbr::cli::OverdueOptions overdue_options;
  int cluster = 0;
  auto* overdue = app.add_subcommand("overdue", "List the overdue reviews, oldest due date first");
  overdue->add_option("--team", overdue_options.team_id, "only this team's, e.g. cmht-north");
  overdue->add_option("--area", overdue_options.service_area, "only this service area's, e.g. crht");
  auto* cluster_option = overdue->add_option("--cluster", cluster, "only this cluster's (0 is cluster 0, Variance)")
                             ->check(ClusterValidator());
  overdue->add_option("--as-of", overdue_options.as_of, "judge overdue on this day (default: the scheduler's today)")
      ->check(DateValidator());
  AddPageFlags(*overdue, overdue_options.pages, 1000, "100");
  overdue->add_flag("--json", format.json, std::string(kJsonHelp) + "; with --all, every page in one reply");
  overdue->footer("A review is on time on its due date and overdue from the next day.\n"
                  "Example: pbrctl overdue --team cmht-north --cluster 4 --all");

  pbr::cli::DueOptions due_options;
  auto* due = app.add_subcommand("due", "List the reviews due between two days (inclusive), earliest first");
  due->add_option("--from", due_options.from, "the first due date")->required()->check(DateValidator());
  due->add_option("--to", due_options.to, "the last due date (at most 366 days after --from)")
      ->required()->check(DateValidator());
  due->add_option("--team", due_options.team_id, "only this team's");
  AddPageFlags(*due, due_options.pages, 1000, "100");
  due->add_flag("--json", format.json, std::string(kJsonHelp) + "; with --all, every page in one reply");
  due->footer("Example: pbrctl due --from 2026-03-01 --to 2026-03-31 --team cmht-north --all");

  std::string count_team;
  auto* overdue_count = app.add_subcommand("overdue-count", "Count the overdue reviews per team and cluster");
  overdue_count->add_option("--team", count_team, "only this team's counts");
  overdue_count->add_flag("--json", format.json, kJsonHelp);
  overdue_count->footer("The figures of the pbr_reviews_overdue gauge, as of the scheduler's last timer pass.");
  auto* outcomes = app.add_subcommand("outcomes", "Show a person's HoNOS outcomes, oldest first, and each episode's pair");
  outcomes->add_option("PERSON_ID", id, "the platform's person id (from a record reply)")->required();
  outcomes->add_flag("--json", format.json, kJsonHelp);
  pbr::cli::OutcomesSummaryOptions summary_options;
  auto* outcomes_summary =
      app.add_subcommand("outcomes-summary", "Summarise episodes' HoNOS outcomes by team, cluster, commissioner or super-class");
  outcomes_summary->add_option("--by", summary_options.by, "team, cluster, commissioner or super-class")
      ->capture_default_str();
  outcomes_summary->add_option("--from", summary_options.from, "count episodes whose last valid rating is on or after this day")
      ->check(DateValidator());
  outcomes_summary->add_option("--to", summary_options.to, "... and on or before this day")->check(DateValidator());
  outcomes_summary->add_flag("--json", format.json, kJsonHelp);
  outcomes_summary->footer("Example: pbrctl outcomes-summary --by cluster --from 2026-04-01 --to 2027-03-31");
  auto* caseload =
      app.add_subcommand("caseload", "Show a team's caseload profile: clusters, time in them, contact, cases to discuss");
  caseload->add_option("TEAM_ID", id, "team id, e.g. cmht-north")->required();
  std::string care_coordinator;
  caseload->add_option("--care-coordinator", care_coordinator, "only the people this care co-ordinator holds");
  caseload->add_flag("--json", format.json, kJsonHelp);
  caseload->add_flag("--persons", format.persons, "list every person on the caseload (else only the cases to discuss)");
  pbr::cli::NationalOptions national_options;
  auto* national =
      app.add_subcommand("national", "Show ACC33/36/37 per cluster at a month end (national review periods)");
  national->add_option("--scope", national_options.scope, "trust, team:<id>, area:<service area> or commissioner:<id>")
      ->required()->check(ScopeValidator());
  national->add_option("--month", national_options.month, "the month, YYYY-MM (not after the current one)")
      ->required()->check(MonthValidator());
  national->add_flag("--publication-rounding", national_options.publication_rounding,
                     "as published: counts under 5 suppressed, others rounded to the nearest 5");
  national->add_flag("--json", format.json, kJsonHelp);
  national->footer("Example: pbrctl national --scope team:cmht-north --month 2026-03 --publication-rounding");

  pbr::cli::KpisOptions kpis_options;
  auto* kpis = app.add_subcommand("kpis", "Show KPIs 1-13 (SOP 4.9) for a scope and a month or a day");
  kpis->add_option("--scope", kpis_options.scope, "trust, team:<id>, area:<id> or commissioner:<id>")
      ->capture_default_str();
  auto* kpis_month = kpis->add_option("--month", kpis_options.month, "a calendar month YYYY-MM (not after this one)");
  kpis->add_option("--as-at", kpis_options.as_at, "a day YYYY-MM-DD (not after today): its month up to it")
      ->check(DateValidator())
      ->excludes(kpis_month);
  kpis->add_flag("--json", format.json, kJsonHelp);
  kpis->footer("KPIs 1-3 count the caseload on one day; 4-13 count the month's records by their own dates "
               "(rules/README.md \"KPIs\").\nExample: pbrctl kpis --scope team:cmht-north --month 2026-03");

  pbr::cli::TariffExportOptions tariff_options;
  auto* tariff_export = app.add_subcommand(
      "tariff-export", "Write one commissioner's tariff lines for a closed month to a CSV file (finance)");
  tariff_export->add_option("--commissioner", tariff_options.commissioner, "commissioner code, e.g. 00X")->required();
  tariff_export->add_option("--month", tariff_options.month, "a closed month YYYY-MM")->required()->check(MonthValidator());
  tariff_export->add_option("--out", tariff_options.out, "the CSV file to write (replaced only when complete)")
      ->required();
  tariff_export->add_flag("--json", format.json, "print the totals as JSON");
  tariff_export->footer("Columns: rules/README.md \"Tariff export\". Every original, reversal and restatement issued "
                        "for the month; their sum is the month's current figure.\n"
                        "Example: pbrctl tariff-export --commissioner 00X --month 2026-10 --out 00X-2026-10.csv");

  pbr::demo::DemoOptions demo;
  int concurrency = 8;
  std::string as_of;
  auto* demo_cmd = app.add_subcommand(
      "demo", "Generate a synthetic care history (referrals, contacts, assessments, transfers, discharges, "
              "corrections; NHS numbers 999...) and send it");
  demo_cmd->add_option("--people", demo.people, "people to generate")->check(CLI::Range(1, 100000))->capture_default_str();
  demo_cmd->add_option("--seed", demo.seed, "random seed: the same seed and date give the same data")->capture_default_str();
  demo_cmd->add_option("--concurrency", concurrency, "calls in flight")->check(CLI::Range(1, 64))->capture_default_str();
  demo_cmd->add_option("--history-years", demo.history_years, "years of history")->check(CLI::Range(1, 10))->capture_default_str();
  demo_cmd->add_option("--as-of", as_of, "end of the history (default today, UTC); re-sending an earlier "
                                         "load needs its date")->check(DateValidator());
  demo_cmd->footer("Re-running with the same seed on the same day is answered as duplicates.");

  std::string deadline = "60s";
  auto* wait_ready = app.add_subcommand("wait-ready", "Wait until all four services report SERVING");
  wait_ready->add_option("--deadline", deadline, "how long to wait")->check(DurationValidator())->capture_default_str();
  auto* dashboard_link = app.add_subcommand(
      "dashboard-link", "Print a sign-in link for the operations dashboard (operations role; valid 5 minutes)");
  dashboard_link->add_flag("--json", format.json, kJsonHelp);
  std::string probe_service;
  auto* probe = app.add_subcommand("probe", "Check one service's health within --timeout (exit 0 when SERVING)");
  probe->add_option("SERVICE", probe_service, "allocation, review-scheduler, outcomes or reporting")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes are small positive numbers; keep its help output but map failures to "bad input".
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }
  rpc.timeout = *pbr::cli::ParseCliDuration(timeout);
  if (auto st = pbr::cli::UseTls(tls); !st.ok() || !(st = pbr::cli::CheckPlaintextTargets(rpc, tls)).ok()) {
    std::cerr << "error: " << st.message() << "\n";
    return kExitBadInput;
  }

  if (*record) return pbr::cli::RunRecord(rpc, file, format);
  if (*amend) return pbr::cli::RunAmend(rpc, file, format);
  if (*withdraw) return pbr::cli::RunWithdraw(rpc, source_system, source_record_id, withdraw_reason, format);
  if (*care_event) return pbr::cli::RunCareEvent(rpc, file, format);
  if (*suggest) return pbr::cli::RunSuggest(rpc, file, service_area, format);
  if (*person) {
    if (nhs_number.empty() == id.empty()) {
      std::cerr << "error: person: give either --nhs=NUMBER or PERSON_ID\n";
      return kExitBadInput;
    }
    return pbr::cli::RunPerson(rpc, nhs_number, id, format);
  }
  if (*history) return pbr::cli::RunHistory(rpc, id, history_options, format);
  if (*audit) {
    if (audit_options.person_id.empty() == audit_options.caller_subject.empty()) {
      std::cerr << "error: audit: give either --person=PERSON_ID or --caller=SUBJECT\n";
      return kExitBadInput;
    }
    return pbr::cli::RunAudit(rpc, audit_options, format);
  }
  if (*schedule) return pbr::cli::RunSchedule(rpc, id, format);
  if (*overdue) {
    if (*cluster_option) overdue_options.cluster = cluster;
    return pbr::cli::RunOverdue(rpc, overdue_options, format);
  }
  if (*due) return pbr::cli::RunDue(rpc, due_options, format);
  if (*overdue_count) return pbr::cli::RunOverdueCount(rpc, count_team, format);
  if (*outcomes) return pbr::cli::RunOutcomes(rpc, id, format);
  if (*outcomes_summary) return pbr::cli::RunOutcomesSummary(rpc, summary_options, format);
  if (*caseload) return pbr::cli::RunCaseload(rpc, id, care_coordinator, format);
  if (*kpis) return pbr::cli::RunKpis(rpc, kpis_options, format);
  if (*national) return pbr::cli::RunNational(rpc, national_options, format);
  if (*tariff_export) return pbr::cli::RunTariffExport(rpc, tariff_options, format);
  if (*wait_ready) return pbr::cli::RunWaitReady(rpc, *pbr::cli::ParseCliDuration(deadline));
  if (*probe) return pbr::cli::RunProbe(rpc, probe_service);
  if (*dashboard_link) return pbr::cli::RunDashboardLink(rpc, format);
  if (*demo_cmd) {
    demo.now = AsOf(as_of);
    return pbr::cli::RunDemo(rpc, demo, concurrency);
  }
  return kExitBadInput;  // unreachable: require_subcommand(1)
}
