// Scoring profiles (reference section 5): for each cluster, each of the 18 MHCT items and each rating 0-4,
// whether the cluster must / is expected to / may / is unlikely to score it. The must-score cells are the
// SOP's "red rules". The library suggests clusters; the clinician confirms.
#pragma once

#include <array>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "care/catalogue.h"
#include "care/mhct.h"

namespace care {

enum class CellMark { kUnlikely, kMay, kExpected, kMust };
// One-letter codes used in profile files: U, P (may = "possible"), E, M.
char CellMarkCode(CellMark m);
absl::StatusOr<CellMark> ParseCellMark(char code);
std::string_view CellMarkName(CellMark m);  // "unlikely", "may", "expected", "must"

inline constexpr int kRatingsPerItem = 5;  // ratings 0..4
using ItemRow = std::array<CellMark, kRatingsPerItem>;

struct ClusterProfile {
  int cluster = 0;
  std::array<ItemRow, kMhctItemCount> items{};
};

struct ProfileSet {
  std::string version;
  bool example = false;  // true for the shipped demo set: not the national grid
  std::string label;
  std::map<int, ClusterProfile> profiles;  // every valid cluster 0..21 except 9
};

// Every valid cluster present, no unknown cluster (or key mismatch), each item row has at least one cell
// that is not "unlikely". Reports every problem, separated by "; ".
absl::Status ValidateProfileSet(const ProfileSet& set);

// One broken must-score cell.
struct BrokenRule {
  int item = 0;            // index 0..17
  int rating = 0;          // the rating given (may be 9)
  std::set<int> must_ratings;  // the ratings the cluster must score on this item
  std::string text;        // e.g. "item 6 (Hallucinations and delusions) is rated 0 but cluster 10 must score 2-4"
};

struct RedRulesDecision {
  bool met = false;
  std::vector<BrokenRule> broken;
  bool rationale_required() const { return !met; }
  std::string explanation;
  std::string rule_version;
  bool example_profiles = false;
};

// The clinician's chosen cluster against its must-score cells. An item rated 9 on a row with must cells
// breaks the rule (it cannot be confirmed). InvalidArgument for invalid ratings or cluster id; NotFound when
// the set has no profile for the cluster.
absl::StatusOr<RedRulesDecision> CheckRedRules(const ProfileSet& set, int cluster,
                                               const MhctRatings& ratings);

struct ClusterSuggestion {
  int cluster = 0;
  double fit = 0;        // 0..1: points scored / (2 x rated items)
  bool excluded = false;  // a must-score cell is broken
  std::vector<BrokenRule> broken;
  int expected_hits = 0;  // rated items landing on an expected or must cell
  int unlikely_hits = 0;  // rated items landing on an unlikely cell
  std::string explanation;  // words a clinician reads
};

struct SuggestionResult {
  std::vector<ClusterSuggestion> ranked;    // clusters not excluded, best fit first
  std::vector<ClusterSuggestion> excluded;  // clusters whose must-score cells the ratings break
  std::string rule_version;
  bool example_profiles = false;
};

// Ranks every cluster in the set (never 9). Points per rated item: must or expected 2, may 1, unlikely 0;
// fit = points / (2 x rated items), so a rating on an expected cell everywhere is 100%. Items rated 9 are
// left out of the fit. Ties: fewer unlikely
// cells first, then lower cluster id. `catalogue` (optional) supplies labels for the explanations.
absl::StatusOr<SuggestionResult> SuggestClusters(const ProfileSet& set, const MhctRatings& ratings,
                                                 const ClusterCatalogue* catalogue = nullptr);

// The same ranking as SuggestClusters, cluster ids only and without explanations (nor the ratings'
// validation: the caller's ratings are valid), for callers that rank in bulk (the load generator).
struct ClusterRanking {
  std::vector<int> ranked;    // clusters not excluded, best fit first
  std::vector<int> excluded;  // must-score cells broken
};
ClusterRanking RankClusters(const ProfileSet& set, const MhctRatings& ratings);

}  // namespace care
