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

  // The file, by the real tool.
  const std::string csv = dir.path() + "/year.csv";
  {
    auto gen = testing::ChildProcess::Spawn(
        {std::string(PBR_BIN_DIR) + "/pbr-loadgen", "--out=" + csv, absl::StrCat("--people=", kPeople),
         absl::StrCat("--assessments=", kAssessments), "--seed=3", absl::StrCat("--year-end=", kYearEnd),
         absl::StrCat("--rules-dir=", PBR_RULES_DIR), "--source-systems=2"},
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
  std::vector<std::string> argv = {std::string(PBR_BIN_DIR) + "/pbr-import", csv,
                                   "--allocation=" + platform->GrpcAddress("allocation"), "--timeout=30s"};
  auto tls = platform->FeedTlsFlags(loadgen::SourceSystemNames(2));
  ASSERT_TRUE(tls.ok()) << tls.status();
  argv.insert(argv.end(), tls->begin(), tls->end());
  const std::string import_log = dir.path() + "/import.log";
  auto import = testing::ChildProcess::Spawn(argv, import_log);
  ASSERT_TRUE(import.ok()) << import.status();
  auto summary = (*import)->WaitForLine("rejected ", absl::Seconds(400) + absl::Milliseconds(20) * kPeople);
  ASSERT_TRUE(summary.ok()) << summary.status() << "\n" << testing::Tail(import_log);
  EXPECT_TRUE(absl::StartsWith(*summary, "rejected      0 ")) << *summary << "\n"
                                                              << testing::Tail(dir.path() + "/year.rejects.csv", 20);
  ASSERT_TRUE(testing::WaitUntil([&] { return !(*import)->Running(); }, absl::Seconds(30)));
  EXPECT_EQ((*import)->Terminate(absl::Seconds(1)).value_or(-1), 0) << testing::Tail(import_log);

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
  EXPECT_TRUE(platform->StopAll().ok());
}

}  // namespace
}  // namespace pbr
