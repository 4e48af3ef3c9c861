#include "care/profiles.h"
#include "internal.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace care {
namespace {

int Points(CellMark m) {
  switch (m) {
    case CellMark::kMust: return 2;
    case CellMark::kExpected: return 2;
    case CellMark::kMay: return 1;
    case CellMark::kUnlikely: return 0;
  }
  return 0;
}

// How one cluster's profile fits the ratings: what both the ranking and the explanations start from.
struct Fit {
  int points = 0, best = 0, expected_hits = 0, unlikely_hits = 0;
  bool broken = false;  // a must-score cell is not met
};

Fit FitOf(const ClusterProfile& profile, const MhctRatings& ratings) {
  Fit f;
  for (int i = 0; i < kMhctItemCount; ++i) {
    const ItemRow& row = profile.items[i];
    const int r = ratings.items[i];
    bool has_must = false;
    for (int v = 0; v < kRatingsPerItem; ++v) has_must = has_must || row[v] == CellMark::kMust;
    if (r == kNotKnown) {
      f.broken = f.broken || has_must;
      continue;
    }
    f.broken = f.broken || (has_must && row[r] != CellMark::kMust);
    f.best += 2;
    f.points += Points(row[r]);
    if (row[r] == CellMark::kMust || row[r] == CellMark::kExpected) ++f.expected_hits;
    else if (row[r] == CellMark::kUnlikely) ++f.unlikely_hits;
  }
  return f;
}

// The ranking's order: better fit first (every cluster is scored over the same rated items, so
// points compare as fits do), then fewer unlikely cells, then the lower cluster id.
bool RanksBefore(const Fit& a, int cluster_a, const Fit& b, int cluster_b) {
  if (a.points != b.points) return a.points > b.points;
  if (a.unlikely_hits != b.unlikely_hits) return a.unlikely_hits < b.unlikely_hits;
  return cluster_a < cluster_b;
}

// "2-4", "0-1, 3", "3".
std::string RatingList(const std::set<int>& s) {
  std::vector<std::string> parts;
  auto it = s.begin();
  while (it != s.end()) {
    int lo = *it, hi = *it;
    auto next = std::next(it);
    while (next != s.end() && *next == hi + 1) {
      hi = *next;
      ++next;
    }
    parts.push_back(lo == hi ? internal::Cat(lo) : internal::Cat(lo, "-", hi));
    it = next;
  }
  return absl::StrJoin(parts, ", ");
}

std::string ClusterName(int cluster, const ClusterCatalogue* catalogue) {
  if (catalogue != nullptr) {
    if (const ClusterInfo* info = catalogue->Find(cluster)) {
      return internal::Cat("Cluster ", cluster, " (", info->label, ")");
    }
  }
  return internal::Cat("Cluster ", cluster);
}

std::vector<BrokenRule> FindBroken(const ClusterProfile& p, const MhctRatings& r) {
  std::vector<BrokenRule> out;
  for (int i = 0; i < kMhctItemCount; ++i) {
    std::set<int> must;
    for (int v = 0; v < kRatingsPerItem; ++v) {
      if (p.items[i][v] == CellMark::kMust) must.insert(v);
    }
    if (must.empty()) continue;
    const int rating = r.items[i];
    if (must.count(rating)) continue;
    BrokenRule b;
    b.item = i;
    b.rating = rating;
    b.must_ratings = must;
    b.text = rating == kNotKnown
                 ? internal::Cat(MhctItemName(i), " is not known (9) but cluster ", p.cluster,
                                " must score ", RatingList(must), " on it")
                 : internal::Cat(MhctItemName(i), " is rated ", rating, " but cluster ", p.cluster,
                                " must score ", RatingList(must), " on it");
    out.push_back(std::move(b));
  }
  return out;
}

std::string JoinBroken(const std::vector<BrokenRule>& broken) {
  std::vector<std::string> texts;
  for (const auto& b : broken) texts.push_back(b.text);
  return absl::StrJoin(texts, "; ");
}

}  // namespace

char CellMarkCode(CellMark m) {
  switch (m) {
    case CellMark::kUnlikely: return 'U';
    case CellMark::kMay: return 'P';
    case CellMark::kExpected: return 'E';
    case CellMark::kMust: return 'M';
  }
  return '?';
}

absl::StatusOr<CellMark> ParseCellMark(char code) {
  switch (code) {
    case 'U': return CellMark::kUnlikely;
    case 'P': return CellMark::kMay;
    case 'E': return CellMark::kExpected;
    case 'M': return CellMark::kMust;
    default: break;
  }
  return absl::InvalidArgumentError(internal::Cat(
      "cell \"", std::string(1, code), "\" is not M (must), E (expected), P (may) or U (unlikely)"));
}

std::string_view CellMarkName(CellMark m) {
  switch (m) {
    case CellMark::kUnlikely: return "unlikely";
    case CellMark::kMay: return "may";
    case CellMark::kExpected: return "expected";
    case CellMark::kMust: return "must";
  }
  return "?";
}

absl::Status ValidateProfileSet(const ProfileSet& set) {
  std::vector<std::string> problems;
  for (int c = kMinCluster; c <= kMaxCluster; ++c) {
    if (IsValidClusterId(c) && !set.profiles.count(c)) {
      problems.push_back(internal::Cat("profiles: cluster ", c, " has no profile"));
    }
  }
  for (const auto& [key, p] : set.profiles) {
    if (!IsValidClusterId(key)) {
      problems.push_back(internal::Cat("profiles: cluster ", key, " is not a valid cluster (0-21, never 9)"));
      continue;
    }
    if (p.cluster != key) {
      problems.push_back(internal::Cat("profiles[", key, "]: profile says cluster ", p.cluster));
    }
    for (int i = 0; i < kMhctItemCount; ++i) {
      bool any_allowed = false;
      for (int v = 0; v < kRatingsPerItem; ++v) {
        const int m = static_cast<int>(p.items[i][v]);
        if (m < 0 || m > 3) {
          problems.push_back(internal::Cat("profiles[", key, "].item ", MhctItemCode(i), " rating ", v,
                                          ": unknown mark"));
        }
        if (p.items[i][v] != CellMark::kUnlikely) any_allowed = true;
      }
      if (!any_allowed) {
        problems.push_back(internal::Cat("profiles[", key, "].item ", MhctItemCode(i),
                                        ": every rating is unlikely; at least one must be allowed"));
      }
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

absl::StatusOr<RedRulesDecision> CheckRedRules(const ProfileSet& set, int cluster,
                                               const MhctRatings& ratings) {
  if (absl::Status s = ValidateMhct(ratings); !s.ok()) return s;
  if (!IsValidClusterId(cluster)) {
    return absl::InvalidArgumentError(
        internal::Cat("cluster: ", cluster, " is not a valid cluster (0-21, never 9)"));
  }
  auto it = set.profiles.find(cluster);
  if (it == set.profiles.end()) {
    return absl::NotFoundError(internal::Cat("cluster: no scoring profile for cluster ", cluster));
  }
  RedRulesDecision d;
  d.rule_version = set.version;
  d.example_profiles = set.example;
  d.broken = FindBroken(it->second, ratings);
  d.met = d.broken.empty();
  d.explanation =
      d.met ? internal::Cat("The ratings meet every must-score cell of cluster ", cluster, ".")
            : internal::Cat("The ratings break the red rules of cluster ", cluster, ": ",
                           JoinBroken(d.broken), ". Record a clinical rationale for this allocation.");
  return d;
}

ClusterRanking RankClusters(const ProfileSet& set, const MhctRatings& ratings) {
  std::vector<std::pair<int, Fit>> fits;
  ClusterRanking out;
  for (const auto& [cluster, profile] : set.profiles) {
    if (!IsValidClusterId(cluster)) continue;
    Fit f = FitOf(profile, ratings);
    if (f.broken) out.excluded.push_back(cluster);
    else fits.emplace_back(cluster, f);
  }
  std::sort(fits.begin(), fits.end(),
            [](const auto& a, const auto& b) { return RanksBefore(a.second, a.first, b.second, b.first); });
  for (const auto& [cluster, f] : fits) out.ranked.push_back(cluster);
  return out;
}

absl::StatusOr<SuggestionResult> SuggestClusters(const ProfileSet& set, const MhctRatings& ratings,
                                                 const ClusterCatalogue* catalogue) {
  if (absl::Status s = ValidateMhct(ratings); !s.ok()) return s;
  SuggestionResult result;
  result.rule_version = set.version;
  result.example_profiles = set.example;
  std::vector<std::pair<Fit, ClusterSuggestion>> all;
  for (const auto& [cluster, profile] : set.profiles) {
    if (!IsValidClusterId(cluster)) continue;
    const Fit f = FitOf(profile, ratings);
    ClusterSuggestion s;
    s.cluster = cluster;
    s.expected_hits = f.expected_hits;
    s.unlikely_hits = f.unlikely_hits;
    // The words of the explanation: which rated items match the profile and which it finds unlikely.
    std::vector<std::string> fits, unlikely;
    for (int i = 0; i < kMhctItemCount; ++i) {
      const int r = ratings.items[i];
      if (r == kNotKnown) continue;
      const CellMark m = profile.items[i][r];
      if ((m == CellMark::kMust || m == CellMark::kExpected) && r >= 2) {
        fits.push_back(internal::Cat(MhctItemName(i), " ", r));
      } else if (m == CellMark::kUnlikely) {
        unlikely.push_back(internal::Cat(MhctItemName(i), " ", r));
      }
    }
    s.fit = f.best > 0 ? static_cast<double>(f.points) / f.best : 0.0;
    s.broken = FindBroken(profile, ratings);
    s.excluded = !s.broken.empty();
    const std::string name = ClusterName(cluster, catalogue);
    const int pct = static_cast<int>(std::lround(s.fit * 100));
    if (s.excluded) {
      s.explanation = internal::Cat(name, " is excluded: ", JoinBroken(s.broken), ".");
    } else {
      s.explanation = internal::Cat(name, " fits ", pct, "% of its scoring profile; ", s.expected_hits,
                                   " of the rated items are where this cluster is expected to score.");
      if (!fits.empty()) {
        internal::Append(&s.explanation, " Needs that match it: ", absl::StrJoin(fits, ", "), ".");
      }
      if (!unlikely.empty()) {
        internal::Append(&s.explanation, " Ratings this cluster is unlikely to have: ",
                        absl::StrJoin(unlikely, ", "), ".");
      }
    }
    all.emplace_back(f, std::move(s));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return RanksBefore(a.first, a.second.cluster, b.first, b.second.cluster);
  });
  int rank = 0;
  for (auto& [f, s] : all) {
    if (s.excluded) {
      result.excluded.push_back(std::move(s));
    } else {
      ++rank;
      s.explanation = internal::Cat("Rank ", rank, ": ", s.explanation);
      result.ranked.push_back(std::move(s));
    }
  }
  if (set.example) {
    for (auto* list : {&result.ranked, &result.excluded}) {
      for (auto& s : *list) internal::Append(&s.explanation, " (Example profiles, not the national grid.)");
    }
  }
  return result;
}

}  // namespace care
