// The tariff's arithmetic over a person's episodes: months, prices and the lines between billed and true.
#include "projections/tariff/activity.h"

#include <algorithm>
#include <set>

#include "care/tariff.h"
#include "platform/events.h"

namespace pbr::reporting::tariff {

int MonthNumber(absl::CivilMonth m) { return static_cast<int>(m.year()) * 100 + m.month(); }
absl::CivilMonth MonthOf(int yyyymm) { return absl::CivilMonth(yyyymm / 100, yyyymm % 100); }

bool MonthActivity::SameFigure(const MonthActivity& o) const {
  // Not the price list's version: a new edition with the same prices bills the same.
  return days == o.days && review_periods_started == o.review_periods_started && priced == o.priced && gap == o.gap &&
         basis == o.basis && unit_price_pence == o.unit_price_pence && amount_pence == o.amount_pence;
}

namespace {

void Add(MonthActivity& into, const MonthActivity& more) {
  if (into.days == 0 && into.review_periods_started == 0) {
    into = more;
    return;
  }
  into.days += more.days;
  into.review_periods_started += more.review_periods_started;
  into.amount_pence += more.amount_pence;
}

}  // namespace

Activity ActivityThrough(const ledger::CareRecord& record, const care::RuleSet& rules, absl::CivilMonth through) {
  Activity out;
  std::optional<absl::CivilDay> discharge_day;  // the last discharge's day, billed to the episode it ended
  for (const ledger::Episode& e : record.episodes) {
    care::ClusterEpisode episode;
    episode.cluster = e.cluster;
    episode.start = platform::ClinicalDay(e.started_at);
    // Re-referred the day of a discharge: that day is billed once, to the episode the discharge ended.
    if (discharge_day.has_value() && episode.start <= *discharge_day) episode.start = *discharge_day + 1;
    episode.end = care::LastDayOnCluster(
        e.ended_at.has_value() ? std::optional(platform::ClinicalDay(*e.ended_at)) : std::nullopt, e.ended_by_discharge);
    if (e.ended_by_discharge && episode.end.has_value()) discharge_day = *episode.end;
    if (episode.end.has_value() && *episode.end < episode.start) continue;  // replaced the day it started
    const std::string commissioner = e.commissioner_id.empty() ? std::string(kUnknownCommissioner) : e.commissioner_id;
    const absl::CivilMonth last = episode.end.has_value() ? std::min(absl::CivilMonth(*episode.end), through) : through;
    for (absl::CivilMonth m(episode.start); m <= last; ++m) {
      const absl::CivilDay from(m), to = absl::CivilDay(m + 1) - 1;
      MonthActivity figure;
      auto line = rules.ComputeActivity(commissioner, episode, from, to);
      if (line.ok()) {
        figure.days = line->days;
        figure.review_periods_started = line->review_periods_started;
        figure.priced = true;
        figure.basis = std::string(care::PriceBasisName(line->basis));
        figure.unit_price_pence = line->unit_price_pence;
        figure.amount_pence = line->amount_pence;
        figure.price_list_version = line->price_list_version;
        figure.rule_version = line->rule_version;
      } else {
        // No price: the activity still counts (a visible gap), its periods by the trust's own review periods.
        auto count = care::CountActivity(rules.review_periods(), care::ReviewPolicy::kTrustSop, episode, from, to);
        if (!count.ok()) continue;  // a cluster with no review period cannot be on an episode (the rules refuse it)
        figure.days = count->days;
        figure.review_periods_started = count->review_periods_started;
        figure.gap = std::string(line.status().message());
        figure.rule_version = rules.version();
      }
      if (figure.days == 0) continue;
      Add(out[ActivityKey{MonthNumber(m), commissioner, e.team_id, e.cluster}], figure);
    }
  }
  return out;
}

std::vector<LineToIssue> LinesToIssue(const BilledActivity& billed, const Activity& now, int through,
                                      int closed_before) {
  std::set<ActivityKey> keys;
  for (const auto& [k, _] : billed) if (k.month <= through) keys.insert(k);
  for (const auto& [k, _] : now) if (k.month <= through) keys.insert(k);
  std::vector<LineToIssue> out;
  for (const ActivityKey& k : keys) {
    auto b = billed.find(k);
    auto n = now.find(k);
    const bool was = b != billed.end(), is = n != now.end();
    if (was && is && b->second.figure.SameFigure(n->second)) continue;
    if (!was && k.month > closed_before) {
      out.push_back({pbr::v1::TARIFF_LINE_ORIGINAL, k, n->second, 0});
      continue;
    }
    if (was) {
      MonthActivity back = b->second.figure;
      back.days = -back.days;
      back.review_periods_started = -back.review_periods_started;
      back.amount_pence = -back.amount_pence;
      out.push_back({pbr::v1::TARIFF_LINE_REVERSAL, k, back, b->second.sequence});
    }
    if (is) out.push_back({pbr::v1::TARIFF_LINE_RESTATEMENT, k, n->second, 0});
  }
  return out;
}

}  // namespace pbr::reporting::tariff
