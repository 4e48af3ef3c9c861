#include "projections/episode_outcomes/outcome_view.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "platform/events.h"
#include "platform/quote.h"

namespace pbr::outcomes {
namespace {

pbr::v1::OutcomePopulation PopulationOf(care::OutcomePopulation p) {
  return p == care::OutcomePopulation::kSevere ? pbr::v1::OUTCOME_POPULATION_SEVERE
                                               : pbr::v1::OUTCOME_POPULATION_STANDARD;
}

// One assessment's measures on their own (no change yet).
pbr::v1::OutcomeEntry MeasuresOf(const care::RuleSet& rules, const ledger::Assessment& a,
                                 const care::MhctRatings& r, absl::string_view referral_id) {
  const care::OutcomeModel& model = rules.outcomes();
  const care::OutcomeSummary s = care::SummarizeRating(model, r, a.cluster);
  pbr::v1::OutcomeEntry e;
  e.set_assessment_id(a.id);
  *e.mutable_assessed_at() = platform::ToProto(a.assessed_at);
  e.set_cluster(a.cluster);
  e.set_honos_total(s.total.total);
  e.set_missing_items(s.total.missing_items);
  e.set_total_valid(s.total.valid);
  e.set_missing_item_policy(std::string(care::MissingItemPolicyName(model.missing_policy)));
  for (const care::FactorScore& f : s.factors.factors) {
    auto* out = e.add_factors();
    out->set_id(f.id);
    out->set_name(f.name);
    out->set_score(f.score);
    out->set_max(f.max);
    out->set_missing_items(f.missing);
  }
  e.set_factor_sum(care::FactorSum(s.factors));
  e.set_factor_sum_max(care::FactorSumMax(s.factors));
  for (int i = 0; i < care::kHonosItemCount; ++i) {
    auto* item = e.add_items();
    item->set_item(i + 1);
    item->set_name(care::MhctItemName(i));
    item->set_rating(r.items[i]);
    item->set_significance(ItemSignificanceOf(s.significance[i]));
  }
  for (const care::CarePlanNeed& n : care::CarePlanNeeds(model, r)) {
    auto* out = e.add_care_plan_needs();
    out->set_item(n.item);
    out->set_name(n.name);
    out->set_rating(n.rating);
    out->set_significance(ItemSignificanceOf(n.significance));
    if (n.problem_type != 0) out->set_problem_type(std::string(1, n.problem_type));
  }
  e.set_population(PopulationOf(s.population));
  e.set_clinical_cutoff(care::ThresholdsFor(model, s.population).clinical_cutoff);
  e.set_clinical_range(s.clinical_range);
  e.set_remission(s.remission);
  e.set_referral_id(std::string(referral_id));
  e.set_team_id(a.team_id);
  e.set_commissioner_id(a.commissioner_id);
  e.set_rule_version(rules.version());
  return e;
}

// The later rating against an earlier one; both valid (the caller checked). The population and the
// expected pattern are the earlier rating's cluster's: the care the change measures.
pbr::v1::RatingChange ChangeOf(const care::RuleSet& rules, const ledger::Assessment& earlier,
                               const care::MhctRatings& earlier_ratings, const care::MhctRatings& later_ratings) {
  const care::OutcomeModel& model = rules.outcomes();
  const care::OutcomePopulation population = care::PopulationForCluster(model, earlier.cluster);
  pbr::v1::RatingChange out;
  auto c = care::CompareRatings(model, earlier_ratings, later_ratings, population);
  if (!c.ok()) return out;  // not reached: both totals are valid
  out.set_earlier_assessment_id(earlier.id);
  *out.mutable_earlier_assessed_at() = platform::ToProto(earlier.assessed_at);
  out.set_earlier_total(c->earlier_total);
  out.set_later_total(c->later_total);
  out.set_total_change(c->total_change);
  for (const care::FactorChange& f : c->factors) {
    auto* fc = out.add_factors();
    fc->set_id(f.id);
    fc->set_earlier(f.earlier);
    fc->set_later(f.later);
    fc->set_change(f.change);
    fc->set_known(f.known);
  }
  for (const care::ItemChange& i : c->items) {
    auto* ic = out.add_items();
    ic->set_item(i.item);
    ic->set_earlier(i.earlier);
    ic->set_later(i.later);
    ic->set_change(i.change);
    ic->set_known(i.known);
  }
  out.set_population(PopulationOf(population));
  out.set_reliable_change_threshold(c->reliable_change_threshold);
  out.set_reliable_change(ReliableChangeOf(c->reliable_change));
  out.set_clinical_cutoff(c->clinical_cutoff);
  out.set_earlier_clinical(c->earlier_clinical);
  out.set_later_clinical(c->later_clinical);
  out.set_later_remission(c->later_remission);
  out.set_clinically_significant_improvement(c->clinically_significant_improvement);
  out.set_expected_cluster(earlier.cluster);
  auto pattern = care::ExpectedOutcomeFor(model, earlier.cluster);
  if (!pattern.ok()) {
    out.set_expected(pbr::v1::EXPECTED_OUTCOME_NO_PATTERN);
  } else {
    out.set_expected(pattern->Matches(c->reliable_change) ? pbr::v1::EXPECTED_OUTCOME_MATCHES
                                                          : pbr::v1::EXPECTED_OUTCOME_DOES_NOT_MATCH);
    out.set_expected_outcome(pattern->text);
  }
  return out;
}

}  // namespace

pbr::v1::ReliableChange ReliableChangeOf(care::ReliableChange c) {
  switch (c) {
    case care::ReliableChange::kImproved: return pbr::v1::RELIABLE_CHANGE_IMPROVED;
    case care::ReliableChange::kNoReliableChange: return pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE;
    case care::ReliableChange::kDeteriorated: return pbr::v1::RELIABLE_CHANGE_DETERIORATED;
  }
  return pbr::v1::RELIABLE_CHANGE_UNSPECIFIED;
}

pbr::v1::ItemSignificance ItemSignificanceOf(care::ItemSignificance s) {
  switch (s) {
    case care::ItemSignificance::kNotSignificant: return pbr::v1::ITEM_NOT_SIGNIFICANT;
    case care::ItemSignificance::kCusp: return pbr::v1::ITEM_ON_THE_CUSP;
    case care::ItemSignificance::kSignificant: return pbr::v1::ITEM_SIGNIFICANT;
    case care::ItemSignificance::kNotKnown: return pbr::v1::ITEM_NOT_KNOWN;
  }
  return pbr::v1::ITEM_SIGNIFICANCE_UNSPECIFIED;
}

absl::StatusOr<pbr::v1::PersonOutcomes> DeriveOutcomes(const care::RuleSet& rules, absl::string_view person_id,
                                                      const ledger::PersonFacts& facts, const RatingsById& ratings) {
  const ledger::CareRecord record = ledger::Derive(person_id, facts);
  pbr::v1::PersonOutcomes out;
  out.set_person_id(std::string(person_id));
  out.set_rule_version(rules.version());

  // The live assessments of each referral period, in the ledger's order.
  const std::vector<const ledger::Assessment*> live = facts.LiveAssessments();
  std::map<std::string, std::vector<const ledger::Assessment*>> by_referral;
  for (const ledger::Assessment* a : live) {
    auto it = record.referral_of.find(a->id);
    if (it == record.referral_of.end()) {
      return absl::InternalError(absl::StrCat("assessment ", platform::Quote(a->id), " has no referral period"));
    }
    if (!ratings.count(a->id)) {
      return absl::DataLossError(absl::StrCat("the ratings of assessment ", platform::Quote(a->id), " are not stored"));
    }
    by_referral[it->second].push_back(a);
  }

  // Entries per referral, then merged back into the ledger's order across periods.
  std::map<std::string, pbr::v1::OutcomeEntry> entries;
  for (const ledger::ReferralPeriod& referral : record.referrals) {
    auto found = by_referral.find(referral.id);
    if (found == by_referral.end()) continue;
    const std::vector<const ledger::Assessment*>& assessments = found->second;
    pbr::v1::EpisodeOutcome& episode = *out.add_episodes();
    episode.set_referral_id(referral.id);
    *episode.mutable_opened_at() = platform::ToProto(referral.opened_at);
    if (referral.closed_at.has_value()) *episode.mutable_closed_at() = platform::ToProto(*referral.closed_at);
    episode.set_ratings(static_cast<int32_t>(assessments.size()));

    const ledger::Assessment* first = nullptr;
    const ledger::Assessment* previous = nullptr;  // the previous valid rating; after the loop, the last
    std::vector<care::DatedRating> dated;
    for (const ledger::Assessment* a : assessments) {
      const care::MhctRatings& r = ratings.at(a->id);
      pbr::v1::OutcomeEntry e = MeasuresOf(rules, *a, r, referral.id);
      dated.push_back({platform::ClinicalDay(a->assessed_at), r});
      if (e.total_valid()) {
        if (previous != nullptr) *e.mutable_since_previous() = ChangeOf(rules, *previous, ratings.at(previous->id), r);
        if (first != nullptr && platform::ClinicalDay(first->assessed_at) < platform::ClinicalDay(a->assessed_at)) {
          *e.mutable_since_first() = ChangeOf(rules, *first, ratings.at(first->id), r);
        }
        if (first == nullptr) first = a;
        previous = a;
        episode.set_valid_ratings(episode.valid_ratings() + 1);
      }
      entries.emplace(a->id, std::move(e));
    }
    if (first == nullptr) continue;  // no valid rating: counted nowhere
    const ledger::Assessment* last = previous;
    episode.set_first_assessment_id(first->id);
    episode.set_last_assessment_id(last->id);
    // The pair by the rules library's own pairing rule; it is the last valid rating's since_first.
    if (care::PairFirstAndLast(rules.outcomes(), dated).has_value()) {
      episode.set_paired(true);
      *episode.mutable_change() = entries.at(last->id).since_first();
    }
    episode.set_team_id(first->team_id);
    episode.set_cluster(first->cluster);
    episode.set_commissioner_id(first->commissioner_id);
    const care::ClusterInfo* info = rules.FindCluster(first->cluster);
    episode.set_super_class(std::string(care::SuperClassCode(info != nullptr ? info->super_class : care::SuperClass::kVariance)));
    *episode.mutable_counted_on() = platform::ToProto(platform::ClinicalDay(last->assessed_at));
  }
  for (const ledger::Assessment* a : live) {
    auto it = entries.find(a->id);
    if (it != entries.end()) *out.add_outcomes() = std::move(it->second);
  }
  return out;
}


}  // namespace pbr::outcomes
