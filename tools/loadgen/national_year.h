// A national year of care, generated deterministically: people referred, allocated a care cluster at an
// initial MHCT assessment, reviewed one to four times, moved between teams in a crisis, some discharged,
// with the care events around it (contacts, CRHT and inpatient referrals, admissions, MHA assessments,
// non-concordance, discharge reviews, discharges from service). Rows are yielded person by person, as the
// requests pbr-import would send (pbr::import::ImportRow), so a benchmark can drive the intake with them
// directly and pbr-loadgen can write them as pbr-import's CSV. Memory is bounded by one person's rows.
//
// Every row is meant to be accepted by allocation's intake: times before `year_end`, a referral period open
// for every review, a discharge after its period's last assessment, item 8's problem type when it is rated
// 1-4, change classes on reviews, teams from the rules' team registry, and clusters chosen from the ratings
// with the rules (the scoring profiles' ranking, restricted to the team's service area, then the red rules,
// the restrictions and the transition protocol as allocation applies them). Where no cluster fits the rules
// (now and then on purpose, e.g. clusters 1-3, which no service area holds) the row carries a
// clinical_rationale, as a clinician recording a breach would.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "rows.h"  // tools/import: ImportRow, the request pbr-import sends for a row

namespace pbr::loadgen {

struct NationalYearOptions {
  int64_t people = 1'000'000;
  // Initial assessments (one per person) plus reviews (one to four per person): people*2 .. people*5.
  int64_t assessments = 3'000'000;
  uint64_t seed = 1;
  // Everything happens on a UK clinical day before this one, within the 365 days before it.
  absl::CivilDay year_end;
  int source_systems = 2;  // 1..kMaxSourceSystems EPRs (names from SourceSystemNames)
};

inline constexpr int kMaxSourceSystems = 16;
inline constexpr int kMinReviews = 1, kMaxReviews = 4;

// InvalidArgument naming the option (as the CLI flag: "--people", "--assessments", ...).
absl::Status ValidateOptions(const NationalYearOptions& options);

// The EPR names: rio-north, systmone-south, then others; n of them (1..kMaxSourceSystems).
std::vector<std::string> SourceSystemNames(int n);

// ---- NHS numbers ----
// Valid modulus-11 numbers in the range reserved for test data, 999 000 0000 - 999 999 9999.
int64_t TestRangeCapacity();  // how many there are: 909,090 (9999999999 is a placeholder, not a number)
// The index-th valid NHS number counting up from 999 000 0000; past the test range it continues from
// 998 000 0000 upwards (synthetic, but outside the reserved range: see README). Distinct for every index
// below 2 * TestRangeCapacity(), deterministic.
std::string NhsNumberAt(int64_t index);
// The modulus-11 check digit of nine ASCII digits, or -1 when the check value is 10 (never issued).
int NhsCheckDigit(const char* nine_digits);

// ---- the generator ----

// One person's rows, in time order (the order pbr-import sends them).
struct PersonRecord {
  int64_t index = 0;  // 0-based, in generation order
  std::string nhs_number;
  std::vector<import::ImportRow> rows;
  int reviews = 0;
  bool discharged = false;          // discharged from service by the end of the year
  std::string last_team;            // the team of the person's last assessment (their caseload, if not discharged)
  int last_cluster = 0;
  std::vector<absl::Time> times;    // the clinical time of each row, parallel to rows
};

struct NationalYearStats {
  int64_t people = 0;
  int64_t assessments = 0;
  int64_t care_events = 0;
  int64_t rows() const { return assessments + care_events; }
  int64_t outside_test_range = 0;              // NHS numbers past 999 999 9999 (from the 998 range)
  int64_t with_rationale = 0;                  // assessments recorded with a clinical_rationale (a rule breach)
  int64_t discharged = 0;
  std::array<int64_t, kMaxReviews + 1> people_by_reviews{};  // [n] people with n reviews
  std::array<int64_t, 22> assessments_by_cluster{};
  std::map<std::string, int64_t> assessments_by_reason;   // "initial", "formal_review", ...
  std::map<std::string, int64_t> care_events_by_type;     // "referral_received", ...
  std::map<std::string, int64_t> assessments_by_team;     // team_id -> assessments recorded by it
  std::map<std::string, int64_t> caseload_by_team;        // team_id -> people not discharged whose last assessment it made
  std::map<std::string, int64_t> rows_by_source;          // source_system -> rows
  absl::Time earliest = absl::InfiniteFuture(), latest = absl::InfinitePast();
};

class NationalYear {
 public:
  // FailedPrecondition when the rules have no usable team (each team's service area must be known).
  static absl::StatusOr<NationalYear> Create(const care::RuleSet& rules, const NationalYearOptions& options);

  // The next person, or false when all have been generated. `out` is reused (its vectors keep their
  // capacity), so a caller streaming a national year allocates almost nothing per person.
  bool Next(PersonRecord& out);
  // Every remaining person in order, to `emit`; stops early when it returns false.
  void Run(const std::function<bool(const PersonRecord&)>& emit);

  const NationalYearStats& stats() const { return stats_; }
  const NationalYearOptions& options() const { return options_; }
  // The UK days everything falls on: [first_day, last_day].
  absl::CivilDay first_day() const { return first_day_; }
  absl::CivilDay last_day() const { return last_day_; }

  struct TeamInfo;  // defined in national_year.cc
  struct Shared;

 private:
  NationalYear() = default;
  int DrawReviews(uint64_t& rng_state);

  std::shared_ptr<const Shared> shared_;
  NationalYearOptions options_;
  absl::CivilDay first_day_, last_day_;
  int64_t next_index_ = 0;
  int64_t reviews_left_ = 0;  // reviews still to hand out to the remaining people
  int64_t nhs_cursor_ = 0;    // the next candidate nine-digit prefix's position
  NationalYearStats stats_;
};

// ---- CSV ----
// pbr-import's columns as the generator writes them (a subset of import::KnownColumns, in this order).
const std::vector<std::string>& CsvColumns();
std::string CsvHeader();  // CsvColumns joined by commas, with "\n"
// Appends one row as CSV (fields quoted only when they need it), ending in "\n".
void AppendCsvRow(const import::ImportRow& row, std::string& out);
// RFC 3339 in UTC, "2025-03-04T10:30:00Z" (whole seconds).
void AppendUtcTime(int64_t unix_seconds, std::string& out);

}  // namespace pbr::loadgen
