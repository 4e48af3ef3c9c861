#include "rows.h"

#include <array>
#include <charconv>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"

namespace pbr::import {
namespace {

constexpr int kItemCount = 18;  // MHCT items 1-13 then A-E, in the order MhctRatings.items holds them

// The columns every file must have: without them no row can be identified or sent to the right person.
constexpr std::array<std::string_view, 4> kRequiredColumns = {"kind", "source_system", "source_record_id",
                                                              "nhs_number"};

// Which rows a column may be given on: kCorrection columns only on amendments and withdrawals.
enum class Applies { kBoth, kAssessment, kCareEvent, kCorrection };

// A row being parsed. Common columns fill both requests; the kind decides which one is kept.
struct Draft {
  const absl::TimeZone* zone = nullptr;
  AssessmentRequest assessment;
  CareEventRequest care_event;
  std::array<std::optional<int32_t>, kItemCount> items;
  // A cell was there, even if not a number: an unreadable rating is reported as such, not as a missing one.
  std::array<bool, kItemCount> item_given{};
  bool cluster_given = false;
  std::string correction_reason;
  std::vector<std::pair<std::string_view, std::string>> problems;  // code, text

  void Problem(std::string_view code, std::string text) { problems.emplace_back(code, std::move(text)); }
};

using Setter = std::function<void(const std::string& column, std::string_view value, Draft&)>;

struct Column {
  std::string name;
  Applies applies;
  Setter set;
  bool free_text = false;  // kept exactly as written: surrounding spaces may be part of the text
  // Names the record (or the correction): the only columns a withdrawal may give.
  bool names_record = false;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

// The value as quoted in a problem: long values are cut so the reject file stays one line per row.
std::string Quoted(std::string_view value) {
  constexpr size_t kShown = 40;
  return value.size() <= kShown ? absl::StrCat("'", std::string(value), "'")
                                : absl::StrCat("'", std::string(value.substr(0, kShown)), "...'");
}

std::optional<int32_t> ParseInt(std::string_view text) {
  int32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool IsDigits(std::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// "YYYY-MM-DD" is 12:00 that day in `zone`; anything else must be RFC 3339 with an offset, because a
// local time without one is ambiguous across the clock change.
std::optional<absl::Time> ParseInstant(std::string_view text, const absl::TimeZone& zone) {
  if (text.size() == 10 && text[4] == '-' && text[7] == '-' && IsDigits(text.substr(0, 4)) &&
      IsDigits(text.substr(5, 2)) && IsDigits(text.substr(8, 2))) {
    const absl::CivilDay day(*ParseInt(text.substr(0, 4)), *ParseInt(text.substr(5, 2)), *ParseInt(text.substr(8, 2)));
    // CivilDay normalises 2024-02-30 to March; a date that does not round-trip does not exist.
    if (absl::FormatCivilTime(day) != text) return std::nullopt;
    return absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), 12, 0, 0), zone);
  }
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &time, &error)) return std::nullopt;
  return time;
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t seconds = absl::ToUnixSeconds(t);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return out;
}

template <typename Enum>
using Words = std::vector<std::pair<std::string_view, Enum>>;

const Words<pbr::v1::AssessmentReason>& ReasonWords() {
  static const Words<pbr::v1::AssessmentReason> kWords = {
      {"initial", pbr::v1::ASSESSMENT_REASON_INITIAL},
      {"formal_review", pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW},
      {"transfer_review", pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW},
      {"discharge_review", pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW},
      {"unplanned_review", pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW}};
  return kWords;
}

const Words<pbr::v1::ChangeClass>& ChangeClassWords() {
  static const Words<pbr::v1::ChangeClass> kWords = {
      {"improvement", pbr::v1::CHANGE_CLASS_IMPROVEMENT},
      {"no_change", pbr::v1::CHANGE_CLASS_NO_CHANGE},
      {"deterioration", pbr::v1::CHANGE_CLASS_DETERIORATION},
      {"change_in_diagnosis", pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS}};
  return kWords;
}

const Words<pbr::v1::CareEventType>& EventTypeWords() {
  static const Words<pbr::v1::CareEventType> kWords = {
      {"referral_received", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED},
      {"referral_to_crht", pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT},
      {"referral_to_inpatients", pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS},
      {"admission", pbr::v1::CARE_EVENT_ADMISSION},
      {"face_to_face_contact", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT},
      {"discharge_review", pbr::v1::CARE_EVENT_DISCHARGE_REVIEW},
      {"discharge_from_service", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE},
      {"mha_assessment", pbr::v1::CARE_EVENT_MHA_ASSESSMENT},
      {"medication_non_concordance", pbr::v1::CARE_EVENT_MEDICATION_NON_CONCORDANCE}};
  return kWords;
}

const Words<Action>& ActionWords() {
  static const Words<Action> kWords = {{"record", Action::kRecord},
                                       {"amend_assessment", Action::kAmendAssessment},
                                       {"withdraw_assessment", Action::kWithdrawAssessment},
                                       {"withdraw_care_event", Action::kWithdrawCareEvent}};
  return kWords;
}

// Enum words are matched case-insensitively: EPR exports vary in case, never in spelling.
template <typename Enum>
std::optional<Enum> ParseWord(const std::string& column, std::string_view value, const Words<Enum>& words, Draft& d) {
  const std::string lower = Lower(value);
  for (const auto& [word, e] : words) {
    if (word == lower) return e;
  }
  std::vector<std::string> names;
  for (const auto& entry : words) names.emplace_back(entry.first);
  d.Problem(code::kBadEnum, absl::StrCat(column, ": ", Quoted(value), " is not one of ", absl::StrJoin(names, ", ")));
  return std::nullopt;
}

std::optional<int32_t> Number(const std::string& column, std::string_view value, Draft& d) {
  auto n = ParseInt(value);
  if (!n) d.Problem(code::kBadNumber, absl::StrCat(column, ": ", Quoted(value), " is not a whole number"));
  return n;
}

std::optional<google::protobuf::Timestamp> Instant(const std::string& column, std::string_view value, Draft& d) {
  auto t = ParseInstant(value, *d.zone);
  if (!t) {
    d.Problem(code::kBadTime, absl::StrCat(column, ": ", Quoted(value),
                                           " is not an RFC 3339 time (2024-05-14T10:30:00Z, or with an offset "
                                           "such as +01:00) or a date YYYY-MM-DD"));
    return std::nullopt;
  }
  return ToProto(*t);
}

// Text fields are reached through their mutable_*() accessors: plain functions in every protobuf version,
// unlike the templated set_*() ones.
using AssessmentText = std::string* (AssessmentRequest::*)();
using CareEventText = std::string* (CareEventRequest::*)();

// A column copied as text into both requests (identifiers common to assessments and care events).
Column Common(std::string name, AssessmentText a, CareEventText e) {
  return {std::move(name), Applies::kBoth, [a, e](const std::string&, std::string_view v, Draft& d) {
            (d.assessment.*a)()->assign(v);
            (d.care_event.*e)()->assign(v);
          }};
}

Column AssessmentString(std::string name, AssessmentText field, bool free_text = false) {
  return {std::move(name), Applies::kAssessment,
          [field](const std::string&, std::string_view v, Draft& d) { (d.assessment.*field)()->assign(v); }, free_text};
}

Column AssessmentTime(std::string name, google::protobuf::Timestamp* (AssessmentRequest::*field)()) {
  return {std::move(name), Applies::kAssessment, [field](const std::string& c, std::string_view v, Draft& d) {
            if (auto t = Instant(c, v, d)) *(d.assessment.*field)() = *t;
          }};
}

// "item1".."item13", then "itemA".."itemE" for the historical items.
std::string ItemName(int index) {
  return index < 13 ? absl::StrCat("item", index + 1)
                    : absl::StrCat("item", std::string(1, static_cast<char>('A' + index - 13)));
}

Column Item(int index) {
  return {ItemName(index), Applies::kAssessment, [index](const std::string& c, std::string_view v, Draft& d) {
            d.item_given[index] = true;
            if (auto n = Number(c, v, d)) d.items[index] = *n;
          }};
}

std::vector<Column> BuildColumns() {
  std::vector<Column> columns;
  const Setter read_first = [](const std::string&, std::string_view, Draft&) {};
  columns.push_back({"kind", Applies::kBoth, read_first, false, true});
  columns.push_back(
      Common("source_system", &AssessmentRequest::mutable_source_system, &CareEventRequest::mutable_source_system));
  columns.push_back(Common("source_record_id", &AssessmentRequest::mutable_source_record_id,
                           &CareEventRequest::mutable_source_record_id));
  columns.push_back(
      Common("nhs_number", &AssessmentRequest::mutable_nhs_number, &CareEventRequest::mutable_nhs_number));
  for (size_t i = 1; i < columns.size(); ++i) columns[i].names_record = true;
  columns.push_back(Common("local_patient_id", &AssessmentRequest::mutable_local_patient_id,
                           &CareEventRequest::mutable_local_patient_id));
  columns.push_back(Common("team_id", &AssessmentRequest::mutable_team_id, &CareEventRequest::mutable_team_id));
  columns.push_back(
      Common("clinician_id", &AssessmentRequest::mutable_clinician_id, &CareEventRequest::mutable_clinician_id));

  columns.push_back(AssessmentTime("assessed_at", &AssessmentRequest::mutable_assessed_at));
  columns.push_back({"reason", Applies::kAssessment, [](const std::string& c, std::string_view v, Draft& d) {
                       if (auto r = ParseWord(c, v, ReasonWords(), d)) d.assessment.set_reason(*r);
                     }});
  columns.push_back({"cluster", Applies::kAssessment, [](const std::string& c, std::string_view v, Draft& d) {
                       d.cluster_given = true;
                       if (auto n = Number(c, v, d)) d.assessment.set_cluster(*n);
                     }});
  for (int i = 0; i < kItemCount; ++i) columns.push_back(Item(i));
  columns.push_back({"item8_problem_type", Applies::kAssessment, [](const std::string&, std::string_view v, Draft& d) {
                       d.assessment.mutable_ratings()->set_item8_problem_type(std::string(v));
                     }});
  columns.push_back({"item8_other_text", Applies::kAssessment,
                     [](const std::string&, std::string_view v, Draft& d) {
                       d.assessment.mutable_ratings()->set_item8_other_text(std::string(v));
                     },
                     /*free_text=*/true});
  columns.push_back(AssessmentString("service_area", &AssessmentRequest::mutable_service_area));
  columns.push_back(AssessmentString("commissioner_id", &AssessmentRequest::mutable_commissioner_id));
  columns.push_back(AssessmentString("care_coordinator_id", &AssessmentRequest::mutable_care_coordinator_id));
  columns.push_back(
      {"face_to_face_contacts", Applies::kAssessment, [](const std::string& c, std::string_view v, Draft& d) {
         if (auto n = Number(c, v, d)) d.assessment.set_face_to_face_contacts(*n);
       }});
  columns.push_back(AssessmentTime("first_contact_at", &AssessmentRequest::mutable_first_contact_at));
  columns.push_back(AssessmentTime("admitted_at", &AssessmentRequest::mutable_admitted_at));
  columns.push_back({"change_class", Applies::kAssessment, [](const std::string& c, std::string_view v, Draft& d) {
                       if (auto r = ParseWord(c, v, ChangeClassWords(), d)) d.assessment.set_change_class(*r);
                     }});
  columns.push_back(
      AssessmentString("clinical_rationale", &AssessmentRequest::mutable_clinical_rationale, /*free_text=*/true));

  columns.push_back({"event_type", Applies::kCareEvent, [](const std::string& c, std::string_view v, Draft& d) {
                       if (auto t = ParseWord(c, v, EventTypeWords(), d)) d.care_event.set_type(*t);
                     }});
  columns.push_back({"occurred_at", Applies::kCareEvent, [](const std::string& c, std::string_view v, Draft& d) {
                       if (auto t = Instant(c, v, d)) *d.care_event.mutable_occurred_at() = *t;
                     }});
  columns.push_back({"out_of_hours", Applies::kCareEvent, [](const std::string& c, std::string_view v, Draft& d) {
                       const std::string word = Lower(v);
                       if (word == "true" || word == "false") {
                         d.care_event.set_out_of_hours(word == "true");
                       } else {
                         d.Problem(code::kBadBool, absl::StrCat(c, ": ", Quoted(v), " is not true or false"));
                       }
                     }});

  // A corrections file (tools/loadgen/README.md): what to do with the row, and when and why the EPR
  // corrected it. The service stamps a correction with the time it receives it, so corrected_at is
  // checked but not sent; the reason travels with withdrawals (AmendAssessment has no field for it).
  columns.push_back({"action", Applies::kBoth, read_first, false, true});
  columns.push_back({"corrected_at", Applies::kCorrection,
                     [](const std::string& c, std::string_view v, Draft& d) { Instant(c, v, d); }, false, true});
  columns.push_back({"correction_reason", Applies::kCorrection,
                     [](const std::string&, std::string_view v, Draft& d) { d.correction_reason.assign(v); },
                     /*free_text=*/true, true});
  return columns;
}

const std::vector<Column>& Columns() {
  static const std::vector<Column> kColumns = BuildColumns();
  return kColumns;
}

// The 18 ratings travel as one list, so a single empty cell cannot be sent as "not given": all or none.
void FinishRatings(Draft& d) {
  std::vector<std::string> empty;
  size_t given = 0;
  for (int i = 0; i < kItemCount; ++i) {
    if (d.item_given[i]) {
      ++given;
    } else {
      empty.push_back(ItemName(i));
    }
  }
  if (given == 0) return;  // not given at all: the service says what it needs
  if (given < kItemCount) {
    d.Problem(code::kIncompleteRatings, absl::StrCat("ratings: ", absl::StrJoin(empty, ", "),
                                                     " empty; give all 18 ratings (9 = not known) or none"));
    return;
  }
  if (!d.problems.empty()) return;  // e.g. an unreadable rating, already reported: the row is rejected
  for (const auto& item : d.items) d.assessment.mutable_ratings()->add_items(*item);
}

std::string Cell(const Header& header, const CsvRecord& record, std::string_view name) {
  const int at = header.position(name);
  return at < 0 || static_cast<size_t>(at) >= record.fields.size() ? std::string()
                                                                   : std::string(Trim(record.fields[at]));
}

Reject MakeReject(const Header& header, const CsvRecord& record, std::string_view code, std::string reason) {
  return Reject{record.line, Cell(header, record, "source_record_id"), std::string(code), std::move(reason)};
}

// Structural problems make every cell suspect (a shifted column would be read as the wrong field).
std::optional<Reject> CheckShape(const Header& header, const CsvRecord& record) {
  if (!record.error.empty()) return Reject{record.line, "", std::string(code::kBadCsv), record.error};
  if (record.fields.size() != header.size()) {
    return Reject{record.line, "", std::string(code::kColumnCount),
                  absl::StrCat("has ", record.fields.size(), " fields, the header has ", header.size())};
  }
  for (size_t i = 0; i < record.fields.size(); ++i) {
    if (!IsValidUtf8(record.fields[i])) {
      return Reject{record.line, "", std::string(code::kBadEncoding),
                    absl::StrCat(Columns()[header.column(i)].name, ": not UTF-8 (save the export as UTF-8)")};
    }
  }
  return std::nullopt;
}

}  // namespace

const std::string& ImportRow::nhs_number() const {
  return is_assessment() ? std::get<AssessmentRequest>(request).nhs_number()
                         : std::get<CareEventRequest>(request).nhs_number();
}

const std::string& ImportRow::source_record_id() const {
  return is_assessment() ? std::get<AssessmentRequest>(request).source_record_id()
                         : std::get<CareEventRequest>(request).source_record_id();
}

const std::string& ImportRow::source_system() const {
  return std::visit([](const auto& r) -> const std::string& { return r.source_system(); }, request);
}

std::string ActionWord(Action action) {
  for (const auto& [word, a] : ActionWords()) {
    if (a == action) return std::string(word);
  }
  return "record";
}

std::vector<std::string> KnownColumns() {
  std::vector<std::string> names;
  for (const Column& c : Columns()) names.push_back(c.name);
  return names;
}

absl::StatusOr<Header> Header::Parse(const std::vector<std::string>& names) {
  std::map<std::string, size_t> known;  // lower-case name -> column table index
  for (size_t i = 0; i < Columns().size(); ++i) known.emplace(Lower(Columns()[i].name), i);

  Header header;
  std::vector<std::string> unknown, repeated, missing;
  std::vector<bool> seen(Columns().size(), false);
  for (const std::string& raw : names) {
    const std::string name = Lower(Trim(raw));
    auto it = known.find(name);
    if (it == known.end()) {
      unknown.push_back(absl::StrCat("'", raw, "'"));
      continue;
    }
    if (seen[it->second]) repeated.push_back(Columns()[it->second].name);
    seen[it->second] = true;
    header.columns_.push_back(it->second);
  }
  for (std::string_view required : kRequiredColumns) {
    if (!seen[known.at(std::string(required))]) missing.emplace_back(required);
  }
  std::vector<std::string> problems;
  if (!unknown.empty()) {
    problems.push_back(absl::StrCat("unknown column", unknown.size() > 1 ? "s " : " ", absl::StrJoin(unknown, ", "),
                                    " (the columns are: ", absl::StrJoin(KnownColumns(), ", "), ")"));
  }
  if (!repeated.empty()) problems.push_back(absl::StrCat("repeated column(s) ", absl::StrJoin(repeated, ", ")));
  if (!missing.empty()) problems.push_back(absl::StrCat("missing required column(s) ", absl::StrJoin(missing, ", ")));
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrCat("header row: ", absl::StrJoin(problems, "; ")));
  return header;
}

int Header::position(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (Columns()[columns_[i]].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::variant<ImportRow, Reject> ParseRow(const Header& header, const CsvRecord& record,
                                         const absl::TimeZone& local_zone) {
  if (auto reject = CheckShape(header, record)) return *std::move(reject);

  const std::string kind = Lower(Cell(header, record, "kind"));
  if (kind != "assessment" && kind != "care_event") {
    return MakeReject(header, record, code::kBadKind,
                      kind.empty() ? "kind: required (assessment or care_event)"
                                   : absl::StrCat("kind: ", Quoted(Cell(header, record, "kind")),
                                                  " is not assessment or care_event"));
  }
  const bool assessment = kind == "assessment";

  const std::string action_cell = Cell(header, record, "action");
  const std::string action_word = action_cell.empty() ? "record" : Lower(action_cell);
  std::optional<Action> action;
  std::vector<std::string> action_names;
  for (const auto& [word, a] : ActionWords()) {
    if (word == action_word) action = a;
    action_names.emplace_back(word);
  }
  if (!action) {
    return MakeReject(header, record, code::kBadAction,
                      absl::StrCat("action: ", Quoted(action_cell), " is not ", absl::StrJoin(action_names, ", ")));
  }
  const bool for_assessment = *action == Action::kAmendAssessment || *action == Action::kWithdrawAssessment;
  if (*action != Action::kRecord && for_assessment != assessment) {
    return MakeReject(header, record, code::kBadAction,
                      absl::StrCat("action: ", ActionWord(*action), " on a", assessment ? "n " : " ", kind,
                                   " row (it corrects ", for_assessment ? "an assessment" : "a care event", ")"));
  }
  const bool correction = *action != Action::kRecord;
  const bool withdrawal = *action == Action::kWithdrawAssessment || *action == Action::kWithdrawCareEvent;
  if (withdrawal) {
    // The service is not sent it, but it keeps the withdrawal after the person's earlier rows of the
    // file (rows are sent in order per NHS number), so it must be there and well formed.
    const std::string nhs = Cell(header, record, "nhs_number");
    if (nhs.empty()) {
      return MakeReject(header, record, code::kBadAction,
                        absl::StrCat("nhs_number: required on a ", ActionWord(*action),
                                     " row (it keeps the withdrawal after the person's earlier rows)"));
    }
    if (nhs.size() != 10 || !IsDigits(nhs)) {
      return MakeReject(header, record, code::kBadAction,
                        absl::StrCat("nhs_number: ", Quoted(nhs), " is not 10 digits"));
    }
  }

  Draft d;
  d.zone = &local_zone;
  for (size_t i = 0; i < record.fields.size(); ++i) {
    const Column& column = Columns()[header.column(i)];
    const std::string_view value = column.free_text ? std::string_view(record.fields[i]) : Trim(record.fields[i]);
    if (value.empty()) continue;  // not given
    if ((column.applies == Applies::kAssessment && !assessment) ||
        (column.applies == Applies::kCareEvent && assessment)) {
      // Refused rather than dropped: the exporter thinks the value means something.
      d.Problem(code::kNotForKind, absl::StrCat(column.name, ": given on a ", kind, " row, where it does not apply"));
      continue;
    }
    if ((column.applies == Applies::kCorrection && !correction) || (withdrawal && !column.names_record)) {
      d.Problem(code::kNotForAction,
                absl::StrCat(column.name, ": given on a ", ActionWord(*action), " row, where it does not apply",
                             withdrawal ? " (a withdrawal names the record: kind, source_system, source_record_id, "
                                          "nhs_number, and the correction's corrected_at and correction_reason)"
                                        : ""));
      continue;
    }
    column.set(column.name, value, d);
  }
  if (assessment && !withdrawal) {
    FinishRatings(d);
    // proto3 cannot tell an unset cluster from cluster 0 (a real cluster), so an empty cell cannot be sent.
    if (!d.cluster_given) {
      d.Problem(code::kMissingCluster,
                "cluster: required for an assessment (an empty cell would be sent as cluster 0)");
    }
  }
  if (!d.problems.empty()) {
    std::vector<std::string> texts;
    for (const auto& p : d.problems) texts.push_back(p.second);
    return MakeReject(header, record, d.problems.front().first, absl::StrJoin(texts, "; "));
  }
  ImportRow row;
  row.line = record.line;
  row.action = *action;
  row.correction_reason = std::move(d.correction_reason);
  if (assessment) {
    row.request = std::move(d.assessment);
  } else {
    row.request = std::move(d.care_event);
  }
  return row;
}

absl::StatusOr<std::unique_ptr<ImportReader>> ImportReader::Open(std::istream& in, const absl::TimeZone& local_zone,
                                                                  size_t chunk_bytes) {
  std::unique_ptr<ImportReader> reader(new ImportReader(in, local_zone, chunk_bytes));
  CsvRecord first;
  if (!reader->csv_.Next(first)) {
    if (reader->csv_.failed()) return absl::UnavailableError("the file could not be read");
    return absl::InvalidArgumentError("the file is empty: a header row naming the columns is required");
  }
  if (!first.error.empty()) return absl::InvalidArgumentError(absl::StrCat("header row: ", first.error));
  absl::StatusOr<Header> header = Header::Parse(first.fields);
  if (!header.ok()) return header.status();
  reader->header_ = *std::move(header);
  return reader;
}

bool ImportReader::ReadChunk(size_t max_rows, ImportFile& chunk) {
  chunk.rows.clear();
  chunk.rejects.clear();
  CsvRecord record;
  for (size_t n = 0; n < max_rows && csv_.Next(record); ++n) {
    auto parsed = ParseRow(*header_, record, zone_);
    if (auto* row = std::get_if<ImportRow>(&parsed)) {
      chunk.rows.push_back(std::move(*row));
    } else {
      chunk.rejects.push_back(std::move(std::get<Reject>(parsed)));
    }
  }
  return !chunk.rows.empty() || !chunk.rejects.empty();
}

absl::StatusOr<ImportFile> ParseImportFile(std::string_view text, const absl::TimeZone& local_zone) {
  std::istringstream in{std::string(text)};
  auto reader = ImportReader::Open(in, local_zone);
  if (!reader.ok()) return reader.status();
  ImportFile file;
  (*reader)->ReadChunk(std::numeric_limits<size_t>::max(), file);
  return file;
}

}  // namespace pbr::import
