// KPI rules for SOP KPIs 1-13 (reference section 7), one record at a time: the KPI file's settings, how each
// flow KPI judges one record (met or not, and the clinical day that became known), how KPIs 1-3 judge one
// case on one day, and the percentage against the KPI file's target. Which records exist, and when, is
// decided over a person's care by the shared ledger and the reporting service's KPI projection; the
// national measures' arithmetic is care/national_measures.h.
// Conventions: a KPI with an empty denominator has no percentage and is not met; a record judged before
// the day it was decided is pending, in neither numerator nor denominator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/catalogue.h"

namespace care {

class RuleSet;
struct ReviewTriggerWindow;

// ---- rule data (KPI file) ----
struct KpiDefinition {
  std::string id;     // "KPI1".."KPI13", "ACC37"
  std::string title;
  double target_percent = 0;
};

// The readings the SOP leaves to the trust (rules/kpis.yaml `timing:`; rules/README.md "KPIs").
// KPI 7, a formal review recorded before its window opens (more than window_days before the due date):
// kMet counts it on time (it was reviewed within the maximum period), kNotMet counts it against, kExcluded
// leaves the review out of KPI 7 altogether.
enum class EarlyReview { kMet, kNotMet, kExcluded };
// KPI 10, "within 72 hours of" an out-of-hours referral: kAfter, the 72 hours after it; kEitherSide, 72
// hours before it to 72 hours after it.
enum class OutOfHoursWindow { kAfter, kEitherSide };
// KPI 12, "within 24 hours of" the discharge review: either side of it, only after it, or only before it.
enum class DischargeReviewWindow { kEitherSide, kAfter, kBefore };

// "met" | "not_met" | "excluded"; "after" | "either_side"; "either_side" | "after" | "before".
std::string_view EarlyReviewName(EarlyReview v);
absl::StatusOr<EarlyReview> ParseEarlyReview(std::string_view name);
std::string_view OutOfHoursWindowName(OutOfHoursWindow v);
absl::StatusOr<OutOfHoursWindow> ParseOutOfHoursWindow(std::string_view name);
std::string_view DischargeReviewWindowName(DischargeReviewWindow v);
absl::StatusOr<DischargeReviewWindow> ParseDischargeReviewWindow(std::string_view name);

struct KpiSettings {
  std::string version;
  std::map<std::string, KpiDefinition> kpis;
  int max_initial_contacts = 2;              // KPI 4: allocation within 2 face-to-face contacts
  int max_initial_bed_nights = 2;            // KPI 4: or 2 bed nights if admitted
  int initial_contacts_days = 28;            // KPI 5: the 2 contacts within 28 calendar days
  int memory_initial_contacts_days = 84;     // KPI 5: memory assessment 12 weeks
  int transfer_in_hours_days_before = 5;     // KPI 9: reviewed within the 5 days before the referral
  int transfer_out_of_hours_hours = 72;      // KPI 10: within 72 hours of the referral
  int discharge_review_hours = 24;           // KPI 12: within 24 hours of the discharge review
  EarlyReview early_review = EarlyReview::kMet;                                     // KPI 7
  OutOfHoursWindow out_of_hours_window = OutOfHoursWindow::kAfter;                  // KPI 10
  DischargeReviewWindow discharge_review_window = DischargeReviewWindow::kEitherSide;  // KPI 12
  // The dashboard's red / amber / green (rules/kpis.yaml `status:`): green at or above the target, amber
  // below it by at most this many percentage points, red further below. The SOP sets targets, not bands:
  // the band is the trust's choice.
  double amber_points_below_target = 5;
};

// A KPI's status against its target. kNoData: no denominator, so no percentage to judge.
enum class KpiStatus { kNoData, kRed, kAmber, kGreen };
std::string_view KpiStatusName(KpiStatus s);  // "no_data" | "red" | "amber" | "green"
KpiStatus StatusAgainstTarget(std::optional<double> percent, double target_percent, double amber_points_below_target);

struct KpiResult {
  std::string id;
  std::string title;
  int64_t numerator = 0;
  int64_t denominator = 0;
  std::optional<double> percent;  // nullopt when denominator is 0
  double target_percent = 0;
  bool met = false;               // percent >= target
  std::string rule_version;
};

// ---- records ----

// A case on the caseload on a day (KPIs 1-3): the cluster in effect, the MHCT day of the assessment that
// allocated it (the review clock's start) and the service area it counts in.
struct CaseloadRecord {
  std::optional<int> cluster;  // nullopt: no cluster allocated
  std::optional<absl::CivilDay> latest_mhct;
  std::string service_area;  // service-area id of the team holding the case
};

// ---- one record at a time ----
// Every flow KPI (4-13) judges each of its records on its own: whether the record counts at all, whether it
// met the standard, and the clinical day its outcome became known (never before the record's reference
// day). A record is pending, in neither numerator nor denominator, when judged on a day before
// `decided_on`. The reporting service's maintained KPIs judge by these.
struct KpiJudgement {
  bool counted = true;        // false: not a record of the KPI (a formal review excluded by early_review)
  bool met = false;
  absl::CivilDay decided_on;  // met: the day it was met (not before the reference day); missed: the first
                              // day at whose end it is known missed
};

// KPI 4, one initial allocation (MHCT time `assessed_at`). Admitted (`admitted_at` set): met when
// assessed_at is inside the inpatient-admission window of the admission (care/review_triggers.h: the
// admission day and the next max_initial_bed_nights clinical days). Otherwise met when
// contacts_to_allocation <= max_initial_contacts. Decided on the MHCT day.
KpiJudgement JudgeInitialAllocation(const KpiSettings& k, absl::Time assessed_at,
                                    std::optional<absl::Time> admitted_at, int contacts_to_allocation,
                                    absl::TimeZone clinical);
// KPI 5, one clock: the first face-to-face contact's day and the second's, if any. Met when the second is no
// later than clock_start + the limit (memory_initial_contacts_days for a memory assessment service, else
// initial_contacts_days), decided on the second contact's day; missed otherwise, decided on that last day
// allowed (at its end nothing can meet it any more), like the trigger KPIs' deadlines.
KpiJudgement JudgeInitialContacts(const KpiSettings& k, absl::CivilDay clock_start,
                                  std::optional<absl::CivilDay> second_contact, bool memory_assessment);
// The last day KPI 5 allows for the second contact.
absl::CivilDay InitialContactsDeadline(const KpiSettings& k, absl::CivilDay clock_start, bool memory_assessment);
// KPI 7, one review falling due (reference day: due.due). Reviewed in [window_opens, due]: met. Reviewed
// before window_opens: by `early_review` (met, not met, or not counted). Reviewed after due, or not reviewed:
// missed. Decided on the due date either way: met by then, or missed at that day's end, when nothing can
// meet it any more (a review done later does not make it less missed).
KpiJudgement JudgeFormalReview(const KpiSettings& k, const ReviewDue& due, std::optional<absl::CivilDay> reviewed_on);
// KPIs 9, 10 and 12, one trigger (care/review_triggers.h) of the care event at `occurred_at` (reference day:
// its clinical day). `answered_at` is the MHCT time of the assessment that answered it, if any: met when
// inside the window (MeetsTrigger), decided on the later of the reference day and the answer's day; missed
// otherwise, decided on the clinical day of the window's deadline.
KpiJudgement JudgeTrigger(const ReviewTriggerWindow& w, absl::Time occurred_at, std::optional<absl::Time> answered_at,
                          absl::TimeZone clinical);

// What an assessment's rule check said, for KPIs 6, 8, 11 and 13.
enum class CheckOutcome { kAbsent, kPassed, kFailed };
// KPI 6: the red rules met at the initial allocation; a missing check is not met.
inline bool RedRulesMet(CheckOutcome c) { return c == CheckOutcome::kPassed; }
// KPIs 8, 11 and 13: the review's cluster kept to the transition protocol; no check (a review the protocol
// did not apply to, e.g. one keeping the cluster) counts as adherent.
inline bool TransitionAdherent(CheckOutcome c) { return c != CheckOutcome::kFailed; }

// KPIs 1-3 for one case on one day (the end of `day`): whether it has a valid cluster, one used in secondary
// care, within its review period under `policy` (day < due date of `latest_mhct`), and fitting its service
// area (rarely-held clusters fit).
struct CaseJudgement {
  bool with_cluster = false;
  bool secondary_care = false;
  bool within_review_period = false;
  bool fits_service_area = false;
};
CaseJudgement JudgeCase(const RuleSet& rules, const CaseloadRecord& c, absl::CivilDay day, ReviewPolicy policy);

// numerator / denominator against the KPI file's target for `id` ("KPI1".."KPI13", "ACC37").
KpiResult MakeKpiResult(const KpiSettings& settings, std::string_view id, int64_t numerator,
                        int64_t denominator, std::string rule_version);

}  // namespace care
