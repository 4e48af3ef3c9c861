#pragma once
// The caseload projection's stored person (pbr.state.v1.ReportingPerson, family caseload_persons):
// reading it, and the review announcement it shows.
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pbr/state/v1/caseload_state.pb.h"
#include "pbr/v1/events.pb.h"
#include "platform/store.h"

namespace pbr::reporting {

// The person as stored; an empty record when there is none. INVALID_ARGUMENT for an empty id,
// DATA_LOSS for an unreadable record.
absl::StatusOr<pbr::state::v1::ReportingPerson> LoadPerson(const platform::Store& store, absl::string_view person_id);

// A review is identified by its basis, the basis's MHCT date and its cluster (the scheduler's
// contract, proto/pbr/v1/events.proto ReviewDue): an amended basis with a new date or cluster is
// another review though its id is unchanged.
bool SameReview(const pbr::v1::ReviewDue& a, const pbr::v1::ReviewDue& b);

// The one announcement a record written by a build that kept only the last one holds (fields 8-11).
std::optional<pbr::v1::ReviewDue> LegacyReview(const pbr::state::v1::ReportingPerson& p);

// The announcement the caseload shows: the last one for the person's current review basis; none
// means UPCOMING (the scheduler announces every other state).
std::optional<pbr::v1::ReviewDue> HonouredReview(const pbr::state::v1::ReportingPerson& p);

}  // namespace pbr::reporting
