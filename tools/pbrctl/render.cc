#include "render.h"

#include <algorithm>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace pbr::cli {
namespace {

std::string FormatDate(const pbr::v1::CivilDate& d) {
  if (d.year() == 0) return "-";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone());
}

// "REVIEW_STATE_OVERDUE" -> "overdue".
std::string StateName(pbr::v1::ReviewState state) {
  std::string name = pbr::v1::ReviewState_Name(state);
  if (name.empty()) return absl::StrCat("state ", static_cast<int>(state));
  return absl::AsciiStrToLower(absl::StripPrefix(name, "REVIEW_STATE_"));
}

std::string Mean(double value, int count) { return count > 0 ? absl::StrFormat("%.1f", value) : "-"; }

}  // namespace

absl::StatusOr<pbr::v1::RecordAssessmentRequest> ParseAssessmentJson(const std::string& text) {
  pbr::v1::RecordAssessmentRequest request;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(text, &request, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid RecordAssessmentRequest in JSON: ", status.message().ToString()));
  }
  return request;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  // Printing a well-formed message only fails on broken UTF-8 from the server: show what we can.
  if (!status.ok()) return absl::StrCat("{\"error\": \"", status.message().ToString(), "\"}\n");
  return out;
}

std::string RenderSchedule(const pbr::v1::Schedule& s) {
  Table t({"", ""}, {false, false});
  t.AddRow({"person", s.person_id()});
  t.AddRow({"team", s.team_id()});
  t.AddRow({"cluster", absl::StrCat(s.cluster())});
  t.AddRow({"review", StateName(s.state())});
  t.AddRow({"latest MHCT", FormatDate(s.latest_mhct_date())});
  t.AddRow({"window opens", FormatDate(s.window_opens())});
  t.AddRow({"due", FormatDate(s.due_date())});
  t.AddRow({"basis", absl::StrCat(s.basis_assessment_id(), " (assessed ", FormatTimestamp(s.basis_assessed_at()),
                                  " UTC)")});
  t.AddRow({"rules", s.rule_version()});
  return t.Render();
}

std::string RenderOutcomes(const pbr::v1::PersonOutcomes& o) {
  std::string out = absl::StrFormat("person %s: %d assessment(s)\n\n", o.person_id(), o.outcomes_size());
  Table t({"assessed (UTC)", "cluster", "HoNOS", "missing", "assessment"}, {false, true, true, true, false});
  const pbr::v1::OutcomeEntry* first_valid = nullptr;
  const pbr::v1::OutcomeEntry* last_valid = nullptr;
  for (const auto& e : o.outcomes()) {
    t.AddRow({FormatTimestamp(e.assessed_at()), absl::StrCat(e.cluster()),
              e.total_valid() ? absl::StrCat(e.honos_total()) : "n/a", absl::StrCat(e.missing_items()),
              e.assessment_id()});
    if (e.total_valid()) {
      if (first_valid == nullptr) first_valid = &e;
      last_valid = &e;
    }
  }
  absl::StrAppend(&out, t.Render());
  if (first_valid != last_valid) {
    absl::StrAppendFormat(&out, "\nHoNOS change, first to latest valid total: %+d\n",
                          last_valid->honos_total() - first_valid->honos_total());
  }
  return out;
}

std::string RenderCaseload(const pbr::v1::Caseload& c, bool with_persons) {
  std::string out = absl::StrFormat("team %s: %d people, %d review(s) due, %d overdue\n\n", c.team_id(), c.people(),
                                    c.reviews_due(), c.reviews_overdue());
  Table t({"cluster", "people", "due", "overdue", "with HoNOS", "mean HoNOS"}, {true, true, true, true, true, true});
  int with_honos = 0;
  double honos_sum = 0;
  for (const auto& k : c.clusters()) {
    t.AddRow({absl::StrCat(k.cluster()), absl::StrCat(k.people()), absl::StrCat(k.reviews_due()),
              absl::StrCat(k.reviews_overdue()), absl::StrCat(k.people_with_honos()),
              Mean(k.mean_latest_honos(), k.people_with_honos())});
    with_honos += k.people_with_honos();
    honos_sum += k.mean_latest_honos() * k.people_with_honos();
  }
  t.AddSeparator();
  t.AddRow({"total", absl::StrCat(c.people()), absl::StrCat(c.reviews_due()), absl::StrCat(c.reviews_overdue()),
            absl::StrCat(with_honos), Mean(with_honos > 0 ? honos_sum / with_honos : 0, with_honos)});
  absl::StrAppend(&out, t.Render());
  if (with_persons) {
    Table p({"person", "cluster", "latest HoNOS", "review"}, {false, true, true, false});
    for (const auto& person : c.persons()) {
      p.AddRow({person.person_id(), absl::StrCat(person.cluster()),
                person.has_honos() ? absl::StrCat(person.latest_honos_total()) : "-",
                StateName(person.review_state())});
    }
    absl::StrAppend(&out, "\n", p.Render());
  }
  return out;
}

Table::Table(std::vector<std::string> header, std::vector<bool> right_aligned)
    : header_(std::move(header)), right_aligned_(std::move(right_aligned)) {
  right_aligned_.resize(header_.size(), false);
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

void Table::AddSeparator() { rows_.emplace_back(); }

std::string Table::Render() const {
  const bool has_header = std::any_of(header_.begin(), header_.end(), [](const auto& h) { return !h.empty(); });
  std::vector<size_t> widths(header_.size(), 0);
  for (size_t i = 0; i < header_.size(); ++i) widths[i] = header_[i].size();
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(widths[i] - cells[i].size(), ' ');
      if (i > 0) out += "  ";
      out += right_aligned_[i] ? pad + cells[i] : (i + 1 < cells.size() ? cells[i] + pad : cells[i]);
    }
    return std::string(absl::StripTrailingAsciiWhitespace(out)) + "\n";
  };
  std::string out;
  if (has_header) out += line(header_);
  for (const auto& row : rows_) {
    if (!row.empty()) {
      out += line(row);
      continue;
    }
    size_t total = 0;
    for (size_t w : widths) total += w;
    out += std::string(total + 2 * (widths.size() - 1), '-') + "\n";
  }
  return out;
}

}  // namespace pbr::cli
