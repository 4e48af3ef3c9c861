#include "demo_data.h"

#include <algorithm>
#include <array>
#include <random>
#include <set>
#include <span>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace pbr::demo {
namespace {

constexpr int kItemCount = 18;  // MHCT items 1-13 then A-E
constexpr int kItem8Index = 7;
constexpr int kNotKnown = 9;
constexpr int kMaxPeople = 100000;  // keeps NHS numbers unique and record counters within six digits

// Randomness whose output is fixed by the seed on every platform: std::mt19937_64's sequence is
// specified by the standard, and the distributions below are ours (std::uniform_int_distribution's
// algorithm is left to each standard library).
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [lo, hi]. Rejects the short tail of the 64-bit range so the modulo is unbiased.
  int64_t Between(int64_t lo, int64_t hi) {
    const uint64_t n = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    uint64_t x = engine_();
    while (x < threshold) x = engine_();
    return lo + static_cast<int64_t>(x % n);
  }

  bool Chance(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p; }

  // An index into `weights`, chosen with probability proportional to its weight.
  size_t Weighted(std::span<const int> weights) {
    int total = 0;
    for (int w : weights) total += w;
    int64_t pick = Between(0, total - 1);
    for (size_t i = 0; i < weights.size(); ++i) {
      if (pick < weights[i]) return i;
      pick -= weights[i];
    }
    return weights.size() - 1;
  }

  template <typename T>
  const T& Pick(const std::vector<T>& values) {
    return values[static_cast<size_t>(Between(0, static_cast<int64_t>(values.size()) - 1))];
  }

 private:
  std::mt19937_64 engine_;
};

// Service areas from rules/service_areas.yaml, recognised from the team id.
enum class TeamKind { kCommunity, kPsychosis, kMemory, kCrisis, kInpatient, kAny };

TeamKind KindOf(const std::string& team) {
  if (absl::StrContains(team, "eip") || absl::StrContains(team, "psychosis")) return TeamKind::kPsychosis;
  if (absl::StrContains(team, "cmht")) return TeamKind::kCommunity;
  if (absl::StrContains(team, "memory")) return TeamKind::kMemory;
  if (absl::StrContains(team, "crht")) return TeamKind::kCrisis;
  if (absl::StrContains(team, "inpatient") || absl::StrContains(team, "ward")) return TeamKind::kInpatient;
  return TeamKind::kAny;
}

// Relative team sizes: community teams carry the largest caseloads, acute teams the smallest.
int TeamWeight(TeamKind kind) {
  switch (kind) {
    case TeamKind::kCommunity: return 3;
    case TeamKind::kCrisis:
    case TeamKind::kInpatient: return 1;
    default: return 2;
  }
}

struct ClusterMix {
  std::vector<int> clusters;
  std::vector<int> weights;
  bool Holds(int cluster) const {
    return std::find(clusters.begin(), clusters.end(), cluster) != clusters.end();
  }
};

// Clusters each kind of team holds (a subset of its service area) and how common each is there.
const ClusterMix& MixFor(TeamKind kind) {
  static const ClusterMix kCommunity{{0, 4, 5, 6, 7, 8}, {1, 6, 5, 3, 4, 2}};
  static const ClusterMix kPsychosis{{10, 11, 12, 13, 14, 15, 16, 17}, {6, 3, 3, 2, 1, 1, 1, 1}};
  static const ClusterMix kMemory{{18, 19, 20, 21}, {4, 4, 2, 1}};
  static const ClusterMix kCrisis{{4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 17}, {1, 2, 1, 2, 2, 1, 1, 1, 5, 4, 1, 1}};
  static const ClusterMix kInpatient{{5, 7, 8, 10, 13, 14, 15, 16, 17, 20, 21}, {1, 1, 2, 2, 2, 5, 4, 2, 2, 1, 1}};
  static const ClusterMix kAny{{0, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21},
                               {1, 3, 3, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1, 1, 2, 2, 1, 1}};
  switch (kind) {
    case TeamKind::kCommunity: return kCommunity;
    case TeamKind::kPsychosis: return kPsychosis;
    case TeamKind::kMemory: return kMemory;
    case TeamKind::kCrisis: return kCrisis;
    case TeamKind::kInpatient: return kInpatient;
    case TeamKind::kAny: return kAny;
  }
  return kAny;
}

// Clusters a review may move to: the improvement, no-change and deterioration columns of
// rules/transitions.yaml, without changes of diagnosis (which would mean another team).
const std::vector<int>& MovesFrom(int cluster) {
  static const std::array<std::vector<int>, 22> kMoves = {{
      {4, 5, 6}, {}, {}, {}, {5, 6}, {6, 7}, {5, 7}, {5, 8}, {7}, {},
      {11, 12, 13, 14, 15}, {12, 13}, {11, 13}, {12, 14, 16, 17}, {10, 13, 15, 16, 17},
      {10, 13, 14}, {13, 14}, {13, 14}, {19}, {20, 21}, {21}, {},
  }};
  return kMoves[static_cast<size_t>(cluster)];
}

// Days between reviews under the trust SOP (rules/review_periods.yaml).
int ReviewPeriodDays(int cluster) {
  if (cluster == 14 || cluster == 15) return 28;
  if (cluster == 18) return 365;
  return 182;
}

// The MHCT items (0-based) that drive each cluster, so ratings look like the chosen cluster.
const std::vector<int>& KeyItems(int cluster) {
  static const std::array<std::vector<int>, 22> kKeys = {{
      {6, 8}, {6}, {6}, {6}, {6, 7, 8}, {6, 7, 8, 11}, {7, 12}, {6, 7, 8, 11, 14},
      {0, 1, 2, 8, 13, 14}, {}, {5, 12}, {8, 11}, {8, 9, 11}, {5, 8, 9, 11, 12},
      {0, 5, 12, 13}, {1, 5, 6}, {0, 2, 5}, {0, 5, 16}, {3}, {3, 9}, {3, 4, 9, 17}, {3, 4, 9},
  }};
  return kKeys[static_cast<size_t>(cluster)];
}

int BackgroundRating(Random& rng) {
  static constexpr std::array<int, 3> kWeights = {50, 35, 15};  // ratings 0, 1, 2
  return static_cast<int>(rng.Weighted(kWeights));
}

// Item 8's problem type ("A".."J") and, for "J", the free text the tool asks for.
void SetItem8Type(Random& rng, int cluster, pbr::v1::MhctRatings& ratings) {
  static const std::vector<std::string> kNonPsychotic = {"A", "B", "B", "B", "C", "D", "D", "G", "H"};
  static const std::vector<std::string> kOther = {"D", "H", "H", "B", "J"};
  static const std::vector<std::string> kOtherText = {"hoarding", "tics", "gambling", "compulsive spending"};
  const std::string& type = rng.Pick(cluster <= 8 ? kNonPsychotic : kOther);
  ratings.set_item8_problem_type(type);
  if (type == "J") ratings.set_item8_other_text(rng.Pick(kOtherText));
}

pbr::v1::MhctRatings MakeRatings(Random& rng, int cluster, int review_index) {
  std::array<int, kItemCount> items{};
  for (int& v : items) v = BackgroundRating(rng);
  // Care works a little: later reviews tend to rate the cluster's key items lower.
  const int improvement = (review_index > 0 && rng.Chance(0.4)) ? 1 : 0;
  for (int i : KeyItems(cluster)) items[i] = std::clamp(2 + static_cast<int>(rng.Between(0, 2)) - improvement, 0, 4);
  for (int& v : items) {
    if (rng.Chance(0.006)) v = kNotKnown;  // now and then an item could not be rated
  }
  pbr::v1::MhctRatings ratings;
  for (int v : items) ratings.add_items(v);
  const int item8 = items[kItem8Index];
  if (item8 >= 1 && item8 <= 4) SetItem8Type(rng, cluster, ratings);
  return ratings;
}

int FirstCluster(Random& rng, TeamKind kind) {
  const ClusterMix& mix = MixFor(kind);
  return mix.clusters[rng.Weighted(mix.weights)];
}

// Most reviews keep the cluster; some move along a transition the team can still hold.
int NextCluster(Random& rng, TeamKind kind, int cluster) {
  if (rng.Chance(0.75)) return cluster;
  std::vector<int> options;
  for (int c : MovesFrom(cluster)) {
    if (MixFor(kind).Holds(c)) options.push_back(c);
  }
  return options.empty() ? cluster : rng.Pick(options);
}

pbr::v1::AssessmentReason ReviewReason(Random& rng) {
  static constexpr std::array<int, 3> kWeights = {80, 12, 8};
  static constexpr std::array<pbr::v1::AssessmentReason, 3> kReasons = {
      pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW,
      pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW};
  return kReasons[rng.Weighted(kWeights)];
}

std::string UniqueNhsNumber(Random& rng, std::set<std::string>& used) {
  for (;;) {
    const std::string first_nine = absl::StrFormat("999%06d", rng.Between(0, 999999));
    const int check = NhsCheckDigit(first_nine);
    if (check < 0) continue;
    std::string number = first_nine + static_cast<char>('0' + check);
    if (used.insert(number).second) return number;
  }
}

std::string Clinician(Random& rng, const std::string& team) {
  return absl::StrFormat("clin-%s-%02d", team, rng.Between(1, 5));
}

// Another team of the same kind (where a transferred person goes), or the same team if there is none.
std::string SiblingTeam(Random& rng, const std::vector<std::string>& teams, const std::string& team) {
  std::vector<std::string> siblings;
  for (const std::string& t : teams) {
    if (t != team && KindOf(t) == KindOf(team)) siblings.push_back(t);
  }
  return siblings.empty() ? team : rng.Pick(siblings);
}

// One planned assessment of a person.
struct Visit {
  int day = 0;  // days since the start of the history window (since the first visit while planning)
  int cluster = 0;
  size_t epr = 0;
  std::string team;
  std::string clinician;
  std::string care_coordinator;  // the clinician who took the person on in this team
  pbr::v1::AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_INITIAL;
};

class Generator {
 public:
  explicit Generator(const DemoOptions& options)
      : options_(options),
        rng_(options.seed),
        window_days_(365 * std::max(options.history_years, 1)),
        window_start_(absl::ToCivilDay(options.now, absl::UTCTimeZone()) - window_days_) {
    for (const std::string& t : options_.teams) team_weights_.push_back(TeamWeight(KindOf(t)));
  }

  std::vector<pbr::v1::RecordAssessmentRequest> Run() {
    const int people = std::clamp(options_.people, 0, kMaxPeople);
    if (options_.teams.empty() || options_.epr_systems.empty()) return {};
    for (int p = 0; p < people; ++p) AddPerson();
    std::sort(out_.begin(), out_.end(), [](const auto& a, const auto& b) {
      if (a.assessed_at().seconds() != b.assessed_at().seconds()) {
        return a.assessed_at().seconds() < b.assessed_at().seconds();
      }
      if (a.source_system() != b.source_system()) return a.source_system() < b.source_system();
      return a.source_record_id() < b.source_record_id();
    });
    return std::move(out_);
  }

 private:
  void AddPerson() {
    const std::string nhs_number = UniqueNhsNumber(rng_, nhs_numbers_);
    std::vector<Visit> visits = PlanVisits();
    PlaceInWindow(visits);
    for (size_t k = 0; k < visits.size(); ++k) {
      auto r = MakeRequest(nhs_number, visits[k], static_cast<int>(k));
      if (k > 0) r.set_change_class(ChangeClassOf(visits[k - 1].cluster, visits[k].cluster));
      out_.push_back(std::move(r));
    }
  }

  // The person's assessments with days counted from the first (day 0), spanning less than the window.
  std::vector<Visit> PlanVisits() {
    static constexpr std::array<int, 5> kCountWeights = {15, 25, 25, 20, 15};  // 1..5 assessments
    Visit v;
    v.team = options_.teams[rng_.Weighted(team_weights_)];
    v.epr = static_cast<size_t>(rng_.Between(0, static_cast<int64_t>(options_.epr_systems.size()) - 1));
    v.clinician = Clinician(rng_, v.team);
    v.care_coordinator = v.clinician;
    v.cluster = FirstCluster(rng_, KindOf(v.team));
    // About one person in seven moves to the other EPR part way through: same NHS number, so the
    // platform sees one person with a history in both systems.
    const bool moves_epr = options_.epr_systems.size() > 1 && rng_.Chance(0.15);
    int count = static_cast<int>(rng_.Weighted(kCountWeights)) + 1;
    if (moves_epr) count = std::max(count, 2);
    const int move_at = moves_epr ? static_cast<int>(rng_.Between(1, count - 1)) : -1;

    std::vector<Visit> visits = {v};
    for (int k = 1; k < count; ++k) {
      // Reviewed a little before or after the cluster's review period ends.
      const int gap = std::max(7, ReviewPeriodDays(v.cluster) * static_cast<int>(rng_.Between(55, 105)) / 100);
      if (v.day + gap >= window_days_) {
        if (k > move_at || v.day + 1 >= window_days_) break;
        v.day = window_days_ - 1;  // an EPR move is still to come: bring it forward to fit the window
      } else {
        v.day += gap;
      }
      v.reason = ReviewReason(rng_);
      if (k == move_at) {
        v.epr = (v.epr + 1) % options_.epr_systems.size();
        v.team = SiblingTeam(rng_, options_.teams, v.team);
        v.clinician = Clinician(rng_, v.team);
        v.care_coordinator = v.clinician;
        v.reason = pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
      } else if (rng_.Chance(0.15)) {
        v.clinician = Clinician(rng_, v.team);  // a colleague covered this review; the care co-ordinator stays
      }
      v.cluster = NextCluster(rng_, KindOf(v.team), v.cluster);
      visits.push_back(v);
    }
    return visits;
  }

  // Shifts the history into the window. Most people are still in care, so their latest assessment is
  // recent: a few are due or overdue for review, as on a real caseload. The rest left care some time
  // ago, half of them with a discharge review.
  void PlaceInWindow(std::vector<Visit>& visits) {
    const int span = visits.back().day;
    const int last_day = window_days_ - 1;
    int end = 0;
    if (rng_.Chance(0.8)) {
      end = last_day - static_cast<int>(rng_.Between(0, ReviewPeriodDays(visits.back().cluster) * 105 / 100));
    } else {
      end = static_cast<int>(rng_.Between(span, last_day));
      if (visits.size() > 1 && visits.back().reason != pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW &&
          rng_.Chance(0.5)) {
        visits.back().reason = pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW;
      }
    }
    const int offset = std::clamp(end, span, last_day) - span;
    for (Visit& v : visits) v.day += offset;
  }

  pbr::v1::RecordAssessmentRequest MakeRequest(const std::string& nhs_number, const Visit& v, int review_index) {
    pbr::v1::RecordAssessmentRequest r;
    const std::string& epr = options_.epr_systems[v.epr];
    r.set_source_system(epr);
    r.set_source_record_id(absl::StrFormat("%s-A%d%06d", epr, options_.seed, ++record_counter_));
    r.set_nhs_number(nhs_number);
    r.set_team_id(v.team);
    r.set_clinician_id(v.clinician);
    if (v.care_coordinator != v.clinician) r.set_care_coordinator_id(v.care_coordinator);
    // Clinic hours, 09:00-17:00 UTC.
    const absl::CivilMinute when = absl::CivilMinute(window_start_ + v.day) + rng_.Between(9 * 60, 17 * 60);
    r.mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(absl::FromCivil(when, absl::UTCTimeZone())));
    *r.mutable_ratings() = MakeRatings(rng_, v.cluster, review_index);
    r.set_cluster(v.cluster);
    r.set_reason(v.reason);
    // The ratings are synthetic, so the chosen cluster may break the (example) red rules or the
    // transition protocol: say so, as a clinician must.
    r.set_clinical_rationale("synthetic demo data");
    return r;
  }

  // A plausible change class for a review: same cluster is no change; a move up the cluster
  // numbers within a super-class reads as deterioration, down as improvement.
  static pbr::v1::ChangeClass ChangeClassOf(int from, int to) {
    if (from == to) return pbr::v1::CHANGE_CLASS_NO_CHANGE;
    auto super_class = [](int c) { return c == 0 ? 0 : c <= 8 ? 1 : c <= 17 ? 2 : 3; };
    if (super_class(from) != super_class(to)) return pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS;
    return to > from ? pbr::v1::CHANGE_CLASS_DETERIORATION : pbr::v1::CHANGE_CLASS_IMPROVEMENT;
  }

  const DemoOptions& options_;
  Random rng_;
  const int window_days_;
  const absl::CivilDay window_start_;
  std::vector<int> team_weights_;
  std::set<std::string> nhs_numbers_;
  int record_counter_ = 0;
  std::vector<pbr::v1::RecordAssessmentRequest> out_;
};

}  // namespace

int NhsCheckDigit(const std::string& first_nine) {
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (first_nine[static_cast<size_t>(i)] - '0') * (10 - i);
  const int check = 11 - sum % 11;
  if (check == 11) return 0;
  return check == 10 ? -1 : check;
}

std::vector<pbr::v1::RecordAssessmentRequest> GenerateDemoAssessments(const DemoOptions& options) {
  return Generator(options).Run();
}

}  // namespace pbr::demo
