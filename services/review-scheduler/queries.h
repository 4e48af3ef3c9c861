#pragma once
// The scheduler's read side: every answer comes from its own indexes (due_index.h), read in
// proportion to the answer, never by visiting every person.
#include <memory>

#include "absl/status/statusor.h"
#include "care/rules.h"
#include "pbr/v1/review_scheduler.pb.h"
#include "platform/store.h"
#include "prometheus/metric_family.h"

namespace pbr::scheduler {

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kMaxDueRangeDays = 366;

class ReviewQueries {
 public:
  ReviewQueries(const platform::StoreReader& store, std::shared_ptr<const care::RuleSet> rules)
      : store_(store), rules_(std::move(rules)) {}

  // InvalidArgument naming the field for a bad filter, page size or token; `today` fills an unset as_of.
  absl::StatusOr<pbr::v1::ListOverdueReply> ListOverdue(const pbr::v1::ListOverdueRequest& request,
                                                        absl::CivilDay today) const;
  absl::StatusOr<pbr::v1::ListDueReply> ListDue(const pbr::v1::ListDueRequest& request, absl::CivilDay today) const;
  absl::StatusOr<pbr::v1::CountOverdueReply> CountOverdue(const pbr::v1::CountOverdueRequest& request) const;

  // The gauges: reviews overdue (exactly CountOverdue's counts) and due in the next 7 days, by team
  // and cluster, and the age in days of the oldest overdue review. Teams the registry does not list
  // are summed under team="unregistered", so the label set stays bounded.
  std::vector<prometheus::MetricFamily> Gauges(absl::CivilDay today) const;

 private:
  struct Page {
    std::vector<pbr::v1::ScheduledReview> reviews;
    std::string next_token;
  };
  // Scans one dimension from `from` (inclusive) while due < `until`, keeping entries `keep` accepts.
  absl::StatusOr<Page> Scan(const std::string& dimension, absl::CivilDay from, absl::CivilDay until,
                            const std::string& page_token, int page_size,
                            const std::function<bool(const pbr::v1::ScheduledReview&)>& keep) const;
  // Fills the review's basis fields from the person's record.
  absl::Status Complete(pbr::v1::ScheduledReview& review) const;
  std::string TeamLabel(const std::string& team_id) const;
  // NOT_FOUND naming team_id for a team neither in the registry nor in the index.
  absl::Status KnownTeam(const std::string& team_id) const;

  const platform::StoreReader& store_;
  std::shared_ptr<const care::RuleSet> rules_;
};

}  // namespace pbr::scheduler
