#include "projections/episode_outcomes/tallies.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "care/teams.h"
#include "outcome_tally.h"

namespace pbr::outcomes {
namespace {
using services::AllZero;
using services::AnyNegative;
using services::FromRecord;
using services::ToRecord;
using pbr::state::v1::OutcomeTallyRecord;

std::string DayText(absl::CivilDay d) { return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day()); }
constexpr size_t kDayTextSize = 10;

}  // namespace

absl::string_view GroupingName(pbr::v1::OutcomeGrouping g) {
  switch (g) {
    case pbr::v1::OUTCOME_GROUPING_TEAM: return "team";
    case pbr::v1::OUTCOME_GROUPING_CLUSTER: return "cluster";
    case pbr::v1::OUTCOME_GROUPING_COMMISSIONER: return "commissioner";
    case pbr::v1::OUTCOME_GROUPING_SUPER_CLASS: return "super_class";
    default: return "";
  }
}

std::string TallyKey(int32_t partition, pbr::v1::OutcomeGrouping g, absl::CivilDay day, absl::string_view group) {
  return absl::StrCat(partition, "/", GroupingName(g), "/", DayText(day), "/", group);
}

std::string GroupOf(const pbr::v1::EpisodeOutcome& episode, pbr::v1::OutcomeGrouping g) {
  switch (g) {
    case pbr::v1::OUTCOME_GROUPING_TEAM: return episode.team_id();
    case pbr::v1::OUTCOME_GROUPING_CLUSTER: return absl::StrCat(episode.cluster());
    // An empty group would read as the summary of all groups.
    case pbr::v1::OUTCOME_GROUPING_COMMISSIONER:
      return care::CommissionerOrUnknown(episode.commissioner_id());
    case pbr::v1::OUTCOME_GROUPING_SUPER_CLASS: return episode.super_class();
    default: return "";
  }
}


absl::Status ApplyTallyChanges(platform::ApplyContext& ctx, const std::map<std::string, care::OutcomeTally>& changes) {
  for (const auto& [key, change] : changes) {
    if (AllZero(change)) continue;
    auto stored = ctx.store().Get(kTalliesFamily, key);
    if (!stored.ok()) return stored.status();
    care::OutcomeTally row;
    if (stored->has_value()) {
      OutcomeTallyRecord r;
      if (!r.ParseFromString(**stored)) return absl::DataLossError(absl::StrCat("outcome tally ", key, " is unreadable"));
      row = FromRecord(r);
    }
    care::AddTally(row, change);
    if (AnyNegative(row)) {
      return absl::DataLossError(absl::StrCat("outcome tally ", key, " would go below zero: the summaries and the people disagree"));
    }
    if (AllZero(row)) {
      ctx.batch().Delete(ctx.store().Family(kTalliesFamily), key);
    } else {
      ctx.batch().Put(ctx.store().Family(kTalliesFamily), key, ToRecord(row).SerializeAsString());
    }
  }
  return absl::OkStatus();
}

namespace {

// The partitions with rows: each found by seeking past the one before ("<n>/" ends before "<n>0").
absl::StatusOr<std::set<int32_t>> StoredPartitions(const platform::StoreReader& store) {
  std::set<int32_t> out;
  std::string from;
  absl::Status problem;
  for (bool more = true; more;) {
    more = false;
    std::string next;
    auto st = store.ScanFrom(kTalliesFamily, from, [&](absl::string_view key, absl::string_view) {
      int32_t partition = 0;
      const size_t slash = key.find('/');
      if (slash == absl::string_view::npos || !absl::SimpleAtoi(key.substr(0, slash), &partition) || partition < 0) {
        problem = absl::DataLossError(absl::StrCat("outcome tally key ", key, " is malformed"));
        return false;
      }
      out.insert(partition);
      next = absl::StrCat(key.substr(0, slash), "0");
      more = true;
      return false;
    });
    if (!st.ok()) return st;
    if (!problem.ok()) return problem;
    from = std::move(next);
  }
  return out;
}

absl::Status ReadPartitionTallies(const platform::StoreReader& store, int32_t partition, pbr::v1::OutcomeGrouping g,
                                  std::optional<absl::CivilDay> first, std::optional<absl::CivilDay> last,
                                  GroupTallies& out) {
  const std::string prefix = absl::StrCat(partition, "/", GroupingName(g), "/");
  const std::string start = first.has_value() ? absl::StrCat(prefix, DayText(*first)) : prefix;
  const std::string end_day = last.has_value() ? DayText(*last) : std::string();
  absl::Status problem;
  auto st = store.ScanFrom(kTalliesFamily, start, [&](absl::string_view key, absl::string_view value) {
    if (!absl::StartsWith(key, prefix)) return false;
    const absl::string_view rest = key.substr(prefix.size());
    if (rest.size() < kDayTextSize + 1 || rest[kDayTextSize] != '/') {
      problem = absl::DataLossError(absl::StrCat("outcome tally key ", key, " is malformed"));
      return false;
    }
    if (!end_day.empty() && rest.substr(0, kDayTextSize) > end_day) return false;
    OutcomeTallyRecord r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      problem = absl::DataLossError(absl::StrCat("outcome tally ", key, " is unreadable"));
      return false;
    }
    care::AddTally(out.groups[std::string(rest.substr(kDayTextSize + 1))], FromRecord(r));
    ++out.rows_read;
    return true;
  });
  if (!st.ok()) return st;
  return problem;
}

}  // namespace

absl::StatusOr<GroupTallies> ReadTallies(const platform::StoreReader& store, pbr::v1::OutcomeGrouping g,
                                         std::optional<absl::CivilDay> first, std::optional<absl::CivilDay> last,
                                         const std::optional<std::set<int32_t>>& partitions) {
  std::set<int32_t> stored;
  if (!partitions.has_value()) {
    auto found = StoredPartitions(store);
    if (!found.ok()) return found.status();
    stored = *std::move(found);
  }
  GroupTallies out;
  for (int32_t partition : partitions.has_value() ? *partitions : stored) {
    if (auto st = ReadPartitionTallies(store, partition, g, first, last, out); !st.ok()) return st;
  }
  return out;
}

}  // namespace pbr::outcomes
