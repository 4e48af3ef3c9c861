// The transition protocol at review: the shipped table against an independent transcription of the SOP's
// Table 12, every cell, and every condition printed beside the table, each test written from the SOP's wording.
#include "care/transitions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"
#include "care/rule_files.h"
#include "internal.h"
#include "test_util.h"

namespace care {
namespace {

using absl::CivilDay;
using ::testing::HasSubstr;
using testing::Msg;
using testing::ReadRuleFile;
using testing::ShippedRules;

// ---- SOP Table 12, transcribed from the SOP's flattened text ----
//
// Written from the trust SOP's text (its Table 12 of transitions at review, as extracted: one flattened line) by
// reading the printed cell groups in column order: improvement, minimal/no change, deterioration, change in
// diagnosis. It keeps the SOP's cluster notation ("CC4, CC5") and is not a copy of rules/transitions.yaml.
struct SopRow {
  int from;
  const char* improvement;
  const char* no_change;
  const char* deterioration;
  const char* change_in_diagnosis;
};

const SopRow kSopTable12[] = {
    {0, "CC0", "CC0", "CC4, CC5, CC6", "CC8, CC10, CC14, CC15, CC18"},
    {1, "CC1", "CC1", "CC2, CC3, CC4, CC5", "CC8, CC10, CC14, CC15, CC18"},
    {2, "CC2", "CC2", "CC3, CC4, CC5", "CC8, CC10, CC14, CC15, CC18"},
    {3, "CC3", "CC3", "CC4, CC5", "CC8, CC10, CC14, CC15, CC18"},
    // Printed as three groups, "CC4 | CC4, CC5, CC6 | CC5, CC6, CC8, CC10, CC14, CC15, CC19". Reconstructed as
    // the reference reads it: the last group splits into deterioration 5, 6 and the change-in-diagnosis list.
    {4, "CC4", "CC4, CC5, CC6", "CC5, CC6", "CC8, CC10, CC14, CC15, CC19"},
    {5, "CC5, CC6", "CC5, CC6", "CC5, CC6, CC7", "CC8, CC10, CC14, CC15, CC19"},
    // Printed "CC6, CC6 CC6": three cells of CC6.
    {6, "CC6", "CC6", "CC6", "CC8, CC10, CC14, CC15, CC19"},
    {7, "CC7", "CC7", "CC7", "CC8, CC10, CC14, CC15, CC19"},
    {8, "CC8", "CC8", "CC8", "CC5, CC6, CC7, CC10, CC14, CC15, CC19"},
    // Row 9 is "NA" throughout (the blank cluster has no row).
    // Rows 10 and 11 are printed interleaved. Reconstructed as the reference reads them: row 10's first group
    // spans improvement and no change; then row 11's improvement and no change; then row 10's deterioration.
    {10, "CC10, CC11, CC12, CC13, CC16, CC17", "CC10, CC11, CC12, CC13, CC16, CC17", "CC14, CC15",
     "CC5, CC6, CC8, CC19"},
    {11, "CC11", "CC11", "CC12, CC13, CC14, CC15, CC16, CC17", "CC19"},
    {12, "CC11, CC12", "CC12", "CC13, CC14, CC15, CC16, CC17", "CC8, CC19"},
    {13, "CC12, CC13", "CC13", "CC14, CC15, CC16, CC17", "CC19"},
    // Rows 14 and 15 are printed interleaved (both improvement cells first); separated by column order.
    {14, "CC10, CC13, CC16, CC17", "CC14", "CC14, CC15", "CC4, CC5, CC6, CC8, CC19"},
    {15, "CC10, CC13, CC16, CC17", "CC15", "CC14, CC15", "CC5, CC6, CC8, CC19"},
    // Printed "CC14, CC15, CC16, CC8, CC19" with no boundary; reconstructed as the reference reads it (as row 17).
    {16, "CC13, CC16", "CC16", "CC14, CC15, CC16", "CC8, CC19"},
    {17, "CC13, CC17", "CC17", "CC14, CC15, CC17", "CC8, CC19"},
    // Printed with a trailing comma, as here: the list may be cut short.
    {18, "CC18", "CC18", "CC19, CC20, CC21", "CC4, CC5, CC10,"},
    {19, "CC19", "CC19", "CC20, CC21", ""},
    {20, "CC20", "CC20", "CC21", ""},
    {21, "CC21", "CC21", "CC21", ""},
};

// "CC4, CC5, CC10," -> {4, 5, 10}. A malformed group fails the test that uses it.
std::set<int> Clusters(std::string_view printed) {
  std::set<int> out;
  for (std::string_view part : internal::Split(printed, ',', true)) {
    std::string_view p = internal::Strip(part);
    if (p.empty()) continue;
    int c = -1;
    if (p.substr(0, 2) != "CC" || !internal::Atoi(p.substr(2), &c)) {
      ADD_FAILURE() << "not a cluster: \"" << p << "\" in \"" << printed << "\"";
      continue;
    }
    out.insert(c);
  }
  return out;
}

std::string Show(const std::set<int>& s) {
  std::string out = "[";
  for (int c : s) out += (out.size() > 1 ? ", " : "") + std::to_string(c);
  return out + "]";
}

std::set<int> SopCell(const SopRow& row, ChangeClass c) {
  switch (c) {
    case ChangeClass::kImprovement: return Clusters(row.improvement);
    case ChangeClass::kNoChange: return Clusters(row.no_change);
    case ChangeClass::kDeterioration: return Clusters(row.deterioration);
    case ChangeClass::kChangeInDiagnosis: return Clusters(row.change_in_diagnosis);
  }
  return {};
}

constexpr ChangeClass kChangeClasses[] = {ChangeClass::kImprovement, ChangeClass::kNoChange,
                                          ChangeClass::kDeterioration, ChangeClass::kChangeInDiagnosis};

// Every differing cell of `table` against the transcription, one line each.
// With `whole_table`, rows of `table` the transcription lacks are reported too.
std::vector<std::string> DifferingCells(const std::map<int, TransitionRow>& table, const SopRow* sop, size_t n,
                                        bool whole_table = true) {
  std::vector<std::string> out;
  std::set<int> sop_rows;
  for (size_t i = 0; i < n; ++i) {
    const SopRow& row = sop[i];
    sop_rows.insert(row.from);
    auto it = table.find(row.from);
    if (it == table.end()) {
      out.push_back("row " + std::to_string(row.from) + ": missing from the shipped table");
      continue;
    }
    for (ChangeClass c : kChangeClasses) {
      const std::set<int> want = SopCell(row, c);
      const std::set<int>& got = it->second.expected[static_cast<int>(c)];
      if (got != want) {
        out.push_back("row " + std::to_string(row.from) + " " + std::string(ChangeClassName(c)) + ": shipped " +
                      Show(got) + ", SOP " + Show(want));
      }
    }
  }
  for (const auto& [from, row] : table) {
    if (whole_table && !sop_rows.count(from)) out.push_back("row " + std::to_string(from) + ": not in the SOP's table");
  }
  return out;
}

TEST(CareTransitionSopTable12, ShippedTableMatchesTheSopCellByCell) {
  const auto& rows = ShippedRules().transitions().rows;
  for (const std::string& d : DifferingCells(rows, kSopTable12, std::size(kSopTable12))) ADD_FAILURE() << d;
  EXPECT_EQ(rows.size(), std::size(kSopTable12));
  EXPECT_EQ(rows.count(9), 0u) << "the blank cluster has no row";
}

TEST(CareTransitionSopTable12, TheComparisonReportsEveryDifferingCell) {
  std::map<int, TransitionRow> table;  // the transcription itself, then three cells spoilt
  for (const SopRow& row : kSopTable12) {
    for (ChangeClass c : kChangeClasses) table[row.from].expected[static_cast<int>(c)] = SopCell(row, c);
  }
  EXPECT_THAT(DifferingCells(table, kSopTable12, std::size(kSopTable12)), ::testing::IsEmpty());
  table[13].expected[static_cast<int>(ChangeClass::kImprovement)] = {13};
  table[19].expected[static_cast<int>(ChangeClass::kChangeInDiagnosis)] = {4};
  table.erase(21);
  const auto diffs = DifferingCells(table, kSopTable12, std::size(kSopTable12));
  EXPECT_THAT(diffs, ::testing::UnorderedElementsAre("row 13 improvement: shipped [13], SOP [12, 13]",
                                                     "row 19 change_in_diagnosis: shipped [4], SOP []",
                                                     "row 21: missing from the shipped table"));
}

// ---- every cell, as CheckTransition applies it ----

const CivilDay kReview(2024, 6, 1);

TransitionQuery Query(int from, int to, ChangeClass change) {
  TransitionQuery q;
  q.from_cluster = from;
  q.to_cluster = to;
  q.change = change;
  q.review_date = kReview;
  return q;
}

class CareTransitionTable : public ::testing::TestWithParam<SopRow> {};

// Every (from, change class, to) with no history facts: adherent exactly when the SOP lists `to`, except the
// 14/15 -> 16/17 rule, which needs the person to have been on 16 or 17 before the crisis.
TEST_P(CareTransitionTable, EveryCell) {
  const SopRow& row = GetParam();
  const bool crisis = row.from == 14 || row.from == 15;
  for (ChangeClass change : kChangeClasses) {
    const std::set<int> listed = SopCell(row, change);
    for (int to = 0; to <= 21; ++to) {
      if (!IsValidClusterId(to)) continue;
      TransitionQuery q = Query(row.from, to, change);
      if (crisis && (to == 16 || to == 17)) q.cluster_before_from = to;
      auto d = ShippedRules().CheckTransition(q);
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_EQ(d->adherent(), listed.count(to) > 0)
          << row.from << " -> " << to << " (" << ChangeClassName(change) << "): " << d->reason;
      EXPECT_EQ(d->rationale_required(), !d->adherent());
      EXPECT_FALSE(d->reason.empty());
      EXPECT_EQ(d->rule_version, ShippedRules().version());
      std::set<int> want = listed;
      if (crisis && !q.cluster_before_from.has_value()) {
        want.erase(16);
        want.erase(17);
      }
      EXPECT_EQ(d->expected, want) << row.from << " -> " << to << " " << ChangeClassName(change);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllRows, CareTransitionTable, ::testing::ValuesIn(kSopTable12),
                         [](const auto& info) { return "From" + std::to_string(info.param.from); });

// ---- time on cluster (12 months on 4; 3 years on 5 and on 10) ----

TEST(CareTransitionConditions, TwelveMonthsOnFourMovesToFiveOrSix) {
  TransitionQuery q = Query(4, 4, ChangeClass::kImprovement);
  q.from_cluster_start = CivilDay(2023, 6, 2);  // 12 months reached on 2 Jun 2024: not yet
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.from_cluster_start = CivilDay(2023, 6, 1);  // exactly 12 months
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_EQ(d->expected, (std::set<int>{5, 6}));
  EXPECT_THAT(d->reason, HasSubstr("expects 5, 6"));
  EXPECT_EQ(d->applied_rules.size(), 1u);
  q.to_cluster = 5;
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  // A change of diagnosis still follows the table.
  q.change = ChangeClass::kChangeInDiagnosis;
  q.to_cluster = 19;
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
}

TEST(CareTransitionConditions, ThreeYearsOnFiveMovesToSixOrSeven) {
  TransitionQuery q = Query(5, 5, ChangeClass::kNoChange);
  q.from_cluster_start = CivilDay(2021, 6, 2);
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.from_cluster_start = CivilDay(2021, 6, 1);
  EXPECT_FALSE(ShippedRules().CheckTransition(q)->adherent());
  q.to_cluster = 7;
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
}

TEST(CareTransitionConditions, ThreeYearsOnTenMovesToElevenToSeventeen) {
  TransitionQuery q = Query(10, 10, ChangeClass::kNoChange);
  q.from_cluster_start = CivilDay(2020, 1, 1);
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_EQ(d->expected, (std::set<int>{11, 12, 13, 14, 15, 16, 17}));
  for (int to = 11; to <= 17; ++to) {
    q.to_cluster = to;
    EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent()) << to;
  }
}

// ---- restrictions ----
// The SOP keeps 11 out of first presentations and the acute pathway (CRHT, inpatients), and 7 out of first
// presentations and patients returning to secondary mental health services.

struct RestrictionCase {
  const char* name;
  int cluster;
  bool first_presentation, acute_pathway, returning_patient;
  const char* problem;  // "" = the cluster may be used
};

class CareClusterRestriction : public ::testing::TestWithParam<RestrictionCase> {};

TEST_P(CareClusterRestriction, AsTheSopSays) {
  const RestrictionCase& c = GetParam();
  const std::string why = ClusterRestrictionProblem(ShippedRules().transitions(), c.cluster,
                                                    c.first_presentation, c.acute_pathway, c.returning_patient);
  if (std::string(c.problem).empty()) {
    EXPECT_EQ(why, "");
  } else {
    EXPECT_THAT(why, HasSubstr(c.problem));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CareClusterRestriction,
    ::testing::Values(
        RestrictionCase{"ElevenAtFirstPresentation", 11, true, false, false, "first presentation"},
        RestrictionCase{"ElevenOnTheAcutePathway", 11, false, true, false, "acute pathway"},
        RestrictionCase{"ElevenForAReturningPatient", 11, false, false, true, ""},
        RestrictionCase{"ElevenOtherwise", 11, false, false, false, ""},
        RestrictionCase{"SevenAtFirstPresentation", 7, true, false, false, "first presentation"},
        RestrictionCase{"SevenForAReturningPatient", 7, false, false, true, "returning to secondary"},
        RestrictionCase{"SevenOnTheAcutePathway", 7, false, true, false, ""},
        RestrictionCase{"SevenOtherwise", 7, false, false, false, ""},
        RestrictionCase{"TwelveAnywhere", 12, true, true, true, ""},
        RestrictionCase{"SixForAReturningPatient", 6, true, false, true, ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CareTransitionConditions, ElevenNeverOnTheAcutePathway) {
  TransitionQuery q = Query(10, 11, ChangeClass::kImprovement);
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.acute_pathway = true;
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_THAT(d->reason, HasSubstr("acute pathway"));
  EXPECT_EQ(d->expected.count(11), 0u);
}

TEST(CareTransitionConditions, ElevenNeverAtFirstPresentation) {
  TransitionQuery q = Query(12, 11, ChangeClass::kImprovement);
  q.first_presentation = true;
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_THAT(d->reason, HasSubstr("first presentation"));
}

TEST(CareTransitionConditions, SevenNeverForAReturningPatient) {
  // The table offers 7 after deterioration on 5 and after a change in diagnosis from 8.
  for (auto [from, change] : {std::pair{5, ChangeClass::kDeterioration}, {8, ChangeClass::kChangeInDiagnosis}}) {
    TransitionQuery q = Query(from, 7, change);
    EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent()) << from;
    q.returning_patient = true;
    auto d = ShippedRules().CheckTransition(q);
    EXPECT_FALSE(d->adherent()) << from;
    EXPECT_THAT(d->reason, HasSubstr("returning to secondary mental health services"));
    EXPECT_EQ(d->expected.count(7), 0u);
    q.returning_patient = false;
    q.first_presentation = true;
    EXPECT_FALSE(ShippedRules().CheckTransition(q)->adherent()) << from;
  }
  // After 3 years on 5 the SOP allocates 6 or 7; a returning patient gets 6 only.
  TransitionQuery q = Query(5, 6, ChangeClass::kNoChange);
  q.from_cluster_start = CivilDay(2020, 1, 1);
  q.returning_patient = true;
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_TRUE(d->adherent());
  EXPECT_EQ(d->expected, (std::set<int>{6}));
}

// ---- the acute-event rule ----
// A referral to CRHT or to inpatients, an MHA assessment or medication non-concordance in the last 12 months:
// on 11 the person steps up to 12-15; on 12 and improved they remain on 12; on 13 and improved, on 13.

const HistoryTrigger kAllTriggers[] = {HistoryTrigger::kCrhtReferral, HistoryTrigger::kInpatientReferral,
                                       HistoryTrigger::kAdmission, HistoryTrigger::kMhaAssessment,
                                       HistoryTrigger::kMedicationNonConcordance};

struct AcuteCase {
  const char* name;
  int from;
  ChangeClass change;
  bool acute_event;  // one trigger (each in turn) in the last 12 months
  std::set<int> expected;
};

class CareAcuteEventRule : public ::testing::TestWithParam<AcuteCase> {};

TEST_P(CareAcuteEventRule, ExpectedClusters) {
  const AcuteCase& c = GetParam();
  for (HistoryTrigger t : kAllTriggers) {
    TransitionQuery q = Query(c.from, c.from, c.change);
    if (c.acute_event) q.history.push_back({t, CivilDay(2023, 12, 1)});
    for (int to = 0; to <= 21; ++to) {
      if (!IsValidClusterId(to)) continue;
      q.to_cluster = to;
      auto d = ShippedRules().CheckTransition(q);
      ASSERT_TRUE(d.ok());
      EXPECT_EQ(d->expected, c.expected) << HistoryTriggerName(t);
      EXPECT_EQ(d->adherent(), c.expected.count(to) > 0) << HistoryTriggerName(t) << " -> " << to;
      if (c.acute_event && d->applied_rules.size() == 1) {
        EXPECT_THAT(d->applied_rules[0], HasSubstr(std::string(HistoryTriggerName(t))));
      }
    }
    if (!c.acute_event) break;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CareAcuteEventRule,
    ::testing::Values(
        AcuteCase{"ElevenImprovedMustStepUp", 11, ChangeClass::kImprovement, true, {12, 13, 14, 15}},
        AcuteCase{"ElevenNoChangeMustStepUp", 11, ChangeClass::kNoChange, true, {12, 13, 14, 15}},
        AcuteCase{"ElevenDeterioratedMustStepUp", 11, ChangeClass::kDeterioration, true, {12, 13, 14, 15}},
        AcuteCase{"ElevenNoEventStays", 11, ChangeClass::kNoChange, false, {11}},
        AcuteCase{"TwelveImprovedMustRemainOnTwelve", 12, ChangeClass::kImprovement, true, {12}},
        AcuteCase{"TwelveImprovedNoEventMayMoveToEleven", 12, ChangeClass::kImprovement, false, {11, 12}},
        AcuteCase{"TwelveDeterioratedFollowsTheTable", 12, ChangeClass::kDeterioration, true,
                  {13, 14, 15, 16, 17}},
        AcuteCase{"ThirteenImprovedMustRemainOnThirteen", 13, ChangeClass::kImprovement, true, {13}},
        AcuteCase{"ThirteenImprovedNoEventMayMoveToTwelve", 13, ChangeClass::kImprovement, false, {12, 13}},
        AcuteCase{"ThirteenNoChangeFollowsTheTable", 13, ChangeClass::kNoChange, true, {13}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CareTransitionConditions, ThirteenToTwelveAfterAnAcuteEventIsNotAdherent) {
  TransitionQuery q = Query(13, 12, ChangeClass::kImprovement);
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.history.push_back({HistoryTrigger::kCrhtReferral, CivilDay(2024, 3, 1)});
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_FALSE(d->adherent());
  EXPECT_THAT(d->reason, HasSubstr("expects 13"));
  ASSERT_EQ(d->applied_rules.size(), 1u);
  EXPECT_THAT(d->applied_rules[0], HasSubstr("must remain on 13"));
}

TEST(CareTransitionConditions, AReferralToInpatientsCountsWithoutAnAdmission) {
  for (int from : {11, 12, 13}) {
    TransitionQuery q = Query(from, from == 11 ? 11 : from - 1, ChangeClass::kImprovement);
    ASSERT_TRUE(ShippedRules().CheckTransition(q)->adherent()) << from;
    q.history.push_back({HistoryTrigger::kInpatientReferral, CivilDay(2024, 2, 1)});
    auto d = ShippedRules().CheckTransition(q);
    EXPECT_FALSE(d->adherent()) << from;
    ASSERT_EQ(d->applied_rules.size(), 1u);
    EXPECT_THAT(d->applied_rules[0], HasSubstr("inpatient_referral on 2024-02-01"));
  }
  // Every acute-event rule lists both the referral and the admission.
  for (const auto& r : ShippedRules().transitions().step_up) {
    EXPECT_EQ(r.triggers.count(HistoryTrigger::kInpatientReferral), 1u);
    EXPECT_EQ(r.triggers.count(HistoryTrigger::kAdmission), 1u);
  }
}

TEST(CareTransitionConditions, AcuteEventWindowIsTwelveMonthsInclusive) {
  TransitionQuery q = Query(11, 11, ChangeClass::kNoChange);
  q.history.push_back({HistoryTrigger::kAdmission, CivilDay(2023, 5, 31)});  // 12 months + 1 day before
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
  q.history = {{HistoryTrigger::kAdmission, CivilDay(2023, 6, 1)}};  // exactly 12 months before
  EXPECT_FALSE(ShippedRules().CheckTransition(q)->adherent());
  q.history = {{HistoryTrigger::kAdmission, CivilDay(2024, 6, 2)}};  // after the review: ignored
  EXPECT_TRUE(ShippedRules().CheckTransition(q)->adherent());
}

// ---- 14/15 back to 16/17 ----
// From 14 or 15, 16 or 17 may be re-allocated when the person was on one of those two just before the crisis;
// "either" (default) and "same" are the two readings of which one may follow.

TransitionRules ParseChanged(const std::vector<std::pair<std::string, std::string>>& edits) {
  std::string yaml = ReadRuleFile("transitions.yaml");
  for (const auto& [from, to] : edits) {
    EXPECT_NE(yaml.find(from), std::string::npos) << from;
    yaml = absl::StrReplaceAll(yaml, {{from, to}});
  }
  absl::StatusOr<TransitionRules> r = ParseTransitionsFile(yaml, "transitions.yaml");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : TransitionRules{};
}

struct PriorCase {
  const char* name;
  const char* reading;  // "either" | "same"
  int from, to;
  std::optional<int> before;
  bool adherent;
  const char* reason;  // substring of the reason when not adherent
};

class CarePriorClusterReading : public ::testing::TestWithParam<PriorCase> {};

TEST_P(CarePriorClusterReading, ReturnToSixteenOrSeventeen) {
  const PriorCase& c = GetParam();
  const TransitionRules rules = ParseChanged({{"reading: either", std::string("reading: ") + c.reading}});
  TransitionQuery q = Query(c.from, c.to, ChangeClass::kImprovement);
  q.cluster_before_from = c.before;
  auto d = CheckTransition(rules, q);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->adherent(), c.adherent) << d->reason;
  if (!c.adherent) {
    EXPECT_THAT(d->reason, HasSubstr(c.reason));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CarePriorClusterReading,
    ::testing::Values(
        PriorCase{"EitherSameCluster", "either", 14, 16, 16, true, ""},
        PriorCase{"EitherTheOtherCluster", "either", 14, 17, 16, true, ""},
        PriorCase{"EitherFromFifteen", "either", 15, 16, 17, true, ""},
        PriorCase{"EitherNotOnEither", "either", 14, 16, 13, false, "was on cluster 16 or 17 immediately before"},
        PriorCase{"EitherUnknown", "either", 15, 17, std::nullopt, false, "not known"},
        PriorCase{"EitherTenIsUnaffected", "either", 14, 10, std::nullopt, true, ""},
        PriorCase{"SameSameCluster", "same", 14, 16, 16, true, ""},
        PriorCase{"SameTheOtherCluster", "same", 14, 17, 16, false, "was on cluster 17 immediately before"},
        PriorCase{"SameFromFifteen", "same", 15, 16, 17, false, "(they were on 17)"},
        PriorCase{"SameUnknown", "same", 15, 17, std::nullopt, false, "not known"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CareTransitionConditions, ShippedReadingOfTheCrisisReturnIsEither) {
  ASSERT_EQ(ShippedRules().transitions().prior_cluster.size(), 1u);
  EXPECT_EQ(ShippedRules().transitions().prior_cluster[0].reading, PriorClusterReading::kEither);
  TransitionQuery q = Query(14, 17, ChangeClass::kImprovement);
  q.cluster_before_from = 16;
  auto d = ShippedRules().CheckTransition(q);
  EXPECT_TRUE(d->adherent());
  EXPECT_EQ(d->expected, (std::set<int>{10, 13, 16, 17}));
  // Without the key the rule reads "either" too.
  const TransitionRules rules = ParseChanged({{"    reading: either\n", ""}});
  EXPECT_EQ(rules.prior_cluster.at(0).reading, PriorClusterReading::kEither);
}

TEST(CareTransitionConditions, EmptyColumnIsNeverAdherent) {
  auto d = ShippedRules().CheckTransition(Query(19, 4, ChangeClass::kChangeInDiagnosis));
  EXPECT_FALSE(d->adherent());
  EXPECT_THAT(d->reason, HasSubstr("lists no cluster"));
  EXPECT_THAT(d->reason, HasSubstr("Record a clinical rationale"));
}

// ---- advisories: evaluated, recorded, never a refusal ----
// Psychosis clusters (not 10, 14, 15): a step to less intensive care follows about 12 months of sustained
// recovery. Organic clusters: people generally move up only. Non-psychotic clusters are not stepped care: the
// person is discharged on the cluster whose interventions brought the recovery.

struct AdvisoryCase {
  const char* name;
  int from, to;
  ChangeClass change;
  std::optional<CivilDay> from_start;
  const char* id;       // nullptr: no advisory concerns the from-cluster
  bool applies, met;
  const char* reason;   // substring
};

class CareTransitionAdvisory : public ::testing::TestWithParam<AdvisoryCase> {};

TEST_P(CareTransitionAdvisory, Evaluated) {
  const AdvisoryCase& c = GetParam();
  TransitionQuery q = Query(c.from, c.to, c.change);
  q.from_cluster_start = c.from_start;
  auto d = ShippedRules().CheckTransition(q);
  ASSERT_TRUE(d.ok());
  if (c.id == nullptr) {
    EXPECT_TRUE(d->advisory_checks.empty());
    EXPECT_TRUE(d->advisories.empty());
    return;
  }
  ASSERT_EQ(d->advisory_checks.size(), 1u);
  const AdvisoryCheck& a = d->advisory_checks[0];
  EXPECT_EQ(a.id, c.id);
  EXPECT_FALSE(a.text.empty());
  EXPECT_EQ(d->advisories, std::vector<std::string>{a.text});
  EXPECT_EQ(a.applies, c.applies);
  EXPECT_EQ(a.met, c.met);
  EXPECT_EQ(a.passed(), c.met);
  EXPECT_THAT(a.reason, HasSubstr(c.reason));
  // Never a refusal: adherence is the table's alone.
  TransitionRules without = ShippedRules().transitions();
  without.advisories.clear();
  EXPECT_EQ(d->adherent(), CheckTransition(without, q)->adherent());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CareTransitionAdvisory,
    ::testing::Values(
        // Psychosis: a step down on improvement needs 12 months on the current cluster.
        AdvisoryCase{"PsychosisStepDownAfterTwelveMonths", 13, 12, ChangeClass::kImprovement, CivilDay(2023, 6, 1),
                     "psychosis_sustained_recovery", true, true, "at least 12 months"},
        AdvisoryCase{"PsychosisStepDownTooSoon", 13, 12, ChangeClass::kImprovement, CivilDay(2023, 6, 2),
                     "psychosis_sustained_recovery", true, false, "12 months is reached on 2024-06-02"},
        AdvisoryCase{"PsychosisStepDownStartUnknown", 12, 11, ChangeClass::kImprovement, std::nullopt,
                     "psychosis_sustained_recovery", true, false, "is not known"},
        AdvisoryCase{"PsychosisSixteenToThirteen", 16, 13, ChangeClass::kImprovement, CivilDay(2024, 1, 1),
                     "psychosis_sustained_recovery", true, false, "less than 12 months"},
        AdvisoryCase{"PsychosisStaying", 12, 12, ChangeClass::kImprovement, std::nullopt,
                     "psychosis_sustained_recovery", false, true, "does not apply"},
        AdvisoryCase{"PsychosisDeterioration", 11, 13, ChangeClass::kDeterioration, std::nullopt,
                     "psychosis_sustained_recovery", false, true, "does not apply"},
        AdvisoryCase{"PsychosisTenIsExcepted", 10, 11, ChangeClass::kImprovement, std::nullopt, nullptr, false,
                     true, ""},
        AdvisoryCase{"PsychosisFourteenIsExcepted", 14, 13, ChangeClass::kImprovement, std::nullopt, nullptr,
                     false, true, ""},
        AdvisoryCase{"PsychosisFifteenIsExcepted", 15, 10, ChangeClass::kImprovement, std::nullopt, nullptr,
                     false, true, ""},
        // Organic: only up; a move to a lower-numbered organic cluster is flagged.
        AdvisoryCase{"OrganicMoveDown", 20, 19, ChangeClass::kImprovement, std::nullopt, "organic_move_down", true,
                     false, "lower-numbered cluster"},
        AdvisoryCase{"OrganicMoveDownOnDeterioration", 21, 18, ChangeClass::kDeterioration, std::nullopt,
                     "organic_move_down", true, false, "Organic clusters generally only move up"},
        AdvisoryCase{"OrganicMoveUp", 19, 20, ChangeClass::kDeterioration, std::nullopt, "organic_move_down",
                     false, true, "does not apply"},
        AdvisoryCase{"OrganicChangeOfDiagnosisOutOfOrganic", 18, 4, ChangeClass::kChangeInDiagnosis, std::nullopt,
                     "organic_move_down", false, true, "does not apply"},
        // Non-psychotic: not stepped care; an improvement with a change of cluster is flagged.
        AdvisoryCase{"NonPsychoticImprovementMoves", 5, 6, ChangeClass::kImprovement, std::nullopt,
                     "non_psychotic_not_stepped_care", true, false, "not stepped care"},
        AdvisoryCase{"NonPsychoticStepDown", 8, 4, ChangeClass::kImprovement, std::nullopt,
                     "non_psychotic_not_stepped_care", true, false, "another cluster"},
        AdvisoryCase{"NonPsychoticDischargedOnTheSameCluster", 4, 4, ChangeClass::kImprovement, std::nullopt,
                     "non_psychotic_not_stepped_care", false, true, "does not apply"},
        AdvisoryCase{"NonPsychoticDeteriorationMoves", 0, 5, ChangeClass::kDeterioration, std::nullopt,
                     "non_psychotic_not_stepped_care", false, true, "does not apply"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CareTransitionAdvisoryData, ATrustCanChangeClustersPeriodAndChangeClasses) {
  const TransitionRules rules = ParseChanged(
      {{"clusters: [11, 12, 13, 16, 17]\n    change_classes: [improvement]",
        "clusters: [10, 11, 12, 13, 16, 17]\n    change_classes: [improvement, no_change]"},
       {"min_time_on_cluster: 12 months", "min_time_on_cluster: 18 months"}});
  TransitionQuery q = Query(10, 11, ChangeClass::kNoChange);
  q.from_cluster_start = CivilDay(2023, 6, 1);  // 12 months: not 18
  auto d = CheckTransition(rules, q);
  ASSERT_EQ(d->advisory_checks.size(), 1u);
  EXPECT_TRUE(d->advisory_checks[0].applies);
  EXPECT_FALSE(d->advisory_checks[0].met);
  EXPECT_THAT(d->advisory_checks[0].reason, HasSubstr("less than 18 months"));
  EXPECT_TRUE(d->adherent());
  q.from_cluster_start = CivilDay(2022, 12, 1);
  EXPECT_TRUE(CheckTransition(rules, q)->advisory_checks[0].met);
}

// ---- the ambiguous rows: shipped default, alternative switchable in data ----

// The alternative readings, transcribed from the same printed groups.
const SopRow kRow4NoChange4Only = {4, "CC4", "CC4", "CC4, CC5, CC6", "CC5, CC6, CC8, CC10, CC14, CC15, CC19"};
const SopRow kRow16ChangeInDiagnosis19Only = {16, "CC13, CC16", "CC16", "CC14, CC15, CC16, CC8", "CC19"};
const SopRow kRow18CutShort = {18, "CC18", "CC18", "CC19, CC20, CC21", "CC4, CC5, CC10, CC14, CC15"};

struct ReadingCase {
  const char* name;
  const char* shipped;      // the shipped `readings:` line
  const char* alternative;  // the same line switched
  const SopRow* row;        // the row as the alternative reads it
};

class CareTableReading : public ::testing::TestWithParam<ReadingCase> {};

TEST_P(CareTableReading, SwitchingAppliesTheAlternative) {
  const ReadingCase& c = GetParam();
  const TransitionRules rules = ParseChanged({{c.shipped, c.alternative}});
  EXPECT_THAT(DifferingCells(rules.rows, c.row, 1, /*whole_table=*/false), ::testing::IsEmpty());
  // Only that row changes.
  for (const auto& [from, row] : ShippedRules().transitions().rows) {
    if (from == c.row->from) continue;
    for (ChangeClass k : kChangeClasses) {
      EXPECT_EQ(rules.rows.at(from).expected[static_cast<int>(k)], row.expected[static_cast<int>(k)]) << from;
    }
  }
  const std::string id = "row_" + std::to_string(c.row->from);
  bool found = false;
  for (const auto& a : rules.ambiguities) {
    if (a.id != id) continue;
    found = true;
    EXPECT_NE(a.chosen, a.table_reading);
    EXPECT_THAT(std::string(c.alternative), HasSubstr(a.chosen));
  }
  EXPECT_TRUE(found);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, CareTableReading,
    ::testing::Values(ReadingCase{"Row4", "row_4: no_change_4_5_6", "row_4: no_change_4_only", &kRow4NoChange4Only},
                      ReadingCase{"Row16", "row_16: as_row_17", "row_16: change_in_diagnosis_19_only",
                                  &kRow16ChangeInDiagnosis19Only},
                      ReadingCase{"Row18", "row_18: as_printed", "row_18: cut_short_14_15", &kRow18CutShort}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CareTableReadingDefaults, ShippedReadingsAreTheTablesOwn) {
  const auto& ambiguities = ShippedRules().transitions().ambiguities;
  ASSERT_EQ(ambiguities.size(), 3u);
  for (const auto& a : ambiguities) {
    EXPECT_EQ(a.chosen, a.table_reading) << a.id;
    EXPECT_FALSE(a.alternatives.empty()) << a.id;
  }
  // Switching changes decisions: from 4, no change to 5 is expected by default and not by the alternative.
  EXPECT_TRUE(ShippedRules().CheckTransition(Query(4, 5, ChangeClass::kNoChange))->adherent());
  const TransitionRules alt = ParseChanged({{"row_4: no_change_4_5_6", "row_4: no_change_4_only"}});
  EXPECT_FALSE(CheckTransition(alt, Query(4, 5, ChangeClass::kNoChange))->adherent());
  EXPECT_TRUE(CheckTransition(alt, Query(4, 5, ChangeClass::kChangeInDiagnosis))->adherent());
  // Naming the table's own reading, or leaving the line out, keeps the table.
  const TransitionRules omitted = ParseChanged({{"  row_18: as_printed\n", ""}});
  EXPECT_EQ(omitted.rows.at(18).expected[static_cast<int>(ChangeClass::kChangeInDiagnosis)],
            (std::set<int>{4, 5, 10}));
}

TEST(CareTableReadingErrors, UnknownNamesAreRefusedNamingTheField) {
  auto parse = [](const std::string& from, const std::string& to) {
    std::string yaml = absl::StrReplaceAll(ReadRuleFile("transitions.yaml"), {{from, to}});
    return ParseTransitionsFile(yaml, "transitions.yaml").status();
  };
  absl::Status s = parse("row_4: no_change_4_5_6", "row_4: no_change_4_or_5");
  EXPECT_THAT(Msg(s), HasSubstr("readings.row_4: reading \"no_change_4_or_5\" is not one of: no_change_4_5_6, "
                                "no_change_4_only"));
  s = parse("row_16: as_row_17", "row_17: as_row_17");
  EXPECT_THAT(Msg(s), HasSubstr("readings.row_17: no ambiguity \"row_17\" in ambiguities; expected one of: "
                                "row_4, row_16, row_18"));
  s = parse("cut_short_14_15: {change_in_diagnosis:", "cut_short_14_15: {change_in_diagnsis:");
  EXPECT_THAT(Msg(s), HasSubstr("ambiguities[2].alternatives.cut_short_14_15.change_in_diagnsis: unknown field"));
  s = parse("change_in_diagnosis_19_only: {", "as_row_17: {");
  EXPECT_THAT(Msg(s), HasSubstr("ambiguities[1].alternatives.as_row_17: is the table's own reading"));
  s = parse("    from: 18\n    table_reading", "    from: 9\n    table_reading");
  EXPECT_THAT(Msg(s), HasSubstr("ambiguities[2].from: cluster 9 is not a valid cluster"));
}

TEST(CareTransitionNames, RoundTrip) {
  for (ChangeClass c : kChangeClasses) EXPECT_EQ(*ParseChangeClass(ChangeClassName(c)), c);
  for (HistoryTrigger t : kAllTriggers) EXPECT_EQ(*ParseHistoryTrigger(HistoryTriggerName(t)), t);
  EXPECT_EQ(HistoryTriggerName(HistoryTrigger::kInpatientReferral), "inpatient_referral");
  for (auto r : {PriorClusterReading::kEither, PriorClusterReading::kSame}) {
    EXPECT_EQ(*ParsePriorClusterReading(PriorClusterReadingName(r)), r);
  }
  for (auto m : {AdvisoryMove::kToOtherCluster, AdvisoryMove::kToLowerNumbered}) {
    EXPECT_EQ(*ParseAdvisoryMove(AdvisoryMoveName(m)), m);
  }
  for (auto t : {AdvisoryTest::kTimeOnCluster, AdvisoryTest::kFlag}) {
    EXPECT_EQ(*ParseAdvisoryTest(AdvisoryTestName(t)), t);
  }
  EXPECT_FALSE(ParseChangeClass("better").ok());
  EXPECT_FALSE(ParseHistoryTrigger("arrest").ok());
  EXPECT_FALSE(ParsePriorClusterReading("both").ok());
  EXPECT_FALSE(ParseAdvisoryMove("down").ok());
  EXPECT_FALSE(ParseAdvisoryTest("warn").ok());
}

TEST(CareTransitionErrors, InvalidClusters) {
  EXPECT_EQ(ShippedRules().CheckTransition(Query(9, 4, ChangeClass::kNoChange)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShippedRules().CheckTransition(Query(4, 22, ChangeClass::kNoChange)).status().code(),
            absl::StatusCode::kInvalidArgument);
  TransitionRules empty;
  EXPECT_EQ(CheckTransition(empty, Query(4, 4, ChangeClass::kNoChange)).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace care
