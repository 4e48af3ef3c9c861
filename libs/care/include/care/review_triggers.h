// Event-triggered review windows (SOP Table 13, KPIs 4, 9, 10 and 12): when a care event happens, by when (and
// from when) a review - an assessment's `assessed_at` - meets the standard. Pure functions over the timing
// values of the KPI file (`rules/kpis.yaml` `timing:`, `care::KpiSettings`, `RuleSet::kpis()`).
//
// The readings, which are the project's and are repeated in rules/kpis.yaml:
//
//  kInHoursReferral (KPI 9: "in-hours referral to CRHT/inpatients: reviewed within the 5 days before the
//    referral"). opens = the referral time minus `transfer_in_hours_days_before` (5) CIVIL days in the
//    clinical zone, at the same wall-clock time; deadline = the referral time itself. Across a change of the
//    clocks the window is therefore 5 days of calendar, not 120 elapsed hours (119 h in spring, 121 h in
//    autumn). When that wall-clock time does not exist on the opening day (clocks went forward) the window
//    opens at the moment they went forward; when it occurs twice (clocks went back) it opens at the earlier
//    occurrence (absl::FromCivil).
//  kOutOfHoursReferral (KPI 10: "within 72 hours of the referral"). opens = the referral time;
//    deadline = referral + `transfer_out_of_hours_hours` (72) elapsed hours. After the referral only, by
//    default; `out_of_hours_window: either_side` opens the window 72 elapsed hours before the referral.
//  kDischargeReview (KPI 12: "HoNOS and cluster reviewed within 24 hours of the discharge review").
//    By default (`discharge_review_window: either_side`) opens = the discharge review time -
//    `discharge_review_hours` (24) elapsed hours; deadline = + 24 elapsed hours: the SOP says "within 24 hours
//    of Discharge Review date/time", and the HoNOS is often rated in preparing the review, so a rating the
//    evening before counts as one the morning after. `after`: opens at the discharge review; `before`: the
//    deadline is the discharge review itself.
//  kInpatientAdmission (KPI 4, a person admitted who is not yet allocated: "initial allocation within 2 bed
//    nights"). The allocation may be recorded on the admission day or on the next `max_initial_bed_nights` (2)
//    clinical days: opens = the admission time (the SOP back-dates an inpatient initial allocation to the
//    admission date and time); deadline = the last instant (1 ns before midnight, clinical zone) of clinical
//    day (admission day + max_initial_bed_nights). Admitted 2026-03-10 22:00 -> met up to 2026-03-12
//    23:59:59.999999999, missed from 2026-03-13 00:00.
//
// Every window is inclusive at both ends: a review exactly at `opens` or exactly at `deadline` meets it.
//
// KPIs 9, 10 and 12 judge reviews by these same windows (care/kpi.h JudgeTrigger).
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "care/kpi.h"

namespace care {

enum class ReviewTriggerKind { kInHoursReferral, kOutOfHoursReferral, kDischargeReview, kInpatientAdmission };

// The SOP KPI the trigger feeds: "KPI9", "KPI10", "KPI12", "KPI4".
std::string_view ReviewTriggerKpi(ReviewTriggerKind kind);

struct ReviewTriggerWindow {
  absl::Time opens;          // a review (an assessment's assessed_at) with opens <= t <= deadline meets the trigger
  absl::Time deadline;
  std::string rule_version;  // the kpis file version (KpiSettings::version)
};

// `occurred_at` is the care event's clinical time (referral, discharge review or admission); `clinical` the
// clinical time zone (Europe/London) whose civil days count for kInHoursReferral and kInpatientAdmission.
ReviewTriggerWindow TriggerWindow(const KpiSettings& timing, ReviewTriggerKind kind, absl::Time occurred_at,
                                  absl::TimeZone clinical);

// opens <= assessed_at <= deadline.
bool MeetsTrigger(const ReviewTriggerWindow& w, absl::Time assessed_at);

// now > deadline: the time test only. Whether an assessment met the window is the caller's to check (with
// MeetsTrigger): a trigger is missed when `TriggerMissed(w, now)` and no assessment `MeetsTrigger(w, t)`.
bool TriggerMissed(const ReviewTriggerWindow& w, absl::Time now);

}  // namespace care
