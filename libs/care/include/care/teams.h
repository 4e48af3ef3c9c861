// The trust's teams (rules/teams.yaml): reference data beside the rules. A team's record decides the
// service area its assessments are checked against and the commissioner they are billed to when the EPR
// names none, and whether KPI 5 gives it the memory-assessment limit (12 weeks) instead of 28 days.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace care {

// Team ids and commissioner ids in the file: letters, digits, '-', '_' and '.', at most this many bytes
// (within what intake accepts for any identifier, so every registered team can be sent).
inline constexpr size_t kMaxTeamIdBytes = 128;
// Empty when `id` is a valid team or commissioner id, else the problem ("contains '/' ...").
std::string TeamIdProblem(std::string_view id);

// The commissioner a record counts under when neither its assessment nor its team names one (reporting's
// and outcomes' commissioner scopes): one group, never the empty string, which would read as "every one".
inline constexpr std::string_view kUnknownCommissioner = "unknown";
// `commissioner_id`, or kUnknownCommissioner when it is empty.
std::string CommissionerOrUnknown(std::string_view commissioner_id);

struct Team {
  std::string id;                      // as the EPRs send it, e.g. "cmht-north"
  std::string name;                    // e.g. "North community mental health team"
  std::string service_area;            // an id of service_areas.yaml
  std::string default_commissioner;    // used when an assessment names no commissioner
  bool memory_assessment_service = false;  // KPI 5: 12 weeks to the second contact instead of 28 days
};

struct Teams {
  std::string version;
  bool example = false;                             // the shipped example set, not a trust's own
  std::map<std::string, Team, std::less<>> teams;  // by id
  const Team* Find(std::string_view id) const;     // nullptr when the team is not registered
};

}  // namespace care
