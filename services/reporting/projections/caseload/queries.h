#pragma once
// The caseload projection's queries: read from its own families only.
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pbr/v1/reporting.pb.h"
#include "platform/store.h"

namespace pbr::reporting {

// The team's caseload as the projection holds it: people per cluster, review states as announced,
// latest HoNOS. A team with nobody on it is an empty caseload (the caller checks the team exists).
absl::StatusOr<pbr::v1::Caseload> TeamCaseload(const platform::Store& store, absl::string_view team_id);

}  // namespace pbr::reporting
