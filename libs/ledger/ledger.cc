#include "ledger/ledger.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "ids/ids.h"

namespace pbr::ledger {
namespace {

template <typename Fact>
bool FoldInto(std::map<std::string, Fact>& facts, Fact f) {
  auto it = facts.find(f.id);
  if (it != facts.end() && f.revision <= it->second.revision) return false;  // stale or repeated
  std::string id = f.id;
  facts.insert_or_assign(std::move(id), std::move(f));
  return true;
}

// One step of the person's timeline. At the same instant a referral comes first, then
// assessments, then a discharge: an assessment recorded at the discharge time (the discharge
// review) still belongs to the period it closes.
struct Step {
  absl::Time at;
  int rank = 0;  // 0 referral received, 1 assessment, 2 discharge
  const Assessment* assessment = nullptr;
  const CareEvent* event = nullptr;
};

}  // namespace

bool LaterThan(const Assessment& a, const Assessment& b) {
  return std::tie(a.assessed_at, a.effective_at, a.id) > std::tie(b.assessed_at, b.effective_at, b.id);
}

bool PersonFacts::Fold(Assessment a) { return FoldInto(assessments_, std::move(a)); }
bool PersonFacts::Fold(CareEvent e) { return FoldInto(care_events_, std::move(e)); }

const Assessment* PersonFacts::FindAssessment(absl::string_view id) const {
  auto it = assessments_.find(std::string(id));
  return it == assessments_.end() ? nullptr : &it->second;
}

std::vector<const Assessment*> PersonFacts::LiveAssessments() const {
  std::vector<const Assessment*> out;
  for (const auto& [id, a] : assessments_) {
    if (!a.withdrawn) out.push_back(&a);
  }
  std::sort(out.begin(), out.end(), [](const Assessment* a, const Assessment* b) { return LaterThan(*b, *a); });
  return out;
}

std::vector<const CareEvent*> PersonFacts::LiveCareEvents() const {
  std::vector<const CareEvent*> out;
  for (const auto& [id, e] : care_events_) {
    if (!e.withdrawn) out.push_back(&e);
  }
  std::sort(out.begin(), out.end(), [](const CareEvent* a, const CareEvent* b) {
    return std::tie(a->occurred_at, a->id) < std::tie(b->occurred_at, b->id);
  });
  return out;
}

PersonFacts PersonFacts::Before(const Assessment& assessment) const {
  PersonFacts out;
  for (const auto& [id, a] : assessments_) {
    if (id != assessment.id && !a.withdrawn && LaterThan(assessment, a)) out.assessments_.emplace(id, a);
  }
  for (const auto& [id, e] : care_events_) {
    if (!e.withdrawn && e.occurred_at <= assessment.assessed_at) out.care_events_.emplace(id, e);
  }
  return out;
}

PersonFacts PersonFacts::Without(absl::string_view id) const {
  PersonFacts out = *this;
  out.assessments_.erase(std::string(id));
  out.care_events_.erase(std::string(id));
  return out;
}

std::string ReviewBasis::key() const {
  return absl::StrCat(assessment_id, "/", absl::ToUnixSeconds(assessed_at), "/", cluster);
}

std::string EpisodeId(absl::string_view person_id, absl::string_view starting_assessment_id) {
  return ids::DeterministicId("episode", {person_id, starting_assessment_id});
}

std::string ReferralId(absl::string_view person_id, absl::string_view opening_fact_id) {
  return ids::DeterministicId("referral", {person_id, opening_fact_id});
}

const ReferralPeriod* CareRecord::open_referral() const {
  return !referrals.empty() && referrals.back().open() ? &referrals.back() : nullptr;
}

const ReferralPeriod* CareRecord::last_referral() const { return referrals.empty() ? nullptr : &referrals.back(); }

const Episode* CareRecord::current_episode() const {
  return !episodes.empty() && episodes.back().open() ? &episodes.back() : nullptr;
}

const Episode* CareRecord::previous_episode() const {
  if (current_episode() == nullptr || episodes.size() < 2) return nullptr;
  return &episodes[episodes.size() - 2];
}

std::optional<ReviewBasis> CareRecord::review_basis() const { return basis_; }

bool CareRecord::returning() const {
  return std::any_of(referrals.begin(), referrals.end(), [](const ReferralPeriod& r) { return !r.open(); });
}

const ReferralPeriod* CareRecord::ReferralAt(absl::Time t) const {
  const ReferralPeriod* found = nullptr;
  for (const auto& r : referrals) {
    if (r.opened_at <= t && (r.open() || *r.closed_at >= t)) found = &r;  // the latest that covers t
  }
  return found;
}

CareRecord Derive(absl::string_view person_id, const PersonFacts& facts) {
  CareRecord out;
  const std::vector<const Assessment*> assessments = facts.LiveAssessments();
  const std::vector<const CareEvent*> events = facts.LiveCareEvents();

  std::vector<Step> steps;
  for (const Assessment* a : assessments) steps.push_back({a->assessed_at, 1, a, nullptr});
  for (const CareEvent* e : events) {
    if (e->kind == CareEventKind::kReferralReceived) steps.push_back({e->occurred_at, 0, nullptr, e});
    if (e->kind == CareEventKind::kDischargeFromService) steps.push_back({e->occurred_at, 2, nullptr, e});
  }
  // Stable: assessments keep the ledger's order among themselves, care events their time order.
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& a, const Step& b) { return std::tie(a.at, a.rank) < std::tie(b.at, b.rank); });

  std::optional<absl::Time> last_closed;  // when the latest closed period closed
  auto open_period = [&](absl::Time at, const std::string& by, bool by_assessment) {
    ReferralPeriod& r = out.referrals.emplace_back();
    r.id = ReferralId(person_id, by);
    r.opened_at = last_closed ? std::max(at, *last_closed) : at;
    r.opened_by = by;
    r.opened_by_assessment = by_assessment;
  };
  for (const Step& s : steps) {
    ReferralPeriod* open = !out.referrals.empty() && out.referrals.back().open() ? &out.referrals.back() : nullptr;
    if (s.event != nullptr && s.rank == 0) {  // referral received: opens a period unless one is open
      if (open == nullptr) open_period(s.at, s.event->id, false);
      out.referral_of[s.event->id] = out.referrals.back().id;
      continue;
    }
    if (s.event != nullptr) {  // discharge from service: closes the open period and its episode
      if (open == nullptr) continue;  // nothing open to discharge from: it changes nothing
      open->closed_at = s.at;
      open->closed_by = s.event->id;
      last_closed = s.at;
      out.referral_of[s.event->id] = open->id;
      if (!out.episodes.empty() && out.episodes.back().open() && out.episodes.back().referral_id == open->id) {
        Episode& e = out.episodes.back();
        e.ended_at = std::max(s.at, e.started_at);
        e.ended_by_discharge = true;
      }
      continue;
    }
    const Assessment& a = *s.assessment;
    if (open == nullptr) {
      open_period(a.effective_at, a.id, true);
      open = &out.referrals.back();
    }
    out.referral_of[a.id] = open->id;
    Episode* current = !out.episodes.empty() && out.episodes.back().open() ? &out.episodes.back() : nullptr;
    if (current == nullptr || current->cluster != a.cluster) {
      // Episodes never overlap: one starts no earlier than the one before it started or ended.
      absl::Time start = std::max(a.effective_at, open->opened_at);
      if (current != nullptr) {
        start = std::max(start, current->started_at);
        current->ended_at = start;
      } else if (!out.episodes.empty()) {
        start = std::max(start, *out.episodes.back().ended_at);
      }
      Episode& e = out.episodes.emplace_back();
      e.id = EpisodeId(person_id, a.id);
      e.cluster = a.cluster;
      e.team_id = a.team_id;
      e.commissioner_id = a.commissioner_id;
      e.started_at = start;
      e.started_by = a.id;
      e.referral_id = open->id;
      current = &e;
    }
    // An assessment keeping the cluster takes effect inside its episode: not before the episode started.
    out.takes_effect_[a.id] = std::max({a.effective_at, open->opened_at, current->started_at});
    out.episode_of[a.id] = current->id;
    out.latest = a;
  }
  for (const CareEvent* e : events) {
    if (out.referral_of.count(e->id)) continue;
    if (const ReferralPeriod* r = out.ReferralAt(e->occurred_at)) out.referral_of[e->id] = r->id;
  }
  if (const ReferralPeriod* open = out.open_referral(); open != nullptr && out.latest.has_value() &&
                                                      out.referral_of[out.latest->id] == open->id) {
    ReviewBasis& b = out.basis_.emplace();
    b.assessment_id = out.latest->id;
    b.revision = out.latest->revision;
    b.assessed_at = out.latest->assessed_at;
    b.cluster = out.latest->cluster;
    b.team_id = out.latest->team_id;
    b.referral_id = open->id;
  }
  return out;
}

namespace {

ReviewBasis BasisOf(const Assessment& a, const std::string& referral_id) {
  ReviewBasis b;
  b.assessment_id = a.id;
  b.revision = a.revision;
  b.assessed_at = a.assessed_at;
  b.cluster = a.cluster;
  b.team_id = a.team_id;
  b.referral_id = referral_id;
  return b;
}

const ReferralPeriod* FindReferral(const CareRecord& record, const std::string& id) {
  for (const auto& r : record.referrals) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

}  // namespace

std::vector<CompletedReview> CompletedReviews(const PersonFacts& facts, const CareRecord& record) {
  std::vector<CompletedReview> out;
  const Assessment* previous = nullptr;
  std::string previous_referral;
  for (const Assessment* a : facts.LiveAssessments()) {
    auto it = record.referral_of.find(a->id);
    if (it == record.referral_of.end()) continue;
    if (previous != nullptr && previous_referral == it->second) {
      out.push_back({BasisOf(*previous, previous_referral), a});
    }
    previous = a;
    previous_referral = it->second;
  }
  return out;
}

std::optional<ReviewBasis> BasisAt(const PersonFacts& facts, const CareRecord& record, absl::Time t) {
  const Assessment* latest = nullptr;
  for (const Assessment* a : facts.LiveAssessments()) {
    if (a->assessed_at <= t) latest = a;  // the ledger's order is assessed_at first
  }
  if (latest == nullptr) return std::nullopt;
  auto it = record.referral_of.find(latest->id);
  if (it == record.referral_of.end()) return std::nullopt;
  const ReferralPeriod* r = FindReferral(record, it->second);
  if (r == nullptr || (!r->open() && *r->closed_at < t)) return std::nullopt;
  return BasisOf(*latest, r->id);
}

const Assessment* AssessmentInEffectAt(const PersonFacts& facts, const CareRecord& record, absl::Time t) {
  const ReferralPeriod* period = record.ReferralAt(t);
  if (period == nullptr) return nullptr;
  const Assessment* found = nullptr;
  for (const Assessment* a : facts.LiveAssessments()) {
    auto of = record.referral_of.find(a->id);
    auto from = record.takes_effect_.find(a->id);
    if (of == record.referral_of.end() || of->second != period->id || from == record.takes_effect_.end()) continue;
    if (from->second <= t) found = a;  // the last in the ledger's order
  }
  return found;
}

namespace {

std::optional<care::ReviewTriggerKind> TriggerKindOf(const CareEvent& e) {
  switch (e.kind) {
    case CareEventKind::kReferralToCrht:
    case CareEventKind::kReferralToInpatients:
      return e.out_of_hours ? care::ReviewTriggerKind::kOutOfHoursReferral : care::ReviewTriggerKind::kInHoursReferral;
    case CareEventKind::kDischargeReview: return care::ReviewTriggerKind::kDischargeReview;
    case CareEventKind::kAdmission: return care::ReviewTriggerKind::kInpatientAdmission;
    default: return std::nullopt;
  }
}

}  // namespace

std::vector<TriggeredReview> TriggeredReviews(const PersonFacts& facts, const CareRecord& record,
                                              const care::KpiSettings& timing, absl::TimeZone clinical) {
  std::vector<TriggeredReview> out;
  const std::vector<const Assessment*> assessments = facts.LiveAssessments();
  for (const CareEvent* e : facts.LiveCareEvents()) {
    const std::optional<care::ReviewTriggerKind> kind = TriggerKindOf(*e);
    if (!kind.has_value()) continue;
    std::optional<ReviewBasis> basis = BasisAt(facts, record, e->occurred_at);
    // A transfer or a discharge reviews a cluster the person has; an admission awaits a first one.
    const bool admission = *kind == care::ReviewTriggerKind::kInpatientAdmission;
    if (basis.has_value() == admission) continue;
    TriggeredReview& t = out.emplace_back();
    t.event = e;
    t.kind = *kind;
    t.window = care::TriggerWindow(timing, *kind, e->occurred_at, clinical);
    t.basis = std::move(basis);
    auto met = std::find_if(assessments.begin(), assessments.end(),
                            [&](const Assessment* a) { return care::MeetsTrigger(t.window, a->assessed_at); });
    if (met != assessments.end()) t.answered_by = *met;
  }
  return out;
}

}  // namespace pbr::ledger
