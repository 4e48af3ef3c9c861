#pragma once
// A person's cluster episodes, derived from their live assessments. Deriving (rather than
// updating in place) keeps amendments, withdrawals and late back-fills simple and always right.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::allocation {

struct AssessmentFact {
  std::string assessment_id;
  absl::Time effective_at;  // when the cluster took effect (admission time for an inpatient's first)
  int cluster = 0;
  std::string team_id;
  std::string commissioner_id;
};

struct PersonView {
  std::vector<pbr::v1::Episode> episodes;               // oldest first; the last one is current
  std::map<std::string, std::string> episode_of;        // assessment id -> episode id
  const pbr::v1::Episode* current() const { return episodes.empty() ? nullptr : &episodes.back(); }
  std::string current_team;                             // team of the latest assessment
};

// Orders the facts by effective time (then id) and starts a new episode whenever the cluster
// differs from the one before. Episode ids derive from the person and the starting assessment.
PersonView DerivePerson(const std::string& person_id, std::vector<AssessmentFact> facts);

}  // namespace pbr::allocation
