// YAML rule-file parsers and the directory loader. The only I/O in the library is in LoadFromDirectory.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "care/rule_files.h"
#include "internal.h"

namespace care {
namespace {

// Collects problems as "<file>:<line>:<column>: <field>: <problem>".
class Ctx {
 public:
  explicit Ctx(std::string_view file) : file_(file) {}

  void Error(const YAML::Mark& m, std::string_view field, std::string_view msg) {
    if (m.is_null()) {
      problems_.push_back(internal::Cat(file_, ": ", field, ": ", msg));
    } else {
      problems_.push_back(internal::Cat(file_, ":", m.line + 1, ":", m.column + 1, ": ", field, ": ", msg));
    }
  }
  void Error(const YAML::Node& n, std::string_view field, std::string_view msg) {
    Error(n.Mark(), field, msg);
  }
  size_t count() const { return problems_.size(); }
  absl::Status Finish() const {
    if (problems_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(problems_, "\n"));
  }

 private:
  std::string file_;
  std::vector<std::string> problems_;
};

std::string Sub(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : internal::Cat(path, ".", key);
}
std::string Idx(std::string_view path, size_t i) { return internal::Cat(path, "[", i, "]"); }

bool LoadYaml(Ctx& ctx, std::string_view yaml, YAML::Node* out) {
  try {
    *out = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    ctx.Error(e.mark, "yaml", e.msg);
    return false;
  }
  if (!out->IsMap()) {
    ctx.Error(*out, "(top level)", "the file must be a YAML mapping (key: value lines)");
    return false;
  }
  return true;
}

// Reports keys of `map` that are not in `allowed` (catches misspelt field names).
void CheckKeys(Ctx& ctx, const YAML::Node& map, std::string_view path,
               std::initializer_list<std::string_view> allowed) {
  if (!map.IsMap()) return;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || a == key;
    if (!ok) {
      ctx.Error(it->first, Sub(path, key),
                internal::Cat("unknown field; expected one of: ",
                              absl::StrJoin(std::vector<std::string>(allowed.begin(), allowed.end()), ", ")));
    }
  }
}

// The child node, or an undefined node (reported when required).
YAML::Node Get(Ctx& ctx, const YAML::Node& map, std::string_view key, std::string_view path,
               bool required) {
  if (!map.IsMap()) {
    ctx.Error(map, path, "must be a mapping");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  const YAML::Node child = map[std::string(key)];
  if (!child.IsDefined() || child.IsNull()) {
    if (required) ctx.Error(map, Sub(path, key), "is required");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return child;
}

std::optional<std::string> ScalarString(Ctx& ctx, const YAML::Node& n, std::string_view path) {
  if (!n.IsScalar() || internal::Strip(n.Scalar()).empty()) {
    ctx.Error(n, path, "must be a non-empty text value");
    return std::nullopt;
  }
  return std::string(internal::Strip(n.Scalar()));
}

std::optional<std::string> GetString(Ctx& ctx, const YAML::Node& map, std::string_view key,
                                     std::string_view path, bool required = true) {
  YAML::Node n = Get(ctx, map, key, path, required);
  if (!n.IsDefined()) return std::nullopt;
  return ScalarString(ctx, n, Sub(path, key));
}

std::optional<int> ScalarInt(Ctx& ctx, const YAML::Node& n, std::string_view path, int lo, int hi) {
  int v = 0;
  if (!n.IsScalar() || !YAML::convert<int>::decode(n, v)) {
    ctx.Error(n, path, "must be a whole number");
    return std::nullopt;
  }
  if (v < lo || v > hi) {
    ctx.Error(n, path, internal::Cat(v, " is outside ", lo, "-", hi));
    return std::nullopt;
  }
  return v;
}

std::optional<int> GetInt(Ctx& ctx, const YAML::Node& map, std::string_view key, std::string_view path,
                          int lo, int hi, bool required = true) {
  YAML::Node n = Get(ctx, map, key, path, required);
  if (!n.IsDefined()) return std::nullopt;
  return ScalarInt(ctx, n, Sub(path, key), lo, hi);
}

std::optional<bool> GetBool(Ctx& ctx, const YAML::Node& map, std::string_view key, std::string_view path,
                            bool required = false) {
  YAML::Node n = Get(ctx, map, key, path, required);
  if (!n.IsDefined()) return std::nullopt;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    ctx.Error(n, Sub(path, key), "must be true or false");
    return std::nullopt;
  }
  return v;
}

std::optional<int> ScalarCluster(Ctx& ctx, const YAML::Node& n, std::string_view path) {
  std::optional<int> v = ScalarInt(ctx, n, path, -1000000, 1000000);
  if (!v) return std::nullopt;
  if (!IsValidClusterId(*v)) {
    ctx.Error(n, path, internal::Cat("cluster ", *v, " is not a valid cluster (0-21, never 9)"));
    return std::nullopt;
  }
  return v;
}

// A YAML sequence of cluster ids; [] is allowed (no cluster).
std::optional<std::set<int>> ClusterSet(Ctx& ctx, const YAML::Node& n, std::string_view path) {
  if (!n.IsSequence()) {
    ctx.Error(n, path, "must be a list of clusters, e.g. [4, 5] (use [] for none)");
    return std::nullopt;
  }
  std::set<int> out;
  bool ok = true;
  for (size_t i = 0; i < n.size(); ++i) {
    std::optional<int> c = ScalarCluster(ctx, n[i], Idx(path, i));
    if (!c) {
      ok = false;
    } else if (!out.insert(*c).second) {
      ctx.Error(n[i], Idx(path, i), internal::Cat("cluster ", *c, " is listed twice"));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::set<int>> GetClusterSet(Ctx& ctx, const YAML::Node& map, std::string_view key,
                                           std::string_view path, bool required = true) {
  const YAML::Node n = map.IsMap() ? map[std::string(key)] : YAML::Node();
  if (!n.IsDefined()) {
    if (required) ctx.Error(map, Sub(path, key), "is required (use [] for none)");
    return std::nullopt;
  }
  return ClusterSet(ctx, n, Sub(path, key));
}

std::optional<Period> GetPeriod(Ctx& ctx, const YAML::Node& map, std::string_view key,
                                std::string_view path, bool required = true) {
  YAML::Node n = Get(ctx, map, key, path, required);
  if (!n.IsDefined()) return std::nullopt;
  std::optional<std::string> s = ScalarString(ctx, n, Sub(path, key));
  if (!s) return std::nullopt;
  absl::StatusOr<Period> p = ParsePeriod(*s);
  if (!p.ok()) {
    ctx.Error(n, Sub(path, key), std::string(p.status().message()));
    return std::nullopt;
  }
  return *p;
}

template <typename T, typename ParseFn>
std::optional<std::set<T>> GetEnumSet(Ctx& ctx, const YAML::Node& map, std::string_view key,
                                      std::string_view path, ParseFn parse) {
  YAML::Node n = Get(ctx, map, key, path, true);
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsSequence() || n.size() == 0) {
    ctx.Error(n, Sub(path, key), "must be a non-empty list");
    return std::nullopt;
  }
  std::set<T> out;
  bool ok = true;
  for (size_t i = 0; i < n.size(); ++i) {
    std::optional<std::string> s = ScalarString(ctx, n[i], Idx(Sub(path, key), i));
    if (!s) {
      ok = false;
      continue;
    }
    auto v = parse(*s);
    if (!v.ok()) {
      ctx.Error(n[i], Idx(Sub(path, key), i), std::string(v.status().message()));
      ok = false;
      continue;
    }
    out.insert(*v);
  }
  if (!ok) return std::nullopt;
  return out;
}

// Checks `kind:` and reads `version:`.
void Header(Ctx& ctx, const YAML::Node& root, RuleFileKind expected, std::string* version) {
  if (std::optional<std::string> kind = GetString(ctx, root, "kind", "")) {
    if (*kind != RuleFileKindName(expected)) {
      ctx.Error(root["kind"], "kind",
                internal::Cat("is \"", *kind, "\" but this file is read as \"", RuleFileKindName(expected),
                             "\""));
    }
  }
  if (std::optional<std::string> v = GetString(ctx, root, "version", "")) {
    // Versions travel on every decision and tariff line as identifiers: printable ASCII, at most 128.
    bool printable = true;
    for (char c : *v) printable &= c >= 0x20 && c <= 0x7e;
    if (!printable || v->size() > 128) {
      ctx.Error(root["version"], "version", "must be printable ASCII of at most 128 characters");
    }
    *version = *v;
  }
}

// Requires every valid cluster 0..21 (except 9) in `seen`.
void RequireAllClusters(Ctx& ctx, const YAML::Node& at, std::string_view path, const std::set<int>& seen,
                        std::string_view what) {
  std::vector<int> missing;
  for (int c = kMinCluster; c <= kMaxCluster; ++c) {
    if (IsValidClusterId(c) && !seen.count(c)) missing.push_back(c);
  }
  if (!missing.empty()) {
    ctx.Error(at, path, internal::Cat("no ", what, " for cluster", missing.size() > 1 ? "s " : " ",
                                     absl::StrJoin(missing, ", ")));
  }
}

template <typename T>
absl::StatusOr<T> Result(const Ctx& ctx, T value) {
  if (absl::Status s = ctx.Finish(); !s.ok()) return s;
  return value;
}

}  // namespace

std::string_view RuleFileKindName(RuleFileKind k) {
  switch (k) {
    case RuleFileKind::kManifest: return "manifest";
    case RuleFileKind::kClusters: return "clusters";
    case RuleFileKind::kReviewPeriods: return "review_periods";
    case RuleFileKind::kServiceAreas: return "service_areas";
    case RuleFileKind::kTransitions: return "transitions";
    case RuleFileKind::kScoringProfiles: return "scoring_profiles";
    case RuleFileKind::kOutcomes: return "outcomes";
    case RuleFileKind::kKpis: return "kpis";
    case RuleFileKind::kPriceList: return "price_list";
    case RuleFileKind::kTeams: return "teams";
  }
  return "?";
}

absl::StatusOr<RuleFileKind> ParseRuleFileKind(std::string_view name) {
  for (RuleFileKind k :
       {RuleFileKind::kManifest, RuleFileKind::kClusters, RuleFileKind::kReviewPeriods,
        RuleFileKind::kServiceAreas, RuleFileKind::kTransitions, RuleFileKind::kScoringProfiles,
        RuleFileKind::kOutcomes, RuleFileKind::kKpis, RuleFileKind::kPriceList, RuleFileKind::kTeams}) {
    if (RuleFileKindName(k) == name) return k;
  }
  return absl::InvalidArgumentError(internal::Cat(
      "kind \"", name,
      "\" is not manifest, clusters, review_periods, service_areas, transitions, scoring_profiles, "
      "outcomes, kpis, price_list or teams"));
}

absl::StatusOr<RuleFileKind> DetectRuleFileKind(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  std::optional<std::string> kind = GetString(ctx, root, "kind", "");
  if (!kind) return ctx.Finish();
  absl::StatusOr<RuleFileKind> k = ParseRuleFileKind(*kind);
  if (!k.ok()) {
    ctx.Error(root["kind"], "kind", std::string(k.status().message()));
    return ctx.Finish();
  }
  return *k;
}

// ---------------------------------------------------------------- manifest

absl::StatusOr<Manifest> ParseManifestFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  Manifest m;
  CheckKeys(ctx, root, "", {"kind", "version", "description", "files"});
  Header(ctx, root, RuleFileKind::kManifest, &m.version);
  YAML::Node files = Get(ctx, root, "files", "", true);
  if (files.IsDefined()) {
    CheckKeys(ctx, files, "files",
              {"clusters", "review_periods", "service_areas", "transitions", "scoring_profiles", "outcomes",
               "kpis", "teams", "price_lists"});
    auto get = [&](std::string_view key, std::string* out) {
      if (auto s = GetString(ctx, files, key, "files")) *out = *s;
    };
    get("clusters", &m.clusters);
    get("review_periods", &m.review_periods);
    get("service_areas", &m.service_areas);
    get("transitions", &m.transitions);
    get("scoring_profiles", &m.scoring_profiles);
    get("outcomes", &m.outcomes);
    get("kpis", &m.kpis);
    get("teams", &m.teams);
    YAML::Node prices = Get(ctx, files, "price_lists", "files", false);
    if (prices.IsDefined()) {
      if (!prices.IsSequence()) {
        ctx.Error(prices, "files.price_lists", "must be a list of file paths");
      } else {
        for (size_t i = 0; i < prices.size(); ++i) {
          if (auto s = ScalarString(ctx, prices[i], Idx("files.price_lists", i))) m.price_lists.push_back(*s);
        }
      }
    }
  }
  return Result(ctx, std::move(m));
}

// ---------------------------------------------------------------- clusters

absl::StatusOr<ClusterCatalogue> ParseClustersFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  ClusterCatalogue cat;
  CheckKeys(ctx, root, "", {"kind", "version", "description", "source", "clusters"});
  Header(ctx, root, RuleFileKind::kClusters, &cat.version);
  YAML::Node list = Get(ctx, root, "clusters", "", true);
  if (list.IsDefined()) {
    if (!list.IsSequence()) {
      ctx.Error(list, "clusters", "must be a list");
    } else {
      std::set<int> seen;
      for (size_t i = 0; i < list.size(); ++i) {
        const YAML::Node n = list[i];
        const std::string path = Idx("clusters", i);
        if (!n.IsMap()) {
          ctx.Error(n, path, "must be a mapping with id, label, super_class, indicative_period");
          continue;
        }
        CheckKeys(ctx, n, path, {"id", "label", "super_class", "indicative_period", "used_in_secondary_care"});
        ClusterInfo info;
        std::optional<int> id;
        if (YAML::Node idn = Get(ctx, n, "id", path, true); idn.IsDefined()) {
          id = ScalarCluster(ctx, idn, Sub(path, "id"));
        }
        if (auto s = GetString(ctx, n, "label", path)) info.label = *s;
        if (auto s = GetString(ctx, n, "super_class", path)) {
          auto sc = ParseSuperClass(*s);
          if (sc.ok()) info.super_class = *sc;
          else ctx.Error(n["super_class"], Sub(path, "super_class"), std::string(sc.status().message()));
        }
        if (auto s = GetString(ctx, n, "indicative_period", path)) {
          auto ip = ParseIndicativePeriod(*s);
          if (ip.ok()) info.indicative_period = *ip;
          else ctx.Error(n["indicative_period"], Sub(path, "indicative_period"), std::string(ip.status().message()));
        }
        if (auto b = GetBool(ctx, n, "used_in_secondary_care", path)) info.used_in_secondary_care = *b;
        if (!id) continue;
        if (!seen.insert(*id).second) {
          ctx.Error(n["id"], Sub(path, "id"), internal::Cat("cluster ", *id, " is listed twice"));
          continue;
        }
        info.id = *id;
        cat.clusters[*id] = std::move(info);
      }
      RequireAllClusters(ctx, list, "clusters", seen, "entry");
    }
  }
  return Result(ctx, std::move(cat));
}

// ---------------------------------------------------------------- review periods

absl::StatusOr<ReviewPeriods> ParseReviewPeriodsFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  ReviewPeriods rp;
  CheckKeys(ctx, root, "", {"kind", "version", "description", "default_policy", "window_days", "policies"});
  Header(ctx, root, RuleFileKind::kReviewPeriods, &rp.version);
  if (auto s = GetString(ctx, root, "default_policy", "")) {
    auto p = ParseReviewPolicy(*s);
    if (p.ok()) rp.default_policy = *p;
    else ctx.Error(root["default_policy"], "default_policy", std::string(p.status().message()));
  }
  if (auto w = GetInt(ctx, root, "window_days", "", 0, 366)) rp.window_days = *w;
  YAML::Node policies = Get(ctx, root, "policies", "", true);
  if (policies.IsDefined()) {
    CheckKeys(ctx, policies, "policies", {"sop", "national"});
    for (std::string_view name : {"sop", "national"}) {
      const std::string path = Sub("policies", name);
      YAML::Node pol = Get(ctx, policies, name, "policies", true);
      if (!pol.IsDefined()) continue;
      CheckKeys(ctx, pol, path, {"label", "source", "periods"});
      std::string label = GetString(ctx, pol, "label", path).value_or("");
      std::map<int, Period>& table = name == "sop" ? rp.sop : rp.national;
      (name == "sop" ? rp.sop_label : rp.national_label) = label;
      YAML::Node periods = Get(ctx, pol, "periods", path, true);
      if (!periods.IsDefined()) continue;
      if (!periods.IsMap()) {
        ctx.Error(periods, Sub(path, "periods"), "must map each cluster to a period, e.g. \"4: 6 months\"");
        continue;
      }
      std::set<int> seen;
      for (auto it = periods.begin(); it != periods.end(); ++it) {
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
        const std::string p = Sub(Sub(path, "periods"), key);
        std::optional<int> c = ScalarCluster(ctx, it->first, p);
        std::optional<std::string> text = ScalarString(ctx, it->second, p);
        if (!c || !text) continue;
        if (!seen.insert(*c).second) {
          ctx.Error(it->first, p, internal::Cat("cluster ", *c, " is listed twice"));
          continue;
        }
        auto period = ParsePeriod(*text);
        if (!period.ok()) {
          ctx.Error(it->second, p, std::string(period.status().message()));
          continue;
        }
        table[*c] = *period;
      }
      RequireAllClusters(ctx, periods, Sub(path, "periods"), seen, "review period");
    }
  }
  return Result(ctx, std::move(rp));
}

// ---------------------------------------------------------------- service areas

absl::StatusOr<ServiceAreas> ParseServiceAreasFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  ServiceAreas sa;
  CheckKeys(ctx, root, "", {"kind", "version", "description", "areas"});
  Header(ctx, root, RuleFileKind::kServiceAreas, &sa.version);
  YAML::Node list = Get(ctx, root, "areas", "", true);
  if (list.IsDefined()) {
    if (!list.IsSequence() || list.size() == 0) {
      ctx.Error(list, "areas", "must be a non-empty list");
    } else {
      std::set<std::string> ids;
      for (size_t i = 0; i < list.size(); ++i) {
        const YAML::Node n = list[i];
        const std::string path = Idx("areas", i);
        if (!n.IsMap()) {
          ctx.Error(n, path, "must be a mapping with id, label, clusters");
          continue;
        }
        CheckKeys(ctx, n, path, {"id", "label", "acute_pathway", "clusters", "rarely"});
        ServiceArea a;
        if (auto s = GetString(ctx, n, "id", path)) {
          a.id = *s;
          if (!ids.insert(a.id).second) {
            ctx.Error(n["id"], Sub(path, "id"), internal::Cat("service area \"", a.id, "\" is listed twice"));
          }
        }
        if (auto s = GetString(ctx, n, "label", path)) a.label = *s;
        if (auto b = GetBool(ctx, n, "acute_pathway", path)) a.acute_pathway = *b;
        if (auto s = GetClusterSet(ctx, n, "clusters", path)) a.allowed = *s;
        if (auto s = GetClusterSet(ctx, n, "rarely", path, false)) a.rarely = *s;
        for (int c : a.rarely) {
          if (a.allowed.count(c)) {
            ctx.Error(n["rarely"], Sub(path, "rarely"),
                      internal::Cat("cluster ", c, " is in both clusters and rarely"));
          }
        }
        sa.areas.push_back(std::move(a));
      }
    }
  }
  return Result(ctx, std::move(sa));
}

// ---------------------------------------------------------------- transitions

namespace {

constexpr ChangeClass kAllChangeClasses[] = {ChangeClass::kImprovement, ChangeClass::kNoChange,
                                             ChangeClass::kDeterioration, ChangeClass::kChangeInDiagnosis};

// A scalar parsed by `parse` (one of the transitions enums); reports the parser's message under the field.
template <typename T, typename ParseFn>
std::optional<T> GetEnum(Ctx& ctx, const YAML::Node& map, std::string_view key, std::string_view path,
                         bool required, ParseFn parse) {
  std::optional<std::string> s = GetString(ctx, map, key, path, required);
  if (!s) return std::nullopt;
  auto v = parse(*s);
  if (!v.ok()) {
    ctx.Error(map[std::string(key)], Sub(path, key), std::string(v.status().message()));
    return std::nullopt;
  }
  return *v;
}

// `ambiguities`: each a Table 12 row the flattened SOP text leaves open, with the named readings.
void ParseAmbiguities(Ctx& ctx, const YAML::Node& list, TransitionRules& tr) {
  std::set<std::string> ids;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string path = Idx("ambiguities", i);
    if (!n.IsMap()) {
      ctx.Error(n, path, "must be a mapping with id, from, table_reading, alternatives");
      continue;
    }
    CheckKeys(ctx, n, path, {"id", "from", "table_reading", "alternatives", "text"});
    TableAmbiguity a;
    if (auto s = GetString(ctx, n, "id", path)) {
      a.id = *s;
      if (!ids.insert(a.id).second) {
        ctx.Error(n["id"], Sub(path, "id"), internal::Cat("ambiguity \"", a.id, "\" is listed twice"));
      }
    }
    a.from = -1;
    if (YAML::Node f = Get(ctx, n, "from", path, true); f.IsDefined()) {
      if (auto c = ScalarCluster(ctx, f, Sub(path, "from"))) {
        a.from = *c;
        if (!tr.rows.count(*c)) {
          ctx.Error(f, Sub(path, "from"), internal::Cat("the table has no row for cluster ", *c));
        }
      }
    }
    if (auto s = GetString(ctx, n, "table_reading", path)) a.table_reading = *s;
    a.text = GetString(ctx, n, "text", path, false).value_or("");
    const std::string alt_path = Sub(path, "alternatives");
    YAML::Node alts = Get(ctx, n, "alternatives", path, true);
    if (alts.IsDefined() && (!alts.IsMap() || alts.size() == 0)) {
      ctx.Error(alts, alt_path, "must be a mapping of reading name to the cells it sets");
    } else if (alts.IsDefined()) {
      for (auto it = alts.begin(); it != alts.end(); ++it) {
        TableReading r;
        r.name = it->first.IsScalar() ? std::string(internal::Strip(it->first.Scalar())) : "";
        const std::string rpath = Sub(alt_path, r.name.empty() ? "?" : r.name);
        if (r.name.empty()) {
          ctx.Error(it->first, rpath, "a reading needs a name");
          continue;
        }
        if (r.name == a.table_reading) {
          ctx.Error(it->first, rpath, "is the table's own reading (table_reading); list only the others");
          continue;
        }
        const YAML::Node cells = it->second;
        if (!cells.IsMap() || cells.size() == 0) {
          ctx.Error(cells, rpath, "must set at least one of improvement, no_change, deterioration, "
                                  "change_in_diagnosis");
          continue;
        }
        CheckKeys(ctx, cells, rpath, {"improvement", "no_change", "deterioration", "change_in_diagnosis"});
        for (ChangeClass c : kAllChangeClasses) {
          if (!cells[std::string(ChangeClassName(c))].IsDefined()) continue;
          if (auto set = GetClusterSet(ctx, cells, ChangeClassName(c), rpath)) r.cells[c] = *set;
        }
        a.alternatives.push_back(std::move(r));
      }
    }
    a.chosen = a.table_reading;
    tr.ambiguities.push_back(std::move(a));
  }
}

// `readings`: ambiguity id -> the reading to apply; then the chosen readings are written into the table.
void ApplyReadings(Ctx& ctx, const YAML::Node& readings, TransitionRules& tr) {
  if (readings.IsDefined()) {
    if (!readings.IsMap()) {
      ctx.Error(readings, "readings", "must be a mapping of ambiguity id to reading name");
    } else {
      std::vector<std::string> ids;
      for (const auto& a : tr.ambiguities) ids.push_back(a.id);
      for (auto it = readings.begin(); it != readings.end(); ++it) {
        const std::string id = it->first.IsScalar() ? std::string(internal::Strip(it->first.Scalar())) : "?";
        const std::string path = Sub("readings", id);
        TableAmbiguity* a = nullptr;
        for (auto& x : tr.ambiguities) {
          if (x.id == id) a = &x;
        }
        if (a == nullptr) {
          ctx.Error(it->first, path,
                    internal::Cat("no ambiguity \"", id, "\" in ambiguities; expected one of: ",
                                  ids.empty() ? std::string("(none)") : absl::StrJoin(ids, ", ")));
          continue;
        }
        std::optional<std::string> name = ScalarString(ctx, it->second, path);
        if (!name) continue;
        std::vector<std::string> names = {a->table_reading};
        bool known = *name == a->table_reading;
        for (const auto& r : a->alternatives) {
          names.push_back(r.name);
          known = known || r.name == *name;
        }
        if (!known) {
          ctx.Error(it->second, path,
                    internal::Cat("reading \"", *name, "\" is not one of: ", absl::StrJoin(names, ", ")));
          continue;
        }
        a->chosen = *name;
      }
    }
  }
  for (const auto& a : tr.ambiguities) {
    auto row = tr.rows.find(a.from);
    if (row == tr.rows.end()) continue;
    for (const auto& r : a.alternatives) {
      if (r.name != a.chosen) continue;
      for (const auto& [c, set] : r.cells) row->second.expected[static_cast<int>(c)] = set;
    }
  }
}

}  // namespace

absl::StatusOr<TransitionRules> ParseTransitionsFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  TransitionRules tr;
  CheckKeys(ctx, root, "",
            {"kind", "version", "description", "table", "readings", "ambiguities", "time_on_cluster",
             "restrictions", "step_up", "prior_cluster", "advisories"});
  Header(ctx, root, RuleFileKind::kTransitions, &tr.version);

  auto list_at = [&](std::string_view key, bool required) -> YAML::Node {
    YAML::Node n = Get(ctx, root, key, "", required);
    if (n.IsDefined() && !n.IsSequence()) {
      ctx.Error(n, key, "must be a list");
      return YAML::Node(YAML::NodeType::Undefined);
    }
    return n;
  };
  auto change_classes = [&](const YAML::Node& n, std::string_view path) {
    return GetEnumSet<ChangeClass>(ctx, n, "change_classes", path, ParseChangeClass);
  };

  if (YAML::Node table = list_at("table", true); table.IsDefined()) {
    std::set<int> seen;
    for (size_t i = 0; i < table.size(); ++i) {
      const YAML::Node n = table[i];
      const std::string path = Idx("table", i);
      if (!n.IsMap()) {
        ctx.Error(n, path, "must be a mapping with from and the four change classes");
        continue;
      }
      CheckKeys(ctx, n, path, {"from", "improvement", "no_change", "deterioration", "change_in_diagnosis"});
      TransitionRow row;
      std::optional<int> from;
      if (YAML::Node f = Get(ctx, n, "from", path, true); f.IsDefined()) from = ScalarCluster(ctx, f, Sub(path, "from"));
      for (ChangeClass c : kAllChangeClasses) {
        if (auto s = GetClusterSet(ctx, n, ChangeClassName(c), path)) row.expected[static_cast<int>(c)] = *s;
      }
      if (!from) continue;
      if (!seen.insert(*from).second) {
        ctx.Error(n["from"], Sub(path, "from"), internal::Cat("cluster ", *from, " has two rows"));
        continue;
      }
      row.from = *from;
      tr.rows[*from] = std::move(row);
    }
    RequireAllClusters(ctx, table, "table", seen, "row");
  }
  if (YAML::Node list = list_at("ambiguities", false); list.IsDefined()) ParseAmbiguities(ctx, list, tr);
  ApplyReadings(ctx, Get(ctx, root, "readings", "", false), tr);
  if (YAML::Node list = list_at("time_on_cluster", false); list.IsDefined()) {
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node n = list[i];
      const std::string path = Idx("time_on_cluster", i);
      CheckKeys(ctx, n, path, {"from", "after", "change_classes", "expected", "text"});
      TimeOnClusterRule r;
      if (YAML::Node f = Get(ctx, n, "from", path, true); f.IsDefined()) {
        r.from = ScalarCluster(ctx, f, Sub(path, "from")).value_or(-1);
      }
      if (auto p = GetPeriod(ctx, n, "after", path)) r.after = *p;
      if (auto s = change_classes(n, path)) r.change_classes = *s;
      if (auto s = GetClusterSet(ctx, n, "expected", path)) r.expected = *s;
      r.text = GetString(ctx, n, "text", path, false).value_or("");
      tr.time_on_cluster.push_back(std::move(r));
    }
  }
  if (YAML::Node list = list_at("restrictions", false); list.IsDefined()) {
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node n = list[i];
      const std::string path = Idx("restrictions", i);
      CheckKeys(ctx, n, path,
                {"cluster", "not_at_first_presentation", "not_on_acute_pathway", "not_for_returning_patient"});
      ClusterRestriction r;
      if (YAML::Node f = Get(ctx, n, "cluster", path, true); f.IsDefined()) {
        r.cluster = ScalarCluster(ctx, f, Sub(path, "cluster")).value_or(-1);
      }
      r.not_at_first_presentation = GetBool(ctx, n, "not_at_first_presentation", path).value_or(false);
      r.not_on_acute_pathway = GetBool(ctx, n, "not_on_acute_pathway", path).value_or(false);
      r.not_for_returning_patient = GetBool(ctx, n, "not_for_returning_patient", path).value_or(false);
      if (n.IsMap() && !r.not_at_first_presentation && !r.not_on_acute_pathway && !r.not_for_returning_patient) {
        ctx.Error(n, path,
                  "restricts nothing; set not_at_first_presentation, not_on_acute_pathway or "
                  "not_for_returning_patient to true");
      }
      tr.restrictions.push_back(r);
    }
  }
  if (YAML::Node list = list_at("step_up", false); list.IsDefined()) {
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node n = list[i];
      const std::string path = Idx("step_up", i);
      CheckKeys(ctx, n, path, {"from", "within", "triggers", "change_classes", "expected", "text"});
      StepUpRule r;
      if (auto s = GetClusterSet(ctx, n, "from", path)) r.from = *s;
      if (auto p = GetPeriod(ctx, n, "within", path)) r.within = *p;
      if (auto s = GetEnumSet<HistoryTrigger>(ctx, n, "triggers", path, ParseHistoryTrigger)) r.triggers = *s;
      if (auto s = change_classes(n, path)) r.change_classes = *s;
      if (auto s = GetClusterSet(ctx, n, "expected", path)) r.expected = *s;
      r.text = GetString(ctx, n, "text", path, false).value_or("");
      tr.step_up.push_back(std::move(r));
    }
  }
  if (YAML::Node list = list_at("prior_cluster", false); list.IsDefined()) {
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node n = list[i];
      const std::string path = Idx("prior_cluster", i);
      CheckKeys(ctx, n, path, {"from", "to", "reading", "text"});
      PriorClusterRule r;
      if (auto s = GetClusterSet(ctx, n, "from", path)) r.from = *s;
      if (auto s = GetClusterSet(ctx, n, "to", path)) r.to = *s;
      if (auto v = GetEnum<PriorClusterReading>(ctx, n, "reading", path, false, ParsePriorClusterReading)) {
        r.reading = *v;
      }
      r.text = GetString(ctx, n, "text", path, false).value_or("");
      tr.prior_cluster.push_back(std::move(r));
    }
  }
  if (YAML::Node list = list_at("advisories", false); list.IsDefined()) {
    std::set<std::string> ids;
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node n = list[i];
      const std::string path = Idx("advisories", i);
      CheckKeys(ctx, n, path,
                {"id", "clusters", "change_classes", "move", "to_clusters", "check", "min_time_on_cluster",
                 "text"});
      TransitionAdvisory a;
      if (auto s = GetString(ctx, n, "id", path)) {
        a.id = *s;
        if (!ids.insert(a.id).second) {
          ctx.Error(n["id"], Sub(path, "id"), internal::Cat("advisory \"", a.id, "\" is listed twice"));
        }
      }
      if (auto s = GetClusterSet(ctx, n, "clusters", path)) a.clusters = *s;
      if (auto s = change_classes(n, path)) a.change_classes = *s;
      if (auto v = GetEnum<AdvisoryMove>(ctx, n, "move", path, true, ParseAdvisoryMove)) a.move = *v;
      if (auto s = GetClusterSet(ctx, n, "to_clusters", path, false)) a.to_clusters = *s;
      std::optional<AdvisoryTest> test = GetEnum<AdvisoryTest>(ctx, n, "check", path, true, ParseAdvisoryTest);
      if (test) a.test = *test;
      const bool has_time = n.IsMap() && n["min_time_on_cluster"].IsDefined();
      if (test == AdvisoryTest::kTimeOnCluster) {
        if (auto p = GetPeriod(ctx, n, "min_time_on_cluster", path)) a.min_time_on_cluster = *p;
      } else if (test && has_time) {
        ctx.Error(n["min_time_on_cluster"], Sub(path, "min_time_on_cluster"),
                  internal::Cat("is used only with check: time_on_cluster (this check is ",
                                AdvisoryTestName(*test), ")"));
      }
      a.text = GetString(ctx, n, "text", path).value_or("");
      tr.advisories.push_back(std::move(a));
    }
  }
  return Result(ctx, std::move(tr));
}

// ---------------------------------------------------------------- scoring profiles

absl::StatusOr<ProfileSet> ParseScoringProfilesFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  ProfileSet set;
  CheckKeys(ctx, root, "", {"kind", "version", "example", "label", "description", "legend", "profiles"});
  Header(ctx, root, RuleFileKind::kScoringProfiles, &set.version);
  if (auto b = GetBool(ctx, root, "example", "", true)) set.example = *b;
  if (auto s = GetString(ctx, root, "label", "")) set.label = *s;
  YAML::Node profiles = Get(ctx, root, "profiles", "", true);
  if (profiles.IsDefined()) {
    if (!profiles.IsMap()) {
      ctx.Error(profiles, "profiles", "must map each cluster to its item rows");
    } else {
      std::set<int> seen;
      for (auto it = profiles.begin(); it != profiles.end(); ++it) {
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
        const std::string path = Sub("profiles", key);
        std::optional<int> c = ScalarCluster(ctx, it->first, path);
        if (!c) continue;
        if (!seen.insert(*c).second) {
          ctx.Error(it->first, path, internal::Cat("cluster ", *c, " is listed twice"));
          continue;
        }
        const YAML::Node rows = it->second;
        if (!rows.IsMap()) {
          ctx.Error(rows, path, "must map each MHCT item (1-13, A-E) to five cells for ratings 0-4");
          continue;
        }
        ClusterProfile prof;
        prof.cluster = *c;
        std::set<int> items_seen;
        for (auto r = rows.begin(); r != rows.end(); ++r) {
          const std::string item_code = r->first.IsScalar() ? r->first.Scalar() : "?";
          const std::string rpath = internal::Cat(path, ".item ", item_code);
          std::optional<int> item = MhctItemIndexFromCode(item_code);
          if (!item) {
            ctx.Error(r->first, rpath, "is not an MHCT item (1-13, A-E)");
            continue;
          }
          if (!items_seen.insert(*item).second) {
            ctx.Error(r->first, rpath, "is listed twice");
            continue;
          }
          std::optional<std::string> cells = ScalarString(ctx, r->second, rpath);
          if (!cells) continue;
          std::string compact;
          for (char ch : *cells) {
            if (ch != ' ') compact.push_back(ch);
          }
          if (compact.size() != kRatingsPerItem) {
            ctx.Error(r->second, rpath,
                      internal::Cat("has ", compact.size(),
                                   " cells; needs exactly 5 (ratings 0-4), each M, E, P or U"));
            continue;
          }
          bool row_ok = true, any_allowed = false;
          for (int v = 0; v < kRatingsPerItem; ++v) {
            auto m = ParseCellMark(compact[v]);
            if (!m.ok()) {
              ctx.Error(r->second, internal::Cat(rpath, " rating ", v), std::string(m.status().message()));
              row_ok = false;
              continue;
            }
            prof.items[*item][v] = *m;
            if (*m != CellMark::kUnlikely) any_allowed = true;
          }
          if (row_ok && !any_allowed) {
            ctx.Error(r->second, rpath, "every rating is U (unlikely); at least one rating must be allowed");
          }
        }
        std::vector<std::string> missing;
        for (int i = 0; i < kMhctItemCount; ++i) {
          if (!items_seen.count(i)) missing.push_back(std::string(MhctItemCode(i)));
        }
        if (!missing.empty()) {
          ctx.Error(rows, path, internal::Cat("no row for item", missing.size() > 1 ? "s " : " ",
                                             absl::StrJoin(missing, ", ")));
        }
        set.profiles[*c] = prof;
      }
      RequireAllClusters(ctx, profiles, "profiles", seen, "profile");
    }
  }
  return Result(ctx, std::move(set));
}

// ---------------------------------------------------------------- outcomes

absl::StatusOr<OutcomeModel> ParseOutcomesFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  OutcomeModel m;
  CheckKeys(ctx, root, "",
            {"kind", "version", "description", "missing_items", "item_significance", "four_factor",
             "reliable_change", "clinical_cutoff", "remission_max", "severe_clusters", "expected_outcomes"});
  Header(ctx, root, RuleFileKind::kOutcomes, &m.version);
  if (auto s = GetString(ctx, root, "missing_items", "")) {
    auto p = ParseMissingItemPolicy(*s);
    if (p.ok()) m.missing_policy = *p;
    else ctx.Error(root["missing_items"], "missing_items", std::string(p.status().message()));
  }
  if (YAML::Node sig = Get(ctx, root, "item_significance", "", true); sig.IsDefined()) {
    CheckKeys(ctx, sig, "item_significance", {"cusp", "significant"});
    m.cusp_rating = GetInt(ctx, sig, "cusp", "item_significance", 1, 4).value_or(m.cusp_rating);
    m.significant_rating =
        GetInt(ctx, sig, "significant", "item_significance", 1, 4).value_or(m.significant_rating);
    if (m.significant_rating < m.cusp_rating) {
      ctx.Error(sig, "item_significance", "significant must not be below cusp");
    }
  }
  if (YAML::Node ff = Get(ctx, root, "four_factor", "", true); ff.IsDefined()) {
    if (!ff.IsSequence() || ff.size() == 0) {
      ctx.Error(ff, "four_factor", "must be a non-empty list of factors");
    } else if (ff.size() > static_cast<size_t>(kMaxOutcomeFactors)) {
      ctx.Error(ff, "four_factor", internal::Cat("lists ", ff.size(), " factors; at most ", kMaxOutcomeFactors));
    } else {
      std::set<std::string> ids;
      for (size_t i = 0; i < ff.size(); ++i) {
        const YAML::Node n = ff[i];
        const std::string path = Idx("four_factor", i);
        CheckKeys(ctx, n, path, {"id", "name", "items", "max"});
        Factor f;
        f.id = GetString(ctx, n, "id", path).value_or("");
        if (!f.id.empty() && !ids.insert(f.id).second) {
          ctx.Error(n["id"], Sub(path, "id"), internal::Cat("factor \"", f.id, "\" is listed twice"));
        }
        f.name = GetString(ctx, n, "name", path).value_or("");
        YAML::Node items = Get(ctx, n, "items", path, true);
        if (items.IsDefined()) {
          if (!items.IsSequence() || items.size() == 0) {
            ctx.Error(items, Sub(path, "items"), "must be a non-empty list of HoNOS item numbers 1-12");
          } else {
            std::set<int> seen;
            for (size_t k = 0; k < items.size(); ++k) {
              auto v = ScalarInt(ctx, items[k], Idx(Sub(path, "items"), k), 1, kHonosItemCount);
              if (!v) continue;
              if (!seen.insert(*v).second) {
                ctx.Error(items[k], Idx(Sub(path, "items"), k), internal::Cat("item ", *v, " is listed twice"));
                continue;
              }
              f.items.push_back(*v - 1);
            }
          }
        }
        if (auto mx = GetInt(ctx, n, "max", path, 1, 48)) {
          f.max = *mx;
          if (!f.items.empty() && f.max != kMaxRating * static_cast<int>(f.items.size())) {
            ctx.Error(n["max"], Sub(path, "max"),
                      internal::Cat("is ", f.max, " but ", f.items.size(), " items rated 0-4 give ",
                                   kMaxRating * f.items.size()));
          }
        }
        m.factors.push_back(std::move(f));
      }
    }
  }
  auto pair = [&](std::string_view key, int lo, int hi, int* standard, int* severe) {
    YAML::Node n = Get(ctx, root, key, "", true);
    if (!n.IsDefined()) return;
    CheckKeys(ctx, n, key, {"standard", "severe"});
    *standard = GetInt(ctx, n, "standard", key, lo, hi).value_or(*standard);
    *severe = GetInt(ctx, n, "severe", key, lo, hi).value_or(*severe);
  };
  pair("reliable_change", 1, 48, &m.standard.reliable_change, &m.severe.reliable_change);
  pair("clinical_cutoff", 1, 48, &m.standard.clinical_cutoff, &m.severe.clinical_cutoff);
  m.remission_max = GetInt(ctx, root, "remission_max", "", 0, 48).value_or(m.remission_max);
  if (auto s = GetClusterSet(ctx, root, "severe_clusters", "")) m.severe_clusters = *s;
  if (YAML::Node eo = Get(ctx, root, "expected_outcomes", "", true); eo.IsDefined()) {
    if (!eo.IsSequence()) {
      ctx.Error(eo, "expected_outcomes", "must be a list");
    } else {
      std::set<int> seen;
      for (size_t i = 0; i < eo.size(); ++i) {
        const YAML::Node n = eo[i];
        const std::string path = Idx("expected_outcomes", i);
        CheckKeys(ctx, n, path, {"clusters", "outcomes", "matches", "text"});
        ExpectedOutcome e;
        if (auto s = GetClusterSet(ctx, n, "clusters", path)) {
          e.clusters = *s;
          for (int c : *s) {
            if (!seen.insert(c).second) {
              ctx.Error(n["clusters"], Sub(path, "clusters"),
                        internal::Cat("cluster ", c, " already has an expected outcome"));
            }
          }
        }
        if (auto s = GetEnumSet<OutcomeTag>(ctx, n, "outcomes", path, ParseOutcomeTag)) {
          e.tags.assign(s->begin(), s->end());
        }
        if (auto s = GetEnumSet<ReliableChange>(ctx, n, "matches", path, ParseReliableChange)) {
          e.matching_changes = *s;
        }
        e.text = GetString(ctx, n, "text", path).value_or("");
        m.expected_outcomes.push_back(std::move(e));
      }
    }
  }
  return Result(ctx, std::move(m));
}

// ---------------------------------------------------------------- KPIs

absl::StatusOr<KpiSettings> ParseKpiFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  KpiSettings k;
  CheckKeys(ctx, root, "", {"kind", "version", "description", "timing", "status", "kpis"});
  Header(ctx, root, RuleFileKind::kKpis, &k.version);
  if (YAML::Node st = Get(ctx, root, "status", "", false); st.IsDefined()) {
    CheckKeys(ctx, st, "status", {"amber_points_below_target"});
    if (YAML::Node a = Get(ctx, st, "amber_points_below_target", "status", true); a.IsDefined()) {
      double v = -1;
      if (!a.IsScalar() || !YAML::convert<double>::decode(a, v) || v < 0 || v > 100) {
        ctx.Error(a, "status.amber_points_below_target", "must be a number from 0 to 100");
      } else {
        k.amber_points_below_target = v;
      }
    }
  }
  if (YAML::Node t = Get(ctx, root, "timing", "", true); t.IsDefined()) {
    CheckKeys(ctx, t, "timing",
              {"max_initial_contacts", "max_initial_bed_nights", "initial_contacts_days",
               "memory_initial_contacts_days", "transfer_in_hours_days_before", "transfer_out_of_hours_hours",
               "discharge_review_hours", "early_review", "out_of_hours_window", "discharge_review_window"});
    auto get = [&](std::string_view key, int hi, int* out) {
      if (auto v = GetInt(ctx, t, key, "timing", 0, hi)) *out = *v;
    };
    get("max_initial_contacts", 100, &k.max_initial_contacts);
    get("max_initial_bed_nights", 100, &k.max_initial_bed_nights);
    get("initial_contacts_days", 3660, &k.initial_contacts_days);
    get("memory_initial_contacts_days", 3660, &k.memory_initial_contacts_days);
    get("transfer_in_hours_days_before", 366, &k.transfer_in_hours_days_before);
    get("transfer_out_of_hours_hours", 8784, &k.transfer_out_of_hours_hours);
    get("discharge_review_hours", 8784, &k.discharge_review_hours);
    // The readings the SOP leaves open; each optional, with the project's default (care/kpi.h).
    if (auto v = GetEnum<EarlyReview>(ctx, t, "early_review", "timing", false, ParseEarlyReview)) k.early_review = *v;
    if (auto v = GetEnum<OutOfHoursWindow>(ctx, t, "out_of_hours_window", "timing", false, ParseOutOfHoursWindow)) {
      k.out_of_hours_window = *v;
    }
    if (auto v = GetEnum<DischargeReviewWindow>(ctx, t, "discharge_review_window", "timing", false,
                                                ParseDischargeReviewWindow)) {
      k.discharge_review_window = *v;
    }
  }
  if (YAML::Node list = Get(ctx, root, "kpis", "", true); list.IsDefined()) {
    if (!list.IsSequence()) {
      ctx.Error(list, "kpis", "must be a list");
    } else {
      for (size_t i = 0; i < list.size(); ++i) {
        const YAML::Node n = list[i];
        const std::string path = Idx("kpis", i);
        CheckKeys(ctx, n, path, {"id", "title", "target_percent"});
        KpiDefinition d;
        d.id = GetString(ctx, n, "id", path).value_or("");
        d.title = GetString(ctx, n, "title", path).value_or("");
        if (YAML::Node tp = Get(ctx, n, "target_percent", path, true); tp.IsDefined()) {
          double v = -1;
          if (!tp.IsScalar() || !YAML::convert<double>::decode(tp, v) || v < 0 || v > 100) {
            ctx.Error(tp, Sub(path, "target_percent"), "must be a number from 0 to 100");
          } else {
            d.target_percent = v;
          }
        }
        if (d.id.empty()) continue;
        if (k.kpis.count(d.id)) {
          ctx.Error(n["id"], Sub(path, "id"), internal::Cat("KPI \"", d.id, "\" is listed twice"));
          continue;
        }
        k.kpis[d.id] = d;
      }
      std::vector<std::string> missing;
      for (int i = 1; i <= 13; ++i) {
        if (!k.kpis.count(internal::Cat("KPI", i))) missing.push_back(internal::Cat("KPI", i));
      }
      if (!k.kpis.count("ACC37")) missing.push_back("ACC37");
      if (!missing.empty()) {
        ctx.Error(list, "kpis", internal::Cat("missing ", absl::StrJoin(missing, ", ")));
      }
    }
  }
  return Result(ctx, std::move(k));
}

// ---------------------------------------------------------------- price lists

absl::StatusOr<PriceList> ParsePriceListFile(std::string_view yaml, std::string_view file_name) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  PriceList pl;
  CheckKeys(ctx, root, "",
            {"kind", "version", "description", "example", "commissioner", "financial_year", "basis",
             "review_policy", "currency", "prices"});
  Header(ctx, root, RuleFileKind::kPriceList, &pl.version);
  pl.commissioner = GetString(ctx, root, "commissioner", "").value_or("");
  if (auto s = GetString(ctx, root, "financial_year", "")) {
    auto fy = ParseFinancialYear(*s);
    if (fy.ok()) pl.year = *fy;
    else ctx.Error(root["financial_year"], "financial_year", std::string(fy.status().message()));
  }
  if (auto s = GetString(ctx, root, "basis", "")) {
    auto b = ParsePriceBasis(*s);
    if (b.ok()) pl.basis = *b;
    else ctx.Error(root["basis"], "basis", std::string(b.status().message()));
  }
  if (auto s = GetString(ctx, root, "review_policy", "", pl.basis == PriceBasis::kPerReviewPeriod)) {
    auto p = ParseReviewPolicy(*s);
    if (p.ok()) pl.review_policy = *p;
    else ctx.Error(root["review_policy"], "review_policy", std::string(p.status().message()));
  }
  if (auto s = GetString(ctx, root, "currency", "", false)) {
    if (*s != "GBP") ctx.Error(root["currency"], "currency", "only GBP is supported");
  }
  YAML::Node prices = Get(ctx, root, "prices", "", true);
  if (prices.IsDefined()) {
    if (!prices.IsMap() || prices.size() == 0) {
      ctx.Error(prices, "prices", "must map clusters to prices, e.g. \"4: 45.20\"");
    } else {
      for (auto it = prices.begin(); it != prices.end(); ++it) {
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
        const std::string path = Sub("prices", key);
        std::optional<int> c = ScalarCluster(ctx, it->first, path);
        std::optional<std::string> text = ScalarString(ctx, it->second, path);
        if (!c || !text) continue;
        if (pl.price_pence.count(*c)) {
          ctx.Error(it->first, path, internal::Cat("cluster ", *c, " is priced twice"));
          continue;
        }
        auto pence = ParseMoneyPence(*text);
        if (!pence.ok()) {
          ctx.Error(it->second, path, std::string(pence.status().message()));
          continue;
        }
        pl.price_pence[*c] = *pence;
      }
    }
  }
  return Result(ctx, std::move(pl));
}

// ---------------------------------------------------------------- teams

absl::StatusOr<Teams> ParseTeamsFile(std::string_view yaml, std::string_view file_name,
                                     const ServiceAreas* known_areas) {
  Ctx ctx(file_name);
  YAML::Node root;
  if (!LoadYaml(ctx, yaml, &root)) return ctx.Finish();
  Teams t;
  CheckKeys(ctx, root, "", {"kind", "version", "description", "example", "teams"});
  Header(ctx, root, RuleFileKind::kTeams, &t.version);
  if (auto b = GetBool(ctx, root, "example", "")) t.example = *b;
  YAML::Node list = Get(ctx, root, "teams", "", true);
  if (list.IsDefined()) {
    if (!list.IsSequence()) {
      ctx.Error(list, "teams", "must be a list of teams (use [] for none)");
    } else {
      for (size_t i = 0; i < list.size(); ++i) {
        const YAML::Node n = list[i];
        const std::string path = Idx("teams", i);
        if (!n.IsMap()) {
          ctx.Error(n, path, "must be a mapping with id, name, service_area, default_commissioner");
          continue;
        }
        CheckKeys(ctx, n, path, {"id", "name", "service_area", "default_commissioner", "memory_assessment_service"});
        // Ids become parts of keys (reporting's "<team>/<person>" index): no '/', no spaces.
        auto identifier = [&](std::string_view key) -> std::string {
          std::optional<std::string> s = GetString(ctx, n, key, path);
          if (!s) return "";
          if (std::string problem = TeamIdProblem(*s); !problem.empty()) {
            ctx.Error(n[std::string(key)], Sub(path, key), problem);
            return "";
          }
          return *s;
        };
        Team team;
        team.id = identifier("id");
        team.name = GetString(ctx, n, "name", path).value_or("");
        if (auto s = GetString(ctx, n, "service_area", path)) {
          team.service_area = *s;
          if (known_areas != nullptr && known_areas->Find(*s) == nullptr) {
            std::vector<std::string> ids;
            for (const ServiceArea& a : known_areas->areas) ids.push_back(a.id);
            ctx.Error(n["service_area"], Sub(path, "service_area"),
                      internal::Cat("\"", *s, "\" is not a service area of the rule set (", absl::StrJoin(ids, ", "),
                                   ")"));
          }
        }
        team.default_commissioner = identifier("default_commissioner");
        if (auto b = GetBool(ctx, n, "memory_assessment_service", path)) team.memory_assessment_service = *b;
        if (team.id.empty()) continue;
        if (t.teams.count(team.id)) {
          ctx.Error(n["id"], Sub(path, "id"), internal::Cat("team \"", team.id, "\" is listed twice"));
          continue;
        }
        t.teams.emplace(team.id, std::move(team));
      }
    }
  }
  return Result(ctx, std::move(t));
}

absl::Status ValidateRuleFile(std::string_view yaml, std::string_view file_name) {
  absl::StatusOr<RuleFileKind> kind = DetectRuleFileKind(yaml, file_name);
  if (!kind.ok()) return kind.status();
  switch (*kind) {
    case RuleFileKind::kManifest: return ParseManifestFile(yaml, file_name).status();
    case RuleFileKind::kClusters: return ParseClustersFile(yaml, file_name).status();
    case RuleFileKind::kReviewPeriods: return ParseReviewPeriodsFile(yaml, file_name).status();
    case RuleFileKind::kServiceAreas: return ParseServiceAreasFile(yaml, file_name).status();
    case RuleFileKind::kTransitions: return ParseTransitionsFile(yaml, file_name).status();
    case RuleFileKind::kScoringProfiles: return ParseScoringProfilesFile(yaml, file_name).status();
    case RuleFileKind::kOutcomes: return ParseOutcomesFile(yaml, file_name).status();
    case RuleFileKind::kKpis: return ParseKpiFile(yaml, file_name).status();
    case RuleFileKind::kPriceList: return ParsePriceListFile(yaml, file_name).status();
    case RuleFileKind::kTeams: return ParseTeamsFile(yaml, file_name).status();
  }
  return absl::InternalError("unreachable");
}

// ---------------------------------------------------------------- the whole set

namespace {

constexpr std::string_view kManifestName = "manifest.yaml";

}  // namespace

absl::StatusOr<RuleSet> RuleSet::LoadFromFiles(const std::map<std::string, std::string>& files) {
  auto manifest_it = files.find(std::string(kManifestName));
  if (manifest_it == files.end()) {
    return absl::InvalidArgumentError(internal::Cat(kManifestName, ": file not found"));
  }
  absl::StatusOr<Manifest> manifest = ParseManifestFile(manifest_it->second, kManifestName);
  if (!manifest.ok()) return manifest.status();

  std::vector<std::string> problems;
  uint64_t digest = internal::Fnv1a(1469598103934665603ull, manifest_it->second);
  // The same over the care rules alone (every file but the price lists): what the care version says.
  uint64_t care_digest = internal::Fnv1a(1469598103934665603ull, manifest->version);
  RuleData data;
  data.manifest_version = manifest->version;

  auto load = [&](const std::string& name, std::string_view field, auto parse, auto* out) {
    auto it = files.find(name);
    if (it == files.end()) {
      problems.push_back(internal::Cat(kManifestName, ": files.", field, ": file \"", name, "\" not found"));
      return;
    }
    digest = internal::Fnv1a(internal::Fnv1a(digest, name), it->second);
    if (field != "price_lists") care_digest = internal::Fnv1a(internal::Fnv1a(care_digest, name), it->second);
    auto parsed = parse(it->second, name);
    if (!parsed.ok()) {
      problems.push_back(std::string(std::string(parsed.status().message())));
      return;
    }
    *out = *std::move(parsed);
  };
  load(manifest->clusters, "clusters", ParseClustersFile, &data.catalogue);
  load(manifest->review_periods, "review_periods", ParseReviewPeriodsFile, &data.review_periods);
  load(manifest->service_areas, "service_areas", ParseServiceAreasFile, &data.service_areas);
  load(manifest->transitions, "transitions", ParseTransitionsFile, &data.transitions);
  load(manifest->scoring_profiles, "scoring_profiles", ParseScoringProfilesFile, &data.profiles);
  load(manifest->outcomes, "outcomes", ParseOutcomesFile, &data.outcomes);
  load(manifest->kpis, "kpis", ParseKpiFile, &data.kpis);
  // Each team's service area is checked against the areas just loaded (not when they failed to load).
  const ServiceAreas* areas = data.service_areas.areas.empty() ? nullptr : &data.service_areas;
  load(manifest->teams, "teams",
       [areas](std::string_view yaml, std::string_view name) { return ParseTeamsFile(yaml, name, areas); },
       &data.teams);
  for (const std::string& name : manifest->price_lists) {
    PriceList pl;
    const size_t before = problems.size();
    load(name, "price_lists", ParsePriceListFile, &pl);
    if (problems.size() == before) data.price_lists.push_back(std::move(pl));
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return FromData(std::move(data), absl::StrFormat("%08x", static_cast<uint32_t>(digest ^ (digest >> 32))),
                  absl::StrFormat("%08x", static_cast<uint32_t>(care_digest ^ (care_digest >> 32))));
}

absl::StatusOr<RuleSet> RuleSet::LoadFromDirectory(const std::string& dir) {
  auto read = [&](const std::string& rel, std::string* out) -> bool {
    std::ifstream in(dir + "/" + rel, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    return true;
  };
  std::map<std::string, std::string> files;
  std::string manifest_text;
  if (!read(std::string(kManifestName), &manifest_text)) {
    return absl::NotFoundError(internal::Cat(dir, "/", kManifestName, ": cannot read the rule manifest"));
  }
  absl::StatusOr<Manifest> manifest = ParseManifestFile(manifest_text, kManifestName);
  if (!manifest.ok()) return manifest.status();
  files[std::string(kManifestName)] = manifest_text;
  std::vector<std::string> names = {manifest->clusters, manifest->review_periods, manifest->service_areas,
                                    manifest->transitions, manifest->scoring_profiles, manifest->outcomes,
                                    manifest->kpis, manifest->teams};
  names.insert(names.end(), manifest->price_lists.begin(), manifest->price_lists.end());
  for (const std::string& name : names) {
    std::string text;
    if (read(name, &text)) files[name] = std::move(text);  // a missing file is reported by LoadFromFiles
  }
  return LoadFromFiles(files);
}

}  // namespace care
