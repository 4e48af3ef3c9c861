// Cluster suggestion and red rules on a profile set built in the test, plus the shipped example set.
#include "care/profiles.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace care {
namespace {

using ::testing::HasSubstr;
using testing::ShippedRules;

ItemRow Row(const char* cells) {
  ItemRow row{};
  int v = 0;
  for (const char* p = cells; *p; ++p) {
    if (*p == ' ') continue;
    row[v++] = *ParseCellMark(*p);
  }
  return row;
}

// Every cluster: low ratings expected everywhere. Then:
//   4: depressed mood (item 7) expected 2-4;
//   10: hallucinations (item 6) must score 2-4;
//   14: hallucinations must score 3-4, overactive (item 1) expected 3-4;
//   18: cognitive problems (item 4) must score 1-4.
ProfileSet TestProfiles() {
  ProfileSet set;
  set.version = "test-profiles-1";
  set.label = "built in the test";
  for (int c = 0; c <= 21; ++c) {
    if (!IsValidClusterId(c)) continue;
    ClusterProfile p;
    p.cluster = c;
    for (auto& item : p.items) item = Row("E E P U U");
    set.profiles[c] = p;
  }
  set.profiles[4].items[6] = Row("U P E E E");
  set.profiles[10].items[5] = Row("U U M M M");
  set.profiles[14].items[5] = Row("U U U M M");
  set.profiles[14].items[0] = Row("U P P E E");
  set.profiles[18].items[3] = Row("U M M M M");
  return set;
}

MhctRatings Ratings(std::initializer_list<std::pair<int, int>> items) {
  MhctRatings r;
  for (auto [index, rating] : items) r.items[index] = rating;
  if (r.items[kItem8Index] >= 1 && r.items[kItem8Index] <= 4) r.item8_problem_type = 'B';
  return r;
}

TEST(CareProfileSet, TestSetIsValid) { EXPECT_TRUE(ValidateProfileSet(TestProfiles()).ok()); }

TEST(CareProfileSet, ValidationFindsEveryProblem) {
  ProfileSet set = TestProfiles();
  set.profiles.erase(7);
  set.profiles[9] = set.profiles[8];
  set.profiles[9].cluster = 9;
  set.profiles[5].items[2] = Row("U U U U U");
  set.profiles[6].cluster = 3;
  const std::string m = testing::Msg(ValidateProfileSet(set));
  EXPECT_THAT(m, HasSubstr("cluster 7 has no profile"));
  EXPECT_THAT(m, HasSubstr("cluster 9 is not a valid cluster"));
  EXPECT_THAT(m, HasSubstr("profiles[5].item 3: every rating is unlikely"));
  EXPECT_THAT(m, HasSubstr("profiles[6]: profile says cluster 3"));
}

TEST(CareSuggestion, RanksEveryClusterButNineAndExcludesBrokenMustCells) {
  // Hallucinations 2, depressed mood 3.
  auto s = SuggestClusters(TestProfiles(), Ratings({{5, 2}, {6, 3}}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ranked.size() + s->excluded.size(), 21u);
  std::set<int> seen;
  for (const auto* list : {&s->ranked, &s->excluded}) {
    for (const auto& c : *list) {
      EXPECT_NE(c.cluster, 9);
      EXPECT_TRUE(seen.insert(c.cluster).second);
      EXPECT_GE(c.fit, 0.0);
      EXPECT_LE(c.fit, 1.0);
      EXPECT_FALSE(c.explanation.empty());
    }
  }
  // 14 needs hallucinations 3-4; 18 needs cognitive problems 1-4.
  ASSERT_EQ(s->excluded.size(), 2u);
  EXPECT_EQ(s->excluded[0].cluster == 14 ? s->excluded[1].cluster : s->excluded[0].cluster, 18);
  for (const auto& c : s->excluded) {
    EXPECT_TRUE(c.excluded);
    ASSERT_EQ(c.broken.size(), 1u);
    if (c.cluster == 14) {
      EXPECT_EQ(c.broken[0].item, 5);
      EXPECT_EQ(c.broken[0].rating, 2);
      EXPECT_EQ(c.broken[0].must_ratings, (std::set<int>{3, 4}));
      EXPECT_THAT(c.explanation,
                  HasSubstr("item 6 (Hallucinations and delusions) is rated 2 but cluster 14 must score 3-4"));
    }
  }
  // Cluster 4 fits depressed mood best; 10 is not excluded (hallucinations 2 meets its 2-4).
  EXPECT_EQ(s->ranked[0].cluster, 4);
  EXPECT_THAT(s->ranked[0].explanation, HasSubstr("Rank 1: Cluster 4 fits"));
  EXPECT_THAT(s->ranked[0].explanation, HasSubstr("item 7 (Depressed mood) 3"));
  for (size_t i = 1; i < s->ranked.size(); ++i) EXPECT_GE(s->ranked[i - 1].fit, s->ranked[i].fit);
  EXPECT_EQ(s->rule_version, "test-profiles-1");
  EXPECT_FALSE(s->example_profiles);
}

TEST(CareSuggestion, PsychosisRatingsPutTheMustCellClusterFirst) {
  auto s = SuggestClusters(TestProfiles(), Ratings({{5, 4}, {0, 4}, {3, 1}}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ranked[0].cluster, 14);
  EXPECT_EQ(s->ranked[1].cluster, 10);
  // Cluster 0 ties with most others here; ties go to the lowest id.
  EXPECT_EQ(s->ranked[2].cluster, 0);
  EXPECT_THAT(s->ranked[3].explanation, HasSubstr("unlikely to have"));
}

TEST(CareSuggestion, TiesBreakByClusterId) {
  auto s = SuggestClusters(TestProfiles(), Ratings({{3, 1}}));
  ASSERT_TRUE(s.ok());
  // All clusters but 10 and 14 (excluded) and 18 score the same... 18 must score 1-4 on item 4: met.
  ASSERT_GE(s->ranked.size(), 3u);
  for (size_t i = 1; i < s->ranked.size(); ++i) {
    if (s->ranked[i - 1].fit == s->ranked[i].fit &&
        s->ranked[i - 1].unlikely_hits == s->ranked[i].unlikely_hits) {
      EXPECT_LT(s->ranked[i - 1].cluster, s->ranked[i].cluster);
    }
  }
}

TEST(CareSuggestion, NotKnownItemsAreLeftOutButBreakMustCells) {
  MhctRatings r;
  r.items.fill(kNotKnown);
  auto s = SuggestClusters(TestProfiles(), r);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->excluded.size(), 3u);  // 10, 14, 18 cannot confirm their must cells
  EXPECT_THAT(s->excluded[0].explanation, HasSubstr("is not known (9)"));
  for (const auto& c : s->ranked) EXPECT_EQ(c.fit, 0.0);
}

TEST(CareSuggestion, InvalidRatingsAreRefused) {
  MhctRatings r;
  r.items[2] = 6;
  EXPECT_EQ(SuggestClusters(TestProfiles(), r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRedRules(TestProfiles(), 4, r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CareRedRules, ChosenClusterAgainstItsMustCells) {
  auto met = CheckRedRules(TestProfiles(), 10, Ratings({{5, 3}}));
  ASSERT_TRUE(met.ok());
  EXPECT_TRUE(met->met);
  EXPECT_FALSE(met->rationale_required());
  auto broken = CheckRedRules(TestProfiles(), 10, Ratings({{5, 1}}));
  EXPECT_FALSE(broken->met);
  EXPECT_TRUE(broken->rationale_required());
  ASSERT_EQ(broken->broken.size(), 1u);
  EXPECT_THAT(broken->explanation, HasSubstr("must score 2-4"));
  EXPECT_THAT(broken->explanation, HasSubstr("Record a clinical rationale"));
  auto unknown = CheckRedRules(TestProfiles(), 10, Ratings({{5, 9}}));
  EXPECT_FALSE(unknown->met);
  // Clusters without must cells always meet their red rules.
  EXPECT_TRUE(CheckRedRules(TestProfiles(), 0, Ratings({{0, 4}, {5, 4}}))->met);
  EXPECT_EQ(CheckRedRules(TestProfiles(), 9, Ratings({})).status().code(), absl::StatusCode::kInvalidArgument);
  ProfileSet partial = TestProfiles();
  partial.profiles.erase(4);
  EXPECT_EQ(CheckRedRules(partial, 4, Ratings({})).status().code(), absl::StatusCode::kNotFound);
}

TEST(CareExampleProfiles, ShippedSetIsLabelledAsAnExample) {
  const ProfileSet& set = ShippedRules().profiles();
  EXPECT_TRUE(set.example);
  EXPECT_THAT(set.label, HasSubstr("EXAMPLE"));
  EXPECT_TRUE(ValidateProfileSet(set).ok());
  auto s = ShippedRules().SuggestClusters(Ratings({{5, 4}, {0, 3}, {6, 1}}));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->example_profiles);
  EXPECT_EQ(s->rule_version, ShippedRules().version());
  EXPECT_THAT(s->ranked[0].explanation, HasSubstr("Example profiles, not the national grid"));
  EXPECT_THAT(s->ranked[0].explanation, HasSubstr("("));  // labels come from the catalogue
  auto red = ShippedRules().CheckRedRules(4, Ratings({{5, 4}}));
  ASSERT_TRUE(red.ok());
  EXPECT_FALSE(red->met);  // the example non-psychotic profiles need hallucinations 0-1
  EXPECT_TRUE(red->example_profiles);
}

TEST(CareCellMark, Codes) {
  for (CellMark m : {CellMark::kUnlikely, CellMark::kMay, CellMark::kExpected, CellMark::kMust}) {
    EXPECT_EQ(*ParseCellMark(CellMarkCode(m)), m);
    EXPECT_FALSE(CellMarkName(m).empty());
  }
  EXPECT_FALSE(ParseCellMark('X').ok());
  EXPECT_FALSE(ParseCellMark('m').ok());
}

}  // namespace
}  // namespace care
