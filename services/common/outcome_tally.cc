#include "outcome_tally.h"

namespace pbr::services {
using pbr::state::v1::OutcomeTallyRecord;

std::optional<care::EpisodeContribution> ContributionOf(const pbr::v1::EpisodeOutcome& episode) {
  if (episode.first_assessment_id().empty()) return std::nullopt;
  care::EpisodeContribution c;
  c.paired = episode.paired();
  if (!c.paired) return c;
  const pbr::v1::RatingChange& change = episode.change();
  c.total_change = change.total_change();
  for (const auto& f : change.factors()) {
    c.factor_changes.push_back(f.known() ? std::optional<int>(f.change()) : std::nullopt);
  }
  switch (change.reliable_change()) {
    case pbr::v1::RELIABLE_CHANGE_IMPROVED: c.reliable_change = care::ReliableChange::kImproved; break;
    case pbr::v1::RELIABLE_CHANGE_DETERIORATED: c.reliable_change = care::ReliableChange::kDeteriorated; break;
    default: c.reliable_change = care::ReliableChange::kNoReliableChange; break;
  }
  if (change.expected() == pbr::v1::EXPECTED_OUTCOME_MATCHES) c.matches_expected = true;
  if (change.expected() == pbr::v1::EXPECTED_OUTCOME_DOES_NOT_MATCH) c.matches_expected = false;
  return c;
}

care::OutcomeTally FromRecord(const OutcomeTallyRecord& r) { return Signed(r, +1); }

care::OutcomeTally Signed(const OutcomeTallyRecord& r, int sign) {
  care::OutcomeTally t;
  t.episodes = sign * r.episodes();
  t.paired = sign * r.paired();
  t.total_change_sum = sign * r.total_change_sum();
  for (int64_t n : r.factor_change_sum()) t.factor_change_sum.push_back(sign * n);
  for (int64_t n : r.factor_change_count()) t.factor_change_count.push_back(sign * n);
  t.factor_change_count.resize(t.factor_change_sum.size());
  t.improved = sign * r.improved();
  t.no_reliable_change = sign * r.no_reliable_change();
  t.deteriorated = sign * r.deteriorated();
  t.with_expected = sign * r.with_expected();
  t.matching_expected = sign * r.matching_expected();
  return t;
}

OutcomeTallyRecord ToRecord(const care::OutcomeTally& t) {
  OutcomeTallyRecord r;
  r.set_episodes(t.episodes);
  r.set_paired(t.paired);
  r.set_total_change_sum(t.total_change_sum);
  for (int64_t n : t.factor_change_sum) r.add_factor_change_sum(n);
  for (int64_t n : t.factor_change_count) r.add_factor_change_count(n);
  r.set_improved(t.improved);
  r.set_no_reliable_change(t.no_reliable_change);
  r.set_deteriorated(t.deteriorated);
  r.set_with_expected(t.with_expected);
  r.set_matching_expected(t.matching_expected);
  return r;
}

bool AnyNegative(const care::OutcomeTally& t) {
  if (t.episodes < 0 || t.paired < 0 || t.improved < 0 || t.no_reliable_change < 0 || t.deteriorated < 0 ||
      t.with_expected < 0 || t.matching_expected < 0) {
    return true;
  }
  for (int64_t n : t.factor_change_count) {
    if (n < 0) return true;
  }
  return false;
}

bool AllZero(const care::OutcomeTally& t) {
  if (t.episodes != 0 || t.paired != 0 || t.total_change_sum != 0 || t.improved != 0 || t.no_reliable_change != 0 ||
      t.deteriorated != 0 || t.with_expected != 0 || t.matching_expected != 0) {
    return false;
  }
  for (int64_t n : t.factor_change_sum) {
    if (n != 0) return false;
  }
  for (int64_t n : t.factor_change_count) {
    if (n != 0) return false;
  }
  return true;
}
}  // namespace pbr::services
