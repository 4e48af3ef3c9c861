// Shared helpers for the care library tests.
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "care/rules.h"

namespace care::testing {

// The rule set shipped in rules/ (loaded once).
inline const RuleSet& ShippedRules() {
  static const RuleSet* rules = [] {
    absl::StatusOr<RuleSet> r = RuleSet::LoadFromDirectory(PBR_RULES_DIR);
    if (!r.ok()) {
      ADD_FAILURE() << "cannot load " << PBR_RULES_DIR << ": " << r.status();
      std::abort();
    }
    return new RuleSet(*std::move(r));
  }();
  return *rules;
}

inline std::string ReadRuleFile(const std::string& rel) {
  std::ifstream in(std::string(PBR_RULES_DIR) + "/" + rel, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every file the shipped manifest names, keyed by relative path (for LoadFromFiles with one file changed).
inline std::map<std::string, std::string> ShippedFiles() {
  std::map<std::string, std::string> files;
  for (const char* f : {"manifest.yaml", "clusters.yaml", "review_periods.yaml", "service_areas.yaml",
                        "transitions.yaml", "scoring_profiles.EXAMPLE.yaml", "outcomes.yaml", "kpis.yaml",
                        "teams.yaml", "prices/EXAMPLE-00X-2024-25.yaml", "prices/EXAMPLE-00X-2025-26.yaml",
                        "prices/EXAMPLE-00X-2026-27.yaml", "prices/EXAMPLE-00Y-2024-25.yaml",
                        "prices/EXAMPLE-00Y-2026-27.yaml"}) {
    files[f] = ReadRuleFile(f);
  }
  return files;
}

inline std::string Msg(const absl::Status& s) { return std::string(s.message()); }

inline MhctRatings Ratings(std::array<int, kMhctItemCount> items, char type = 0, std::string text = "") {
  MhctRatings r;
  r.items = items;
  r.item8_problem_type = type;
  r.item8_other_text = std::move(text);
  return r;
}

}  // namespace care::testing
