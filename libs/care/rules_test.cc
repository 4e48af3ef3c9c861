// The cluster catalogue and review due dates, walked row by row against the reference tables. Due dates follow
// reference section 7: due ON latest MHCT + period, overdue from the day after, window from due - 10.
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
  CivilDay sop_due;       // latest MHCT 15 Jan 2024 + SOP period: the due date
  CivilDay national_due;  // latest MHCT 15 Jan 2024 + national period
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
  EXPECT_EQ(sop->due, row.sop_due);
  EXPECT_EQ(sop->window_opens, row.sop_due - 10);
  EXPECT_EQ(sop->cluster, row.id);
  EXPECT_EQ(sop->policy, ReviewPolicy::kTrustSop);
  EXPECT_EQ(sop->rule_version, rules.version());

  absl::StatusOr<ReviewDue> nat = rules.ReviewDueDate(row.id, kMhct, ReviewPolicy::kNational);
  ASSERT_TRUE(nat.ok()) << nat.status();
  EXPECT_EQ(nat->due, row.national_due);
  EXPECT_EQ(nat->window_opens, row.national_due - 10);
  EXPECT_EQ(nat->policy, ReviewPolicy::kNational);

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
  CivilDay due;  // latest MHCT + period, clamped at month end
};
class CareReviewDueDateMonthEnd : public ::testing::TestWithParam<EdgeCase> {};
TEST_P(CareReviewDueDateMonthEnd, ClampsAtMonthEnd) {
  const EdgeCase& c = GetParam();
  auto due = ShippedRules().ReviewDueDate(c.cluster, c.mhct, c.policy);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->due, c.due);
  EXPECT_EQ(due->window_opens, c.due - 10);
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
        EdgeCase{19, CivilDay(2024, 3, 31), ReviewPolicy::kTrustSop, CivilDay(2024, 9, 30)},
        // Reference section 7's own examples.
        EdgeCase{4, CivilDay(2026, 8, 31), ReviewPolicy::kTrustSop, CivilDay(2027, 2, 28)},    // 31 Aug + 6m
        EdgeCase{4, CivilDay(2027, 8, 31), ReviewPolicy::kNational, CivilDay(2028, 2, 29)},    // into a leap Feb
        EdgeCase{18, CivilDay(2028, 2, 29), ReviewPolicy::kTrustSop, CivilDay(2029, 2, 28)},   // 29 Feb 2028 + 12m
        EdgeCase{10, CivilDay(2028, 2, 29), ReviewPolicy::kNational, CivilDay(2029, 2, 28)},
        EdgeCase{18, CivilDay(2027, 2, 28), ReviewPolicy::kTrustSop, CivilDay(2028, 2, 28)},   // 28 Feb 2027 + 12m
        EdgeCase{11, CivilDay(2027, 2, 28), ReviewPolicy::kNational, CivilDay(2028, 2, 28)}));

// Reference section 7: the review is due ON latest MHCT + period, on time that day, overdue from the next day;
// the window opens 10 days before the due date.
TEST(CareReviewDueDateOverdue, OnTimeOnTheDueDateOverdueTheDayAfter) {
  auto due = *ShippedRules().ReviewDueDate(4, CivilDay(2024, 1, 15), ReviewPolicy::kTrustSop);
  EXPECT_EQ(due.due, CivilDay(2024, 7, 15));  // 15 Jan + 6 months
  EXPECT_EQ(due.window_opens, CivilDay(2024, 7, 5));
  EXPECT_FALSE(IsOverdue(due, CivilDay(2024, 7, 14)));
  EXPECT_FALSE(IsOverdue(due, CivilDay(2024, 7, 15)));  // the due date: still on time
  EXPECT_TRUE(IsOverdue(due, CivilDay(2024, 7, 16)));   // the day after: overdue
  EXPECT_FALSE(IsInReviewWindow(due, CivilDay(2024, 7, 4)));
  EXPECT_TRUE(IsInReviewWindow(due, CivilDay(2024, 7, 5)));  // due - 10
  EXPECT_TRUE(IsInReviewWindow(due, CivilDay(2024, 7, 15)));
  EXPECT_FALSE(IsInReviewWindow(due, CivilDay(2024, 7, 16)));
}

// ACC36: within the review period at period end P iff MHCT + period > P (strictly): false at P = due, true at
// P = due - 1. A person outside ACC36 at P is exactly one whose review is overdue on P + 1.
TEST(CareReviewDueDateOverdue, Acc36WithinPeriodIsFalseOnTheDueDate) {
  for (ReviewPolicy p : {ReviewPolicy::kTrustSop, ReviewPolicy::kNational}) {
    for (int c : {0, 1, 2, 4, 7, 10, 14, 18}) {
      auto due = *ShippedRules().ReviewDueDate(c, CivilDay(2026, 8, 31), p);
      EXPECT_FALSE(IsWithinReviewPeriod(due, due.due)) << c;
      EXPECT_TRUE(IsWithinReviewPeriod(due, due.due - 1)) << c;
      EXPECT_FALSE(IsWithinReviewPeriod(due, due.due + 1)) << c;
      EXPECT_TRUE(IsOverdue(due, due.due + 1)) << c;
      EXPECT_FALSE(IsOverdue(due, due.due)) << c;
    }
  }
}

// Every cluster under both policies (reference section 1), due dates worked by hand for one MHCT date chosen
// so that month-end clamping shows: 31 Aug 2026.
//   6 months  -> 28 Feb 2027 (clamped; 2027 is not a leap year)     12 months -> 31 Aug 2027
//   12 weeks = 84 days -> 23 Nov 2026 (Sep 30 + Oct 31 + 23)         15 weeks = 105 days -> 14 Dec 2026
//   4 weeks = 28 days -> 28 Sep 2026
// Windows open 10 days earlier: 18 Feb 2027, 21 Aug 2027, 13 Nov 2026, 4 Dec 2026, 18 Sep 2026.
struct HandDue {
  int cluster;
  const char* sop_period;
  CivilDay sop_due, sop_window;
  const char* national_period;
  CivilDay national_due, national_window;
};
const CivilDay kHandMhct(2026, 8, 31);
using D = CivilDay;
const HandDue kHandDues[] = {
    {0, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {1, "12 weeks", D(2026, 11, 23), D(2026, 11, 13), "84 days", D(2026, 11, 23), D(2026, 11, 13)},
    {2, "15 weeks", D(2026, 12, 14), D(2026, 12, 4), "105 days", D(2026, 12, 14), D(2026, 12, 4)},
    {3, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {4, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {5, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {6, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {7, "6 months", D(2027, 2, 28), D(2027, 2, 18), "12 months", D(2027, 8, 31), D(2027, 8, 21)},
    {8, "6 months", D(2027, 2, 28), D(2027, 2, 18), "12 months", D(2027, 8, 31), D(2027, 8, 21)},
    {10, "6 months", D(2027, 2, 28), D(2027, 2, 18), "12 months", D(2027, 8, 31), D(2027, 8, 21)},
    {11, "6 months", D(2027, 2, 28), D(2027, 2, 18), "12 months", D(2027, 8, 31), D(2027, 8, 21)},
    {12, "6 months", D(2027, 2, 28), D(2027, 2, 18), "12 months", D(2027, 8, 31), D(2027, 8, 21)},
    {13, "6 months", D(2027, 2, 28), D(2027, 2, 18), "12 months", D(2027, 8, 31), D(2027, 8, 21)},
    {14, "4 weeks", D(2026, 9, 28), D(2026, 9, 18), "28 days", D(2026, 9, 28), D(2026, 9, 18)},
    {15, "4 weeks", D(2026, 9, 28), D(2026, 9, 18), "28 days", D(2026, 9, 28), D(2026, 9, 18)},
    {16, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {17, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {18, "12 months", D(2027, 8, 31), D(2027, 8, 21), "12 months", D(2027, 8, 31), D(2027, 8, 21)},
    {19, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {20, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
    {21, "6 months", D(2027, 2, 28), D(2027, 2, 18), "6 months", D(2027, 2, 28), D(2027, 2, 18)},
};

TEST(CareReviewDueDateByHand, EveryClusterBothPolicies) {
  const RuleSet& rules = ShippedRules();
  ASSERT_EQ(std::size(kHandDues), 21u);  // every valid cluster 0-21 except 9, once, in order
  int expected_id = 0;
  for (const HandDue& h : kHandDues) {
    if (expected_id == kBlankCluster) ++expected_id;
    EXPECT_EQ(h.cluster, expected_id++);
  }
  for (const HandDue& h : kHandDues) {
    SCOPED_TRACE(::testing::Message() << "cluster " << h.cluster);
    EXPECT_EQ(*rules.ReviewPeriodFor(h.cluster, ReviewPolicy::kTrustSop), *ParsePeriod(h.sop_period));
    EXPECT_EQ(*rules.ReviewPeriodFor(h.cluster, ReviewPolicy::kNational), *ParsePeriod(h.national_period));
    auto sop = rules.ReviewDueDate(h.cluster, kHandMhct, ReviewPolicy::kTrustSop);
    ASSERT_TRUE(sop.ok()) << sop.status();
    EXPECT_EQ(sop->due, h.sop_due);
    EXPECT_EQ(sop->window_opens, h.sop_window);
    auto nat = rules.ReviewDueDate(h.cluster, kHandMhct, ReviewPolicy::kNational);
    ASSERT_TRUE(nat.ok()) << nat.status();
    EXPECT_EQ(nat->due, h.national_due);
    EXPECT_EQ(nat->window_opens, h.national_window);
    // The boundary on both policies: on time on the due date, overdue the day after, window from due - 10.
    for (const ReviewDue& d : {*sop, *nat}) {
      EXPECT_FALSE(IsOverdue(d, d.due));
      EXPECT_TRUE(IsOverdue(d, d.due + 1));
      EXPECT_FALSE(IsInReviewWindow(d, d.due - 11));
      EXPECT_TRUE(IsInReviewWindow(d, d.due - 10));
      EXPECT_TRUE(IsInReviewWindow(d, d.due));
      EXPECT_FALSE(IsInReviewWindow(d, d.due + 1));
    }
  }
}

// The window length is data (window_days), not a constant.
TEST(CareReviewDueDateWindow, WindowDaysComesFromTheRuleFile) {
  ReviewPeriods periods = ShippedRules().review_periods();
  periods.window_days = 3;
  auto d = ComputeReviewDue(periods, 4, CivilDay(2024, 1, 15), ReviewPolicy::kTrustSop);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->due, CivilDay(2024, 7, 15));
  EXPECT_EQ(d->window_opens, CivilDay(2024, 7, 12));
  EXPECT_EQ(d->rule_version, periods.version);
  EXPECT_EQ(d->period, (Period{6, Period::Unit::kMonths}));
}

// Property: for every cluster, policy and day around the due date: due = MHCT + period; ACC36's "within" is
// exactly the NHS Digital rule MHCT + period > day; overdue is day > MHCT + period; and the two agree one day
// apart (outside ACC36 at P <=> overdue on P + 1).
TEST(CareReviewDueDateProperty, WithinPeriodIsTheNhsDigitalRule) {
  const RuleSet& rules = ShippedRules();
  for (int c = 0; c <= 21; ++c) {
    if (!IsValidClusterId(c)) continue;
    for (ReviewPolicy p : {ReviewPolicy::kTrustSop, ReviewPolicy::kNational}) {
      for (CivilDay mhct = CivilDay(2023, 12, 25); mhct <= CivilDay(2024, 3, 5); mhct += 7) {
        auto due = *rules.ReviewDueDate(c, mhct, p);
        const CivilDay end = AddPeriod(mhct, *rules.ReviewPeriodFor(c, p));
        EXPECT_EQ(due.due, end);
        for (CivilDay as_of = end - 12; as_of <= end + 3; ++as_of) {
          EXPECT_EQ(IsWithinReviewPeriod(due, as_of), end > as_of);
          EXPECT_EQ(IsOverdue(due, as_of), as_of > end);
          EXPECT_EQ(IsWithinReviewPeriod(due, as_of), !IsOverdue(due, as_of + 1));
          EXPECT_EQ(IsInReviewWindow(due, as_of), as_of >= end - 10 && as_of <= end);
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

// Indicative periods of care (SOP Table 12) end at start + the (upper) length, by calendar arithmetic;
// a person is beyond theirs from the day after the end. Ends worked out by hand.
TEST(CareIndicativePeriod, EndsAtTheUpperLengthWithMonthsClamped) {
  const IndicativePeriod six_months = *ParseIndicativePeriod("6 months");
  EXPECT_EQ(IndicativePeriodEnd(six_months, CivilDay(2024, 8, 31)), CivilDay(2025, 2, 28));
  EXPECT_FALSE(IsBeyondIndicativePeriod(six_months, CivilDay(2024, 8, 31), CivilDay(2025, 2, 28)));
  EXPECT_TRUE(IsBeyondIndicativePeriod(six_months, CivilDay(2024, 8, 31), CivilDay(2025, 3, 1)));

  // A range ends at its upper length: 1 Jan 2024 + 12 weeks (84 days) = 25 Mar 2024.
  const IndicativePeriod crisis = *ParseIndicativePeriod("8-12 weeks");
  EXPECT_EQ(IndicativePeriodEnd(crisis, CivilDay(2024, 1, 1)), CivilDay(2024, 3, 25));
  EXPECT_FALSE(IsBeyondIndicativePeriod(crisis, CivilDay(2024, 1, 1), CivilDay(2024, 3, 25)));
  EXPECT_TRUE(IsBeyondIndicativePeriod(crisis, CivilDay(2024, 1, 1), CivilDay(2024, 3, 26)));
  EXPECT_FALSE(IsBeyondIndicativePeriod(crisis, CivilDay(2024, 1, 1), CivilDay(2024, 2, 26)))
      << "past the lower length (8 weeks) is still within the range";

  // Years are 12 calendar months: 29 Feb 2024 + 3 years = 28 Feb 2027.
  EXPECT_EQ(IndicativePeriodEnd(*ParseIndicativePeriod("3 years"), CivilDay(2024, 2, 29)), CivilDay(2027, 2, 28));
}

TEST(CareIndicativePeriod, AnOpenEndedPeriodNeverEnds) {
  const IndicativePeriod long_term = *ParseIndicativePeriod("3+ years");
  EXPECT_EQ(IndicativePeriodEnd(long_term, CivilDay(2001, 1, 1)), std::nullopt);
  EXPECT_FALSE(IsBeyondIndicativePeriod(long_term, CivilDay(2001, 1, 1), CivilDay(2199, 12, 31)));
}

TEST(CareIndicativePeriod, TheShippedCataloguesPeriods) {
  const RuleSet& rules = ShippedRules();
  // Cluster 14 (psychotic crisis), "8-12 weeks"; cluster 11, "3+ years"; cluster 4, "12 months".
  EXPECT_EQ(IndicativePeriodEnd(rules.FindCluster(14)->indicative_period, CivilDay(2026, 1, 10)),
            CivilDay(2026, 4, 4));
  EXPECT_EQ(IndicativePeriodEnd(rules.FindCluster(11)->indicative_period, CivilDay(2026, 1, 10)), std::nullopt);
  EXPECT_EQ(IndicativePeriodEnd(rules.FindCluster(4)->indicative_period, CivilDay(2026, 1, 10)),
            CivilDay(2027, 1, 10));
}

// The 90 days up to today: today - 89 to today inclusive.
TEST(CareRecentContact, TheWindowIsTheNinetyDaysUpToToday) {
  const CivilDay today(2026, 11, 22);
  EXPECT_TRUE(IsRecentContact(today, today));
  EXPECT_TRUE(IsRecentContact(CivilDay(2026, 8, 25), today));   // today - 89
  EXPECT_FALSE(IsRecentContact(CivilDay(2026, 8, 24), today));  // today - 90
  EXPECT_FALSE(IsRecentContact(CivilDay(2026, 11, 23), today)) << "a contact after today is not yet in the window";
  EXPECT_EQ(RecentContactWindow(today).first, CivilDay(2026, 8, 25));
  EXPECT_EQ(RecentContactWindow(today).last, today);
}

TEST(CareRecentContact, OnlyAReferralOpenForNinetyDaysLacksContact) {
  const CivilDay today(2026, 11, 22);
  EXPECT_TRUE(LacksRecentContact(0, CivilDay(2026, 8, 24), today));   // opened today - 90
  EXPECT_FALSE(LacksRecentContact(0, CivilDay(2026, 8, 25), today));  // opened today - 89: too new to judge
  EXPECT_FALSE(LacksRecentContact(1, CivilDay(2020, 1, 1), today));
}

}  // namespace
}  // namespace care
