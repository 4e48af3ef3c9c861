// The caseload projection's queries: one scan of the team's index for the people, and the team's kept
// counts for everything that does not depend on today.
#include "queries.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "caseload.h"
#include "pbr/state/v1/caseload_state.pb.h"
#include "person_record.h"
#include "platform/events.h"

namespace pbr::reporting {
namespace {

using pbr::state::v1::CaseloadRow;
using pbr::state::v1::ClusterCounts;
using pbr::state::v1::QualityCounts;

double Percent(int64_t part, int64_t whole) { return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / whole; }

void AddQuality(pbr::v1::ClusteringQuality& q, const QualityCounts& c) {
  q.set_initial_allocations(q.initial_allocations() + static_cast<int32_t>(c.initial_allocations()));
  q.set_red_rules_met(q.red_rules_met() + static_cast<int32_t>(c.red_rules_met()));
  q.set_reviews(q.reviews() + static_cast<int32_t>(c.reviews()));
  q.set_reviews_within_protocol(q.reviews_within_protocol() + static_cast<int32_t>(c.reviews_within_protocol()));
}

void SetPercents(pbr::v1::ClusteringQuality& q) {
  q.set_red_rules_met_percent(Percent(q.red_rules_met(), q.initial_allocations()));
  q.set_reviews_within_protocol_percent(Percent(q.reviews_within_protocol(), q.reviews()));
}

// The time-based figures of one cluster's people, summed as the rows are read.
struct ClusterDays {
  int32_t people = 0;
  int64_t days = 0;
  int32_t beyond = 0;
  int32_t recent_contact = 0;
};

// Today as the rows' day numbers are compared with it. Rows are turned back into days from today (a
// short step) rather than from 1970, and contact days are compared as numbers with the window's ends.
struct Today {
  explicit Today(absl::CivilDay d)
      : day(d), number(DayNumber(d)), recent_first(DayNumber(care::RecentContactWindow(d).first)),
        recent_last(DayNumber(care::RecentContactWindow(d).last)) {}
  absl::CivilDay Day(int32_t n) const { return day + (n - number); }
  absl::CivilDay day;
  int32_t number, recent_first, recent_last;
};

// One person's row as the caseload answers it, counted to `today`.
pbr::v1::CaseloadPerson Person(absl::string_view person_id, const CaseloadRow& row, const care::ClusterInfo* info,
                               const Today& today) {
  pbr::v1::CaseloadPerson out;
  out.set_person_id(std::string(person_id));
  out.set_cluster(row.cluster());
  out.set_has_honos(row.has_honos());
  out.set_latest_honos_total(row.latest_honos_total());
  out.set_review_state(row.review_state());
  if (row.has_review_due_day()) *out.mutable_review_due_date() = platform::ToProto(today.Day(row.review_due_day()));
  out.set_care_coordinator_id(row.care_coordinator_id());
  if (info != nullptr) out.set_super_class(std::string(care::SuperClassCode(info->super_class)));
  const absl::CivilDay since = today.Day(row.in_cluster_since_day());
  *out.mutable_in_cluster_since() = platform::ToProto(since);
  out.set_days_in_cluster(today.number - row.in_cluster_since_day());
  out.set_beyond_indicative_period(info != nullptr &&
                                   care::IsBeyondIndicativePeriod(info->indicative_period, since, today.day));
  int32_t recent = 0;
  for (int i = 0; i < row.contact_days_size() && i < row.contact_counts_size(); ++i) {
    if (row.contact_days(i) >= today.recent_first && row.contact_days(i) <= today.recent_last) {
      recent += row.contact_counts(i);
    }
  }
  out.set_face_to_face_contacts_90_days(recent);
  if (row.has_last_contact_day()) {
    *out.mutable_last_face_to_face_contact() = platform::ToProto(today.Day(row.last_contact_day()));
  }
  // In the enum's order.
  if (row.review_state() == pbr::v1::REVIEW_STATE_OVERDUE) out.add_discuss(pbr::v1::DISCUSS_OVERDUE_REVIEW);
  if (out.beyond_indicative_period()) out.add_discuss(pbr::v1::DISCUSS_BEYOND_INDICATIVE_PERIOD);
  if (row.transition_outside_protocol()) out.add_discuss(pbr::v1::DISCUSS_TRANSITION_OUTSIDE_PROTOCOL);
  if (row.reliable_deterioration()) out.add_discuss(pbr::v1::DISCUSS_RELIABLE_DETERIORATION);
  // (the referral's day is looked up only when there was no contact)
  if (recent == 0 && care::LacksRecentContact(recent, today.Day(row.referral_opened_day()), today.day)) {
    out.add_discuss(pbr::v1::DISCUSS_NO_RECENT_CONTACT);
  }
  return out;
}

}  // namespace

absl::StatusOr<pbr::v1::Caseload> TeamCaseload(const platform::StoreReader& store, const care::ClusterCatalogue& catalogue,
                                               absl::string_view team_id, absl::string_view care_coordinator_id,
                                               absl::CivilDay today) {
  pbr::v1::Caseload out;
  out.set_team_id(std::string(team_id));
  out.set_care_coordinator_id(std::string(care_coordinator_id));
  *out.mutable_as_of() = platform::ToProto(today);
  out.set_rule_version(catalogue.version);

  // The people, in ascending id (the index's key order), and what of them depends on today.
  const Today on(today);
  std::map<int, ClusterDays> days;
  absl::Status failure;
  const std::string prefix = TeamIndexPrefix(team_id);
  auto st = store.Scan(kCaseloadTeamIndexFamily, prefix, [&](absl::string_view key, absl::string_view value) {
    CaseloadRow row;
    if (!row.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      failure = absl::DataLossError("stored caseload row is unreadable");
      return false;
    }
    if (row.in_cluster_since_day() == 0) {  // every row this build derives has the episode's start
      failure = absl::FailedPreconditionError(
          "the caseload store was written by an earlier build, which kept no caseload rows: start reporting once "
          "with --reset-state=true to rebuild it from the topics");
      return false;
    }
    if (!care_coordinator_id.empty() && row.care_coordinator_id() != care_coordinator_id) return true;
    pbr::v1::CaseloadPerson person = Person(key.substr(prefix.size()), row, catalogue.Find(row.cluster()), on);
    ClusterDays& d = days[row.cluster()];
    ++d.people;
    d.days += person.days_in_cluster();
    d.beyond += person.beyond_indicative_period() ? 1 : 0;
    d.recent_contact += person.face_to_face_contacts_90_days() > 0 ? 1 : 0;
    if (person.discuss_size() > 0) out.set_cases_to_discuss(out.cases_to_discuss() + 1);
    *out.add_persons() = std::move(person);
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;

  // Per cluster, the kept counts (the team's: every care co-ordinator's summed).
  std::map<int, ClusterCounts> counts;
  st = store.Scan(kCaseloadClustersFamily, ClusterCountsPrefix(team_id, care_coordinator_id),
                  [&](absl::string_view key, absl::string_view value) {
                    const std::optional<int> cluster = ClusterOfCountsKey(key);
                    ClusterCounts c;
                    if (!cluster.has_value() || !c.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                      failure = absl::DataLossError("stored cluster counts are unreadable");
                      return false;
                    }
                    ClusterCounts& sum = counts[*cluster];
                    sum.set_people(sum.people() + c.people());
                    sum.set_reviews_due(sum.reviews_due() + c.reviews_due());
                    sum.set_reviews_overdue(sum.reviews_overdue() + c.reviews_overdue());
                    sum.set_people_with_honos(sum.people_with_honos() + c.people_with_honos());
                    sum.set_honos_sum(sum.honos_sum() + c.honos_sum());
                    return true;
                  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  std::map<std::string, int32_t> super_classes;
  for (const auto& [cluster, c] : counts) {
    if (c.people() <= 0) continue;
    pbr::v1::ClusterCaseload& k = *out.add_clusters();
    k.set_cluster(cluster);
    k.set_people(static_cast<int32_t>(c.people()));
    k.set_reviews_due(static_cast<int32_t>(c.reviews_due()));
    k.set_reviews_overdue(static_cast<int32_t>(c.reviews_overdue()));
    k.set_people_with_honos(static_cast<int32_t>(c.people_with_honos()));
    if (c.people_with_honos() > 0) {
      k.set_mean_latest_honos(static_cast<double>(c.honos_sum()) / static_cast<double>(c.people_with_honos()));
    }
    if (const care::ClusterInfo* info = catalogue.Find(cluster)) {
      k.set_super_class(std::string(care::SuperClassCode(info->super_class)));
      k.set_indicative_period(info->indicative_period.text);
      super_classes[k.super_class()] += k.people();
    }
    const ClusterDays& d = days[cluster];
    k.set_beyond_indicative_period(d.beyond);
    if (d.people > 0) k.set_mean_days_in_cluster(static_cast<double>(d.days) / d.people);
    k.set_people_with_recent_contact(d.recent_contact);
    out.set_people(out.people() + k.people());
    out.set_reviews_due(out.reviews_due() + k.reviews_due());
    out.set_reviews_overdue(out.reviews_overdue() + k.reviews_overdue());
  }
  for (const care::SuperClass sc : {care::SuperClass::kNonPsychotic, care::SuperClass::kPsychosis,
                                    care::SuperClass::kOrganic, care::SuperClass::kVariance}) {
    const std::string code(care::SuperClassCode(sc));
    auto it = super_classes.find(code);
    if (it == super_classes.end() || it->second == 0) continue;
    pbr::v1::SuperClassCaseload& s = *out.add_super_classes();
    s.set_super_class(code);
    s.set_people(it->second);
  }

  // Clustering quality: the team's is the sum of its clinicians' (every live assessment has one).
  pbr::v1::ClusteringQuality team;
  std::vector<pbr::v1::ClusteringQuality> by_clinician;
  const std::string quality_prefix = QualityPrefix(team_id);
  st = store.Scan(kCaseloadQualityFamily, quality_prefix, [&](absl::string_view key, absl::string_view value) {
    QualityCounts c;
    if (!c.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      failure = absl::DataLossError("stored clustering quality counts are unreadable");
      return false;
    }
    AddQuality(team, c);
    const absl::string_view clinician = key.substr(quality_prefix.size());
    if (clinician.empty()) return true;  // assessments held without their clinician count for the team only
    pbr::v1::ClusteringQuality& q = by_clinician.emplace_back();
    q.set_clinician_id(std::string(clinician));
    AddQuality(q, c);
    SetPercents(q);
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  if (care_coordinator_id.empty()) {
    SetPercents(team);
    *out.mutable_quality() = team;
    for (auto& q : by_clinician) *out.add_quality_by_clinician() = std::move(q);
    auto count = store.Get(kCaseloadTeamCountsFamily, team_id);
    if (!count.ok()) return count.status();
    int64_t recorded = 0;
    if (count->has_value() && !absl::SimpleAtoi(**count, &recorded)) {
      return absl::DataLossError("stored team count is unreadable");
    }
    out.set_assessments_recorded(recorded);
  } else {
    // The care co-ordinator's own clustering, as the assessing clinician, and their assessments for the
    // team (every live assessment is an initial allocation or a review).
    pbr::v1::ClusteringQuality& q = *out.mutable_quality();
    q.set_clinician_id(std::string(care_coordinator_id));
    for (const auto& row : by_clinician) {
      if (row.clinician_id() != care_coordinator_id) continue;
      q = row;
      *out.add_quality_by_clinician() = row;
    }
    out.set_assessments_recorded(q.initial_allocations() + q.reviews());
  }
  return out;
}

}  // namespace pbr::reporting

namespace pbr::reporting {

absl::StatusOr<ReviewsToAct> ReviewsOverdueAndDueSoon(const platform::StoreReader& store, const care::Teams& teams,
                                                      const ReviewFilter& filter, absl::CivilDay today,
                                                      int due_within_days, size_t limit) {
  ReviewsToAct out;
  out.today = today;
  out.due_soon_until = today + (due_within_days - 1);
  const int32_t today_number = DayNumber(today);
  const int32_t last_due_number = DayNumber(out.due_soon_until);
  std::map<std::pair<std::string, int>, OverdueGroup> groups;
  absl::Status failure;
  // Every overdue review is due before today and every one due soon on or after it, so the scan stops at
  // the first entry due after the window: what it reads is what the answer counts.
  const absl::Status st = store.Scan(kCaseloadReviewsFamily, "", [&](absl::string_view key, absl::string_view value) {
    const std::optional<int32_t> due_number = DueDayOfReviewKey(key);
    pbr::state::v1::CaseloadReviewEntry e;
    if (!due_number.has_value() || !e.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      failure = absl::DataLossError("a stored review index entry is unreadable");
      return false;
    }
    if (*due_number > last_due_number) return false;
    const care::Team* team = teams.Find(e.team_id());
    const std::string service_area = team != nullptr ? team->service_area : "";
    if (!filter.team_id.empty() && e.team_id() != filter.team_id) return true;
    if (!filter.service_area.empty() && service_area != filter.service_area) return true;
    if (!filter.commissioner_id.empty() && e.commissioner_id() != filter.commissioner_id) return true;
    ListedReview r;
    r.person_id = std::string(key.substr(9));
    r.team_id = e.team_id();
    r.service_area = service_area;
    r.commissioner_id = e.commissioner_id();
    r.cluster = e.cluster();
    r.due_date = today + (*due_number - today_number);
    r.state = e.review_state();
    // Overdue by its date, as the scheduler's ListOverdue judges it: a review announced due whose due
    // date has passed is overdue today even before the scheduler's next announcement says so.
    if (*due_number < today_number) {
      r.state = pbr::v1::REVIEW_STATE_OVERDUE;
      r.days_overdue = today_number - *due_number;
      ++out.overdue_total;
      OverdueGroup& g = groups[{r.team_id, r.cluster}];
      if (g.overdue == 0) {
        g.team_id = r.team_id;
        g.cluster = r.cluster;
        g.oldest_due_date = r.due_date;  // the scan is in due-date order: the first is the oldest
        g.most_days_overdue = r.days_overdue;
      }
      ++g.overdue;
      if (out.overdue.size() < limit) out.overdue.push_back(std::move(r));
    } else {  // due today or in the window: announced due (an announced overdue not yet due is due too)
      r.state = pbr::v1::REVIEW_STATE_DUE;
      ++out.due_soon_total;
      if (out.due_soon.size() < limit) out.due_soon.push_back(std::move(r));
    }
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  for (auto& [key, g] : groups) out.overdue_by_team_cluster.push_back(std::move(g));
  return out;
}

}  // namespace pbr::reporting
