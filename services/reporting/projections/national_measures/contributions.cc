#include "projections/national_measures/contributions.h"

#include <algorithm>

#include "care/catalogue.h"
#include "care/period.h"
#include "care/teams.h"
#include "platform/events.h"

namespace pbr::reporting::national {

NationalView NationalViewOf(absl::string_view person_id, const ledger::PersonFacts& facts,
                            const care::RuleSet& rules) {
  NationalView view;
  view.facts = facts;
  view.care = ledger::Derive(person_id, view.facts);
  for (const ledger::ReferralPeriod& r : view.care.referrals) {
    ReferralSpan& span = view.referrals.emplace_back();
    span.opened = platform::ClinicalDay(r.opened_at);
    if (r.closed_at.has_value()) span.closed = platform::ClinicalDay(*r.closed_at);
  }
  for (const ledger::Assessment* a : view.facts.LiveAssessments()) {
    if (!view.care.referral_of.contains(a->id)) continue;  // the ledger places every live assessment
    ClusterRecord& r = view.records.emplace_back();
    r.assessment_id = a->id;
    r.cluster = a->cluster;
    r.team_id = a->team_id;
    r.commissioner_id = care::CommissionerOrUnknown(a->commissioner_id);
    r.service_area = a->service_area;
    r.effective = platform::ClinicalDay(a->effective_at);
    r.mhct = platform::ClinicalDay(a->assessed_at);
    if (care::IsValidClusterId(a->cluster)) {
      auto due = rules.ReviewDueDate(a->cluster, r.mhct, care::ReviewPolicy::kNational);
      if (due.ok()) r.national_due = due->due;
    }
  }
  return view;
}

std::optional<Standing> StandingAt(const NationalView& view, absl::CivilDay period_end) {
  const bool referral_open = std::any_of(view.referrals.begin(), view.referrals.end(), [&](const ReferralSpan& r) {
    return r.opened <= period_end && (!r.closed.has_value() || *r.closed > period_end);
  });
  if (!referral_open) return std::nullopt;
  const ledger::Assessment* in_effect =
      ledger::AssessmentInEffectAt(view.facts, view.care, care::EndOfDay(period_end, platform::ClinicalTimeZone()));
  if (in_effect == nullptr) return std::nullopt;
  auto chosen = std::find_if(view.records.begin(), view.records.end(),
                             [&](const ClusterRecord& r) { return r.assessment_id == in_effect->id; });
  if (chosen == view.records.end() || !care::IsValidClusterId(chosen->cluster)) return std::nullopt;
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
    changes.push_back(r.effective);  // an invalid code taking effect ends the valid record before it
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
