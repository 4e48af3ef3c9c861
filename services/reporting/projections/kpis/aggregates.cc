#include "projections/kpis/aggregates.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "pbr/state/v1/kpis_state.pb.h"
#include "platform/quote.h"

namespace pbr::reporting::kpis {
namespace {

std::string Escape(absl::string_view id) { return absl::StrReplaceAll(id, {{"%", "%25"}, {"/", "%2F"}}); }

std::string YearText(absl::CivilDay d) { return absl::StrFormat("%04d", d.year()); }
std::string MonthText(absl::CivilMonth m) { return absl::StrFormat("%04d-%02d", m.year(), m.month()); }
std::string DayText(absl::CivilDay d) { return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day()); }

std::string StockPrefix(StockPart part, absl::string_view scope_key) {
  return absl::StrCat("s/", StockPartName(part), "/", scope_key, "/");
}
std::string FlowPrefix(int kpi, absl::string_view scope_key, absl::CivilMonth month) {
  return absl::StrCat("f/", kpi, "/", scope_key, "/", MonthText(month), "/");
}

// The scope keys a record counts under: the trust, its team, its service area (when it has one), its
// commissioner.
std::vector<std::string> ScopeKeysOf(const Scope& s) {
  std::vector<std::string> out = {"trust"};
  if (!s.team_id.empty()) out.push_back(absl::StrCat("team:", Escape(s.team_id)));
  if (!s.service_area.empty()) out.push_back(absl::StrCat("area:", Escape(s.service_area)));
  if (!s.commissioner_id.empty()) out.push_back(absl::StrCat("commissioner:", Escape(s.commissioner_id)));
  return out;
}

// One stock change on one day: the day's row and its month's and year's sums.
void AddStock(TotalChanges& changes, StockPart part, const std::vector<std::string>& scopes, absl::CivilDay day,
              int delta) {
  for (const std::string& scope : scopes) {
    const std::string prefix = StockPrefix(part, scope);
    changes[absl::StrCat(prefix, "y/", YearText(day))].count += delta;
    changes[absl::StrCat(prefix, "m/", MonthText(absl::CivilMonth(day)))].count += delta;
    changes[absl::StrCat(prefix, "d/", DayText(day))].count += delta;
  }
}

absl::StatusOr<Total> ReadTotal(const platform::StoreReader& store, absl::string_view key) {
  Total t;
  auto stored = store.Get(kKpisTotalsFamily, key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return t;
  pbr::state::v1::KpiTotal r;
  if (!r.ParseFromString(**stored)) {
    return absl::DataLossError(absl::StrCat("stored KPI total ", platform::Quote(key), " is unreadable"));
  }
  t.count = r.count();
  t.met = r.met();
  return t;
}

// Sums the rows under `prefix` whose remaining key is at most `last` (their keys sort as their dates).
absl::Status SumUpTo(const platform::StoreReader& store, const std::string& prefix, const std::string& last, bool inclusive,
                     Total& sum, int64_t* reads) {
  absl::Status problem;
  auto st = store.Scan(kKpisTotalsFamily, prefix, [&](absl::string_view key, absl::string_view value) {
    const absl::string_view rest = key.substr(prefix.size());
    if (inclusive ? rest > last : rest >= last) return false;
    if (reads != nullptr) ++*reads;
    pbr::state::v1::KpiTotal r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      problem = absl::DataLossError(absl::StrCat("stored KPI total ", platform::Quote(key), " is unreadable"));
      return false;
    }
    sum.count += r.count();
    sum.met += r.met();
    return true;
  });
  if (!st.ok()) return st;
  return problem;
}

}  // namespace

absl::string_view StockPartName(StockPart part) {
  switch (part) {
    case StockPart::kActive: return "active";
    case StockPart::kWithCluster: return "clustered";
    case StockPart::kSecondaryCare: return "secondary";
    case StockPart::kWithinReviewPeriod: return "within";
    case StockPart::kFitsServiceArea: return "fits";
  }
  return "";
}

std::string ScopeKey(const pbr::v1::ReportScope& scope) {
  switch (scope.kind()) {
    case pbr::v1::REPORT_SCOPE_TRUST: return "trust";
    case pbr::v1::REPORT_SCOPE_TEAM: return absl::StrCat("team:", Escape(scope.id()));
    case pbr::v1::REPORT_SCOPE_SERVICE_AREA: return absl::StrCat("area:", Escape(scope.id()));
    case pbr::v1::REPORT_SCOPE_COMMISSIONER: return absl::StrCat("commissioner:", Escape(scope.id()));
    default: return "";
  }
}

void AddContributions(const Contributions& c, int sign, TotalChanges& changes) {
  for (const StockSegment& s : c.stock) {
    const std::vector<std::string> scopes = ScopeKeysOf(s.scope);
    std::vector<StockPart> parts = {StockPart::kActive};
    if (s.with_cluster) parts.push_back(StockPart::kWithCluster);
    if (s.secondary_care) parts.push_back(StockPart::kSecondaryCare);
    if (s.within_review_period) parts.push_back(StockPart::kWithinReviewPeriod);
    if (s.fits_service_area) parts.push_back(StockPart::kFitsServiceArea);
    for (StockPart part : parts) {
      AddStock(changes, part, scopes, s.first, sign);
      if (s.last.has_value()) AddStock(changes, part, scopes, *s.last + 1, -sign);
    }
  }
  for (const FlowRecord& f : c.flow) {
    for (const std::string& scope : ScopeKeysOf(f.scope)) {
      Total& t = changes[absl::StrCat(FlowPrefix(f.kpi, scope, absl::CivilMonth(f.reference_day)), DayText(f.decided_on))];
      t.count += sign;
      if (f.met) t.met += sign;
    }
  }
}

namespace {

// Moves the elements of `a` and `b` that the other holds too (as many times as both hold them) out of
// both, leaving each side's own.
template <typename T>
void DropShared(std::vector<T>& a, std::vector<T>& b) {
  std::vector<bool> matched(b.size(), false);
  std::vector<T> only_a;
  for (T& x : a) {
    bool found = false;
    for (size_t j = 0; j < b.size() && !found; ++j) {
      if (!matched[j] && b[j] == x) matched[j] = found = true;
    }
    if (!found) only_a.push_back(std::move(x));
  }
  std::vector<T> only_b;
  for (size_t j = 0; j < b.size(); ++j) {
    if (!matched[j]) only_b.push_back(std::move(b[j]));
  }
  a = std::move(only_a);
  b = std::move(only_b);
}

}  // namespace

void AddDifference(const Contributions& before, const Contributions& now, TotalChanges& changes) {
  Contributions gone = before, added = now;
  DropShared(gone.stock, added.stock);
  DropShared(gone.flow, added.flow);
  AddContributions(gone, -1, changes);
  AddContributions(added, +1, changes);
}

absl::Status ApplyTotalChanges(platform::ApplyContext& ctx, const TotalChanges& changes) {
  for (const auto& [key, change] : changes) {
    if (change.count == 0 && change.met == 0) continue;
    auto held = ReadTotal(ctx.store(), key);
    if (!held.ok()) return held.status();
    pbr::state::v1::KpiTotal next;
    next.set_count(held->count + change.count);
    next.set_met(held->met + change.met);
    // Stock rows are changes and may be negative; flow rows are counts of records.
    if (key.starts_with("f/") && (next.count() < 0 || next.met() < 0 || next.met() > next.count())) {
      return absl::DataLossError(absl::StrCat("KPI total ", platform::Quote(key), " would be ", next.count(), " with ",
                                              next.met(), " met: the totals and the people disagree"));
    }
    if (next.count() == 0 && next.met() == 0) {
      ctx.batch().Delete(ctx.store().Family(kKpisTotalsFamily), key);
    } else {
      ctx.batch().Put(ctx.store().Family(kKpisTotalsFamily), key, next.SerializeAsString());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> StockOn(const platform::StoreReader& store, StockPart part, absl::string_view scope_key,
                                absl::CivilDay day, int64_t* reads) {
  const std::string prefix = StockPrefix(part, scope_key);
  Total sum;
  if (auto st = SumUpTo(store, absl::StrCat(prefix, "y/"), YearText(day), false, sum, reads); !st.ok()) return st;
  const absl::CivilMonth month(day);
  if (auto st = SumUpTo(store, absl::StrCat(prefix, "m/", YearText(day), "-"), absl::StrFormat("%02d", month.month()),
                        false, sum, reads);
      !st.ok()) {
    return st;
  }
  if (auto st = SumUpTo(store, absl::StrCat(prefix, "d/", MonthText(month), "-"), absl::StrFormat("%02d", day.day()),
                        true, sum, reads);
      !st.ok()) {
    return st;
  }
  return sum.count;
}

absl::StatusOr<Total> FlowOf(const platform::StoreReader& store, int kpi, absl::string_view scope_key,
                             absl::CivilMonth month, absl::CivilDay judged_on, int64_t* reads) {
  Total sum;
  if (auto st = SumUpTo(store, FlowPrefix(kpi, scope_key, month), DayText(judged_on), true, sum, reads); !st.ok()) {
    return st;
  }
  return sum;
}

}  // namespace pbr::reporting::kpis
