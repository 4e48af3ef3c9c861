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
  j.decided_on = j.met ? std::max(*second_contact, clock_start) : deadline;
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
  j.decided_on = due.due;
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

std::string_view KpiStatusName(KpiStatus s) {
  switch (s) {
    case KpiStatus::kRed: return "red";
    case KpiStatus::kAmber: return "amber";
    case KpiStatus::kGreen: return "green";
    case KpiStatus::kNoData: break;
  }
  return "no_data";
}

KpiStatus StatusAgainstTarget(std::optional<double> percent, double target_percent, double amber_points_below_target) {
  if (!percent.has_value()) return KpiStatus::kNoData;
  if (*percent >= target_percent) return KpiStatus::kGreen;
  if (*percent >= target_percent - amber_points_below_target) return KpiStatus::kAmber;
  return KpiStatus::kRed;
}

}  // namespace care
