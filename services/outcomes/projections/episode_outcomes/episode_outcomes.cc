#include "projections/episode_outcomes/episode_outcomes.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "care_bridge.h"
#include "ledger_store.h"
#include "pbr/state/v1/outcomes_state.pb.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "projections/episode_outcomes/tallies.h"

namespace pbr::outcomes {
namespace {
namespace topic = platform::topic;
using pbr::state::v1::OutcomeRatings;
using pbr::state::v1::OutcomesPerson;

std::string RatingsKey(absl::string_view person_id, absl::string_view assessment_id) {
  return absl::StrCat(person_id, "/", assessment_id);
}

// The ratings of the person's live assessments, as held before this message changes them (read first).
absl::StatusOr<RatingsById> LoadRatings(const platform::StoreReader& store, absl::string_view person_id) {
  RatingsById out;
  const std::string prefix = absl::StrCat(person_id, "/");
  absl::Status problem;
  auto st = store.Scan(kRatingsFamily, prefix, [&](absl::string_view key, absl::string_view value) {
    const absl::string_view id = key.substr(prefix.size());
    OutcomeRatings r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      problem = absl::DataLossError(absl::StrCat("stored ratings ", platform::Quote(key), " are unreadable"));
      return false;
    }
    auto ratings = services::RatingsFromProto(r.ratings());
    if (!ratings.ok()) {
      problem = absl::DataLossError(absl::StrCat("stored ratings ", platform::Quote(key), ": ", ratings.status().message()));
      return false;
    }
    out.emplace(std::string(id), *std::move(ratings));
    return true;
  });
  if (!st.ok()) return st;
  if (!problem.ok()) return problem;
  return out;
}

absl::StatusOr<OutcomesPerson> LoadPerson(const platform::StoreReader& store, absl::string_view person_id) {
  OutcomesPerson p;
  auto stored = store.Get(kPeopleFamily, person_id);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && !p.ParseFromString(**stored)) {
    return absl::DataLossError(absl::StrCat("stored outcomes of ", platform::Quote(person_id), " are unreadable"));
  }
  return p;
}

// What was announced of an assessment: its measures and its episode as it then stood. Any change to
// an episode (a discharge closing it, a new last rating, a care event moving its bounds) re-announces
// every assessment of it, so a consumer always holds each period as it now is.
std::string Digest(const pbr::v1::OutcomeEntry* entry, const pbr::v1::EpisodeOutcome* episode) {
  return platform::DeterministicId("outcome-recorded-content", {entry != nullptr ? entry->SerializeAsString() : "",
                                                                 episode != nullptr ? episode->SerializeAsString() : ""});
}

}  // namespace

// The names of items and factors are the rules', the same in every entry: stored once in the rules,
// not in every person (they were most of a person's bytes), and put back on reading.
void ForgetNames(pbr::v1::PersonOutcomes& view) {
  for (auto& e : *view.mutable_outcomes()) {
    for (auto& i : *e.mutable_items()) i.clear_name();
    for (auto& n : *e.mutable_care_plan_needs()) n.clear_name();
    for (auto& f : *e.mutable_factors()) f.clear_name();
  }
}

void RestoreNames(const care::RuleSet& rules, pbr::v1::PersonOutcomes& view) {
  std::map<std::string, std::string> factor_names;
  for (const auto& f : rules.outcomes().factors) factor_names[f.id] = f.name;
  auto item_name = [](int item) { return item >= 1 && item <= care::kHonosItemCount ? care::MhctItemName(item - 1) : ""; };
  for (auto& e : *view.mutable_outcomes()) {
    for (auto& i : *e.mutable_items()) i.set_name(item_name(i.item()));
    for (auto& n : *e.mutable_care_plan_needs()) n.set_name(item_name(n.item()));
    for (auto& f : *e.mutable_factors()) {
      auto it = factor_names.find(f.id());
      if (it != factor_names.end()) f.set_name(it->second);
    }
  }
}

std::vector<std::string> EpisodeOutcomesFamilies() {
  return {std::string(kLedgerFamily), std::string(kRatingsFamily), std::string(kPeopleFamily),
          std::string(kTalliesFamily)};
}

std::string EpisodeOutcomes::derivation() const {
  return absl::StrCat("rules ", rules_->care_version(), "; tallies by partition");
}

std::vector<std::string> EpisodeOutcomes::topics() const {
  return {std::string(platform::topic::kAssessmentRecorded), std::string(platform::topic::kCareEventRecorded)};
}

absl::Status EpisodeOutcomes::Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  if (event.topic_name == platform::topic::kAssessmentRecorded) return OnAssessment(event, ctx);
  if (event.topic_name == platform::topic::kCareEventRecorded) return OnCareEvent(event, ctx);
  return absl::OkStatus();
}

absl::Status EpisodeOutcomes::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  // A withdrawal's ratings may be anything as last recorded: they are neither checked nor used.
  std::optional<care::MhctRatings> ratings;
  if (!a.withdrawn()) {
    auto r = services::RatingsFromProto(a.ratings());
    if (!r.ok()) return r.status();
    ratings = *std::move(r);
  }
  auto folded = services::FoldIntoLedger(ctx, kLedgerFamily, person_id, services::AssessmentFromEvent(a));
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated

  auto held = LoadRatings(ctx.store(), person_id);
  if (!held.ok()) return held.status();
  const std::string key = RatingsKey(person_id, a.assessment_id());
  if (ratings.has_value()) {
    OutcomeRatings record;
    record.set_revision(a.revision());
    *record.mutable_ratings() = a.ratings();
    ctx.batch().Put(ctx.store().Family(kRatingsFamily), key, record.SerializeAsString());
    (*held)[a.assessment_id()] = *ratings;
  } else {
    ctx.batch().Delete(ctx.store().Family(kRatingsFamily), key);
    held->erase(a.assessment_id());
  }
  return Recompute(ctx, event, person_id, folded->facts, *held);
}

absl::Status EpisodeOutcomes::OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  auto folded = services::FoldCareEventRecorded(event, ctx, kLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();
  auto held = LoadRatings(ctx.store(), event.event.person_id());
  if (!held.ok()) return held.status();
  return Recompute(ctx, event, event.event.person_id(), folded->facts, *held);
}

absl::Status EpisodeOutcomes::Recompute(platform::ApplyContext& ctx, const platform::ConsumedEvent& consumed,
                                        const std::string& person_id, const ledger::PersonFacts& facts,
                                        const RatingsById& ratings) const {
  const pbr::v1::EventEnvelope& cause = consumed.event;
  auto view = DeriveOutcomes(*rules_, person_id, facts, ratings);
  if (!view.ok()) return view.status();
  auto before = LoadPerson(ctx.store(), person_id);
  if (!before.ok()) return before.status();

  std::map<std::string, const pbr::v1::EpisodeOutcome*> episode_of;
  for (const auto& e : view->episodes()) episode_of[e.referral_id()] = &e;
  std::map<std::string, const pbr::v1::OutcomeEntry*> old_entry;  // as last derived
  for (const auto& e : before->view().outcomes()) old_entry[e.assessment_id()] = &e;

  // 1. Announce every assessment whose measures or episode changed; withdraw what is gone.
  OutcomesPerson next;
  next.set_partition(consumed.partition);
  auto emit = [&](const pbr::v1::OutcomeEntry* entry, absl::string_view assessment_id,
                  const pbr::v1::EpisodeOutcome* episode, absl::Time assessed_at, absl::string_view digest) {
    // One id per assessment, cause and content: a retried cause makes the same id; a later cause, or the
    // same cause met in another order after a rebuild, makes a new one unless it says the same.
    auto out = platform::MakeEnvelope(
        topic::kOutcomeRecorded,
        platform::DeterministicId(topic::kOutcomeRecorded, {assessment_id, cause.event_id(), digest}),
        person_id, assessed_at, ctx.now(), cause.source_system(), cause.trace_id());
    auto* o = out.mutable_outcome_recorded();
    o->set_assessment_id(std::string(assessment_id));
    o->set_rule_version(rules_->version());
    if (episode != nullptr) *o->mutable_episode() = *episode;
    if (entry == nullptr) {
      o->set_withdrawn(true);
    } else {
      o->set_team_id(entry->team_id());
      o->set_cluster(entry->cluster());
      *o->mutable_assessed_at() = entry->assessed_at();
      o->set_honos_total(entry->honos_total());
      o->set_missing_items(entry->missing_items());
      o->set_total_valid(entry->total_valid());
      *o->mutable_measures() = *entry;
    }
    ctx.Emit(topic::kOutcomeRecorded, out);
  };
  // Withdrawals first: the cause, then what it changed.
  std::set<std::string> live;
  for (const auto& entry : view->outcomes()) live.insert(entry.assessment_id());
  for (const auto& [assessment_id, digest] : before->announced()) {
    if (live.count(assessment_id)) continue;
    // Its episode as it now stands, if it still has live assessments; clinical time as last derived.
    auto old = old_entry.find(assessment_id);
    const pbr::v1::EpisodeOutcome* episode = nullptr;
    absl::Time assessed_at = ctx.now();
    if (old != old_entry.end()) {
      assessed_at = platform::FromProto(old->second->assessed_at());
      auto ep = episode_of.find(old->second->referral_id());
      if (ep != episode_of.end()) episode = ep->second;
    }
    emit(nullptr, assessment_id, episode, assessed_at, Digest(nullptr, episode));
  }

  for (const auto& entry : view->outcomes()) {
    auto ep = episode_of.find(entry.referral_id());
    const pbr::v1::EpisodeOutcome* episode = ep != episode_of.end() ? ep->second : nullptr;
    const std::string digest = Digest(&entry, episode);
    auto old = before->announced().find(entry.assessment_id());
    if (old == before->announced().end() || old->second != digest) {
      emit(&entry, entry.assessment_id(), episode, platform::FromProto(entry.assessed_at()), digest);
    }
    (*next.mutable_announced())[entry.assessment_id()] = digest;
  }
  // 2. Move the person's contribution to the summaries: take away what the episodes added, add what they add now.
  std::map<std::string, care::OutcomeTally> changes;
  const size_t factor_count = rules_->outcomes().factors.size();
  for (const auto& t : before->tallies()) {
    for (const auto& key : t.keys()) care::AddTally(changes[key], Signed(t.contribution(), -1));
  }
  for (const auto& e : view->episodes()) {
    auto contribution = ContributionOf(e);
    if (!contribution.has_value()) continue;
    care::OutcomeTally one;
    care::AddToTally(one, *contribution, +1, factor_count);
    auto* t = next.add_tallies();
    t->set_referral_id(e.referral_id());
    *t->mutable_contribution() = ToRecord(one);
    const absl::CivilDay day = platform::FromProto(e.counted_on());
    for (pbr::v1::OutcomeGrouping g : kGroupings) {
      const std::string key = TallyKey(consumed.partition, g, day, GroupOf(e, g));
      t->add_keys(key);
      care::AddTally(changes[key], one);
    }
  }
  if (auto st = ApplyTallyChanges(ctx, changes); !st.ok()) return st;

  // 3. The person as now derived; nothing at all once every assessment is gone.
  if (view->outcomes().empty() && next.tallies().empty()) {
    ctx.batch().Delete(ctx.store().Family(kPeopleFamily), person_id);
  } else {
    *next.mutable_view() = *std::move(view);
    ForgetNames(*next.mutable_view());
    ctx.batch().Put(ctx.store().Family(kPeopleFamily), person_id, next.SerializeAsString());
  }
  return absl::OkStatus();
}

}  // namespace pbr::outcomes
