#include "care/outcomes.h"
#include "internal.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace care {

absl::StatusOr<MissingItemPolicy> ParseMissingItemPolicy(std::string_view name) {
  std::string n = internal::Lower(internal::Strip(name));
  if (n == "strict") return MissingItemPolicy::kStrict;
  if (n == "allow_up_to_1") return MissingItemPolicy::kAllowUpToOne;
  if (n == "allow_up_to_2") return MissingItemPolicy::kAllowUpToTwo;
  if (n == "allow_up_to_3") return MissingItemPolicy::kAllowUpToThree;
  if (n == "at_least_9_of_12") return MissingItemPolicy::kAtLeastNineOfTwelve;
  return absl::InvalidArgumentError(internal::Cat(
      "missing-item policy \"", name,
      "\" is not strict, allow_up_to_1, allow_up_to_2, allow_up_to_3 or at_least_9_of_12"));
}

std::string_view MissingItemPolicyName(MissingItemPolicy p) {
  switch (p) {
    case MissingItemPolicy::kStrict: return "strict";
    case MissingItemPolicy::kAllowUpToOne: return "allow_up_to_1";
    case MissingItemPolicy::kAllowUpToTwo: return "allow_up_to_2";
    case MissingItemPolicy::kAllowUpToThree: return "allow_up_to_3";
    case MissingItemPolicy::kAtLeastNineOfTwelve: return "at_least_9_of_12";
  }
  return "?";
}

int MaxMissingItems(MissingItemPolicy p) {
  switch (p) {
    case MissingItemPolicy::kStrict: return 0;
    case MissingItemPolicy::kAllowUpToOne: return 1;
    case MissingItemPolicy::kAllowUpToTwo: return 2;
    case MissingItemPolicy::kAllowUpToThree: return 3;
    case MissingItemPolicy::kAtLeastNineOfTwelve: return kHonosItemCount - 9;
  }
  return 0;
}

HonosTotal ComputeHonosTotal(const MhctRatings& r, MissingItemPolicy policy) {
  HonosTotal t;
  bool out_of_range = false;
  for (int i = 0; i < kHonosItemCount; ++i) {
    const int v = r.items[i];
    if (v == kNotKnown) {
      ++t.missing_items;
    } else if (v >= 0 && v <= kMaxRating) {
      t.total += v;
    } else {
      out_of_range = true;
    }
  }
  t.valid = !out_of_range && t.missing_items <= MaxMissingItems(policy);
  return t;
}

std::string_view OutcomeTagName(OutcomeTag t) {
  switch (t) {
    case OutcomeTag::kImprovement: return "improvement";
    case OutcomeTag::kStability: return "stability";
    case OutcomeTag::kDischarge: return "discharge";
    case OutcomeTag::kMinimalStepUp: return "minimal_step_up";
    case OutcomeTag::kDeterioration: return "deterioration";
    case OutcomeTag::kStepUp: return "step_up";
    case OutcomeTag::kCognitiveDecline: return "cognitive_decline";
  }
  return "?";
}

absl::StatusOr<OutcomeTag> ParseOutcomeTag(std::string_view name) {
  for (OutcomeTag t : {OutcomeTag::kImprovement, OutcomeTag::kStability, OutcomeTag::kDischarge,
                       OutcomeTag::kMinimalStepUp, OutcomeTag::kDeterioration, OutcomeTag::kStepUp,
                       OutcomeTag::kCognitiveDecline}) {
    if (OutcomeTagName(t) == name) return t;
  }
  return absl::InvalidArgumentError(internal::Cat(
      "outcome \"", name,
      "\" is not improvement, stability, discharge, minimal_step_up, deterioration, step_up or "
      "cognitive_decline"));
}

FactorScores ComputeFactorScores(const OutcomeModel& model, const MhctRatings& r) {
  FactorScores out;
  out.rule_version = model.version;
  for (const Factor& f : model.factors) {
    FactorScore s{f.id, f.name, 0, f.max, 0};
    for (int i : f.items) {
      if (i < 0 || i >= kMhctItemCount) continue;
      const int v = r.items[i];
      if (v >= 0 && v <= kMaxRating) s.score += v;
      else ++s.missing;
    }
    out.factors.push_back(std::move(s));
  }
  return out;
}

std::string_view ItemSignificanceName(ItemSignificance s) {
  switch (s) {
    case ItemSignificance::kNotSignificant: return "not_significant";
    case ItemSignificance::kCusp: return "cusp";
    case ItemSignificance::kSignificant: return "significant";
    case ItemSignificance::kNotKnown: return "not_known";
  }
  return "?";
}

int FactorSum(const FactorScores& scores) {
  int sum = 0;
  for (const auto& f : scores.factors) sum += f.score;
  return sum;
}

int FactorSumMax(const FactorScores& scores) {
  int sum = 0;
  for (const auto& f : scores.factors) sum += f.max;
  return sum;
}

std::vector<CarePlanNeed> CarePlanNeeds(const OutcomeModel& model, const MhctRatings& r) {
  std::vector<CarePlanNeed> out;
  for (int i = 0; i < kHonosItemCount; ++i) {
    const ItemSignificance s = ClassifyItemRating(model, r.items[i]);
    if (s != ItemSignificance::kCusp && s != ItemSignificance::kSignificant) continue;
    CarePlanNeed& need = out.emplace_back();
    need.item = i + 1;
    need.name = MhctItemName(i);
    need.rating = r.items[i];
    need.significance = s;
    if (i == 7) need.problem_type = r.item8_problem_type;  // item 8: which other problem
  }
  return out;
}

std::optional<RatingPair> PairFirstAndLast(const OutcomeModel& model, const std::vector<DatedRating>& ratings) {
  std::optional<size_t> first, last;
  for (size_t i = 0; i < ratings.size(); ++i) {
    if (!ComputeHonosTotal(ratings[i].ratings, model.missing_policy).valid) continue;
    if (!first.has_value()) first = i;
    last = i;
  }
  if (!first.has_value() || ratings[*last].day <= ratings[*first].day) return std::nullopt;
  return RatingPair{*first, *last};
}

ItemSignificance ClassifyItemRating(const OutcomeModel& model, int rating) {
  if (rating < 0 || rating > kMaxRating) return ItemSignificance::kNotKnown;
  if (rating >= model.significant_rating) return ItemSignificance::kSignificant;
  if (rating >= model.cusp_rating) return ItemSignificance::kCusp;
  return ItemSignificance::kNotSignificant;
}

std::array<ItemSignificance, kMhctItemCount> ClassifyItems(const OutcomeModel& model,
                                                          const MhctRatings& r) {
  std::array<ItemSignificance, kMhctItemCount> out{};
  for (int i = 0; i < kMhctItemCount; ++i) out[i] = ClassifyItemRating(model, r.items[i]);
  return out;
}

OutcomePopulation PopulationForCluster(const OutcomeModel& model, int cluster) {
  return model.severe_clusters.count(cluster) ? OutcomePopulation::kSevere
                                              : OutcomePopulation::kStandard;
}

const OutcomeThresholds& ThresholdsFor(const OutcomeModel& model, OutcomePopulation p) {
  return p == OutcomePopulation::kSevere ? model.severe : model.standard;
}

OutcomeSummary SummarizeRating(const OutcomeModel& model, const MhctRatings& r, int cluster) {
  OutcomeSummary s;
  s.rule_version = model.version;
  s.total = ComputeHonosTotal(r, model.missing_policy);
  s.factors = ComputeFactorScores(model, r);
  s.significance = ClassifyItems(model, r);
  s.population = PopulationForCluster(model, cluster);
  if (s.total.valid) {
    s.clinical_range = s.total.total >= ThresholdsFor(model, s.population).clinical_cutoff;
    s.remission = s.total.total <= model.remission_max;
  }
  return s;
}

std::string_view ReliableChangeName(ReliableChange c) {
  switch (c) {
    case ReliableChange::kImproved: return "improved";
    case ReliableChange::kNoReliableChange: return "no_reliable_change";
    case ReliableChange::kDeteriorated: return "deteriorated";
  }
  return "?";
}

absl::StatusOr<ReliableChange> ParseReliableChange(std::string_view name) {
  for (ReliableChange c : {ReliableChange::kImproved, ReliableChange::kNoReliableChange, ReliableChange::kDeteriorated}) {
    if (ReliableChangeName(c) == name) return c;
  }
  return absl::InvalidArgumentError(
      internal::Cat("change \"", name, "\" is not improved, no_reliable_change or deteriorated"));
}

ReliableChange ClassifyReliableChange(int change, const OutcomeThresholds& t) {
  if (change <= -t.reliable_change) return ReliableChange::kImproved;
  if (change >= t.reliable_change) return ReliableChange::kDeteriorated;
  return ReliableChange::kNoReliableChange;
}

absl::StatusOr<OutcomeChange> CompareRatings(const OutcomeModel& model, const MhctRatings& earlier,
                                             const MhctRatings& later, OutcomePopulation population) {
  const HonosTotal a = ComputeHonosTotal(earlier, model.missing_policy);
  const HonosTotal b = ComputeHonosTotal(later, model.missing_policy);
  if (!a.valid || !b.valid) {
    return absl::FailedPreconditionError(internal::Cat(
        !a.valid ? "earlier" : "later", ": HoNOS total is not valid (", (!a.valid ? a : b).missing_items,
        " missing items; policy ", MissingItemPolicyName(model.missing_policy), ")"));
  }
  OutcomeChange c;
  c.rule_version = model.version;
  c.population = population;
  c.earlier_total = a.total;
  c.later_total = b.total;
  c.total_change = b.total - a.total;
  const FactorScores fa = ComputeFactorScores(model, earlier);
  const FactorScores fb = ComputeFactorScores(model, later);
  for (size_t i = 0; i < fa.factors.size(); ++i) {
    c.factors.push_back({fa.factors[i].id, fa.factors[i].score, fb.factors[i].score,
                         fb.factors[i].score - fa.factors[i].score,
                         fa.factors[i].missing == 0 && fb.factors[i].missing == 0});
  }
  for (int i = 0; i < kHonosItemCount; ++i) {
    ItemChange& ic = c.items[i];
    ic.item = i + 1;
    ic.earlier = earlier.items[i];
    ic.later = later.items[i];
    ic.known = ic.earlier >= 0 && ic.earlier <= kMaxRating && ic.later >= 0 && ic.later <= kMaxRating;
    ic.change = ic.known ? ic.later - ic.earlier : 0;
  }
  const OutcomeThresholds& t = ThresholdsFor(model, population);
  c.reliable_change_threshold = t.reliable_change;
  c.clinical_cutoff = t.clinical_cutoff;
  c.reliable_change = ClassifyReliableChange(c.total_change, t);
  c.earlier_clinical = a.total >= t.clinical_cutoff;
  c.later_clinical = b.total >= t.clinical_cutoff;
  c.later_remission = b.total <= model.remission_max;
  c.clinically_significant_improvement =
      c.reliable_change == ReliableChange::kImproved && c.earlier_clinical && !c.later_clinical;
  return c;
}

absl::StatusOr<ExpectedOutcome> ExpectedOutcomeFor(const OutcomeModel& model, int cluster) {
  for (const auto& e : model.expected_outcomes) {
    if (e.clusters.count(cluster)) {
      ExpectedOutcome out = e;
      out.rule_version = model.version;
      return out;
    }
  }
  return absl::NotFoundError(internal::Cat("cluster: no expected-outcome pattern for cluster ", cluster));
}

void AddToTally(OutcomeTally& tally, const EpisodeContribution& e, int sign, size_t factor_count) {
  tally.factor_change_sum.resize(std::max(tally.factor_change_sum.size(), factor_count));
  tally.factor_change_count.resize(tally.factor_change_sum.size());
  tally.episodes += sign;
  if (!e.paired) return;
  tally.paired += sign;
  tally.total_change_sum += sign * e.total_change;
  for (size_t i = 0; i < e.factor_changes.size() && i < tally.factor_change_sum.size(); ++i) {
    if (!e.factor_changes[i].has_value()) continue;
    tally.factor_change_sum[i] += sign * *e.factor_changes[i];
    tally.factor_change_count[i] += sign;
  }
  switch (e.reliable_change) {
    case ReliableChange::kImproved: tally.improved += sign; break;
    case ReliableChange::kNoReliableChange: tally.no_reliable_change += sign; break;
    case ReliableChange::kDeteriorated: tally.deteriorated += sign; break;
  }
  if (e.matches_expected.has_value()) {
    tally.with_expected += sign;
    if (*e.matches_expected) tally.matching_expected += sign;
  }
}

void AddTally(OutcomeTally& into, const OutcomeTally& from) {
  into.factor_change_sum.resize(std::max(into.factor_change_sum.size(), from.factor_change_sum.size()));
  into.factor_change_count.resize(into.factor_change_sum.size());
  into.episodes += from.episodes;
  into.paired += from.paired;
  into.total_change_sum += from.total_change_sum;
  for (size_t i = 0; i < from.factor_change_sum.size(); ++i) {
    into.factor_change_sum[i] += from.factor_change_sum[i];
    into.factor_change_count[i] += i < from.factor_change_count.size() ? from.factor_change_count[i] : 0;
  }
  into.improved += from.improved;
  into.no_reliable_change += from.no_reliable_change;
  into.deteriorated += from.deteriorated;
  into.with_expected += from.with_expected;
  into.matching_expected += from.matching_expected;
}

OutcomeFigures FiguresOf(const OutcomeTally& t) {
  OutcomeFigures f;
  auto ratio = [](int64_t n, int64_t d) -> std::optional<double> {
    if (d <= 0) return std::nullopt;
    return static_cast<double>(n) / static_cast<double>(d);
  };
  f.mean_total_change = ratio(t.total_change_sum, t.paired);
  for (size_t i = 0; i < t.factor_change_sum.size(); ++i) {
    f.mean_factor_change.push_back(
        ratio(t.factor_change_sum[i], i < t.factor_change_count.size() ? t.factor_change_count[i] : 0));
  }
  f.share_improved = ratio(t.improved, t.paired);
  f.share_no_reliable_change = ratio(t.no_reliable_change, t.paired);
  f.share_deteriorated = ratio(t.deteriorated, t.paired);
  f.share_matching_expected = ratio(t.matching_expected, t.with_expected);
  return f;
}

}  // namespace care
