// The cluster as currency (reference section 8): local prices per commissioner and financial year, either per
// cluster-day or per cluster review period, and the activity a cluster episode generates over a period.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "care/catalogue.h"

namespace care {

enum class PriceBasis { kPerClusterDay, kPerReviewPeriod };
std::string_view PriceBasisName(PriceBasis b);  // "per_cluster_day" | "per_review_period"
absl::StatusOr<PriceBasis> ParsePriceBasis(std::string_view name);

struct FinancialYear {
  int start_year = 0;    // 2024 for "2024/25"
  absl::CivilDay starts;  // 1 April
  absl::CivilDay ends;    // 31 March, inclusive
  std::string label;      // "2024/25"
};
// "2024/25" -> 1 Apr 2024 .. 31 Mar 2025.
absl::StatusOr<FinancialYear> ParseFinancialYear(std::string_view text);
FinancialYear FinancialYearOf(absl::CivilDay day);

// "123.45" -> 12345 pence; at most two decimals, not negative.
absl::StatusOr<int64_t> ParseMoneyPence(std::string_view text);
std::string FormatPence(int64_t pence);  // 12345 -> "123.45"

struct PriceList {
  std::string version;
  std::string commissioner;  // commissioner code, e.g. "00X"
  FinancialYear year;
  PriceBasis basis = PriceBasis::kPerClusterDay;
  ReviewPolicy review_policy = ReviewPolicy::kTrustSop;  // which periods a per-review-period price counts
  std::string currency = "GBP";
  std::map<int, int64_t> price_pence;  // per cluster; a cluster without a price is not billable
};

// A spell on one cluster. `end` is the last day on the cluster (inclusive); nullopt while it is open.
struct ClusterEpisode {
  int cluster = 0;
  absl::CivilDay start;
  std::optional<absl::CivilDay> end;
};

// One line of finance activity. It never carries a person's identity (the caller adds a pseudonym).
struct ActivityLine {
  std::string commissioner;
  int cluster = 0;
  absl::CivilDay period_from, period_to;  // the reporting period asked for (inclusive)
  int64_t days = 0;                   // days on the cluster within the period
  int64_t review_periods_started = 0;  // review periods (from the episode start) starting within the period
  PriceBasis basis = PriceBasis::kPerClusterDay;
  int64_t unit_price_pence = 0;
  int64_t amount_pence = 0;  // days x price, or review periods started x price
  std::string price_list_version;
  std::string rule_version;
};

// A ledger cluster episode's last day on its cluster: a discharge's day is billed (a discharged person is
// billed up to the discharge), but the day the next cluster started is the next cluster's, so an episode
// ended by a cluster change ends the day before. Nullopt (an open episode) stays open.
std::optional<absl::CivilDay> LastDayOnCluster(std::optional<absl::CivilDay> end_day, bool ended_by_discharge);

// What an episode counts over [from, to] (inclusive), priced or not: the days on the cluster, and the
// review periods (back to back from the episode start, by `policy`'s periods) that start in it.
struct ActivityCount {
  int64_t days = 0;
  int64_t review_periods_started = 0;
};
absl::StatusOr<ActivityCount> CountActivity(const ReviewPeriods& periods, ReviewPolicy policy,
                                            const ClusterEpisode& episode, absl::CivilDay from, absl::CivilDay to);

// Activity for `episode` over [from, to] (inclusive), which must lie inside the price list's financial year
// (split longer periods at 1 April). Review periods run back to back from the episode start with the price
// list's review policy. InvalidArgument for a bad period or cluster, NotFound when the cluster has no price.
absl::StatusOr<ActivityLine> ComputeActivity(const PriceList& prices, const ReviewPeriods& periods,
                                             const ClusterEpisode& episode, absl::CivilDay from,
                                             absl::CivilDay to);

}  // namespace care
