#include "care/tariff.h"
#include "internal.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace care {

std::string_view PriceBasisName(PriceBasis b) {
  return b == PriceBasis::kPerReviewPeriod ? "per_review_period" : "per_cluster_day";
}

absl::StatusOr<PriceBasis> ParsePriceBasis(std::string_view name) {
  std::string n = internal::Lower(internal::Strip(name));
  if (n == "per_cluster_day") return PriceBasis::kPerClusterDay;
  if (n == "per_review_period") return PriceBasis::kPerReviewPeriod;
  return absl::InvalidArgumentError(
      internal::Cat("basis \"", name, "\" is not per_cluster_day or per_review_period"));
}

FinancialYear FinancialYearOf(absl::CivilDay day) {
  const int y = day.month() >= 4 ? static_cast<int>(day.year()) : static_cast<int>(day.year()) - 1;
  FinancialYear fy;
  fy.start_year = y;
  fy.starts = absl::CivilDay(y, 4, 1);
  fy.ends = absl::CivilDay(y + 1, 3, 31);
  fy.label = absl::StrFormat("%d/%02d", y, (y + 1) % 100);
  return fy;
}

absl::StatusOr<FinancialYear> ParseFinancialYear(std::string_view text) {
  std::vector<std::string_view> parts = internal::Split(internal::Strip(text), '/', false);
  int y = 0, next = 0;
  if (parts.size() != 2 || parts[0].size() != 4 || parts[1].size() != 2 ||
      !internal::Atoi(parts[0], &y) || !internal::Atoi(parts[1], &next) || y < 2000 || y > 2199 ||
      next != (y + 1) % 100) {
    return absl::InvalidArgumentError(internal::Cat(
        "financial year \"", text, "\" is not \"YYYY/YY\" with consecutive years, e.g. 2024/25"));
  }
  return FinancialYearOf(absl::CivilDay(y, 4, 1));
}

absl::StatusOr<int64_t> ParseMoneyPence(std::string_view text) {
  std::string_view t = internal::Strip(text);
  auto bad = [&] {
    return absl::InvalidArgumentError(
        internal::Cat("amount \"", text, "\" is not a non-negative amount with at most two decimals"));
  };
  std::vector<std::string_view> parts = internal::Split(t, '.', false);
  if (parts.empty() || parts.size() > 2 || parts[0].empty() || parts[0].size() > 12) return bad();
  for (char c : parts[0]) if (c < '0' || c > '9') return bad();
  int64_t pounds = 0;
  if (!internal::Atoi(parts[0], &pounds)) return bad();
  int64_t pence = 0;
  if (parts.size() == 2) {
    if (parts[1].empty() || parts[1].size() > 2) return bad();
    for (char c : parts[1]) if (c < '0' || c > '9') return bad();
    int64_t frac = 0;
    if (!internal::Atoi(parts[1], &frac)) return bad();
    pence = parts[1].size() == 1 ? frac * 10 : frac;
  }
  return pounds * 100 + pence;
}

std::string FormatPence(int64_t pence) {
  const bool neg = pence < 0;
  const int64_t a = neg ? -pence : pence;
  return absl::StrFormat("%s%d.%02d", neg ? "-" : "", a / 100, a % 100);
}

std::optional<absl::CivilDay> LastDayOnCluster(std::optional<absl::CivilDay> end_day, bool ended_by_discharge) {
  if (!end_day.has_value() || ended_by_discharge) return end_day;
  return *end_day - 1;
}

absl::StatusOr<ActivityCount> CountActivity(const ReviewPeriods& periods, ReviewPolicy policy,
                                            const ClusterEpisode& episode, absl::CivilDay from, absl::CivilDay to) {
  ActivityCount count;
  const absl::CivilDay lo = std::max(from, episode.start);
  const absl::CivilDay hi = episode.end.has_value() ? std::min(to, *episode.end) : to;
  if (lo > hi) return count;
  count.days = (hi - lo) + 1;
  const auto& table = periods.For(policy);
  auto period = table.find(episode.cluster);
  if (period == table.end()) {
    return absl::NotFoundError(internal::Cat("review period: none for cluster ", episode.cluster));
  }
  for (int k = 0;; ++k) {
    const absl::CivilDay s = AddPeriodTimes(episode.start, period->second, k);
    if (s > hi) break;
    if (s >= lo) ++count.review_periods_started;
  }
  return count;
}

absl::StatusOr<ActivityLine> ComputeActivity(const PriceList& prices, const ReviewPeriods& periods,
                                             const ClusterEpisode& episode, absl::CivilDay from,
                                             absl::CivilDay to) {
  if (!IsValidClusterId(episode.cluster)) {
    return absl::InvalidArgumentError(
        internal::Cat("episode.cluster: ", episode.cluster, " is not a valid cluster (0-21, never 9)"));
  }
  if (episode.end.has_value() && *episode.end < episode.start) {
    return absl::InvalidArgumentError("episode.end: is before episode.start");
  }
  if (to < from) return absl::InvalidArgumentError("period: 'to' is before 'from'");
  if (from < prices.year.starts || to > prices.year.ends) {
    return absl::InvalidArgumentError(internal::Cat(
        "period: ", absl::FormatCivilTime(from), " to ", absl::FormatCivilTime(to),
        " is not inside financial year ", prices.year.label, " of price list ", prices.version,
        "; split it at 1 April"));
  }
  auto price = prices.price_pence.find(episode.cluster);
  if (price == prices.price_pence.end()) {
    return absl::NotFoundError(internal::Cat("price: commissioner ", prices.commissioner, " has no ",
                                            prices.year.label, " price for cluster ", episode.cluster));
  }
  ActivityLine line;
  line.commissioner = prices.commissioner;
  line.cluster = episode.cluster;
  line.period_from = from;
  line.period_to = to;
  line.basis = prices.basis;
  line.unit_price_pence = price->second;
  line.price_list_version = prices.version;
  line.rule_version = periods.version;
  auto count = CountActivity(periods, prices.review_policy, episode, from, to);
  if (!count.ok()) return count.status();
  line.days = count->days;
  line.review_periods_started = count->review_periods_started;
  line.amount_pence = line.unit_price_pence *
                      (prices.basis == PriceBasis::kPerClusterDay ? line.days : line.review_periods_started);
  return line;
}

}  // namespace care
