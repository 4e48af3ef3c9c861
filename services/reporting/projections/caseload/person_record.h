#pragma once
// The caseload projection's stored records: the person (pbr.state.v1.ReportingPerson, family
// caseload_persons) and the review announcement it shows, the keys of the families the caseload is read
// from, and the day numbers its rows hold.
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "pbr/state/v1/caseload_state.pb.h"
#include "pbr/v1/events.pb.h"
#include "platform/store.h"

namespace pbr::reporting {

// The person as stored; an empty record when there is none. INVALID_ARGUMENT for an empty id,
// DATA_LOSS for an unreadable record.
absl::StatusOr<pbr::state::v1::ReportingPerson> LoadPerson(const platform::StoreReader& store, absl::string_view person_id);

// A review is identified by its basis, the basis's MHCT date and its cluster (the scheduler's
// contract, proto/pbr/v1/events.proto ReviewDue): an amended basis with a new date or cluster is
// another review though its id is unchanged.
bool SameReview(const pbr::v1::ReviewDue& a, const pbr::v1::ReviewDue& b);

// The one announcement a record written by a build that kept only the last one holds (fields 8-11).
std::optional<pbr::v1::ReviewDue> LegacyReview(const pbr::state::v1::ReportingPerson& p);

// The announcement the caseload shows: the last one for the person's current review basis; none
// means UPCOMING (the scheduler announces every other state).
std::optional<pbr::v1::ReviewDue> HonouredReview(const pbr::state::v1::ReportingPerson& p);

// Keys. Their parts are joined by a unit separator (0x1f), which no identifier holds (identifiers are
// printable ASCII), so one team's prefix never reaches into another's ("north" and "north/east").
inline constexpr char kKeySeparator = '\x1f';
// Family caseload_teams: "<team><sep><person>"; a team's rows are the scan of TeamIndexPrefix.
std::string TeamIndexKey(absl::string_view team_id, absl::string_view person_id);
std::string TeamIndexPrefix(absl::string_view team_id);
// Family caseload_clusters: "<team><sep><care co-ordinator><sep><cluster, two digits>". The prefix is the
// team's, or with a care co-ordinator only theirs.
std::string ClusterCountsKey(absl::string_view team_id, absl::string_view care_coordinator_id, int cluster);
std::string ClusterCountsPrefix(absl::string_view team_id, absl::string_view care_coordinator_id = "");
// The cluster of a caseload_clusters key; nullopt when the key is not one.
std::optional<int> ClusterOfCountsKey(absl::string_view key);
// Family caseload_quality: "<team><sep><clinician>"; a team's clinicians are the scan of QualityPrefix.
std::string QualityKey(absl::string_view team_id, absl::string_view clinician_id);
std::string QualityPrefix(absl::string_view team_id);
// Family caseload_reviews: "<due day as 8 digits><sep><person>" (days from 1970-01-01 plus kReviewDayBias,
// so any date from 1900 sorts as text in date order). Nullopt day from the key when it is not one.
inline constexpr int32_t kReviewDayBias = 100000;
std::string ReviewIndexKey(int32_t due_day, absl::string_view person_id);
std::optional<int32_t> DueDayOfReviewKey(absl::string_view key);
// Family caseload_assessment_details: "<person>/<assessment id>".
std::string AssessmentDetailsKey(absl::string_view person_id, absl::string_view assessment_id);

// A clinical day as the rows store it: days since 1970-01-01.
int32_t DayNumber(absl::CivilDay day);

}  // namespace pbr::reporting
