#pragma once
// The caseload projection's queries: read from its own families only.
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "care/catalogue.h"
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
