#include "projections/national_measures/aggregates.h"

#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pbr::reporting::national {
namespace {

using pbr::state::v1::NationalContribution;
using pbr::state::v1::NationalDelta;

// "y2026/07" and "m2026-03/07": fixed widths, so keys sort by year, month and cluster.
std::string YearKey(absl::string_view scope, int64_t year, int cluster) {
  return absl::StrFormat("%sy%04d/%02d", scope, year, cluster);
}
std::string MonthKey(absl::string_view scope, absl::CivilMonth m, int cluster) {
  return absl::StrFormat("%sm%04d-%02d/%02d", scope, m.year(), m.month(), cluster);
}

int32_t MonthNumber(absl::CivilMonth m) { return static_cast<int32_t>(m.year() * 100 + m.month()); }

absl::StatusOr<absl::CivilMonth> MonthOf(int32_t yyyymm, absl::string_view field) {
  const int year = yyyymm / 100, month = yyyymm % 100;
  if (year < 1 || month < 1 || month > 12) {
    return absl::DataLossError(absl::StrCat("stored national contribution ", field, " ", yyyymm, " is not a month"));
  }
  return absl::CivilMonth(year, month);
}

// Reads the deltas of keys starting with `prefix`, while `more(rest of key)` says the key is still wanted,
// adding each to its cluster. `rest` is "<YYYY>/<cc>" or "<MM>/<cc>".
absl::Status SumDeltas(const platform::StoreReader& store, const std::string& prefix,
                       const std::function<bool(absl::string_view period)>& wanted, std::map<int, Counts>& sums) {
  absl::Status problem;
  auto st = store.Scan(kNationalDeltasFamily, prefix, [&](absl::string_view key, absl::string_view value) {
    const absl::string_view rest = key.substr(prefix.size());
    const size_t slash = rest.find('/');
    int cluster = 0;
    if (slash == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(slash + 1), &cluster)) {
      problem = absl::DataLossError(absl::StrCat("national delta key ", key, " is malformed"));
      return false;
    }
    if (!wanted(rest.substr(0, slash))) return false;  // keys are in period order: nothing later is wanted
    NationalDelta d;
    if (!d.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      problem = absl::DataLossError(absl::StrCat("national delta ", key, " is unreadable"));
      return false;
    }
    Counts& c = sums[cluster];
    c.acc33 += d.acc33();
    c.acc36 += d.acc36();
    return true;
  });
  if (!st.ok()) return st;
  return problem;
}

}  // namespace

std::string ScopeKey(pbr::v1::ReportScopeKind kind, absl::string_view id) {
  switch (kind) {
    case pbr::v1::REPORT_SCOPE_TRUST: return "trust/";
    case pbr::v1::REPORT_SCOPE_TEAM: return absl::StrCat("team/", id.size(), ":", id, "/");
    case pbr::v1::REPORT_SCOPE_SERVICE_AREA: return absl::StrCat("area/", id.size(), ":", id, "/");
    case pbr::v1::REPORT_SCOPE_COMMISSIONER: return absl::StrCat("commissioner/", id.size(), ":", id, "/");
    default: return "";
  }
}

std::vector<std::string> ScopesOf(const Standing& s) {
  std::vector<std::string> scopes = {ScopeKey(pbr::v1::REPORT_SCOPE_TRUST, "")};
  if (!s.team_id.empty()) scopes.push_back(ScopeKey(pbr::v1::REPORT_SCOPE_TEAM, s.team_id));
  if (!s.service_area.empty()) scopes.push_back(ScopeKey(pbr::v1::REPORT_SCOPE_SERVICE_AREA, s.service_area));
  scopes.push_back(ScopeKey(pbr::v1::REPORT_SCOPE_COMMISSIONER, s.commissioner_id));
  return scopes;
}

void DeltaChanges::AddAt(const std::vector<std::string>& scopes, int cluster, absl::CivilMonth month, int64_t acc33,
                         int64_t acc36) {
  for (const std::string& scope : scopes) {
    for (std::string key : {MonthKey(scope, month, cluster), YearKey(scope, month.year(), cluster)}) {
      Counts& c = changes_[std::move(key)];
      c.acc33 += acc33;
      c.acc36 += acc36;
    }
  }
}

void DeltaChanges::Add(const Contribution& run, int sign) {
  const std::vector<std::string> scopes = ScopesOf(run.standing);
  const int64_t within = run.standing.within_review_period ? sign : 0;
  AddAt(scopes, run.standing.cluster, run.first, sign, within);
  if (run.end.has_value()) AddAt(scopes, run.standing.cluster, *run.end, -sign, -within);
}

absl::Status DeltaChanges::Apply(platform::ApplyContext& ctx) const {
  for (const auto& [key, change] : changes_) {
    if (change.acc33 == 0 && change.acc36 == 0) continue;  // what was taken away was added back
    auto stored = ctx.store().Get(kNationalDeltasFamily, key);
    if (!stored.ok()) return stored.status();
    NationalDelta d;
    if (stored->has_value() && !d.ParseFromString(**stored)) {
      return absl::DataLossError(absl::StrCat("national delta ", key, " is unreadable"));
    }
    d.set_acc33(d.acc33() + change.acc33);
    d.set_acc36(d.acc36() + change.acc36);
    if (d.acc33() == 0 && d.acc36() == 0) {
      ctx.batch().Delete(ctx.store().Family(kNationalDeltasFamily), key);
    } else {
      ctx.batch().Put(ctx.store().Family(kNationalDeltasFamily), key, d.SerializeAsString());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<int, Counts>> CountsAt(const platform::StoreReader& store, absl::string_view scope_key,
                                               absl::CivilMonth month) {
  std::map<int, Counts> sums;
  const std::string year_text = absl::StrFormat("%04d", month.year());
  // Every earlier year's change...
  auto st = SumDeltas(store, absl::StrCat(scope_key, "y"),
                      [&](absl::string_view year) { return year < year_text; }, sums);
  if (!st.ok()) return st;
  // ... and this year's months up to this one.
  const std::string month_text = absl::StrFormat("%02d", month.month());
  st = SumDeltas(store, absl::StrCat(scope_key, "m", year_text, "-"),
                 [&](absl::string_view m) { return m <= month_text; }, sums);
  if (!st.ok()) return st;
  for (auto it = sums.begin(); it != sums.end();) {
    const Counts& c = it->second;
    if (c.acc33 < 0 || c.acc36 < 0 || c.acc36 > c.acc33) {
      return absl::DataLossError(absl::StrCat("national deltas of ", scope_key, " cluster ", it->first,
                                              " sum to ACC33 ", c.acc33, ", ACC36 ", c.acc36,
                                              ": the deltas and the people disagree"));
    }
    it = c.acc33 == 0 ? sums.erase(it) : std::next(it);
  }
  return sums;
}

NationalContribution ToRecord(const Contribution& run) {
  NationalContribution r;
  r.set_cluster(run.standing.cluster);
  r.set_team_id(run.standing.team_id);
  r.set_commissioner_id(run.standing.commissioner_id);
  r.set_service_area(run.standing.service_area);
  r.set_within_review_period(run.standing.within_review_period);
  r.set_first_month(MonthNumber(run.first));
  if (run.end.has_value()) r.set_end_month(MonthNumber(*run.end));
  return r;
}

absl::StatusOr<Contribution> FromRecord(const NationalContribution& r) {
  Contribution run;
  run.standing.cluster = r.cluster();
  run.standing.team_id = r.team_id();
  run.standing.commissioner_id = r.commissioner_id();
  run.standing.service_area = r.service_area();
  run.standing.within_review_period = r.within_review_period();
  auto first = MonthOf(r.first_month(), "first_month");
  if (!first.ok()) return first.status();
  run.first = *first;
  if (r.end_month() != 0) {
    auto end = MonthOf(r.end_month(), "end_month");
    if (!end.ok()) return end.status();
    run.end = *end;
  }
  return run;
}

}  // namespace pbr::reporting::national
