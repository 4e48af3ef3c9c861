// The caseload projection's queries.
#include "queries.h"

#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "caseload.h"
#include "person_record.h"

namespace pbr::reporting {

absl::StatusOr<pbr::v1::Caseload> TeamCaseload(const platform::Store& store, absl::string_view team_id) {
  pbr::v1::Caseload out;
  out.set_team_id(std::string(team_id));
  std::map<int, pbr::v1::ClusterCaseload> clusters;
  std::map<int, int64_t> honos_sums;
  absl::Status failure;
  const std::string prefix = absl::StrCat(team_id, "/");
  auto st = store.Scan(kCaseloadTeamIndexFamily, prefix, [&](absl::string_view key, absl::string_view) {
    const absl::string_view person_id = key.substr(prefix.size());
    auto p = LoadPerson(store, person_id);
    if (!p.ok()) {
      failure = p.status();
      return false;
    }
    const std::optional<pbr::v1::ReviewDue> announced = HonouredReview(*p);
    const pbr::v1::ReviewState review =
        announced.has_value() && (announced->state() == pbr::v1::REVIEW_STATE_DUE ||
                                  announced->state() == pbr::v1::REVIEW_STATE_OVERDUE)
            ? announced->state()
            : pbr::v1::REVIEW_STATE_UPCOMING;
    auto& c = clusters[p->cluster()];
    c.set_cluster(p->cluster());
    c.set_people(c.people() + 1);
    if (review == pbr::v1::REVIEW_STATE_DUE) c.set_reviews_due(c.reviews_due() + 1);
    if (review == pbr::v1::REVIEW_STATE_OVERDUE) c.set_reviews_overdue(c.reviews_overdue() + 1);
    if (p->has_honos()) {
      c.set_people_with_honos(c.people_with_honos() + 1);
      honos_sums[p->cluster()] += p->latest_honos_total();
    }
    auto* person = out.add_persons();
    person->set_person_id(std::string(person_id));
    person->set_cluster(p->cluster());
    person->set_has_honos(p->has_honos());
    person->set_latest_honos_total(p->latest_honos_total());
    person->set_review_state(review);
    // The scheduler's due date, as announced: reporting computes none.
    if (review != pbr::v1::REVIEW_STATE_UPCOMING && announced->has_due_date()) {
      *person->mutable_review_due_date() = announced->due_date();
    }
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  auto count = store.Get(kCaseloadTeamCountsFamily, team_id);
  if (!count.ok()) return count.status();
  int64_t recorded = 0;
  if (count->has_value() && !absl::SimpleAtoi(**count, &recorded)) {
    return absl::DataLossError("stored team count is unreadable");
  }
  out.set_assessments_recorded(recorded);
  for (auto& [id, c] : clusters) {
    if (c.people_with_honos() > 0) c.set_mean_latest_honos(static_cast<double>(honos_sums[id]) / c.people_with_honos());
    out.set_people(out.people() + c.people());
    out.set_reviews_due(out.reviews_due() + c.reviews_due());
    out.set_reviews_overdue(out.reviews_overdue() + c.reviews_overdue());
    *out.add_clusters() = c;
  }
  return out;
}

}  // namespace pbr::reporting
