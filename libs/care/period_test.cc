#include "care/period.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace care {
namespace {

using absl::CivilDay;

TEST(CarePeriod, ParsesEveryUnit) {
  EXPECT_EQ(*ParsePeriod("6 months"), (Period{6, Period::Unit::kMonths}));
  EXPECT_EQ(*ParsePeriod("1 month"), (Period{1, Period::Unit::kMonths}));
  EXPECT_EQ(*ParsePeriod("12 weeks"), (Period{12, Period::Unit::kWeeks}));
  EXPECT_EQ(*ParsePeriod("84 days"), (Period{84, Period::Unit::kDays}));
  EXPECT_EQ(*ParsePeriod(" 3  Years "), (Period{3, Period::Unit::kYears}));
}

TEST(CarePeriod, RejectsMalformedPeriods) {
  for (const char* bad : {"", "6", "months", "0 days", "-1 days", "6 fortnights", "6 months extra", "1.5 months",
                          "six months"}) {
    EXPECT_FALSE(ParsePeriod(bad).ok()) << bad;
  }
}

TEST(CarePeriod, FormatsRoundTrip) {
  for (const char* s : {"6 months", "1 month", "12 weeks", "84 days", "1 day", "3 years", "1 year"}) {
    EXPECT_EQ(FormatPeriod(*ParsePeriod(s)), s);
  }
}

struct MonthCase {
  CivilDay from;
  int months;
  CivilDay expected;
};
class CarePeriodMonthEnd : public ::testing::TestWithParam<MonthCase> {};
TEST_P(CarePeriodMonthEnd, ClampsToTheLastDayOfTheMonth) {
  EXPECT_EQ(AddMonthsClamped(GetParam().from, GetParam().months), GetParam().expected);
}
INSTANTIATE_TEST_SUITE_P(
    Cases, CarePeriodMonthEnd,
    ::testing::Values(MonthCase{CivilDay(2023, 8, 31), 6, CivilDay(2024, 2, 29)},   // leap year
                      MonthCase{CivilDay(2022, 8, 31), 6, CivilDay(2023, 2, 28)},   // common year
                      MonthCase{CivilDay(2024, 2, 29), 12, CivilDay(2025, 2, 28)},  // 29 Feb + 12 months
                      MonthCase{CivilDay(2024, 2, 29), 48, CivilDay(2028, 2, 29)},
                      MonthCase{CivilDay(2023, 11, 30), 3, CivilDay(2024, 2, 29)},
                      MonthCase{CivilDay(2024, 3, 31), 6, CivilDay(2024, 9, 30)},
                      MonthCase{CivilDay(2024, 1, 31), 1, CivilDay(2024, 2, 29)},
                      MonthCase{CivilDay(2023, 12, 31), 6, CivilDay(2024, 6, 30)},
                      MonthCase{CivilDay(2024, 8, 15), 6, CivilDay(2025, 2, 15)},
                      MonthCase{CivilDay(2024, 7, 31), -1, CivilDay(2024, 6, 30)},
                      MonthCase{CivilDay(2100, 1, 31), 1, CivilDay(2100, 2, 28)}));  // 2100 is not leap

TEST(CarePeriod, AddPeriodUnits) {
  const CivilDay d(2024, 1, 15);
  EXPECT_EQ(AddPeriod(d, *ParsePeriod("84 days")), CivilDay(2024, 4, 8));
  EXPECT_EQ(AddPeriod(d, *ParsePeriod("12 weeks")), CivilDay(2024, 4, 8));
  EXPECT_EQ(AddPeriod(d, *ParsePeriod("105 days")), CivilDay(2024, 4, 29));
  EXPECT_EQ(AddPeriod(d, *ParsePeriod("28 days")), CivilDay(2024, 2, 12));
  EXPECT_EQ(AddPeriod(d, *ParsePeriod("1 year")), CivilDay(2025, 1, 15));
  EXPECT_EQ(AddPeriod(CivilDay(2024, 2, 29), *ParsePeriod("1 year")), CivilDay(2025, 2, 28));
}

TEST(CarePeriod, RepeatedMonthsDoNotDrift) {
  const Period month = *ParsePeriod("1 month");
  EXPECT_EQ(AddPeriodTimes(CivilDay(2024, 1, 31), month, 2), CivilDay(2024, 3, 31));
  EXPECT_EQ(AddPeriod(AddPeriod(CivilDay(2024, 1, 31), month), month), CivilDay(2024, 3, 29));
  EXPECT_EQ(AddPeriodTimes(CivilDay(2024, 1, 31), month, -1), CivilDay(2023, 12, 31));
}

TEST(CarePeriod, TheEndOfADayIsItsLastInstantWhateverTheClocksDo) {
  absl::TimeZone uk;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &uk));
  // 29 Mar 2026 has 23 hours in the UK, 25 Oct 2026 has 25; an ordinary day 24.
  for (CivilDay d : {CivilDay(2026, 3, 29), CivilDay(2026, 10, 25), CivilDay(2026, 1, 14)}) {
    const absl::Time end = EndOfDay(d, uk);
    EXPECT_EQ(absl::ToCivilDay(end, uk), d) << d;
    EXPECT_EQ(absl::ToCivilDay(end + absl::Nanoseconds(1), uk), d + 1) << d;
    EXPECT_EQ(absl::ToCivilSecond(end + absl::Nanoseconds(1), uk), absl::CivilSecond(d + 1)) << "the next midnight";
  }
}

TEST(CarePeriod, IndicativePeriods) {
  auto p = ParseIndicativePeriod("8-12 weeks");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->min, (Period{8, Period::Unit::kWeeks}));
  EXPECT_EQ(p->max, (Period{12, Period::Unit::kWeeks}));
  EXPECT_FALSE(p->open_ended);
  p = ParseIndicativePeriod("3+ years");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->open_ended);
  EXPECT_EQ(p->min, (Period{3, Period::Unit::kYears}));
  EXPECT_EQ(p->text, "3+ years");
  for (const char* bad : {"", "3", "12-8 weeks", "3+-4 years", "x weeks", "3 aeons", "0 weeks"}) {
    EXPECT_FALSE(ParseIndicativePeriod(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace care
