#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "care/catalogue.h"
#include "care/mhct.h"
#include "care/nhs_number.h"
#include "demo_data.h"
#include "gtest/gtest.h"
#include "render.h"
#include "rpc.h"

namespace pbr {
namespace {

using demo::DemoOptions;
using demo::GenerateDemoAssessments;
using v1::RecordAssessmentRequest;

DemoOptions Options(int people, uint64_t seed) {
  DemoOptions o;
  o.people = people;
  o.seed = seed;
  o.now = absl::FromCivil(absl::CivilSecond(2025, 3, 10, 14, 0, 0), absl::UTCTimeZone());
  return o;
}

// The intake's own conversion lives in services/common; this mirrors it for the rules library.
care::MhctRatings ToCare(const v1::MhctRatings& r) {
  care::MhctRatings out;
  for (int i = 0; i < care::kMhctItemCount && i < r.items_size(); ++i) out.items[i] = r.items(i);
  out.item8_problem_type = r.item8_problem_type().empty() ? 0 : r.item8_problem_type()[0];
  out.item8_other_text = r.item8_other_text();
  return out;
}

bool PrintableId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::Time AssessedAt(const RecordAssessmentRequest& r) { return absl::FromUnixSeconds(r.assessed_at().seconds()); }

std::string Serialized(const std::vector<RecordAssessmentRequest>& requests) {
  std::string out;
  for (const auto& r : requests) out += r.SerializeAsString();
  return out;
}

TEST(PbrctlDemoData, EveryRequestPassesTheIntakeRules) {
  const DemoOptions options = Options(300, 1);
  const auto requests = GenerateDemoAssessments(options);
  ASSERT_FALSE(requests.empty());
  const absl::Time y2000 = absl::FromCivil(absl::CivilDay(2000, 1, 1), absl::UTCTimeZone());
  for (const auto& r : requests) {
    SCOPED_TRACE(r.source_record_id());
    EXPECT_TRUE(care::ValidateNhsNumber(r.nhs_number()).ok()) << care::ValidateNhsNumber(r.nhs_number());
    EXPECT_TRUE(absl::StartsWith(r.nhs_number(), "999")) << "demo NHS numbers stay in the test range";
    ASSERT_EQ(r.ratings().items_size(), care::kMhctItemCount);
    const absl::Status mhct = care::ValidateMhct(ToCare(r.ratings()));
    EXPECT_TRUE(mhct.ok()) << mhct;
    EXPECT_TRUE(care::IsValidClusterId(r.cluster())) << r.cluster();
    EXPECT_NE(r.reason(), v1::ASSESSMENT_REASON_UNSPECIFIED);
    for (const std::string& id : {r.source_system(), r.source_record_id(), r.team_id(), r.clinician_id()}) {
      EXPECT_TRUE(PrintableId(id)) << id;
    }
    EXPECT_LT(AssessedAt(r), options.now);
    EXPECT_GT(AssessedAt(r), y2000);
    EXPECT_GE(AssessedAt(r), options.now - absl::Hours(24 * 365 * options.history_years + 24));
  }
}

TEST(PbrctlDemoData, SameSeedAndDayGiveTheSameData) {
  DemoOptions later_that_day = Options(200, 7);
  later_that_day.now += absl::Hours(5);
  EXPECT_EQ(Serialized(GenerateDemoAssessments(Options(200, 7))), Serialized(GenerateDemoAssessments(later_that_day)));
  EXPECT_NE(Serialized(GenerateDemoAssessments(Options(200, 7))), Serialized(GenerateDemoAssessments(Options(200, 8))));
}

TEST(PbrctlDemoData, PeopleCountIsAsAsked) {
  for (int people : {1, 2, 37, 300, 2000}) {
    std::set<std::string> nhs_numbers;
    for (const auto& r : GenerateDemoAssessments(Options(people, 3))) nhs_numbers.insert(r.nhs_number());
    EXPECT_EQ(static_cast<int>(nhs_numbers.size()), people);
  }
}

TEST(PbrctlDemoData, SomePeopleAppearInBothEprs) {
  std::map<std::string, std::set<std::string>> systems;  // NHS number -> EPRs
  for (const auto& r : GenerateDemoAssessments(Options(300, 1))) systems[r.nhs_number()].insert(r.source_system());
  int in_both = 0;
  for (const auto& [nhs, eprs] : systems) in_both += eprs.size() > 1 ? 1 : 0;
  EXPECT_GE(in_both, 20);   // about 15% of 300
  EXPECT_LE(in_both, 80);
}

TEST(PbrctlDemoData, SortedByTimeWithUniqueRecordIdsAndHistoriesStartingInitial) {
  const auto requests = GenerateDemoAssessments(Options(300, 2));
  std::set<std::pair<std::string, std::string>> record_ids;
  std::set<std::string> seen_people;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    if (i > 0) {
      EXPECT_LE(requests[i - 1].assessed_at().seconds(), r.assessed_at().seconds());
    }
    EXPECT_TRUE(record_ids.emplace(r.source_system(), r.source_record_id()).second) << r.source_record_id();
    EXPECT_TRUE(absl::StartsWith(r.source_record_id(), r.source_system() + "-A")) << r.source_record_id();
    const bool first = seen_people.insert(r.nhs_number()).second;
    EXPECT_EQ(first, r.reason() == v1::ASSESSMENT_REASON_INITIAL) << r.source_record_id();
  }
  EXPECT_GT(requests.size(), 300u);  // people have 1-5 assessments
}

TEST(PbrctlDemoData, ClustersFitTheTeam) {
  for (const auto& r : GenerateDemoAssessments(Options(400, 4))) {
    SCOPED_TRACE(r.team_id());
    if (absl::StartsWith(r.team_id(), "cmht")) {
      EXPECT_TRUE(r.cluster() == 0 || (r.cluster() >= 4 && r.cluster() <= 8)) << r.cluster();
    } else if (absl::StartsWith(r.team_id(), "eip")) {
      EXPECT_TRUE(r.cluster() >= 10 && r.cluster() <= 17) << r.cluster();
    } else if (absl::StartsWith(r.team_id(), "memory")) {
      EXPECT_TRUE(r.cluster() >= 18 && r.cluster() <= 21) << r.cluster();
    }
  }
}

TEST(PbrctlDemoData, NhsCheckDigit) {
  EXPECT_EQ(demo::NhsCheckDigit("943476591"), 9);  // the NHS's published example 943 476 5919
  EXPECT_EQ(demo::NhsCheckDigit("999000001"), 8);
  for (int n = 0; n < 200; ++n) {
    const std::string nine = "999000" + std::to_string(100 + n);
    const int check = demo::NhsCheckDigit(nine);
    EXPECT_EQ(check >= 0, care::ValidateNhsNumber(nine + std::to_string(std::max(check, 0))).ok()) << nine;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PbrctlJson, ExampleFileParsesAndIsValid) {
  auto request = cli::ParseAssessmentJson(ReadFile(PBRCTL_EXAMPLE_JSON));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->source_system(), "rio-north");
  EXPECT_TRUE(care::ValidateNhsNumber(request->nhs_number()).ok());
  EXPECT_TRUE(care::ValidateMhct(ToCare(request->ratings())).ok()) << care::ValidateMhct(ToCare(request->ratings()));
  EXPECT_TRUE(care::IsValidClusterId(request->cluster()));
  EXPECT_EQ(request->reason(), v1::ASSESSMENT_REASON_INITIAL);
  EXPECT_EQ(request->assessed_at().seconds(),
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(2024, 5, 14, 10, 30, 0), absl::UTCTimeZone())));
}

TEST(PbrctlJson, AcceptsProtoFieldNames) {
  auto request = cli::ParseAssessmentJson(R"({"source_system": "rio-north", "team_id": "t", "cluster": 4})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->source_system(), "rio-north");
  EXPECT_EQ(request->team_id(), "t");
}

TEST(PbrctlJson, ErrorsNameTheProblem) {
  auto misspelt = cli::ParseAssessmentJson(R"({"sourceSytem": "rio-north"})");
  ASSERT_FALSE(misspelt.ok());
  EXPECT_TRUE(absl::StrContains(misspelt.status().message(), "sourceSytem")) << misspelt.status();
  auto truncated = cli::ParseAssessmentJson(R"({"sourceSystem": )");
  EXPECT_FALSE(truncated.ok());
  auto bad_time = cli::ParseAssessmentJson(R"({"assessedAt": "yesterday"})");
  EXPECT_FALSE(bad_time.ok());
}

TEST(PbrctlRender, CaseloadHasClustersAndTotals) {
  v1::Caseload c;
  c.set_team_id("cmht-north");
  c.set_people(5);
  c.set_reviews_due(1);
  c.set_reviews_overdue(2);
  auto* k4 = c.add_clusters();
  k4->set_cluster(4);
  k4->set_people(3);
  k4->set_people_with_honos(2);
  k4->set_mean_latest_honos(10);
  auto* k7 = c.add_clusters();
  k7->set_cluster(7);
  k7->set_people(2);
  k7->set_people_with_honos(2);
  k7->set_mean_latest_honos(20);
  const std::string text = cli::RenderCaseload(c, false);
  EXPECT_TRUE(absl::StrContains(text, "team cmht-north: 5 people")) << text;
  EXPECT_TRUE(absl::StrContains(text, "mean HoNOS")) << text;
  EXPECT_TRUE(absl::StrContains(text, "total")) << text;
  EXPECT_TRUE(absl::StrContains(text, "15.0")) << text;  // (2*10 + 2*20) / 4
}

TEST(PbrctlRender, TableAlignsColumns) {
  cli::Table t({"name", "n"}, {false, true});
  t.AddRow({"a", "1"});
  t.AddRow({"long name", "100"});
  EXPECT_EQ(t.Render(), "name         n\na            1\nlong name  100\n");
}

TEST(PbrctlRpc, ParsesDurations) {
  EXPECT_EQ(cli::ParseCliDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(cli::ParseCliDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(cli::ParseCliDuration("2"), absl::Seconds(2));
  EXPECT_EQ(cli::ParseCliDuration("0s"), std::nullopt);
  EXPECT_EQ(cli::ParseCliDuration("soon"), std::nullopt);
  EXPECT_EQ(cli::ParseCliDuration("inf"), std::nullopt);
}

TEST(PbrctlRpc, UnreachableErrorsNameTheAddress) {
  const grpc::Status status(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses");
  EXPECT_EQ(cli::DescribeRpcError(status, {"reporting", "127.0.0.1:1"}),
            "UNAVAILABLE: reporting at 127.0.0.1:1: failed to connect to all addresses");
  EXPECT_EQ(cli::DescribeRpcError(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cluster: 9"), {"a", "b"}),
            "INVALID_ARGUMENT: cluster: 9");
}

}  // namespace
}  // namespace pbr
