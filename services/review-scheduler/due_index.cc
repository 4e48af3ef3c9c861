#include "due_index.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "platform/events.h"

namespace pbr::scheduler {

std::string DayText(absl::CivilDay day) { return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day()); }

std::string AllDimension() { return "all"; }
std::string TeamDimension(absl::string_view team_id) { return absl::StrCat("team", std::string(1, kSep), team_id); }
std::string AreaDimension(absl::string_view area) { return absl::StrCat("area", std::string(1, kSep), area); }
std::string ClusterDimension(int cluster) { return absl::StrFormat("cluster%c%02d", kSep, cluster); }
std::string TeamClusterDimension(absl::string_view team_id, int cluster) {
  return absl::StrFormat("team-cluster%c%s%c%02d", kSep, team_id, kSep, cluster);
}

std::string DueIndexKey(absl::string_view dimension, absl::CivilDay due, absl::string_view person_id) {
  return absl::StrCat(dimension, std::string(1, kSep), DayText(due), std::string(1, kSep), person_id);
}

std::vector<std::string> DueIndexKeys(const pbr::v1::Schedule& s) {
  const absl::CivilDay due = platform::FromProto(s.due_date());
  return {DueIndexKey(AllDimension(), due, s.person_id()), DueIndexKey(TeamDimension(s.team_id()), due, s.person_id()),
          DueIndexKey(AreaDimension(s.service_area()), due, s.person_id()),
          DueIndexKey(ClusterDimension(s.cluster()), due, s.person_id()),
          DueIndexKey(TeamClusterDimension(s.team_id(), s.cluster()), due, s.person_id())};
}

std::string DueIndexValue(const pbr::v1::Schedule& s) {
  pbr::v1::ScheduledReview r;
  r.set_team_id(s.team_id());
  r.set_service_area(s.service_area());
  r.set_cluster(s.cluster());
  return r.SerializeAsString();
}

bool ParseDueIndexRest(absl::string_view rest, absl::CivilDay* due, std::string* person_id) {
  const size_t sep = rest.find(kSep);
  if (sep == absl::string_view::npos || sep + 1 >= rest.size()) return false;
  if (!absl::ParseCivilTime(rest.substr(0, sep), due)) return false;
  *person_id = std::string(rest.substr(sep + 1));
  return person_id->find(kSep) == std::string::npos;
}

std::string TimerKey(absl::Time at, absl::string_view person_id) {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", at, absl::UTCTimeZone()), std::string(1, kSep),
                      person_id);
}

std::string TimerScanEnd(absl::Time now) {
  // Every key whose instant is <= now sorts before "<now>\x1f\x7f".
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", now, absl::UTCTimeZone()), std::string(1, kSep),
                      "\x7f");
}

std::string OverdueCountKey(absl::string_view team_id, int cluster) {
  return absl::StrFormat("%s%c%02d", team_id, kSep, cluster);
}

bool ParseOverdueCountKey(absl::string_view key, std::string* team_id, int* cluster) {
  const size_t sep = key.rfind(kSep);
  if (sep == absl::string_view::npos) return false;
  *team_id = std::string(key.substr(0, sep));
  return absl::SimpleAtoi(key.substr(sep + 1), cluster);
}

}  // namespace pbr::scheduler
