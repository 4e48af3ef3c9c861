#pragma once
// What one person adds to the national review measures ACC33/36 (rules/README.md "National measures"),
// as pure functions of their ledger facts: no store, no clock. The ledger (libs/ledger) says what their
// care is (referral periods, which assessment is in effect at a time); care::RuleSet says when the
// national review falls due. This file only reads those as NHS Digital's MHSDS tables would hold them:
//
// - Referral periods: open at a month end P when opened on or before P and not discharged on or
//   before P (a discharge on P closes it).
// - Cluster records: every live assessment of a referral period is one, taking effect from its effective
//   day. The person's record at P is the one the ledger has in effect at the end of P
//   (ledger::AssessmentInEffectAt: the last in the ledger's order to have taken effect, never before its
//   period opened nor before the episode it came in started), the same one reporting's KPIs 1-3 count
//   and the same cluster as the ledger's episode then. A record ends when a later one takes effect or
//   the period is discharged (a record replaced or discharged on P is closed at P).
// - At P the person counts (ACC33) when a referral period is open and their record has a valid cluster
//   code (0-8, 10-21); a record with any other code counts nowhere, as the national code drops it.
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

struct ReferralSpan {
  absl::CivilDay opened;                 // clinical day the period opened
  std::optional<absl::CivilDay> closed;  // clinical day of the discharge; none while open
};

struct ClusterRecord {
  std::string assessment_id;
  int cluster = 0;
  std::string team_id;
  std::string commissioner_id;  // care::kUnknownCommissioner when the assessment named none
  std::string service_area;
  absl::CivilDay effective;     // effective day: the record takes effect no earlier
  absl::CivilDay mhct;          // MHCT day: the national review clock runs from it
  // ReviewDueDate(cluster, mhct, national). None for a code that is not a valid cluster (the record
  // never counts), or should the rules give a valid one no national period (it counts in ACC33 and is
  // never within, as a record without an MHCT date nationally).
  std::optional<absl::CivilDay> national_due;
};

// The person's referral periods and cluster records as the national measures read them, with the facts
// and the ledger's reading of them that say which record is in effect when.
struct NationalView {
  std::vector<ReferralSpan> referrals;
  std::vector<ClusterRecord> records;  // in ledger order
  ledger::PersonFacts facts;
  ledger::CareRecord care;
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
// can only change on a day some record takes effect, a referral period opens or closes or a due date
// falls (a record takes effect on its effective day or on a day another one does or a period opens), so
// the month ends are judged one interval between such days at a time, never month by month.
std::vector<Contribution> ContributionsOf(const NationalView& view);

}  // namespace pbr::reporting::national
