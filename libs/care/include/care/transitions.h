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

// History facts that trigger the step-up rule (11 -> 12-15; 12/13 improving stay on 12/13).
enum class HistoryTrigger { kCrhtReferral, kAdmission, kMhaAssessment, kMedicationNonConcordance };
// "crht_referral" | "admission" | "mha_assessment" | "medication_non_concordance"
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

// Clusters never used at a first presentation or on the acute pathway (cluster 11).
struct ClusterRestriction {
  int cluster = 0;
  bool not_at_first_presentation = false;
  bool not_on_acute_pathway = false;
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

// From one of `from` (14, 15) a move to one of `to` (16, 17) is expected only back to the cluster the person
// was on immediately before `from`.
struct PriorClusterRule {
  std::set<int> from;
  std::set<int> to;
  std::string text;
};

// Guidance shown with a decision but not enforced (e.g. "organic clusters generally only move up").
struct TransitionAdvisory {
  std::set<int> clusters;  // applies when the from-cluster is one of these
  std::string text;
};

struct TransitionRules {
  std::string version;
  std::map<int, TransitionRow> rows;  // one per valid cluster
  std::vector<TimeOnClusterRule> time_on_cluster;
  std::vector<ClusterRestriction> restrictions;
  std::vector<StepUpRule> step_up;
  std::vector<PriorClusterRule> prior_cluster;
  std::vector<TransitionAdvisory> advisories;
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
  std::vector<HistoryEvent> history;  // CRHT referrals, admissions, MHA assessments, non-concordance
};

enum class Adherence { kAdherent, kNonAdherent };

struct TransitionDecision {
  Adherence adherence = Adherence::kNonAdherent;
  bool adherent() const { return adherence == Adherence::kAdherent; }
  std::set<int> expected;        // the clusters the protocol expects for this review
  std::string reason;            // why, in words a clinician reads
  std::vector<std::string> applied_rules;  // the conditions that shaped `expected`
  std::vector<std::string> advisories;     // guidance that applies but is not enforced
  bool rationale_required() const { return !adherent(); }
  std::string rule_version;
};

// InvalidArgument for invalid cluster ids; NotFound when the table has no row for from_cluster.
absl::StatusOr<TransitionDecision> CheckTransition(const TransitionRules& rules,
                                                   const TransitionQuery& query);

// Restrictions alone (e.g. an initial allocation to cluster 11 at first presentation). Empty when none apply;
// otherwise the reason the cluster may not be used.
std::string ClusterRestrictionProblem(const TransitionRules& rules, int cluster,
                                      bool first_presentation, bool acute_pathway);

}  // namespace care
