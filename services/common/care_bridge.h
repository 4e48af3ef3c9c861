#pragma once
// Between the wire contracts (pbr.v1) and the rules library (care): conversions and rule loading,
// in one place so every service reads ratings and rule files the same way.
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "care/mhct.h"
#include "care/rules.h"
#include "pbr/v1/common.pb.h"

namespace pbr::services {

// Checks the number of items and copies; the rules library validates the values.
absl::StatusOr<care::MhctRatings> RatingsFromProto(const pbr::v1::MhctRatings& ratings);
pbr::v1::MhctRatings RatingsToProto(const care::MhctRatings& ratings);

// Loads and validates the rule set; the error names the directory and every problem found.
absl::StatusOr<std::shared_ptr<const care::RuleSet>> LoadRules(const std::string& rules_dir);

}  // namespace pbr::services
