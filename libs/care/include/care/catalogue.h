// The cluster catalogue (reference section 1) and the review-period policies.
#pragma once

#include <map>
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

// Convention: the review clock runs from the latest MHCT date. period_ends = latest MHCT + period (calendar
// months clamped at month end). As NHS Digital defines it, the cluster is within its review period while
// period_ends > as-at date, so `due` - the last day on which the cluster is still within its period - is
// period_ends - 1 day, and IsOverdue(as_of) is as_of > due (equivalently as_of >= period_ends).
// The review window opens window_days (10) before due: window_opens = due - 10.
struct ReviewDue {
  absl::CivilDay due;
  absl::CivilDay window_opens;
  std::string rule_version;
  absl::CivilDay period_ends;  // latest MHCT + period: the first day outside the review period
  int cluster = 0;
  ReviewPolicy policy = ReviewPolicy::kTrustSop;
  Period period;
};

// Pure computation over a ReviewPeriods table; rule_version is stamped with periods.version.
absl::StatusOr<ReviewDue> ComputeReviewDue(const ReviewPeriods& periods, int cluster,
                                           absl::CivilDay latest_mhct, ReviewPolicy policy);

// Overdue when as_of > due (i.e. as_of >= latest MHCT + period).
bool IsOverdue(const ReviewDue& due, absl::CivilDay as_of);
// Not overdue: latest MHCT + period > as_of (ACC36's "within review period").
inline bool IsWithinReviewPeriod(const ReviewDue& due, absl::CivilDay as_of) {
  return !IsOverdue(due, as_of);
}
// window_opens <= as_of <= due.
bool IsInReviewWindow(const ReviewDue& due, absl::CivilDay as_of);

}  // namespace care
