#pragma once
// What one person adds to the national review measures ACC33/36 (rules/README.md "National measures"),
// as pure functions of their ledger facts: no store, no clock. The ledger (libs/ledger) says what their
// care is (live assessments in its order, referral periods, which period each assessment belongs to);
// care::RuleSet says when the national review falls due. This file only reads those as NHS Digital's
// MHSDS tables would hold them:
//
// - Referral periods: open at a month end P when opened on or before P and not discharged on or
//   before P (a discharge on P closes it).
// - Cluster records: every live assessment of a referral period is one. It starts on its effective
//   day and ends on the effective day of the period's next live assessment (ledger order), or on the
//   day of the discharge that closes the period. Open at P: started on or before P and not ended on
//   or before P (a record ending on P is closed at P).
// - At P the person counts (ACC33) when a referral period is open and a cluster record with a valid
//   cluster code (0-8, 10-21) is open; of those, the record with the latest start (ties: the later in
//   ledger order) is theirs. Records with any other code are dropped before that choice, as the
//   national code drops them.
// - ACC36 when P is before that record's national due date (ReviewDueDate from its MHCT day with the
//   national policy): on the due date itself the person is already outside.
//
// Every figure is a function of the month end alone, so a person's contribution is a few runs of
// consecutive months with the same standing; the projection keeps those runs and maintains monthly
// deltas from them.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "care/rules.h"
#include "ledger/ledger.h"

namespace pbr::reporting::national {

// The commissioner scope of an assessment that named none.
inline constexpr absl::string_view kNoCommissioner = "unknown";

struct ReferralSpan {
  absl::CivilDay opened;                 // clinical day the period opened
  std::optional<absl::CivilDay> closed;  // clinical day of the discharge; none while open
};

struct ClusterRecord {
  std::string assessment_id;
  int cluster = 0;
  std::string team_id;
  std::string commissioner_id;  // kNoCommissioner when the assessment named none
  std::string service_area;
  absl::CivilDay start;                // effective day
  std::optional<absl::CivilDay> end;   // closed from this day; none while open
  absl::CivilDay mhct;                 // MHCT day: the national review clock runs from it
  // ReviewDueDate(cluster, mhct, national). None for a code that is not a valid cluster (the record
  // never counts), or should the rules give a valid one no national period (it counts in ACC33 and is
  // never within, as a record without an MHCT date nationally).
  std::optional<absl::CivilDay> national_due;
  int ledger_position = 0;             // index in the ledger's order of live assessments (ties on start)
};

// The person's referral periods and cluster records as the national measures read them.
struct NationalView {
  std::vector<ReferralSpan> referrals;
  std::vector<ClusterRecord> records;  // in ledger order
};
NationalView NationalViewOf(absl::string_view person_id, const ledger::PersonFacts& facts,
                            const care::RuleSet& rules);

// How the person counts at one month end: their record's cluster and attribution, and whether it is
// within the national review period.
struct Standing {
  int cluster = 0;
  std::string team_id;
  std::string commissioner_id;
  std::string service_area;
  bool within_review_period = false;
  bool operator==(const Standing&) const = default;
};
// The person's standing at the end of `period_end`; none when they do not count in ACC33 then.
std::optional<Standing> StandingAt(const NationalView& view, absl::CivilDay period_end);

// A run of consecutive month ends with one standing: the person counts at the end of every month from
// `first` up to, not including, `end` (none: every later month too).
struct Contribution {
  Standing standing;
  absl::CivilMonth first;
  std::optional<absl::CivilMonth> end;
  bool operator==(const Contribution&) const = default;
};
// Every run of the person, oldest first, adjacent runs with the same standing merged. The standing
// can only change on a day some record or referral period starts or ends or a due date falls, so the
// month ends are judged one interval between such days at a time, never month by month.
std::vector<Contribution> ContributionsOf(const NationalView& view);

}  // namespace pbr::reporting::national
