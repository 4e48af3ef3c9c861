#include "projections/outcome_summaries/queries.h"

#include "absl/strings/str_cat.h"
#include "outcome_tally.h"
#include "projections/outcome_summaries/outcome_summaries.h"

namespace pbr::reporting {

namespace {
constexpr char kSeparator = '\x1f';
}

std::string TallyKey(absl::string_view team_id, absl::CivilMonth month) {
  return absl::StrCat(team_id, std::string(1, kSeparator), absl::FormatCivilTime(month));
}

absl::StatusOr<TeamOutcomes> OutcomesByTeam(const platform::StoreReader& store, absl::CivilMonth first,
                                            absl::CivilMonth last, const std::set<std::string>* teams) {
  TeamOutcomes out;
  absl::Status failure;
  const absl::Status st = store.Scan(kOutcomeSummariesTalliesFamily, "", [&](absl::string_view key, absl::string_view value) {
    const size_t sep = key.rfind(kSeparator);
    absl::CivilMonth month;
    if (sep == absl::string_view::npos || !absl::ParseCivilTime(key.substr(sep + 1), &month)) {
      failure = absl::DataLossError("outcome summaries: a tally key is unreadable");
      return false;
    }
    const std::string team(key.substr(0, sep));
    if (month < first || month > last || (teams != nullptr && !teams->count(team))) return true;
    pbr::state::v1::OutcomeTallyRecord r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      failure = absl::DataLossError("outcome summaries: a tally is unreadable");
      return false;
    }
    const care::OutcomeTally t = services::FromRecord(r);
    care::AddTally(out.teams[team], t);
    care::AddTally(out.all, t);
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  return out;
}

}  // namespace pbr::reporting
