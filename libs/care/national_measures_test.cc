#include "care/national_measures.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace care {
namespace {

TEST(CareNationalMeasures, Acc37IsAPercentageAndZeroWithNobodyToMeasure) {
  EXPECT_DOUBLE_EQ(Acc37Percent(3, 4), 75.0);
  EXPECT_DOUBLE_EQ(Acc37Percent(1, 3), 100.0 / 3.0);  // exact: not rounded unless published
  EXPECT_DOUBLE_EQ(Acc37Percent(0, 7), 0.0);
  EXPECT_DOUBLE_EQ(Acc37Percent(0, 0), 0.0);
}

TEST(CareNationalMeasures, CountsUnderFiveAreSuppressedOthersRoundedToTheNearestFive) {
  for (int64_t n = 0; n < 5; ++n) {
    const PublishedCount c = RoundCountForPublication(n);
    EXPECT_TRUE(c.suppressed) << n;
    EXPECT_EQ(c.value, 0) << n;
  }
  struct Case {
    int64_t count, published;
  };
  for (const Case& c : {Case{5, 5}, Case{6, 5}, Case{7, 5}, Case{8, 10}, Case{12, 10}, Case{13, 15},
                        Case{15, 15}, Case{1002, 1000}, Case{1003, 1005}}) {
    const PublishedCount p = RoundCountForPublication(c.count);
    EXPECT_FALSE(p.suppressed) << c.count;
    EXPECT_EQ(p.value, c.published) << c.count;
    EXPECT_EQ(p.value % 5, 0) << c.count;
    EXPECT_LE(std::abs(p.value - c.count), 2) << c.count;  // the nearest multiple
  }
}

TEST(CareNationalMeasures, Acc37IsPublishedFromTheUnroundedCountsToOneDecimal) {
  // 13 of 17: the rounded counts (15 of 15) would say 100%; the published ACC37 is 76.5 (76.47...).
  const PublishedNationalMeasure m = PublishNationalMeasure(17, 13);
  EXPECT_EQ(m.acc33.value, 15);
  EXPECT_EQ(m.acc36.value, 15);
  EXPECT_FALSE(m.acc37_suppressed);
  EXPECT_DOUBLE_EQ(m.acc37, 76.5);
  // A half tenth rounds up: 49 of 400 is 12.25%.
  EXPECT_DOUBLE_EQ(PublishNationalMeasure(400, 49).acc37, 12.3);
  // 2 of 3 is 66.66...%.
  EXPECT_DOUBLE_EQ(PublishNationalMeasure(30, 20).acc37, 66.7);
}

TEST(CareNationalMeasures, Acc37GoesWithItsAcc33) {
  // ACC33 under 5: every figure of the row is suppressed.
  const PublishedNationalMeasure small = PublishNationalMeasure(4, 3);
  EXPECT_TRUE(small.acc33.suppressed);
  EXPECT_TRUE(small.acc36.suppressed);
  EXPECT_TRUE(small.acc37_suppressed);
  EXPECT_EQ(small.acc37, 0);
  // ACC36 alone under 5: ACC33 and ACC37 are published (ACC37 from the unrounded 3 of 20).
  const PublishedNationalMeasure few = PublishNationalMeasure(20, 3);
  EXPECT_FALSE(few.acc33.suppressed);
  EXPECT_TRUE(few.acc36.suppressed);
  EXPECT_FALSE(few.acc37_suppressed);
  EXPECT_DOUBLE_EQ(few.acc37, 15.0);
  // Nobody at all: suppressed, not a division by zero.
  EXPECT_TRUE(PublishNationalMeasure(0, 0).acc37_suppressed);
}

}  // namespace
}  // namespace care
