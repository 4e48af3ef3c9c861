#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

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
  EXPECT_TRUE(request->has_cluster()) << "the intake requires the cluster to be given";
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

TEST(PbrctlJson, CareEventExampleParsesAndIsValid) {
  auto request = cli::ParseCareEventJson(ReadFile(PBRCTL_CARE_EVENT_JSON));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->nhs_number(), "9990000018");
  EXPECT_TRUE(care::ValidateNhsNumber(request->nhs_number()).ok());
  EXPECT_EQ(request->type(), v1::CARE_EVENT_REFERRAL_TO_CRHT);
  EXPECT_TRUE(request->out_of_hours());
  EXPECT_TRUE(request->has_occurred_at());
  for (const std::string& id : {request->source_system(), request->source_record_id(), request->team_id()}) {
    EXPECT_TRUE(PrintableId(id)) << id;
  }
}

TEST(PbrctlJson, CareEventErrorsNameTheProblem) {
  auto bad_type = cli::ParseCareEventJson(R"({"type": "CARE_EVENT_TEA_BREAK"})");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_TRUE(absl::StrContains(bad_type.status().message(), "RecordCareEventRequest")) << bad_type.status();
}

TEST(PbrctlSuggestInput, BareRatings) {
  auto input = cli::ParseSuggestInput(R"({"items": [0,1,0,0,1,0,3,2,2,1,0,2,0,0,1,0,1,1], "item8ProblemType": "B"})");
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_FALSE(input->from_assessment);
  EXPECT_EQ(input->ratings.items_size(), 18);
  EXPECT_EQ(input->ratings.items(6), 3);
  EXPECT_EQ(input->ratings.item8_problem_type(), "B");
  // Proto field names too, and an item 8 field alone is enough to tell the form.
  auto snake = cli::ParseSuggestInput(R"({"item8_problem_type": "J", "item8_other_text": "hoarding"})");
  ASSERT_TRUE(snake.ok()) << snake.status();
  EXPECT_FALSE(snake->from_assessment);
  EXPECT_EQ(snake->ratings.item8_other_text(), "hoarding");
}

TEST(PbrctlSuggestInput, AssessmentFileGivesItsRatings) {
  const std::string text = ReadFile(PBRCTL_EXAMPLE_JSON);
  auto input = cli::ParseSuggestInput(text);
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_TRUE(input->from_assessment);
  auto request = cli::ParseAssessmentJson(text);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(input->ratings.SerializeAsString(), request->ratings().SerializeAsString());
}

TEST(PbrctlSuggestInput, ErrorsNameTheProblem) {
  auto no_ratings = cli::ParseSuggestInput(R"({"sourceSystem": "rio-north", "cluster": 4})");
  ASSERT_FALSE(no_ratings.ok());
  EXPECT_TRUE(absl::StrContains(no_ratings.status().message(), "no ratings")) << no_ratings.status();
  auto misspelt_item = cli::ParseSuggestInput(R"({"items": [1], "item8ProblemTyp": "B"})");
  ASSERT_FALSE(misspelt_item.ok());
  EXPECT_TRUE(absl::StrContains(misspelt_item.status().message(), "MhctRatings")) << misspelt_item.status();
  EXPECT_TRUE(absl::StrContains(misspelt_item.status().message(), "item8ProblemTyp")) << misspelt_item.status();
  auto misspelt_in_request = cli::ParseSuggestInput(R"({"ratings": {"itemz": [1]}})");
  ASSERT_FALSE(misspelt_in_request.ok());
  EXPECT_TRUE(absl::StrContains(misspelt_in_request.status().message(), "itemz")) << misspelt_in_request.status();
  auto neither = cli::ParseSuggestInput(R"({"ratingz": {}})");
  ASSERT_FALSE(neither.ok());
  EXPECT_TRUE(absl::StrContains(neither.status().message(), "MhctRatings")) << neither.status();
  EXPECT_TRUE(absl::StrContains(neither.status().message(), "ratingz")) << neither.status();
  for (const char* not_an_object : {"[1, 2]", "42", "", "{\"items\": "}) {
    EXPECT_FALSE(cli::ParseSuggestInput(not_an_object).ok()) << not_an_object;
  }
}

v1::RuleCheck Check(const std::string& rule, bool passed, const std::string& reason, std::vector<int> expected = {},
                    bool flagged = false) {
  v1::RuleCheck c;
  c.set_rule(rule);
  c.set_passed(passed);
  c.set_reason(reason);
  c.set_flagged(flagged);
  for (int k : expected) c.add_expected_clusters(k);
  return c;
}

v1::ClusterSuggestion Suggestion(int cluster, double fit, bool excluded, const std::string& explanation) {
  v1::ClusterSuggestion s;
  s.set_cluster(cluster);
  s.set_fit(fit);
  s.set_excluded(excluded);
  s.set_explanation(explanation);
  return s;
}

TEST(PbrctlRender, RuleChecksOneALine) {
  google::protobuf::RepeatedPtrField<v1::RuleCheck> checks;
  *checks.Add() = Check("red-rules", true, "The ratings meet every must-score cell of cluster 4.");
  *checks.Add() = Check("service-area", true, "Cluster 8 is rarely held here.", {4, 5, 8}, /*flagged=*/true);
  *checks.Add() = Check("transition-protocol", false, "Cluster 8 to 5 does not follow the protocol.", {8, 7});
  EXPECT_EQ(cli::RenderRuleChecks(checks),
            "✓ red-rules: The ratings meet every must-score cell of cluster 4.\n"
            "✓ service-area (flagged): Cluster 8 is rarely held here. (expected clusters: 4, 5, 8)\n"
            "✗ transition-protocol: Cluster 8 to 5 does not follow the protocol. (expected clusters: 8, 7)\n");
  EXPECT_EQ(cli::RenderRuleChecks({}), "none\n");
}

google::protobuf::RepeatedPtrField<v1::ClusterSuggestion> SomeSuggestions() {
  google::protobuf::RepeatedPtrField<v1::ClusterSuggestion> s;
  *s.Add() = Suggestion(3, 1.0, false, "Rank 1: best");
  *s.Add() = Suggestion(12, 0.966, false, "Rank 2: next");
  *s.Add() = Suggestion(4, 0.5, false, "Rank 3: third");
  *s.Add() = Suggestion(6, 0.92, true, "Cluster 6 is excluded: item 13");
  return s;
}

TEST(PbrctlRender, SuggestionsRankedThenExcluded) {
  EXPECT_EQ(cli::RenderSuggestions(SomeSuggestions(), 10, true),
            "cluster   fit  excluded  explanation\n"
            "      3  100%            Rank 1: best\n"
            "     12   97%            Rank 2: next\n"
            "      4   50%            Rank 3: third\n"
            "      6   92%  yes       Cluster 6 is excluded: item 13\n");
  // The record reply's short form: the top two, no excluded ones, no excluded column.
  EXPECT_EQ(cli::RenderSuggestions(SomeSuggestions(), 2, false),
            "cluster   fit  explanation\n"
            "      3  100%  Rank 1: best\n"
            "     12   97%  Rank 2: next\n");
}

TEST(PbrctlRender, RecordReplyShowsChecksAndTopSuggestions) {
  v1::RecordAssessmentReply reply;
  reply.set_person_id("p1");
  reply.set_assessment_id("a1");
  reply.set_episode_id("e1");
  reply.set_cluster_changed(true);
  reply.set_rule_version("v1");
  reply.set_revision(2);
  *reply.add_checks() = Check("red-rules", false, "item D is rated 1 but cluster 8 must score 2-4 on it.");
  *reply.mutable_suggestions() = SomeSuggestions();
  const std::string text = cli::RenderRecordReply(reply, "amended");
  EXPECT_TRUE(absl::StartsWith(text, "amended assessment a1, revision 2\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "cluster changed  yes\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "rule checks:\n  ✗ red-rules: item D is rated 1")) << text;
  EXPECT_TRUE(absl::StrContains(text, "Rank 3: third")) << text;
  EXPECT_FALSE(absl::StrContains(text, "excluded")) << text;
  EXPECT_FALSE(absl::StrContains(text, "duplicate")) << text;
  reply.set_duplicate(true);
  reply.clear_suggestions();
  const std::string retry = cli::RenderRecordReply(reply, "recorded");
  EXPECT_TRUE(absl::StrContains(retry, "(duplicate: already recorded")) << retry;
  EXPECT_FALSE(absl::StrContains(retry, "suggestions")) << retry;
}

TEST(PbrctlRender, SuggestReplyCountsRankedAndExcluded) {
  v1::SuggestClustersReply reply;
  *reply.mutable_suggestions() = SomeSuggestions();
  reply.set_rule_version("v7");
  const std::string text = cli::RenderSuggestReply(reply);
  EXPECT_TRUE(absl::StartsWith(text, "3 cluster(s) ranked, 1 excluded (rules v7)\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "Cluster 6 is excluded")) << text;
  EXPECT_TRUE(absl::StrContains(cli::ExampleProfilesWarning(), "EXAMPLE"));
}

TEST(PbrctlRender, HistoryTables) {
  v1::ListAssessmentsReply assessments;
  auto* a = assessments.add_assessments();
  a->set_assessment_id("a2");
  a->set_source_system("rio-north");
  a->set_source_record_id("R2");
  a->mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2024, 8, 14, 10, 30, 0), absl::UTCTimeZone())));
  a->set_cluster(5);
  a->set_team_id("cmht-north");
  a->set_reason(v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  a->set_revision(1);
  a->set_withdrawn(true);
  *a->add_checks() = Check("red-rules", true, "");
  *a->add_checks() = Check("transition-protocol", false, "");
  a->set_clinical_rationale("worse after bereavement");
  const std::string text = cli::RenderAssessments("p1", assessments);
  EXPECT_TRUE(absl::StartsWith(text, "person p1: 1 assessment(s), newest first\n")) << text;
  for (const char* cell : {"2024-08-14 10:30", "formal review", "rio-north R2", "✗ transition-protocol", "withdrawn"}) {
    EXPECT_TRUE(absl::StrContains(text, cell)) << cell << "\n" << text;
  }

  v1::ListEpisodesReply episodes;
  auto* current = episodes.add_episodes();
  current->set_episode_id("e2");
  current->set_cluster(5);
  current->mutable_started_at()->set_seconds(1723631400);
  auto* ended = episodes.add_episodes();
  ended->set_episode_id("e1");
  ended->set_cluster(8);
  ended->mutable_started_at()->set_seconds(1715682600);
  ended->mutable_ended_at()->set_seconds(1723631400);
  const std::string eps = cli::RenderEpisodes("p1", episodes);
  EXPECT_TRUE(absl::StrContains(eps, "current")) << eps;
  EXPECT_LT(eps.find("e2"), eps.find("e1")) << "kept newest first, as the server sent them\n" << eps;
}

TEST(PbrctlRender, PersonWithoutACluster) {
  v1::Person p;
  p.set_person_id("p1");
  auto* l = p.add_local_ids();
  l->set_source_system("rio-north");
  l->set_local_patient_id("RN1");
  const std::string text = cli::RenderPerson(p);
  EXPECT_TRUE(absl::StrContains(text, "cluster      none\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "rio-north RN1")) << text;
}

TEST(PbrctlRender, TableCountsCharactersNotBytes) {
  cli::Table t({"check", "n"}, {false, true});
  t.AddRow({"✓", "1"});
  t.AddRow({"✗ red", "10"});
  EXPECT_EQ(t.Render(), "check   n\n✓       1\n✗ red  10\n");
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

// Proto3 JSON leaves out zero values by default; cluster 0 ("Variance") is a real cluster and a zero
// count is an answer, so `--json` (and the caseloads.json run-local.sh writes with it) shows them.
TEST(PbrctlJsonOutput, ZeroClusterAndZeroCountsArePrinted) {
  v1::Caseload c;
  c.set_team_id("cmht-north");
  c.set_people(1);
  auto* k0 = c.add_clusters();
  k0->set_cluster(0);
  k0->set_people(1);
  auto* p = c.add_persons();
  p->set_person_id("p-1");
  p->set_cluster(0);
  const std::string json = cli::ToJson(c);
  for (const char* field : {"\"cluster\": 0", "\"reviewsDue\": 0", "\"reviewsOverdue\": 0",
                            "\"peopleWithHonos\": 0", "\"meanLatestHonos\": 0", "\"hasHonos\": false",
                            "\"latestHonosTotal\": 0", "\"reviewState\": \"REVIEW_STATE_UNSPECIFIED\"",
                            "\"assessmentsRecorded\": \"0\""}) {
    EXPECT_TRUE(absl::StrContains(json, field)) << field << " missing from\n" << json;
  }
  // Both the cluster row and the person carry their cluster 0.
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  const auto& row = parsed.fields().at("clusters").list_value().values(0).struct_value().fields();
  ASSERT_EQ(row.count("cluster"), 1u) << json;
  EXPECT_EQ(row.at("cluster").number_value(), 0);
  EXPECT_EQ(row.at("people").number_value(), 1);
  const auto& person = parsed.fields().at("persons").list_value().values(0).struct_value().fields();
  ASSERT_EQ(person.count("cluster"), 1u) << json;
  EXPECT_EQ(person.at("cluster").number_value(), 0);

  // An empty caseload says "people": 0 rather than nothing.
  v1::Caseload empty;
  empty.set_team_id("cmht-south");
  EXPECT_TRUE(absl::StrContains(cli::ToJson(empty), "\"people\": 0")) << cli::ToJson(empty);

  // The same for the other replies printed with --json: a schedule and a person on cluster 0.
  v1::Schedule s;
  s.set_person_id("p-1");
  s.set_cluster(0);
  EXPECT_TRUE(absl::StrContains(cli::ToJson(s), "\"cluster\": 0")) << cli::ToJson(s);
  v1::Person who;
  who.set_person_id("p-1");
  who.set_has_cluster(true);
  who.set_cluster(0);
  EXPECT_TRUE(absl::StrContains(cli::ToJson(who), "\"cluster\": 0")) << cli::ToJson(who);
  EXPECT_TRUE(absl::StrContains(cli::ToJson(who), "\"referralOpen\": false")) << cli::ToJson(who);
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
