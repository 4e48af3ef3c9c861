#include "projections/outcome_summaries/outcome_summaries.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "outcome_tally.h"
#include "pbr/state/v1/outcome_summaries_state.pb.h"
#include "platform/events.h"
#include "projections/outcome_summaries/queries.h"

namespace pbr::reporting {
namespace {

using pbr::state::v1::OutcomeSummaryPerson;
using pbr::state::v1::OutcomeSummaryShare;

absl::StatusOr<OutcomeSummaryPerson> LoadPerson(const platform::StoreReader& store, const std::string& person_id) {
  auto held = store.Get(kOutcomeSummariesPeopleFamily, person_id);
  if (!held.ok()) return held.status();
  OutcomeSummaryPerson p;
  if (held->has_value() && !p.ParseFromString(**held)) {
    return absl::DataLossError(absl::StrCat("outcome summaries: the stored record of ", person_id, " is unreadable"));
  }
  return p;
}

// Moves each tally row by its change in the message's batch.
absl::Status MoveTallies(platform::ApplyContext& ctx, const std::map<std::string, care::OutcomeTally>& changes) {
  for (const auto& [key, change] : changes) {
    auto held = ctx.store().Get(kOutcomeSummariesTalliesFamily, key);
    if (!held.ok()) return held.status();
    care::OutcomeTally row;
    if (held->has_value()) {
      pbr::state::v1::OutcomeTallyRecord r;
      if (!r.ParseFromString(**held)) return absl::DataLossError(absl::StrCat("outcome summaries: tally ", key, " is unreadable"));
      row = services::FromRecord(r);
    }
    care::AddTally(row, change);
    if (services::AnyNegative(row)) {
      return absl::DataLossError(absl::StrCat("outcome summaries: tally ", key, " would go below zero"));
    }
    if (services::AllZero(row)) {
      ctx.batch().Delete(ctx.store().Family(kOutcomeSummariesTalliesFamily), key);
    } else {
      ctx.batch().Put(ctx.store().Family(kOutcomeSummariesTalliesFamily), key, services::ToRecord(row).SerializeAsString());
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> OutcomeSummariesProjection::topics() const {
  return {std::string(platform::topic::kOutcomeRecorded)};
}

std::vector<std::string> OutcomeSummariesProjection::families() const {
  return {std::begin(kOutcomeSummariesFamilies), std::end(kOutcomeSummariesFamilies)};
}

absl::Status OutcomeSummariesProjection::Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  if (event.topic_name != platform::topic::kOutcomeRecorded) return absl::OkStatus();
  const auto& o = event.event.outcome_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (o.assessment_id().empty()) return absl::InvalidArgumentError("outcome_recorded.assessment_id: empty");
  if (!o.withdrawn() && o.has_measures() && o.measures().referral_id().empty()) {
    return absl::InvalidArgumentError("outcome_recorded.measures.referral_id: empty");
  }
  if (o.has_episode() && o.episode().referral_id().empty()) {
    return absl::InvalidArgumentError("outcome_recorded.episode.referral_id: empty");
  }
  auto p = LoadPerson(ctx.store(), person_id);
  if (!p.ok()) return p.status();

  // The referral period the announcement is about: its episode's, else the assessment's (as last known).
  std::string referral;
  if (o.has_episode()) {
    referral = o.episode().referral_id();
  } else if (!o.withdrawn() && o.has_measures()) {
    referral = o.measures().referral_id();
  } else if (auto it = p->referral_of().find(o.assessment_id()); it != p->referral_of().end()) {
    referral = it->second;
  }
  if (o.withdrawn()) {
    p->mutable_referral_of()->erase(o.assessment_id());
  } else if (o.has_measures()) {
    (*p->mutable_referral_of())[o.assessment_id()] = o.measures().referral_id();
  }

  std::map<std::string, care::OutcomeTally> changes;
  if (!referral.empty()) {
    // What the period adds now: nothing once it has no valid rating (or no live assessment).
    std::optional<OutcomeSummaryShare> now;
    if (o.has_episode()) {
      if (auto contribution = services::ContributionOf(o.episode()); contribution.has_value()) {
        const pbr::v1::EpisodeOutcome& e = o.episode();
        if (e.team_id().empty()) return absl::InvalidArgumentError("outcome_recorded.episode.team_id: empty");
        if (!e.has_counted_on()) return absl::InvalidArgumentError("outcome_recorded.episode.counted_on: missing");
        care::OutcomeTally one;
        // The factor sums are sized by the episode's own factors (the outcomes service's model).
        care::AddToTally(one, *contribution, +1, contribution->factor_changes.size());
        OutcomeSummaryShare share;
        share.set_tally_key(TallyKey(e.team_id(), absl::CivilMonth(platform::FromProto(e.counted_on()))));
        *share.mutable_contribution() = services::ToRecord(one);
        now = std::move(share);
      }
    }
    auto& periods = *p->mutable_periods();
    if (auto old = periods.find(referral); old != periods.end()) {
      care::AddTally(changes[old->second.tally_key()], services::Signed(old->second.contribution(), -1));
      periods.erase(old);
    }
    if (now.has_value()) {
      care::AddTally(changes[now->tally_key()], services::FromRecord(now->contribution()));
      periods[referral] = *std::move(now);
    }
  }
  // A period none of the person's live assessments belongs to any more (a correction moved them all into
  // another period) is announced by nobody: it leaves here.
  std::set<std::string> live_periods;
  for (const auto& [assessment, period] : p->referral_of()) live_periods.insert(period);
  for (auto it = p->mutable_periods()->begin(); it != p->mutable_periods()->end();) {
    if (live_periods.count(it->first)) {
      ++it;
      continue;
    }
    care::AddTally(changes[it->second.tally_key()], services::Signed(it->second.contribution(), -1));
    it = p->mutable_periods()->erase(it);
  }
  if (auto st = MoveTallies(ctx, changes); !st.ok()) return st;
  if (p->periods().empty() && p->referral_of().empty()) {
    ctx.batch().Delete(ctx.store().Family(kOutcomeSummariesPeopleFamily), person_id);
  } else {
    ctx.batch().Put(ctx.store().Family(kOutcomeSummariesPeopleFamily), person_id, p->SerializeAsString());
  }
  return absl::OkStatus();
}

}  // namespace pbr::reporting
