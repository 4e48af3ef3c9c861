#include "care/tariff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace care {
namespace {

using absl::CivilDay;
using ::testing::HasSubstr;
using testing::ShippedRules;

TEST(CareFinancialYear, ParseAndOf) {
  auto fy = ParseFinancialYear("2024/25");
  ASSERT_TRUE(fy.ok());
  EXPECT_EQ(fy->starts, CivilDay(2024, 4, 1));
  EXPECT_EQ(fy->ends, CivilDay(2025, 3, 31));
  EXPECT_EQ(fy->label, "2024/25");
  EXPECT_EQ(ParseFinancialYear("2099/00")->ends, CivilDay(2100, 3, 31));
  for (const char* bad : {"2024/26", "24/25", "2024-25", "2024/5", "", "abcd/ef"}) {
    EXPECT_FALSE(ParseFinancialYear(bad).ok()) << bad;
  }
  EXPECT_EQ(FinancialYearOf(CivilDay(2025, 3, 31)).label, "2024/25");
  EXPECT_EQ(FinancialYearOf(CivilDay(2025, 4, 1)).label, "2025/26");
}

TEST(CareMoney, ParseAndFormat) {
  const std::pair<const char*, int64_t> good[] = {{"12", 1200}, {"12.5", 1250}, {"12.34", 1234},
                                                  {"0.05", 5},  {"0", 0},       {"100000.00", 10000000}};
  for (auto [text, pence] : good) {
    EXPECT_EQ(*ParseMoneyPence(text), pence) << text;
  }
  for (const char* bad : {"-1", "1.234", "abc", "", "1.", ".5", "1,000", "1e3", "+3"}) {
    EXPECT_FALSE(ParseMoneyPence(bad).ok()) << bad;
  }
  EXPECT_EQ(FormatPence(1234), "12.34");
  EXPECT_EQ(FormatPence(5), "0.05");
  EXPECT_EQ(FormatPence(-250), "-2.50");
}

TEST(CareTariffPerDay, DaysInPeriodTimesPrice) {
  const RuleSet& rules = ShippedRules();
  auto line = rules.ComputeActivity("00X", {4, CivilDay(2024, 4, 10), std::nullopt}, CivilDay(2024, 4, 1),
                                    CivilDay(2024, 4, 30));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->days, 21);
  EXPECT_EQ(line->unit_price_pence, 1840);
  EXPECT_EQ(line->amount_pence, 21 * 1840);
  EXPECT_EQ(line->review_periods_started, 1);
  EXPECT_EQ(line->basis, PriceBasis::kPerClusterDay);
  EXPECT_EQ(line->commissioner, "00X");
  EXPECT_EQ(line->price_list_version, "EXAMPLE-00X-2024/25-v1");
  EXPECT_EQ(line->rule_version, rules.version());

  // Closed episode: the end day is the last day on the cluster.
  line = rules.ComputeActivity("00X", {4, CivilDay(2024, 4, 10), CivilDay(2024, 4, 20)}, CivilDay(2024, 4, 1),
                               CivilDay(2024, 4, 30));
  EXPECT_EQ(line->days, 11);
  // Outside the period: nothing.
  line = rules.ComputeActivity("00X", {4, CivilDay(2024, 5, 10), std::nullopt}, CivilDay(2024, 4, 1),
                               CivilDay(2024, 4, 30));
  EXPECT_EQ(line->days, 0);
  EXPECT_EQ(line->amount_pence, 0);
}

TEST(CareTariffPerReviewPeriod, CountsReviewPeriodsStarted) {
  const RuleSet& rules = ShippedRules();
  // Cluster 14: 4-week SOP periods from 1 Apr: 1 Apr and 29 Apr start in April, 27 May in May.
  auto april = rules.ComputeActivity("00Y", {14, CivilDay(2024, 4, 1), std::nullopt}, CivilDay(2024, 4, 1),
                                     CivilDay(2024, 4, 30));
  ASSERT_TRUE(april.ok()) << april.status();
  EXPECT_EQ(april->review_periods_started, 2);
  EXPECT_EQ(april->amount_pence, 2 * 266000);
  EXPECT_EQ(april->basis, PriceBasis::kPerReviewPeriod);
  auto may = rules.ComputeActivity("00Y", {14, CivilDay(2024, 4, 1), std::nullopt}, CivilDay(2024, 5, 1),
                                   CivilDay(2024, 5, 31));
  EXPECT_EQ(may->review_periods_started, 1);
  // Cluster 4: 6-month periods from 31 Oct 2023 start again on 30 Apr 2024 (month-end clamping).
  auto c4 = rules.ComputeActivity("00Y", {4, CivilDay(2023, 10, 31), std::nullopt}, CivilDay(2024, 4, 1),
                                  CivilDay(2024, 4, 30));
  EXPECT_EQ(c4->review_periods_started, 1);
  c4 = rules.ComputeActivity("00Y", {4, CivilDay(2023, 10, 31), std::nullopt}, CivilDay(2024, 5, 1),
                             CivilDay(2024, 5, 31));
  EXPECT_EQ(c4->review_periods_started, 0);
  EXPECT_EQ(c4->amount_pence, 0);
}

// Property: monthly lines add up to the line for the whole financial year.
TEST(CareTariffProperty, MonthlyLinesAddUpToTheYear) {
  const RuleSet& rules = ShippedRules();
  for (const char* commissioner : {"00X", "00Y"}) {
    for (int cluster : {0, 4, 14, 18}) {
      for (ClusterEpisode ep : {ClusterEpisode{cluster, CivilDay(2023, 8, 31), std::nullopt},
                                ClusterEpisode{cluster, CivilDay(2024, 6, 17), CivilDay(2025, 1, 3)}}) {
        auto year = *rules.ComputeActivity(commissioner, ep, CivilDay(2024, 4, 1), CivilDay(2025, 3, 31));
        int64_t days = 0, periods = 0, amount = 0;
        for (absl::CivilMonth m(2024, 4); m <= absl::CivilMonth(2025, 3); ++m) {
          auto line = *rules.ComputeActivity(commissioner, ep, absl::CivilDay(m), absl::CivilDay(m + 1) - 1);
          days += line.days;
          periods += line.review_periods_started;
          amount += line.amount_pence;
        }
        EXPECT_EQ(days, year.days) << commissioner << " " << cluster;
        EXPECT_EQ(periods, year.review_periods_started) << commissioner << " " << cluster;
        EXPECT_EQ(amount, year.amount_pence) << commissioner << " " << cluster;
      }
    }
  }
}

TEST(CareTariffErrors, PeriodsPricesAndCommissioners) {
  const RuleSet& rules = ShippedRules();
  const ClusterEpisode ep{4, CivilDay(2024, 1, 1), std::nullopt};
  auto across = rules.ComputeActivity("00X", ep, CivilDay(2024, 3, 15), CivilDay(2024, 4, 15));
  EXPECT_EQ(across.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(across.status().message()), HasSubstr("split it at 1 April"));
  EXPECT_EQ(rules.ComputeActivity("00X", ep, CivilDay(2024, 4, 30), CivilDay(2024, 4, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rules.ComputeActivity("00X", {1, CivilDay(2024, 1, 1), std::nullopt}, CivilDay(2024, 4, 1),
                                  CivilDay(2024, 4, 30))
                .status()
                .code(),
            absl::StatusCode::kNotFound);  // cluster 1 is not priced
  EXPECT_EQ(rules.ComputeActivity("00X", {9, CivilDay(2024, 1, 1), std::nullopt}, CivilDay(2024, 4, 1),
                                  CivilDay(2024, 4, 30))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rules.ComputeActivity("00Z", ep, CivilDay(2024, 4, 1), CivilDay(2024, 4, 30)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(rules.ComputeActivity("00X", {4, CivilDay(2024, 5, 1), CivilDay(2024, 4, 1)}, CivilDay(2024, 4, 1),
                                  CivilDay(2024, 4, 30))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_NE(rules.FindPriceList("00X", CivilDay(2025, 5, 1)), nullptr);
  EXPECT_EQ(rules.FindPriceList("00X", CivilDay(2025, 5, 1))->year.label, "2025/26");
  EXPECT_EQ(rules.FindPriceList("00Y", CivilDay(2025, 5, 1)), nullptr);
}

TEST(CareTariffNames, Basis) {
  EXPECT_EQ(*ParsePriceBasis("per_cluster_day"), PriceBasis::kPerClusterDay);
  EXPECT_EQ(*ParsePriceBasis("per_review_period"), PriceBasis::kPerReviewPeriod);
  EXPECT_FALSE(ParsePriceBasis("per_month").ok());
  EXPECT_EQ(PriceBasisName(PriceBasis::kPerReviewPeriod), "per_review_period");
}

}  // namespace
}  // namespace care
