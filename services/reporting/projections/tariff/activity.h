#pragma once
// What a person's care is worth to each commissioner, month by month: pure functions of the ledger's cluster
// episodes and the rule set's price lists (libs/care tariff), and the lines that bring what was billed to what
// is now true. No store and no clock: the projection (tariff.h) says which months are closed.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "care/rules.h"
#include "ledger/ledger.h"
#include "pbr/v1/events.pb.h"

namespace pbr::reporting::tariff {

// A month as YYYYMM (202610), how the records keep it.
int MonthNumber(absl::CivilMonth m);
absl::CivilMonth MonthOf(int yyyymm);

// What a line is about: one month, commissioner, team and cluster (of one person).
struct ActivityKey {
  int month = 0;  // YYYYMM
  std::string commissioner_id;
  std::string team_id;
  int cluster = 0;
  auto operator<=>(const ActivityKey&) const = default;
};

// What a key counts and costs in its month.
struct MonthActivity {
  int64_t days = 0;
  int64_t review_periods_started = 0;
  bool priced = false;
  std::string gap;    // why it has no price (priced false)
  std::string basis;  // "per_cluster_day" | "per_review_period" (priced)
  int64_t unit_price_pence = 0;
  int64_t amount_pence = 0;
  std::string price_list_version;
  std::string rule_version;
  // The same figure: what is billed, whatever rule set version worked it out.
  bool SameFigure(const MonthActivity& other) const;
};

using Activity = std::map<ActivityKey, MonthActivity>;

// The commissioner lines carry when an assessment named none (and its team has no default).
inline constexpr absl::string_view kUnknownCommissioner = "unknown";

// Every month up to and including `through` the person was on a cluster: the cluster-days and review periods
// started of each episode (its start day to its last day, care::LastDayOnCluster; an open episode runs on),
// priced by the commissioner's price list for the month's financial year. A month without a price list for
// the commissioner, or a cluster without a price in it, is a gap: counted, not priced, with the reason.
Activity ActivityThrough(const ledger::CareRecord& record, const care::RuleSet& rules, absl::CivilMonth through);

// A line to issue, before it has a sequence.
struct LineToIssue {
  pbr::v1::TariffLineKind kind = pbr::v1::TARIFF_LINE_KIND_UNSPECIFIED;
  ActivityKey key;
  MonthActivity figure;          // negated on a reversal
  uint64_t reverses_sequence = 0;  // a reversal: the line that billed what it takes back
};

// What is billed for a key now: the figure, and the line that stated it.
struct Billed {
  MonthActivity figure;
  uint64_t sequence = 0;
};
using BilledActivity = std::map<ActivityKey, Billed>;

// The lines that bring `billed` to `now` (keys of months up to `through` only). A key billed for the first
// time in a month not closed before (its month after `closed_before`, YYYYMM) is an original; a key whose
// month was closed before, or whose figure changed, is corrected: a reversal of what was billed (if
// anything) and a restatement of the figure now (if any). Unchanged keys issue nothing. In key order.
std::vector<LineToIssue> LinesToIssue(const BilledActivity& billed, const Activity& now, int through,
                                      int closed_before);

}  // namespace pbr::reporting::tariff
