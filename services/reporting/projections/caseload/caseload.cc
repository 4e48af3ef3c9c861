// Reporting's caseload read model: each assessment and care event is folded into the person's
// ledger facts and the person derived afresh by the shared ledger; outcomes keep each assessment's
// HoNOS; review-due keeps the last announcement of each of the person's latest reviews, and the
// caseload shows the one for the current review basis. Every write of a person moves their team index
// row and the team's counts with them, in the same batch.
#include "caseload.h"
#include "person_record.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "care/teams.h"
#include "google/protobuf/util/message_differencer.h"
#include "ledger/ledger.h"
#include "field_rules.h"
#include "ledger_store.h"
#include "pbr/state/v1/caseload_state.pb.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "platform/service_host.h"

namespace pbr::reporting {
namespace {

using platform::FromProto;
using pbr::state::v1::CaseloadAssessmentDetails;
using pbr::state::v1::CaseloadReviewEntry;
using pbr::state::v1::CaseloadRow;
using pbr::state::v1::ClusterCounts;
using pbr::state::v1::QualityCounts;
using pbr::state::v1::QualityShare;
using pbr::state::v1::ReportingAssessment;
using pbr::state::v1::ReportingPerson;

// The rule names allocation records its checks under (services/allocation/rule_checks.cc).
constexpr absl::string_view kRedRulesCheck = "red-rules";
constexpr absl::string_view kTransitionCheck = "transition-protocol";

// ---- the team's counts ----

// Adds `delta` to the counts stored at each key, read once and written once per message (each key's
// read comes before its write: see ApplyContext); a key whose counts fall to zero is removed, so a scan
// of a team's counts meets only what is held.
template <typename Counts>
absl::Status AddCounts(platform::ApplyContext& ctx, absl::string_view family, const std::map<std::string, Counts>& deltas,
                       void (*add)(Counts&, const Counts&), bool (*empty)(const Counts&)) {
  for (const auto& [key, delta] : deltas) {
    if (empty(delta)) continue;
    auto stored = ctx.store().Get(family, key);
    if (!stored.ok()) return stored.status();
    Counts counts;
    if (stored->has_value() && !counts.ParseFromString(**stored)) {
      return absl::DataLossError(absl::StrCat("stored counts are unreadable (family ", family, ")"));
    }
    add(counts, delta);
    if (empty(counts)) {
      ctx.batch().Delete(ctx.store().Family(family), key);
    } else {
      ctx.batch().Put(ctx.store().Family(family), key, counts.SerializeAsString());
    }
  }
  return absl::OkStatus();
}

void AddClusterCounts(ClusterCounts& to, const ClusterCounts& d) {
  to.set_people(to.people() + d.people());
  to.set_reviews_due(to.reviews_due() + d.reviews_due());
  to.set_reviews_overdue(to.reviews_overdue() + d.reviews_overdue());
  to.set_people_with_honos(to.people_with_honos() + d.people_with_honos());
  to.set_honos_sum(to.honos_sum() + d.honos_sum());
}

bool NoClusterCounts(const ClusterCounts& c) {
  return c.people() == 0 && c.reviews_due() == 0 && c.reviews_overdue() == 0 && c.people_with_honos() == 0 &&
         c.honos_sum() == 0;
}

void AddQualityCounts(QualityCounts& to, const QualityCounts& d) {
  to.set_initial_allocations(to.initial_allocations() + d.initial_allocations());
  to.set_red_rules_met(to.red_rules_met() + d.red_rules_met());
  to.set_reviews(to.reviews() + d.reviews());
  to.set_reviews_within_protocol(to.reviews_within_protocol() + d.reviews_within_protocol());
}

bool NoQualityCounts(const QualityCounts& c) {
  return c.initial_allocations() == 0 && c.red_rules_met() == 0 && c.reviews() == 0 && c.reviews_within_protocol() == 0;
}

// What one person on a caseload adds to their team's counts (`sign` -1 takes it away).
void CountRow(std::map<std::string, ClusterCounts>& deltas, absl::string_view team, const CaseloadRow& row, int sign) {
  ClusterCounts& c = deltas[ClusterCountsKey(team, row.care_coordinator_id(), row.cluster())];
  ClusterCounts one;
  one.set_people(sign);
  if (row.review_state() == pbr::v1::REVIEW_STATE_DUE) one.set_reviews_due(sign);
  if (row.review_state() == pbr::v1::REVIEW_STATE_OVERDUE) one.set_reviews_overdue(sign);
  if (row.has_honos()) {
    one.set_people_with_honos(sign);
    one.set_honos_sum(sign * static_cast<int64_t>(row.latest_honos_total()));
  }
  AddClusterCounts(c, one);
}

void CountShare(std::map<std::string, QualityCounts>& deltas, const QualityShare& s, int sign) {
  QualityCounts& c = deltas[QualityKey(s.team_id(), s.clinician_id())];
  QualityCounts one;
  if (s.initial()) {
    one.set_initial_allocations(sign);
    if (s.met()) one.set_red_rules_met(sign);
  } else {
    one.set_reviews(sign);
    if (s.met()) one.set_reviews_within_protocol(sign);
  }
  AddQualityCounts(c, one);
}

// On a caseload with a row derived by this build: what the team's counts hold. A person an earlier build
// wrote has no derived row (nor counts) until their facts next change.
bool CountedRow(const ReportingPerson& p) { return !p.team_id().empty() && p.row().in_cluster_since_day() != 0; }

// Writes the person, moving their team index row and the team's counts from what `before` (the person
// as stored) had added to what `after` adds. The row's review state is the announcement the caseload
// honours for the basis.
absl::Status Save(platform::ApplyContext& ctx, const std::string& person_id, const ReportingPerson& before,
                  ReportingPerson& after) {
  if (!after.team_id().empty()) {
    CaseloadRow& row = *after.mutable_row();
    const std::optional<pbr::v1::ReviewDue> announced = HonouredReview(after);
    const bool shown = announced.has_value() && (announced->state() == pbr::v1::REVIEW_STATE_DUE ||
                                                 announced->state() == pbr::v1::REVIEW_STATE_OVERDUE);
    row.set_review_state(shown ? announced->state() : pbr::v1::REVIEW_STATE_UPCOMING);
    // The scheduler's due date, as announced: reporting computes none.
    if (shown && announced->has_due_date()) {
      row.set_review_due_day(DayNumber(FromProto(announced->due_date())));
    } else {
      row.clear_review_due_day();
    }
  } else {
    after.clear_row();
  }
  auto& batch = ctx.batch();
  const std::string old_key = before.team_id().empty() ? "" : TeamIndexKey(before.team_id(), person_id);
  const std::string new_key = after.team_id().empty() ? "" : TeamIndexKey(after.team_id(), person_id);
  if (!old_key.empty() && old_key != new_key) batch.Delete(ctx.store().Family(kCaseloadTeamIndexFamily), old_key);
  if (!new_key.empty() &&
      (old_key != new_key || !google::protobuf::util::MessageDifferencer::Equals(before.row(), after.row()))) {
    batch.Put(ctx.store().Family(kCaseloadTeamIndexFamily), new_key, after.row().SerializeAsString());
  }

  // The review index: one entry while the person is on a caseload with a review announced DUE or OVERDUE.
  auto review_entry = [&person_id](const ReportingPerson& p) -> std::optional<std::pair<std::string, CaseloadReviewEntry>> {
    if (!CountedRow(p) || !p.row().has_review_due_day()) return std::nullopt;
    CaseloadReviewEntry e;
    e.set_team_id(p.team_id());
    e.set_cluster(p.row().cluster());
    e.set_review_state(p.row().review_state());
    e.set_due_day(p.row().review_due_day());
    e.set_commissioner_id(p.row().commissioner_id());
    return std::make_pair(ReviewIndexKey(p.row().review_due_day(), person_id), std::move(e));
  };
  const auto old_review = review_entry(before);
  const auto new_review = review_entry(after);
  const std::string old_review_key = old_review ? old_review->first : "";
  const std::string new_review_key = new_review ? new_review->first : "";
  if (!old_review_key.empty() && old_review_key != new_review_key) {
    batch.Delete(ctx.store().Family(kCaseloadReviewsFamily), old_review_key);
  }
  if (!new_review_key.empty() &&
      (old_review_key != new_review_key ||
       !google::protobuf::util::MessageDifferencer::Equals(old_review->second, new_review->second))) {
    batch.Put(ctx.store().Family(kCaseloadReviewsFamily), new_review_key, new_review->second.SerializeAsString());
  }

  std::map<std::string, ClusterCounts> clusters;
  if (CountedRow(before)) CountRow(clusters, before.team_id(), before.row(), -1);
  if (CountedRow(after)) CountRow(clusters, after.team_id(), after.row(), +1);
  if (auto st = AddCounts(ctx, kCaseloadClustersFamily, clusters, &AddClusterCounts, &NoClusterCounts); !st.ok()) {
    return st;
  }
  std::map<std::string, QualityCounts> quality;
  for (const QualityShare& s : before.quality()) CountShare(quality, s, -1);
  for (const QualityShare& s : after.quality()) CountShare(quality, s, +1);
  if (auto st = AddCounts(ctx, kCaseloadQualityFamily, quality, &AddQualityCounts, &NoQualityCounts); !st.ok()) {
    return st;
  }
  batch.Put(ctx.store().Family(kCaseloadPersonsFamily), person_id, after.SerializeAsString());
  return absl::OkStatus();
}

// ---- what is held per assessment ----

// The HoNOS held for one assessment, as last received from outcomes ("<person>/<assessment id>").
std::string HonosKey(absl::string_view person_id, absl::string_view assessment_id) {
  return absl::StrCat(person_id, "/", assessment_id);
}

absl::StatusOr<std::optional<ReportingAssessment>> LoadHonos(const platform::StoreReader& store, absl::string_view person_id,
                                                             absl::string_view assessment_id) {
  auto stored = store.Get(kCaseloadAssessmentsFamily, HonosKey(person_id, assessment_id));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<ReportingAssessment>();
  ReportingAssessment a;
  if (!a.ParseFromString(**stored)) return absl::DataLossError("stored assessment outcome is unreadable");
  return std::optional<ReportingAssessment>(std::move(a));
}

// What the caseload keeps of an assessment beyond its ledger fact. Allocation records one check per
// rule; were there several, any failure counts.
CaseloadAssessmentDetails DetailsOf(const pbr::v1::AssessmentRecorded& a) {
  CaseloadAssessmentDetails d;
  d.set_assessment_id(a.assessment_id());
  d.set_clinician_id(a.clinician_id());
  d.set_care_coordinator_id(a.care_coordinator_id());
  bool red_failed = false;
  for (const pbr::v1::RuleCheck& c : a.checks()) {
    if (c.rule() == kRedRulesCheck) {
      d.set_red_rules_checked(true);
      red_failed = red_failed || !c.passed();
    } else if (c.rule() == kTransitionCheck) {
      d.set_transition_checked(true);
      if (!c.passed() && !c.advisory()) d.set_transition_breached(true);
    }
  }
  d.set_red_rules_passed(d.red_rules_checked() && !red_failed);
  return d;
}

absl::StatusOr<CaseloadAssessmentDetails> LoadDetails(const platform::StoreReader& store, absl::string_view person_id,
                                                      absl::string_view assessment_id) {
  CaseloadAssessmentDetails d;
  auto stored = store.Get(kCaseloadDetailsFamily, AssessmentDetailsKey(person_id, assessment_id));
  if (!stored.ok()) return stored.status();
  // None held (never received by this build): no clinician, no checks.
  if (!stored->has_value()) {
    d.set_assessment_id(std::string(assessment_id));
    return d;
  }
  if (!d.ParseFromString(**stored)) return absl::DataLossError("stored assessment details are unreadable");
  return d;
}

// ---- deriving the person ----

// What this message staged and the store's reads do not see yet.
struct Fresh {
  const CaseloadAssessmentDetails* details = nullptr;
};

// Shows the review basis's HoNOS (`honos`, the outcome held for it, if any) on the person and their
// caseload row; the person's latest_assessed_at is the basis's MHCT time.
void ShowHonos(const std::optional<ReportingAssessment>& honos, ReportingPerson& p) {
  CaseloadRow& row = *p.mutable_row();
  p.clear_has_honos();
  p.clear_latest_honos_total();
  p.clear_honos_assessed_at();
  row.clear_has_honos();
  row.clear_latest_honos_total();
  row.clear_reliable_deterioration();
  if (!honos.has_value() || !honos->has_outcome()) return;
  p.set_has_honos(honos->honos_valid());
  p.set_latest_honos_total(honos->honos_total());
  *p.mutable_honos_assessed_at() = p.latest_assessed_at();
  row.set_has_honos(honos->honos_valid());
  row.set_latest_honos_total(honos->honos_total());
  row.set_reliable_deterioration(honos->episode_reliably_deteriorated());
}

// The person's face-to-face contacts per clinical day, only the days within kRecentContactDays of the
// latest (what any count up to a today on or after the latest can need), and the latest of the open
// referral period.
void CountContacts(const ledger::PersonFacts& facts, const ledger::CareRecord& record, const std::string& open_referral,
                   CaseloadRow& row) {
  std::map<int32_t, int32_t> per_day;
  std::optional<absl::Time> last_in_period;
  for (const ledger::CareEvent* e : facts.LiveCareEvents()) {
    if (e->kind != ledger::CareEventKind::kFaceToFaceContact) continue;
    ++per_day[DayNumber(platform::ClinicalDay(e->occurred_at))];
    auto it = record.referral_of.find(e->id);
    if (it != record.referral_of.end() && it->second == open_referral &&
        (!last_in_period.has_value() || e->occurred_at > *last_in_period)) {
      last_in_period = e->occurred_at;
    }
  }
  if (!per_day.empty()) {
    const int32_t from = per_day.rbegin()->first - (care::kRecentContactDays - 1);
    for (auto it = per_day.lower_bound(from); it != per_day.end(); ++it) {
      row.add_contact_days(it->first);
      row.add_contact_counts(it->second);
    }
  }
  if (last_in_period.has_value()) row.set_last_contact_day(DayNumber(platform::ClinicalDay(*last_in_period)));
}

// Derives the person afresh from their ledger facts and saves them. They are on a caseload only while
// they have an open referral period with a current cluster episode: their team is the review basis's
// (the latest live assessment of the open referral), their cluster the episode's, their HoNOS and care
// co-ordinator the basis's. Otherwise (discharged, referred but not yet allocated, nothing live) they
// leave every caseload. Whatever their care now, each of their live assessments counts in its team's
// clustering quality: the first of its referral period as an initial allocation, every later one as a
// review (it completed the review of the one before, ledger::CompletedReviews).
absl::Status Refold(platform::ApplyContext& ctx, const std::string& person_id, const ledger::PersonFacts& facts,
                    Fresh fresh = {}) {
  auto p = LoadPerson(ctx.store(), person_id);
  if (!p.ok()) return p.status();
  const ReportingPerson before = *p;
  p->clear_team_id();
  p->clear_cluster();
  p->clear_latest_assessment_id();
  p->clear_latest_assessed_at();
  p->clear_has_honos();
  p->clear_latest_honos_total();
  p->clear_honos_assessed_at();
  p->clear_row();
  p->clear_quality();
  const ledger::CareRecord record = ledger::Derive(person_id, facts);

  std::map<std::string, CaseloadAssessmentDetails> details;
  std::map<std::string, std::string> first_of_referral;  // referral id -> its first live assessment
  for (const ledger::Assessment* a : facts.LiveAssessments()) {
    if (fresh.details != nullptr && fresh.details->assessment_id() == a->id) {
      details[a->id] = *fresh.details;
    } else {
      auto held = LoadDetails(ctx.store(), person_id, a->id);
      if (!held.ok()) return held.status();
      details[a->id] = *std::move(held);
    }
    const CaseloadAssessmentDetails& d = details[a->id];
    auto referral = record.referral_of.find(a->id);
    if (referral == record.referral_of.end()) continue;  // every live assessment has one
    const bool initial = first_of_referral.emplace(referral->second, a->id).second;
    QualityShare& s = *p->add_quality();
    s.set_team_id(a->team_id);
    s.set_clinician_id(d.clinician_id());
    s.set_initial(initial);
    // A review without a transition check kept its cluster or had none to follow: within protocol.
    s.set_met(initial ? d.red_rules_passed() : !d.transition_breached());
  }

  const ledger::Episode* episode = record.current_episode();
  const std::optional<ledger::ReviewBasis> basis = record.review_basis();
  const ledger::ReferralPeriod* open = record.open_referral();
  if (episode != nullptr && basis.has_value() && open != nullptr) {
    p->set_team_id(basis->team_id);
    p->set_cluster(episode->cluster);
    p->set_latest_assessment_id(basis->assessment_id);
    *p->mutable_latest_assessed_at() = platform::ToProto(basis->assessed_at);
    auto honos = LoadHonos(ctx.store(), person_id, basis->assessment_id);
    if (!honos.ok()) return honos.status();
    CaseloadRow& row = *p->mutable_row();
    row.set_cluster(episode->cluster);
    ShowHonos(*honos, *p);
    const CaseloadAssessmentDetails& d = details[basis->assessment_id];
    row.set_care_coordinator_id(!d.care_coordinator_id().empty() ? d.care_coordinator_id() : d.clinician_id());
    const ledger::Assessment* basis_assessment = facts.FindAssessment(basis->assessment_id);
    row.set_commissioner_id(
        care::CommissionerOrUnknown(basis_assessment != nullptr ? basis_assessment->commissioner_id : ""));
    row.set_in_cluster_since_day(DayNumber(platform::ClinicalDay(episode->started_at)));
    row.set_referral_opened_day(DayNumber(platform::ClinicalDay(open->opened_at)));
    CountContacts(facts, record, open->id, row);
    // The basis reviewed an earlier assessment of its period (it is not the period's first) and its
    // cluster change breached the transition protocol.
    auto first = first_of_referral.find(open->id);
    row.set_transition_outside_protocol(first != first_of_referral.end() && first->second != basis->assessment_id &&
                                        d.transition_breached());
  }
  return Save(ctx, person_id, before, *p);
}

// Running per-team counts of live assessments: exact because each event is applied exactly once.
absl::Status AddToTeamCounts(platform::ApplyContext& ctx, const std::map<std::string, int64_t>& deltas) {
  for (const auto& [team, delta] : deltas) {
    if (delta == 0) continue;
    auto count = ctx.store().Get(kCaseloadTeamCountsFamily, team);
    if (!count.ok()) return count.status();
    int64_t n = 0;
    if (count->has_value() && !absl::SimpleAtoi(**count, &n)) return absl::DataLossError("stored team count is unreadable");
    ctx.batch().Put(ctx.store().Family(kCaseloadTeamCountsFamily), team, absl::StrCat(n + delta));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CaseloadProjection::derivation() const {
  return rules_ != nullptr ? absl::StrCat("rules ", rules_->care_version(), "; review index") : "review index";
}

std::vector<std::string> CaseloadProjection::topics() const {
  namespace topic = platform::topic;
  return {std::string(topic::kAssessmentRecorded), std::string(topic::kCareEventRecorded),
          std::string(topic::kOutcomeRecorded), std::string(topic::kReviewDue)};
}

std::vector<std::string> CaseloadProjection::families() const {
  return {std::begin(kCaseloadFamilies), std::end(kCaseloadFamilies)};
}

absl::Status CaseloadProjection::Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  namespace topic = platform::topic;
  if (event.topic_name == topic::kAssessmentRecorded) return OnAssessment(event, ctx);
  if (event.topic_name == topic::kCareEventRecorded) return OnCareEvent(event, ctx);
  if (event.topic_name == topic::kOutcomeRecorded) return OnOutcome(event, ctx);
  if (event.topic_name == topic::kReviewDue) return OnReviewDue(event, ctx);
  return absl::OkStatus();
}

absl::Status CaseloadProjection::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  if (!a.withdrawn() && !a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");
  auto facts = services::LoadPersonFacts(ctx.store(), kCaseloadLedgerFamily, person_id);
  if (!facts.ok()) return facts.status();
  std::optional<ledger::Assessment> before;
  if (const ledger::Assessment* held = facts->FindAssessment(a.assessment_id())) before = *held;
  if (!facts->Fold(services::AssessmentFromEvent(a))) return absl::OkStatus();  // stale or repeated
  const ledger::Assessment& now = *facts->FindAssessment(a.assessment_id());
  services::StageFact(ctx, kCaseloadLedgerFamily, person_id, now);
  std::optional<CaseloadAssessmentDetails> details;
  if (now.withdrawn) {
    // Its HoNOS goes with it (outcomes does not announce withdrawals, so this is where reporting
    // learns of them); a late outcome for it is refused by the ledger's tombstone.
    ctx.batch().Delete(ctx.store().Family(kCaseloadAssessmentsFamily), HonosKey(person_id, a.assessment_id()));
    ctx.batch().Delete(ctx.store().Family(kCaseloadDetailsFamily), AssessmentDetailsKey(person_id, a.assessment_id()));
  } else {
    details = DetailsOf(a);
    ctx.batch().Put(ctx.store().Family(kCaseloadDetailsFamily), AssessmentDetailsKey(person_id, a.assessment_id()),
                    details->SerializeAsString());
  }

  // Recorded counts follow the assessment: a move between teams moves one, a withdrawal removes one.
  std::map<std::string, int64_t> deltas;
  if (before.has_value() && !before->withdrawn) --deltas[before->team_id];
  if (!now.withdrawn) ++deltas[now.team_id];
  if (auto st = AddToTeamCounts(ctx, deltas); !st.ok()) return st;
  return Refold(ctx, person_id, *facts, Fresh{details.has_value() ? &*details : nullptr});
}

absl::Status CaseloadProjection::OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const std::string& person_id = event.event.person_id();
  auto folded = services::FoldCareEventRecorded(event, ctx, kCaseloadLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Refold(ctx, person_id, folded->facts);
}

absl::Status CaseloadProjection::OnOutcome(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& o = event.event.outcome_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (o.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  auto fact = services::LoadLedgerAssessment(ctx.store(), kCaseloadLedgerFamily, person_id, o.assessment_id());
  if (!fact.ok()) return fact.status();
  // A withdrawn assessment has no outcome, whatever arrives for it afterwards. Otherwise the
  // outcome last received wins: outcomes announces revisions in order on one partition. An
  // outcome may arrive before its assessment (the topics are not ordered with each other).
  if (fact->has_value() && (*fact)->withdrawn) return absl::OkStatus();
  ReportingAssessment held;
  held.set_assessment_id(o.assessment_id());
  const std::string key = HonosKey(person_id, o.assessment_id());
  if (o.withdrawn()) {  // the assessment's own withdrawal may not have arrived yet
    ctx.batch().Delete(ctx.store().Family(kCaseloadAssessmentsFamily), key);
  } else {
    held.set_has_outcome(true);
    held.set_honos_total(o.honos_total());
    held.set_honos_valid(o.total_valid());
    // The referral period's pair (first against last valid rating) as it stands after this change.
    held.set_episode_reliably_deteriorated(o.has_episode() && o.episode().paired() &&
                                           o.episode().change().reliable_change() ==
                                               pbr::v1::RELIABLE_CHANGE_DETERIORATED);
    ctx.batch().Put(ctx.store().Family(kCaseloadAssessmentsFamily), key, held.SerializeAsString());
  }
  // An outcome is no ledger fact: the person as derived at their last fact stands, and only the
  // review basis's HoNOS is shown, so an outcome of any other assessment changes nothing shown (a
  // bulk load's initial assessments, reviewed since). Refold reads the held outcome when the
  // assessment becomes the basis.
  auto p = LoadPerson(ctx.store(), person_id);
  if (!p.ok()) return p.status();
  if (p->latest_assessment_id() != o.assessment_id()) return absl::OkStatus();
  ReportingPerson next = *p;
  ShowHonos(held, next);
  return Save(ctx, person_id, *p, next);
}

absl::Status CaseloadProjection::OnReviewDue(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& r = event.event.review_due();
  // A missed event-triggered review (or its retraction) says nothing about the formal review: its
  // OVERDUE and basis fields are the trigger's, not an announcement of the review's state. Not kept
  // here (KPI reporting will build on it), and not refused.
  if (r.has_trigger()) return absl::OkStatus();
  if (r.basis_assessment_id().empty()) return absl::InvalidArgumentError("basis_assessment_id: empty");
  if (!r.has_latest_mhct_date()) {
    return absl::InvalidArgumentError("latest_mhct_date: missing (with the basis and cluster it identifies the review)");
  }
  const std::string& person_id = event.event.person_id();
  auto p = LoadPerson(ctx.store(), person_id);
  if (!p.ok()) return p.status();
  const ReportingPerson before = *p;
  // The last announcement for each review key wins: the scheduler announces one person's reviews in
  // order on this topic, and a review's state only moves forward, so nothing is ranked here (an
  // "overdue outranks due" rule would drop a legitimate re-announcement). Kept per key, for the 4
  // reviews announced most recently, rather than only the person's last announcement: the
  // assessment and care-event topics are not ordered with this one, so reporting's basis may still
  // be one the scheduler has since moved on from (its announcements for the new basis arrived
  // first), or may return to one (a withdrawal, an amendment undone, a discharge withdrawn) before
  // the scheduler's re-announcement of it arrives; either way the caseload shows what was announced
  // for the basis reporting holds. A basis older than the 4 shows UPCOMING until its re-announcement.
  constexpr int kReviewsKept = 4;
  if (std::optional<pbr::v1::ReviewDue> legacy = LegacyReview(*p)) *p->add_reviews() = *std::move(legacy);
  p->clear_review_basis_assessment_id();
  p->clear_review_state();
  p->clear_review_mhct_date();
  p->clear_review_cluster();
  pbr::v1::ReviewDue kept;  // the key, the state and the due date: all the caseload shows
  kept.set_basis_assessment_id(r.basis_assessment_id());
  *kept.mutable_latest_mhct_date() = r.latest_mhct_date();
  kept.set_cluster(r.cluster());
  kept.set_state(r.state());
  if (r.has_due_date()) *kept.mutable_due_date() = r.due_date();
  auto* reviews = p->mutable_reviews();
  for (int i = reviews->size() - 1; i >= 0; --i) {
    if (SameReview(reviews->Get(i), kept)) reviews->DeleteSubrange(i, 1);
  }
  *reviews->Add() = std::move(kept);
  if (reviews->size() > kReviewsKept) reviews->DeleteSubrange(0, reviews->size() - kReviewsKept);
  return Save(ctx, person_id, before, *p);
}

}  // namespace pbr::reporting
