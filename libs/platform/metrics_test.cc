// The metrics a service exposes, read back as /metrics serves them: info gauges keep one series.
#include "platform/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pbr::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(PlatformMetricsInfo, OneSeriesWithTheServiceAndTheLabels) {
  Metrics metrics("allocation");
  ASSERT_TRUE(metrics.SetInfo("pbr_test_info", "what runs", {{"version", "v1#abc"}, {"flag", "true"}}).ok());
  const std::string text = metrics.Text();
  EXPECT_THAT(text, HasSubstr("# HELP pbr_test_info what runs\n# TYPE pbr_test_info gauge\n")) << text;
  EXPECT_THAT(text, HasSubstr("pbr_test_info{flag=\"true\",service=\"allocation\",version=\"v1#abc\"} 1\n")) << text;
}

TEST(PlatformMetricsInfo, SettingAgainReplacesTheSeries) {
  Metrics metrics("reporting");
  ASSERT_TRUE(metrics.SetInfo("pbr_test_info", "what runs", {{"version", "old"}}).ok());
  ASSERT_TRUE(metrics.SetInfo("pbr_test_info", "what runs", {{"version", "new"}}).ok());
  ASSERT_TRUE(metrics.SetInfo("pbr_test_info", "what runs", {{"version", "new"}}).ok());  // the same again
  const std::string text = metrics.Text();
  EXPECT_THAT(text, HasSubstr("pbr_test_info{service=\"reporting\",version=\"new\"} 1\n")) << text;
  EXPECT_THAT(text, Not(HasSubstr("version=\"old\""))) << text;
}

TEST(PlatformMetricsInfo, BadLabelsAreRefusedNamingTheMetric) {
  Metrics metrics("outcomes");
  auto st = metrics.SetInfo("pbr_test_info", "what runs", {{"service", "other"}});
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("pbr_test_info: label \"service\""));
  st = metrics.SetInfo("pbr_test_info", "what runs", {{"not a label", "x"}});
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("pbr_test_info: not a valid info metric"));
  // A name the platform already uses for another kind of metric.
  st = metrics.SetInfo("pbr_rpcs_total", "clash", {});
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
}

}  // namespace
}  // namespace pbr::platform
