// Calendar periods used by the rules: "6 months", "12 weeks", "84 days", "3 years".
// Months are calendar months with month-end clamping (31 Aug + 6 months = 28/29 Feb),
// as NHS Digital computes review periods.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace care {

struct Period {
  enum class Unit { kDays, kWeeks, kMonths, kYears };
  int count = 0;
  Unit unit = Unit::kDays;

  friend bool operator==(const Period&, const Period&) = default;
};

// Parses "<n> day(s)|week(s)|month(s)|year(s)", n >= 1. Case-insensitive.
absl::StatusOr<Period> ParsePeriod(std::string_view text);
// "6 months", "84 days", "1 year".
std::string FormatPeriod(const Period& p);

// d + n calendar months; the day is clamped to the last day of the target month.
absl::CivilDay AddMonthsClamped(absl::CivilDay d, int months);
// start + p. Weeks are 7 days; years are 12 calendar months (29 Feb + 1 year = 28 Feb).
absl::CivilDay AddPeriod(absl::CivilDay start, const Period& p);
// start + k*p, computed from start each time so month clamping never drifts
// (31 Jan + 2 x 1 month = 31 Mar, not 28 Mar).
absl::CivilDay AddPeriodTimes(absl::CivilDay start, const Period& p, int k);

// The last instant of civil day `day` in `tz` (1 ns before the next midnight there, however long the day
// is when the clocks change): what holds "at the end of the day" holds at this instant.
absl::Time EndOfDay(absl::CivilDay day, absl::TimeZone tz);

// An indicative period of care as printed in the SOP: "12 weeks", "3 years", "3+ years", "8-12 weeks".
struct IndicativePeriod {
  Period min;
  Period max;             // == min unless a range was given
  bool open_ended = false;  // "3+ years"
  std::string text;       // as written in the rule file
};
absl::StatusOr<IndicativePeriod> ParseIndicativePeriod(std::string_view text);

}  // namespace care
