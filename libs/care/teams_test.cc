// The team registry: lookups, id rules, and the shipped example set against the service areas.
#include "care/teams.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "care/rule_files.h"
#include "test_util.h"

namespace care {
namespace {

using ::testing::HasSubstr;
using testing::Msg;
using testing::ShippedRules;

TEST(CareTeams, FindByIdExactly) {
  const Teams& teams = ShippedRules().teams();
  const Team* north = teams.Find("cmht-north");
  ASSERT_NE(north, nullptr);
  EXPECT_EQ(north->id, "cmht-north");
  EXPECT_EQ(north->service_area, "community_non_psychosis");
  EXPECT_EQ(north->default_commissioner, "00X");
  EXPECT_FALSE(north->memory_assessment_service);
  EXPECT_EQ(teams.Find("CMHT-NORTH"), nullptr) << "ids are matched exactly";
  EXPECT_EQ(teams.Find("cmht-north "), nullptr);
  EXPECT_EQ(teams.Find(""), nullptr);
  EXPECT_EQ(teams.Find("t-north"), nullptr);
}

// The example set holds the teams the demo, the import samples, the tests and the bench send, each in the
// service area whose clusters they allocate.
TEST(CareTeams, TheExampleSetCoversTheDemoAndSampleTeamsInTheirServiceAreas) {
  const struct {
    const char* id;
    const char* area;
    bool memory;
  } kExpected[] = {
      {"cmht-north", "community_non_psychosis", false}, {"cmht-south", "community_non_psychosis", false},
      {"cmht-east", "community_non_psychosis", false},  {"eip-north", "community_psychosis", false},
      {"eip-central", "community_psychosis", false},    {"crht-north", "crht", false},
      {"crht-south", "crht", false},                    {"crht-east", "crht", false},
      {"memory-west", "memory_dementia", true},         {"memory-south", "memory_dementia", true},
      {"ward-north", "inpatient", false},               {"inpatient-ward-3", "inpatient", false},
  };
  const RuleSet& rules = ShippedRules();
  EXPECT_TRUE(rules.teams().example);
  EXPECT_EQ(rules.teams().teams.size(), std::size(kExpected));
  for (const auto& e : kExpected) {
    const Team* t = rules.teams().Find(e.id);
    ASSERT_NE(t, nullptr) << e.id;
    EXPECT_EQ(t->service_area, e.area) << e.id;
    EXPECT_EQ(t->memory_assessment_service, e.memory) << e.id;
    EXPECT_NE(rules.service_areas().Find(t->service_area), nullptr) << e.id;
    EXPECT_FALSE(t->name.empty()) << e.id;
    // The example commissioners are the ones the example price lists bill.
    EXPECT_TRUE(t->default_commissioner == "00X" || t->default_commissioner == "00Y") << e.id;
  }
}

TEST(CareTeams, ACommissionerNamedByNobodyIsUnknown) {
  EXPECT_EQ(CommissionerOrUnknown(""), kUnknownCommissioner);
  EXPECT_EQ(CommissionerOrUnknown("00X"), "00X");
  EXPECT_TRUE(TeamIdProblem(kUnknownCommissioner).empty()) << "a commissioner id like any other";
}

TEST(CareTeams, IdsAreLettersDigitsDashUnderscoreAndDot) {
  for (const char* ok : {"cmht-north", "RX4_CMHT.07", "a", "15N"}) EXPECT_EQ(TeamIdProblem(ok), "") << ok;
  EXPECT_THAT(TeamIdProblem(""), HasSubstr("must not be empty"));
  EXPECT_THAT(TeamIdProblem("east/1"), HasSubstr("contains '/'"));
  EXPECT_THAT(TeamIdProblem("east 1"), HasSubstr("contains a space"));
  EXPECT_THAT(TeamIdProblem("east\n"), HasSubstr("contains byte 10"));
  EXPECT_THAT(TeamIdProblem("caf\xc3\xa9"), HasSubstr("contains byte 195"));
  EXPECT_EQ(TeamIdProblem(std::string(kMaxTeamIdBytes, 't')), "");
  EXPECT_THAT(TeamIdProblem(std::string(kMaxTeamIdBytes + 1, 't')), HasSubstr("129 bytes, longer than 128"));
}

TEST(CareTeams, AFileOnItsOwn) {
  auto empty = ParseTeamsFile("kind: teams\nversion: \"migration-0\"\nteams: []\n", "t.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->teams.empty()) << "an empty registry is allowed (with allow-unknown-teams, during a migration)";
  EXPECT_FALSE(empty->example);
  // Every problem at once, each with its line, column and field.
  auto bad = ParseTeamsFile(
      "kind: teams\n"
      "version: \"x\"\n"
      "teams:\n"
      "  - {id: a, name: A, service_area: crht}\n"
      "  - {id: a, name: B, service_area: crht, default_commissioner: \"00X\", colour: red}\n"
      "  - just-an-id\n",
      "t.yaml");
  ASSERT_FALSE(bad.ok());
  const std::string m = Msg(bad.status());
  EXPECT_THAT(m, HasSubstr("t.yaml:4:5: teams[0].default_commissioner: is required"));
  EXPECT_THAT(m, HasSubstr("t.yaml:5:71: teams[1].colour: unknown field"));
  EXPECT_THAT(m, HasSubstr("t.yaml:5:10: teams[1].id: team \"a\" is listed twice"));
  EXPECT_THAT(m, HasSubstr("t.yaml:6:5: teams[2]: must be a mapping"));
  // The areas a loaded rule set knows, when given.
  auto areas = ParseTeamsFile(
      "kind: teams\nversion: \"x\"\nteams:\n  - {id: a, name: A, service_area: ward, default_commissioner: c}\n",
      "t.yaml", &ShippedRules().service_areas());
  EXPECT_THAT(Msg(areas.status()), HasSubstr("t.yaml:4:36: teams[0].service_area: \"ward\" is not a service area"));
}

}  // namespace
}  // namespace care
