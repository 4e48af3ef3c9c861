// pbrctl: command-line client for the care-cluster platform's gRPC services.
#include <CLI/CLI.hpp>

#include <iostream>

#include "absl/time/civil_time.h"
#include "commands.h"

namespace {

using pbr::cli::kExitBadInput;

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

void AddAddressFlags(CLI::App& app, pbr::cli::RpcOptions& rpc) {
  app.add_option("--allocation", rpc.allocation, "allocation service address")
      ->envname("PBR_ALLOCATION_ADDR")->capture_default_str()->group("Services");
  app.add_option("--scheduler", rpc.scheduler, "review-scheduler service address")
      ->envname("PBR_SCHEDULER_ADDR")->capture_default_str()->group("Services");
  app.add_option("--outcomes", rpc.outcomes, "outcomes service address")
      ->envname("PBR_OUTCOMES_ADDR")->capture_default_str()->group("Services");
  app.add_option("--reporting", rpc.reporting, "reporting service address")
      ->envname("PBR_REPORTING_ADDR")->capture_default_str()->group("Services");
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

  std::string file;
  auto* record = app.add_subcommand("record", "Record one MHCT assessment (RecordAssessmentRequest as JSON)");
  record->add_option("FILE", file, "JSON file, or - for stdin")->required();
  record->footer("Example: pbrctl record tools/pbrctl/examples/assessment.json\n"
                 "Prints the reply as JSON. Field names in either form (sourceSystem or source_system);\n"
                 "assessedAt as an RFC 3339 time; reason as ASSESSMENT_REASON_INITIAL etc.");

  std::string id;
  pbr::cli::QueryFormat format;
  auto* schedule = app.add_subcommand("schedule", "Show a person's next cluster review");
  schedule->add_option("PERSON_ID", id, "the platform's person id (from a record reply)")->required();
  schedule->add_flag("--json", format.json, "print the reply as JSON");
  auto* outcomes = app.add_subcommand("outcomes", "Show a person's HoNOS outcomes, oldest first");
  outcomes->add_option("PERSON_ID", id, "the platform's person id (from a record reply)")->required();
  outcomes->add_flag("--json", format.json, "print the reply as JSON");
  auto* caseload = app.add_subcommand("caseload", "Show a team's caseload by cluster");
  caseload->add_option("TEAM_ID", id, "team id, e.g. cmht-north")->required();
  caseload->add_flag("--json", format.json, "print the reply as JSON");
  caseload->add_flag("--persons", format.persons, "list every person on the caseload too");

  pbr::demo::DemoOptions demo;
  int concurrency = 8;
  std::string as_of;
  auto* demo_cmd = app.add_subcommand("demo", "Generate synthetic assessments and record them (NHS numbers 999...)");
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes are small positive numbers; keep its help output but map failures to "bad input".
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }
  rpc.timeout = *pbr::cli::ParseCliDuration(timeout);

  if (*record) return pbr::cli::RunRecord(rpc, file);
  if (*schedule) return pbr::cli::RunSchedule(rpc, id, format);
  if (*outcomes) return pbr::cli::RunOutcomes(rpc, id, format);
  if (*caseload) return pbr::cli::RunCaseload(rpc, id, format);
  if (*wait_ready) return pbr::cli::RunWaitReady(rpc, *pbr::cli::ParseCliDuration(deadline));
  if (*demo_cmd) {
    demo.now = AsOf(as_of);
    return pbr::cli::RunDemo(rpc, demo, concurrency);
  }
  return kExitBadInput;  // unreachable: require_subcommand(1)
}
