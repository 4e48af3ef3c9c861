#include "person_history.h"

#include <algorithm>

#include "platform/events.h"

namespace pbr::allocation {

PersonView DerivePerson(const std::string& person_id, std::vector<AssessmentFact> facts) {
  std::sort(facts.begin(), facts.end(), [](const AssessmentFact& a, const AssessmentFact& b) {
    return a.effective_at != b.effective_at ? a.effective_at < b.effective_at : a.assessment_id < b.assessment_id;
  });
  PersonView view;
  for (const auto& f : facts) {
    if (view.episodes.empty() || view.episodes.back().cluster() != f.cluster) {
      if (!view.episodes.empty()) *view.episodes.back().mutable_ended_at() = platform::ToProto(f.effective_at);
      pbr::v1::Episode& e = view.episodes.emplace_back();
      e.set_episode_id(platform::DeterministicId("episode", {person_id, f.assessment_id}));
      e.set_cluster(f.cluster);
      e.set_team_id(f.team_id);
      *e.mutable_started_at() = platform::ToProto(f.effective_at);
      e.set_started_by_assessment_id(f.assessment_id);
      e.set_commissioner_id(f.commissioner_id);
    }
    view.episode_of[f.assessment_id] = view.episodes.back().episode_id();
    view.current_team = f.team_id;
  }
  return view;
}

}  // namespace pbr::allocation
