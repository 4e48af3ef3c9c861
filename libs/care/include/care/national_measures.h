// The arithmetic of NHS Digital's national review measures ACC33/36/37 (reference section 7) as they are
// answered and as they are published. Who counts at a month end, and with which cluster and review due
// date, is decided over a person's care elsewhere (the reporting service's national projection, from the
// shared ledger, with RuleSet::ReviewDueDate under ReviewPolicy::kNational); this file only turns the
// counts into figures.
#pragma once

#include <cstdint>

namespace care {

// ACC37: ACC36 as a percentage of ACC33, exactly; 0 when ACC33 is 0 (nobody to measure).
double Acc37Percent(int64_t acc36, int64_t acc33);

// One count as published below England level: a count under 5 is suppressed (shown as 0, flagged) so
// nobody can be picked out of a small group; any other count is rounded to the nearest multiple of 5,
// halves up (12 -> 10, 13 -> 15; an exact half cannot occur with whole counts).
struct PublishedCount {
  int64_t value = 0;
  bool suppressed = false;
};
PublishedCount RoundCountForPublication(int64_t count);

// One row (a cluster, or every cluster together) as published: both counts rounded on their own;
// ACC37 from the unrounded counts (rounding first would distort it), to one decimal place (halves up),
// and suppressed with ACC33, since it would reveal the small group ACC33 hides.
struct PublishedNationalMeasure {
  PublishedCount acc33;
  PublishedCount acc36;
  double acc37 = 0;
  bool acc37_suppressed = false;
};
PublishedNationalMeasure PublishNationalMeasure(int64_t acc33, int64_t acc36);

}  // namespace care
