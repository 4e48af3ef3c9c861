// Parsers for the individual rule files (YAML). Used by RuleSet::LoadFromDirectory and by the rulecheck tool.
// Every parser reports every problem it finds, one per line, as "<file>:<line>:<column>: <field>: <problem>"
// (InvalidArgument). File formats: rules/README.md.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "care/rules.h"

namespace care {

enum class RuleFileKind {
  kManifest, kClusters, kReviewPeriods, kServiceAreas, kTransitions, kScoringProfiles, kOutcomes, kKpis,
  kPriceList, kTeams
};
// The `kind:` value of each file: "manifest", "clusters", "review_periods", "service_areas", "transitions",
// "scoring_profiles", "outcomes", "kpis", "price_list", "teams".
std::string_view RuleFileKindName(RuleFileKind k);
absl::StatusOr<RuleFileKind> ParseRuleFileKind(std::string_view name);

// Reads the `kind:` field.
absl::StatusOr<RuleFileKind> DetectRuleFileKind(std::string_view yaml, std::string_view file_name);

struct Manifest {
  std::string version;
  std::string clusters, review_periods, service_areas, transitions, scoring_profiles, outcomes, kpis, teams;
  std::vector<std::string> price_lists;
};

absl::StatusOr<Manifest> ParseManifestFile(std::string_view yaml, std::string_view file_name);
absl::StatusOr<ClusterCatalogue> ParseClustersFile(std::string_view yaml, std::string_view file_name);
absl::StatusOr<ReviewPeriods> ParseReviewPeriodsFile(std::string_view yaml, std::string_view file_name);
absl::StatusOr<ServiceAreas> ParseServiceAreasFile(std::string_view yaml, std::string_view file_name);
absl::StatusOr<TransitionRules> ParseTransitionsFile(std::string_view yaml, std::string_view file_name);
absl::StatusOr<ProfileSet> ParseScoringProfilesFile(std::string_view yaml, std::string_view file_name);
absl::StatusOr<OutcomeModel> ParseOutcomesFile(std::string_view yaml, std::string_view file_name);
absl::StatusOr<KpiSettings> ParseKpiFile(std::string_view yaml, std::string_view file_name);
absl::StatusOr<PriceList> ParsePriceListFile(std::string_view yaml, std::string_view file_name);
// With `known_areas`, each team's service area must be one of them (the loader passes the rule set's);
// without, only its form is checked (a file validated on its own).
absl::StatusOr<Teams> ParseTeamsFile(std::string_view yaml, std::string_view file_name,
                                     const ServiceAreas* known_areas = nullptr);

// Detects the kind and runs the matching parser; OK when the file is valid on its own.
absl::Status ValidateRuleFile(std::string_view yaml, std::string_view file_name);

}  // namespace care
