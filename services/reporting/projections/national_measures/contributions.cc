#include "projections/national_measures/contributions.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "care/catalogue.h"
#include "platform/events.h"

namespace pbr::reporting::national {

NationalView NationalViewOf(absl::string_view person_id, const ledger::PersonFacts& facts,
                            const care::RuleSet& rules) {
  NationalView view;
  const ledger::CareRecord care = ledger::Derive(person_id, facts);
  std::map<std::string, std::optional<absl::CivilDay>> discharge_of;  // referral id -> its discharge day
  for (const ledger::ReferralPeriod& r : care.referrals) {
    ReferralSpan& span = view.referrals.emplace_back();
    span.opened = platform::ClinicalDay(r.opened_at);
    if (r.closed_at.has_value()) span.closed = platform::ClinicalDay(*r.closed_at);
    discharge_of[r.id] = span.closed;
  }

  const std::vector<const ledger::Assessment*> live = facts.LiveAssessments();
  // The record each period holds last so far, so the next assessment of the same period can end it.
  std::map<std::string, size_t> last_record_of;  // referral id -> index in view.records
  for (size_t i = 0; i < live.size(); ++i) {
    const ledger::Assessment& a = *live[i];
    auto referral = care.referral_of.find(a.id);
    if (referral == care.referral_of.end()) continue;  // the ledger places every live assessment
    const absl::CivilDay effective = platform::ClinicalDay(a.effective_at);
    if (auto previous = last_record_of.find(referral->second); previous != last_record_of.end()) {
      view.records[previous->second].end = effective;
    }
    last_record_of[referral->second] = view.records.size();

    ClusterRecord& r = view.records.emplace_back();
    r.assessment_id = a.id;
    r.cluster = a.cluster;
    r.team_id = a.team_id;
    r.commissioner_id = a.commissioner_id.empty() ? std::string(kNoCommissioner) : a.commissioner_id;
    r.service_area = a.service_area;
    r.start = effective;
    r.mhct = platform::ClinicalDay(a.assessed_at);
    r.ledger_position = static_cast<int>(i);
    if (care::IsValidClusterId(a.cluster)) {
      auto due = rules.ReviewDueDate(a.cluster, r.mhct, care::ReviewPolicy::kNational);
      if (due.ok()) r.national_due = due->due;
    }
  }
  // A period's last record ends with the discharge that closes the period.
  for (const auto& [referral_id, index] : last_record_of) view.records[index].end = discharge_of[referral_id];
  return view;
}

std::optional<Standing> StandingAt(const NationalView& view, absl::CivilDay period_end) {
  const bool referral_open = std::any_of(view.referrals.begin(), view.referrals.end(), [&](const ReferralSpan& r) {
    return r.opened <= period_end && (!r.closed.has_value() || *r.closed > period_end);
  });
  if (!referral_open) return std::nullopt;
  const ClusterRecord* chosen = nullptr;
  for (const ClusterRecord& r : view.records) {
    if (!care::IsValidClusterId(r.cluster)) continue;  // dropped before the latest is chosen
    if (r.start > period_end || (r.end.has_value() && *r.end <= period_end)) continue;
    if (chosen == nullptr || std::tie(r.start, r.ledger_position) > std::tie(chosen->start, chosen->ledger_position)) {
      chosen = &r;
    }
  }
  if (chosen == nullptr) return std::nullopt;
  Standing s;
  s.cluster = chosen->cluster;
  s.team_id = chosen->team_id;
  s.commissioner_id = chosen->commissioner_id;
  s.service_area = chosen->service_area;
  s.within_review_period = chosen->national_due.has_value() && period_end < *chosen->national_due;
  return s;
}

std::vector<Contribution> ContributionsOf(const NationalView& view) {
  // The days from which the standing may differ from the day before.
  std::vector<absl::CivilDay> changes;
  for (const ReferralSpan& r : view.referrals) {
    changes.push_back(r.opened);
    if (r.closed.has_value()) changes.push_back(*r.closed);
  }
  for (const ClusterRecord& r : view.records) {
    if (!care::IsValidClusterId(r.cluster)) continue;
    changes.push_back(r.start);
    if (r.end.has_value()) changes.push_back(*r.end);
    if (r.national_due.has_value()) changes.push_back(*r.national_due);
  }
  std::sort(changes.begin(), changes.end());
  changes.erase(std::unique(changes.begin(), changes.end()), changes.end());

  std::vector<Contribution> out;
  for (size_t i = 0; i < changes.size(); ++i) {
    // The standing holds on every day of [changes[i], changes[i+1]); the month ends in it are those of
    // the months from changes[i]'s up to, not including, changes[i+1]'s (a month's last day is on or
    // after any of its days).
    const absl::CivilMonth first(changes[i]);
    std::optional<absl::CivilMonth> end;
    if (i + 1 < changes.size()) end = absl::CivilMonth(changes[i + 1]);
    if (end.has_value() && *end == first) continue;  // no month ends in this interval
    const std::optional<Standing> standing = StandingAt(view, changes[i]);
    if (!standing.has_value()) continue;
    if (!out.empty() && out.back().end == first && out.back().standing == *standing) {
      out.back().end = end;
      continue;
    }
    out.push_back({*standing, first, end});
  }
  return out;
}

}  // namespace pbr::reporting::national
