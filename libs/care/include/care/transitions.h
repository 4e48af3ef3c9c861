// Transition protocols at review (SOP Table 12, reference section 3) and the conditions printed beside it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "care/period.h"

namespace care {

// How the clinician classes the change at a review.
enum class ChangeClass { kImprovement, kNoChange, kDeterioration, kChangeInDiagnosis };
inline constexpr int kChangeClassCount = 4;
// "improvement" | "no_change" | "deterioration" | "change_in_diagnosis"
std::string_view ChangeClassName(ChangeClass c);
absl::StatusOr<ChangeClass> ParseChangeClass(std::string_view name);

// History facts that trigger the acute-event rule (11 -> 12-15; 12 improving stays on 12; 13 on 13).
// A referral to inpatients counts by itself, whether or not an admission followed.
enum class HistoryTrigger {
  kCrhtReferral,
  kInpatientReferral,
  kAdmission,
  kMhaAssessment,
  kMedicationNonConcordance,
};
// "crht_referral" | "inpatient_referral" | "admission" | "mha_assessment" | "medication_non_concordance"
std::string_view HistoryTriggerName(HistoryTrigger t);
absl::StatusOr<HistoryTrigger> ParseHistoryTrigger(std::string_view name);

// ---- rule data ----

struct TransitionRow {
  int from = 0;
  std::set<int> expected[kChangeClassCount];  // indexed by ChangeClass; empty = no cluster expected ("-")
};

// After `after` on cluster `from`, the expected clusters for `change_classes` become `expected`
// (e.g. 12 months on 4 -> 5 or 6; 3 years on 5 -> 6 or 7; 3 years on 10 -> 11-17).
struct TimeOnClusterRule {
  int from = 0;
  Period after;
  std::set<ChangeClass> change_classes;
  std::set<int> expected;
  std::string text;
};

// Clusters never used at a first presentation, on the acute pathway (cluster 11) or for a patient returning to
// secondary mental health services (cluster 7).
struct ClusterRestriction {
  int cluster = 0;
  bool not_at_first_presentation = false;
  bool not_on_acute_pathway = false;
  bool not_for_returning_patient = false;
};

// When any trigger happened within `within` before the review, a person on one of `from` reviewed with one
// of `change_classes` must move to one of `expected`.
struct StepUpRule {
  std::set<int> from;
  Period within;
  std::set<HistoryTrigger> triggers;
  std::set<ChangeClass> change_classes;
  std::set<int> expected;
  std::string text;
};

// From 14/15 the SOP allows 16 or 17 again when the person was on one of them just before the crisis; it can be
// read as "either may follow" or "only the same one may follow".
enum class PriorClusterReading {
  kEither,  // "either": on any of `to` immediately before -> every one of `to` may follow
  kSame,    // "same": only the one of `to` the person was on
};
std::string_view PriorClusterReadingName(PriorClusterReading r);  // "either" | "same"
absl::StatusOr<PriorClusterReading> ParsePriorClusterReading(std::string_view name);

// From one of `from` (14, 15) a move to one of `to` (16, 17) is expected only when the person was on one of
// `to` immediately before `from` (which ones then follows `reading`).
struct PriorClusterRule {
  std::set<int> from;
  std::set<int> to;
  PriorClusterReading reading = PriorClusterReading::kEither;
  std::string text;
};

// Which moves an advisory looks at (besides its from-clusters and change classes).
enum class AdvisoryMove {
  kToOtherCluster,   // "to_other_cluster": the chosen cluster is not the from-cluster
  kToLowerNumbered,  // "to_lower_numbered": the chosen cluster has a lower number than the from-cluster
};
std::string_view AdvisoryMoveName(AdvisoryMove m);
absl::StatusOr<AdvisoryMove> ParseAdvisoryMove(std::string_view name);

// What an advisory checks once a move falls under it.
enum class AdvisoryTest {
  kTimeOnCluster,  // "time_on_cluster": met when the person has been on the from-cluster at least min_time
  kFlag,           // "flag": never met; the move itself is what the clinician must look at
};
std::string_view AdvisoryTestName(AdvisoryTest t);
absl::StatusOr<AdvisoryTest> ParseAdvisoryTest(std::string_view name);

// Guidance that never refuses a transition but is evaluated, shown and recorded with the decision
// (e.g. "psychosis clusters step down only after about 12 months of sustained recovery").
struct TransitionAdvisory {
  std::string id;                       // stable name, recorded with the decision
  std::set<int> clusters;               // from-clusters it concerns
  std::set<ChangeClass> change_classes; // the move falls under it only with one of these
  AdvisoryMove move = AdvisoryMove::kToOtherCluster;
  std::set<int> to_clusters;            // and only to one of these; empty = any cluster
  AdvisoryTest test = AdvisoryTest::kFlag;
  Period min_time_on_cluster;           // for kTimeOnCluster
  std::string text;
};

// One reading of an ambiguous Table 12 row: the cells it sets (the others stay as the table has them).
struct TableReading {
  std::string name;
  std::map<ChangeClass, std::set<int>> cells;
};

// A Table 12 row whose flattened SOP text can be read more than one way. The table carries `table_reading`;
// the loader replaces the row's cells with those of `chosen` when it names one of `alternatives`.
struct TableAmbiguity {
  std::string id;  // e.g. "row_4"
  int from = 0;
  std::string text;
  std::string table_reading;
  std::vector<TableReading> alternatives;
  std::string chosen;  // the reading applied to `rows`
};

struct TransitionRules {
  std::string version;
  std::map<int, TransitionRow> rows;  // one per valid cluster
  std::vector<TimeOnClusterRule> time_on_cluster;
  std::vector<ClusterRestriction> restrictions;
  std::vector<StepUpRule> step_up;
  std::vector<PriorClusterRule> prior_cluster;
  std::vector<TransitionAdvisory> advisories;
  std::vector<TableAmbiguity> ambiguities;  // already applied to `rows`
};

// ---- decision ----

struct HistoryEvent {
  HistoryTrigger kind = HistoryTrigger::kCrhtReferral;
  absl::CivilDay date;
};

struct TransitionQuery {
  int from_cluster = 0;
  int to_cluster = 0;
  ChangeClass change = ChangeClass::kNoChange;
  absl::CivilDay review_date;
  // First day on from_cluster (time-on-cluster rules). Unknown: those rules are not applied.
  std::optional<absl::CivilDay> from_cluster_start;
  // The cluster held immediately before from_cluster (for 14/15 -> 16/17).
  std::optional<int> cluster_before_from;
  bool first_presentation = false;  // first presentation to secondary care
  bool acute_pathway = false;       // the review is on the acute pathway (CRHT, inpatients)
  bool returning_patient = false;   // returning to secondary mental health services after a discharge
  // CRHT and inpatient referrals, admissions, MHA assessments, non-concordance.
  std::vector<HistoryEvent> history;
};

// An advisory evaluated for one review. Never changes adherence; shown to the clinician and recorded.
struct AdvisoryCheck {
  std::string id;
  std::string text;
  bool applies = false;  // the move falls under the advisory
  bool met = true;       // false only when it applies and its test fails (a flag always fails)
  bool passed() const { return met; }
  std::string reason;    // in words a clinician reads
};

enum class Adherence { kAdherent, kNonAdherent };

struct TransitionDecision {
  Adherence adherence = Adherence::kNonAdherent;
  bool adherent() const { return adherence == Adherence::kAdherent; }
  std::set<int> expected;        // the clusters the protocol expects for this review
  std::string reason;            // why, in words a clinician reads
  std::vector<std::string> applied_rules;  // the conditions that shaped `expected`
  std::vector<std::string> advisories;     // text of the advisories for the from-cluster
  // Every advisory for the from-cluster, evaluated for this move (applies, met, why).
  std::vector<AdvisoryCheck> advisory_checks;
  bool rationale_required() const { return !adherent(); }
  std::string rule_version;
};

// InvalidArgument for invalid cluster ids; NotFound when the table has no row for from_cluster.
absl::StatusOr<TransitionDecision> CheckTransition(const TransitionRules& rules,
                                                   const TransitionQuery& query);

// Restrictions alone (e.g. an initial allocation to cluster 11 at first presentation, or to cluster 7 for a
// returning patient). Empty when none apply; otherwise the reason the cluster may not be used.
std::string ClusterRestrictionProblem(const TransitionRules& rules, int cluster, bool first_presentation,
                                      bool acute_pathway, bool returning_patient);

}  // namespace care
