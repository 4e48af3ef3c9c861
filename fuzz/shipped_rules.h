#pragma once
// The rule set shipped in rules/, loaded once per fuzzer process (the fuzzers test code over it,
// not the files themselves; fuzz_rule_file does that).
#include <cstdlib>
#include <memory>

#include "care/rules.h"
#include "care_bridge.h"

inline const care::RuleSet& ShippedRules() {
  static const std::shared_ptr<const care::RuleSet> rules = [] {
    auto loaded = pbr::services::LoadRules(PBR_RULES_DIR);
    if (!loaded.ok()) std::abort();  // the shipped rules must load
    return *std::move(loaded);
  }();
  return *rules;
}
