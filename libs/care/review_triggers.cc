#include "care/review_triggers.h"

#include "absl/time/civil_time.h"
#include "care/period.h"

namespace care {
namespace {

// `t` moved by `days` civil days in `tz`, keeping its wall-clock time (and its fraction of a second).
absl::Time ShiftCivilDays(absl::Time t, int days, absl::TimeZone tz) {
  const absl::CivilSecond cs = absl::ToCivilSecond(t, tz);
  const absl::CivilDay day = absl::CivilDay(cs) + days;
  const absl::CivilSecond shifted(day.year(), day.month(), day.day(), cs.hour(), cs.minute(), cs.second());
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  const absl::Duration fraction = since_epoch - absl::Floor(since_epoch, absl::Seconds(1));
  return absl::FromCivil(shifted, tz) + fraction;
}

}  // namespace

std::string_view ReviewTriggerKpi(ReviewTriggerKind kind) {
  switch (kind) {
    case ReviewTriggerKind::kInHoursReferral: return "KPI9";
    case ReviewTriggerKind::kOutOfHoursReferral: return "KPI10";
    case ReviewTriggerKind::kDischargeReview: return "KPI12";
    case ReviewTriggerKind::kInpatientAdmission: return "KPI4";
  }
  return "";
}

ReviewTriggerWindow TriggerWindow(const KpiSettings& timing, ReviewTriggerKind kind, absl::Time occurred_at,
                                  absl::TimeZone clinical) {
  ReviewTriggerWindow w;
  w.rule_version = timing.version;
  switch (kind) {
    case ReviewTriggerKind::kInHoursReferral:
      w.opens = ShiftCivilDays(occurred_at, -timing.transfer_in_hours_days_before, clinical);
      w.deadline = occurred_at;
      break;
    case ReviewTriggerKind::kOutOfHoursReferral: {
      const absl::Duration span = absl::Hours(timing.transfer_out_of_hours_hours);
      w.opens = timing.out_of_hours_window == OutOfHoursWindow::kEitherSide ? occurred_at - span : occurred_at;
      w.deadline = occurred_at + span;
      break;
    }
    case ReviewTriggerKind::kDischargeReview: {
      const absl::Duration span = absl::Hours(timing.discharge_review_hours);
      const DischargeReviewWindow side = timing.discharge_review_window;
      w.opens = side == DischargeReviewWindow::kAfter ? occurred_at : occurred_at - span;
      w.deadline = side == DischargeReviewWindow::kBefore ? occurred_at : occurred_at + span;
      break;
    }
    case ReviewTriggerKind::kInpatientAdmission:
      w.opens = occurred_at;
      w.deadline = EndOfDay(absl::ToCivilDay(occurred_at, clinical) + timing.max_initial_bed_nights, clinical);
      break;
  }
  return w;
}

bool MeetsTrigger(const ReviewTriggerWindow& w, absl::Time assessed_at) {
  return assessed_at >= w.opens && assessed_at <= w.deadline;
}

bool TriggerMissed(const ReviewTriggerWindow& w, absl::Time now) { return now > w.deadline; }

}  // namespace care
