#pragma once
// Tests only: the rules shipped in rules/ (PBR_RULES_DIR, defined for test targets), loaded once per
// test binary. A load failure fails the calling test and gives nullptr.
#include <memory>

#include "care/rules.h"
#include "care_bridge.h"
#include "gtest/gtest.h"

namespace pbr::services {

inline const std::shared_ptr<const care::RuleSet>& ShippedRules() {
  static const auto* rules = [] {
    auto loaded = LoadRules(PBR_RULES_DIR);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::shared_ptr<const care::RuleSet>(loaded.ok() ? *loaded : nullptr);
  }();
  return *rules;
}

}  // namespace pbr::services
