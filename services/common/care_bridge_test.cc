// What a service says about the rules it runs: the pbr_rules_info gauge and, for the shipped example
// scoring profiles, a warning in the log.
#include "care_bridge.h"

#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/metrics.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace pbr::services {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Everything logged while it lives, as "<level> <message>" lines.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(text_));
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
};

std::shared_ptr<const care::RuleSet> Shipped() {
  auto rules = LoadRules(PBR_RULES_DIR);
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *rules : nullptr;
}

TEST(ReportRules, ShippedExampleProfilesAreAGaugeAndAWarning) {
  auto rules = Shipped();
  ASSERT_NE(rules, nullptr);
  ASSERT_TRUE(rules->profiles().example) << "the shipped rules use the example profiles";
  platform::Metrics metrics("allocation");
  CapturedLog log;
  ASSERT_TRUE(ReportRules(*rules, metrics).ok());

  EXPECT_THAT(metrics.Text(), HasSubstr(absl::StrCat("pbr_rules_info{example_profiles=\"true\",rule_version=\"",
                                                     rules->version(), "\",service=\"allocation\"} 1\n")))
      << metrics.Text();
  EXPECT_THAT(log.text(), HasSubstr("warning rules " + rules->version() + ": the scoring profiles are an EXAMPLE"));
  EXPECT_THAT(log.text(), HasSubstr("not a trust's grid"));
  EXPECT_THAT(log.text(), HasSubstr("suggestions and red-rule checks are for demonstration only"));
}

TEST(ReportRules, ATrustsProfilesAreNoWarning) {
  auto shipped = Shipped();
  ASSERT_NE(shipped, nullptr);
  care::RuleData data = shipped->data();
  data.profiles.example = false;
  data.profiles.version = "trust-grid-7";
  auto rules = care::RuleSet::FromData(std::move(data));
  ASSERT_TRUE(rules.ok()) << rules.status();
  platform::Metrics metrics("reporting");
  CapturedLog log;
  ASSERT_TRUE(ReportRules(*rules, metrics).ok());

  EXPECT_THAT(metrics.Text(), HasSubstr(absl::StrCat("pbr_rules_info{example_profiles=\"false\",rule_version=\"",
                                                     rules->version(), "\",service=\"reporting\"} 1\n")))
      << metrics.Text();
  EXPECT_THAT(log.text(), Not(HasSubstr("warning"))) << log.text();
  EXPECT_THAT(log.text(), HasSubstr("info rules " + rules->version() + ": scoring profiles trust-grid-7"));
}

TEST(ReportRules, ReportingAgainLeavesOneSeries) {
  auto shipped = Shipped();
  ASSERT_NE(shipped, nullptr);
  care::RuleData data = shipped->data();
  data.profiles.example = false;
  auto trust = care::RuleSet::FromData(std::move(data));
  ASSERT_TRUE(trust.ok()) << trust.status();
  platform::Metrics metrics("outcomes");
  CapturedLog log;
  ASSERT_TRUE(ReportRules(*shipped, metrics).ok());
  ASSERT_TRUE(ReportRules(*trust, metrics).ok());
  const std::string text = metrics.Text();
  EXPECT_THAT(text, HasSubstr("example_profiles=\"false\"")) << text;
  EXPECT_THAT(text, Not(HasSubstr("example_profiles=\"true\""))) << text;
}

}  // namespace
}  // namespace pbr::services
