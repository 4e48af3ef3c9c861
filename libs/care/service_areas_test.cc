// Every service-area cell of reference section 2.
#include "care/service_areas.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace care {
namespace {

using testing::ShippedRules;

struct AreaRow {
  const char* id;
  std::set<int> allowed;
  std::set<int> rarely;
  bool acute;
};

const AreaRow kAreas[] = {
    {"inpatient", {0, 5, 6, 7, 8, 10, 13, 14, 15, 16, 17, 20, 21}, {4, 12}, true},
    {"community_non_psychosis", {0, 4, 5, 6, 7, 8}, {}, false},
    {"community_psychosis", {10, 11, 12, 13, 14, 15, 16, 17}, {}, false},
    {"memory_dementia", {18, 19, 20, 21}, {}, false},
    {"crht", {0, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 17}, {}, true},
};

class CareServiceArea : public ::testing::TestWithParam<AreaRow> {};

TEST_P(CareServiceArea, EveryClusterCell) {
  const AreaRow& row = GetParam();
  const ServiceArea* area = ShippedRules().service_areas().Find(row.id);
  ASSERT_NE(area, nullptr);
  EXPECT_EQ(area->acute_pathway, row.acute);
  for (int c = 0; c <= 21; ++c) {
    if (!IsValidClusterId(c)) continue;
    auto d = ShippedRules().CheckServiceArea(row.id, c);
    ASSERT_TRUE(d.ok()) << d.status();
    const ServiceAreaFit want = row.allowed.count(c)  ? ServiceAreaFit::kAllowed
                                : row.rarely.count(c) ? ServiceAreaFit::kAllowedRarely
                                                      : ServiceAreaFit::kNotAllowed;
    EXPECT_EQ(d->fit, want) << row.id << " cluster " << c << ": " << d->reason;
    EXPECT_EQ(d->appropriate(), want != ServiceAreaFit::kNotAllowed);
    EXPECT_EQ(d->flagged(), want == ServiceAreaFit::kAllowedRarely);
    EXPECT_FALSE(d->reason.empty());
    EXPECT_EQ(d->rule_version, ShippedRules().version());
  }
}

INSTANTIATE_TEST_SUITE_P(AllAreas, CareServiceArea, ::testing::ValuesIn(kAreas),
                         [](const auto& info) { return std::string(info.param.id); });

TEST(CareServiceAreaErrors, UnknownAreaAndInvalidCluster) {
  EXPECT_EQ(ShippedRules().CheckServiceArea("pharmacy", 4).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ShippedRules().CheckServiceArea("crht", 9).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShippedRules().service_areas().areas.size(), 5u);
}

TEST(CareServiceAreaErrors, RarelyIsFlaggedInTheReason) {
  auto d = ShippedRules().CheckServiceArea("inpatient", 4);
  EXPECT_THAT(d->reason, ::testing::HasSubstr("rarely"));
  EXPECT_EQ(ServiceAreaFitName(d->fit), "allowed_rarely");
}

}  // namespace
}  // namespace care
