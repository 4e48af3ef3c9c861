// pbr-loadgen through the whole platform: a national year in miniature (2,000 people, 6,000 assessments,
// two EPRs) written by the real pbr-loadgen, imported by the real pbr-import over each EPR's TLS feed
// certificate, every row accepted (rules included: the generator's clusters and rationales are what
// allocation accepts), and reporting's caseloads matching what the generator says it generated.
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "care/rules.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "national_year.h"
#include "rows.h"  // tools/import: the corrections file read as pbr-import reads it
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "testing/local_platform.h"

namespace pbr {
namespace {

constexpr char kYearEnd[] = "2026-11-22";  // the platform's fixed clock is noon that day: every row is before it
// LOADGEN_SYSTEM_TEST_PEOPLE=N runs the same test at N people (3N assessments), e.g. to soak the rules (not PBR_*:
// the services refuse environment variables that are not their settings).
int64_t People() {
  const char* env = std::getenv("LOADGEN_SYSTEM_TEST_PEOPLE");
  int64_t n = 0;
  return env != nullptr && absl::SimpleAtoi(env, &n) && n > 0 ? n : 2000;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(LoadgenSystemTest, AGeneratedYearImportsWithoutARejectAndReportingCountsIt) {
  const int64_t kPeople = People(), kAssessments = 3 * kPeople;
  testing::TempDir dir;
  testing::LocalPlatformOptions options;
  options.bin_dir = PBR_BIN_DIR;
  options.rules_dir = PBR_RULES_DIR;
  options.work_dir = dir.path() + "/platform";
  options.clock = absl::StrCat("fixed:", kYearEnd, "T12:00:00Z");
  auto started = testing::LocalPlatform::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<testing::LocalPlatform> platform = *std::move(started);

  // The files, by the real tool: the year, and the corrections EPRs send after it.
  const std::string csv = dir.path() + "/year.csv";
  const std::string corrections_csv = dir.path() + "/corrections.csv";
  {
    auto gen = testing::ChildProcess::Spawn(
        {std::string(PBR_BIN_DIR) + "/pbr-loadgen", "--out=" + csv, absl::StrCat("--people=", kPeople),
         absl::StrCat("--assessments=", kAssessments), "--seed=3", absl::StrCat("--year-end=", kYearEnd),
         absl::StrCat("--rules-dir=", PBR_RULES_DIR), "--source-systems=2", "--corrections=" + corrections_csv},
        dir.path() + "/loadgen.log");
    ASSERT_TRUE(gen.ok()) << gen.status();
    auto line = (*gen)->WaitForLine("took ", absl::Seconds(60));
    ASSERT_TRUE(line.ok()) << line.status() << testing::Tail(dir.path() + "/loadgen.log");
    ASSERT_TRUE(testing::WaitUntil([&] { return !(*gen)->Running(); }, absl::Seconds(10)));
    EXPECT_EQ((*gen)->Terminate(absl::Seconds(1)).value_or(-1), 0);
  }

  // What was generated, by the library with the same options: the same bytes, and the expected totals.
  auto rules = care::RuleSet::LoadFromDirectory(PBR_RULES_DIR);
  ASSERT_TRUE(rules.ok()) << rules.status();
  loadgen::NationalYearOptions o;
  o.people = kPeople;
  o.assessments = kAssessments;
  o.seed = 3;
  o.source_systems = 2;
  ASSERT_TRUE(absl::ParseCivilTime(kYearEnd, &o.year_end));
  auto year = loadgen::NationalYear::Create(*rules, o);
  ASSERT_TRUE(year.ok()) << year.status();
  std::string expected_csv = loadgen::CsvHeader();
  year->Run([&](const loadgen::PersonRecord& p) {
    for (const auto& row : p.rows) loadgen::AppendCsvRow(row, expected_csv);
    return true;
  });
  const loadgen::NationalYearStats& stats = year->stats();
  ASSERT_EQ(stats.people, kPeople);
  ASSERT_EQ(stats.assessments, kAssessments);
  ASSERT_EQ(ReadAll(csv), expected_csv) << "pbr-loadgen and the library disagree";

  // Imported over each EPR's feed certificate.
  auto tls = platform->FeedTlsFlags(loadgen::SourceSystemNames(2));
  ASSERT_TRUE(tls.ok()) << tls.status();
  // Runs the real pbr-import on `file` and returns its summary (stdout), after checking nothing was
  // rejected and it exited 0.
  auto import_file = [&](const std::string& file, const std::string& log) -> std::string {
    std::vector<std::string> argv = {std::string(PBR_BIN_DIR) + "/pbr-import", file,
                                     "--allocation=" + platform->GrpcAddress("allocation"), "--timeout=30s"};
    argv.insert(argv.end(), tls->begin(), tls->end());
    auto import = testing::ChildProcess::Spawn(argv, log);
    EXPECT_TRUE(import.ok()) << import.status();
    if (!import.ok()) return "";
    // The summary, line by line (stdout), up to its last line.
    std::string out = "\n";
    const absl::Time deadline = absl::Now() + absl::Seconds(400) + absl::Milliseconds(20) * kPeople;
    for (;;) {
      auto line = (*import)->WaitForLine("", deadline - absl::Now());
      EXPECT_TRUE(line.ok()) << line.status() << "\n" << out << testing::Tail(log);
      if (!line.ok()) break;
      absl::StrAppend(&out, *line, "\n");
      if (absl::StartsWith(*line, "took ")) break;
    }
    EXPECT_TRUE(testing::WaitUntil([&] { return !(*import)->Running(); }, absl::Seconds(30)));
    EXPECT_EQ((*import)->Terminate(absl::Seconds(1)).value_or(-1), 0) << testing::Tail(log);
    EXPECT_TRUE(absl::StrContains(out, "\nrejected      0 ")) << out << "\n" << testing::Tail(file + ".rejects.csv", 20);
    return out;
  };
  import_file(csv, dir.path() + "/import.log");

  // Reporting's caseloads: every team's assessments recorded and the people it holds (not discharged,
  // whose latest assessment the team made), as generated.
  int64_t recorded_total = 0, people_total = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> got;
  auto stub = platform->Stub<pbr::v1::Reporting>("reporting");
  const bool converged = testing::WaitUntil(
      [&] {
        got.clear();
        recorded_total = people_total = 0;
        for (const auto& [team, unused] : rules->teams().teams) {
          pbr::v1::GetCaseloadRequest req;
          req.set_team_id(team);
          pbr::v1::Caseload reply;
          if (!stub->GetCaseload(testing::CallContext().get(), req, &reply).ok()) return false;
          got[team] = {reply.assessments_recorded(), reply.people()};
          recorded_total += reply.assessments_recorded();
          people_total += reply.people();
        }
        return recorded_total == stats.assessments;
      },
      absl::Seconds(180) + absl::Milliseconds(30) * kPeople, absl::Milliseconds(500));
  EXPECT_TRUE(converged) << "reporting holds " << recorded_total << " assessments of " << stats.assessments;
  EXPECT_EQ(recorded_total, kAssessments);
  EXPECT_EQ(people_total, kPeople - stats.discharged);
  for (const auto& [team, counts] : got) {
    const int64_t want_recorded = stats.assessments_by_team.count(team) ? stats.assessments_by_team.at(team) : 0;
    const int64_t want_people = stats.caseload_by_team.count(team) ? stats.caseload_by_team.at(team) : 0;
    EXPECT_EQ(counts.first, want_recorded) << team << ": assessments recorded";
    EXPECT_EQ(counts.second, want_people) << team << ": people on the caseload";
  }

  // The corrections, by the same tool: each amendment is the assessment's next revision, each
  // withdrawal an audited WithdrawCareEvent of the person's record; a second run changes nothing.
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  auto corrections = import::ParseImportFile(ReadAll(corrections_csv), london);
  ASSERT_TRUE(corrections.ok()) << corrections.status();
  int64_t amendments = 0, withdrawals = 0;
  for (const import::ImportRow& row : corrections->rows) {
    ++(row.action == import::Action::kAmendAssessment ? amendments : withdrawals);
  }
  ASSERT_GT(amendments, 0);
  ASSERT_GT(withdrawals, 0);
  const std::string first = import_file(corrections_csv, dir.path() + "/corrections.log");
  EXPECT_TRUE(absl::StrContains(first, absl::StrCat("corrections   ", amendments, " amendments, ", withdrawals,
                                                    " withdrawals")))
      << first;
  EXPECT_TRUE(absl::StrContains(first, absl::StrCat("accepted      ", amendments + withdrawals, "\n"))) << first;
  auto clinician = platform->Stub<pbr::v1::Allocation>("allocation", "clinician");
  auto admin = platform->Stub<pbr::v1::Allocation>("allocation", "admin");
  for (const import::ImportRow& row : corrections->rows) {
    pbr::v1::GetPersonRequest who;
    who.set_nhs_number(row.nhs_number());
    pbr::v1::Person person;
    ASSERT_TRUE(clinician->GetPerson(testing::CallContext().get(), who, &person).ok()) << "line " << row.line;
    if (row.action == import::Action::kAmendAssessment) {
      pbr::v1::ListRequest list;
      list.set_person_id(person.person_id());
      list.set_page_size(500);
      pbr::v1::ListAssessmentsReply assessments;
      ASSERT_TRUE(clinician->ListAssessments(testing::CallContext().get(), list, &assessments).ok());
      int revision = -1;
      for (const auto& a : assessments.assessments()) {
        if (a.source_record_id() == row.source_record_id()) revision = a.revision();
      }
      EXPECT_EQ(revision, 1) << "line " << row.line << ": " << row.source_record_id() << " was not amended";
    } else {
      pbr::v1::ListAuditRequest audit;
      audit.set_person_id(person.person_id());
      pbr::v1::ListAuditReply entries;
      ASSERT_TRUE(admin->ListAudit(testing::CallContext().get(), audit, &entries).ok());
      int withdrawn = 0;
      for (const auto& e : entries.entries()) {
        withdrawn += e.call() == "/pbr.v1.Allocation/WithdrawCareEvent" && e.outcome() == "OK";
      }
      EXPECT_EQ(withdrawn, 1) << "line " << row.line << ": " << row.source_record_id();
    }
  }
  const std::string again = import_file(corrections_csv, dir.path() + "/corrections-again.log");
  EXPECT_TRUE(absl::StrContains(again, absl::StrCat("duplicates    ", amendments, " "))) << again;
  EXPECT_TRUE(platform->StopAll().ok());
}

}  // namespace
}  // namespace pbr
