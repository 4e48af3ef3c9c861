#pragma once
// The caseload projection's queries: read from its own families only.
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "care/catalogue.h"
#include "care/teams.h"
#include "pbr/v1/reporting.pb.h"
#include "platform/store.h"

namespace pbr::reporting {

// The team's caseload as the projection holds it, with the figures that depend on the day counted to
// `today` (the clinical day): people per cluster and super class, review states as announced, latest
// HoNOS, days in the cluster against its indicative period (`clusters`, the rules' catalogue), recent
// face-to-face contacts, the cases to discuss and the clustering quality. With a `care_coordinator_id`
// only the people they co-ordinate count, and the quality is theirs as an assessing clinician. A team
// with nobody on it is an empty caseload (the caller checks the team exists). FAILED_PRECONDITION when
// the store was written by a build that kept no caseload rows (restart with reset-state).
absl::StatusOr<pbr::v1::Caseload> TeamCaseload(const platform::StoreReader& store, const care::ClusterCatalogue& clusters,
                                               absl::string_view team_id, absl::string_view care_coordinator_id,
                                               absl::CivilDay today);

}  // namespace pbr::reporting

namespace pbr::reporting {

// Which reviews a dashboard asks for; an empty field does not filter.
struct ReviewFilter {
  std::string team_id;
  std::string service_area;     // the team's, from the rules' team registry
  std::string commissioner_id;  // the basis assessment's, as the KPIs count it ("unknown" when none)
};

struct ListedReview {
  std::string person_id;
  std::string team_id;
  std::string service_area;
  std::string commissioner_id;
  int cluster = 0;
  absl::CivilDay due_date;
  pbr::v1::ReviewState state = pbr::v1::REVIEW_STATE_UNSPECIFIED;  // DUE or OVERDUE, as announced
  int days_overdue = 0;  // today - due_date when OVERDUE; 0 otherwise
};

struct OverdueGroup {
  std::string team_id;
  int cluster = 0;
  int64_t overdue = 0;
  absl::CivilDay oldest_due_date;
  int most_days_overdue = 0;
};

// Reviews overdue, oldest first, and those due today or in the `due_within_days` - 1 days after (7: today and
// the next 6, as the scheduler's pbr_reviews_due_next_7_days counts), from the review index: the
// reviews the scheduler announced OVERDUE or DUE for the people on a caseload. Overdue is judged by the
// due date, as the scheduler's ListOverdue does (due before today), so a review announced due whose date
// has passed is listed overdue before the scheduler's next announcement. Totals and groups count every
// match; the lists hold at most `limit` each.
struct ReviewsToAct {
  int64_t overdue_total = 0;
  std::vector<OverdueGroup> overdue_by_team_cluster;  // team then cluster ascending
  std::vector<ListedReview> overdue;                  // due date ascending (most overdue first), then person
  int64_t due_soon_total = 0;
  std::vector<ListedReview> due_soon;                 // due date ascending, then person
  absl::CivilDay today;
  absl::CivilDay due_soon_until;                      // today + due_within_days - 1 (inclusive)
};
absl::StatusOr<ReviewsToAct> ReviewsOverdueAndDueSoon(const platform::StoreReader& store, const care::Teams& teams,
                                                      const ReviewFilter& filter, absl::CivilDay today,
                                                      int due_within_days, size_t limit);

}  // namespace pbr::reporting
