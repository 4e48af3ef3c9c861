#include "care/rules.h"
#include "internal.h"

#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace care {

absl::Status ValidateRuleData(const RuleData& d) {
  std::vector<std::string> problems;
  for (int c = kMinCluster; c <= kMaxCluster; ++c) {
    if (!IsValidClusterId(c)) continue;
    if (!d.catalogue.Find(c)) problems.push_back(internal::Cat("clusters: cluster ", c, " is not catalogued"));
    if (!d.review_periods.sop.count(c)) {
      problems.push_back(internal::Cat("review_periods: no sop review period for cluster ", c));
    }
    if (!d.review_periods.national.count(c)) {
      problems.push_back(internal::Cat("review_periods: no national review period for cluster ", c));
    }
    if (!d.transitions.rows.count(c)) {
      problems.push_back(internal::Cat("transitions: no table row for cluster ", c));
    }
  }
  for (const auto& [id, info] : d.catalogue.clusters) {
    if (!IsValidClusterId(id) || info.id != id) {
      problems.push_back(internal::Cat("clusters: entry ", id, " is not a valid cluster"));
    }
  }
  if (absl::Status s = ValidateProfileSet(d.profiles); !s.ok()) {
    problems.push_back(internal::Cat("scoring_profiles: ", s.message()));
  }
  for (const Factor& f : d.outcomes.factors) {
    for (int i : f.items) {
      if (i < 0 || i >= kHonosItemCount) {
        problems.push_back(internal::Cat("outcomes: factor ", f.id, " uses item index ", i,
                                        " outside HoNOS items 1-12"));
      }
    }
  }
  for (int i = 1; i <= 13; ++i) {
    if (!d.kpis.kpis.count(internal::Cat("KPI", i))) {
      problems.push_back(internal::Cat("kpis: no target for KPI", i));
    }
  }
  if (!d.kpis.kpis.count("ACC37")) problems.push_back("kpis: no target for ACC37");
  std::set<std::pair<std::string, int>> seen;
  for (const PriceList& pl : d.price_lists) {
    if (!seen.insert({pl.commissioner, pl.year.start_year}).second) {
      problems.push_back(internal::Cat("price_lists: two price lists for commissioner ", pl.commissioner,
                                      " in ", pl.year.label));
    }
  }
  for (const auto& [id, team] : d.teams.teams) {
    if (team.id != id) problems.push_back(internal::Cat("teams: entry \"", id, "\" holds team \"", team.id, "\""));
    if (d.service_areas.Find(team.service_area) == nullptr) {
      problems.push_back(internal::Cat("teams: team \"", id, "\": service area \"", team.service_area,
                                      "\" is not in service_areas"));
    }
    if (team.default_commissioner.empty()) {
      problems.push_back(internal::Cat("teams: team \"", id, "\" has no default commissioner"));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

absl::StatusOr<RuleSet> RuleSet::FromData(RuleData data, std::string_view content_digest,
                                          std::string_view care_digest) {
  if (absl::Status s = ValidateRuleData(data); !s.ok()) return s;
  RuleSet rs;
  rs.file_versions_["manifest"] = data.manifest_version;
  rs.file_versions_["clusters"] = data.catalogue.version;
  rs.file_versions_["review_periods"] = data.review_periods.version;
  rs.file_versions_["service_areas"] = data.service_areas.version;
  rs.file_versions_["transitions"] = data.transitions.version;
  rs.file_versions_["scoring_profiles"] = data.profiles.version;
  rs.file_versions_["outcomes"] = data.outcomes.version;
  rs.file_versions_["kpis"] = data.kpis.version;
  rs.file_versions_["teams"] = data.teams.version;
  for (const PriceList& pl : data.price_lists) {
    rs.file_versions_[internal::Cat("prices/", pl.commissioner, "/", pl.year.label)] = pl.version;
  }
  std::string digest(content_digest);
  if (digest.empty()) {
    uint64_t h = 1469598103934665603ull;
    for (const auto& [k, v] : rs.file_versions_) h = internal::Fnv1a(internal::Fnv1a(h, k), v);
    digest = absl::StrFormat("%08x", static_cast<uint32_t>(h ^ (h >> 32)));
  }
  rs.version_ = internal::Cat(data.manifest_version, "#", digest);
  std::string care(care_digest);
  if (care.empty()) {
    uint64_t h = 1469598103934665603ull;
    for (const auto& [k, v] : rs.file_versions_) {
      if (!k.starts_with("prices/")) h = internal::Fnv1a(internal::Fnv1a(h, k), v);
    }
    if (!content_digest.empty()) h = internal::Fnv1a(h, content_digest);  // as the version, a given digest counts
    care = absl::StrFormat("%08x", static_cast<uint32_t>(h ^ (h >> 32)));
  }
  rs.care_version_ = internal::Cat(data.manifest_version, "#", care);
  rs.data_ = std::make_shared<const RuleData>(std::move(data));
  return rs;
}

absl::StatusOr<Period> RuleSet::ReviewPeriodFor(int cluster, ReviewPolicy policy) const {
  if (!IsValidClusterId(cluster)) {
    return absl::InvalidArgumentError(
        internal::Cat("cluster: ", cluster, " is not a valid cluster (0-21, never 9)"));
  }
  const auto& table = data_->review_periods.For(policy);
  auto it = table.find(cluster);
  if (it == table.end()) {
    return absl::NotFoundError(internal::Cat("cluster: no review period for cluster ", cluster));
  }
  return it->second;
}

absl::StatusOr<ReviewDue> RuleSet::ReviewDueDate(int cluster, absl::CivilDay latest_mhct,
                                                 ReviewPolicy policy) const {
  absl::StatusOr<ReviewDue> d = ComputeReviewDue(data_->review_periods, cluster, latest_mhct, policy);
  if (d.ok()) d->rule_version = version_;
  return d;
}

absl::StatusOr<ReviewDue> RuleSet::ReviewDueDate(int cluster, absl::CivilDay latest_mhct) const {
  return ReviewDueDate(cluster, latest_mhct, default_review_policy());
}

absl::StatusOr<ServiceAreaDecision> RuleSet::CheckServiceArea(std::string_view area_id, int cluster) const {
  auto d = care::CheckServiceArea(data_->service_areas, area_id, cluster);
  if (d.ok()) d->rule_version = version_;
  return d;
}

absl::StatusOr<TransitionDecision> RuleSet::CheckTransition(const TransitionQuery& query) const {
  auto d = care::CheckTransition(data_->transitions, query);
  if (d.ok()) d->rule_version = version_;
  return d;
}

absl::StatusOr<SuggestionResult> RuleSet::SuggestClusters(const MhctRatings& ratings) const {
  auto d = care::SuggestClusters(data_->profiles, ratings, &data_->catalogue);
  if (d.ok()) d->rule_version = version_;
  return d;
}

absl::StatusOr<RedRulesDecision> RuleSet::CheckRedRules(int cluster, const MhctRatings& ratings) const {
  auto d = care::CheckRedRules(data_->profiles, cluster, ratings);
  if (d.ok()) d->rule_version = version_;
  return d;
}

HonosTotal RuleSet::HonosTotalOf(const MhctRatings& ratings) const {
  return ComputeHonosTotal(ratings, data_->outcomes.missing_policy);
}

OutcomeSummary RuleSet::SummarizeRating(const MhctRatings& ratings, int cluster) const {
  OutcomeSummary s = care::SummarizeRating(data_->outcomes, ratings, cluster);
  s.rule_version = version_;
  s.factors.rule_version = version_;
  return s;
}

absl::StatusOr<OutcomeChange> RuleSet::CompareRatings(const MhctRatings& earlier, const MhctRatings& later,
                                                      int cluster) const {
  auto c = care::CompareRatings(data_->outcomes, earlier, later,
                                PopulationForCluster(data_->outcomes, cluster));
  if (c.ok()) c->rule_version = version_;
  return c;
}

absl::StatusOr<ExpectedOutcome> RuleSet::ExpectedOutcomeFor(int cluster) const {
  auto e = care::ExpectedOutcomeFor(data_->outcomes, cluster);
  if (e.ok()) e->rule_version = version_;
  return e;
}

const PriceList* RuleSet::FindPriceList(std::string_view commissioner, absl::CivilDay day) const {
  for (const PriceList& pl : data_->price_lists) {
    if (pl.commissioner == commissioner && day >= pl.year.starts && day <= pl.year.ends) return &pl;
  }
  return nullptr;
}

absl::StatusOr<ActivityLine> RuleSet::ComputeActivity(std::string_view commissioner,
                                                      const ClusterEpisode& episode, absl::CivilDay from,
                                                      absl::CivilDay to) const {
  if (FinancialYearOf(from).start_year != FinancialYearOf(to).start_year) {
    return absl::InvalidArgumentError(internal::Cat("period: ", absl::FormatCivilTime(from), " to ",
                                                    absl::FormatCivilTime(to),
                                                    " spans two financial years; split it at 1 April"));
  }
  const PriceList* pl = FindPriceList(commissioner, from);
  if (pl == nullptr) {
    return absl::NotFoundError(internal::Cat("price list: none for commissioner ", commissioner, " in ",
                                            FinancialYearOf(from).label));
  }
  auto line = care::ComputeActivity(*pl, data_->review_periods, episode, from, to);
  if (line.ok()) line->rule_version = version_;
  return line;
}

}  // namespace care
