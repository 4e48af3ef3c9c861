// The cluster catalogue (reference section 1) and the review-period policies.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "care/period.h"

namespace care {

inline constexpr int kMinCluster = 0, kMaxCluster = 21, kBlankCluster = 9;
// 0..21 except 9 (the blank cluster is never valid).
bool IsValidClusterId(int cluster);

enum class SuperClass { kVariance, kNonPsychotic, kPsychosis, kOrganic };
// "V", "NP", "P", "O".
std::string_view SuperClassCode(SuperClass sc);
absl::StatusOr<SuperClass> ParseSuperClass(std::string_view code);

struct ClusterInfo {
  int id = 0;
  std::string label;
  SuperClass super_class = SuperClass::kVariance;
  IndicativePeriod indicative_period;
  bool used_in_secondary_care = true;  // SOP: clusters 1-3 are not used in secondary care
};

// The last day of an indicative period of care (SOP Table 12) that starts on `start`: start + the period's
// length, its upper one for a range ("8-12 weeks" ends 12 weeks on), by the rules' calendar arithmetic
// (months clamp at month end: 31 Aug + 6 months = 28 Feb; weeks are 7 days). None for an open-ended
// period ("3+ years"): it has no end.
std::optional<absl::CivilDay> IndicativePeriodEnd(const IndicativePeriod& period, absl::CivilDay start);
// Longer in the cluster than its indicative period on `today`: today is after the period's end (on the
// end day itself the person is still within it). Never for an open-ended period.
bool IsBeyondIndicativePeriod(const IndicativePeriod& period, absl::CivilDay start, absl::CivilDay today);

// Caseload profiling (reference section 9): contact frequency is judged over the 90 days up to today.
inline constexpr int kRecentContactDays = 90;
// Those 90 days: today - 89 to today, both included.
struct DayRange {
  absl::CivilDay first, last;
};
DayRange RecentContactWindow(absl::CivilDay today);
// Whether a contact on `contact` falls in the 90 days up to `today`.
bool IsRecentContact(absl::CivilDay contact, absl::CivilDay today);
// A case to discuss for want of contact: no face-to-face contact in the 90 days up to today although the
// referral period opened at least 90 days before (on or before today - 90); a newer referral is not
// judged yet.
bool LacksRecentContact(int recent_contacts, absl::CivilDay referral_opened, absl::CivilDay today);

struct ClusterCatalogue {
  std::string version;                   // the file's own version id
  std::map<int, ClusterInfo> clusters;   // every valid id 0..21 except 9
  const ClusterInfo* Find(int cluster) const;  // nullptr when absent
};

enum class ReviewPolicy { kTrustSop, kNational };
// "sop" | "national" (case-insensitive).
absl::StatusOr<ReviewPolicy> ParseReviewPolicy(std::string_view name);
std::string_view ReviewPolicyName(ReviewPolicy policy);  // "sop" | "national"

// Maximum review period per cluster under each policy.
struct ReviewPeriods {
  std::string version;
  ReviewPolicy default_policy = ReviewPolicy::kTrustSop;
  int window_days = 10;  // a review is "in its window" from due - window_days to due
  std::string sop_label, national_label;
  std::map<int, Period> sop, national;
  const std::map<int, Period>& For(ReviewPolicy p) const {
    return p == ReviewPolicy::kNational ? national : sop;
  }
};

// Convention (review-periods-2026.1; reference section 7): the review clock runs from the latest MHCT date.
//  - `due` = latest MHCT + period (calendar months clamped at month end: 31 Aug + 6 months = 28 Feb,
//    29 Feb 2028 + 12 months = 28 Feb 2029; weeks are 7 days). The review is due ON that day.
//  - A review recorded on `due` is on time; the review is overdue from the day after: IsOverdue(as_of) is
//    as_of > due.
//  - The window opens window_days (10) before the due date: window_opens = due - window_days, and
//    IsInReviewWindow(as_of) is window_opens <= as_of <= due.
//  - NHS Digital ACC36 ("within its review period" at period end P: MHCT + period strictly after P) is
//    IsWithinReviewPeriod(P) = P < due, i.e. !IsOverdue(P + 1): on the due date itself the person is already
//    outside at that day's end unless a review is recorded that day (which restarts the clock from it).
struct ReviewDue {
  absl::CivilDay due;           // latest MHCT + period: the last day on which the review is on time
  absl::CivilDay window_opens;  // due - window_days
  std::string rule_version;
  int cluster = 0;
  ReviewPolicy policy = ReviewPolicy::kTrustSop;
  Period period;
};

// Pure computation over a ReviewPeriods table; rule_version is stamped with periods.version.
absl::StatusOr<ReviewDue> ComputeReviewDue(const ReviewPeriods& periods, int cluster,
                                           absl::CivilDay latest_mhct, ReviewPolicy policy);

// Overdue when as_of > due (from the day after latest MHCT + period).
bool IsOverdue(const ReviewDue& due, absl::CivilDay as_of);
// ACC36's "within review period" at period end `period_end`: latest MHCT + period > period_end, i.e.
// period_end < due (equivalently !IsOverdue(due, period_end + 1)). False on the due date itself.
inline bool IsWithinReviewPeriod(const ReviewDue& due, absl::CivilDay period_end) {
  return period_end < due.due;
}
// window_opens <= as_of <= due.
bool IsInReviewWindow(const ReviewDue& due, absl::CivilDay as_of);

}  // namespace care
