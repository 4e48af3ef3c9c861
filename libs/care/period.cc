#include "care/period.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "internal.h"

namespace care {
namespace {


bool ParseUnit(std::string_view word, Period::Unit* unit) {
  std::string w = internal::Lower(word);
  if (w == "day" || w == "days") *unit = Period::Unit::kDays;
  else if (w == "week" || w == "weeks") *unit = Period::Unit::kWeeks;
  else if (w == "month" || w == "months") *unit = Period::Unit::kMonths;
  else if (w == "year" || w == "years") *unit = Period::Unit::kYears;
  else return false;
  return true;
}

absl::Status BadPeriod(std::string_view text) {
  return absl::InvalidArgumentError(internal::Cat(
      "period \"", text,
      "\" is not \"<n> days|weeks|months|years\" with n a whole number >= 1"));
}

}  // namespace

absl::StatusOr<Period> ParsePeriod(std::string_view text) {
  std::vector<std::string_view> parts = internal::Split(internal::Strip(text), ' ', true);
  if (parts.size() != 2) return BadPeriod(text);
  Period p;
  if (!internal::Atoi(parts[0], &p.count) || p.count < 1 || p.count > 1000 ||
      !ParseUnit(parts[1], &p.unit)) {
    return BadPeriod(text);
  }
  return p;
}

std::string FormatPeriod(const Period& p) {
  const char* unit = "day";
  switch (p.unit) {
    case Period::Unit::kDays: unit = "day"; break;
    case Period::Unit::kWeeks: unit = "week"; break;
    case Period::Unit::kMonths: unit = "month"; break;
    case Period::Unit::kYears: unit = "year"; break;
  }
  return internal::Cat(p.count, " ", unit, p.count == 1 ? "" : "s");
}

absl::Time EndOfDay(absl::CivilDay day, absl::TimeZone tz) {
  return absl::FromCivil(absl::CivilSecond(day + 1), tz) - absl::Nanoseconds(1);
}

absl::CivilDay AddMonthsClamped(absl::CivilDay d, int months) {
  const absl::CivilMonth target = absl::CivilMonth(d) + months;
  const absl::CivilDay last_of_month = absl::CivilDay(target + 1) - 1;
  const int day = std::min<int>(d.day(), last_of_month.day());
  return absl::CivilDay(target.year(), target.month(), day);
}

absl::CivilDay AddPeriodTimes(absl::CivilDay start, const Period& p, int k) {
  switch (p.unit) {
    case Period::Unit::kDays: return start + p.count * k;
    case Period::Unit::kWeeks: return start + 7 * p.count * k;
    case Period::Unit::kMonths: return AddMonthsClamped(start, p.count * k);
    case Period::Unit::kYears: return AddMonthsClamped(start, 12 * p.count * k);
  }
  return start;
}

absl::CivilDay AddPeriod(absl::CivilDay start, const Period& p) {
  return AddPeriodTimes(start, p, 1);
}

absl::StatusOr<IndicativePeriod> ParseIndicativePeriod(std::string_view text) {
  IndicativePeriod out;
  out.text = std::string(internal::Strip(text));
  std::vector<std::string_view> parts = internal::Split(out.text, ' ', true);
  auto bad = [&] {
    return absl::InvalidArgumentError(internal::Cat(
        "indicative period \"", text,
        "\" is not \"<n> <unit>\", \"<n>+ <unit>\" or \"<n>-<m> <unit>\""));
  };
  if (parts.size() != 2) return bad();
  Period::Unit unit;
  if (!ParseUnit(parts[1], &unit)) return bad();
  std::string_view num = parts[0];
  if ((num.ends_with("+") ? (num.remove_suffix(1), true) : false)) out.open_ended = true;
  std::vector<std::string_view> range = internal::Split(num, '-', false);
  int lo = 0, hi = 0;
  if (range.size() == 1) {
    if (!internal::Atoi(range[0], &lo)) return bad();
    hi = lo;
  } else if (range.size() == 2 && !out.open_ended) {
    if (!internal::Atoi(range[0], &lo) || !internal::Atoi(range[1], &hi)) return bad();
  } else {
    return bad();
  }
  if (lo < 1 || hi < lo) return bad();
  out.min = Period{lo, unit};
  out.max = Period{hi, unit};
  return out;
}

}  // namespace care
