// libFuzzer target: allocation's request validation on arbitrary wire bytes.
// The first byte picks the request (even: RecordAssessmentRequest, odd: RecordCareEventRequest); the
// rest is the serialized message. An assessment that passes validation is then given its team's defaults
// and taken through the rule checks and the cluster suggestions, as the service does: validation is what
// makes them safe. Unknown teams are admitted (allow-unknown-teams), so arbitrary team ids get that far too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "care_bridge.h"
#include "shipped_rules.h"
#include "intake.h"
#include "pbr/v1/allocation.pb.h"
#include "rule_checks.h"

namespace {

const care::RuleSet& Rules() { return ShippedRules(); }

// A fixed "now", so an input behaves the same on every run.
const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2024, 7, 1, 12, 0, 0), absl::UTCTimeZone());
const pbr::allocation::IntakeOptions kAdmitUnknownTeams{.allow_unknown_teams = true};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const care::RuleSet& rules = Rules();
  const uint8_t selector = data[0];
  ++data;
  --size;
  if (selector % 2 == 0) {
    pbr::v1::RecordAssessmentRequest sent;
    if (!sent.ParseFromArray(data, static_cast<int>(size))) return 0;
    if (!pbr::allocation::ValidateAssessment(rules, kNow, sent, "", kAdmitUnknownTeams).ok()) return 0;
    const pbr::v1::RecordAssessmentRequest request = pbr::allocation::WithTeamDefaults(rules, sent);
    (void)pbr::allocation::UnknownTeamCheck(rules, request.team_id());
    auto ratings = pbr::services::RatingsFromProto(request.ratings());
    if (!ratings.ok()) std::abort();  // validated ratings convert
    pbr::allocation::AllocationFacts facts;
    if (selector & 2) {  // an earlier (stored, so valid) cluster: a review runs the transition protocol too
      const int k = (selector >> 2) % 21;
      facts.from_cluster = k >= care::kBlankCluster ? k + 1 : k;
      facts.from_cluster_start = absl::CivilDay(2024, 1, 15);
    }
    (void)pbr::allocation::CheckAllocation(rules, request, *ratings, facts);
    auto suggestions = rules.SuggestClusters(*ratings);
    if (suggestions.ok()) {
      const care::ServiceArea* area =
          request.service_area().empty() ? nullptr : rules.service_areas().Find(request.service_area());
      (void)pbr::allocation::ToSuggestions(rules, *suggestions, area, 5);
    }
  } else {
    pbr::v1::RecordCareEventRequest request;
    if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
    (void)pbr::allocation::ValidateCareEvent(rules, kNow, request, "", kAdmitUnknownTeams);
  }
  return 0;
}
