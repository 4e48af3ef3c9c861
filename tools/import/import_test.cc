#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "csv.h"
#include "gtest/gtest.h"
#include "progress.h"  // tools/pbrctl: shared with `pbrctl demo`
#include "report.h"
#include "rows.h"
#include "send.h"

namespace pbr::import {
namespace {

using pbr::cli::Progress;

using Cells = std::map<std::string, std::string>;

const absl::TimeZone& London() {
  static const absl::TimeZone zone = [] {
    absl::TimeZone z;
    EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &z));
    return z;
  }();
  return zone;
}

int64_t Unix(int y, int m, int d, int hh, int mm) {
  return absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone()));
}

// A complete, parseable assessment row; tests change the cells they are about.
Cells Assessment() {
  Cells c = {{"kind", "assessment"},        {"source_system", "rio-north"},
             {"source_record_id", "RN-1"},  {"nhs_number", "9990001006"},
             {"local_patient_id", "RN100"}, {"team_id", "cmht-north"},
             {"clinician_id", "clin-1"},    {"assessed_at", "2024-05-14T10:30:00Z"},
             {"reason", "initial"},         {"cluster", "4"},
             {"item8_problem_type", "B"}};
  const int ratings[18] = {0, 1, 0, 0, 1, 0, 3, 2, 2, 1, 0, 2, 0, 0, 1, 0, 1, 1};
  for (int i = 0; i < 13; ++i) c[absl::StrCat("item", i + 1)] = std::to_string(ratings[i]);
  for (int i = 0; i < 5; ++i)
    c[absl::StrCat("item", std::string(1, static_cast<char>('A' + i)))] = std::to_string(ratings[13 + i]);
  return c;
}

Cells CareEvent() {
  return {
      {"kind", "care_event"},       {"source_system", "systmone-south"}, {"source_record_id", "SS-E-1"},
      {"nhs_number", "9990001006"}, {"local_patient_id", "S-77"},        {"team_id", "crht-south"},
      {"clinician_id", "clin-4"},   {"event_type", "referral_to_crht"},  {"occurred_at", "2024-05-30T22:15:00+01:00"},
      {"out_of_hours", "true"}};
}

// A file with every known column as the header, then one line per row.
std::string File(const std::vector<Cells>& rows) {
  const std::vector<std::string> columns = KnownColumns();
  std::string out = CsvLine(columns);
  for (const Cells& row : rows) {
    std::vector<std::string> fields;
    for (const std::string& c : columns) fields.push_back(row.count(c) ? row.at(c) : "");
    out += CsvLine(fields);
  }
  return out;
}

ImportFile Parse(const std::string& text) {
  auto file = ParseImportFile(text, London());
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *std::move(file) : ImportFile{};
}

// The one reject of a one-row file, checked to be on line 2 (the line after the header).
Reject OnlyReject(const Cells& row) {
  ImportFile file = Parse(File({row}));
  EXPECT_TRUE(file.rows.empty());
  EXPECT_EQ(file.rejects.size(), 1u);
  if (file.rejects.empty()) return {};
  EXPECT_EQ(file.rejects[0].line, 2);
  return file.rejects[0];
}

// ---- CSV ----

TEST(ImportCsv, QuotedFieldsHoldCommasDoubledQuotesAndLineBreaks) {
  const auto records = ParseCsv("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\nlast,row\n");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].fields, (std::vector<std::string>{"x, y", "say \"hi\""}));
  EXPECT_EQ(records[2].fields, (std::vector<std::string>{"two\nlines", "z"}));
  EXPECT_EQ(records[2].line, 3);
  EXPECT_EQ(records[3].line, 5);  // the line break inside the quoted field counts
}

TEST(ImportCsv, CrlfBomBlankLinesAndNoFinalLineBreak) {
  const auto records = ParseCsv("\xEF\xBB\xBFkind,x\r\n\r\nassessment,1\r\ncare_event,2");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].fields, (std::vector<std::string>{"kind", "x"}));  // no BOM in the first name
  EXPECT_EQ(records[1].fields, (std::vector<std::string>{"assessment", "1"}));
  EXPECT_EQ(records[1].line, 3);
  EXPECT_EQ(records[2].fields, (std::vector<std::string>{"care_event", "2"}));
}

TEST(ImportCsv, EmptyFieldsAreKept) {
  const auto records = ParseCsv("a,,\"\",b,\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (std::vector<std::string>{"a", "", "", "b", ""}));
}

TEST(ImportCsv, MalformedQuotingIsAnErrorOnItsLineAndLaterRowsAreStillRead) {
  const auto records = ParseCsv("h\nab\"c\n\"x\"y\nok\n");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].line, 2);
  EXPECT_TRUE(absl::StrContains(records[1].error, "quote inside an unquoted field")) << records[1].error;
  EXPECT_EQ(records[2].line, 3);
  EXPECT_TRUE(absl::StrContains(records[2].error, "after a closing quote")) << records[2].error;
  EXPECT_EQ(records[3].fields, std::vector<std::string>{"ok"});
  EXPECT_EQ(records[3].line, 4);
}

TEST(ImportCsv, UnterminatedQuoteIsAnErrorOnTheLineThatOpenedIt) {
  const auto records = ParseCsv("h\n\"open\nmore\nrows\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].line, 2);
  EXPECT_TRUE(absl::StrContains(records[1].error, "never closed")) << records[1].error;
}

TEST(ImportCsv, FieldsAreQuotedOnlyWhenNeededAndRoundTrip) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField(" padded"), "\" padded\"");
  const std::vector<std::string> fields = {"1", "x,y", "q\"uote", "two\nlines", ""};
  const auto records = ParseCsv(CsvLine(fields));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, fields);
}

TEST(ImportCsv, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("caf\xE9"));           // Latin-1
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("ends in \xE2\x82"));  // truncated
}

// ---- header ----

TEST(ImportHeader, UnknownColumnsAreRefusedByName) {
  auto file =
      ParseImportFile("kind,source_system,source_record_id,nhs_number,colour,Team\nassessment,a,b,c,d,e\n", London());
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(absl::StrContains(file.status().message(), "'colour'")) << file.status();
  EXPECT_TRUE(absl::StrContains(file.status().message(), "'Team'")) << file.status();
}

TEST(ImportHeader, MissingRequiredAndRepeatedColumnsAreRefused) {
  auto file = ParseImportFile("kind,source_system,team_id,team_id\n", London());
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(absl::StrContains(file.status().message(), "repeated column(s) team_id")) << file.status();
  EXPECT_TRUE(absl::StrContains(file.status().message(), "source_record_id, nhs_number")) << file.status();
}

TEST(ImportHeader, AnyOrderAnyCaseAndAHeaderOnlyFileHasNoRows) {
  auto file = ParseImportFile(" NHS_Number ,Kind,source_record_id,SOURCE_SYSTEM,event_type\r\n", London());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->rows.empty());
  EXPECT_TRUE(file->rejects.empty());
  file = ParseImportFile(
      "nhs_number,kind,source_record_id,source_system,event_type\n9990001006,care_event,E1,rio,admission\n", London());
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->rows.size(), 1u);
  EXPECT_EQ(std::get<CareEventRequest>(file->rows[0].request).type(), pbr::v1::CARE_EVENT_ADMISSION);
}

TEST(ImportHeader, AnEmptyFileIsAnError) {
  EXPECT_FALSE(ParseImportFile("", London()).ok());
  EXPECT_FALSE(ParseImportFile("\xEF\xBB\xBF\r\n", London()).ok());
}

// ---- row -> request ----

TEST(ImportRows, AssessmentMapsEveryColumn) {
  Cells c = Assessment();
  c["itemA"] = "9";
  c["itemE"] = "4";
  c["item8_problem_type"] = "J";
  c["item8_other_text"] = " hoarding, \"papers\" ";
  c["service_area"] = "community_non_psychosis";
  c["commissioner_id"] = "icb-north";
  c["care_coordinator_id"] = " cc-9 ";
  c["face_to_face_contacts"] = "3";
  c["first_contact_at"] = "2024-05-01";  // BST: 12:00 London is 11:00 UTC
  c["admitted_at"] = "2024-01-15";       // GMT: 12:00 London is 12:00 UTC
  c["assessed_at"] = "2024-05-14T10:30:00.250+01:00";
  c["reason"] = "formal_review";
  c["change_class"] = "change_in_diagnosis";
  c["clinical_rationale"] = "  agreed at MDT, see note  ";
  c["cluster"] = "0";
  ImportFile file = Parse(File({c}));
  ASSERT_EQ(file.rows.size(), 1u) << (file.rejects.empty() ? "" : file.rejects[0].reason);
  ASSERT_TRUE(file.rows[0].is_assessment());
  EXPECT_EQ(file.rows[0].line, 2);
  const auto& r = std::get<AssessmentRequest>(file.rows[0].request);
  EXPECT_EQ(r.source_system(), "rio-north");
  EXPECT_EQ(r.source_record_id(), "RN-1");
  EXPECT_EQ(r.nhs_number(), "9990001006");
  EXPECT_EQ(r.local_patient_id(), "RN100");
  EXPECT_EQ(r.team_id(), "cmht-north");
  EXPECT_EQ(r.clinician_id(), "clin-1");
  EXPECT_EQ(r.assessed_at().seconds(), Unix(2024, 5, 14, 9, 30));
  EXPECT_EQ(r.assessed_at().nanos(), 250000000);
  EXPECT_EQ(r.reason(), pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  EXPECT_EQ(r.cluster(), 0);
  ASSERT_EQ(r.ratings().items_size(), 18);
  EXPECT_EQ(r.ratings().items(6), 3);   // item7
  EXPECT_EQ(r.ratings().items(12), 0);  // item13
  EXPECT_EQ(r.ratings().items(13), 9);  // itemA follows item13
  EXPECT_EQ(r.ratings().items(17), 4);  // itemE
  EXPECT_EQ(r.ratings().item8_problem_type(), "J");
  EXPECT_EQ(r.ratings().item8_other_text(), " hoarding, \"papers\" ");  // free text kept as written
  EXPECT_EQ(r.service_area(), "community_non_psychosis");
  EXPECT_EQ(r.commissioner_id(), "icb-north");
  EXPECT_EQ(r.care_coordinator_id(), "cc-9");
  EXPECT_EQ(r.face_to_face_contacts(), 3);
  EXPECT_EQ(r.first_contact_at().seconds(), Unix(2024, 5, 1, 11, 0));
  EXPECT_EQ(r.admitted_at().seconds(), Unix(2024, 1, 15, 12, 0));
  EXPECT_EQ(r.change_class(), pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS);
  EXPECT_EQ(r.clinical_rationale(), "  agreed at MDT, see note  ");
}

TEST(ImportRows, CareEventMapsEveryColumn) {
  ImportFile file = Parse(File({CareEvent()}));
  ASSERT_EQ(file.rows.size(), 1u) << (file.rejects.empty() ? "" : file.rejects[0].reason);
  ASSERT_FALSE(file.rows[0].is_assessment());
  const auto& e = std::get<CareEventRequest>(file.rows[0].request);
  EXPECT_EQ(e.source_system(), "systmone-south");
  EXPECT_EQ(e.source_record_id(), "SS-E-1");
  EXPECT_EQ(e.nhs_number(), "9990001006");
  EXPECT_EQ(e.local_patient_id(), "S-77");
  EXPECT_EQ(e.team_id(), "crht-south");
  EXPECT_EQ(e.clinician_id(), "clin-4");
  EXPECT_EQ(e.type(), pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT);
  EXPECT_EQ(e.occurred_at().seconds(), Unix(2024, 5, 30, 21, 15));
  EXPECT_TRUE(e.out_of_hours());
}

TEST(ImportRows, EmptyCellsAreNotGiven) {
  Cells e = CareEvent();
  e["occurred_at"] = "";
  e["out_of_hours"] = "";
  e["local_patient_id"] = "   ";
  Cells a = Assessment();
  for (const char* k : {"assessed_at", "reason", "item8_problem_type"}) a[k] = "";
  for (int i = 1; i <= 13; ++i) a[absl::StrCat("item", i)] = "";
  for (char x : std::string("ABCDE")) a[absl::StrCat("item", std::string(1, x))] = "";
  ImportFile file = Parse(File({e, a}));
  ASSERT_EQ(file.rows.size(), 2u) << (file.rejects.empty() ? "" : file.rejects[0].reason);
  const auto& ev = std::get<CareEventRequest>(file.rows[0].request);
  EXPECT_FALSE(ev.has_occurred_at());
  EXPECT_FALSE(ev.out_of_hours());
  EXPECT_EQ(ev.local_patient_id(), "");
  const auto& as = std::get<AssessmentRequest>(file.rows[1].request);
  EXPECT_FALSE(as.has_assessed_at());
  EXPECT_EQ(as.reason(), pbr::v1::ASSESSMENT_REASON_UNSPECIFIED);
  EXPECT_EQ(as.ratings().items_size(), 0);  // none given: the service says what it needs
}

TEST(ImportRows, WordsIgnoreCaseAndSurroundingSpaces) {
  Cells a = Assessment();
  a["kind"] = " Assessment ";
  a["reason"] = "UNPLANNED_REVIEW";
  a["change_class"] = " No_Change";
  a["cluster"] = " 11 ";
  Cells e = CareEvent();
  e["event_type"] = "Medication_Non_Concordance";
  e["out_of_hours"] = "FALSE";
  ImportFile file = Parse(File({a, e}));
  ASSERT_EQ(file.rows.size(), 2u) << (file.rejects.empty() ? "" : file.rejects[0].reason);
  const auto& r = std::get<AssessmentRequest>(file.rows[0].request);
  EXPECT_EQ(r.reason(), pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW);
  EXPECT_EQ(r.change_class(), pbr::v1::CHANGE_CLASS_NO_CHANGE);
  EXPECT_EQ(r.cluster(), 11);
  EXPECT_EQ(std::get<CareEventRequest>(file.rows[1].request).type(), pbr::v1::CARE_EVENT_MEDICATION_NON_CONCORDANCE);
}

TEST(ImportRows, AReferralReceivedOpensAReferralPeriodFromAFile) {
  Cells e = CareEvent();
  e["event_type"] = "referral_received";
  e["out_of_hours"] = "";
  ImportFile file = Parse(File({e}));
  ASSERT_EQ(file.rows.size(), 1u) << (file.rejects.empty() ? "" : file.rejects[0].reason);
  EXPECT_EQ(std::get<CareEventRequest>(file.rows[0].request).type(), pbr::v1::CARE_EVENT_REFERRAL_RECEIVED);
}

TEST(ImportRows, ValuesAreParsedNotValidated) {
  // Range and identity checks are the service's: these are sent as written.
  Cells a = Assessment();
  a["nhs_number"] = "1234567890";
  a["cluster"] = "9";
  a["item1"] = "7";
  ImportFile file = Parse(File({a}));
  ASSERT_EQ(file.rows.size(), 1u);
  const auto& r = std::get<AssessmentRequest>(file.rows[0].request);
  EXPECT_EQ(r.cluster(), 9);
  EXPECT_EQ(r.ratings().items(0), 7);
}

// ---- local rejections ----

TEST(ImportRejects, MalformedCsvOnItsLine) {
  const std::string text =
      File({CareEvent()}) + "care_event,\"bad\"quote\n" + File({CareEvent()}).substr(File({}).size());
  ImportFile file = Parse(text);
  ASSERT_EQ(file.rejects.size(), 1u);
  EXPECT_EQ(file.rejects[0].line, 3);
  EXPECT_EQ(file.rejects[0].code, code::kBadCsv);
  ASSERT_EQ(file.rows.size(), 2u);
  EXPECT_EQ(file.rows[1].line, 4);
}

TEST(ImportRejects, WrongColumnCount) {
  ImportFile file = Parse(File({CareEvent()}) + "care_event,rio,E9\n");
  ASSERT_EQ(file.rejects.size(), 1u);
  EXPECT_EQ(file.rejects[0].line, 3);
  EXPECT_EQ(file.rejects[0].code, code::kColumnCount);
  EXPECT_TRUE(absl::StrContains(file.rejects[0].reason, "has 3 fields")) << file.rejects[0].reason;
}

TEST(ImportRejects, NotUtf8) {
  Cells e = CareEvent();
  e["team_id"] = "caf\xE9";
  const Reject r = OnlyReject(e);
  EXPECT_EQ(r.code, code::kBadEncoding);
  EXPECT_TRUE(absl::StrContains(r.reason, "team_id")) << r.reason;
}

TEST(ImportRejects, MissingOrUnknownKind) {
  Cells e = CareEvent();
  e["kind"] = "";
  Reject r = OnlyReject(e);
  EXPECT_EQ(r.code, code::kBadKind);
  EXPECT_EQ(r.source_record_id, "SS-E-1");
  e["kind"] = "referral";
  r = OnlyReject(e);
  EXPECT_EQ(r.code, code::kBadKind);
  EXPECT_TRUE(absl::StrContains(r.reason, "'referral'")) << r.reason;
}

TEST(ImportRejects, ColumnOfTheOtherKind) {
  Cells e = CareEvent();
  e["cluster"] = "4";
  Reject r = OnlyReject(e);
  EXPECT_EQ(r.code, code::kNotForKind);
  EXPECT_TRUE(absl::StrContains(r.reason, "cluster")) << r.reason;
  Cells a = Assessment();
  a["out_of_hours"] = "true";
  r = OnlyReject(a);
  EXPECT_EQ(r.code, code::kNotForKind);
  EXPECT_TRUE(absl::StrContains(r.reason, "out_of_hours")) << r.reason;
  // A care event names no care co-ordinator: the column is the assessment's.
  e = CareEvent();
  e["care_coordinator_id"] = "cc-9";
  r = OnlyReject(e);
  EXPECT_EQ(r.code, code::kNotForKind);
  EXPECT_TRUE(absl::StrContains(r.reason, "care_coordinator_id")) << r.reason;
}

// The column is optional: a file without it (an export from before it existed) sends no care
// co-ordinator, and an empty cell sends none either.
TEST(ImportRows, TheCareCoordinatorColumnIsOptional) {
  const std::string header = "kind,source_system,source_record_id,nhs_number,team_id,clinician_id,assessed_at,reason,cluster";
  ImportFile without = Parse(header + "\nassessment,rio-north,RN-1,9990001006,cmht-north,clin-1,2024-05-14,initial,4\n");
  ASSERT_EQ(without.rows.size(), 1u) << (without.rejects.empty() ? "" : without.rejects[0].reason);
  EXPECT_EQ(std::get<AssessmentRequest>(without.rows[0].request).care_coordinator_id(), "");
  ImportFile with = Parse(header + ",care_coordinator_id\n" +
                          "assessment,rio-north,RN-1,9990001006,cmht-north,clin-1,2024-05-14,initial,4,cc-2\n" +
                          "assessment,rio-north,RN-2,9990001006,cmht-north,clin-1,2024-06-14,initial,4,\n");
  ASSERT_EQ(with.rows.size(), 2u) << (with.rejects.empty() ? "" : with.rejects[0].reason);
  EXPECT_EQ(std::get<AssessmentRequest>(with.rows[0].request).care_coordinator_id(), "cc-2");
  EXPECT_EQ(std::get<AssessmentRequest>(with.rows[1].request).care_coordinator_id(), "");
}

TEST(ImportRejects, BadNumbers) {
  for (const auto& [column, value] : std::vector<std::pair<std::string, std::string>>{
           {"cluster", "four"}, {"item5", "2.5"}, {"itemC", "-"}, {"face_to_face_contacts", "99999999999"}}) {
    Cells a = Assessment();
    a[column] = value;
    const Reject r = OnlyReject(a);
    EXPECT_EQ(r.code, code::kBadNumber) << column;
    EXPECT_TRUE(absl::StrContains(r.reason, column)) << r.reason;
    EXPECT_EQ(r.source_record_id, "RN-1");
    EXPECT_FALSE(absl::StrContains(r.reason, "empty")) << r.reason;  // an unreadable rating is not a missing one
  }
}

TEST(ImportRejects, UnknownWords) {
  for (const auto& [column, value] :
       std::vector<std::pair<std::string, std::string>>{{"reason", "inital"}, {"change_class", "better"}}) {
    Cells a = Assessment();
    a[column] = value;
    const Reject r = OnlyReject(a);
    EXPECT_EQ(r.code, code::kBadEnum) << column;
    EXPECT_TRUE(absl::StrContains(r.reason, absl::StrCat(column, ": '", value, "' is not one of"))) << r.reason;
  }
  Cells e = CareEvent();
  e["event_type"] = "phone_call";
  EXPECT_EQ(OnlyReject(e).code, code::kBadEnum);
}

TEST(ImportRejects, BadTimes) {
  for (const std::string value : {"2024-05-14 10:30", "2024-05-14T10:30:00", "2024-02-30", "14/05/2024", "2024-5-14"}) {
    Cells a = Assessment();
    a["assessed_at"] = value;
    const Reject r = OnlyReject(a);
    EXPECT_EQ(r.code, code::kBadTime) << value;
    EXPECT_TRUE(absl::StrContains(r.reason, "assessed_at")) << r.reason;
  }
  Cells e = CareEvent();
  e["occurred_at"] = "yesterday";
  EXPECT_EQ(OnlyReject(e).code, code::kBadTime);
}

TEST(ImportRejects, BadBool) {
  Cells e = CareEvent();
  e["out_of_hours"] = "yes";
  const Reject r = OnlyReject(e);
  EXPECT_EQ(r.code, code::kBadBool);
  EXPECT_TRUE(absl::StrContains(r.reason, "out_of_hours: 'yes'")) << r.reason;
}

TEST(ImportRejects, SomeRatingsEmpty) {
  Cells a = Assessment();
  a["item3"] = "";
  a["itemB"] = "";
  const Reject r = OnlyReject(a);
  EXPECT_EQ(r.code, code::kIncompleteRatings);
  EXPECT_TRUE(absl::StrContains(r.reason, "item3, itemB empty")) << r.reason;
}

TEST(ImportRejects, EmptyClusterOnAnAssessment) {
  Cells a = Assessment();
  a["cluster"] = "";
  EXPECT_EQ(OnlyReject(a).code, code::kMissingCluster);
}

TEST(ImportRejects, EveryProblemIsListedUnderTheFirstOnesCode) {
  Cells a = Assessment();
  a["reason"] = "x";
  a["cluster"] = "y";
  const Reject r = OnlyReject(a);
  EXPECT_EQ(r.code, code::kBadEnum);  // reason comes before cluster in the file
  EXPECT_TRUE(absl::StrContains(r.reason, "reason: 'x'")) << r.reason;
  EXPECT_TRUE(absl::StrContains(r.reason, "; cluster: 'y'")) << r.reason;
}

TEST(ImportRejects, LineNumbersCountQuotedLineBreaks) {
  Cells a = Assessment();
  a["clinical_rationale"] = "first line\nsecond line";
  Cells bad = CareEvent();
  bad["out_of_hours"] = "maybe";
  ImportFile file = Parse(File({a, bad}));
  ASSERT_EQ(file.rejects.size(), 1u);
  EXPECT_EQ(file.rejects[0].line, 4);  // header 1, assessment 2-3
}

// ---- reading in chunks ----

// What the reader gives for `text` when it reads `chunk` bytes at a time.
std::vector<CsvRecord> ReadInChunks(const std::string& text, size_t chunk, size_t max_record = 1 << 20) {
  std::istringstream in(text);
  CsvReader reader(in, chunk, max_record);
  std::vector<CsvRecord> out;
  CsvRecord record;
  while (reader.Next(record)) out.push_back(record);
  EXPECT_EQ(reader.bytes_read(), text.size());
  return out;
}

void ExpectSameRecords(const std::vector<CsvRecord>& got, const std::vector<CsvRecord>& want, size_t chunk) {
  ASSERT_EQ(got.size(), want.size()) << "chunk " << chunk;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].line, want[i].line) << "chunk " << chunk << " record " << i;
    EXPECT_EQ(got[i].fields, want[i].fields) << "chunk " << chunk << " record " << i;
    EXPECT_EQ(got[i].error, want[i].error) << "chunk " << chunk << " record " << i;
  }
}

TEST(ImportCsvReader, AnyChunkSizeReadsTheSameRecordsOnTheSameLines) {
  // A byte order mark, CRLF split anywhere, quoted commas and line breaks, a lone CR, a bad quote
  // and blank lines: every boundary a chunk can fall on.
  const std::string text =
      "\xEF\xBB\xBFkind,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n\r\nab\"c,d,e\n"
      "last,row,here\rold,mac,line\n\n\"open at the end,no close";
  const std::vector<CsvRecord> whole = ReadInChunks(text, text.size() + 1);
  ASSERT_EQ(whole.size(), 6u);
  EXPECT_EQ(whole[0].fields, (std::vector<std::string>{"kind", "b", "c"}));
  EXPECT_EQ(whole[1].fields, (std::vector<std::string>{"x, y", "say \"hi\"", "two\r\nlines"}));
  EXPECT_EQ(whole[1].line, 2);
  EXPECT_EQ(whole[2].line, 5);  // after the quoted line break and the blank line
  EXPECT_FALSE(whole[2].error.empty());
  EXPECT_EQ(whole[3].line, 6);
  EXPECT_EQ(whole[4].fields, (std::vector<std::string>{"old", "mac", "line"}));
  EXPECT_EQ(whole[5].line, 9);
  EXPECT_TRUE(absl::StrContains(whole[5].error, "never closed")) << whole[5].error;
  for (size_t chunk : {1, 2, 3, 4, 5, 7, 11, 16, 64}) ExpectSameRecords(ReadInChunks(text, chunk), whole, chunk);
  ExpectSameRecords(ParseCsv(text), whole, 0);
}

TEST(ImportCsvReader, ARecordLongerThanTheBoundIsAnErrorOnItsLineAndReadingGoesOn) {
  // An unclosed quote in the middle of a large file would otherwise read the rest of it into memory.
  std::string text = "h1,h2\nok,1\n\"unclosed," + std::string(300, 'x') + "\nnext,2\nafter,3\n";
  const auto records = ReadInChunks(text, 16, /*max_record=*/100);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[2].line, 3);
  EXPECT_TRUE(absl::StrContains(records[2].error, "longer than 100 bytes")) << records[2].error;
  EXPECT_EQ(records[3].line, 4);
  EXPECT_EQ(records[3].fields, (std::vector<std::string>{"next", "2"}));
  EXPECT_EQ(records[4].fields, (std::vector<std::string>{"after", "3"}));
}

TEST(ImportCsvReader, TheBoundHoldsWhereverTheChunksEnd) {
  // The last record is over the bound: refused alike when it is read in one chunk or in several.
  const std::string text = "a,b\nshort,1\n" + std::string(30, 'x') + ",2\n";
  for (size_t chunk : {4, 7, 100}) {
    const auto records = ReadInChunks(text, chunk, /*max_record=*/10);
    ASSERT_EQ(records.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(records[1].fields, (std::vector<std::string>{"short", "1"}));
    EXPECT_TRUE(absl::StrContains(records[2].error, "longer than 10 bytes")) << "chunk " << chunk;
    EXPECT_EQ(records[2].line, 3);
  }
}

// A stream whose device fails after `good` bytes (a disk error, a file truncated under us).
class FailingBuffer : public std::streambuf {
 public:
  FailingBuffer(std::string text, size_t good) : text_(std::move(text)), good_(good) {}

 protected:
  int_type underflow() override {
    if (at_ >= good_) throw std::ios_base::failure("input/output error");
    const size_t n = std::min<size_t>(3, good_ - at_);
    setg(text_.data() + at_, text_.data() + at_, text_.data() + at_ + n);
    at_ += n;
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::string text_;
  size_t good_, at_ = 0;
};

TEST(ImportCsvReader, AReadErrorEndsTheFileWithoutTheRecordItCut) {
  const std::string text = "h1,h2\nrow,1\nrow,cut here by the error\nnever,read\n";
  FailingBuffer buffer(text, text.find("here"));
  std::istream in(&buffer);
  CsvReader reader(in, /*chunk_bytes=*/5);
  std::vector<CsvRecord> records;
  CsvRecord record;
  while (reader.Next(record)) records.push_back(record);
  EXPECT_TRUE(reader.failed());
  ASSERT_EQ(records.size(), 2u) << "the cut record would be sent as 'row,cut '";
  EXPECT_EQ(records[1].fields, (std::vector<std::string>{"row", "1"}));
}

TEST(ImportReader, ChunksHoldEveryRowOnceWithItsLineAsTheWholeFileDoes) {
  std::vector<Cells> rows;
  for (int i = 0; i < 23; ++i) {
    Cells c = i % 3 == 0 ? CareEvent() : Assessment();
    c["source_record_id"] = absl::StrCat("R-", i);
    if (i % 5 == 4) c["reason"] = "sometimes";  // a reject every fifth row
    if (i == 7) c["clinical_rationale"] = "over\ntwo lines";
    rows.push_back(c);
  }
  const std::string text = File(rows);
  const ImportFile whole = Parse(text);
  std::istringstream in(text);
  auto reader = ImportReader::Open(in, London(), /*chunk_bytes=*/97);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ImportFile chunk, joined;
  int chunks = 0;
  while ((*reader)->ReadChunk(4, chunk)) {
    EXPECT_LE(chunk.rows.size() + chunk.rejects.size(), 4u);
    ++chunks;
    for (auto& r : chunk.rows) joined.rows.push_back(r);
    for (auto& r : chunk.rejects) joined.rejects.push_back(r);
  }
  EXPECT_EQ(chunks, 6);  // 23 rows, 4 at a time
  EXPECT_EQ((*reader)->bytes_read(), text.size());
  EXPECT_FALSE((*reader)->failed());
  ASSERT_EQ(joined.rows.size(), whole.rows.size());
  ASSERT_EQ(joined.rejects.size(), whole.rejects.size());
  EXPECT_EQ(whole.rejects.size(), 4u);
  for (size_t i = 0; i < whole.rows.size(); ++i) {
    EXPECT_EQ(joined.rows[i].line, whole.rows[i].line);
    EXPECT_EQ(joined.rows[i].source_record_id(), whole.rows[i].source_record_id());
  }
  for (size_t i = 0; i < whole.rejects.size(); ++i) EXPECT_EQ(joined.rejects[i].line, whole.rejects[i].line);
  EXPECT_EQ(whole.rows.back().line, 25);  // 23 rows after the header, one of them two lines long
}

TEST(ImportReader, AFileWithoutAHeaderIsRefusedWhole) {
  std::istringstream empty("");
  EXPECT_EQ(ImportReader::Open(empty, London()).status().code(), absl::StatusCode::kInvalidArgument);
  std::istringstream unknown("kind,colour\n");
  auto reader = ImportReader::Open(unknown, London());
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "'colour'")) << reader.status();
}

// ---- corrections (a corrections file's action column) ----

Cells Correction(Cells row, std::string action, std::string reason = "recorded under the wrong clinician") {
  row["action"] = std::move(action);
  row["corrected_at"] = "2024-05-15T06:30:00Z";
  row["correction_reason"] = std::move(reason);
  return row;
}

// Only the record's identifiers, as a withdrawal names it.
Cells Identifiers(const Cells& row) {
  Cells out;
  for (const char* c : {"kind", "source_system", "source_record_id", "nhs_number"}) out[c] = row.at(c);
  return out;
}

TEST(ImportCorrections, EachActionBecomesItsCallWithTheRecordItNames) {
  Cells amended = Assessment();
  amended["clinician_id"] = "clin-1-corrected";
  ImportFile file = Parse(File({Correction(amended, "amend_assessment"),
                                Correction(Identifiers(CareEvent()), "withdraw_care_event", "wrong person"),
                                Correction(Identifiers(Assessment()), "WITHDRAW_ASSESSMENT", " entered twice "),
                                Assessment()}));
  ASSERT_TRUE(file.rejects.empty()) << file.rejects[0].reason;
  ASSERT_EQ(file.rows.size(), 4u);
  EXPECT_EQ(file.rows[0].action, Action::kAmendAssessment);
  EXPECT_EQ(std::get<AssessmentRequest>(file.rows[0].request).clinician_id(), "clin-1-corrected");
  EXPECT_EQ(std::get<AssessmentRequest>(file.rows[0].request).ratings().items_size(), 18);
  EXPECT_EQ(file.rows[1].action, Action::kWithdrawCareEvent);
  EXPECT_EQ(file.rows[1].source_record_id(), "SS-E-1");
  EXPECT_EQ(file.rows[1].source_system(), "systmone-south");
  EXPECT_EQ(file.rows[1].correction_reason, "wrong person");
  EXPECT_EQ(file.rows[2].action, Action::kWithdrawAssessment);
  EXPECT_EQ(file.rows[2].correction_reason, " entered twice ");  // free text, as written
  EXPECT_EQ(file.rows[3].action, Action::kRecord);  // an empty action records
  EXPECT_TRUE(file.rows[2].is_correction());
  EXPECT_FALSE(file.rows[3].is_correction());
  const Summary s = Summarise(file, nullptr);
  EXPECT_EQ(s.amendments, 1u);
  EXPECT_EQ(s.withdrawals, 2u);
  EXPECT_TRUE(absl::StrContains(RenderSummary(s), "corrections   1 amendments, 2 withdrawals")) << RenderSummary(s);
}

TEST(ImportCorrections, AnActionThatDoesNotFitTheRowIsRefusedNamingTheColumn) {
  Reject r = OnlyReject(Correction(Assessment(), "delete"));
  EXPECT_EQ(r.code, code::kBadAction);
  EXPECT_TRUE(absl::StartsWith(r.reason, "action: 'delete' is not record, amend_assessment")) << r.reason;
  r = OnlyReject(Correction(Identifiers(CareEvent()), "withdraw_assessment"));
  EXPECT_EQ(r.code, code::kBadAction);
  EXPECT_TRUE(absl::StrContains(r.reason, "withdraw_assessment on a care_event row")) << r.reason;
  r = OnlyReject(Correction(Identifiers(Assessment()), "withdraw_care_event"));
  EXPECT_EQ(r.code, code::kBadAction);
  r = OnlyReject(Correction(CareEvent(), "amend_assessment"));
  EXPECT_EQ(r.code, code::kBadAction);
  // A withdrawal names a record: anything more is refused, not ignored.
  Cells extra = Identifiers(CareEvent());
  extra["team_id"] = "crht-south";
  r = OnlyReject(Correction(extra, "withdraw_care_event"));
  EXPECT_EQ(r.code, code::kNotForAction);
  EXPECT_TRUE(absl::StartsWith(r.reason, "team_id: given on a withdraw_care_event row")) << r.reason;
  // And a record row has no correction to describe.
  Cells record = Assessment();
  record["correction_reason"] = "why";
  r = OnlyReject(record);
  EXPECT_EQ(r.code, code::kNotForAction);
  EXPECT_TRUE(absl::StartsWith(r.reason, "correction_reason: given on a record row")) << r.reason;
  Cells late = Correction(Identifiers(CareEvent()), "withdraw_care_event");
  late["corrected_at"] = "yesterday";
  r = OnlyReject(late);
  EXPECT_EQ(r.code, code::kBadTime);
  EXPECT_TRUE(absl::StartsWith(r.reason, "corrected_at: 'yesterday'")) << r.reason;
}

TEST(ImportCorrections, AWithdrawalNeedsTheNhsNumberThatKeepsItAfterThePersonsRecords) {
  Cells row = Identifiers(CareEvent());
  row.erase("nhs_number");
  Reject r = OnlyReject(Correction(row, "withdraw_care_event"));
  EXPECT_EQ(r.code, code::kBadAction);
  EXPECT_TRUE(absl::StartsWith(r.reason, "nhs_number: required on a withdraw_care_event row")) << r.reason;
  row["nhs_number"] = "999 000 1006";
  r = OnlyReject(Correction(row, "withdraw_care_event"));
  EXPECT_TRUE(absl::StartsWith(r.reason, "nhs_number: '999 000 1006' is not 10 digits")) << r.reason;
}

// ---- reject file and summary ----

TEST(ImportReport, RejectFileListsLocalAndServiceRejectsByLine) {
  ImportFile file;
  file.rejects.push_back(Reject{7, "RN-7", "BAD_ENUM", "reason: 'x' is not one of initial, formal_review"});
  ImportRow row;
  row.line = 3;
  AssessmentRequest a;
  a.set_source_record_id("RN-3");
  row.request = a;
  file.rows.push_back(row);
  SendResult sent;
  sent.outcomes.push_back(RowOutcome{RowOutcome::State::kRejected, "INVALID_ARGUMENT", "nhs_number: \"bad\" check"});
  EXPECT_EQ(RejectsCsv(CollectRejects(file, &sent)),
            "line,source_record_id,code,reason\n"
            "3,RN-3,INVALID_ARGUMENT,\"nhs_number: \"\"bad\"\" check\"\n"
            "7,RN-7,BAD_ENUM,\"reason: 'x' is not one of initial, formal_review\"\n");
}

TEST(ImportReport, RejectFileIsWrittenOnlyWhenThereAreRejects) {
  const std::string path = (std::filesystem::temp_directory_path() / "pbr_import_test.rejects.csv").string();
  ASSERT_TRUE(WriteRejectsFile(path, {Reject{2, "id", "BAD_BOOL", "x"}}).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "line,source_record_id,code,reason\n2,id,BAD_BOOL,x\n");
  ASSERT_TRUE(WriteRejectsFile(path, {}).ok());
  EXPECT_FALSE(std::filesystem::exists(path));   // the stale one is gone
  EXPECT_TRUE(WriteRejectsFile(path, {}).ok());  // and none is fine
}

TEST(ImportReport, RejectsWriterAppendsChunksAndLeavesNothingHalfWritten) {
  const std::string path = (std::filesystem::temp_directory_path() / "pbr_import_writer_test.rejects.csv").string();
  {
    RejectsWriter writer(path);
    ASSERT_TRUE(writer.Append({Reject{2, "a", "BAD_BOOL", "x"}}).ok());
    ASSERT_TRUE(writer.Append({}).ok());
    ASSERT_TRUE(writer.Append({Reject{9, "b", "BAD_TIME", "y"}, Reject{12, "c", "INVALID_ARGUMENT", "z"}}).ok());
    EXPECT_EQ(writer.written(), 3u);
    EXPECT_FALSE(std::filesystem::exists(path));  // not until the run is over
    ASSERT_TRUE(writer.Commit().ok());
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "line,source_record_id,code,reason\n2,a,BAD_BOOL,x\n9,b,BAD_TIME,y\n12,c,INVALID_ARGUMENT,z\n");
  {
    RejectsWriter abandoned(path);  // a run that stops before committing
    ASSERT_TRUE(abandoned.Append({Reject{3, "d", "BAD_BOOL", "w"}}).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_TRUE(std::filesystem::exists(path));  // the last whole run's file stays
  std::filesystem::remove(path);
  RejectsWriter unwritable("/proc/no-such-dir/x.rejects.csv");
  const absl::Status st = unwritable.Append({Reject{2, "a", "BAD_BOOL", "x"}});
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(st.message(), "/proc/no-such-dir/x.rejects.csv.tmp")) << st;
}

TEST(ImportReport, DefaultRejectsPath) {
  EXPECT_EQ(DefaultRejectsPath("data/north.csv"), "data/north.rejects.csv");
  EXPECT_EQ(DefaultRejectsPath("NORTH.CSV"), "NORTH.rejects.csv");
  EXPECT_EQ(DefaultRejectsPath("export"), "export.rejects.csv");
}

TEST(ImportReport, SummaryCountsEachOutcomeAndReasonCode) {
  ImportFile file = Parse(File({Assessment(), CareEvent(), CareEvent(), CareEvent()}) + "care_event,x\n");
  file.rejects.push_back(Reject{9, "", "BAD_TIME", "t"});
  SendResult sent;
  sent.outcomes = {RowOutcome{RowOutcome::State::kAccepted}, RowOutcome{RowOutcome::State::kDuplicate},
                   RowOutcome{RowOutcome::State::kRejected, "UNIMPLEMENTED", "no"},
                   RowOutcome{RowOutcome::State::kNotSent}};
  const Summary s = Summarise(file, &sent);
  EXPECT_EQ(s.rows, 6u);
  EXPECT_EQ(s.assessments, 1u);
  EXPECT_EQ(s.care_events, 3u);
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.not_sent, 1u);
  EXPECT_EQ(s.rejected_locally, 2u);
  EXPECT_EQ(s.rejected_by_service, 1u);
  EXPECT_EQ(s.rejects_by_code,
            (std::map<std::string, size_t>{{"BAD_TIME", 1}, {"COLUMN_COUNT", 1}, {"UNIMPLEMENTED", 1}}));
  const std::string text = RenderSummary(s);
  EXPECT_TRUE(absl::StrContains(text, "duplicates    1")) << text;
  EXPECT_TRUE(absl::StrContains(text, "rejected      3 (2 unreadable, 1 refused by the service)")) << text;
  EXPECT_TRUE(absl::StrContains(text, "not sent      1")) << text;
}

// ---- sending ----

std::vector<ImportRow> PeopleRows(int people, int per_person) {
  std::vector<ImportRow> rows;
  for (int k = 0; k < per_person; ++k) {
    for (int p = 0; p < people; ++p) {
      CareEventRequest e;
      e.set_nhs_number(absl::StrCat("999", 1000000 + p));
      e.set_source_record_id(absl::StrCat(p, "-", k));
      rows.push_back(ImportRow{static_cast<int>(rows.size()) + 2, e});
    }
  }
  return rows;
}

TEST(ImportSend, ShardingKeepsOnePersonsRowsTogetherInFileOrder) {
  const auto rows = PeopleRows(50, 4);
  const auto shards = ShardByPerson(rows, 8);
  ASSERT_EQ(shards.size(), 8u);
  std::map<std::string, size_t> shard_of;
  size_t total = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    total += shards[s].size();
    for (size_t k = 1; k < shards[s].size(); ++k) EXPECT_LT(shards[s][k - 1], shards[s][k]);  // file order
    for (size_t i : shards[s]) {
      auto [it, added] = shard_of.emplace(rows[i].nhs_number(), s);
      EXPECT_EQ(it->second, s) << rows[i].nhs_number() << " is in two shards";
    }
  }
  EXPECT_EQ(total, rows.size());
  EXPECT_GT(std::count_if(shards.begin(), shards.end(), [](const auto& s) { return !s.empty(); }), 4);
}

// Records what was sent, per person, with small random delays so workers interleave.
class FakeIntake : public Intake {
 public:
  std::function<Answer(const ImportRow&, int call)> answer = [](const ImportRow&, int) { return Answer{}; };

  Answer Send(const ImportRow& row) override {
    int call;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sent_[row.nhs_number()].push_back(row.source_record_id());
      call = ++calls_[row.source_record_id()];
      if (!in_flight_people_.insert(row.nhs_number()).second) overlap_ = true;  // two of one person's rows at once
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::hash<std::string>{}(row.source_record_id()) % 300));
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_people_.erase(row.nhs_number());
    }
    return answer(row, call);
  }

  std::map<std::string, std::vector<std::string>> sent() const { return sent_; }
  bool overlap() const { return overlap_; }
  int calls(const std::string& id) const { return calls_.count(id) ? calls_.at(id) : 0; }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<std::string>> sent_;
  std::map<std::string, int> calls_;
  std::set<std::string> in_flight_people_;
  bool overlap_ = false;
};

SendOptions Fast(int concurrency) {
  SendOptions o;
  o.concurrency = concurrency;
  o.backoff = absl::Milliseconds(1);
  return o;
}

TEST(ImportSend, EachPersonsRowsAreSentOneAtATimeInFileOrder) {
  const auto rows = PeopleRows(40, 5);
  FakeIntake intake;
  std::atomic<int> done{0};
  const SendResult result = SendAll(rows, intake, Fast(8), [&] { ++done; });
  EXPECT_EQ(done.load(), 200);
  EXPECT_FALSE(result.stopped_early);
  EXPECT_FALSE(intake.overlap());
  for (const auto& [nhs, ids] : intake.sent()) {
    ASSERT_EQ(ids.size(), 5u);
    for (size_t k = 0; k < ids.size(); ++k) EXPECT_TRUE(absl::EndsWith(ids[k], absl::StrCat("-", k))) << ids[k];
  }
  for (const auto& o : result.outcomes) EXPECT_EQ(o.state, RowOutcome::State::kAccepted);
}

TEST(ImportSend, DuplicatesAndRefusalsAreRecordedPerRow) {
  const auto rows = PeopleRows(3, 1);
  FakeIntake intake;
  intake.answer = [](const ImportRow& row, int) {
    if (row.source_record_id() == "0-0") return Intake::Answer{grpc::Status::OK, /*duplicate=*/true};
    if (row.source_record_id() == "1-0") return Intake::Answer{grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "later")};
    return Intake::Answer{grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "nhs_number: bad check digit")};
  };
  const SendResult result = SendAll(rows, intake, Fast(2), nullptr);
  EXPECT_EQ(result.outcomes[0].state, RowOutcome::State::kDuplicate);
  EXPECT_EQ(result.outcomes[1].state, RowOutcome::State::kRejected);
  EXPECT_EQ(result.outcomes[1].code, "UNIMPLEMENTED");
  EXPECT_EQ(result.outcomes[2].code, "INVALID_ARGUMENT");
  EXPECT_EQ(result.outcomes[2].reason, "nhs_number: bad check digit");
  EXPECT_EQ(intake.calls("2-0"), 1);  // refusals are final: no retry
}

TEST(ImportSend, TransientFailuresAreRetried) {
  const auto rows = PeopleRows(3, 2);
  FakeIntake intake;
  // A slow service, a refused connection, a server shutting down mid-call: each row's first try fails.
  intake.answer = [](const ImportRow& row, int call) {
    const grpc::StatusCode codes[] = {grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::UNAVAILABLE,
                                      grpc::StatusCode::CANCELLED};
    return call == 1 ? Intake::Answer{grpc::Status(codes[row.line % 3], "transient")} : Intake::Answer{};
  };
  const SendResult result = SendAll(rows, intake, Fast(2), nullptr);
  EXPECT_FALSE(result.stopped_early);
  for (const auto& o : result.outcomes) EXPECT_EQ(o.state, RowOutcome::State::kAccepted);
  for (const ImportRow& row : rows) EXPECT_EQ(intake.calls(row.source_record_id()), 2);
}

TEST(ImportSend, AnUnreachableServiceStopsTheImport) {
  const auto rows = PeopleRows(10, 10);
  FakeIntake intake;
  intake.answer = [](const ImportRow&, int) {
    return Intake::Answer{grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused")};
  };
  const SendResult result = SendAll(rows, intake, Fast(4), nullptr);
  EXPECT_TRUE(result.stopped_early);
  EXPECT_EQ(result.stop_status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(result.not_sent(), rows.size());
  size_t calls = 0;
  for (const auto& [nhs, ids] : intake.sent()) calls += ids.size();
  EXPECT_LE(calls, 4u * 3u);  // at most one row per worker, three attempts each
}

// Batches: what a batching intake saw, batch by batch.
class FakeBatchIntake : public FakeIntake {
 public:
  std::function<BatchAnswer(const std::vector<const ImportRow*>&, int call)> batch_answer;

  BatchAnswer SendBatch(const std::vector<const ImportRow*>& rows) override {
    int call;
    {
      std::lock_guard<std::mutex> lock(batch_mu_);
      std::vector<std::string> ids;
      for (const ImportRow* r : rows) ids.push_back(r->source_record_id());
      batches_.push_back(ids);
      call = ++batch_calls_[ids.front()];
    }
    if (batch_answer) return batch_answer(rows, call);
    return FakeIntake::SendBatch(rows);  // a row at a time, recorded per person
  }
  std::vector<std::vector<std::string>> batches() const { return batches_; }

 private:
  std::mutex batch_mu_;
  std::vector<std::vector<std::string>> batches_;
  std::map<std::string, int> batch_calls_;
};

TEST(ImportSend, BatchesKeepEachPersonsRowsInFileOrderAndOneSourceSystemPerBatch) {
  auto rows = PeopleRows(40, 5);
  for (ImportRow& row : rows) {
    // Two EPRs, interleaved, one person in both: a batch never mixes them (each has its own
    // certificate), and a person's rows still arrive in file order.
    std::get<CareEventRequest>(row.request).set_source_system(row.line % 7 == 0 ? "epr-south" : "epr-north");
  }
  FakeBatchIntake intake;
  SendOptions options = Fast(4);
  options.batch_rows = 16;
  std::atomic<int> done{0};
  const SendResult result = SendAll(rows, intake, options, [&] { ++done; });
  EXPECT_EQ(done.load(), 200);
  EXPECT_FALSE(result.stopped_early);
  for (const auto& o : result.outcomes) EXPECT_EQ(o.state, RowOutcome::State::kAccepted);
  for (const auto& [nhs, ids] : intake.sent()) {
    ASSERT_EQ(ids.size(), 5u);
    for (size_t k = 0; k < ids.size(); ++k) EXPECT_TRUE(absl::EndsWith(ids[k], absl::StrCat("-", k))) << ids[k];
  }
  std::map<std::string, std::string> source_of;
  for (const ImportRow& row : rows) source_of[row.source_record_id()] = row.source_system();
  size_t batched = 0;
  for (const auto& batch : intake.batches()) {
    EXPECT_LE(batch.size(), 16u);
    for (const std::string& id : batch) EXPECT_EQ(source_of[id], source_of[batch.front()]) << id;
    batched += batch.size();
  }
  EXPECT_EQ(batched, rows.size());
  EXPECT_LT(intake.batches().size(), rows.size() / 4);  // rows really went in batches
}

TEST(ImportSend, ABatchThatFailedWholeIsSentAgainWholeAndItsAnswersArePerRow) {
  const auto rows = PeopleRows(6, 2);
  FakeBatchIntake intake;
  intake.batch_answer = [](const std::vector<const ImportRow*>& batch, int call) {
    if (call == 1) return Intake::BatchAnswer{grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting")};
    Intake::BatchAnswer answer;
    for (const ImportRow* row : batch) {
      answer.answers.push_back(row->source_record_id() == "1-0"
                                   ? Intake::Answer{grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "nhs_number: bad")}
                                   : Intake::Answer{grpc::Status::OK, /*duplicate=*/row->source_record_id() == "2-1"});
    }
    return answer;
  };
  SendOptions options = Fast(1);
  options.batch_rows = 100;
  const SendResult result = SendAll(rows, intake, options, nullptr);
  EXPECT_FALSE(result.stopped_early);
  ASSERT_EQ(intake.batches().size(), 2u);  // the one batch, twice
  EXPECT_EQ(intake.batches()[0], intake.batches()[1]);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string& id = rows[i].source_record_id();
    if (id == "1-0") {
      EXPECT_EQ(result.outcomes[i].code, "INVALID_ARGUMENT");
      EXPECT_EQ(result.outcomes[i].reason, "nhs_number: bad");
    } else {
      EXPECT_EQ(result.outcomes[i].state, id == "2-1" ? RowOutcome::State::kDuplicate : RowOutcome::State::kAccepted)
          << id;
    }
  }
  // A batch refused whole (not transient) is every row's refusal, not retried.
  FakeBatchIntake refusing;
  refusing.batch_answer = [](const std::vector<const ImportRow*>&, int) {
    return Intake::BatchAnswer{grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "source_system: not yours")};
  };
  const SendResult refused = SendAll(rows, refusing, options, nullptr);
  EXPECT_EQ(refusing.batches().size(), 1u);
  for (const auto& o : refused.outcomes) EXPECT_EQ(o.code, "PERMISSION_DENIED");
}

TEST(ImportSend, CorrectionsAreSingleCallsAfterThePersonsEarlierRowsEvenWhenBatching) {
  // Two people, each recorded twice, then corrected, then recorded again.
  std::vector<ImportRow> rows;
  for (int k = 0; k < 3; ++k) {
    for (int p = 0; p < 2; ++p) {
      CareEventRequest e;
      e.set_nhs_number(absl::StrCat("999000000", p));
      e.set_source_system("rio-north");
      e.set_source_record_id(absl::StrCat(p, "-", k));
      ImportRow row{static_cast<int>(rows.size()) + 2, e};
      if (k == 1) row.action = Action::kWithdrawCareEvent;
      rows.push_back(row);
    }
  }
  FakeBatchIntake intake;
  SendOptions options = Fast(1);
  options.batch_rows = 10;
  const SendResult result = SendAll(rows, intake, options, nullptr);
  for (const auto& o : result.outcomes) EXPECT_EQ(o.state, RowOutcome::State::kAccepted);
  // Each person's rows reached the service in file order...
  EXPECT_EQ(intake.sent().at("9990000000"), (std::vector<std::string>{"0-0", "0-1", "0-2"}));
  EXPECT_EQ(intake.sent().at("9990000001"), (std::vector<std::string>{"1-0", "1-1", "1-2"}));
  // ...and no batch carried a correction (the bulk path only records).
  for (const auto& batch : intake.batches()) {
    for (const std::string& id : batch) EXPECT_FALSE(absl::EndsWith(id, "-1")) << id << " went in a batch";
  }
}

// ---- progress and the shipped example ----

TEST(ImportProgress, LineShowsDoneTotalRateAndEta) {
  EXPECT_EQ(Progress::Line("sent", 40, 100, absl::Seconds(2)), "sent 40/100 (40%)  20/s  ETA 3s");
  EXPECT_EQ(Progress::Line("sent", 0, 100, absl::Seconds(2)), "sent 0/100 (0%)  0/s  ETA -");
  EXPECT_EQ(Progress::Line("sent", 5, 5, absl::Seconds(1)), "sent 5/5 (100%)  5/s  ETA 0s");
  EXPECT_EQ(Progress::Line("sent", 12'500'000, 50'000'000, absl::Seconds(2), Progress::Unit::kBytes),
            "sent 12.5/50.0 MB (25%)  6.2 MB/s  ETA 6s");
}

TEST(ImportProgress, WithoutATerminalOneLinePerTenth) {
  std::ostringstream out;
  {
    Progress progress("sent", 20, out, /*tty=*/false);
    for (int i = 0; i < 20; ++i) progress.Add();
  }
  const std::string text = out.str();
  EXPECT_FALSE(absl::StrContains(text, "\r"));
  EXPECT_TRUE(absl::StrContains(text, "sent 20/20 (100%)")) << text;
  EXPECT_LE(std::count(text.begin(), text.end(), '\n'), 10);
}

TEST(ImportExample, DemoCsvHasTwelveRowsTwoDeliberateRejectsAndAnOverlappingPerson) {
  std::ifstream in(PBR_IMPORT_EXAMPLE_CSV, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  ImportFile file = Parse(text.str());
  EXPECT_EQ(file.rows.size(), 12u);
  ASSERT_EQ(file.rejects.size(), 2u);
  EXPECT_EQ(file.rejects[0].line, 10);
  EXPECT_EQ(file.rejects[0].code, code::kBadEnum);
  EXPECT_EQ(file.rejects[1].line, 15);
  EXPECT_EQ(file.rejects[1].code, code::kBadNumber);
  std::map<std::string, std::set<std::string>> systems_of;  // NHS number -> EPRs
  for (const ImportRow& row : file.rows) {
    systems_of[row.nhs_number()].insert(row.is_assessment() ? std::get<AssessmentRequest>(row.request).source_system()
                                                            : std::get<CareEventRequest>(row.request).source_system());
  }
  EXPECT_TRUE(std::any_of(systems_of.begin(), systems_of.end(), [](const auto& p) { return p.second.size() == 2; }));
}

}  // namespace
}  // namespace pbr::import
