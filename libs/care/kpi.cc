#include "care/kpi.h"
#include "internal.h"

#include "care/rules.h"
#include "care/review_triggers.h"
#include <algorithm>

namespace care {

KpiResult MakeKpiResult(const KpiSettings& settings, std::string_view id, int64_t numerator,
                        int64_t denominator, std::string rule_version) {
  KpiResult r;
  r.id = std::string(id);
  auto it = settings.kpis.find(r.id);
  if (it != settings.kpis.end()) {
    r.title = it->second.title;
    r.target_percent = it->second.target_percent;
  }
  r.numerator = numerator;
  r.denominator = denominator;
  if (denominator > 0) {
    r.percent = 100.0 * static_cast<double>(numerator) / static_cast<double>(denominator);
    // Compare in integers so 95% of 20 (19/20) meets a 95% target exactly.
    r.met = static_cast<double>(numerator) * 100.0 >= r.target_percent * static_cast<double>(denominator);
  }
  r.rule_version = std::move(rule_version);
  return r;
}

namespace {

bool HasValidCluster(const CaseloadRecord& c) { return c.cluster.has_value() && IsValidClusterId(*c.cluster); }

}  // namespace

std::string_view EarlyReviewName(EarlyReview v) {
  switch (v) {
    case EarlyReview::kMet: return "met";
    case EarlyReview::kNotMet: return "not_met";
    case EarlyReview::kExcluded: return "excluded";
  }
  return "";
}

absl::StatusOr<EarlyReview> ParseEarlyReview(std::string_view name) {
  for (EarlyReview v : {EarlyReview::kMet, EarlyReview::kNotMet, EarlyReview::kExcluded}) {
    if (name == EarlyReviewName(v)) return v;
  }
  return absl::InvalidArgumentError(internal::Cat("\"", name, "\" is not one of met, not_met, excluded"));
}

std::string_view OutOfHoursWindowName(OutOfHoursWindow v) {
  switch (v) {
    case OutOfHoursWindow::kAfter: return "after";
    case OutOfHoursWindow::kEitherSide: return "either_side";
  }
  return "";
}

absl::StatusOr<OutOfHoursWindow> ParseOutOfHoursWindow(std::string_view name) {
  for (OutOfHoursWindow v : {OutOfHoursWindow::kAfter, OutOfHoursWindow::kEitherSide}) {
    if (name == OutOfHoursWindowName(v)) return v;
  }
  return absl::InvalidArgumentError(internal::Cat("\"", name, "\" is not one of after, either_side"));
}

std::string_view DischargeReviewWindowName(DischargeReviewWindow v) {
  switch (v) {
    case DischargeReviewWindow::kEitherSide: return "either_side";
    case DischargeReviewWindow::kAfter: return "after";
    case DischargeReviewWindow::kBefore: return "before";
  }
  return "";
}

absl::StatusOr<DischargeReviewWindow> ParseDischargeReviewWindow(std::string_view name) {
  for (DischargeReviewWindow v :
       {DischargeReviewWindow::kEitherSide, DischargeReviewWindow::kAfter, DischargeReviewWindow::kBefore}) {
    if (name == DischargeReviewWindowName(v)) return v;
  }
  return absl::InvalidArgumentError(internal::Cat("\"", name, "\" is not one of either_side, after, before"));
}

// ---- one record at a time ----

KpiJudgement JudgeInitialAllocation(const KpiSettings& k, absl::Time assessed_at,
                                    std::optional<absl::Time> admitted_at, int contacts_to_allocation,
                                    absl::TimeZone clinical) {
  KpiJudgement j;
  j.decided_on = absl::ToCivilDay(assessed_at, clinical);
  if (admitted_at.has_value()) {
    j.met = MeetsTrigger(TriggerWindow(k, ReviewTriggerKind::kInpatientAdmission, *admitted_at, clinical), assessed_at);
  } else {
    j.met = contacts_to_allocation <= k.max_initial_contacts;
  }
  return j;
}

absl::CivilDay InitialContactsDeadline(const KpiSettings& k, absl::CivilDay clock_start, bool memory_assessment) {
  return clock_start + (memory_assessment ? k.memory_initial_contacts_days : k.initial_contacts_days);
}

KpiJudgement JudgeInitialContacts(const KpiSettings& k, absl::CivilDay clock_start,
                                  std::optional<absl::CivilDay> second_contact, bool memory_assessment) {
  const absl::CivilDay deadline = InitialContactsDeadline(k, clock_start, memory_assessment);
  KpiJudgement j;
  j.met = second_contact.has_value() && *second_contact <= deadline;
  j.decided_on = j.met ? std::max(*second_contact, clock_start) : deadline + 1;
  return j;
}

KpiJudgement JudgeFormalReview(const KpiSettings& k, const ReviewDue& due, std::optional<absl::CivilDay> reviewed_on) {
  KpiJudgement j;
  if (reviewed_on.has_value() && *reviewed_on < due.window_opens) {
    j.counted = k.early_review != EarlyReview::kExcluded;
    j.met = k.early_review == EarlyReview::kMet;
  } else {
    j.met = reviewed_on.has_value() && *reviewed_on <= due.due;
  }
  j.decided_on = j.met ? due.due : due.due + 1;
  return j;
}

KpiJudgement JudgeTrigger(const ReviewTriggerWindow& w, absl::Time occurred_at, std::optional<absl::Time> answered_at,
                          absl::TimeZone clinical) {
  const absl::CivilDay reference = absl::ToCivilDay(occurred_at, clinical);
  KpiJudgement j;
  j.met = answered_at.has_value() && MeetsTrigger(w, *answered_at);
  j.decided_on = j.met ? std::max(reference, absl::ToCivilDay(*answered_at, clinical))
                       : std::max(reference, absl::ToCivilDay(w.deadline, clinical));
  return j;
}

CaseJudgement JudgeCase(const RuleSet& rules, const CaseloadRecord& c, absl::CivilDay day, ReviewPolicy policy) {
  CaseJudgement j;
  if (!HasValidCluster(c)) return j;
  j.with_cluster = true;
  const ClusterInfo* info = rules.FindCluster(*c.cluster);
  j.secondary_care = info != nullptr && info->used_in_secondary_care;
  if (c.latest_mhct.has_value()) {
    auto due = ComputeReviewDue(rules.review_periods(), *c.cluster, *c.latest_mhct, policy);
    j.within_review_period = due.ok() && IsWithinReviewPeriod(*due, day);
  }
  auto d = CheckServiceArea(rules.service_areas(), c.service_area, *c.cluster);
  j.fits_service_area = d.ok() && d->appropriate();
  return j;
}

// ---- the KPIs over records ----

KpiResult Kpi1AllocatedCluster(const RuleSet& rules, std::span<const CaseloadRecord> cases) {
  int64_t num = 0;
  for (const auto& c : cases) {
    if (JudgeCase(rules, c, absl::CivilDay(), rules.default_review_policy()).secondary_care) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI1", num, static_cast<int64_t>(cases.size()), rules.version());
}

KpiResult Kpi2ReviewedWithinPeriod(const RuleSet& rules, std::span<const CaseloadRecord> cases,
                                   absl::CivilDay as_of, ReviewPolicy policy) {
  int64_t num = 0, den = 0;
  for (const auto& c : cases) {
    const CaseJudgement j = JudgeCase(rules, c, as_of, policy);
    if (!j.with_cluster) continue;
    ++den;
    if (j.within_review_period) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI2", num, den, rules.version());
}

KpiResult Kpi3ServiceArea(const RuleSet& rules, std::span<const CaseloadRecord> cases) {
  int64_t num = 0, den = 0;
  for (const auto& c : cases) {
    const CaseJudgement j = JudgeCase(rules, c, absl::CivilDay(), rules.default_review_policy());
    if (!j.with_cluster) continue;
    ++den;
    if (j.fits_service_area) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI3", num, den, rules.version());
}

KpiResult Kpi4InitialContacts(const RuleSet& rules, std::span<const InitialAssessmentRecord> records,
                              absl::TimeZone clinical) {
  const KpiSettings& k = rules.kpis();
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    if (!r.allocated) continue;
    ++den;
    if (JudgeInitialAllocation(k, r.allocated_at, r.admitted_at, r.face_to_face_contacts_to_allocation, clinical).met) {
      ++num;
    }
  }
  return MakeKpiResult(k, "KPI4", num, den, rules.version());
}

KpiResult Kpi5ContactsWithinDays(const RuleSet& rules, std::span<const InitialAssessmentRecord> records,
                                 absl::CivilDay as_of) {
  const KpiSettings& k = rules.kpis();
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    const KpiJudgement j = JudgeInitialContacts(k, r.clock_start, r.second_contact, r.memory_assessment);
    if (j.decided_on > as_of) continue;  // pending
    ++den;
    if (j.met) ++num;
  }
  return MakeKpiResult(k, "KPI5", num, den, rules.version());
}

KpiResult Kpi6RedRules(const RuleSet& rules, std::span<const InitialAssessmentRecord> records) {
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    if (!r.allocated) continue;
    ++den;
    if (RedRulesMet(r.red_rules_met ? CheckOutcome::kPassed : CheckOutcome::kFailed)) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI6", num, den, rules.version());
}

KpiResult Kpi7FormalReviewOnTime(const RuleSet& rules, std::span<const FormalReviewRecord> records,
                                 absl::CivilDay as_of) {
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    ReviewDue due;
    due.due = r.due;
    due.window_opens = r.window_opens;
    const KpiJudgement j = JudgeFormalReview(rules.kpis(), due, r.reviewed_on);
    if (!j.counted || j.decided_on > as_of) continue;
    ++den;
    if (j.met) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI7", num, den, rules.version());
}

KpiResult Kpi8FormalReviewAdherence(const RuleSet& rules, std::span<const FormalReviewRecord> records) {
  int64_t num = 0, den = 0;
  for (const auto& r : records) {
    if (!r.reviewed_on.has_value()) continue;
    ++den;
    if (TransitionAdherent(r.transition_adherent ? CheckOutcome::kPassed : CheckOutcome::kFailed)) ++num;
  }
  return MakeKpiResult(rules.kpis(), "KPI8", num, den, rules.version());
}

namespace {

struct TriggerRecord {
  ReviewTriggerKind kind;
  absl::Time occurred_at;
  std::optional<absl::Time> reviewed_at;
  bool transition_adherent = false;
};

TriggerRecord OfTransfer(const TransferRecord& r) {
  return {r.out_of_hours ? ReviewTriggerKind::kOutOfHoursReferral : ReviewTriggerKind::kInHoursReferral, r.referral,
          r.reviewed_at, r.transition_adherent};
}
TriggerRecord OfDischarge(const DischargeRecord& r) {
  return {ReviewTriggerKind::kDischargeReview, r.discharge_review, r.reviewed_at, r.transition_adherent};
}

// Timing (KPIs 9, 10, 12) over the records of one kind decided by as_of; adherence (11, 13) over the met ones.
template <typename Record>
KpiResult TriggerKpi(const RuleSet& rules, std::string_view id, std::span<const Record> records,
                     TriggerRecord (*of)(const Record&), std::optional<ReviewTriggerKind> kind,
                     std::optional<absl::CivilDay> as_of, absl::TimeZone clinical) {
  int64_t num = 0, den = 0;
  for (const Record& record : records) {
    const TriggerRecord r = of(record);
    if (kind.has_value() && r.kind != *kind) continue;
    const KpiJudgement j =
        JudgeTrigger(TriggerWindow(rules.kpis(), r.kind, r.occurred_at, clinical), r.occurred_at, r.reviewed_at, clinical);
    if (as_of.has_value()) {  // timing
      if (j.decided_on > *as_of) continue;
      ++den;
      if (j.met) ++num;
    } else if (j.met) {  // adherence of the reviews that met their triggers
      ++den;
      if (TransitionAdherent(r.transition_adherent ? CheckOutcome::kPassed : CheckOutcome::kFailed)) ++num;
    }
  }
  return MakeKpiResult(rules.kpis(), id, num, den, rules.version());
}

}  // namespace

KpiResult Kpi9TransferInHours(const RuleSet& rules, std::span<const TransferRecord> records, absl::CivilDay as_of,
                              absl::TimeZone clinical) {
  return TriggerKpi<TransferRecord>(rules, "KPI9", records, OfTransfer, ReviewTriggerKind::kInHoursReferral, as_of,
                                    clinical);
}

KpiResult Kpi10TransferOutOfHours(const RuleSet& rules, std::span<const TransferRecord> records,
                                  absl::CivilDay as_of, absl::TimeZone clinical) {
  return TriggerKpi<TransferRecord>(rules, "KPI10", records, OfTransfer, ReviewTriggerKind::kOutOfHoursReferral,
                                    as_of, clinical);
}

KpiResult Kpi11TransferAdherence(const RuleSet& rules, std::span<const TransferRecord> records,
                                 absl::TimeZone clinical) {
  return TriggerKpi<TransferRecord>(rules, "KPI11", records, OfTransfer, std::nullopt, std::nullopt, clinical);
}

KpiResult Kpi12DischargeOnTime(const RuleSet& rules, std::span<const DischargeRecord> records,
                               absl::CivilDay as_of, absl::TimeZone clinical) {
  return TriggerKpi<DischargeRecord>(rules, "KPI12", records, OfDischarge, std::nullopt, as_of, clinical);
}

KpiResult Kpi13DischargeAdherence(const RuleSet& rules, std::span<const DischargeRecord> records,
                                  absl::TimeZone clinical) {
  return TriggerKpi<DischargeRecord>(rules, "KPI13", records, OfDischarge, std::nullopt, std::nullopt, clinical);
}

NationalReviewMeasures ComputeNationalReviewMeasures(const RuleSet& rules,
                                                     std::span<const CaseloadRecord> cases,
                                                     absl::CivilDay period_end) {
  NationalReviewMeasures m;
  m.rule_version = rules.version();
  for (const auto& c : cases) {
    if (!HasValidCluster(c)) continue;
    ++m.acc33;
    if (!c.latest_mhct.has_value()) continue;
    auto due = ComputeReviewDue(rules.review_periods(), *c.cluster, *c.latest_mhct, ReviewPolicy::kNational);
    if (due.ok() && IsWithinReviewPeriod(*due, period_end)) ++m.acc36;
  }
  m.acc37 = MakeKpiResult(rules.kpis(), "ACC37", m.acc36, m.acc33, rules.version());
  return m;
}

}  // namespace care
