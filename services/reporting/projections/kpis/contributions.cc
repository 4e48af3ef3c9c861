#include "projections/kpis/contributions.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "care/period.h"
#include "care/teams.h"
#include "platform/events.h"

namespace pbr::reporting::kpis {
namespace {

using platform::ClinicalDay;

Scope ScopeOfAssessment(const ledger::Assessment& a) {
  return Scope{a.team_id, a.service_area, care::CommissionerOrUnknown(a.commissioner_id)};
}

// A record with no assessment to go by counts under a team: the registry gives its service area and
// commissioner (unknown when the team is not registered or names none).
Scope ScopeOfTeam(const care::RuleSet& rules, const std::string& team_id) {
  Scope s;
  s.team_id = team_id;
  if (const care::Team* t = rules.teams().Find(team_id)) {
    s.service_area = t->service_area;
    s.commissioner_id = t->default_commissioner;
  }
  s.commissioner_id = care::CommissionerOrUnknown(s.commissioner_id);
  return s;
}

const AssessmentExtras& ExtrasOf(const ExtrasById& extras, const std::string& id) {
  static const AssessmentExtras kNone;
  auto it = extras.find(id);
  return it == extras.end() ? kNone : it->second;
}

class Builder {
 public:
  Builder(const care::RuleSet& rules, care::ReviewPolicy policy, absl::string_view person_id,
          const ledger::PersonFacts& facts, const ExtrasById& extras)
      : rules_(rules),
        k_(rules.kpis()),
        policy_(policy),
        facts_(facts),
        extras_(extras),
        record_(ledger::Derive(person_id, facts)),
        assessments_(facts.LiveAssessments()),
        events_(facts.LiveCareEvents()) {}

  absl::StatusOr<Contributions> Build() {
    for (const ledger::ReferralPeriod& r : record_.referrals) {
      if (auto st = Stock(r); !st.ok()) return st;
      InitialAllocation(r);
      InitialContacts(r);
    }
    if (auto st = FormalReviewsFallingDue(); !st.ok()) return st;
    FormalReviewsDone();
    Triggers();
    return std::move(out_);
  }

 private:
  bool InPeriod(absl::string_view fact_id, const ledger::ReferralPeriod& r) const {
    auto it = record_.referral_of.find(std::string(fact_id));
    return it != record_.referral_of.end() && it->second == r.id;
  }
  std::vector<const ledger::Assessment*> AssessmentsOf(const ledger::ReferralPeriod& r) const {
    std::vector<const ledger::Assessment*> out;
    for (const ledger::Assessment* a : assessments_) {
      if (InPeriod(a->id, r)) out.push_back(a);
    }
    return out;
  }
  std::vector<const ledger::CareEvent*> ContactsOf(const ledger::ReferralPeriod& r) const {
    std::vector<const ledger::CareEvent*> out;
    for (const ledger::CareEvent* e : events_) {
      if (e->kind == ledger::CareEventKind::kFaceToFaceContact && InPeriod(e->id, r)) out.push_back(e);
    }
    return out;
  }
  absl::StatusOr<care::ReviewDue> DueOf(const ledger::Assessment& a) const {
    auto due = rules_.ReviewDueDate(a.cluster, ClinicalDay(a.assessed_at), policy_);
    if (!due.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cluster: assessment ", a.id, ": ", due.status().message()));
    }
    return due;
  }
  void AddFlow(int kpi, const Scope& scope, absl::CivilDay reference, const care::KpiJudgement& j) {
    out_.flow.push_back({kpi, scope, reference, std::max(reference, j.decided_on), j.met});
  }

  // KPIs 1-3: an active case at the end of day D has the period opened by then and not yet closed. It
  // has a cluster when one of the period's assessments is in effect at that instant (by effective time:
  // an inpatient initial allocation counts from the admission it is back-dated to, as the episodes and the
  // national measures do), and that assessment says where it counts; otherwise it counts under the team
  // that opened the period. The figures change only on a day an assessment takes effect (its effective
  // day, or the period's opening) or on a due date (KPI 2, from the MHCT day), so the period is cut there.
  absl::Status Stock(const ledger::ReferralPeriod& r) {
    const absl::CivilDay open = ClinicalDay(r.opened_at);
    std::optional<absl::CivilDay> close;  // the first day it is not active at the day's end
    if (r.closed_at.has_value()) close = ClinicalDay(*r.closed_at);
    if (close.has_value() && *close <= open) return absl::OkStatus();
    std::set<absl::CivilDay> cuts = {open};
    for (const ledger::Assessment* a : AssessmentsOf(r)) {
      auto due = DueOf(*a);
      if (!due.ok()) return due.status();
      for (absl::CivilDay d : {ClinicalDay(a->effective_at), due->due}) {
        if (d > open && (!close.has_value() || d < *close)) cuts.insert(d);
      }
    }
    Scope opener;
    if (r.opened_by_assessment) {
      if (const ledger::Assessment* a = facts_.FindAssessment(r.opened_by)) opener = ScopeOfAssessment(*a);
    } else if (auto e = facts_.care_events().find(r.opened_by); e != facts_.care_events().end()) {
      opener = ScopeOfTeam(rules_, e->second.team_id);
    }
    const std::vector<absl::CivilDay> days(cuts.begin(), cuts.end());
    for (size_t i = 0; i < days.size(); ++i) {
      StockSegment s;
      s.first = days[i];
      if (i + 1 < days.size()) {
        s.last = days[i + 1] - 1;
      } else if (close.has_value()) {
        s.last = *close - 1;
      }
      s.scope = opener;
      const ledger::Assessment* a =
          ledger::AssessmentInEffectAt(facts_, record_, care::EndOfDay(s.first, platform::ClinicalTimeZone()));
      if (a != nullptr && InPeriod(a->id, r)) {
        const care::CaseloadRecord c{a->cluster, ClinicalDay(a->assessed_at), a->service_area};
        const care::CaseJudgement j = care::JudgeCase(rules_, c, s.first, policy_);
        s.scope = ScopeOfAssessment(*a);
        s.with_cluster = j.with_cluster;
        s.secondary_care = j.secondary_care;
        s.within_review_period = j.within_review_period;
        s.fits_service_area = j.fits_service_area;
      }
      StockSegment* last = out_.stock.empty() ? nullptr : &out_.stock.back();
      if (last != nullptr && last->last.has_value() && *last->last + 1 == s.first && last->scope == s.scope &&
          last->with_cluster == s.with_cluster && last->secondary_care == s.secondary_care &&
          last->within_review_period == s.within_review_period && last->fits_service_area == s.fits_service_area) {
        last->last = s.last;  // the same figures go on: one segment
      } else {
        out_.stock.push_back(std::move(s));
      }
    }
    return absl::OkStatus();
  }

  // KPIs 4 and 6: the period's first live assessment is its initial allocation.
  void InitialAllocation(const ledger::ReferralPeriod& r) {
    const std::vector<const ledger::Assessment*> of = AssessmentsOf(r);
    if (of.empty()) return;
    const ledger::Assessment& a = *of.front();
    const AssessmentExtras& x = ExtrasOf(extras_, a.id);
    int contacts = x.face_to_face_contacts;
    if (contacts <= 0) {
      contacts = 0;
      for (const ledger::CareEvent* e : ContactsOf(r)) {
        if (e->occurred_at <= a.assessed_at) ++contacts;
      }
    }
    const absl::CivilDay day = ClinicalDay(a.assessed_at);
    const Scope scope = ScopeOfAssessment(a);
    AddFlow(4, scope, day,
            care::JudgeInitialAllocation(k_, a.assessed_at, x.admitted_at, contacts, platform::ClinicalTimeZone()));
    care::KpiJudgement red;
    red.met = care::RedRulesMet(x.red_rules);
    red.decided_on = day;
    AddFlow(6, scope, day, red);
  }

  // KPI 5: the period's contact times (its live face-to-face contacts, and the initial allocation's first
  // contact); the clock starts at the earliest, the second contact is the next. Not for an admission.
  void InitialContacts(const ledger::ReferralPeriod& r) {
    const std::vector<const ledger::Assessment*> of = AssessmentsOf(r);
    const ledger::Assessment* initial = of.empty() ? nullptr : of.front();
    const AssessmentExtras& x = initial != nullptr ? ExtrasOf(extras_, initial->id) : AssessmentExtras{};
    if (initial != nullptr && x.admitted_at.has_value()) return;
    const std::vector<const ledger::CareEvent*> contacts = ContactsOf(r);
    std::set<absl::Time> times;
    for (const ledger::CareEvent* e : contacts) times.insert(e->occurred_at);
    if (initial != nullptr && x.first_contact_at.has_value()) times.insert(*x.first_contact_at);
    if (times.empty()) return;
    const absl::CivilDay start = ClinicalDay(*times.begin());
    std::optional<absl::CivilDay> second;
    if (times.size() > 1) second = ClinicalDay(*std::next(times.begin()));
    const std::string& team = initial != nullptr ? initial->team_id : contacts.front()->team_id;
    const care::Team* registered = rules_.teams().Find(team);
    const bool memory = registered != nullptr && registered->memory_assessment_service;
    const Scope scope = initial != nullptr ? ScopeOfAssessment(*initial) : ScopeOfTeam(rules_, team);
    AddFlow(5, scope, start, care::JudgeInitialContacts(k_, start, second, memory));
  }

  // KPI 7: every live assessment's review falls due. Reviewed (a later assessment of its period
  // reviewed it), it is a record; unreviewed, only while its period was open at the end of the due day.
  absl::Status FormalReviewsFallingDue() {
    std::map<std::string, const ledger::Assessment*> reviewed_by;
    for (const ledger::CompletedReview& c : reviews_) reviewed_by[c.reviewed.assessment_id] = c.by;
    for (const ledger::Assessment* b : assessments_) {
      auto due = DueOf(*b);
      if (!due.ok()) return due.status();
      std::optional<absl::CivilDay> reviewed_on;
      if (auto it = reviewed_by.find(b->id); it != reviewed_by.end()) {
        reviewed_on = ClinicalDay(it->second->assessed_at);
      } else {
        auto of = record_.referral_of.find(b->id);
        const ledger::ReferralPeriod* r = nullptr;
        for (const auto& p : record_.referrals) {
          if (of != record_.referral_of.end() && p.id == of->second) r = &p;
        }
        if (r == nullptr || (r->closed_at.has_value() && ClinicalDay(*r->closed_at) <= due->due)) continue;
      }
      const care::KpiJudgement j = care::JudgeFormalReview(k_, *due, reviewed_on);
      if (!j.counted) continue;
      AddFlow(7, ScopeOfAssessment(*b), due->due, j);
    }
    return absl::OkStatus();
  }

  // KPI 8: each completed formal review, judged on its day by its transition-protocol check.
  void FormalReviewsDone() {
    for (const ledger::CompletedReview& c : reviews_) {
      if (c.by->kind != ledger::AssessmentKind::kFormalReview) continue;
      care::KpiJudgement j;
      j.met = care::TransitionAdherent(ExtrasOf(extras_, c.by->id).transition_protocol);
      j.decided_on = ClinicalDay(c.by->assessed_at);
      AddFlow(8, ScopeOfAssessment(*c.by), j.decided_on, j);
    }
  }

  // KPIs 9-13: the ledger's event-triggered reviews of a person with a cluster (transfers, discharge
  // reviews), counted where the basis at the event's time was; 11 and 13 judge the reviews that met them.
  void Triggers() {
    for (const ledger::TriggeredReview& t :
         ledger::TriggeredReviews(facts_, record_, k_, platform::ClinicalTimeZone())) {
      int timing = 0, adherence = 0;
      switch (t.kind) {
        case care::ReviewTriggerKind::kInHoursReferral: timing = 9, adherence = 11; break;
        case care::ReviewTriggerKind::kOutOfHoursReferral: timing = 10, adherence = 11; break;
        case care::ReviewTriggerKind::kDischargeReview: timing = 12, adherence = 13; break;
        case care::ReviewTriggerKind::kInpatientAdmission: continue;  // KPI 4 judges the allocation itself
      }
      const ledger::Assessment* basis = t.basis.has_value() ? facts_.FindAssessment(t.basis->assessment_id) : nullptr;
      if (basis == nullptr) continue;
      const Scope scope = ScopeOfAssessment(*basis);
      const absl::CivilDay reference = ClinicalDay(t.event->occurred_at);
      std::optional<absl::Time> answered;
      if (t.answered_by != nullptr) answered = t.answered_by->assessed_at;
      const care::KpiJudgement j =
          care::JudgeTrigger(t.window, t.event->occurred_at, answered, platform::ClinicalTimeZone());
      AddFlow(timing, scope, reference, j);
      if (!j.met) continue;
      care::KpiJudgement adherent = j;
      adherent.met = care::TransitionAdherent(ExtrasOf(extras_, t.answered_by->id).transition_protocol);
      AddFlow(adherence, scope, reference, adherent);
    }
  }

  const care::RuleSet& rules_;
  const care::KpiSettings& k_;
  const care::ReviewPolicy policy_;
  const ledger::PersonFacts& facts_;
  const ExtrasById& extras_;
  const ledger::CareRecord record_;
  const std::vector<const ledger::Assessment*> assessments_;
  const std::vector<const ledger::CareEvent*> events_;
  const std::vector<ledger::CompletedReview> reviews_ = ledger::CompletedReviews(facts_, record_);
  Contributions out_;
};

}  // namespace

absl::StatusOr<Contributions> ContributionsOf(const care::RuleSet& rules, care::ReviewPolicy policy,
                                              absl::string_view person_id, const ledger::PersonFacts& facts,
                                              const ExtrasById& extras) {
  return Builder(rules, policy, person_id, facts, extras).Build();
}

}  // namespace pbr::reporting::kpis
