#pragma once
// Between the wire contracts (pbr.v1) and the rules library (care): conversions and rule loading,
// in one place so every service reads ratings and rule files the same way.
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "care/mhct.h"
#include "care/rules.h"
#include "pbr/v1/common.pb.h"

namespace pbr::platform {
class Metrics;
class ServiceHost;
}  // namespace pbr::platform

namespace pbr::services {

// Checks the number of items and copies; the rules library validates the values.
absl::StatusOr<care::MhctRatings> RatingsFromProto(const pbr::v1::MhctRatings& ratings);
pbr::v1::MhctRatings RatingsToProto(const care::MhctRatings& ratings);

// Loads and validates the rule set; the error names the directory and every problem found.
absl::StatusOr<std::shared_ptr<const care::RuleSet>> LoadRules(const std::string& rules_dir);

// What a service says about the rules it runs, at start: the gauge
//   pbr_rules_info{example_profiles="true|false",rule_version="<RuleSet::version()>",service="..."} 1
// and, when the scoring profiles are the shipped example, a WARNING in the log that suggestions and
// red-rule checks are for demonstration only. An operator sees from either that a deployment is not
// running a trust's grid.
absl::Status ReportRules(const care::RuleSet& rules, platform::Metrics& metrics);
inline constexpr char kRulesInfoMetric[] = "pbr_rules_info";

// What every service's setup calls: LoadRules from the `rules-dir` setting, then ReportRules.
absl::StatusOr<std::shared_ptr<const care::RuleSet>> LoadRulesFor(platform::ServiceHost& host);

}  // namespace pbr::services
