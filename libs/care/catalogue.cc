#include "care/catalogue.h"
#include "internal.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace care {

bool IsValidClusterId(int cluster) {
  return cluster >= kMinCluster && cluster <= kMaxCluster && cluster != kBlankCluster;
}

std::string_view SuperClassCode(SuperClass sc) {
  switch (sc) {
    case SuperClass::kVariance: return "V";
    case SuperClass::kNonPsychotic: return "NP";
    case SuperClass::kPsychosis: return "P";
    case SuperClass::kOrganic: return "O";
  }
  return "?";
}

absl::StatusOr<SuperClass> ParseSuperClass(std::string_view code) {
  std::string c = internal::Upper(code);
  if (c == "V") return SuperClass::kVariance;
  if (c == "NP") return SuperClass::kNonPsychotic;
  if (c == "P") return SuperClass::kPsychosis;
  if (c == "O") return SuperClass::kOrganic;
  return absl::InvalidArgumentError(
      internal::Cat("super-class \"", code, "\" is not one of V, NP, P, O"));
}

std::optional<absl::CivilDay> IndicativePeriodEnd(const IndicativePeriod& period, absl::CivilDay start) {
  if (period.open_ended) return std::nullopt;
  return AddPeriod(start, period.max);
}

bool IsBeyondIndicativePeriod(const IndicativePeriod& period, absl::CivilDay start, absl::CivilDay today) {
  const std::optional<absl::CivilDay> end = IndicativePeriodEnd(period, start);
  return end.has_value() && today > *end;
}

DayRange RecentContactWindow(absl::CivilDay today) { return {today - (kRecentContactDays - 1), today}; }

bool IsRecentContact(absl::CivilDay contact, absl::CivilDay today) {
  const DayRange window = RecentContactWindow(today);
  return contact >= window.first && contact <= window.last;
}

bool LacksRecentContact(int recent_contacts, absl::CivilDay referral_opened, absl::CivilDay today) {
  return recent_contacts == 0 && referral_opened <= today - kRecentContactDays;
}

const ClusterInfo* ClusterCatalogue::Find(int cluster) const {
  auto it = clusters.find(cluster);
  return it == clusters.end() ? nullptr : &it->second;
}

absl::StatusOr<ReviewPolicy> ParseReviewPolicy(std::string_view name) {
  std::string n = internal::Lower(internal::Strip(name));
  if (n == "sop") return ReviewPolicy::kTrustSop;
  if (n == "national") return ReviewPolicy::kNational;
  return absl::InvalidArgumentError(
      internal::Cat("review policy \"", name, "\" is not \"sop\" or \"national\""));
}

std::string_view ReviewPolicyName(ReviewPolicy policy) {
  return policy == ReviewPolicy::kNational ? "national" : "sop";
}

absl::StatusOr<ReviewDue> ComputeReviewDue(const ReviewPeriods& periods, int cluster,
                                           absl::CivilDay latest_mhct, ReviewPolicy policy) {
  if (!IsValidClusterId(cluster)) {
    return absl::InvalidArgumentError(
        internal::Cat("cluster: ", cluster, " is not a valid cluster (0-21, never 9)"));
  }
  const auto& table = periods.For(policy);
  auto it = table.find(cluster);
  if (it == table.end()) {
    return absl::NotFoundError(internal::Cat("cluster: no ", ReviewPolicyName(policy),
                                            " review period for cluster ", cluster));
  }
  ReviewDue out;
  out.cluster = cluster;
  out.policy = policy;
  out.period = it->second;
  out.due = AddPeriod(latest_mhct, it->second);  // due ON latest MHCT + period (reference section 7)
  out.window_opens = out.due - periods.window_days;
  out.rule_version = periods.version;
  return out;
}

bool IsOverdue(const ReviewDue& due, absl::CivilDay as_of) { return as_of > due.due; }

bool IsInReviewWindow(const ReviewDue& due, absl::CivilDay as_of) {
  return as_of >= due.window_opens && as_of <= due.due;
}

}  // namespace care
