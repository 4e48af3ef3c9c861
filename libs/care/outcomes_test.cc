#include "care/outcomes.h"

#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test_util.h"

namespace care {
namespace {

using ::testing::ElementsAre;
using testing::ShippedRules;

const OutcomeModel& Model() { return ShippedRules().outcomes(); }
// The shipped model with a trust's severe classification switched on for the psychosis clusters.
const OutcomeModel& SevereForPsychosis() {
  static const OutcomeModel m = [] {
    OutcomeModel copy = Model();
    copy.severe_clusters = {10, 11, 12, 13, 14, 15, 16, 17};
    return copy;
  }();
  return m;
}

MhctRatings WithHonos(std::array<int, 12> honos) {
  MhctRatings r;
  for (int i = 0; i < 12; ++i) r.items[i] = honos[i];
  if (r.items[kItem8Index] >= 1 && r.items[kItem8Index] <= 4) r.item8_problem_type = 'B';
  return r;
}

// ---- HoNOS total ----

TEST(CareHonosTotal, SumsItemsOneToTwelveOnly) {
  MhctRatings r;
  EXPECT_EQ(ComputeHonosTotal(r).total, 0);
  EXPECT_TRUE(ComputeHonosTotal(r).valid);
  r.items.fill(4);
  HonosTotal t = ComputeHonosTotal(r);
  EXPECT_EQ(t.total, 48);  // item 13 and A-E are not HoNOS
  EXPECT_TRUE(t.valid);
  r = WithHonos({1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2});
  r.items[12] = 4;
  r.items[17] = 4;
  EXPECT_EQ(ComputeHonosTotal(r).total, 23);
}

struct MissingCase {
  MissingItemPolicy policy;
  int missing;
  bool valid;
};
class CareHonosTotalMissing : public ::testing::TestWithParam<MissingCase> {};
TEST_P(CareHonosTotalMissing, PolicyDecidesValidity) {
  const MissingCase& c = GetParam();
  MhctRatings r;
  r.items.fill(2);
  for (int i = 0; i < c.missing; ++i) r.items[i] = kNotKnown;
  r.item8_problem_type = c.missing > kItem8Index ? 0 : 'B';
  HonosTotal t = ComputeHonosTotal(r, c.policy);
  EXPECT_EQ(t.missing_items, c.missing);
  EXPECT_EQ(t.total, 2 * (12 - c.missing));
  EXPECT_EQ(t.valid, c.valid);
}
std::vector<MissingCase> MissingCases() {
  std::vector<MissingCase> out;
  for (MissingItemPolicy p : {MissingItemPolicy::kStrict, MissingItemPolicy::kAllowUpToOne,
                              MissingItemPolicy::kAllowUpToTwo, MissingItemPolicy::kAllowUpToThree}) {
    for (int m = 0; m <= 12; ++m) out.push_back({p, m, m <= MaxMissingItems(p)});
  }
  return out;
}
INSTANTIATE_TEST_SUITE_P(AllPolicies, CareHonosTotalMissing, ::testing::ValuesIn(MissingCases()));

TEST(CareHonosTotal, StrictIsTheDefaultAndNineOutsideHonosDoesNotCount) {
  MhctRatings r;
  r.items[3] = kNotKnown;
  EXPECT_FALSE(ComputeHonosTotal(r).valid);
  MhctRatings s;
  s.items[12] = kNotKnown;
  s.items[15] = kNotKnown;
  EXPECT_TRUE(ComputeHonosTotal(s).valid);
  EXPECT_EQ(Model().missing_policy, MissingItemPolicy::kStrict);
}

TEST(CareHonosTotal, OutOfRangeRatingIsInvalid) {
  MhctRatings r;
  r.items[2] = 7;
  EXPECT_FALSE(ComputeHonosTotal(r, MissingItemPolicy::kAllowUpToThree).valid);
}

TEST(CareHonosTotal, ParsePolicies) {
  for (MissingItemPolicy p : {MissingItemPolicy::kStrict, MissingItemPolicy::kAllowUpToOne,
                              MissingItemPolicy::kAllowUpToTwo, MissingItemPolicy::kAllowUpToThree}) {
    EXPECT_EQ(*ParseMissingItemPolicy(MissingItemPolicyName(p)), p);
  }
  EXPECT_FALSE(ParseMissingItemPolicy("lenient").ok());
}

// ---- four-factor model ----

TEST(CareFourFactor, ShippedModelMatchesTheReference) {
  const auto& f = Model().factors;
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].name, "Personal well-being");
  EXPECT_THAT(f[0].items, ElementsAre(3, 4, 9, 11));
  EXPECT_EQ(f[0].max, 16);
  EXPECT_EQ(f[1].name, "Emotional well-being");
  EXPECT_THAT(f[1].items, ElementsAre(1, 6, 7));
  EXPECT_EQ(f[1].max, 12);
  EXPECT_EQ(f[2].name, "Social well-being");
  EXPECT_THAT(f[2].items, ElementsAre(2, 8, 10, 11));
  EXPECT_EQ(f[2].max, 16);
  EXPECT_EQ(f[3].name, "Severe disturbance");
  EXPECT_THAT(f[3].items, ElementsAre(0, 5));
  EXPECT_EQ(f[3].max, 8);
}

TEST(CareFourFactor, MaximaAtAllFours) {
  MhctRatings r;
  r.items.fill(4);
  for (const FactorScore& s : ComputeFactorScores(Model(), r).factors) EXPECT_EQ(s.score, s.max) << s.id;
}

// Property: with no missing items, the factor scores sum to the HoNOS total plus item 12 (counted twice);
// with missing items, each factor's missing count matches and the sum is total + item 12 (if rated).
TEST(CareFourFactorProperty, FactorsSumToTotalPlusItem12) {
  std::mt19937 rng(20240115);
  std::uniform_int_distribution<int> rating(0, 4);
  std::uniform_int_distribution<int> pct(0, 99);
  for (int n = 0; n < 5000; ++n) {
    MhctRatings r;
    for (int i = 0; i < kMhctItemCount; ++i) r.items[i] = pct(rng) < 5 ? kNotKnown : rating(rng);
    const HonosTotal t = ComputeHonosTotal(r, MissingItemPolicy::kAllowUpToThree);
    const FactorScores f = ComputeFactorScores(Model(), r);
    int sum = 0, missing = 0;
    for (const auto& s : f.factors) {
      sum += s.score;
      missing += s.missing;
      EXPECT_LE(s.score, s.max);
      EXPECT_GE(s.score, 0);
    }
    const int item12 = r.items[kItem12Index] == kNotKnown ? 0 : r.items[kItem12Index];
    EXPECT_EQ(sum, t.total + item12);
    EXPECT_EQ(missing, t.missing_items + (r.items[kItem12Index] == kNotKnown ? 1 : 0));
  }
}

// ---- item clinical significance ----

TEST(CareItemSignificance, EveryRating) {
  EXPECT_EQ(ClassifyItemRating(Model(), 0), ItemSignificance::kNotSignificant);
  EXPECT_EQ(ClassifyItemRating(Model(), 1), ItemSignificance::kNotSignificant);
  EXPECT_EQ(ClassifyItemRating(Model(), 2), ItemSignificance::kCusp);
  EXPECT_EQ(ClassifyItemRating(Model(), 3), ItemSignificance::kSignificant);
  EXPECT_EQ(ClassifyItemRating(Model(), 4), ItemSignificance::kSignificant);
  EXPECT_EQ(ClassifyItemRating(Model(), 9), ItemSignificance::kNotKnown);
  MhctRatings r = WithHonos({0, 1, 2, 3, 4, 9, 0, 0, 0, 0, 0, 0});
  auto all = ClassifyItems(Model(), r);
  EXPECT_EQ(all[2], ItemSignificance::kCusp);
  EXPECT_EQ(all[5], ItemSignificance::kNotKnown);
  EXPECT_EQ(ItemSignificanceName(all[4]), "significant");
}

// ---- reliable change, cut-off, remission ----

struct ChangeCase {
  int change;
  OutcomePopulation population;
  ReliableChange expected;
};
class CareReliableChange : public ::testing::TestWithParam<ChangeCase> {};
TEST_P(CareReliableChange, Classifies) {
  const ChangeCase& c = GetParam();
  EXPECT_EQ(ClassifyReliableChange(c.change, ThresholdsFor(Model(), c.population)), c.expected);
}
INSTANTIATE_TEST_SUITE_P(
    Thresholds, CareReliableChange,
    ::testing::Values(ChangeCase{-8, OutcomePopulation::kStandard, ReliableChange::kImproved},
                      ChangeCase{-7, OutcomePopulation::kStandard, ReliableChange::kNoReliableChange},
                      ChangeCase{0, OutcomePopulation::kStandard, ReliableChange::kNoReliableChange},
                      ChangeCase{7, OutcomePopulation::kStandard, ReliableChange::kNoReliableChange},
                      ChangeCase{8, OutcomePopulation::kStandard, ReliableChange::kDeteriorated},
                      ChangeCase{-7, OutcomePopulation::kSevere, ReliableChange::kImproved},
                      ChangeCase{-6, OutcomePopulation::kSevere, ReliableChange::kNoReliableChange},
                      ChangeCase{6, OutcomePopulation::kSevere, ReliableChange::kNoReliableChange},
                      ChangeCase{7, OutcomePopulation::kSevere, ReliableChange::kDeteriorated},
                      ChangeCase{-48, OutcomePopulation::kSevere, ReliableChange::kImproved}));

TEST(CareOutcomeSummary, CutOffAndRemission) {
  // Total 11: clinical for the standard population (cut-off 11), not for severe (12).
  MhctRatings eleven = WithHonos({2, 2, 2, 2, 2, 1, 0, 0, 0, 0, 0, 0});
  ASSERT_EQ(ComputeHonosTotal(eleven).total, 11);
  EXPECT_TRUE(SummarizeRating(Model(), eleven, 4).clinical_range);
  EXPECT_TRUE(SummarizeRating(Model(), eleven, 12).clinical_range);  // no severe classification shipped
  EXPECT_FALSE(SummarizeRating(SevereForPsychosis(), eleven, 12).clinical_range);
  EXPECT_EQ(SummarizeRating(SevereForPsychosis(), eleven, 12).population, OutcomePopulation::kSevere);
  MhctRatings five = WithHonos({2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(SummarizeRating(Model(), five, 4).remission);
  MhctRatings six = WithHonos({2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(SummarizeRating(Model(), six, 4).remission);
  MhctRatings missing = WithHonos({9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(SummarizeRating(Model(), missing, 4).total.valid);
  EXPECT_FALSE(SummarizeRating(Model(), missing, 4).remission);
}

TEST(CareOutcomeChange, ReliableAndClinicallySignificantImprovement) {
  MhctRatings first = WithHonos({2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0});  // 20
  MhctRatings last = WithHonos({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});   // 10
  auto c = CompareRatings(Model(), first, last, OutcomePopulation::kStandard);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->earlier_total, 20);
  EXPECT_EQ(c->later_total, 10);
  EXPECT_EQ(c->total_change, -10);
  EXPECT_EQ(c->reliable_change, ReliableChange::kImproved);
  EXPECT_TRUE(c->earlier_clinical);
  EXPECT_FALSE(c->later_clinical);
  EXPECT_TRUE(c->clinically_significant_improvement);
  EXPECT_FALSE(c->later_remission);
  ASSERT_EQ(c->factors.size(), 4u);
  int sum = 0;
  for (const auto& f : c->factors) sum += f.change;
  EXPECT_EQ(sum, c->total_change);  // item 12 unchanged (0 -> 0)
  EXPECT_EQ(c->factors[3].id, "severe_disturbance");
  EXPECT_EQ(c->factors[3].change, -2);
  EXPECT_EQ(c->rule_version, Model().version);
}

TEST(CareOutcomeChange, DeteriorationAndInvalidTotals) {
  MhctRatings first;
  MhctRatings last = WithHonos({4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  auto c = CompareRatings(Model(), first, last, OutcomePopulation::kStandard);
  EXPECT_EQ(c->reliable_change, ReliableChange::kDeteriorated);
  last.items[0] = kNotKnown;
  EXPECT_EQ(CompareRatings(Model(), first, last, OutcomePopulation::kStandard).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CareOutcomeChange, RuleSetPicksPopulationFromCluster) {
  MhctRatings first = WithHonos({2, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0});  // 7
  MhctRatings last;                                                    // 0
  // The shipped rules classify nobody as severe: 7 points is no reliable change in every cluster.
  for (int cluster = 0; cluster <= 21; ++cluster) {
    EXPECT_EQ(PopulationForCluster(Model(), cluster), OutcomePopulation::kStandard) << cluster;
  }
  EXPECT_EQ(ShippedRules().CompareRatings(first, last, 12)->reliable_change, ReliableChange::kNoReliableChange);
  EXPECT_EQ(ShippedRules().CompareRatings(first, last, 4)->rule_version, ShippedRules().version());
  // A trust that classifies the psychosis clusters as severe gets the 7-point threshold there.
  auto severe = CompareRatings(SevereForPsychosis(), first, last, PopulationForCluster(SevereForPsychosis(), 12));
  EXPECT_EQ(severe->reliable_change, ReliableChange::kImproved);
  EXPECT_EQ(severe->reliable_change_threshold, 7);
  EXPECT_EQ(severe->clinical_cutoff, 12);
}

TEST(CareOutcomeChange, ExactlyEightIsReliableAndSevenIsNot) {
  const MhctRatings eight = WithHonos({2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0});
  const MhctRatings seven = WithHonos({2, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0});
  const MhctRatings none;
  EXPECT_EQ(CompareRatings(Model(), eight, none, OutcomePopulation::kStandard)->reliable_change,
            ReliableChange::kImproved);
  EXPECT_EQ(CompareRatings(Model(), none, eight, OutcomePopulation::kStandard)->reliable_change,
            ReliableChange::kDeteriorated);
  EXPECT_EQ(CompareRatings(Model(), seven, none, OutcomePopulation::kStandard)->reliable_change,
            ReliableChange::kNoReliableChange);
  EXPECT_EQ(CompareRatings(Model(), none, seven, OutcomePopulation::kStandard)->reliable_change,
            ReliableChange::kNoReliableChange);
  EXPECT_EQ(CompareRatings(Model(), none, eight, OutcomePopulation::kStandard)->reliable_change_threshold, 8);
}

TEST(CareOutcomeChange, TwentyToElevenIsAReliableImprovementStillInTheClinicalRange) {
  const MhctRatings first = WithHonos({2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0});  // 20
  const MhctRatings last = WithHonos({1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0});   // 11
  auto c = CompareRatings(Model(), first, last, OutcomePopulation::kStandard);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->total_change, -9);
  EXPECT_EQ(c->reliable_change, ReliableChange::kImproved);
  EXPECT_TRUE(c->earlier_clinical);
  EXPECT_TRUE(c->later_clinical);  // 11 is at the cut-off
  EXPECT_FALSE(c->clinically_significant_improvement);
  EXPECT_FALSE(c->later_remission);
}

TEST(CareOutcomeChange, ItemsAndFactorsWithItemsRatedNine) {
  OutcomeModel lenient = Model();
  lenient.missing_policy = MissingItemPolicy::kAtLeastNineOfTwelve;
  const MhctRatings first = WithHonos({1, 9, 2, 3, 0, 0, 2, 1, 1, 1, 1, 4});
  const MhctRatings later = WithHonos({1, 1, 9, 1, 0, 0, 1, 1, 1, 1, 1, 2});
  auto c = CompareRatings(lenient, first, later, OutcomePopulation::kStandard);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->earlier_total, 16);
  EXPECT_EQ(c->later_total, 10);
  // Item 2 and item 3 are each rated 9 once: their change is not known.
  EXPECT_FALSE(c->items[1].known);
  EXPECT_FALSE(c->items[2].known);
  EXPECT_TRUE(c->items[3].known);
  EXPECT_EQ(c->items[3].item, 4);
  EXPECT_EQ(c->items[3].change, -2);
  EXPECT_EQ(c->items[11].change, -2);
  // Personal (4, 5, 10, 12) known: -4. Emotional (2, 7, 8) and social (3, 9, 11, 12) have a 9: not known.
  EXPECT_TRUE(c->factors[0].known);
  EXPECT_EQ(c->factors[0].change, -4);
  EXPECT_FALSE(c->factors[1].known);
  EXPECT_FALSE(c->factors[2].known);
  EXPECT_TRUE(c->factors[3].known);
  EXPECT_EQ(c->factors[3].change, 0);
  // Strict (the shipped policy): neither total is valid, so there is no change at all.
  EXPECT_EQ(CompareRatings(Model(), first, later, OutcomePopulation::kStandard).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CareOutcomeChange, AllItemsMissingGivesNoTotalUnderAnyPolicy) {
  MhctRatings r;
  r.items.fill(kNotKnown);
  for (MissingItemPolicy p : {MissingItemPolicy::kStrict, MissingItemPolicy::kAllowUpToThree,
                              MissingItemPolicy::kAtLeastNineOfTwelve}) {
    const HonosTotal t = ComputeHonosTotal(r, p);
    EXPECT_FALSE(t.valid);
    EXPECT_EQ(t.missing_items, 12);
  }
  for (const auto& f : ComputeFactorScores(Model(), r).factors) {
    EXPECT_EQ(f.score, 0);
    EXPECT_EQ(f.missing * 4, f.max) << f.id;
  }
  EXPECT_TRUE(CarePlanNeeds(Model(), r).empty());
}

TEST(CareFourFactor, ItemTwelveCountsInPersonalAndSocialWellBeing) {
  const MhctRatings r = WithHonos({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3});
  const FactorScores s = ComputeFactorScores(Model(), r);
  EXPECT_EQ(s.factors[0].score, 3);  // personal
  EXPECT_EQ(s.factors[1].score, 0);
  EXPECT_EQ(s.factors[2].score, 3);  // social
  EXPECT_EQ(s.factors[3].score, 0);
  EXPECT_EQ(ComputeHonosTotal(r).total, 3);
  EXPECT_EQ(FactorSum(s), 6);
}

// ---- expected outcomes (SOP Table 10), every cluster ----

TEST(CareExpectedOutcome, EveryClusterMatchesTheReference) {
  using T = OutcomeTag;
  const std::map<int, std::set<OutcomeTag>> expected = {
      {1, {T::kImprovement, T::kDischarge, T::kMinimalStepUp}},
      {2, {T::kImprovement, T::kDischarge, T::kMinimalStepUp}},
      {3, {T::kImprovement, T::kDischarge, T::kMinimalStepUp}},
      {4, {T::kImprovement, T::kDischarge, T::kMinimalStepUp}},
      {5, {T::kImprovement, T::kDischarge, T::kMinimalStepUp}},
      {6, {T::kStability, T::kDischarge}},
      {7, {T::kStability, T::kDischarge}},
      {8, {T::kStability, T::kDischarge}},
      {10, {T::kImprovement, T::kDischarge, T::kMinimalStepUp}},
      {11, {T::kStability, T::kDischarge}},
      {12, {T::kImprovement, T::kStability, T::kMinimalStepUp, T::kDischarge}},
      {13, {T::kImprovement, T::kStability, T::kMinimalStepUp, T::kDischarge}},
      {14, {T::kImprovement}},
      {15, {T::kImprovement}},
      {16, {T::kImprovement, T::kStability, T::kDischarge}},
      {17, {T::kImprovement, T::kStability, T::kDischarge}},
      {18, {T::kStability, T::kDischarge, T::kDeterioration, T::kStepUp}},
      {19, {T::kCognitiveDecline, T::kStability, T::kImprovement}},
      {20, {T::kCognitiveDecline, T::kStability, T::kImprovement}},
      {21, {T::kCognitiveDecline, T::kStability, T::kImprovement}},
  };
  for (const auto& [cluster, tags] : expected) {
    auto e = ShippedRules().ExpectedOutcomeFor(cluster);
    ASSERT_TRUE(e.ok()) << cluster;
    EXPECT_EQ(std::set<OutcomeTag>(e->tags.begin(), e->tags.end()), tags) << cluster;
    EXPECT_FALSE(e->text.empty());
    EXPECT_EQ(e->rule_version, ShippedRules().version());
  }
  EXPECT_EQ(ShippedRules().ExpectedOutcomeFor(0).status().code(), absl::StatusCode::kNotFound);
}

TEST(CareExpectedOutcome, WhichChangeMatchesEachClustersPattern) {
  using C = ReliableChange;
  // improvement = improved, stability = no reliable change, deterioration (cognitive, for 19-21) =
  // deteriorated; "minimal step up" matches nothing.
  const std::map<int, std::set<C>> matching = {
      {1, {C::kImproved}}, {2, {C::kImproved}}, {3, {C::kImproved}}, {4, {C::kImproved}}, {5, {C::kImproved}},
      {6, {C::kNoReliableChange}}, {7, {C::kNoReliableChange}}, {8, {C::kNoReliableChange}},
      {10, {C::kImproved}}, {11, {C::kNoReliableChange}},
      {12, {C::kImproved, C::kNoReliableChange}}, {13, {C::kImproved, C::kNoReliableChange}},
      {14, {C::kImproved}}, {15, {C::kImproved}},
      {16, {C::kImproved, C::kNoReliableChange}}, {17, {C::kImproved, C::kNoReliableChange}},
      {18, {C::kNoReliableChange, C::kDeteriorated}},
      {19, {C::kImproved, C::kNoReliableChange, C::kDeteriorated}},
      {20, {C::kImproved, C::kNoReliableChange, C::kDeteriorated}},
      {21, {C::kImproved, C::kNoReliableChange, C::kDeteriorated}},
  };
  for (const auto& [cluster, classes] : matching) {
    auto e = ExpectedOutcomeFor(Model(), cluster);
    ASSERT_TRUE(e.ok()) << cluster;
    for (C c : {C::kImproved, C::kNoReliableChange, C::kDeteriorated}) {
      EXPECT_EQ(e->Matches(c), classes.count(c) > 0) << cluster << " " << ReliableChangeName(c);
    }
  }
}

// ---- summaries ----

TEST(CareOutcomeTally, AddsTakesAwayAndGivesMeansAndShares) {
  const size_t kFactors = 4;
  EpisodeContribution improved{true, -10, {-4, -3, std::nullopt, -1}, ReliableChange::kImproved, true};
  EpisodeContribution stable{true, -2, {0, -2, 0, 0}, ReliableChange::kNoReliableChange, false};
  EpisodeContribution cluster0{true, 9, {3, 3, 3, 0}, ReliableChange::kDeteriorated, std::nullopt};
  EpisodeContribution single{};  // one valid rating: counted, not paired
  OutcomeTally t;
  for (const auto* e : {&improved, &stable, &cluster0, &single}) AddToTally(t, *e, +1, kFactors);
  EXPECT_EQ(t.episodes, 4);
  EXPECT_EQ(t.paired, 3);
  OutcomeFigures f = FiguresOf(t);
  EXPECT_DOUBLE_EQ(*f.mean_total_change, -1.0);  // (-10 - 2 + 9) / 3
  ASSERT_EQ(f.mean_factor_change.size(), kFactors);
  EXPECT_DOUBLE_EQ(*f.mean_factor_change[0], -1.0 / 3);
  EXPECT_DOUBLE_EQ(*f.mean_factor_change[2], 1.5);  // the unknown change is left out: (0 + 3) / 2
  EXPECT_DOUBLE_EQ(*f.share_improved, 1.0 / 3);
  EXPECT_DOUBLE_EQ(*f.share_no_reliable_change, 1.0 / 3);
  EXPECT_DOUBLE_EQ(*f.share_deteriorated, 1.0 / 3);
  EXPECT_DOUBLE_EQ(*f.share_matching_expected, 0.5);  // cluster 0 has no pattern
  // Taking an episode away again is exact: what remains is as if it had never been added.
  AddToTally(t, improved, -1, kFactors);
  OutcomeTally without;
  for (const auto* e : {&stable, &cluster0, &single}) AddToTally(without, *e, +1, kFactors);
  EXPECT_EQ(t.paired, without.paired);
  EXPECT_EQ(t.total_change_sum, without.total_change_sum);
  EXPECT_EQ(t.factor_change_sum, without.factor_change_sum);
  EXPECT_EQ(t.factor_change_count, without.factor_change_count);
  EXPECT_EQ(t.matching_expected, without.matching_expected);
  OutcomeTally sum;
  AddTally(sum, t);
  AddTally(sum, t);
  EXPECT_EQ(sum.episodes, 6);
  // Nothing paired: no means, no shares.
  OutcomeTally lonely;
  AddToTally(lonely, single, +1, kFactors);
  EXPECT_FALSE(FiguresOf(lonely).mean_total_change.has_value());
  EXPECT_FALSE(FiguresOf(lonely).share_matching_expected.has_value());
}

// ---- the SOP's worked pair (Table 9), the national pairing, the care-plan needs ----

TEST(CareWorkedPair, TheSopsExampleTotalsFactorsAndChangeExactly) {
  const MhctRatings first = WithHonos({0, 0, 0, 0, 0, 0, 3, 2, 1, 1, 1, 1});
  const MhctRatings second = WithHonos({0, 0, 0, 0, 0, 0, 2, 1, 1, 0, 1, 0});
  EXPECT_EQ(ComputeHonosTotal(first).total, 9);
  EXPECT_EQ(ComputeHonosTotal(second).total, 5);
  auto scores = [](const MhctRatings& r) {
    std::vector<int> out;
    for (const auto& f : ComputeFactorScores(Model(), r).factors) out.push_back(f.score);
    return out;
  };
  // Personal, emotional, social well-being, severe disturbance.
  EXPECT_THAT(scores(first), ElementsAre(2, 5, 3, 0));
  EXPECT_THAT(scores(second), ElementsAre(0, 3, 2, 0));
  // The table's printed "TOTALS 10": the factor sum, item 12 counted twice; its maxima add to 52.
  EXPECT_EQ(FactorSum(ComputeFactorScores(Model(), first)), 10);
  EXPECT_EQ(FactorSumMax(ComputeFactorScores(Model(), first)), 52);
  auto change = CompareRatings(Model(), first, second, OutcomePopulation::kStandard);
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(change->total_change, -4);
  EXPECT_EQ(change->reliable_change, ReliableChange::kNoReliableChange);
}

TEST(CareHonosTotal, AtLeastNineOfTwelveIsTheNationalAmh04Rule) {
  ASSERT_EQ(*ParseMissingItemPolicy("at_least_9_of_12"), MissingItemPolicy::kAtLeastNineOfTwelve);
  EXPECT_EQ(MissingItemPolicyName(MissingItemPolicy::kAtLeastNineOfTwelve), "at_least_9_of_12");
  MhctRatings r = WithHonos({9, 9, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1});  // 9 of 12 rated
  EXPECT_TRUE(ComputeHonosTotal(r, MissingItemPolicy::kAtLeastNineOfTwelve).valid);
  EXPECT_EQ(ComputeHonosTotal(r, MissingItemPolicy::kAtLeastNineOfTwelve).total, 9);
  r.items[3] = 9;  // 8 of 12
  EXPECT_FALSE(ComputeHonosTotal(r, MissingItemPolicy::kAtLeastNineOfTwelve).valid);
  r.items.fill(9);  // nothing rated
  EXPECT_FALSE(ComputeHonosTotal(r, MissingItemPolicy::kAtLeastNineOfTwelve).valid);
}

TEST(CarePairing, FirstValidAgainstLastValidOnAStrictlyLaterDay) {
  const absl::CivilDay d(2026, 3, 2);
  const MhctRatings valid = WithHonos({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  const MhctRatings missing = WithHonos({9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});  // invalid under strict
  std::vector<DatedRating> ratings = {{d, missing}, {d + 1, valid}, {d + 40, valid}, {d + 90, missing}};
  auto pair = PairFirstAndLast(Model(), ratings);
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(pair->first, 1u);  // the first valid one
  EXPECT_EQ(pair->last, 2u);   // the last valid one
  // Two ratings on the same day never pair, nor does one rating alone.
  EXPECT_FALSE(PairFirstAndLast(Model(), {{d, valid}, {d, valid}}).has_value());
  EXPECT_FALSE(PairFirstAndLast(Model(), {{d, valid}}).has_value());
  EXPECT_FALSE(PairFirstAndLast(Model(), {{d, missing}, {d + 5, missing}}).has_value());
  EXPECT_FALSE(PairFirstAndLast(Model(), {}).has_value());
}

TEST(CareCarePlanNeeds, ItemsRatedTwoToFourInItemOrderWithItem8sProblem) {
  MhctRatings r = WithHonos({0, 1, 2, 3, 4, 9, 0, 3, 0, 0, 0, 2});
  r.item8_problem_type = 'F';
  std::vector<std::string> needs;
  for (const auto& n : CarePlanNeeds(Model(), r)) {
    needs.push_back(absl::StrCat(n.item, "=", n.rating, " ", std::string(ItemSignificanceName(n.significance)),
                                 n.problem_type != 0 ? absl::StrCat(" ", std::string(1, n.problem_type)) : std::string()));
  }
  EXPECT_THAT(needs, ElementsAre("3=2 cusp", "4=3 significant", "5=4 significant", "8=3 significant F", "12=2 cusp"));
  EXPECT_EQ(CarePlanNeeds(Model(), r)[0].name, MhctItemName(2));
}

}  // namespace
}  // namespace care
