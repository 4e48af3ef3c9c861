// Every cell of the transition table (reference section 3) and every condition beside it.
#include "care/transitions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace care {
namespace {

using absl::CivilDay;
using ::testing::HasSubstr;
using testing::ShippedRules;

struct Row {
  int from;
  std::set<int> improvement, no_change, deterioration, change_in_diagnosis;
};

const Row kTable[] = {
    {0, {0}, {0}, {4, 5, 6}, {8, 10, 14, 15, 18}},
    {1, {1}, {1}, {2, 3, 4, 5}, {8, 10, 14, 15, 18}},
    {2, {2}, {2}, {3, 4, 5}, {8, 10, 14, 15, 18}},
    {3, {3}, {3}, {4, 5}, {8, 10, 14, 15, 18}},
    {4, {4}, {4, 5, 6}, {5, 6}, {8, 10, 14, 15, 19}},
    {5, {5, 6}, {5, 6}, {5, 6, 7}, {8, 10, 14, 15, 19}},
    {6, {6}, {6}, {6}, {8, 10, 14, 15, 19}},
    {7, {7}, {7}, {7}, {8, 10, 14, 15, 19}},
    {8, {8}, {8}, {8}, {5, 6, 7, 10, 14, 15, 19}},
    {10, {10, 11, 12, 13, 16, 17}, {10, 11, 12, 13, 16, 17}, {14, 15}, {5, 6, 8, 19}},
    {11, {11}, {11}, {12, 13, 14, 15, 16, 17}, {19}},
    {12, {11, 12}, {12}, {13, 14, 15, 16, 17}, {8, 19}},
    {13, {12, 13}, {13}, {14, 15, 16, 17}, {19}},
    {14, {10, 13, 16, 17}, {14}, {14, 15}, {4, 5, 6, 8, 19}},
    {15, {10, 13, 16, 17}, {15}, {14, 15}, {5, 6, 8, 19}},
    {16, {13, 16}, {16}, {14, 15, 16}, {8, 19}},
    {17, {13, 17}, {17}, {14, 15, 17}, {8, 19}},
    {18, {18}, {18}, {19, 20, 21}, {4, 5, 10}},
    {19, {19}, {19}, {20, 21}, {}},
    {20, {20}, {20}, {21}, {}},
    {21, {21}, {21}, {21}, {}},
};

const CivilDay kReview(2024, 6, 1);

TransitionQuery Query(int from, int to, ChangeClass change) {
  TransitionQuery q;
  q.from_cluster = from;
  q.to_cluster = to;
  q.change = change;
  q.review_date = kReview;
  return q;
}

class CareTransitionTable : public ::testing::TestWithParam<Row> {};

// Every (from, change class, to) cell with no history facts: adherent exactly when the table lists `to`,
// except the 14/15 -> 16/17 rule, which needs the cluster held before the crisis.
TEST_P(CareTransitionTable, EveryCell) {
  const Row& row = GetParam();
  const std::pair<ChangeClass, const std::set<int>*> columns[] = {
      {ChangeClass::kImprovement, &row.improvement},
      {ChangeClass::kNoChange, &row.no_change},
      {ChangeClass::kDeterioration, &row.deterioration},
      {ChangeClass::kChangeInDiagnosis, &row.change_in_diagnosis}};
  const bool crisis = row.from == 14 || row.from == 15;
  for (const auto& [change, expected] : columns) {
    for (int to = 0; to <= 21; ++to) {
      if (!IsValidClusterId(to)) continue;
      TransitionQuery q = Query(row.from, to, change);
      if (crisis && (to == 16 || to == 17)) q.cluster_before_from = to;
      auto d = ShippedRules().CheckTransition(q);
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_EQ(d->adherent(), expected->count(to) > 0)
          << row.from << " -> " << to << " (" << ChangeClassName(change) << "): " << d->reason;
      EXPECT_EQ(d->rationale_required(), !d->adherent());
      EXPECT_FALSE(d->reason.empty());
      EXPECT_EQ(d->rule_version, ShippedRules().version());
      std::set<int> want = *expected;
      if (crisis) {
        for (int c : {16, 17}) {
          if (q.cluster_before_from != c) want.erase(c);
        }
      }
      EXPECT_EQ(d->expected, want) << row.from << " -> " << to << " " << ChangeClassName(change);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllRows, CareTransitionTable, ::testing::ValuesIn(kTable),
                         [](const auto& info) { return "From" + std::to_string(info.param.from); });

// ---- time on cluster ----

TEST(CareTransitionConditions, TwelveMonthsOnFourMovesToFiveOrSix) {
  TransitionQuery q = Query(4, 4, ChangeClass::kImprovement);
  q.from_cluster_start = CivilDay(2023, 6, 2);  // 12 months reached on 2 Jun 2024: not yet
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.from_cluster_start = CivilDay(2023, 6, 1);  // exactly 12 months
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_EQ(d->expected, (std::set<int>{5, 6}));
  EXPECT_THAT(d->reason, HasSubstr("expects 5, 6"));
  EXPECT_EQ(d->applied_rules.size(), 1u);
  q.to_cluster = 5;
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  // A change of diagnosis still follows the table.
  q.change = ChangeClass::kChangeInDiagnosis;
  q.to_cluster = 19;
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
}

TEST(CareTransitionConditions, ThreeYearsOnFiveMovesToSixOrSeven) {
  TransitionQuery q = Query(5, 5, ChangeClass::kNoChange);
  q.from_cluster_start = CivilDay(2021, 6, 2);
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.from_cluster_start = CivilDay(2021, 6, 1);
  EXPECT_FALSE(ShippedRules().CheckTransition(q)->adherent());
  q.to_cluster = 7;
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
}

TEST(CareTransitionConditions, ThreeYearsOnTenMovesToElevenToSeventeen) {
  TransitionQuery q = Query(10, 10, ChangeClass::kNoChange);
  q.from_cluster_start = CivilDay(2020, 1, 1);
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_EQ(d->expected, (std::set<int>{11, 12, 13, 14, 15, 16, 17}));
  for (int to = 11; to <= 17; ++to) {
    q.to_cluster = to;
    EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent()) << to;
  }
}

// ---- cluster 11 restrictions ----

TEST(CareTransitionConditions, ElevenNeverOnTheAcutePathway) {
  TransitionQuery q = Query(10, 11, ChangeClass::kImprovement);
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.acute_pathway = true;
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_THAT(d->reason, HasSubstr("acute pathway"));
  EXPECT_EQ(d->expected.count(11), 0u);
  EXPECT_EQ(ShippedRules().transitions().restrictions.size(), 1u);
}

TEST(CareTransitionConditions, ElevenNeverAtFirstPresentation) {
  TransitionQuery q = Query(12, 11, ChangeClass::kImprovement);
  q.first_presentation = true;
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_THAT(d->reason, HasSubstr("first presentation"));
  EXPECT_THAT(ClusterRestrictionProblem(ShippedRules().transitions(), 11, true, false),
              HasSubstr("first presentation"));
  EXPECT_EQ(ClusterRestrictionProblem(ShippedRules().transitions(), 12, true, true), "");
}

// ---- step-up after acute events in the last 12 months ----

class CareTransitionStepUp : public ::testing::TestWithParam<HistoryTrigger> {};
TEST_P(CareTransitionStepUp, ElevenMustStepUp) {
  for (ChangeClass change : {ChangeClass::kImprovement, ChangeClass::kNoChange}) {
    TransitionQuery q = Query(11, 11, change);
    q.history.push_back({GetParam(), CivilDay(2023, 12, 1)});
    auto d = ShippedRules().CheckTransition(q);
    EXPECT_FALSE(d->adherent()) << HistoryTriggerName(GetParam());
    EXPECT_EQ(d->expected, (std::set<int>{12, 13, 14, 15}));
    ASSERT_EQ(d->applied_rules.size(), 1u);
    EXPECT_THAT(d->applied_rules[0], HasSubstr(std::string(HistoryTriggerName(GetParam()))));
    for (int to : {12, 13, 14, 15}) {
      q.to_cluster = to;
      EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent()) << to;
    }
  }
}
INSTANTIATE_TEST_SUITE_P(AllTriggers, CareTransitionStepUp,
                         ::testing::Values(HistoryTrigger::kCrhtReferral, HistoryTrigger::kAdmission,
                                           HistoryTrigger::kMhaAssessment,
                                           HistoryTrigger::kMedicationNonConcordance));

TEST(CareTransitionConditions, StepUpWindowIsTwelveMonthsInclusive) {
  TransitionQuery q = Query(11, 11, ChangeClass::kNoChange);
  q.history.push_back({HistoryTrigger::kAdmission, CivilDay(2023, 5, 31)});  // 12 months + 1 day before
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.history = {{HistoryTrigger::kAdmission, CivilDay(2023, 6, 1)}};  // exactly 12 months before
  EXPECT_FALSE(ShippedRules().CheckTransition(q)->adherent());
  q.history = {{HistoryTrigger::kAdmission, CivilDay(2024, 6, 2)}};  // after the review: ignored
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
}

TEST(CareTransitionConditions, TwelveOrThirteenImprovingAfterAnAcuteEventStay) {
  TransitionQuery q = Query(12, 11, ChangeClass::kImprovement);
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());  // no event: 11 is fine
  q.history.push_back({HistoryTrigger::kMhaAssessment, CivilDay(2024, 1, 10)});
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_EQ(d->expected, (std::set<int>{12, 13}));
  q.to_cluster = 12;
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.from_cluster = 13;
  q.to_cluster = 13;
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  // Deterioration from 12 is not affected by the rule.
  q = Query(12, 14, ChangeClass::kDeterioration);
  q.history.push_back({HistoryTrigger::kMhaAssessment, CivilDay(2024, 1, 10)});
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
}

// ---- 14/15 back to 16/17 ----

TEST(CareTransitionConditions, CrisisReturnsOnlyToThePreviousDualOrEngagementCluster) {
  for (int from : {14, 15}) {
    for (int to : {16, 17}) {
      TransitionQuery q = Query(from, to, ChangeClass::kImprovement);
      q.cluster_before_from = to;
      EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent()) << from << "->" << to;
      q.cluster_before_from = to == 16 ? 17 : 16;
      auto d = ShippedRules().CheckTransition(q);
      EXPECT_FALSE(d->adherent());
      EXPECT_THAT(d->reason, HasSubstr("immediately before"));
      q.cluster_before_from.reset();
      d = ShippedRules().CheckTransition(q);
      EXPECT_FALSE(d->adherent());
      EXPECT_THAT(d->reason, HasSubstr("not known"));
    }
    TransitionQuery q = Query(from, 10, ChangeClass::kImprovement);
    EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  }
}

TEST(CareTransitionConditions, EmptyColumnIsNeverAdherent) {
  auto d = ShippedRules().CheckTransition(Query(19, 4, ChangeClass::kChangeInDiagnosis));
  EXPECT_FALSE(d->adherent());
  EXPECT_THAT(d->reason, HasSubstr("lists no cluster"));
  EXPECT_THAT(d->reason, HasSubstr("Record a clinical rationale"));
}

TEST(CareTransitionConditions, AdvisoriesComeWithTheDecision) {
  EXPECT_EQ(ShippedRules().CheckTransition(Query(11, 11, ChangeClass::kNoChange))->advisories.size(), 1u);
  EXPECT_THAT(ShippedRules().CheckTransition(Query(19, 20, ChangeClass::kDeterioration))->advisories[0],
              HasSubstr("Organic"));
  EXPECT_TRUE(ShippedRules().CheckTransition(Query(10, 10, ChangeClass::kNoChange))->advisories.empty());
}

TEST(CareTransitionErrors, InvalidClusters) {
  EXPECT_EQ(ShippedRules().CheckTransition(Query(9, 4, ChangeClass::kNoChange)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShippedRules().CheckTransition(Query(4, 22, ChangeClass::kNoChange)).status().code(),
            absl::StatusCode::kInvalidArgument);
  TransitionRules empty;
  EXPECT_EQ(CheckTransition(empty, Query(4, 4, ChangeClass::kNoChange)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CareTransitionNames, RoundTrip) {
  for (ChangeClass c : {ChangeClass::kImprovement, ChangeClass::kNoChange, ChangeClass::kDeterioration,
                        ChangeClass::kChangeInDiagnosis}) {
    EXPECT_EQ(*ParseChangeClass(ChangeClassName(c)), c);
  }
  for (HistoryTrigger t : {HistoryTrigger::kCrhtReferral, HistoryTrigger::kAdmission, HistoryTrigger::kMhaAssessment,
                           HistoryTrigger::kMedicationNonConcordance}) {
    EXPECT_EQ(*ParseHistoryTrigger(HistoryTriggerName(t)), t);
  }
  EXPECT_FALSE(ParseChangeClass("better").ok());
  EXPECT_FALSE(ParseHistoryTrigger("arrest").ok());
}

}  // namespace
}  // namespace care
