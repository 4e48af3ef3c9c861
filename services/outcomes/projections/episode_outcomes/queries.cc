#include "projections/episode_outcomes/queries.h"

#include "absl/strings/str_cat.h"
#include "field_rules.h"
#include "pbr/state/v1/outcomes_state.pb.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "projections/episode_outcomes/episode_outcomes.h"
#include "projections/episode_outcomes/tallies.h"

namespace pbr::outcomes {
namespace {

void Fill(const care::RuleSet& rules, const care::OutcomeTally& t, pbr::v1::OutcomeGroupSummary* out) {
  const care::OutcomeFigures f = care::FiguresOf(t);
  out->set_episodes(t.episodes);
  out->set_paired_episodes(t.paired);
  out->set_mean_total_change(f.mean_total_change.value_or(0));
  const auto& factors = rules.outcomes().factors;
  for (size_t i = 0; i < factors.size(); ++i) {
    auto* fm = out->add_factors();
    fm->set_id(factors[i].id);
    fm->set_name(factors[i].name);
    fm->set_episodes(i < t.factor_change_count.size() ? t.factor_change_count[i] : 0);
    fm->set_mean_change(i < f.mean_factor_change.size() ? f.mean_factor_change[i].value_or(0) : 0);
  }
  out->set_improved(t.improved);
  out->set_no_reliable_change(t.no_reliable_change);
  out->set_deteriorated(t.deteriorated);
  out->set_share_improved(f.share_improved.value_or(0));
  out->set_share_no_reliable_change(f.share_no_reliable_change.value_or(0));
  out->set_share_deteriorated(f.share_deteriorated.value_or(0));
  out->set_with_expected_pattern(t.with_expected);
  out->set_matching_expected(t.matching_expected);
  out->set_share_matching_expected(f.share_matching_expected.value_or(0));
}

}  // namespace

absl::StatusOr<pbr::v1::PersonOutcomes> PersonOutcomesOf(const platform::StoreReader& store, const care::RuleSet& rules,
                                                        absl::string_view person_id,
                                                        const pbr::v1::ConsumedShare& share) {
  auto stored = store.Get(kPeopleFamily, person_id);
  if (!stored.ok()) return stored.status();
  pbr::state::v1::OutcomesPerson p;
  if (stored->has_value() && !p.ParseFromString(**stored)) {
    return absl::DataLossError(absl::StrCat("stored outcomes of ", platform::Quote(person_id), " are unreadable"));
  }
  if (stored->has_value() && !platform::Answers(share, p.partition())) {
    // Not UNAVAILABLE: asking this replica again will not help, and it is no fault of the service.
    return absl::FailedPreconditionError(absl::StrCat("person_id: ", platform::Quote(person_id), " is in partition ",
                                                      p.partition(), ", which another replica of this service answers for"));
  }
  if (p.view().outcomes().empty()) {
    return absl::NotFoundError(absl::StrCat("person_id: no outcomes for ", platform::Quote(person_id)));
  }
  pbr::v1::PersonOutcomes view = std::move(*p.mutable_view());
  RestoreNames(rules, view);
  return view;
}

absl::StatusOr<SummaryQuery> ParseSummaryQuery(const pbr::v1::SummariseOutcomesRequest& request) {
  services::Problems p;
  SummaryQuery q;
  q.group_by = request.group_by();
  if (GroupingName(q.group_by).empty()) {
    p.Add("group_by", absl::StrCat(pbr::v1::OutcomeGrouping_Name(q.group_by).empty()
                                       ? absl::StrCat(static_cast<int>(q.group_by))
                                       : pbr::v1::OutcomeGrouping_Name(q.group_by),
                                   " is not team, cluster, commissioner or super-class"));
  }
  p.Date("period_start", request.period_start(), request.has_period_start(), services::Need::kOptional);
  p.Date("period_end", request.period_end(), request.has_period_end(), services::Need::kOptional);
  if (!p.ok()) return p.Result();
  if (request.has_period_start()) q.first_day = platform::FromProto(request.period_start());
  if (request.has_period_end()) q.last_day = platform::FromProto(request.period_end());
  if (q.first_day.has_value() && q.last_day.has_value() && *q.last_day < *q.first_day) {
    p.Add("period_end", "is before period_start");
    return p.Result();
  }
  return q;
}

absl::StatusOr<pbr::v1::OutcomesSummary> SummariseOutcomes(const platform::StoreReader& store, const care::RuleSet& rules,
                                                          const SummaryQuery& query,
                                                          const pbr::v1::ConsumedShare& share) {
  auto tallies = ReadTallies(store, query.group_by, query.first_day, query.last_day, platform::AnsweredPartitions(share));
  if (!tallies.ok()) return tallies.status();
  pbr::v1::OutcomesSummary out;
  out.set_group_by(query.group_by);
  if (query.first_day.has_value()) *out.mutable_period_start() = platform::ToProto(*query.first_day);
  if (query.last_day.has_value()) *out.mutable_period_end() = platform::ToProto(*query.last_day);
  out.set_rule_version(rules.version());
  care::OutcomeTally all;
  for (const auto& [group, tally] : tallies->groups) {
    if (tally.empty()) continue;
    auto* g = out.add_groups();
    g->set_group(group);
    Fill(rules, tally, g);
    care::AddTally(all, tally);
  }
  Fill(rules, all, out.mutable_all());
  *out.mutable_share() = share;
  return out;
}

}  // namespace pbr::outcomes
