// KPI arithmetic for SOP KPIs 1-13 (reference section 7) and the national measures ACC33/36/37, from plain
// records. Each KPI is numerator / denominator as a percentage against the target in the KPI file.
// Conventions: a KPI with an empty denominator has no percentage and is not met; records still pending at
// `as_of` (not yet done and not yet late) are left out of the denominator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
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
};

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

// A case on the caseload at as_of (KPIs 1-3, ACC33/36).
struct CaseloadRecord {
  std::optional<int> cluster;  // nullopt: no cluster allocated
  std::optional<absl::CivilDay> latest_mhct;
  std::string service_area;  // service-area id of the team holding the case
};

// An initial assessment (KPIs 4-6).
struct InitialAssessmentRecord {
  bool allocated = false;
  int face_to_face_contacts_to_allocation = 0;  // contacts up to and including the allocating one
  absl::Time allocated_at;                      // the allocating assessment's MHCT time
  std::optional<absl::Time> admitted_at;        // inpatients: the admission the allocation is back-dated to
  absl::CivilDay clock_start;                   // first face-to-face contact (or the trust's chosen start)
  std::optional<absl::CivilDay> second_contact;  // second face-to-face contact
  bool memory_assessment = false;               // memory assessment/diagnosis: 12 weeks
  bool red_rules_met = false;                   // from CheckRedRules at allocation
};

// A formal review falling due (KPIs 7-8).
struct FormalReviewRecord {
  absl::CivilDay due;  // ReviewDue::due (latest MHCT + period; a review on it is on time)
  absl::CivilDay window_opens;  // ReviewDue::window_opens
  std::optional<absl::CivilDay> reviewed_on;
  bool transition_adherent = false;  // from CheckTransition at the review
};

// A transfer to CRHT / inpatients (KPIs 9-11).
struct TransferRecord {
  absl::Time referral;
  bool out_of_hours = false;
  std::optional<absl::Time> reviewed_at;
  bool transition_adherent = false;
};

// A discharge (KPIs 12-13).
struct DischargeRecord {
  absl::Time discharge_review;
  std::optional<absl::Time> reviewed_at;
  bool transition_adherent = false;
};

// ---- one record at a time ----
// Every flow KPI (4-13) judges each of its records on its own: whether the record counts at all, whether it
// met the standard, and the clinical day its outcome became known (never before the record's reference
// day). A record is pending, in neither numerator nor denominator, when judged on a day before
// `decided_on`. The span functions below and the reporting service's maintained KPIs both judge by these.
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
// initial_contacts_days), decided on the second contact's day; missed otherwise, decided on the day after the
// last day allowed.
KpiJudgement JudgeInitialContacts(const KpiSettings& k, absl::CivilDay clock_start,
                                  std::optional<absl::CivilDay> second_contact, bool memory_assessment);
// The last day KPI 5 allows for the second contact.
absl::CivilDay InitialContactsDeadline(const KpiSettings& k, absl::CivilDay clock_start, bool memory_assessment);
// KPI 7, one review falling due (reference day: due.due). Reviewed in [window_opens, due]: met. Reviewed
// before window_opens: by `early_review` (met, not met, or not counted). Reviewed after due, or not reviewed:
// missed. Met decides on the due date; not met on the day after it (known missed at the due day's end).
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

// ---- KPIs ----
// 1: cases allocated a valid cluster used in secondary care.
KpiResult Kpi1AllocatedCluster(const RuleSet& rules, std::span<const CaseloadRecord> cases);
// 2: allocated cases within their review period at as_of (latest MHCT + period > as_of, i.e. as_of before the
// due date: IsWithinReviewPeriod) under `policy`. A case due on as_of itself counts as outside.
KpiResult Kpi2ReviewedWithinPeriod(const RuleSet& rules, std::span<const CaseloadRecord> cases,
                                   absl::CivilDay as_of, ReviewPolicy policy);
// 3: allocated cases whose cluster fits the service area (rarely-held clusters count as fitting).
KpiResult Kpi3ServiceArea(const RuleSet& rules, std::span<const CaseloadRecord> cases);
// 4: allocation within 2 face-to-face contacts, or 2 bed nights if admitted (allocated records only):
// JudgeInitialAllocation.
KpiResult Kpi4InitialContacts(const RuleSet& rules, std::span<const InitialAssessmentRecord> records,
                              absl::TimeZone clinical);
// 5: second face-to-face contact within 28 days of clock_start (84 for memory assessment): JudgeInitialContacts,
// records decided by `as_of`.
KpiResult Kpi5ContactsWithinDays(const RuleSet& rules, std::span<const InitialAssessmentRecord> records,
                                 absl::CivilDay as_of);
// 6: red rules met at initial allocation (allocated records only).
KpiResult Kpi6RedRules(const RuleSet& rules, std::span<const InitialAssessmentRecord> records);
// 7: reviewed within the window (window_opens <= reviewed_on <= due; early ones by the early_review option);
// late or unreviewed count against once decided (JudgeFormalReview), by `as_of`.
KpiResult Kpi7FormalReviewOnTime(const RuleSet& rules, std::span<const FormalReviewRecord> records,
                                 absl::CivilDay as_of);
// 8: transition protocol adherence over the reviews done.
KpiResult Kpi8FormalReviewAdherence(const RuleSet& rules, std::span<const FormalReviewRecord> records);
// 9, 10, 12: reviewed inside the event's trigger window (care/review_triggers.h, the one the review
// scheduler tracks): in hours, the 5 civil days before the referral; out of hours, the 72 hours after it (or
// either side, by out_of_hours_window); a discharge review, 24 hours either side (or after, or before, by
// discharge_review_window). Records decided by `as_of` count (JudgeTrigger); an unreviewed one counts against
// from its deadline's day. `clinical` is the clinical time zone the civil days are counted in.
KpiResult Kpi9TransferInHours(const RuleSet& rules, std::span<const TransferRecord> records, absl::CivilDay as_of,
                              absl::TimeZone clinical);
KpiResult Kpi10TransferOutOfHours(const RuleSet& rules, std::span<const TransferRecord> records,
                                  absl::CivilDay as_of, absl::TimeZone clinical);
// 11 / 13: transition protocol adherence over the triggers met (reviewed inside their windows).
KpiResult Kpi11TransferAdherence(const RuleSet& rules, std::span<const TransferRecord> records,
                                 absl::TimeZone clinical);
KpiResult Kpi12DischargeOnTime(const RuleSet& rules, std::span<const DischargeRecord> records,
                               absl::CivilDay as_of, absl::TimeZone clinical);
KpiResult Kpi13DischargeAdherence(const RuleSet& rules, std::span<const DischargeRecord> records,
                                  absl::TimeZone clinical);

// National review measures at period_end, always with the NATIONAL review periods whatever the local policy:
// ACC33 = people with a valid cluster; ACC36 = those within their review period
// (latest MHCT + national period > period_end, i.e. period_end < the national due date);
// ACC37 = ACC36 / ACC33 as a percentage.
struct NationalReviewMeasures {
  int64_t acc33 = 0;
  int64_t acc36 = 0;
  KpiResult acc37;  // numerator acc36, denominator acc33
  std::string rule_version;
};
NationalReviewMeasures ComputeNationalReviewMeasures(const RuleSet& rules,
                                                     std::span<const CaseloadRecord> cases,
                                                     absl::CivilDay period_end);

// The plain arithmetic shared by all of them.
KpiResult MakeKpiResult(const KpiSettings& settings, std::string_view id, int64_t numerator,
                        int64_t denominator, std::string rule_version);

}  // namespace care
