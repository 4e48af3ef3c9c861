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

void ExpectKpi(const KpiResult& r, const char* id, int64_t num, int64_t den, double target, bool met) {
  SCOPED_TRACE(id);
  EXPECT_EQ(r.id, id);
  EXPECT_EQ(r.numerator, num);
  EXPECT_EQ(r.denominator, den);
  EXPECT_EQ(r.target_percent, target);
  EXPECT_EQ(r.met, met);
  ASSERT_EQ(r.percent.has_value(), den > 0);
  if (den > 0) {
    EXPECT_DOUBLE_EQ(*r.percent, 100.0 * num / den);
  }
  EXPECT_FALSE(r.title.empty());
  EXPECT_EQ(r.rule_version, ShippedRules().version());
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

TEST(CareKpi1, AllocatedAValidSecondaryCareCluster) {
  std::vector<CaseloadRecord> cases = {Case(4), Case(1), Case(std::nullopt), Case(9), Case(21)};
  ExpectKpi(Kpi1AllocatedCluster(ShippedRules(), cases), "KPI1", 2, 5, 100, false);
}

TEST(CareKpi2, WithinReviewPeriodUnderThePolicy) {
  const CivilDay as_of(2024, 7, 15);
  std::vector<CaseloadRecord> cases = {
      Case(4, CivilDay(2024, 1, 15)),   // 15 Jan + 6 months = 15 Jul (the due date): not > as_of, outside
      Case(4, CivilDay(2024, 1, 16)),   // within
      Case(7, CivilDay(2023, 10, 1)),   // SOP 6 months: overdue; national 12 months: within
      Case(12),                          // allocated but never rated: counts against
      Case(std::nullopt, CivilDay(2024, 7, 1)),  // not allocated: not in the denominator
  };
  ExpectKpi(Kpi2ReviewedWithinPeriod(ShippedRules(), cases, as_of, ReviewPolicy::kTrustSop), "KPI2", 1, 4, 95,
            false);
  ExpectKpi(Kpi2ReviewedWithinPeriod(ShippedRules(), cases, as_of, ReviewPolicy::kNational), "KPI2", 2, 4, 95,
            false);
}

TEST(CareKpi3, ServiceAreaFit) {
  std::vector<CaseloadRecord> cases = {Case(11, std::nullopt, "community_psychosis"),
                                       Case(11, std::nullopt, "crht"),
                                       Case(4, std::nullopt, "inpatient"),  // rarely: still appropriate
                                       Case(4, std::nullopt, "no_such_area"),
                                       Case(std::nullopt, std::nullopt, "crht")};
  ExpectKpi(Kpi3ServiceArea(ShippedRules(), cases), "KPI3", 2, 4, 100, false);
}

TEST(CareKpi4To6, InitialAssessment) {
  const absl::TimeZone uk = London();
  const absl::Time admitted = absl::FromCivil(absl::CivilSecond(2024, 3, 10, 22, 0, 0), uk);
  auto rec = [&](bool allocated, int contacts, std::optional<absl::Time> admitted_at, absl::Time at, bool red) {
    InitialAssessmentRecord r;
    r.allocated = allocated;
    r.face_to_face_contacts_to_allocation = contacts;
    r.allocated_at = at;
    r.admitted_at = admitted_at;
    r.red_rules_met = red;
    r.clock_start = CivilDay(2024, 1, 1);
    r.second_contact = CivilDay(2024, 1, 10);
    return r;
  };
  const absl::Time day = absl::FromCivil(absl::CivilSecond(2024, 3, 1, 10, 0, 0), uk);
  std::vector<InitialAssessmentRecord> records = {
      rec(true, 2, std::nullopt, day, true),   // 2 contacts: met
      rec(true, 3, std::nullopt, day, true),   // 3: not
      rec(true, 5, admitted, absl::FromCivil(absl::CivilSecond(2024, 3, 12, 23, 59, 59), uk), false),  // 2 nights
      rec(true, 1, admitted, absl::FromCivil(absl::CivilSecond(2024, 3, 13, 0, 0, 0), uk), true),      // 3rd day
      rec(false, 1, std::nullopt, day, false)};  // not allocated: neither
  ExpectKpi(Kpi4InitialContacts(ShippedRules(), records, uk), "KPI4", 2, 4, 100, false);
  ExpectKpi(Kpi6RedRules(ShippedRules(), records), "KPI6", 3, 4, 95, false);
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

TEST(CareKpiJudgement, InitialContactsDecidedWhenMetOrTheDayAfterTheLimit) {
  const KpiSettings& k = ShippedRules().kpis();
  const CivilDay start(2024, 1, 1);
  EXPECT_EQ(InitialContactsDeadline(k, start, false), CivilDay(2024, 1, 29));
  EXPECT_EQ(InitialContactsDeadline(k, start, true), CivilDay(2024, 3, 25));
  KpiJudgement j = JudgeInitialContacts(k, start, CivilDay(2024, 1, 29), false);
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 1, 29));
  j = JudgeInitialContacts(k, start, CivilDay(2024, 1, 30), false);
  EXPECT_FALSE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 1, 30)) << "known missed at the end of the last day allowed";
  j = JudgeInitialContacts(k, start, std::nullopt, false);
  EXPECT_FALSE(j.met);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 1, 30));
  j = JudgeInitialContacts(k, start, start, true);  // both contacts on the first day
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, start);
  j = JudgeInitialContacts(k, start, std::nullopt, true);
  EXPECT_EQ(j.decided_on, CivilDay(2024, 3, 26));
}

TEST(CareKpi5, TwoContactsWithinTwentyEightDays) {
  auto rec = [](std::optional<CivilDay> second, bool memory) {
    InitialAssessmentRecord r;
    r.clock_start = CivilDay(2024, 1, 1);
    r.second_contact = second;
    r.memory_assessment = memory;
    return r;
  };
  std::vector<InitialAssessmentRecord> records = {
      rec(CivilDay(2024, 1, 29), false),  // day 28: on time
      rec(CivilDay(2024, 1, 30), false),  // day 29: late
      rec(CivilDay(2024, 3, 25), true),   // memory assessment, day 84: on time
      rec(CivilDay(2024, 3, 26), true),   // day 85: late
      rec(std::nullopt, false),           // not done by as_of (30 Mar): late
  };
  ExpectKpi(Kpi5ContactsWithinDays(ShippedRules(), records, CivilDay(2024, 3, 30)), "KPI5", 2, 5, 95, false);
  // Still pending (deadline not passed): left out; so is one met after the day judged.
  std::vector<InitialAssessmentRecord> pending = {rec(std::nullopt, true), rec(CivilDay(2024, 2, 2), true)};
  ExpectKpi(Kpi5ContactsWithinDays(ShippedRules(), pending, CivilDay(2024, 2, 1)), "KPI5", 0, 0, 95, false);
  ExpectKpi(Kpi5ContactsWithinDays(ShippedRules(), pending, CivilDay(2024, 2, 2)), "KPI5", 1, 1, 95, true);
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
    j = JudgeFormalReview(*k, due, CivilDay(2024, 7, 16));  // late
    EXPECT_TRUE(j.counted);
    EXPECT_FALSE(j.met);
    EXPECT_EQ(j.decided_on, CivilDay(2024, 7, 16));
    j = JudgeFormalReview(*k, due, std::nullopt);
    EXPECT_TRUE(j.counted);
    EXPECT_FALSE(j.met);
    EXPECT_EQ(j.decided_on, CivilDay(2024, 7, 16)) << "known missed at the due day's end";
  }
  // The day before the window opens.
  KpiJudgement j = JudgeFormalReview(met, due, CivilDay(2024, 7, 4));
  EXPECT_TRUE(j.counted);
  EXPECT_TRUE(j.met);
  EXPECT_EQ(j.decided_on, due.due);
  j = JudgeFormalReview(not_met, due, CivilDay(2024, 7, 4));
  EXPECT_TRUE(j.counted);
  EXPECT_FALSE(j.met);
  EXPECT_EQ(j.decided_on, due.due + 1);
  EXPECT_FALSE(JudgeFormalReview(excluded, due, CivilDay(2024, 7, 4)).counted);
  EXPECT_FALSE(JudgeFormalReview(excluded, due, CivilDay(2024, 1, 16)).counted);
}

TEST(CareKpi7And8, FormalReviews) {
  // Due ON 15 Jan + 6 months = 15 Jul (reference section 7); the window opens 10 days before, on 5 Jul.
  auto due = *ShippedRules().ReviewDueDate(4, CivilDay(2024, 1, 15));
  ASSERT_EQ(due.due, CivilDay(2024, 7, 15));
  ASSERT_EQ(due.window_opens, CivilDay(2024, 7, 5));
  auto rec = [&](std::optional<CivilDay> on, bool adherent, int shift = 0) {
    return FormalReviewRecord{due.due + shift, due.window_opens + shift, on, adherent};
  };
  std::vector<FormalReviewRecord> records = {
      rec(CivilDay(2024, 7, 5), true),   // first day of the window
      rec(CivilDay(2024, 7, 15), true),  // due day: on time
      rec(CivilDay(2024, 7, 4), false),  // the day before the window: by early_review (shipped: met)
      rec(CivilDay(2024, 7, 16), true),  // the day after the due date: late
      rec(std::nullopt, false),          // not done, overdue at as_of
      rec(std::nullopt, false, 30),      // not yet due: left out
  };
  ExpectKpi(Kpi7FormalReviewOnTime(ShippedRules(), records, CivilDay(2024, 7, 20)), "KPI7", 3, 5, 95, false);
  ExpectKpi(Kpi8FormalReviewAdherence(ShippedRules(), records), "KPI8", 3, 4, 95, false);
  // Unreviewed on the due date itself is still pending (left out); the day after it counts against.
  std::vector<FormalReviewRecord> unreviewed = {rec(std::nullopt, false)};
  ExpectKpi(Kpi7FormalReviewOnTime(ShippedRules(), unreviewed, CivilDay(2024, 7, 15)), "KPI7", 0, 0, 95, false);
  ExpectKpi(Kpi7FormalReviewOnTime(ShippedRules(), unreviewed, CivilDay(2024, 7, 16)), "KPI7", 0, 1, 95, false);
  // A review done inside the window is decided on the due date: pending before it.
  std::vector<FormalReviewRecord> early = {rec(CivilDay(2024, 7, 6), true)};
  ExpectKpi(Kpi7FormalReviewOnTime(ShippedRules(), early, CivilDay(2024, 7, 14)), "KPI7", 0, 0, 95, false);
  ExpectKpi(Kpi7FormalReviewOnTime(ShippedRules(), early, CivilDay(2024, 7, 15)), "KPI7", 1, 1, 95, true);
}

TEST(CareKpi9To11, Transfers) {
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2024, 5, 10, 14, 0, 0), absl::UTCTimeZone());
  auto rec = [&](bool ooh, std::optional<absl::Time> at, bool adherent) {
    return TransferRecord{t, ooh, at, adherent};
  };
  std::vector<TransferRecord> records = {
      rec(false, t - absl::Hours(24 * 5), true),                   // in hours: exactly 5 days before
      rec(false, t - absl::Hours(24 * 5) - absl::Seconds(1), true),  // too early
      rec(false, t + absl::Hours(1), false),                        // after the referral
      rec(true, t + absl::Hours(72), true),                         // out of hours: 72 h after
      rec(true, t + absl::Hours(73), true),
      rec(true, t - absl::Hours(2), true),  // before an out-of-hours referral: outside its window
      rec(true, std::nullopt, false),  // not reviewed, 72 h passed at as_of
  };
  const absl::TimeZone uk = London();
  const CivilDay as_of = absl::ToCivilDay(t + absl::Hours(100), uk);
  ExpectKpi(Kpi9TransferInHours(ShippedRules(), records, as_of, uk), "KPI9", 1, 3, 95, false);
  ExpectKpi(Kpi10TransferOutOfHours(ShippedRules(), records, as_of, uk), "KPI10", 1, 4, 95, false);
  // Adherence over the two reviews that met their triggers.
  ExpectKpi(Kpi11TransferAdherence(ShippedRules(), records, uk), "KPI11", 2, 2, 95, true);
  // Before the 72 hours are up (the deadline's day) an unreviewed out-of-hours transfer is pending.
  std::vector<TransferRecord> pending = {rec(true, std::nullopt, false)};
  ExpectKpi(Kpi10TransferOutOfHours(ShippedRules(), pending, absl::ToCivilDay(t + absl::Hours(10), uk), uk),
            "KPI10", 0, 0, 95, false);
  ExpectKpi(Kpi10TransferOutOfHours(ShippedRules(), pending, absl::ToCivilDay(t + absl::Hours(72), uk), uk),
            "KPI10", 0, 1, 95, false);
  // In hours across the clocks going forward (29 Mar 2026): 5 civil days, not 120 hours.
  const absl::Time spring = absl::FromCivil(absl::CivilSecond(2026, 4, 1, 10, 0, 0), uk);
  std::vector<TransferRecord> across = {TransferRecord{spring, false, spring - absl::Hours(119), true},
                                        TransferRecord{spring, false, spring - absl::Hours(120), true}};
  ExpectKpi(Kpi9TransferInHours(ShippedRules(), across, absl::ToCivilDay(spring, uk), uk), "KPI9", 1, 2, 95, false);
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

TEST(CareKpi12And13, Discharges) {
  const absl::Time d = absl::FromCivil(absl::CivilSecond(2024, 9, 1, 9, 30, 0), absl::UTCTimeZone());
  std::vector<DischargeRecord> records = {{d, d + absl::Hours(24), true},
                                          {d, d + absl::Hours(25), true},
                                          {d, d - absl::Hours(1), false},  // rated before the review: either side
                                          {d, d - absl::Hours(25), true},
                                          {d, std::nullopt, false}};
  const CivilDay as_of = absl::ToCivilDay(d + absl::Hours(48), London());
  ExpectKpi(Kpi12DischargeOnTime(ShippedRules(), records, as_of, London()), "KPI12", 2, 5, 95, false);
  ExpectKpi(Kpi13DischargeAdherence(ShippedRules(), records, London()), "KPI13", 1, 2, 95, false);
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

TEST(CareAcc, NationalPeriodsWhateverTheLocalPolicy) {
  const CivilDay period_end(2024, 3, 31);
  std::vector<CaseloadRecord> cases = {
      Case(7, CivilDay(2023, 6, 1)),    // national 12 months: within (SOP would say overdue)
      Case(4, CivilDay(2023, 6, 1)),    // national 6 months: outside
      Case(14, CivilDay(2024, 3, 10)),  // 28 days: 7 Apr > 31 Mar, within
      Case(16),                          // no MHCT date: in ACC33 only
      Case(std::nullopt),                // no cluster: in neither
      Case(9, CivilDay(2024, 3, 1)),     // blank cluster: in neither
  };
  NationalReviewMeasures m = ComputeNationalReviewMeasures(ShippedRules(), cases, period_end);
  EXPECT_EQ(m.acc33, 4);
  EXPECT_EQ(m.acc36, 2);
  ExpectKpi(m.acc37, "ACC37", 2, 4, 95, false);
  EXPECT_EQ(m.rule_version, ShippedRules().version());
  // The SOP-policy KPI 2 on the same caseload differs: cluster 7 is overdue at 6 months.
  EXPECT_EQ(Kpi2ReviewedWithinPeriod(ShippedRules(), cases, period_end, ReviewPolicy::kTrustSop).numerator, 1);
}

// ACC36 keeps NHS Digital's strict boundary with the due date ON MHCT + period: a person whose due date is the
// period end is already outside; one due the day after is within. KPI 2 (SOP policy) uses the same boundary.
TEST(CareAcc, OutsideOnTheDueDateWithinTheDayBefore) {
  const CivilDay period_end(2024, 3, 31);
  std::vector<CaseloadRecord> cases = {
      Case(14, CivilDay(2024, 3, 3)),  // + 28 days: due 31 Mar = the period end: outside
      Case(14, CivilDay(2024, 3, 4)),  // due 1 Apr: within
      Case(7, CivilDay(2023, 3, 31)),  // national 12 months: due 31 Mar 2024: outside
      Case(7, CivilDay(2023, 4, 1)),   // due 1 Apr 2024: within
  };
  ASSERT_EQ(ShippedRules().ReviewDueDate(7, CivilDay(2023, 3, 31), ReviewPolicy::kNational)->due, period_end);
  NationalReviewMeasures m = ComputeNationalReviewMeasures(ShippedRules(), cases, period_end);
  EXPECT_EQ(m.acc33, 4);
  EXPECT_EQ(m.acc36, 2);
  // KPI 2 under the SOP: cluster 14 the same; cluster 7 (6 months, due Sep/Oct 2023) outside.
  ExpectKpi(Kpi2ReviewedWithinPeriod(ShippedRules(), cases, period_end, ReviewPolicy::kTrustSop), "KPI2", 1, 4,
            95, false);
  // At 30 Mar all four are within; at 1 Apr those due 1 Apr are outside too.
  EXPECT_EQ(ComputeNationalReviewMeasures(ShippedRules(), cases, period_end - 1).acc36, 4);
  EXPECT_EQ(ComputeNationalReviewMeasures(ShippedRules(), cases, period_end + 1).acc36, 0);
}

}  // namespace
}  // namespace care
