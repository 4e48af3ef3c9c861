// pbr_loadgen_test: the national-year generator's rows parse as pbr-import reads them, add up exactly,
// repeat byte for byte, spread over every cluster and team, and carry valid, distinct NHS numbers.
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "care/nhs_number.h"
#include "corrections.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "national_year.h"
#include "rows.h"

namespace pbr::loadgen {
namespace {

const care::RuleSet& Rules() {
  static const care::RuleSet* rules = [] {
    auto r = care::RuleSet::LoadFromDirectory(PBR_RULES_DIR);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      std::abort();
    }
    return new care::RuleSet(*std::move(r));
  }();
  return *rules;
}

NationalYearOptions Small(int64_t people, int64_t assessments, uint64_t seed = 1) {
  NationalYearOptions o;
  o.people = people;
  o.assessments = assessments;
  o.seed = seed;
  o.year_end = absl::CivilDay(2026, 11, 22);
  return o;
}

struct Generated {
  std::string csv;
  std::vector<PersonRecord> people;
  NationalYearStats stats;
};

Generated Generate(const NationalYearOptions& o, bool keep_people = true) {
  auto year = NationalYear::Create(Rules(), o);
  EXPECT_TRUE(year.ok()) << year.status();
  Generated g;
  g.csv = CsvHeader();
  year->Run([&](const PersonRecord& p) {
    for (const auto& row : p.rows) AppendCsvRow(row, g.csv);
    if (keep_people) g.people.push_back(p);
    return true;
  });
  g.stats = year->stats();
  return g;
}

const absl::TimeZone& London() {
  static const absl::TimeZone zone = [] {
    absl::TimeZone z;
    if (!absl::LoadTimeZone("Europe/London", &z)) z = absl::UTCTimeZone();
    return z;
  }();
  return zone;
}

TEST(LoadgenCsv, EveryRowParsesWithPbrImportsParserAsTheRequestGenerated) {
  const Generated g = Generate(Small(2000, 6000));
  auto file = import::ParseImportFile(g.csv, London());
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(file->rejects.empty()) << file->rejects.front().line << " " << file->rejects.front().code << ": "
                                     << file->rejects.front().reason;
  std::vector<const import::ImportRow*> generated;
  for (const auto& p : g.people) {
    for (const auto& r : p.rows) generated.push_back(&r);
  }
  ASSERT_EQ(file->rows.size(), generated.size());
  for (size_t i = 0; i < generated.size(); ++i) {
    const auto& parsed = file->rows[i];
    ASSERT_EQ(parsed.is_assessment(), generated[i]->is_assessment()) << "row " << i;
    const google::protobuf::Message& a = parsed.is_assessment()
                                             ? static_cast<const google::protobuf::Message&>(
                                                   std::get<import::AssessmentRequest>(parsed.request))
                                             : std::get<import::CareEventRequest>(parsed.request);
    const google::protobuf::Message& b = generated[i]->is_assessment()
                                             ? static_cast<const google::protobuf::Message&>(
                                                   std::get<import::AssessmentRequest>(generated[i]->request))
                                             : std::get<import::CareEventRequest>(generated[i]->request);
    ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a, b))
        << "line " << parsed.line << ":\n" << a.DebugString() << "generated:\n" << b.DebugString();
  }
  // The header names only columns pbr-import knows.
  const auto known = import::KnownColumns();
  for (const auto& c : CsvColumns()) EXPECT_NE(std::find(known.begin(), known.end(), c), known.end()) << c;
}

TEST(LoadgenTotals, AssessmentsAndPeopleAddUpExactly) {
  for (const auto& [people, assessments] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 2}, {1, 5}, {7, 14}, {7, 35}, {1000, 3000}, {1000, 3001}, {999, 2222}, {3000, 14999}}) {
    SCOPED_TRACE(absl::StrCat(people, " people, ", assessments, " assessments"));
    const Generated g = Generate(Small(people, assessments));
    EXPECT_EQ(g.stats.people, people);
    EXPECT_EQ(g.stats.assessments, assessments);
    int64_t counted = 0, initials = 0;
    for (const auto& p : g.people) {
      int reviews = 0;
      for (const auto& r : p.rows) {
        if (!r.is_assessment()) continue;
        ++counted;
        const auto& a = std::get<import::AssessmentRequest>(r.request);
        if (a.reason() == pbr::v1::ASSESSMENT_REASON_INITIAL) {
          ++initials;
        } else {
          ++reviews;
          EXPECT_NE(a.change_class(), pbr::v1::CHANGE_CLASS_UNSPECIFIED) << "a review needs a change class";
        }
      }
      EXPECT_GE(reviews, kMinReviews);
      EXPECT_LE(reviews, kMaxReviews);
      EXPECT_EQ(reviews, p.reviews);
    }
    EXPECT_EQ(counted, assessments);
    EXPECT_EQ(initials, people);
  }
}

TEST(LoadgenDeterminism, TheSameOptionsGiveTheSameBytesAndAnotherSeedOthers) {
  const Generated a = Generate(Small(1500, 4500, 7), false);
  const Generated b = Generate(Small(1500, 4500, 7), false);
  EXPECT_EQ(a.csv, b.csv);
  const Generated c = Generate(Small(1500, 4500, 8), false);
  EXPECT_NE(a.csv, c.csv);
  // Another seed describes the same people (NHS numbers, local ids) with other record ids.
  const Generated d = Generate(Small(1500, 4500, 7), true);
  const Generated e = Generate(Small(1500, 4500, 8), true);
  EXPECT_EQ(d.people[10].nhs_number, e.people[10].nhs_number);
}

TEST(LoadgenDistribution, TwentyThousandPeopleCoverEveryClusterTeamReasonAndEventType) {
  const Generated g = Generate(Small(20000, 60000), false);
  for (int c = 0; c <= 21; ++c) {
    if (c == 9) {
      EXPECT_EQ(g.stats.assessments_by_cluster[c], 0);
    } else {
      EXPECT_GT(g.stats.assessments_by_cluster[c], 0) << "cluster " << c;
    }
  }
  for (const auto& [id, team] : Rules().teams().teams) {
    EXPECT_GT(g.stats.assessments_by_team.count(id) ? g.stats.assessments_by_team.at(id) : 0, 0) << id;
  }
  for (const char* reason : {"initial", "formal_review", "unplanned_review", "transfer_review", "discharge_review"}) {
    EXPECT_GT(g.stats.assessments_by_reason.count(reason), 0u) << reason;
  }
  EXPECT_GT(g.stats.assessments_by_reason.at("formal_review"), g.stats.assessments_by_reason.at("unplanned_review"));
  for (const char* type : {"referral_received", "referral_to_crht", "referral_to_inpatients", "admission",
                           "face_to_face_contact", "discharge_review", "discharge_from_service", "mha_assessment",
                           "medication_non_concordance"}) {
    EXPECT_GT(g.stats.care_events_by_type.count(type), 0u) << type;
  }
  EXPECT_EQ(g.stats.care_events_by_type.at("referral_received"), 20000);
  for (int n = kMinReviews; n <= kMaxReviews; ++n) EXPECT_GT(g.stats.people_by_reviews[n], 0) << n << " reviews";
  // Rule breaches are the exception: a few percent of assessments.
  EXPECT_LT(g.stats.with_rationale, g.stats.assessments / 20);
  EXPECT_EQ(g.stats.rows_by_source.size(), 2u);
  // Every row falls in the year before the year end, in the past.
  EXPECT_GE(absl::ToCivilDay(g.stats.earliest, London()), absl::CivilDay(2026, 11, 22) - 365);
  EXPECT_LT(absl::ToCivilDay(g.stats.latest, London()), absl::CivilDay(2026, 11, 22));
}

TEST(LoadgenNhsNumbers, ValidDistinctAndInTheTestRange) {
  const Generated g = Generate(Small(5000, 15000));
  std::set<std::string> seen;
  for (const auto& p : g.people) {
    EXPECT_TRUE(care::ValidateNhsNumber(p.nhs_number).ok()) << p.nhs_number;
    EXPECT_EQ(p.nhs_number.substr(0, 3), "999");
    EXPECT_TRUE(seen.insert(p.nhs_number).second) << p.nhs_number;
    for (const auto& r : p.rows) EXPECT_EQ(r.nhs_number(), p.nhs_number);
  }
  EXPECT_EQ(TestRangeCapacity(), 909090);
  // Past the test range: the 998 range, still valid and distinct.
  const std::string last = NhsNumberAt(TestRangeCapacity() - 1);
  const std::string next = NhsNumberAt(TestRangeCapacity());
  EXPECT_EQ(last.substr(0, 3), "999");
  EXPECT_EQ(next.substr(0, 3), "998");
  EXPECT_TRUE(care::ValidateNhsNumber(last).ok());
  EXPECT_TRUE(care::ValidateNhsNumber(next).ok());
  EXPECT_EQ(NhsCheckDigit("943476591"), 9);  // the NHS's published example 943 476 5919
}

TEST(LoadgenIds, RecordIdsUniquePerSourceAndLocalIdsStablePerPersonAndSource) {
  NationalYearOptions o = Small(4000, 12000);
  o.source_systems = 3;
  const Generated g = Generate(o);
  std::set<std::pair<std::string, std::string>> record_ids;
  std::map<std::pair<std::string, std::string>, std::string> local_of;  // (source, nhs) -> local id
  std::map<std::pair<std::string, std::string>, std::string> nhs_of;    // (source, local id) -> nhs
  int multi_source = 0;
  for (const auto& p : g.people) {
    std::set<std::string> sources;
    for (const auto& r : p.rows) {
      EXPECT_TRUE(record_ids.insert({r.source_system(), r.source_record_id()}).second) << r.source_record_id();
      const std::string& local = std::visit([](const auto& x) -> const std::string& { return x.local_patient_id(); },
                                            r.request);
      auto [it, added] = local_of.emplace(std::make_pair(r.source_system(), p.nhs_number), local);
      EXPECT_EQ(it->second, local);
      auto [it2, added2] = nhs_of.emplace(std::make_pair(r.source_system(), local), p.nhs_number);
      EXPECT_EQ(it2->second, p.nhs_number);
      sources.insert(r.source_system());
    }
    multi_source += sources.size() > 1;
  }
  EXPECT_GT(multi_source, 0) << "some people are known to two EPRs";
  EXPECT_EQ(g.stats.rows_by_source.size(), 3u);
}

TEST(LoadgenHistory, EachPersonsRowsAreInTimeOrderAndFitTheIntakesRules) {
  const Generated g = Generate(Small(3000, 9000));
  for (const auto& p : g.people) {
    ASSERT_FALSE(p.rows.empty());
    for (size_t i = 1; i < p.times.size(); ++i) EXPECT_LT(p.times[i - 1], p.times[i]) << p.nhs_number;
    // A referral opens the period; a discharge closes it after its last assessment.
    const auto* first = std::get_if<import::CareEventRequest>(&p.rows.front().request);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->type(), pbr::v1::CARE_EVENT_REFERRAL_RECEIVED);
    const auto* last = std::get_if<import::CareEventRequest>(&p.rows.back().request);
    EXPECT_EQ(p.discharged, last != nullptr && last->type() == pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE);
    for (const auto& r : p.rows) {
      if (const auto* a = std::get_if<import::AssessmentRequest>(&r.request)) {
        ASSERT_EQ(a->ratings().items_size(), care::kMhctItemCount);
        const int item8 = a->ratings().items(care::kItem8Index);
        EXPECT_EQ(item8 >= 1 && item8 <= 4, !a->ratings().item8_problem_type().empty()) << a->source_record_id();
        EXPECT_NE(a->cluster(), 9);
        EXPECT_NE(Rules().teams().Find(a->team_id()), nullptr);
        if (a->has_admitted_at()) EXPECT_LE(a->admitted_at().seconds(), a->assessed_at().seconds());
      } else {
        const auto& e = std::get<import::CareEventRequest>(r.request);
        const bool referral = e.type() == pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT ||
                              e.type() == pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS;
        if (!referral) EXPECT_FALSE(e.out_of_hours()) << "out_of_hours applies to referrals only";
      }
    }
  }
}

// The generator chooses clusters with care::RankClusters: the same order SuggestClusters gives.
TEST(LoadgenRanking, RankClustersRanksAsTheRulesSuggestClusters) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (int n = 0; n < 3000; ++n) {
    std::array<int, care::kMhctItemCount> items{};
    care::MhctRatings ratings;
    for (int i = 0; i < care::kMhctItemCount; ++i) {
      items[i] = next() % 50 == 0 ? care::kNotKnown : static_cast<int>(next() % 5);
      ratings.items[i] = items[i];
    }
    if (items[care::kItem8Index] >= 1 && items[care::kItem8Index] <= 4) ratings.item8_problem_type = 'B';
    auto expected = Rules().SuggestClusters(ratings);
    ASSERT_TRUE(expected.ok()) << expected.status();
    const care::ClusterRanking got = care::RankClusters(Rules().profiles(), ratings);
    std::vector<int> want_ranked, want_excluded;
    for (const auto& s : expected->ranked) want_ranked.push_back(s.cluster);
    for (const auto& s : expected->excluded) want_excluded.push_back(s.cluster);
    std::vector<int> got_excluded = got.excluded;
    std::sort(got_excluded.begin(), got_excluded.end());
    std::sort(want_excluded.begin(), want_excluded.end());
    ASSERT_EQ(got.ranked, want_ranked) << "ratings #" << n;
    ASSERT_EQ(got_excluded, want_excluded) << "ratings #" << n;
  }
}

TEST(LoadgenOptions, ProblemsNameTheFlag) {
  auto bad = [](NationalYearOptions o) { return std::string(ValidateOptions(o).message()); };
  EXPECT_NE(bad(Small(0, 0)).find("--people"), std::string::npos);
  EXPECT_NE(bad(Small(10, 19)).find("--assessments"), std::string::npos);
  EXPECT_NE(bad(Small(10, 51)).find("--assessments"), std::string::npos);
  NationalYearOptions o = Small(10, 30);
  o.source_systems = 0;
  EXPECT_NE(bad(o).find("--source-systems"), std::string::npos);
  o = Small(10, 30);
  o.year_end = absl::CivilDay(1999, 1, 1);
  EXPECT_NE(bad(o).find("--year-end"), std::string::npos);
  EXPECT_TRUE(ValidateOptions(Small(10, 30)).ok());
}

TEST(LoadgenCorrections, AFewPeopleGetAnAmendmentOrAWithdrawalOfTheirOwnRecords) {
  const Generated g = Generate(Small(3000, 9000));
  CorrectionWriter w(1);
  std::string out = CorrectionWriter::Header();
  for (const auto& p : g.people) w.Add(p, out);
  EXPECT_GT(w.amendments(), 10);
  EXPECT_GT(w.withdrawals(), 10);
  EXPECT_LT(w.amendments() + w.withdrawals(), 3000 / 20);
  // Every line has the header's column count.
  const auto records = import::ParseCsv(out);
  ASSERT_FALSE(records.empty());
  for (const auto& r : records) {
    EXPECT_TRUE(r.error.empty()) << r.line << ": " << r.error;
    EXPECT_EQ(r.fields.size(), records.front().fields.size()) << "line " << r.line;
  }
  // pbr-import reads every line as the correction it is, without a reject.
  auto file = import::ParseImportFile(out, London());
  ASSERT_TRUE(file.ok()) << file.status();
  for (const auto& r : file->rejects) ADD_FAILURE() << "line " << r.line << ": " << r.code << " " << r.reason;
  int64_t amended = 0, withdrawn = 0;
  for (const import::ImportRow& row : file->rows) {
    if (row.action == import::Action::kAmendAssessment) {
      ++amended;
      EXPECT_TRUE(absl::EndsWith(std::get<import::AssessmentRequest>(row.request).clinician_id(), "-corrected"));
    } else {
      EXPECT_EQ(row.action, import::Action::kWithdrawCareEvent) << "line " << row.line;
      EXPECT_EQ(row.correction_reason, "entered on the wrong record");
      ++withdrawn;
    }
  }
  EXPECT_EQ(amended, w.amendments());
  EXPECT_EQ(withdrawn, w.withdrawals());
}

}  // namespace
}  // namespace pbr::loadgen
