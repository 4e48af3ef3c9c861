// Outcomes from HoNOS (MHCT items 1-12): totals, the four-factor model, item clinical significance,
// change between ratings, reliable change, clinical cut-off and remission (reference section 6).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "care/mhct.h"

namespace care {

// How many HoNOS items (1-12) rated 9 (not known) still give a valid total. Not nationally defined, so it is a
// setting (outcomes file, `missing_items`); strict by default.
enum class MissingItemPolicy {
  kStrict,           // any 9 in items 1-12 => total invalid
  kAllowUpToOne,     // up to 1 missing item; missing items count 0
  kAllowUpToTwo,
  kAllowUpToThree,
  // NHS Digital's retired measure AMH04 counted a HoNOS as recorded when at least 9 of its 12 items
  // were rated 0-4: at most 3 missing, as allow_up_to_3, recorded under the national rule's name.
  kAtLeastNineOfTwelve,
};
// "strict" | "allow_up_to_1" | "allow_up_to_2" | "allow_up_to_3" | "at_least_9_of_12"
absl::StatusOr<MissingItemPolicy> ParseMissingItemPolicy(std::string_view name);
std::string_view MissingItemPolicyName(MissingItemPolicy p);
int MaxMissingItems(MissingItemPolicy p);

struct HonosTotal {
  int total = 0;          // sum of items 1-12 rated 0-4 (0-48); items rated 9 are left out
  int missing_items = 0;  // items 1-12 rated 9
  bool valid = false;     // missing_items within the policy and no rating outside 0-4/9
};
HonosTotal ComputeHonosTotal(const MhctRatings& r, MissingItemPolicy policy = MissingItemPolicy::kStrict);

// ---- rule data (outcomes file) ----

// A model has a few factors (Speak's has four); the file may list at most this many, so every
// outcome carrying them stays small.
inline constexpr int kMaxOutcomeFactors = 16;

struct Factor {
  std::string id;          // e.g. "personal_wellbeing"
  std::string name;        // e.g. "Personal well-being"
  std::vector<int> items;  // item indices 0..11
  int max = 0;             // 4 x items
};

struct OutcomeThresholds {
  int reliable_change = 8;   // points of change on the HoNOS total
  int clinical_cutoff = 11;  // total >= cut-off: in the clinical range
};

enum class OutcomePopulation { kStandard, kSevere };

enum class OutcomeTag {
  kImprovement, kStability, kDischarge, kMinimalStepUp, kDeterioration, kStepUp, kCognitiveDecline
};
// "improvement" | "stability" | "discharge" | "minimal_step_up" | "deterioration" | "step_up" |
// "cognitive_decline"
std::string_view OutcomeTagName(OutcomeTag t);
absl::StatusOr<OutcomeTag> ParseOutcomeTag(std::string_view name);

// The reliable-change class of a change on the HoNOS total.
enum class ReliableChange { kImproved, kNoReliableChange, kDeteriorated };
std::string_view ReliableChangeName(ReliableChange c);  // "improved" | "no_reliable_change" | "deteriorated"
absl::StatusOr<ReliableChange> ParseReliableChange(std::string_view name);

struct ExpectedOutcome {
  std::set<int> clusters;
  std::vector<OutcomeTag> tags;
  // Which reliable-change classes of the total match the pattern (the file's `matches`): SOP Table 10
  // speaks of improvement, stability and deterioration, which the total's classes stand for
  // (improved, no reliable change, deteriorated).
  std::set<ReliableChange> matching_changes;
  std::string text;  // SOP Table 10 wording, in the file's words
  std::string rule_version;  // set on the copy ExpectedOutcomeFor returns
  bool Matches(ReliableChange c) const { return matching_changes.count(c) > 0; }
};

struct OutcomeModel {
  std::string version;
  MissingItemPolicy missing_policy = MissingItemPolicy::kStrict;
  std::vector<Factor> factors;  // Speak et al. four-factor model
  int cusp_rating = 2;          // rating 2: on the cusp
  int significant_rating = 3;   // ratings 3-4: clinically significant
  OutcomeThresholds standard{8, 11};
  OutcomeThresholds severe{7, 12};
  int remission_max = 5;         // total <= 5: remission
  // Clusters whose outcomes use the severe thresholds. Which cases are "severe" is not given by the
  // public sources, so it is a trust's choice in the file; none by default (everyone is standard).
  std::set<int> severe_clusters;
  std::vector<ExpectedOutcome> expected_outcomes;
};

// ---- functions ----

struct FactorScore {
  std::string id;
  std::string name;
  int score = 0;    // items rated 9 count 0
  int max = 0;
  int missing = 0;  // items of this factor rated 9
};
struct FactorScores {
  std::vector<FactorScore> factors;  // model order
  std::string rule_version;
};
FactorScores ComputeFactorScores(const OutcomeModel& model, const MhctRatings& r);
// The sum of the factor scores and of their maxima. Not the HoNOS total: an item in two factors (item
// 12 in the Speak model) counts twice, which is why SOP Table 9's printed "TOTALS 10 (48)" is 10 for a
// HoNOS total of 9 (and the maxima add to 52). Reported beside the total, named for what it is.
int FactorSum(const FactorScores& scores);
int FactorSumMax(const FactorScores& scores);

enum class ItemSignificance { kNotSignificant, kCusp, kSignificant, kNotKnown };
std::string_view ItemSignificanceName(ItemSignificance s);  // "not_significant" | "cusp" | "significant" | "not_known"
ItemSignificance ClassifyItemRating(const OutcomeModel& model, int rating);
std::array<ItemSignificance, kMhctItemCount> ClassifyItems(const OutcomeModel& model, const MhctRatings& r);

// A need the care plan should address: a HoNOS item rated from the cusp up (2-4; SOP: scores of 2-4
// guide interventions).
struct CarePlanNeed {
  int item = 0;                 // HoNOS item number 1-12
  std::string name;             // MhctItemName
  int rating = 0;
  ItemSignificance significance = ItemSignificance::kCusp;
  char problem_type = 0;        // item 8 only: its problem type 'A'..'J'
};
// The needs in item order.
std::vector<CarePlanNeed> CarePlanNeeds(const OutcomeModel& model, const MhctRatings& r);

OutcomePopulation PopulationForCluster(const OutcomeModel& model, int cluster);
const OutcomeThresholds& ThresholdsFor(const OutcomeModel& model, OutcomePopulation p);

// One rating on its own.
struct OutcomeSummary {
  HonosTotal total;
  FactorScores factors;
  std::array<ItemSignificance, kMhctItemCount> significance{};
  OutcomePopulation population = OutcomePopulation::kStandard;
  bool clinical_range = false;  // valid total >= the cut-off
  bool remission = false;       // valid total <= remission_max
  std::string rule_version;
};
// Uses the model's missing-item policy; `cluster` picks the population (severe or standard).
OutcomeSummary SummarizeRating(const OutcomeModel& model, const MhctRatings& r, int cluster);

// change = later - earlier; improved when change <= -threshold, deteriorated when change >= +threshold.
ReliableChange ClassifyReliableChange(int change, const OutcomeThresholds& t);

struct FactorChange {
  std::string id;
  int earlier = 0, later = 0, change = 0;  // change = later - earlier (negative = better)
  // No item of the factor rated 9 in either rating. Under a policy that allows missing items a
  // factor with one is scored as if it were 0, so its change is not a change: averages leave it out.
  bool known = true;
};
// One HoNOS item's change; `known` only when both ratings rate it 0-4.
struct ItemChange {
  int item = 0;  // 1-12
  int earlier = 0, later = 0, change = 0;
  bool known = false;
};
struct OutcomeChange {
  int earlier_total = 0, later_total = 0;
  int total_change = 0;  // later - earlier; negative = fewer problems
  std::vector<FactorChange> factors;
  std::array<ItemChange, kHonosItemCount> items{};
  OutcomePopulation population = OutcomePopulation::kStandard;
  int reliable_change_threshold = 0;  // the population's, as used
  int clinical_cutoff = 0;
  ReliableChange reliable_change = ReliableChange::kNoReliableChange;
  bool earlier_clinical = false, later_clinical = false;
  bool later_remission = false;
  // reliably improved and moved from the clinical range to below the cut-off
  bool clinically_significant_improvement = false;
  std::string rule_version;
};
// FailedPrecondition when either total is not valid under the model's missing-item policy.
absl::StatusOr<OutcomeChange> CompareRatings(const OutcomeModel& model, const MhctRatings& earlier,
                                             const MhctRatings& later, OutcomePopulation population);

// The cluster's expected high-level outcome (SOP Table 10); NotFound when the model lists none (cluster 0).
absl::StatusOr<ExpectedOutcome> ExpectedOutcomeFor(const OutcomeModel& model, int cluster);

// One rating of a referral period, for pairing.
struct DatedRating {
  absl::CivilDay day;           // the clinical day of its MHCT
  MhctRatings ratings;
};
// NHS England's paired ratings for one referral period: the first valid rating (a valid HoNOS total
// under the model's missing-item policy) against the last valid one, paired only when the last is on a
// strictly later day than the first. `ratings` oldest first; the answer is their indices.
struct RatingPair {
  size_t first = 0;
  size_t last = 0;
};
std::optional<RatingPair> PairFirstAndLast(const OutcomeModel& model, const std::vector<DatedRating>& ratings);

// ---- summaries over many episodes ----

// What one episode (referral period) adds to a summary: counted when it has a valid rating; its
// change when it has a pair (first valid against last valid, PairFirstAndLast).
struct EpisodeContribution {
  bool paired = false;
  int total_change = 0;
  std::vector<std::optional<int>> factor_changes;  // model order; none when the factor's change is not known
  ReliableChange reliable_change = ReliableChange::kNoReliableChange;
  std::optional<bool> matches_expected;  // none when the cluster has no expected pattern (cluster 0)
};
// Sums that can be added to and taken from, so a summary is maintained as episodes change rather
// than recomputed by reading every person.
struct OutcomeTally {
  int64_t episodes = 0;           // episodes with at least one valid rating
  int64_t paired = 0;             // of which with a pair
  int64_t total_change_sum = 0;   // over paired episodes
  std::vector<int64_t> factor_change_sum;    // model order, over paired episodes whose factor change is known
  std::vector<int64_t> factor_change_count;
  int64_t improved = 0, no_reliable_change = 0, deteriorated = 0;
  int64_t with_expected = 0;      // paired episodes whose cluster has an expected pattern
  int64_t matching_expected = 0;
  bool empty() const { return episodes == 0; }
};
// Adds (sign +1) or takes away (sign -1) one episode. `factor_count` sizes the per-factor sums.
void AddToTally(OutcomeTally& tally, const EpisodeContribution& e, int sign, size_t factor_count);
void AddTally(OutcomeTally& into, const OutcomeTally& from);
// A tally's figures: means over the paired episodes (a negative change is fewer problems), shares
// of them in each class, the share matching the expected pattern of those that have one. A figure
// with nothing to average is none.
struct OutcomeFigures {
  std::optional<double> mean_total_change;
  std::vector<std::optional<double>> mean_factor_change;
  std::optional<double> share_improved, share_no_reliable_change, share_deteriorated;
  std::optional<double> share_matching_expected;
};
OutcomeFigures FiguresOf(const OutcomeTally& tally);

}  // namespace care
