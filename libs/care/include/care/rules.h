// The loaded, validated, immutable rule set: every rule in the domain reference (sections 1-8) as data.
// Services decide through this class (or the pure functions in the per-concept headers it includes);
// every decision carries the version of the rules it used.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "care/catalogue.h"
#include "care/kpi.h"
#include "care/mhct.h"
#include "care/outcomes.h"
#include "care/period.h"
#include "care/profiles.h"
#include "care/review_triggers.h"
#include "care/service_areas.h"
#include "care/tariff.h"
#include "care/teams.h"
#include "care/transitions.h"

namespace care {

// Everything a rule set holds, as plain data (one member per rule file).
struct RuleData {
  std::string manifest_version;
  ClusterCatalogue catalogue;
  ReviewPeriods review_periods;
  ServiceAreas service_areas;
  TransitionRules transitions;
  ProfileSet profiles;
  OutcomeModel outcomes;
  KpiSettings kpis;
  std::vector<PriceList> price_lists;
  Teams teams;
};

// Checks that the parts agree: every valid cluster catalogued, given a review period under both policies, a
// transition row and a profile; the outcome model's items in range; KPI targets for KPI1-13 and ACC37;
// no two price lists for the same commissioner and year; every team in a known service area, with a
// commissioner. Reports every problem, separated by "\n".
absl::Status ValidateRuleData(const RuleData& data);

// Immutable once loaded: safe to share between threads; copies are cheap (they share the data).
class RuleSet {
 public:
  // Reads <dir>/manifest.yaml and the files it names. Every file is validated; the error lists every
  // problem found, one per line, as "<file>:<line>:<column>: <field>: <problem>".
  static absl::StatusOr<RuleSet> LoadFromDirectory(const std::string& dir);
  // Same, from in-memory files keyed by path relative to the rules directory ("manifest.yaml", ...).
  static absl::StatusOr<RuleSet> LoadFromFiles(const std::map<std::string, std::string>& files);
  // From data built in code (tests). `content_digest` feeds the version id; empty: derived from the versions.
  // `care_digest` likewise feeds the care version (empty: derived from the versions of every file but the prices).
  static absl::StatusOr<RuleSet> FromData(RuleData data, std::string_view content_digest = "",
                                          std::string_view care_digest = "");

  // Combined version id, "<manifest version>#<8 hex digits of a digest of every loaded file>": it changes when
  // any file's content changes, even if its declared version does not.
  const std::string& version() const { return version_; }
  // The same without the price lists, "<manifest version>#<digest>": what care is derived with (caseloads, KPIs,
  // national measures), so a new or replaced price list changes what is billed but nothing else.
  const std::string& care_version() const { return care_version_; }
  // Declared version of each part: "manifest", "clusters", "review_periods", "service_areas",
  // "transitions", "scoring_profiles", "outcomes", "kpis", "teams", "prices/<commissioner>/<year>".
  const std::map<std::string, std::string>& file_versions() const { return file_versions_; }

  const RuleData& data() const { return *data_; }
  const ClusterCatalogue& catalogue() const { return data_->catalogue; }
  const ReviewPeriods& review_periods() const { return data_->review_periods; }
  const ServiceAreas& service_areas() const { return data_->service_areas; }
  const TransitionRules& transitions() const { return data_->transitions; }
  const ProfileSet& profiles() const { return data_->profiles; }
  const OutcomeModel& outcomes() const { return data_->outcomes; }
  const KpiSettings& kpis() const { return data_->kpis; }
  const std::vector<PriceList>& price_lists() const { return data_->price_lists; }
  // The team registry (reference data: service area, default commissioner, memory assessment service).
  const Teams& teams() const { return data_->teams; }

  // --- catalogue and review periods ---
  const ClusterInfo* FindCluster(int cluster) const { return data_->catalogue.Find(cluster); }
  ReviewPolicy default_review_policy() const { return data_->review_periods.default_policy; }
  absl::StatusOr<Period> ReviewPeriodFor(int cluster, ReviewPolicy policy) const;
  absl::StatusOr<ReviewDue> ReviewDueDate(int cluster, absl::CivilDay latest_mhct, ReviewPolicy policy) const;
  absl::StatusOr<ReviewDue> ReviewDueDate(int cluster, absl::CivilDay latest_mhct) const;  // default policy

  // --- allocation ---
  absl::StatusOr<ServiceAreaDecision> CheckServiceArea(std::string_view area_id, int cluster) const;
  absl::StatusOr<TransitionDecision> CheckTransition(const TransitionQuery& query) const;
  absl::StatusOr<SuggestionResult> SuggestClusters(const MhctRatings& ratings) const;
  absl::StatusOr<RedRulesDecision> CheckRedRules(int cluster, const MhctRatings& ratings) const;

  // --- outcomes (the configured missing-item policy) ---
  HonosTotal HonosTotalOf(const MhctRatings& ratings) const;
  OutcomeSummary SummarizeRating(const MhctRatings& ratings, int cluster) const;
  // Population (severe or standard) from the cluster the person is on.
  absl::StatusOr<OutcomeChange> CompareRatings(const MhctRatings& earlier, const MhctRatings& later,
                                               int cluster) const;
  absl::StatusOr<ExpectedOutcome> ExpectedOutcomeFor(int cluster) const;

  // --- tariff ---
  // The commissioner's price list for the financial year containing `day`; nullptr when none.
  const PriceList* FindPriceList(std::string_view commissioner, absl::CivilDay day) const;
  absl::StatusOr<ActivityLine> ComputeActivity(std::string_view commissioner, const ClusterEpisode& episode,
                                               absl::CivilDay from, absl::CivilDay to) const;

 private:
  RuleSet() = default;
  std::shared_ptr<const RuleData> data_;
  std::string version_;
  std::string care_version_;
  std::map<std::string, std::string> file_versions_;
};

}  // namespace care
