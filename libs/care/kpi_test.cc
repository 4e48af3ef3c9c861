#include "care/kpi.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "care/review_triggers.h"
#include "care/rule_files.h"
#include "test_util.h"

namespace care {
namespace {

using absl::CivilDay;
using testing::ShippedRules;

absl::TimeZone London() {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone("Europe/London", &tz)) ADD_FAILURE() << "no Europe/London time zone data";
  return tz;
}

CaseloadRecord Case(std::optional<int> cluster, std::optional<CivilDay> mhct = std::nullopt,
                    std::string area = "") {
  return CaseloadRecord{cluster, mhct, std::move(area)};
}

TEST(CareKpiArithmetic, TargetsAndEmptyDenominators) {
  const KpiSettings& k = ShippedRules().kpis();
  EXPECT_TRUE(MakeKpiResult(k, "KPI2", 19, 20, "v").met);   // 95% meets 95%
  EXPECT_FALSE(MakeKpiResult(k, "KPI2", 18, 20, "v").met);  // 90%
  EXPECT_TRUE(MakeKpiResult(k, "KPI1", 7, 7, "v").met);
  EXPECT_FALSE(MakeKpiResult(k, "KPI1", 6, 7, "v").met);
  KpiResult empty = MakeKpiResult(k, "KPI8", 0, 0, "v");
  EXPECT_FALSE(empty.percent.has_value());
  EXPECT_FALSE(empty.met);
  for (int i = 1; i <= 13; ++i) {
    const std::string id = "KPI" + std::to_string(i);
    EXPECT_EQ(MakeKpiResult(k, id, 1, 1, "v").target_percent, (i == 1 || i == 3 || i == 4) ? 100 : 95) << id;
  }
}

TEST(CareKpiJudgement, InitialAllocationByContactsOrBedNights) {
  const absl::TimeZone uk = London();
  const KpiSettings& k = ShippedRules().kpis();
  const absl::Time admitted = absl::FromCivil(absl::CivilSecond(2024, 3, 10, 22, 0, 0), uk);
  const absl::Time last = absl::FromCivil(absl::CivilSecond(2024, 3, 13, 0, 0, 0), uk) - absl::Nanoseconds(1);
  KpiJudgement j = JudgeInitialAllocation(k, last, admitted, 9, uk);
  EXPECT_TRUE(j.met) << "contacts do not count for an admitted person";
  EXPECT_EQ(j.decided_on, CivilDay(2024, 3, 12));
  EXPECT_FALSE(JudgeInitialAllocation(k, last + absl::Nanoseconds(1), admitted, 0, uk).met);
  EXPECT_FALSE(JudgeInitialAllocation(k, admitted - absl::Seconds(1), admitted, 0, uk).met)
      << "before the admission it is not inside the admission's window";
  EXPECT_TRUE(JudgeInitialAllocation(k, admitted, admitted, 0, uk).met);
  j = JudgeInitialAllocation(k, admitted, std::nullopt, k.max_initial_contacts, uk);
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 3, 10));
  EXPECT_FALSE(JudgeInitialAllocation(k, admitted, std::nullopt, k.max_initial_contacts + 1, uk).met);
  EXPECT_TRUE(JudgeInitialAllocation(k, admitted, std::nullopt, 0, uk).met);
}

TEST(CareKpiJudgement, InitialContactsDecidedWhenMetOrOnTheLastDayAllowed) {
  const KpiSettings& k = ShippedRules().kpis();
  const CivilDay start(2024, 1, 1);
  EXPECT_EQ(InitialContactsDeadline(k, start, false), CivilDay(2024, 1, 29));
  EXPECT_EQ(InitialContactsDeadline(k, start, true), CivilDay(2024, 3, 25));
  KpiJudgement j = JudgeInitialContacts(k, start, CivilDay(2024, 1, 29), false);
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 1, 29));
  j = JudgeInitialContacts(k, start, CivilDay(2024, 1, 30), false);
  EXPECT_FALSE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 1, 29)) << "known missed at the end of the last day allowed";
  j = JudgeInitialContacts(k, start, std::nullopt, false);
  EXPECT_FALSE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 1, 29)) << "as of the deadline day's end, like KPIs 9, 10 and 12";
  j = JudgeInitialContacts(k, start, start, true);  // both contacts on the first day
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, start);
  j = JudgeInitialContacts(k, start, std::nullopt, true);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 3, 25));
}

// Settings as shipped with one option changed.
KpiSettings WithEarlyReview(EarlyReview v) {
  KpiSettings k = ShippedRules().kpis();
  k.early_review = v;
  return k;
}

TEST(CareKpiJudgement, FormalReviewWindowAndTheEarlyReviewOption) {
  auto due = *ShippedRules().ReviewDueDate(4, CivilDay(2024, 1, 15));  // due 15 Jul, window from 5 Jul
  ASSERT_EQ(ShippedRules().kpis().early_review, EarlyReview::kMet) << "the shipped default";
  const KpiSettings met = WithEarlyReview(EarlyReview::kMet);
  const KpiSettings not_met = WithEarlyReview(EarlyReview::kNotMet);
  const KpiSettings excluded = WithEarlyReview(EarlyReview::kExcluded);
  for (const KpiSettings* k : {&met, &not_met, &excluded}) {
    SCOPED_TRACE(EarlyReviewName(k->early_review));
    KpiJudgement j = JudgeFormalReview(*k, due, CivilDay(2024, 7, 5));  // first day of the window
    EXPECT_TRUE(j.counted);
    EXPECT_TRUE(j.met);
    EXPECT_EQ(j.decided_on, due.due) << "met reviews are decided on the due date";
    j = JudgeFormalReview(*k, due, CivilDay(2024, 7, 15));
    EXPECT_TRUE(j.met);
    EXPECT_EQ(j.decided_on, due.due);
    j = JudgeFormalReview(*k, due, CivilDay(2024, 8, 20));  // late
    EXPECT_TRUE(j.counted);
    EXPECT_FALSE(j.met);
    EXPECT_EQ(j.decided_on, due.due) << "missed at the due day's end, whenever the late review came";
    j = JudgeFormalReview(*k, due, std::nullopt);
    EXPECT_TRUE(j.counted);
    EXPECT_FALSE(j.met);
    EXPECT_EQ(j.decided_on, due.due) << "known missed at the due day's end";
  }
  // The day before the window opens.
  KpiJudgement j = JudgeFormalReview(met, due, CivilDay(2024, 7, 4));
  EXPECT_TRUE(j.counted);
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, due.due);
  j = JudgeFormalReview(not_met, due, CivilDay(2024, 7, 4));
  EXPECT_TRUE(j.counted);
  EXPECT_FALSE(j.met);
  EXPECT_EQ(j.decided_on, due.due);
  EXPECT_FALSE(JudgeFormalReview(excluded, due, CivilDay(2024, 7, 4)).counted);
  EXPECT_FALSE(JudgeFormalReview(excluded, due, CivilDay(2024, 1, 16)).counted);
}

TEST(CareKpiJudgement, TriggerMetOnTheLaterOfTheEventAndTheAnswer) {
  const absl::TimeZone uk = London();
  const KpiSettings& k = ShippedRules().kpis();
  const absl::Time d = absl::FromCivil(absl::CivilSecond(2024, 9, 1, 22, 30, 0), uk);
  const ReviewTriggerWindow w = TriggerWindow(k, ReviewTriggerKind::kDischargeReview, d, uk);
  KpiJudgement j = JudgeTrigger(w, d, d + absl::Hours(2), uk);  // the next clinical day
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 9, 2));
  j = JudgeTrigger(w, d, d - absl::Hours(23), uk);  // the day before: decided on the event's day
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 9, 1));
  j = JudgeTrigger(w, d, std::nullopt, uk);
  EXPECT_FALSE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 9, 2)) << "the deadline's day, 24 hours later";
  j = JudgeTrigger(w, d, d + absl::Hours(25), uk);  // an answer outside the window is none
  EXPECT_FALSE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 9, 2));
  // In hours: the deadline is the referral itself, so a miss is decided on the referral's day.
  const ReviewTriggerWindow in = TriggerWindow(k, ReviewTriggerKind::kInHoursReferral, d, uk);
  EXPECT_EQ(JudgeTrigger(in, d, std::nullopt, uk).decided_on, CivilDay(2024, 9, 1));
}

TEST(CareKpiChecks, MissingChecks) {
  EXPECT_TRUE(RedRulesMet(CheckOutcome::kPassed));
  EXPECT_FALSE(RedRulesMet(CheckOutcome::kFailed));
  EXPECT_FALSE(RedRulesMet(CheckOutcome::kAbsent)) << "a missing red-rules check is not met";
  EXPECT_TRUE(TransitionAdherent(CheckOutcome::kPassed));
  EXPECT_FALSE(TransitionAdherent(CheckOutcome::kFailed));
  EXPECT_TRUE(TransitionAdherent(CheckOutcome::kAbsent)) << "no protocol check: nothing to breach";
}

TEST(CareKpiJudgement, CaseOnADay) {
  const RuleSet& rules = ShippedRules();
  CaseJudgement j = JudgeCase(rules, Case(11, CivilDay(2024, 1, 15), "community_psychosis"), CivilDay(2024, 7, 14),
                              ReviewPolicy::kTrustSop);
  EXPECT_TRUE(j.with_cluster);
  EXPECT_TRUE(j.secondary_care);
  EXPECT_TRUE(j.within_review_period);
  EXPECT_TRUE(j.fits_service_area);
  j = JudgeCase(rules, Case(11, CivilDay(2024, 1, 15), "community_psychosis"), CivilDay(2024, 7, 15),
                ReviewPolicy::kTrustSop);
  EXPECT_FALSE(j.within_review_period) << "due on the day itself: outside at its end";
  j = JudgeCase(rules, Case(2, CivilDay(2024, 1, 15), "crht"), CivilDay(2024, 1, 16), ReviewPolicy::kTrustSop);
  EXPECT_TRUE(j.with_cluster);
  EXPECT_FALSE(j.secondary_care);
  EXPECT_FALSE(j.fits_service_area);
  j = JudgeCase(rules, Case(std::nullopt), CivilDay(2024, 1, 16), ReviewPolicy::kTrustSop);
  EXPECT_FALSE(j.with_cluster || j.secondary_care || j.within_review_period || j.fits_service_area);
  j = JudgeCase(rules, Case(9, CivilDay(2024, 1, 15), "crht"), CivilDay(2024, 1, 16), ReviewPolicy::kTrustSop);
  EXPECT_FALSE(j.with_cluster) << "9 is no cluster";
  j = JudgeCase(rules, Case(4, CivilDay(2024, 1, 15), "inpatient"), CivilDay(2024, 1, 16), ReviewPolicy::kTrustSop);
  EXPECT_TRUE(j.fits_service_area) << "a cluster the area holds rarely still fits";
  j = JudgeCase(rules, Case(4, CivilDay(2024, 1, 15), "no_such_area"), CivilDay(2024, 1, 16), ReviewPolicy::kTrustSop);
  EXPECT_FALSE(j.fits_service_area);
  // Cluster 7: 6 months under the SOP, 12 nationally.
  j = JudgeCase(rules, Case(7, CivilDay(2023, 10, 1), "community_non_psychosis"), CivilDay(2024, 7, 15),
                ReviewPolicy::kTrustSop);
  EXPECT_FALSE(j.within_review_period);
  j = JudgeCase(rules, Case(7, CivilDay(2023, 10, 1), "community_non_psychosis"), CivilDay(2024, 7, 15),
                ReviewPolicy::kNational);
  EXPECT_TRUE(j.within_review_period);
  j = JudgeCase(rules, Case(12), CivilDay(2024, 7, 15), ReviewPolicy::kTrustSop);
  EXPECT_TRUE(j.with_cluster);
  EXPECT_FALSE(j.within_review_period) << "allocated but no MHCT day: never within";
}

// The options' names, and a file that leaves them out gets the defaults.
TEST(CareKpiOptions, NamesAndDefaults) {
  for (EarlyReview v : {EarlyReview::kMet, EarlyReview::kNotMet, EarlyReview::kExcluded}) {
    EXPECT_EQ(*ParseEarlyReview(EarlyReviewName(v)), v);
  }
  for (OutOfHoursWindow v : {OutOfHoursWindow::kAfter, OutOfHoursWindow::kEitherSide}) {
    EXPECT_EQ(*ParseOutOfHoursWindow(OutOfHoursWindowName(v)), v);
  }
  for (DischargeReviewWindow v :
       {DischargeReviewWindow::kEitherSide, DischargeReviewWindow::kAfter, DischargeReviewWindow::kBefore}) {
    EXPECT_EQ(*ParseDischargeReviewWindow(DischargeReviewWindowName(v)), v);
  }
  EXPECT_FALSE(ParseEarlyReview("Met").ok());
  EXPECT_FALSE(ParseOutOfHoursWindow("").ok());
  EXPECT_FALSE(ParseDischargeReviewWindow("either side").ok());

  std::string file = testing::ReadRuleFile("kpis.yaml");
  for (const char* key : {"  early_review:", "  out_of_hours_window:", "  discharge_review_window:"}) {
    const size_t at = file.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    file.erase(at, file.find('\n', at) + 1 - at);
  }
  auto k = ParseKpiFile(file, "kpis.yaml");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->early_review, EarlyReview::kMet);
  EXPECT_EQ(k->out_of_hours_window, OutOfHoursWindow::kAfter);
  EXPECT_EQ(k->discharge_review_window, DischargeReviewWindow::kEitherSide);
  std::string changed = testing::ReadRuleFile("kpis.yaml");
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = changed.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    changed.replace(at, from.size(), to);
  };
  replace("early_review: met ", "early_review: excluded ");
  replace("out_of_hours_window: after ", "out_of_hours_window: either_side ");
  replace("discharge_review_window: either_side ", "discharge_review_window: before ");
  k = ParseKpiFile(changed, "kpis.yaml");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->early_review, EarlyReview::kExcluded);
  EXPECT_EQ(k->out_of_hours_window, OutOfHoursWindow::kEitherSide);
  EXPECT_EQ(k->discharge_review_window, DischargeReviewWindow::kBefore);
}

}  // namespace
}  // namespace care

namespace care {
namespace {

TEST(KpiStatus, GreenAtTargetAmberWithinTheBandRedBelowItNoDataWithoutAPercentage) {
  EXPECT_EQ(StatusAgainstTarget(95.0, 95, 5), KpiStatus::kGreen);
  EXPECT_EQ(StatusAgainstTarget(100.0, 95, 5), KpiStatus::kGreen);
  EXPECT_EQ(StatusAgainstTarget(94.9, 95, 5), KpiStatus::kAmber);
  EXPECT_EQ(StatusAgainstTarget(90.0, 95, 5), KpiStatus::kAmber);
  EXPECT_EQ(StatusAgainstTarget(89.9, 95, 5), KpiStatus::kRed);
  EXPECT_EQ(StatusAgainstTarget(99.0, 100, 0), KpiStatus::kRed);
  EXPECT_EQ(StatusAgainstTarget(std::nullopt, 95, 5), KpiStatus::kNoData);
  EXPECT_EQ(KpiStatusName(KpiStatus::kAmber), "amber");
  EXPECT_EQ(KpiStatusName(KpiStatus::kNoData), "no_data");
}

TEST(KpiStatus, TheBandIsReadFromTheKpiFileAndCheckedThere) {
  const std::string shipped = testing::ReadRuleFile("kpis.yaml");
  auto k = ParseKpiFile(shipped, "kpis.yaml");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->amber_points_below_target, 5);
  std::string wider = shipped;
  const std::string band = "amber_points_below_target: 5";
  ASSERT_NE(wider.find(band), std::string::npos);
  wider.replace(wider.find(band), band.size(), "amber_points_below_target: 7.5");
  auto seven = ParseKpiFile(wider, "kpis.yaml");
  ASSERT_TRUE(seven.ok()) << seven.status();
  EXPECT_EQ(seven->amber_points_below_target, 7.5);
  std::string bad = shipped;
  bad.replace(bad.find(band), band.size(), "amber_points_below_target: 120");
  auto refused = ParseKpiFile(bad, "kpis.yaml");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(testing::Msg(refused.status()), ::testing::HasSubstr("status.amber_points_below_target"));
}

}  // namespace
}  // namespace care
