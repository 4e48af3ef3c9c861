// Event-triggered review windows (KPIs 4, 9, 10, 12): both sides of every limit, in Europe/London, across
// midnight and across both changes of the clocks (2026: forward on Sun 29 Mar at 01:00 UTC, back on Sun 25 Oct
// at 01:00 UTC).
#include "care/review_triggers.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace care {
namespace {

using testing::ShippedRules;

absl::TimeZone London() {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone("Europe/London", &tz)) {
    ADD_FAILURE() << "no Europe/London time zone data";
  }
  return tz;
}
// A wall-clock time in Europe/London (unique times only).
absl::Time L(int y, int mo, int d, int h, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), London());
}
absl::Time U(int y, int mo, int d, int h, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}
const KpiSettings& Timing() { return ShippedRules().kpis(); }
ReviewTriggerWindow Window(ReviewTriggerKind kind, absl::Time t) {
  return TriggerWindow(Timing(), kind, t, London());
}
constexpr absl::Duration kNs = absl::Nanoseconds(1);

TEST(CareReviewTriggers, ShippedTimingValues) {
  EXPECT_EQ(Timing().transfer_in_hours_days_before, 5);
  EXPECT_EQ(Timing().transfer_out_of_hours_hours, 72);
  EXPECT_EQ(Timing().discharge_review_hours, 24);
  EXPECT_EQ(Timing().max_initial_bed_nights, 2);
  EXPECT_EQ(Timing().version, "kpis-2024.2");
}

TEST(CareReviewTriggers, KpiNames) {
  EXPECT_EQ(ReviewTriggerKpi(ReviewTriggerKind::kInHoursReferral), "KPI9");
  EXPECT_EQ(ReviewTriggerKpi(ReviewTriggerKind::kOutOfHoursReferral), "KPI10");
  EXPECT_EQ(ReviewTriggerKpi(ReviewTriggerKind::kDischargeReview), "KPI12");
  EXPECT_EQ(ReviewTriggerKpi(ReviewTriggerKind::kInpatientAdmission), "KPI4");
  for (auto kind : {ReviewTriggerKind::kInHoursReferral, ReviewTriggerKind::kOutOfHoursReferral,
                    ReviewTriggerKind::kDischargeReview, ReviewTriggerKind::kInpatientAdmission}) {
    EXPECT_TRUE(Timing().kpis.contains(std::string(ReviewTriggerKpi(kind))));
    EXPECT_EQ(Window(kind, L(2026, 5, 1, 12)).rule_version, Timing().version);
  }
}

// ---- KPI 9: in hours, the 5 civil days before the referral, both ends inclusive.
TEST(CareReviewTriggersInHours, FiveDaysBeforeTheReferral) {
  const absl::Time referral = L(2026, 3, 10, 14);  // GMT
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInHoursReferral, referral);
  EXPECT_EQ(w.opens, L(2026, 3, 5, 14));
  EXPECT_EQ(w.deadline, referral);
  EXPECT_TRUE(MeetsTrigger(w, referral - absl::Hours(24 * 5)));                      // exactly 5 days before
  EXPECT_FALSE(MeetsTrigger(w, referral - absl::Hours(24 * 5) - absl::Seconds(1)));  // 5 days and 1 s
  EXPECT_FALSE(MeetsTrigger(w, referral - absl::Hours(24 * 5) - kNs));
  EXPECT_TRUE(MeetsTrigger(w, referral - absl::Hours(1)));
  EXPECT_TRUE(MeetsTrigger(w, referral));                    // at the referral itself
  EXPECT_FALSE(MeetsTrigger(w, referral + absl::Seconds(1)));  // after it: not "before the referral"
  EXPECT_FALSE(MeetsTrigger(w, referral + kNs));
  EXPECT_FALSE(TriggerMissed(w, referral));
  EXPECT_TRUE(TriggerMissed(w, referral + kNs));
}

TEST(CareReviewTriggersInHours, SubSecondReferralKeepsItsFraction) {
  const absl::Time referral = L(2026, 3, 10, 14) + absl::Milliseconds(250);
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInHoursReferral, referral);
  EXPECT_EQ(w.opens, L(2026, 3, 5, 14) + absl::Milliseconds(250));
}

// Spring: 5 civil days back from 1 Apr 14:00 BST is 27 Mar 14:00 GMT, 119 elapsed hours.
TEST(CareReviewTriggersInHours, CivilDaysAcrossTheClocksGoingForward) {
  const absl::Time referral = L(2026, 4, 1, 14);
  ASSERT_EQ(referral, U(2026, 4, 1, 13));
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInHoursReferral, referral);
  EXPECT_EQ(w.opens, L(2026, 3, 27, 14));
  EXPECT_EQ(w.opens, U(2026, 3, 27, 14));
  EXPECT_EQ(w.deadline - w.opens, absl::Hours(119));
  EXPECT_TRUE(MeetsTrigger(w, L(2026, 3, 27, 14)));
  EXPECT_FALSE(MeetsTrigger(w, L(2026, 3, 27, 14) - absl::Seconds(1)));
  EXPECT_FALSE(MeetsTrigger(w, referral - absl::Hours(120)));  // 120 elapsed hours is 13:00 on 27 Mar: too early
}

// Autumn: 5 civil days back from 28 Oct 14:00 GMT is 23 Oct 14:00 BST, 121 elapsed hours.
TEST(CareReviewTriggersInHours, CivilDaysAcrossTheClocksGoingBack) {
  const absl::Time referral = L(2026, 10, 28, 14);
  ASSERT_EQ(referral, U(2026, 10, 28, 14));
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInHoursReferral, referral);
  EXPECT_EQ(w.opens, L(2026, 10, 23, 14));
  EXPECT_EQ(w.opens, U(2026, 10, 23, 13));
  EXPECT_EQ(w.deadline - w.opens, absl::Hours(121));
  EXPECT_TRUE(MeetsTrigger(w, referral - absl::Hours(121)));
  EXPECT_FALSE(MeetsTrigger(w, referral - absl::Hours(121) - absl::Seconds(1)));
}

// The opening wall-clock time does not exist (01:30 on 29 Mar 2026): the window opens when the clocks went
// forward, 01:00 UTC (02:00 BST).
TEST(CareReviewTriggersInHours, OpeningTimeSkippedByTheClocks) {
  const absl::Time referral = L(2026, 4, 3, 1, 30);  // BST
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInHoursReferral, referral);
  EXPECT_EQ(w.opens, U(2026, 3, 29, 1));
  EXPECT_TRUE(MeetsTrigger(w, U(2026, 3, 29, 1)));
  EXPECT_FALSE(MeetsTrigger(w, U(2026, 3, 29, 1) - kNs));
}

// The opening wall-clock time happens twice (01:30 on 25 Oct 2026, BST then GMT): the earlier one.
TEST(CareReviewTriggersInHours, OpeningTimeRepeatedByTheClocks) {
  const absl::Time referral = L(2026, 10, 30, 1, 30);  // GMT
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInHoursReferral, referral);
  EXPECT_EQ(w.opens, U(2026, 10, 25, 0, 30));  // 01:30 BST
  EXPECT_TRUE(MeetsTrigger(w, U(2026, 10, 25, 0, 30)));
  EXPECT_FALSE(MeetsTrigger(w, U(2026, 10, 25, 0, 30) - absl::Seconds(1)));
}

// ---- KPI 10: out of hours, within the 72 hours after the referral.
TEST(CareReviewTriggersOutOfHours, SeventyTwoHoursAfter) {
  const absl::Time referral = L(2026, 5, 9, 23, 15);
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kOutOfHoursReferral, referral);
  EXPECT_EQ(w.opens, referral);
  EXPECT_EQ(w.deadline, referral + absl::Hours(72));
  EXPECT_TRUE(MeetsTrigger(w, referral));
  EXPECT_TRUE(MeetsTrigger(w, referral + absl::Hours(72)));                       // exactly 72 h: met
  EXPECT_FALSE(MeetsTrigger(w, referral + absl::Hours(72) + absl::Seconds(1)));   // 72 h and 1 s: not
  EXPECT_FALSE(MeetsTrigger(w, referral - absl::Seconds(1)));                     // before the referral
  EXPECT_FALSE(TriggerMissed(w, referral + absl::Hours(72)));
  EXPECT_TRUE(TriggerMissed(w, referral + absl::Hours(72) + kNs));
}

// 72 elapsed hours, whatever the clocks do: 28 Mar 20:00 GMT + 72 h = 31 Mar 21:00 BST.
TEST(CareReviewTriggersOutOfHours, ElapsedHoursAcrossTheClocksGoingForward) {
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kOutOfHoursReferral, L(2026, 3, 28, 20));
  EXPECT_EQ(w.deadline, L(2026, 3, 31, 21));
  EXPECT_EQ(w.deadline, U(2026, 3, 31, 20));
}

// ---- KPI 12: the discharge review, within 24 hours of it either side.
TEST(CareReviewTriggersDischarge, TwentyFourHoursEitherSide) {
  const absl::Time review = L(2026, 9, 1, 9, 30);
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kDischargeReview, review);
  EXPECT_EQ(w.opens, review - absl::Hours(24));
  EXPECT_EQ(w.deadline, review + absl::Hours(24));
  EXPECT_TRUE(MeetsTrigger(w, review));
  EXPECT_TRUE(MeetsTrigger(w, review + absl::Hours(24)));
  EXPECT_FALSE(MeetsTrigger(w, review + absl::Hours(24) + absl::Seconds(1)));
  EXPECT_TRUE(MeetsTrigger(w, review - absl::Hours(24)));  // rated the day before, in preparing the review
  EXPECT_FALSE(MeetsTrigger(w, review - absl::Hours(24) - absl::Seconds(1)));
  EXPECT_FALSE(TriggerMissed(w, review + absl::Hours(24)));
  EXPECT_TRUE(TriggerMissed(w, review + absl::Hours(24) + kNs));
}

// 24 elapsed hours across the clocks going back: 24 Oct 12:00 BST + 24 h = 25 Oct 11:00 GMT.
TEST(CareReviewTriggersDischarge, ElapsedHoursAcrossTheClocksGoingBack) {
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kDischargeReview, L(2026, 10, 24, 12));
  EXPECT_EQ(w.deadline, L(2026, 10, 25, 11));
}

// ---- the data options (rules/kpis.yaml timing): the windows move, both ends still inclusive.
TEST(CareReviewTriggersOptions, OutOfHoursEitherSide) {
  KpiSettings k = Timing();
  const absl::Time referral = L(2026, 5, 9, 23, 15);
  k.out_of_hours_window = OutOfHoursWindow::kAfter;
  EXPECT_EQ(TriggerWindow(k, ReviewTriggerKind::kOutOfHoursReferral, referral, London()).opens, referral);
  k.out_of_hours_window = OutOfHoursWindow::kEitherSide;
  const ReviewTriggerWindow w = TriggerWindow(k, ReviewTriggerKind::kOutOfHoursReferral, referral, London());
  EXPECT_EQ(w.opens, referral - absl::Hours(72));
  EXPECT_EQ(w.deadline, referral + absl::Hours(72));
  EXPECT_TRUE(MeetsTrigger(w, referral - absl::Hours(72)));
  EXPECT_FALSE(MeetsTrigger(w, referral - absl::Hours(72) - kNs));
  EXPECT_TRUE(MeetsTrigger(w, referral + absl::Hours(72)));
  EXPECT_FALSE(MeetsTrigger(w, referral + absl::Hours(72) + kNs));
  // The in-hours window is not touched by it.
  EXPECT_EQ(TriggerWindow(k, ReviewTriggerKind::kInHoursReferral, referral, London()).deadline, referral);
}

TEST(CareReviewTriggersOptions, DischargeWindowSides) {
  KpiSettings k = Timing();
  const absl::Time review = L(2026, 9, 1, 9, 30);
  auto window = [&](DischargeReviewWindow side) {
    k.discharge_review_window = side;
    return TriggerWindow(k, ReviewTriggerKind::kDischargeReview, review, London());
  };
  ReviewTriggerWindow w = window(DischargeReviewWindow::kAfter);
  EXPECT_EQ(w.opens, review);
  EXPECT_EQ(w.deadline, review + absl::Hours(24));
  EXPECT_FALSE(MeetsTrigger(w, review - kNs));
  EXPECT_TRUE(MeetsTrigger(w, review));
  EXPECT_TRUE(MeetsTrigger(w, review + absl::Hours(24)));
  w = window(DischargeReviewWindow::kBefore);
  EXPECT_EQ(w.opens, review - absl::Hours(24));
  EXPECT_EQ(w.deadline, review);
  EXPECT_TRUE(MeetsTrigger(w, review - absl::Hours(24)));
  EXPECT_TRUE(MeetsTrigger(w, review));
  EXPECT_FALSE(MeetsTrigger(w, review + kNs));
  EXPECT_TRUE(TriggerMissed(w, review + kNs));
  w = window(DischargeReviewWindow::kEitherSide);
  EXPECT_EQ(w.opens, review - absl::Hours(24));
  EXPECT_EQ(w.deadline, review + absl::Hours(24));
}

// ---- KPI 4: admitted and not yet allocated: the admission day and the next 2 clinical days.
TEST(CareReviewTriggersAdmission, TwoBedNights) {
  const absl::Time admitted = L(2026, 3, 10, 22);
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInpatientAdmission, admitted);
  EXPECT_EQ(w.opens, admitted);
  EXPECT_EQ(w.deadline, L(2026, 3, 13, 0) - kNs);
  EXPECT_TRUE(MeetsTrigger(w, admitted));  // back-dated to the admission time
  EXPECT_FALSE(MeetsTrigger(w, admitted - absl::Seconds(1)));
  EXPECT_TRUE(MeetsTrigger(w, L(2026, 3, 11, 0)));  // across the first midnight
  EXPECT_TRUE(MeetsTrigger(w, L(2026, 3, 12, 23, 59, 59)));
  EXPECT_TRUE(MeetsTrigger(w, L(2026, 3, 13, 0) - kNs));
  EXPECT_FALSE(MeetsTrigger(w, L(2026, 3, 13, 0)));
  EXPECT_FALSE(TriggerMissed(w, w.deadline));
  EXPECT_FALSE(TriggerMissed(w, L(2026, 3, 12, 23, 59, 59)));
  EXPECT_TRUE(TriggerMissed(w, w.deadline + kNs));
  EXPECT_TRUE(TriggerMissed(w, L(2026, 3, 13, 0)));
}

// The deadline depends on the admission DAY, not the hour: first and last second of 10 Mar alike.
TEST(CareReviewTriggersAdmission, SameDeadlineWholeAdmissionDay) {
  EXPECT_EQ(Window(ReviewTriggerKind::kInpatientAdmission, L(2026, 3, 10, 0)).deadline, L(2026, 3, 13, 0) - kNs);
  EXPECT_EQ(Window(ReviewTriggerKind::kInpatientAdmission, L(2026, 3, 10, 23, 59, 59)).deadline,
            L(2026, 3, 13, 0) - kNs);
  EXPECT_EQ(Window(ReviewTriggerKind::kInpatientAdmission, L(2026, 3, 11, 0)).deadline, L(2026, 3, 14, 0) - kNs);
}

// Admitted 28 Mar 22:00 GMT; the clocks go forward on the 29th: deadline midnight BST ending 30 Mar.
TEST(CareReviewTriggersAdmission, BedNightsAcrossTheClocksGoingForward) {
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInpatientAdmission, L(2026, 3, 28, 22));
  EXPECT_EQ(w.deadline, L(2026, 3, 31, 0) - kNs);
  EXPECT_EQ(w.deadline, U(2026, 3, 30, 23) - kNs);  // 23:59:59.999999999 BST = 22:59:59.999999999 UTC
  EXPECT_TRUE(MeetsTrigger(w, L(2026, 3, 30, 23, 59, 59)));
  EXPECT_FALSE(TriggerMissed(w, L(2026, 3, 30, 23, 59, 59)));
  EXPECT_TRUE(TriggerMissed(w, L(2026, 3, 31, 0)));
  EXPECT_FALSE(MeetsTrigger(w, L(2026, 3, 31, 0)));
}

// Admitted 24 Oct 22:00 BST; the clocks go back on the 25th: deadline midnight GMT ending 26 Oct.
TEST(CareReviewTriggersAdmission, BedNightsAcrossTheClocksGoingBack) {
  const absl::Time admitted = L(2026, 10, 24, 22);
  ASSERT_EQ(admitted, U(2026, 10, 24, 21));
  const ReviewTriggerWindow w = Window(ReviewTriggerKind::kInpatientAdmission, admitted);
  EXPECT_EQ(w.deadline, U(2026, 10, 27, 0) - kNs);
  EXPECT_TRUE(MeetsTrigger(w, L(2026, 10, 26, 23, 59, 59)));
  EXPECT_FALSE(TriggerMissed(w, w.deadline));
  EXPECT_TRUE(TriggerMissed(w, L(2026, 10, 27, 0)));
}

// The clinical day is the clinical zone's: 00:30 BST on 11 Jun is 23:30 UTC on 10 Jun.
TEST(CareReviewTriggersAdmission, ClinicalZoneDecidesTheDay) {
  const absl::Time admitted = L(2026, 6, 11, 0, 30);
  ASSERT_EQ(admitted, U(2026, 6, 10, 23, 30));
  EXPECT_EQ(Window(ReviewTriggerKind::kInpatientAdmission, admitted).deadline, L(2026, 6, 14, 0) - kNs);
  EXPECT_EQ(TriggerWindow(Timing(), ReviewTriggerKind::kInpatientAdmission, admitted, absl::UTCTimeZone()).deadline,
            U(2026, 6, 13, 0) - kNs);
}

// The limits are data: a trust's kpis.yaml with other values moves every window.
TEST(CareReviewTriggers, TimingComesFromTheKpiFile) {
  KpiSettings t = Timing();
  t.version = "mytrust-kpis-1";
  t.transfer_in_hours_days_before = 1;
  t.transfer_out_of_hours_hours = 48;
  t.discharge_review_hours = 12;
  t.max_initial_bed_nights = 0;
  const absl::Time e = L(2026, 3, 10, 22);
  auto w = [&](ReviewTriggerKind k) { return TriggerWindow(t, k, e, London()); };
  EXPECT_EQ(w(ReviewTriggerKind::kInHoursReferral).opens, L(2026, 3, 9, 22));
  EXPECT_EQ(w(ReviewTriggerKind::kOutOfHoursReferral).deadline, e + absl::Hours(48));
  EXPECT_EQ(w(ReviewTriggerKind::kDischargeReview).deadline, e + absl::Hours(12));
  EXPECT_EQ(w(ReviewTriggerKind::kDischargeReview).opens, e - absl::Hours(12));
  EXPECT_EQ(w(ReviewTriggerKind::kInpatientAdmission).deadline, L(2026, 3, 11, 0) - kNs);  // the admission day only
  EXPECT_EQ(w(ReviewTriggerKind::kDischargeReview).rule_version, "mytrust-kpis-1");
}

// Every kind: met at both ends, missed only after the deadline.
TEST(CareReviewTriggers, EveryKindInclusiveAtBothEnds) {
  for (auto kind : {ReviewTriggerKind::kInHoursReferral, ReviewTriggerKind::kOutOfHoursReferral,
                    ReviewTriggerKind::kDischargeReview, ReviewTriggerKind::kInpatientAdmission}) {
    SCOPED_TRACE(ReviewTriggerKpi(kind));
    const ReviewTriggerWindow w = Window(kind, L(2026, 10, 24, 22, 45));
    EXPECT_LT(w.opens, w.deadline);
    EXPECT_TRUE(MeetsTrigger(w, w.opens));
    EXPECT_TRUE(MeetsTrigger(w, w.deadline));
    EXPECT_FALSE(MeetsTrigger(w, w.opens - kNs));
    EXPECT_FALSE(MeetsTrigger(w, w.deadline + kNs));
    EXPECT_FALSE(TriggerMissed(w, w.opens));
    EXPECT_FALSE(TriggerMissed(w, w.deadline));
    EXPECT_TRUE(TriggerMissed(w, w.deadline + kNs));
  }
}

}  // namespace
}  // namespace care
