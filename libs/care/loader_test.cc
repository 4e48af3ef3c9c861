// Loading rule files: the shipped set loads; every malformed file is refused with a message naming the place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "care/rule_files.h"
#include "test_util.h"

namespace care {
namespace {

using ::testing::HasSubstr;
using testing::Msg;
using testing::ShippedFiles;
using testing::ShippedRules;

// 1-based line on which the first occurrence of `needle` ends.
int LineOf(const std::string& text, const std::string& needle) {
  size_t pos = text.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  if (pos == std::string::npos) return -1;
  const size_t last = pos + needle.size() - 1;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(last), '\n'));
}

std::string Replace(const std::string& text, const std::string& from, const std::string& to) {
  EXPECT_NE(text.find(from), std::string::npos) << from;
  return absl::StrReplaceAll(text, {{from, to}});
}

// Loads the shipped files with `file` changed; returns the error message ("" when it loaded).
std::string LoadWith(const std::string& file, const std::string& content) {
  auto files = ShippedFiles();
  files[file] = content;
  absl::StatusOr<RuleSet> r = RuleSet::LoadFromFiles(files);
  return r.ok() ? "" : Msg(r.status());
}

TEST(CareRuleLoader, ShippedDirectoryLoads) {
  absl::StatusOr<RuleSet> r = RuleSet::LoadFromDirectory(PBR_RULES_DIR);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->price_lists().size(), 5u);
  EXPECT_EQ(r->file_versions().at("teams"), "EXAMPLE-teams-1");
  EXPECT_TRUE(r->teams().example);
  // Every shipped file is valid on its own too.
  for (const auto& [name, text] : ShippedFiles()) EXPECT_TRUE(ValidateRuleFile(text, name).ok()) << name;
}

TEST(CareRuleLoader, MissingDirectoryIsNotFound) {
  EXPECT_EQ(RuleSet::LoadFromDirectory("/nonexistent/rules").status().code(), absl::StatusCode::kNotFound);
}

TEST(CareRuleLoader, VersionChangesWithContentEvenWhenTheDeclaredVersionDoesNot) {
  auto a = RuleSet::LoadFromFiles(ShippedFiles());
  auto files = ShippedFiles();
  files["kpis.yaml"] = Replace(files["kpis.yaml"], "target_percent: 95}", "target_percent: 90}");
  auto b = RuleSet::LoadFromFiles(files);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(a->version(), b->version());
  EXPECT_EQ(a->file_versions(), b->file_versions());
  auto c = RuleSet::LoadFromFiles(ShippedFiles());
  EXPECT_EQ(a->version(), c->version());  // deterministic
}

TEST(CareRuleLoader, ReplacingAFileThroughTheManifest) {
  auto files = ShippedFiles();
  files["review_periods.trust-b.yaml"] =
      Replace(Replace(files["review_periods.yaml"], "default_policy: sop", "default_policy: national"),
              "review-periods-2026.1", "trust-b-periods-7");
  files["manifest.yaml"] =
      Replace(files["manifest.yaml"], "review_periods: review_periods.yaml", "review_periods: review_periods.trust-b.yaml");
  auto r = RuleSet::LoadFromFiles(files);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->default_review_policy(), ReviewPolicy::kNational);
  EXPECT_EQ(r->file_versions().at("review_periods"), "trust-b-periods-7");
}

TEST(CareRuleLoader, ManifestNamingAMissingFile) {
  auto files = ShippedFiles();
  files.erase("outcomes.yaml");
  auto r = RuleSet::LoadFromFiles(files);
  EXPECT_THAT(Msg(r.status()), HasSubstr("manifest.yaml: files.outcomes: file \"outcomes.yaml\" not found"));
  files.erase("manifest.yaml");
  EXPECT_THAT(Msg(RuleSet::LoadFromFiles(files).status()), HasSubstr("manifest.yaml: file not found"));
}

struct Malformed {
  const char* name;
  const char* file;
  const char* from;          // text replaced in the shipped file
  const char* to;
  const char* line_of;       // the problem is reported on the line holding this text (after the change)
  const char* message;       // and the message contains this
  const char* alone_message = nullptr;  // what the single-file validator says, when it differs
};

class CareRuleLoaderMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(CareRuleLoaderMalformed, RefusedWithFileLineAndField) {
  const Malformed& m = GetParam();
  const std::string changed = Replace(ShippedFiles()[m.file], m.from, m.to);
  const std::string error = LoadWith(m.file, changed);
  ASSERT_FALSE(error.empty()) << "loaded although " << m.name;
  const std::string place = std::string(m.file) + ":" + std::to_string(LineOf(changed, m.line_of)) + ":";
  EXPECT_THAT(error, HasSubstr(place)) << error;
  EXPECT_THAT(error, HasSubstr(m.message)) << error;
  // The single-file validator (the CLI's engine) reports the same problem, unless it is a cross-file one.
  absl::Status alone = ValidateRuleFile(changed, m.file);
  EXPECT_FALSE(alone.ok());
  EXPECT_THAT(Msg(alone), HasSubstr(m.alone_message != nullptr ? m.alone_message : m.message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CareRuleLoaderMalformed,
    ::testing::Values(
        Malformed{"YamlSyntax", "clusters.yaml", "clusters:\n", "clusters: [\n", "  - {id: 0,", "yaml:"},
        Malformed{"WrongKind", "clusters.yaml", "kind: clusters", "kind: transitions", "kind: transitions",
                  "kind: is \"transitions\" but this file is read as \"clusters\"", "clusters: unknown field"},
        Malformed{"MissingVersion", "outcomes.yaml", "version: \"outcomes-2026.1\"\n", "", "kind: outcomes",
                  "version: is required"},
        Malformed{"UnknownField", "service_areas.yaml", "    rarely: [4, 12]", "    rarley: [4, 12]", "rarley",
                  "areas[0].rarley: unknown field"},
        Malformed{"BlankCluster", "service_areas.yaml", "clusters: [18, 19, 20, 21]", "clusters: [9, 19, 20, 21]",
                  "[9, 19", "areas[3].clusters[0]: cluster 9 is not a valid cluster"},
        Malformed{"DuplicateClusterEntry", "clusters.yaml", "{id: 3,", "{id: 2,", "{id: 2, label: \"Non-psychotic (m",
                  "clusters[3].id: cluster 2 is listed twice"},
        Malformed{"BadSuperClass", "clusters.yaml", "super_class: O, indicative_period: \"3+ years\"}\n  - {id: 19",
                  "super_class: Q, indicative_period: \"3+ years\"}\n  - {id: 19", "super_class: Q",
                  "super-class \"Q\" is not one of"},
        Malformed{"BadIndicativePeriod", "clusters.yaml", "\"8-12 weeks\"}\n  - {id: 15", "\"12-8 weeks\"}\n  - {id: 15",
                  "12-8 weeks", "indicative period"},
        Malformed{"BadPeriod", "review_periods.yaml", "      14: 28 days", "      14: 28 dayz", "14: 28 dayz",
                  "policies.national.periods.14: period \"28 dayz\""},
        Malformed{"MissingPeriod", "review_periods.yaml", "      18: 12 months\n      19: 6 months\n      20: 6 months\n      21: 6 months\n",
                  "      18: 12 months\n      19: 6 months\n      20: 6 months\n", "      0: 6 months",
                  "no review period for cluster 21"},
        Malformed{"UnknownPolicy", "review_periods.yaml", "default_policy: sop", "default_policy: trust",
                  "default_policy: trust", "review policy \"trust\""},
        Malformed{"TransitionRowMissingColumn", "transitions.yaml", "deterioration: [8],          ", "",
                  "{from: 8,", "table[8].deterioration: is required"},
        Malformed{"TransitionUnknownCluster", "transitions.yaml", "deterioration: [21],", "deterioration: [22],",
                  "deterioration: [22]", "table[20].deterioration[0]: cluster 22"},
        Malformed{"TransitionBadChangeClass", "transitions.yaml", "change_classes: [improvement]\n",
                  "change_classes: [improved]\n", "change_classes: [improved]", "change class \"improved\""},
        Malformed{"TransitionBadTrigger", "transitions.yaml",
                  "triggers: [crht_referral, inpatient_referral, admission, mha_assessment, medication_non_concordance]\n    change_classes: [improvement]\n    expected: [13]",
                  "triggers: [crht_referral, arrest]\n    change_classes: [improvement]\n    expected: [13]",
                  "triggers: [crht_referral, arrest]", "step_up[2].triggers[1]: history trigger \"arrest\""},
        Malformed{"TransitionRestrictionUnknownField", "transitions.yaml", "not_for_returning_patient: true",
                  "not_for_returning: true", "not_for_returning: true",
                  "restrictions[0].not_for_returning: unknown field"},
        Malformed{"TransitionRestrictionRestrictsNothing", "transitions.yaml",
                  "    not_at_first_presentation: true\n    not_for_returning_patient: true\n", "", "  - cluster: 7",
                  "restrictions[0]: restricts nothing"},
        Malformed{"TransitionPriorClusterBadReading", "transitions.yaml", "    reading: either\n",
                  "    reading: both\n", "reading: both", "prior_cluster[0].reading: reading \"both\" is not either or same"},
        Malformed{"TransitionTableReadingUnknown", "transitions.yaml", "row_16: as_row_17", "row_16: as_row_16",
                  "row_16: as_row_16", "readings.row_16: reading \"as_row_16\" is not one of: as_row_17, "
                  "change_in_diagnosis_19_only"},
        Malformed{"TransitionTableReadingUnknownRow", "transitions.yaml", "  row_18: as_printed",
                  "  row_19: as_printed", "row_19: as_printed", "readings.row_19: no ambiguity \"row_19\""},
        Malformed{"TransitionAdvisoryWithoutId", "transitions.yaml", "  - id: organic_move_down\n", "  -\n",
                  "  -\n    clusters: [18, 19, 20, 21]", "advisories[1].id: is required"},
        Malformed{"TransitionAdvisoryDuplicateId", "transitions.yaml", "id: organic_move_down",
                  "id: psychosis_sustained_recovery", "12 months.\"\n  - id: psychosis_sustained_recovery",
                  "advisories[1].id: advisory \"psychosis_sustained_recovery\" is listed twice"},
        Malformed{"TransitionAdvisoryBadMove", "transitions.yaml", "move: to_lower_numbered", "move: downwards",
                  "move: downwards", "advisories[1].move: move \"downwards\" is not to_other_cluster or to_lower_numbered"},
        Malformed{"TransitionAdvisoryBadCheck", "transitions.yaml", "check: flag\n    text: \"Organic",
                  "check: warn\n    text: \"Organic", "check: warn", "advisories[1].check: check \"warn\""},
        Malformed{"TransitionAdvisoryTimeWithoutPeriod", "transitions.yaml", "    min_time_on_cluster: 12 months\n", "",
                  "  - id: psychosis_sustained_recovery", "advisories[0].min_time_on_cluster: is required"},
        Malformed{"TransitionAdvisoryPeriodOnAFlag", "transitions.yaml",
                  "check: flag\n    text: \"Non-psychotic", "check: flag\n    min_time_on_cluster: 3 months\n    text: \"Non-psychotic",
                  "min_time_on_cluster: 3 months", "advisories[2].min_time_on_cluster: is used only with check: time_on_cluster"},
        Malformed{"TransitionAdvisoryBadPeriod", "transitions.yaml", "min_time_on_cluster: 12 months",
                  "min_time_on_cluster: a year", "min_time_on_cluster: a year", "advisories[0].min_time_on_cluster: period"},
        Malformed{"ProfileRowTooShort", "scoring_profiles.EXAMPLE.yaml", "  4:\n    \"1\":  \"E E P P U\"",
                  "  4:\n    \"1\":  \"E E P P\"", "\"E E P P\"\n", "profiles.4.item 1: has 4 cells"},
        Malformed{"ProfileBadCell", "scoring_profiles.EXAMPLE.yaml", "  5:\n    \"1\":  \"P E E P U\"",
                  "  5:\n    \"1\":  \"P E X P U\"", "\"P E X P U\"", "profiles.5.item 1 rating 2: cell \"X\""},
        Malformed{"ProfileAllUnlikely", "scoring_profiles.EXAMPLE.yaml", "  6:\n    \"1\":  \"E E P P U\"",
                  "  6:\n    \"1\":  \"U U U U U\"", "\"U U U U U\"", "every rating is U"},
        Malformed{"ProfileUnknownItem", "scoring_profiles.EXAMPLE.yaml", "  7:\n    \"1\":", "  7:\n    \"F\":",
                  "\"F\":", "profiles.7.item F: is not an MHCT item"},
        Malformed{"ProfileMissingItem", "scoring_profiles.EXAMPLE.yaml", "  8:\n    \"1\":  \"U P E E P\"\n", "  8:\n",
                  "  8:\n    \"2\"", "profiles.8: no row for item 1"},
        Malformed{"ProfileUnknownCluster", "scoring_profiles.EXAMPLE.yaml", "  10:\n", "  9:\n", "  9:\n",
                  "profiles.9: cluster 9 is not a valid cluster"},
        Malformed{"ProfileNotMarkedExampleOrNot", "scoring_profiles.EXAMPLE.yaml", "example: true\n", "", "kind:",
                  "example: is required"},
        Malformed{"FactorMaxWrong", "outcomes.yaml", "items: [2, 7, 8], max: 12", "items: [2, 7, 8], max: 16",
                  "items: [2, 7, 8], max: 16}", "four_factor[1].max: is 16 but 3 items"},
        Malformed{"FactorItemOutOfRange", "outcomes.yaml", "items: [1, 6], max: 8", "items: [1, 13], max: 8",
                  "items: [1, 13]", "four_factor[3].items[1]: 13 is outside 1-12"},
        Malformed{"BadMissingPolicy", "outcomes.yaml", "missing_items: strict", "missing_items: lenient",
                  "\nmissing_items: lenient", "missing-item policy \"lenient\""},
        Malformed{"BadOutcomeTag", "outcomes.yaml", "outcomes: [improvement]\n", "outcomes: [recovery]\n",
                  "outcomes: [recovery]", "outcome \"recovery\""},
        Malformed{"KpiMissing", "kpis.yaml", "  - {id: KPI13,", "  - {id: KPI14,", "kpis:\n  - {", "missing KPI13"},
        Malformed{"KpiTargetOutOfRange", "kpis.yaml", "KPI3, title: \"Allocated clusters appropriate to the service area\", target_percent: 100",
                  "KPI3, title: \"Allocated clusters appropriate to the service area\", target_percent: 101",
                  "target_percent: 101", "kpis[2].target_percent: must be a number from 0 to 100"},
        Malformed{"KpiBadEarlyReview", "kpis.yaml", "early_review: met ", "early_review: sometimes ",
                  "early_review: sometimes", "timing.early_review: \"sometimes\" is not one of met, not_met, excluded"},
        Malformed{"KpiBadOutOfHoursWindow", "kpis.yaml", "out_of_hours_window: after ", "out_of_hours_window: before ",
                  "out_of_hours_window: before", "timing.out_of_hours_window: \"before\" is not one of after, either_side"},
        Malformed{"KpiBadDischargeWindow", "kpis.yaml", "discharge_review_window: either_side ",
                  "discharge_review_window: around ", "discharge_review_window: around",
                  "timing.discharge_review_window: \"around\" is not one of either_side, after, before"},
        Malformed{"KpiMisspeltOption", "kpis.yaml", "early_review: met ", "early_reviews: met ", "early_reviews: met",
                  "timing.early_reviews: unknown field"},
        Malformed{"PriceNegative", "prices/EXAMPLE-00X-2024-25.yaml", "4: \"18.40\"", "4: \"-18.40\"", "-18.40",
                  "prices.4: amount \"-18.40\""},
        Malformed{"PriceThreeDecimals", "prices/EXAMPLE-00X-2024-25.yaml", "5: \"24.75\"", "5: \"24.755\"",
                  "24.755", "prices.5: amount"},
        Malformed{"PriceForBlankCluster", "prices/EXAMPLE-00X-2024-25.yaml", "  6: \"22.10\"", "  9: \"22.10\"",
                  "  9: \"22.10\"", "prices.9: cluster 9 is not a valid cluster"},
        Malformed{"PriceYearNotConsecutive", "prices/EXAMPLE-00X-2024-25.yaml", "financial_year: 2024/25",
                  "financial_year: 2024/26", "financial_year: 2024/26", "financial year \"2024/26\""},
        Malformed{"PriceBadBasis", "prices/EXAMPLE-00Y-2024-25.yaml", "basis: per_review_period",
                  "basis: per_month", "basis: per_month", "basis \"per_month\""},
        Malformed{"ManifestWithoutTeams", "manifest.yaml", "  teams: teams.yaml\n", "", "  clusters: clusters.yaml",
                  "files.teams: is required"},
        Malformed{"TeamListedTwice", "teams.yaml", "  - id: cmht-south\n", "  - id: cmht-north\n",
                  "false\n  - id: cmht-north", "teams[1].id: team \"cmht-north\" is listed twice"},
        Malformed{"TeamIdWithASlash", "teams.yaml", "id: eip-north", "id: eip/north", "id: eip/north",
                  "teams[3].id: contains '/'"},
        Malformed{"TeamIdWithASpace", "teams.yaml", "id: crht-east", "id: crht east", "id: crht east",
                  "teams[7].id: contains a space"},
        Malformed{"TeamUnknownField", "teams.yaml", "    memory_assessment_service: true\n  - id: memory-south",
                  "    memory_assesment_service: true\n  - id: memory-south", "memory_assesment_service",
                  "teams[8].memory_assesment_service: unknown field; expected one of: id, name, service_area"},
        Malformed{"TeamMemoryFlagNotABool", "teams.yaml", "memory_assessment_service: true\n  - id: memory-south",
                  "memory_assessment_service: sometimes\n  - id: memory-south", "sometimes",
                  "teams[8].memory_assessment_service: must be true or false"},
        Malformed{"TeamWithoutCommissioner", "teams.yaml",
                  "    service_area: crht\n    default_commissioner: \"00Y\"\n", "    service_area: crht\n",
                  "id: crht-south", "teams[6].default_commissioner: is required"},
        Malformed{"TeamWithoutServiceArea", "teams.yaml", "    service_area: inpatient\n    default_commissioner: \"00X\"\n"
                  "    memory_assessment_service: false\n  - id: inpatient-ward-3",
                  "    default_commissioner: \"00X\"\n    memory_assessment_service: false\n  - id: inpatient-ward-3",
                  "id: ward-north", "teams[10].service_area: is required"},
        Malformed{"TeamsNotAList", "teams.yaml", "teams:\n  - id: cmht-north", "teams: cmht-north\nold:\n  - id: cmht-north",
                  "teams: cmht-north", "teams: must be a list of teams"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CareRuleLoaderCrossFile, TwoPriceListsForTheSameCommissionerAndYear) {
  auto files = ShippedFiles();
  files["prices/EXAMPLE-00Y-2024-25.yaml"] =
      Replace(files["prices/EXAMPLE-00Y-2024-25.yaml"], "commissioner: \"00Y\"", "commissioner: \"00X\"");
  EXPECT_THAT(Msg(RuleSet::LoadFromFiles(files).status()),
              HasSubstr("two price lists for commissioner 00X in 2024/25"));
}

TEST(CareRuleLoader, ANewPriceChangesTheVersionButNotTheCareVersion) {
  auto files = ShippedFiles();
  const auto shipped = RuleSet::LoadFromFiles(files);
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  files["prices/EXAMPLE-00X-2024-25.yaml"] = Replace(files["prices/EXAMPLE-00X-2024-25.yaml"], "4: \"18.40\"", "4: \"19.00\"");
  const auto repriced = RuleSet::LoadFromFiles(files);
  ASSERT_TRUE(repriced.ok()) << repriced.status();
  EXPECT_NE(repriced->version(), shipped->version());
  EXPECT_EQ(repriced->care_version(), shipped->care_version()) << "care is not derived with prices";
  files["review_periods.yaml"] = Replace(files["review_periods.yaml"], "window_days: 10", "window_days: 11");
  const auto periods = RuleSet::LoadFromFiles(files);
  ASSERT_TRUE(periods.ok()) << periods.status();
  EXPECT_NE(periods->care_version(), shipped->care_version());
  files["prices/EXAMPLE-00X-2024-25.yaml"] =
      Replace(files["prices/EXAMPLE-00X-2024-25.yaml"], "EXAMPLE-00X-2024/25-v1", std::string(129, 'v'));
  EXPECT_THAT(Msg(RuleSet::LoadFromFiles(files).status()),
              HasSubstr("version: must be printable ASCII of at most 128 characters"));
}

TEST(CareRuleLoaderCrossFile, ATeamInAServiceAreaTheRulesDoNotHave) {
  const std::string changed = Replace(ShippedFiles()["teams.yaml"], "service_area: crht\n    default_commissioner: \"00Y\"",
                                      "service_area: home_treatment\n    default_commissioner: \"00Y\"");
  EXPECT_THAT(LoadWith("teams.yaml", changed),
              HasSubstr(absl::StrCat("teams.yaml:", LineOf(changed, "service_area: home_treatment"),
                                     ":19: teams[6].service_area: \"home_treatment\" is not a service area of the rule "
                                     "set (inpatient, community_non_psychosis, community_psychosis, memory_dementia, crht)")));
  EXPECT_TRUE(ValidateRuleFile(changed, "teams.yaml").ok()) << "on its own the file cannot know the areas";
  // When the service areas themselves fail, only their problem is reported, not every team's.
  const std::string areas = Replace(ShippedFiles()["service_areas.yaml"], "acute_pathway: true", "acute_pathway: maybe");
  const std::string m = LoadWith("service_areas.yaml", areas);
  EXPECT_THAT(m, HasSubstr("service_areas.yaml:"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("teams.yaml")));
}

TEST(CareRuleLoader, ReplacingTheTeamsThroughTheManifest) {
  auto files = ShippedFiles();
  files["teams.mytrust.yaml"] =
      "kind: teams\n"
      "version: \"mytrust-teams-3\"\n"
      "teams:\n"
      "  - {id: RX4-CMHT-07, name: \"Riverside CMHT\", service_area: community_non_psychosis, default_commissioner: 15N}\n"
      "  - {id: RX4-MAS-01, name: \"Memory clinic\", service_area: memory_dementia, default_commissioner: 15N,\n"
      "     memory_assessment_service: true}\n";
  files["manifest.yaml"] = Replace(files["manifest.yaml"], "teams: teams.yaml", "teams: teams.mytrust.yaml");
  auto r = RuleSet::LoadFromFiles(files);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->file_versions().at("teams"), "mytrust-teams-3");
  EXPECT_FALSE(r->teams().example);
  EXPECT_EQ(r->teams().teams.size(), 2u);
  EXPECT_EQ(r->teams().Find("cmht-north"), nullptr) << "the example teams are gone";
  const Team* memory = r->teams().Find("RX4-MAS-01");
  ASSERT_NE(memory, nullptr);
  EXPECT_TRUE(memory->memory_assessment_service);
  EXPECT_EQ(memory->default_commissioner, "15N");
  EXPECT_FALSE(r->teams().Find("RX4-CMHT-07")->memory_assessment_service) << "false when left out";
}

TEST(CareRuleLoaderCrossFile, EveryProblemInEveryFileIsListed) {
  auto files = ShippedFiles();
  files["kpis.yaml"] = Replace(files["kpis.yaml"], "target_percent: 100}", "target_percent: lots}");
  files["service_areas.yaml"] = Replace(files["service_areas.yaml"], "acute_pathway: true", "acute_pathway: maybe");
  const std::string m = Msg(RuleSet::LoadFromFiles(files).status());
  EXPECT_THAT(m, HasSubstr("kpis.yaml:"));
  EXPECT_THAT(m, HasSubstr("service_areas.yaml:"));
  EXPECT_THAT(m, HasSubstr("acute_pathway: must be true or false"));
  EXPECT_GE(std::count(m.begin(), m.end(), '\n'), 3);
}

TEST(CareRuleLoaderFromData, RefusesIncompleteData) {
  RuleData data = ShippedRules().data();
  data.review_periods.national.erase(7);
  data.transitions.rows.erase(12);
  data.kpis.kpis.erase("KPI5");
  const std::string m = Msg(RuleSet::FromData(data).status());
  EXPECT_THAT(m, HasSubstr("no national review period for cluster 7"));
  EXPECT_THAT(m, HasSubstr("no table row for cluster 12"));
  EXPECT_THAT(m, HasSubstr("no target for KPI5"));
  RuleData teams = ShippedRules().data();
  teams.teams.teams.at("crht-east").service_area = "home_treatment";
  teams.teams.teams.at("cmht-east").default_commissioner.clear();
  const std::string t = Msg(RuleSet::FromData(teams).status());
  EXPECT_THAT(t, HasSubstr("teams: team \"crht-east\": service area \"home_treatment\" is not in service_areas"));
  EXPECT_THAT(t, HasSubstr("teams: team \"cmht-east\" has no default commissioner"));
  RuleData ok = ShippedRules().data();
  auto r = RuleSet::FromData(ok);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->version(), ::testing::StartsWith("trust-example-2024.1#"));
}

TEST(CareRuleFiles, KindDetection) {
  EXPECT_EQ(*DetectRuleFileKind("kind: price_list\n", "x"), RuleFileKind::kPriceList);
  EXPECT_THAT(Msg(DetectRuleFileKind("kind: recipe\n", "x.yaml").status()), HasSubstr("x.yaml:1:7: kind:"));
  EXPECT_THAT(Msg(DetectRuleFileKind("version: 1\n", "x.yaml").status()), HasSubstr("kind: is required"));
  EXPECT_THAT(Msg(DetectRuleFileKind("- a\n- b\n", "x.yaml").status()), HasSubstr("must be a YAML mapping"));
}

}  // namespace
}  // namespace care
