// The cluster catalogue and review due dates, walked row by row against the reference tables.
#include "care/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace care {
namespace {

using absl::CivilDay;
using ::testing::HasSubstr;
using testing::ShippedRules;

struct ClusterRow {
  int id;
  const char* label;
  const char* super_class;
  const char* sop_review;
  const char* national_review;
  const char* indicative;
  CivilDay sop_period_end;       // latest MHCT 15 Jan 2024 + SOP period
  CivilDay national_period_end;  // latest MHCT 15 Jan 2024 + national period
};

const CivilDay kMhct(2024, 1, 15);
const CivilDay k6m(2024, 7, 15), k12m(2025, 1, 15), k84d(2024, 4, 8), k105d(2024, 4, 29), k28d(2024, 2, 12);

// Reference section 1, every row.
const ClusterRow kClusters[] = {
    {0, "Variance", "V", "6 months", "6 months", "12 months", k6m, k6m},
    {1, "Common mental health problems (low severity)", "NP", "12 weeks", "84 days", "12 weeks", k84d, k84d},
    {2, "Common mental health problems (low severity with greater need)", "NP", "15 weeks", "105 days",
     "15 weeks", k105d, k105d},
    {3, "Non-psychotic (moderate severity)", "NP", "6 months", "6 months", "6 months", k6m, k6m},
    {4, "Non-psychotic (severe)", "NP", "6 months", "6 months", "12 months", k6m, k6m},
    {5, "Non-psychotic disorders (very severe)", "NP", "6 months", "6 months", "3 years", k6m, k6m},
    {6, "Non-psychotic disorder of over-valued ideas", "NP", "6 months", "6 months", "3+ years", k6m, k6m},
    {7, "Enduring non-psychotic disorders (high disability)", "NP", "6 months", "12 months", "3+ years", k6m, k12m},
    {8, "Non-psychotic chaotic and challenging disorders", "NP", "6 months", "12 months", "3+ years", k6m, k12m},
    {10, "First episode in psychosis", "P", "6 months", "12 months", "3 years", k6m, k12m},
    {11, "Ongoing or recurrent psychosis (low symptoms)", "P", "6 months", "12 months", "3+ years", k6m, k12m},
    {12, "Ongoing or recurrent psychosis (high disability)", "P", "6 months", "12 months", "3+ years", k6m, k12m},
    {13, "Ongoing or recurrent psychosis (high symptom and disability)", "P", "6 months", "12 months", "3+ years",
     k6m, k12m},
    {14, "Psychotic crisis", "P", "4 weeks", "28 days", "8-12 weeks", k28d, k28d},
    {15, "Severe psychotic depression", "P", "4 weeks", "28 days", "8-12 weeks", k28d, k28d},
    {16, "Dual diagnosis (substance abuse and mental illness)", "P", "6 months", "6 months", "3+ years", k6m, k6m},
    {17, "Psychosis and affective disorder, difficult to engage", "P", "6 months", "6 months", "3+ years", k6m,
     k6m},
    {18, "Cognitive impairment (low need)", "O", "12 months", "12 months", "3+ years", k12m, k12m},
    {19, "Cognitive impairment or dementia complicated (moderate need)", "O", "6 months", "6 months", "3+ years",
     k6m, k6m},
    {20, "Cognitive impairment or dementia complicated (high need)", "O", "6 months", "6 months", "3+ years", k6m,
     k6m},
    {21, "Cognitive impairment or dementia (high physical or engagement)", "O", "6 months", "6 months",
     "3+ years", k6m, k6m},
};

class CareClusterCatalogue : public ::testing::TestWithParam<ClusterRow> {};

TEST_P(CareClusterCatalogue, MatchesTheReference) {
  const ClusterRow& row = GetParam();
  const ClusterInfo* info = ShippedRules().FindCluster(row.id);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->id, row.id);
  EXPECT_EQ(info->label, row.label);
  EXPECT_EQ(SuperClassCode(info->super_class), row.super_class);
  EXPECT_EQ(info->indicative_period.text, row.indicative);
  EXPECT_EQ(info->used_in_secondary_care, row.id < 1 || row.id > 3);
}

class CareReviewDueDate : public ::testing::TestWithParam<ClusterRow> {};

TEST_P(CareReviewDueDate, BothPoliciesMatchTheReference) {
  const ClusterRow& row = GetParam();
  const RuleSet& rules = ShippedRules();
  EXPECT_EQ(*rules.ReviewPeriodFor(row.id, ReviewPolicy::kTrustSop), *ParsePeriod(row.sop_review));
  EXPECT_EQ(*rules.ReviewPeriodFor(row.id, ReviewPolicy::kNational), *ParsePeriod(row.national_review));

  absl::StatusOr<ReviewDue> sop = rules.ReviewDueDate(row.id, kMhct, ReviewPolicy::kTrustSop);
  ASSERT_TRUE(sop.ok()) << sop.status();
  EXPECT_EQ(sop->period_ends, row.sop_period_end);
  EXPECT_EQ(sop->due, row.sop_period_end - 1);
  EXPECT_EQ(sop->window_opens, sop->due - 10);
  EXPECT_EQ(sop->cluster, row.id);
  EXPECT_EQ(sop->policy, ReviewPolicy::kTrustSop);
  EXPECT_EQ(sop->rule_version, rules.version());

  absl::StatusOr<ReviewDue> nat = rules.ReviewDueDate(row.id, kMhct, ReviewPolicy::kNational);
  ASSERT_TRUE(nat.ok()) << nat.status();
  EXPECT_EQ(nat->period_ends, row.national_period_end);
  EXPECT_EQ(nat->due, row.national_period_end - 1);

  // The default policy is the trust SOP.
  EXPECT_EQ(rules.ReviewDueDate(row.id, kMhct)->due, sop->due);
}

INSTANTIATE_TEST_SUITE_P(AllClusters, CareClusterCatalogue, ::testing::ValuesIn(kClusters),
                         [](const auto& info) { return "Cluster" + std::to_string(info.param.id); });
INSTANTIATE_TEST_SUITE_P(AllClusters, CareReviewDueDate, ::testing::ValuesIn(kClusters),
                         [](const auto& info) { return "Cluster" + std::to_string(info.param.id); });

TEST(CareClusterCatalogueShape, ExactlyTwentyOneClustersAndNeverNine) {
  EXPECT_EQ(ShippedRules().catalogue().clusters.size(), 21u);
  EXPECT_EQ(ShippedRules().FindCluster(9), nullptr);
  for (int c = -3; c <= 25; ++c) EXPECT_EQ(IsValidClusterId(c), c >= 0 && c <= 21 && c != 9) << c;
}

struct EdgeCase {
  int cluster;
  CivilDay mhct;
  ReviewPolicy policy;
  CivilDay period_ends;
};
class CareReviewDueDateMonthEnd : public ::testing::TestWithParam<EdgeCase> {};
TEST_P(CareReviewDueDateMonthEnd, ClampsAtMonthEnd) {
  const EdgeCase& c = GetParam();
  auto due = ShippedRules().ReviewDueDate(c.cluster, c.mhct, c.policy);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->period_ends, c.period_ends);
  EXPECT_EQ(due->due, c.period_ends - 1);
}
INSTANTIATE_TEST_SUITE_P(
    Cases, CareReviewDueDateMonthEnd,
    ::testing::Values(
        EdgeCase{4, CivilDay(2023, 8, 31), ReviewPolicy::kTrustSop, CivilDay(2024, 2, 29)},   // 31 Aug + 6m, leap
        EdgeCase{4, CivilDay(2022, 8, 31), ReviewPolicy::kTrustSop, CivilDay(2023, 2, 28)},   // 31 Aug + 6m
        EdgeCase{18, CivilDay(2024, 2, 29), ReviewPolicy::kTrustSop, CivilDay(2025, 2, 28)},  // 29 Feb + 12m
        EdgeCase{7, CivilDay(2024, 2, 29), ReviewPolicy::kNational, CivilDay(2025, 2, 28)},
        EdgeCase{11, CivilDay(2023, 2, 28), ReviewPolicy::kNational, CivilDay(2024, 2, 28)},
        EdgeCase{14, CivilDay(2024, 2, 14), ReviewPolicy::kTrustSop, CivilDay(2024, 3, 13)},  // 28 days over Feb
        EdgeCase{1, CivilDay(2023, 12, 20), ReviewPolicy::kNational, CivilDay(2024, 3, 13)},  // 84 days
        EdgeCase{2, CivilDay(2023, 12, 20), ReviewPolicy::kNational, CivilDay(2024, 4, 3)},   // 105 days
        EdgeCase{19, CivilDay(2024, 3, 31), ReviewPolicy::kTrustSop, CivilDay(2024, 9, 30)}));

TEST(CareReviewDueDateOverdue, OverdueTheDayThePeriodEnds) {
  auto due = *ShippedRules().ReviewDueDate(4, CivilDay(2024, 1, 15), ReviewPolicy::kTrustSop);
  EXPECT_EQ(due.due, CivilDay(2024, 7, 14));
  EXPECT_FALSE(IsOverdue(due, CivilDay(2024, 7, 14)));
  EXPECT_TRUE(IsOverdue(due, CivilDay(2024, 7, 15)));
  EXPECT_TRUE(IsWithinReviewPeriod(due, CivilDay(2024, 7, 14)));
  EXPECT_FALSE(IsInReviewWindow(due, CivilDay(2024, 7, 3)));
  EXPECT_TRUE(IsInReviewWindow(due, CivilDay(2024, 7, 4)));
  EXPECT_TRUE(IsInReviewWindow(due, CivilDay(2024, 7, 14)));
  EXPECT_FALSE(IsInReviewWindow(due, CivilDay(2024, 7, 15)));
}

// Property: for every cluster, policy and as-at day, "within the review period" is exactly the NHS Digital
// rule latest MHCT + period > as-at, and overdue is its negation.
TEST(CareReviewDueDateProperty, WithinPeriodIsTheNhsDigitalRule) {
  const RuleSet& rules = ShippedRules();
  for (int c = 0; c <= 21; ++c) {
    if (!IsValidClusterId(c)) continue;
    for (ReviewPolicy p : {ReviewPolicy::kTrustSop, ReviewPolicy::kNational}) {
      for (CivilDay mhct = CivilDay(2023, 12, 25); mhct <= CivilDay(2024, 3, 5); mhct += 7) {
        auto due = *rules.ReviewDueDate(c, mhct, p);
        const CivilDay end = AddPeriod(mhct, *rules.ReviewPeriodFor(c, p));
        for (CivilDay as_of = end - 3; as_of <= end + 3; ++as_of) {
          EXPECT_EQ(IsWithinReviewPeriod(due, as_of), end > as_of);
          EXPECT_EQ(IsOverdue(due, as_of), !(end > as_of));
        }
      }
    }
  }
}

TEST(CareReviewDueDateErrors, InvalidClusters) {
  for (int c : {9, -1, 22, 100}) {
    auto due = ShippedRules().ReviewDueDate(c, kMhct, ReviewPolicy::kTrustSop);
    EXPECT_EQ(due.status().code(), absl::StatusCode::kInvalidArgument) << c;
    EXPECT_THAT(std::string(due.status().message()), HasSubstr("cluster"));
  }
}

TEST(CareReviewPolicy, Parse) {
  EXPECT_EQ(*ParseReviewPolicy("sop"), ReviewPolicy::kTrustSop);
  EXPECT_EQ(*ParseReviewPolicy("SOP"), ReviewPolicy::kTrustSop);
  EXPECT_EQ(*ParseReviewPolicy("national"), ReviewPolicy::kNational);
  EXPECT_FALSE(ParseReviewPolicy("local").ok());
  EXPECT_FALSE(ParseReviewPolicy("").ok());
  EXPECT_EQ(ReviewPolicyName(ReviewPolicy::kNational), "national");
  EXPECT_EQ(ShippedRules().default_review_policy(), ReviewPolicy::kTrustSop);
}

TEST(CareRuleSetVersion, CombinedVersionNamesTheManifestAndADigest) {
  const RuleSet& rules = ShippedRules();
  EXPECT_THAT(rules.version(), ::testing::MatchesRegex("trust-example-2024\\.1#[0-9a-f]{8}"));
  EXPECT_EQ(rules.file_versions().at("clusters"), "clusters-2024.1");
  EXPECT_EQ(rules.file_versions().at("scoring_profiles"), "EXAMPLE-profiles-1");
  EXPECT_TRUE(rules.profiles().example);
}

}  // namespace
}  // namespace care
