#pragma once
// What one person adds to the KPIs (SOP section 4.9, KPIs 1-13; rules/README.md "KPIs"), from their
// ledger facts alone: stock segments (the days they were an active case, with the same figures) for
// KPIs 1-3, and flow records (one per initial allocation, contact clock, review falling due, formal
// review, event-triggered review) for KPIs 4-13. Pure, and needs no clock: every record carries its
// reference day and the day it was decided, so whether it is still pending is the query's to say.
//
// The ledger says what the care is (referral periods, the assessment in effect and the basis at a time,
// which assessment reviewed which, which care events trigger a review and which assessment answered);
// care/kpi.h judges each record; this file only puts the two together and attributes each record to a
// team, a service area and a commissioner.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/kpi.h"
#include "care/rules.h"
#include "ledger/ledger.h"

namespace pbr::reporting::kpis {

// What the KPIs need of an assessment that the ledger does not keep (from its AssessmentRecorded).
struct AssessmentExtras {
  care::CheckOutcome red_rules = care::CheckOutcome::kAbsent;
  care::CheckOutcome transition_protocol = care::CheckOutcome::kAbsent;
  int face_to_face_contacts = 0;             // 0: count the contact care events instead
  std::optional<absl::Time> first_contact_at;
  std::optional<absl::Time> admitted_at;
  bool operator==(const AssessmentExtras&) const = default;
};
using ExtrasById = std::map<std::string, AssessmentExtras>;

// Where a record counts besides the trust. An empty service area counts under none; a commissioner nobody
// named is care::kUnknownCommissioner.
struct Scope {
  std::string team_id;
  std::string service_area;
  std::string commissioner_id;
  bool operator==(const Scope&) const = default;
};

// Days first..last (last none: still so) on which the person was an active case with these figures.
struct StockSegment {
  Scope scope;
  absl::CivilDay first;
  std::optional<absl::CivilDay> last;
  bool with_cluster = false;          // KPI 2 and 3 denominators (every segment is in KPI 1's)
  bool secondary_care = false;        // KPI 1 numerator
  bool within_review_period = false;  // KPI 2 numerator
  bool fits_service_area = false;     // KPI 3 numerator
  bool operator==(const StockSegment&) const = default;
};

struct FlowRecord {
  int kpi = 0;  // 4..13
  Scope scope;
  absl::CivilDay reference_day;  // the record belongs to this day's month
  absl::CivilDay decided_on;     // pending when judged on an earlier day
  bool met = false;
  bool operator==(const FlowRecord&) const = default;
};

struct Contributions {
  std::vector<StockSegment> stock;  // by referral period, then day
  std::vector<FlowRecord> flow;
  bool empty() const { return stock.empty() && flow.empty(); }
};

// KPI 2's due dates under `policy` (the service's review-policy, as the scheduler's); the trigger
// windows and the KPI options from the rules' KPI file. InvalidArgument naming the field when a live
// assessment's cluster has no review period.
absl::StatusOr<Contributions> ContributionsOf(const care::RuleSet& rules, care::ReviewPolicy policy,
                                              absl::string_view person_id, const ledger::PersonFacts& facts,
                                              const ExtrasById& extras);

}  // namespace pbr::reporting::kpis
