// The metrics a service exposes, read back as /metrics serves them: info gauges keep one series,
// and collectors are computed afresh at every scrape.
#include "platform/metrics.h"

#include <atomic>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/process.h"

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

// A gauge family as a service's collector builds it from its store: one series per team.
std::vector<prometheus::MetricFamily> OverdueFamilies(double east, double west) {
  prometheus::MetricFamily family;
  family.name = "pbr_test_overdue";
  family.help = "reviews overdue now";
  family.type = prometheus::MetricType::Gauge;
  for (const auto& [team, value] : {std::pair{"cmht-east", east}, std::pair{"cmht-west", west}}) {
    prometheus::ClientMetric series;
    series.label = {{"team", team}};
    series.gauge.value = value;
    family.metric.push_back(series);
  }
  return {family};
}

TEST(PlatformMetricsCollector, ComputedAtEveryTextWithTheServiceLabel) {
  Metrics metrics("review-scheduler");
  std::atomic<int> overdue{3};
  std::atomic<int> calls{0};
  metrics.AddCollector([&] {
    calls.fetch_add(1);
    return OverdueFamilies(overdue.load(), 0);
  });
  std::string text = metrics.Text();
  EXPECT_THAT(text, HasSubstr("# HELP pbr_test_overdue reviews overdue now\n# TYPE pbr_test_overdue gauge\n")) << text;
  EXPECT_THAT(text, HasSubstr("pbr_test_overdue{service=\"review-scheduler\",team=\"cmht-east\"} 3\n")) << text;
  EXPECT_THAT(text, HasSubstr("pbr_test_overdue{service=\"review-scheduler\",team=\"cmht-west\"} 0\n")) << text;
  EXPECT_THAT(text, HasSubstr("pbr_outbox_depth{service=\"review-scheduler\"}")) << "the registry's too: " << text;
  overdue.store(5);
  text = metrics.Text();
  EXPECT_THAT(text, HasSubstr("pbr_test_overdue{service=\"review-scheduler\",team=\"cmht-east\"} 5\n")) << text;
  EXPECT_THAT(text, Not(HasSubstr("team=\"cmht-east\"} 3"))) << text;
  EXPECT_EQ(calls.load(), 2);
}

TEST(PlatformMetricsCollector, TheServiceLabelIsThePlatformsAndAFailingCollectorIsLeftOut) {
  Metrics metrics("reporting");
  metrics.AddCollector([] {
    auto families = OverdueFamilies(1, 2);
    families[0].metric[0].label.push_back({"service", "impostor"});
    return families;
  });
  metrics.AddCollector([]() -> std::vector<prometheus::MetricFamily> { throw std::runtime_error("store closed"); });
  const std::string text = metrics.Text();
  EXPECT_THAT(text, HasSubstr("pbr_test_overdue{service=\"reporting\",team=\"cmht-east\"} 1\n")) << text;
  EXPECT_THAT(text, Not(HasSubstr("impostor"))) << text;
}

TEST(PlatformMetricsCollector, AScrapeOfMetricsServesTheCollectorsCurrentValues) {
  Metrics metrics("review-scheduler");
  std::atomic<int> overdue{7};
  metrics.AddCollector([&] { return OverdueFamilies(overdue.load(), 1); });  // before Serve
  ASSERT_TRUE(metrics.Serve("127.0.0.1:0").ok());
  ASSERT_GT(metrics.port(), 0);
  const std::string address = absl::StrCat("127.0.0.1:", metrics.port());
  auto body = pbr::testing::HttpGet(address, "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_THAT(*body, HasSubstr("pbr_test_overdue{service=\"review-scheduler\",team=\"cmht-east\"} 7\n")) << *body;
  EXPECT_THAT(*body, HasSubstr("pbr_outbox_depth{service=\"review-scheduler\"} 0\n")) << *body;
  overdue.store(8);
  metrics.AddCollector([] {  // after Serve
    prometheus::MetricFamily family;
    family.name = "pbr_test_later";
    family.help = "added after Serve";
    family.type = prometheus::MetricType::Gauge;
    family.metric.emplace_back().gauge.value = 42;
    return std::vector<prometheus::MetricFamily>{family};
  });
  body = pbr::testing::HttpGet(address, "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_THAT(*body, HasSubstr("pbr_test_overdue{service=\"review-scheduler\",team=\"cmht-east\"} 8\n")) << *body;
  EXPECT_THAT(*body, HasSubstr("pbr_test_later{service=\"review-scheduler\"} 42\n")) << *body;
}

}  // namespace
}  // namespace pbr::platform
