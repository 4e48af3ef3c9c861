#include "corrections.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pbr::loadgen {
namespace {

uint64_t Hash(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x2545F4914F6CDD1DULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// `row` as the main file has it, with `action` in front and the correction's time and reason after.
void Line(std::string_view action, const import::ImportRow& row, bool whole, absl::Time corrected_at,
          std::string_view reason, std::string& out) {
  out += action;
  out.push_back(',');
  if (whole) {
    std::string line;
    AppendCsvRow(row, line);
    line.pop_back();  // "\n"
    out += line;
  } else {
    // Only the identifiers: kind, source_system, source_record_id, nhs_number; the rest empty.
    out += row.is_assessment() ? "assessment," : "care_event,";
    out += row.source_system();
    out.push_back(',');
    out += row.source_record_id();
    out.push_back(',');
    out += row.nhs_number();
    out.append(CsvColumns().size() - 4, ',');
  }
  out.push_back(',');
  AppendUtcTime(absl::ToUnixSeconds(corrected_at), out);
  out.push_back(',');
  out += reason;
  out.push_back('\n');
}

}  // namespace

std::string CorrectionWriter::Header() {
  return absl::StrCat("action,", absl::StrJoin(CsvColumns(), ","), ",corrected_at,correction_reason\n");
}

void CorrectionWriter::Add(const PersonRecord& person, std::string& out) {
  const uint64_t h = Hash(seed_, static_cast<uint64_t>(person.index));
  const int pick = static_cast<int>(h % 100);
  if (pick >= 2 || person.rows.empty()) return;
  // The correction comes a day after the record it corrects (and before the person's next row, so the
  // history stays in order when it is applied in time order).
  if (pick == 0) {
    // An assessment recorded under the wrong clinician: amended to the right one.
    std::vector<size_t> assessments;
    for (size_t i = 0; i < person.rows.size(); ++i) {
      if (person.rows[i].is_assessment()) assessments.push_back(i);
    }
    const size_t i = assessments[(h >> 8) % assessments.size()];
    import::ImportRow amended = person.rows[i];
    auto& a = std::get<import::AssessmentRequest>(amended.request);
    a.set_clinician_id(absl::StrCat(a.clinician_id(), "-corrected"));
    Line("amend_assessment", amended, /*whole=*/true, person.times[i] + absl::Hours(20),
         "recorded under the wrong clinician", out);
    ++amendments_;
    return;
  }
  // A face-to-face contact entered on the wrong person: withdrawn.
  for (size_t i = 0; i < person.rows.size(); ++i) {
    const auto* e = std::get_if<import::CareEventRequest>(&person.rows[i].request);
    if (e != nullptr && e->type() == pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT) {
      Line("withdraw_care_event", person.rows[i], /*whole=*/false, person.times[i] + absl::Hours(20),
           "entered on the wrong record", out);
      ++withdrawals_;
      return;
    }
  }
}

}  // namespace pbr::loadgen
