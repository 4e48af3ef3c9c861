// KPI arithmetic for SOP KPIs 1-13 (reference section 7) and the national measures ACC33/36/37, from plain
// records. Each KPI is numerator / denominator as a percentage against the target in the KPI file.
// Conventions: a KPI with an empty denominator has no percentage and is not met; records still pending at
// `as_of` (not yet done and not yet late) are left out of the denominator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/catalogue.h"

namespace care {

class RuleSet;

// ---- rule data (KPI file) ----
struct KpiDefinition {
  std::string id;     // "KPI1".."KPI13", "ACC37"
  std::string title;
  double target_percent = 0;
};
struct KpiSettings {
  std::string version;
  std::map<std::string, KpiDefinition> kpis;
  int max_initial_contacts = 2;              // KPI 4: allocation within 2 face-to-face contacts
  int max_initial_bed_nights = 2;            // KPI 4: or 2 bed nights if admitted
  int initial_contacts_days = 28;            // KPI 5: the 2 contacts within 28 calendar days
  int memory_initial_contacts_days = 84;     // KPI 5: memory assessment 12 weeks
  int transfer_in_hours_days_before = 5;     // KPI 9: reviewed within the 5 days before the referral
  int transfer_out_of_hours_hours = 72;      // KPI 10: within 72 hours of the referral
  int discharge_review_hours = 24;           // KPI 12: within 24 hours of the discharge review
};

struct KpiResult {
  std::string id;
  std::string title;
  int64_t numerator = 0;
  int64_t denominator = 0;
  std::optional<double> percent;  // nullopt when denominator is 0
  double target_percent = 0;
  bool met = false;               // percent >= target
  std::string rule_version;
};

// ---- records ----

// A case on the caseload at as_of (KPIs 1-3, ACC33/36).
struct CaseloadRecord {
  std::optional<int> cluster;  // nullopt: no cluster allocated
  std::optional<absl::CivilDay> latest_mhct;
  std::string service_area;  // service-area id of the team holding the case
};

// An initial assessment (KPIs 4-6).
struct InitialAssessmentRecord {
  bool allocated = false;
  int face_to_face_contacts_to_allocation = 0;  // contacts up to and including the allocating one
  bool admitted = false;
  int bed_nights_to_allocation = 0;
  absl::CivilDay clock_start;                   // first face-to-face contact (or the trust's chosen start)
  std::optional<absl::CivilDay> second_contact;  // second face-to-face contact
  bool memory_assessment = false;               // memory assessment/diagnosis: 12 weeks
  bool red_rules_met = false;                   // from CheckRedRules at allocation
};

// A formal review falling due (KPIs 7-8).
struct FormalReviewRecord {
  absl::CivilDay due;  // ReviewDue::due (latest MHCT + period; a review on it is on time)
  absl::CivilDay window_opens;  // ReviewDue::window_opens
  std::optional<absl::CivilDay> reviewed_on;
  bool transition_adherent = false;  // from CheckTransition at the review
};

// A transfer to CRHT / inpatients (KPIs 9-11).
struct TransferRecord {
  absl::Time referral;
  bool out_of_hours = false;
  std::optional<absl::Time> reviewed_at;
  bool transition_adherent = false;
};

// A discharge (KPIs 12-13).
struct DischargeRecord {
  absl::Time discharge_review;
  std::optional<absl::Time> reviewed_at;
  bool transition_adherent = false;
};

// ---- KPIs ----
// 1: cases allocated a valid cluster used in secondary care.
KpiResult Kpi1AllocatedCluster(const RuleSet& rules, std::span<const CaseloadRecord> cases);
// 2: allocated cases within their review period at as_of (latest MHCT + period > as_of, i.e. as_of before the
// due date: IsWithinReviewPeriod) under `policy`. A case due on as_of itself counts as outside.
KpiResult Kpi2ReviewedWithinPeriod(const RuleSet& rules, std::span<const CaseloadRecord> cases,
                                   absl::CivilDay as_of, ReviewPolicy policy);
// 3: allocated cases whose cluster fits the service area (rarely-held clusters count as fitting).
KpiResult Kpi3ServiceArea(const RuleSet& rules, std::span<const CaseloadRecord> cases);
// 4: allocation within 2 face-to-face contacts, or 2 bed nights if admitted (allocated records only).
KpiResult Kpi4InitialContacts(const RuleSet& rules, std::span<const InitialAssessmentRecord> records);
// 5: second face-to-face contact within 28 days of clock_start (84 for memory assessment).
KpiResult Kpi5ContactsWithinDays(const RuleSet& rules, std::span<const InitialAssessmentRecord> records,
                                 absl::CivilDay as_of);
// 6: red rules met at initial allocation (allocated records only).
KpiResult Kpi6RedRules(const RuleSet& rules, std::span<const InitialAssessmentRecord> records);
// 7: reviewed within the window (window_opens <= reviewed_on <= due); late unreviewed count against.
KpiResult Kpi7FormalReviewOnTime(const RuleSet& rules, std::span<const FormalReviewRecord> records,
                                 absl::CivilDay as_of);
// 8 / 11 / 13: transition protocol adherence over the reviews done.
KpiResult Kpi8FormalReviewAdherence(const RuleSet& rules, std::span<const FormalReviewRecord> records);
// 9, 10, 12: reviewed inside the event's trigger window (care/review_triggers.h, the one the review
// scheduler tracks): in hours, the 5 civil days before the referral; out of hours, the 72 hours after it; a
// discharge review, 24 hours either side. An unreviewed one counts against once its deadline has passed.
// `clinical` is the clinical time zone the civil days are counted in.
KpiResult Kpi9TransferInHours(const RuleSet& rules, std::span<const TransferRecord> records, absl::Time as_of,
                              absl::TimeZone clinical);
KpiResult Kpi10TransferOutOfHours(const RuleSet& rules, std::span<const TransferRecord> records,
                                  absl::Time as_of, absl::TimeZone clinical);
KpiResult Kpi11TransferAdherence(const RuleSet& rules, std::span<const TransferRecord> records);
KpiResult Kpi12DischargeOnTime(const RuleSet& rules, std::span<const DischargeRecord> records,
                               absl::Time as_of, absl::TimeZone clinical);
KpiResult Kpi13DischargeAdherence(const RuleSet& rules, std::span<const DischargeRecord> records);

// National review measures at period_end, always with the NATIONAL review periods whatever the local policy:
// ACC33 = people with a valid cluster; ACC36 = those within their review period
// (latest MHCT + national period > period_end, i.e. period_end < the national due date);
// ACC37 = ACC36 / ACC33 as a percentage.
struct NationalReviewMeasures {
  int64_t acc33 = 0;
  int64_t acc36 = 0;
  KpiResult acc37;  // numerator acc36, denominator acc33
  std::string rule_version;
};
NationalReviewMeasures ComputeNationalReviewMeasures(const RuleSet& rules,
                                                     std::span<const CaseloadRecord> cases,
                                                     absl::CivilDay period_end);

// The plain arithmetic shared by all of them.
KpiResult MakeKpiResult(const KpiSettings& settings, std::string_view id, int64_t numerator,
                        int64_t denominator, std::string rule_version);

}  // namespace care
