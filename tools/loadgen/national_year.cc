#include "national_year.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "csv.h"  // tools/import: CsvField
#include "ledger_kinds.h"  // services/common: the contracts' enums as the rules' words

namespace pbr::loadgen {

using import::AssessmentRequest;
using import::CareEventRequest;
using import::ImportRow;

// ---------------------------------------------------------------------------------------------------------
// Randomness. splitmix64: a fixed sequence on every platform and standard library, cheap to seed per person
// (each person's rows depend only on the seed, the person's index and the review count handed to them).
namespace {

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix(state_ += 0x9E3779B97F4A7C15ULL); }
  // Uniform in [lo, hi] (the modulo bias is below 2^-40 for the small ranges used here).
  int64_t Between(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  size_t Weighted(std::span<const int> weights) {
    int total = 0;
    for (int w : weights) total += w;
    if (total <= 0) return 0;
    int64_t pick = Between(0, total - 1);
    for (size_t i = 0; i < weights.size(); ++i) {
      if (pick < weights[i]) return i;
      pick -= weights[i];
    }
    return weights.size() - 1;
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Between(0, static_cast<int64_t>(v.size()) - 1))];
  }

 private:
  uint64_t state_;
};

constexpr int kItems = care::kMhctItemCount;
using Items = std::array<int, kItems>;

// Which kind of care a service area is, from its id (rules/service_areas.yaml); a trust's own area ids
// fall under kOther, which takes any cluster the area holds.
enum class Path { kNonPsychosis, kPsychosis, kMemory, kCrisis, kInpatient, kOther };

Path PathOf(const std::string& area) {
  if (area == "community_non_psychosis") return Path::kNonPsychosis;
  if (area == "community_psychosis") return Path::kPsychosis;
  if (area == "memory_dementia") return Path::kMemory;
  if (area == "crht") return Path::kCrisis;
  if (area == "inpatient") return Path::kInpatient;
  return Path::kOther;
}

// How many people a national year refers to each pathway (relative).
int PathWeight(Path p) {
  switch (p) {
    case Path::kNonPsychosis: return 40;
    case Path::kPsychosis: return 27;
    case Path::kMemory: return 17;
    case Path::kCrisis: return 9;
    case Path::kInpatient: return 7;
    case Path::kOther: return 5;
  }
  return 5;
}

// The needs people arrive with, per pathway: the cluster their ratings are drawn to look like (the cluster
// recorded is then the rules' ranking of those ratings). 1-3 are "not used in secondary care" and held by no
// service area: a few arrive with such low needs anyway (recorded with a rationale, then stepped up or
// discharged). 7 and 11 are never used at a first presentation: people reach them at review.
struct ClusterMix {
  std::vector<int> clusters;
  std::vector<int> weights;
};
const ClusterMix* MixFor(Path p) {
  static const ClusterMix kNonPsychosis{{0, 1, 2, 3, 4, 5, 6, 8}, {3, 1, 1, 2, 44, 36, 24, 16}};
  static const ClusterMix kPsychosis{{10, 12, 13, 14, 15, 16, 17}, {28, 20, 16, 6, 4, 8, 8}};
  static const ClusterMix kMemory{{18, 19, 20, 21}, {10, 9, 5, 3}};
  static const ClusterMix kCrisis{{0, 4, 5, 6, 8, 10, 12, 13, 14, 15, 16, 17}, {1, 2, 3, 2, 3, 3, 2, 3, 8, 6, 2, 2}};
  static const ClusterMix kInpatient{{0, 5, 6, 8, 10, 13, 14, 15, 16, 17, 20, 21}, {1, 1, 1, 2, 3, 3, 8, 6, 3, 3, 2, 2}};
  switch (p) {
    case Path::kNonPsychosis: return &kNonPsychosis;
    case Path::kPsychosis: return &kPsychosis;
    case Path::kMemory: return &kMemory;
    case Path::kCrisis: return &kCrisis;
    case Path::kInpatient: return &kInpatient;
    case Path::kOther: return nullptr;  // the area's own clusters, evenly
  }
  return nullptr;
}

// The pathway a person steps down to from home treatment or a ward, by the cluster's super class.
Path StepDownPath(care::SuperClass s) {
  switch (s) {
    case care::SuperClass::kPsychosis: return Path::kPsychosis;
    case care::SuperClass::kOrganic: return Path::kMemory;
    default: return Path::kNonPsychosis;
  }
}

const char* ReasonWord(pbr::v1::AssessmentReason r) {
  switch (r) {
    case pbr::v1::ASSESSMENT_REASON_INITIAL: return "initial";
    case pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW: return "formal_review";
    case pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW: return "transfer_review";
    case pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW: return "discharge_review";
    case pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW: return "unplanned_review";
    default: return "";
  }
}

const char* ChangeWord(pbr::v1::ChangeClass c) {
  switch (c) {
    case pbr::v1::CHANGE_CLASS_IMPROVEMENT: return "improvement";
    case pbr::v1::CHANGE_CLASS_NO_CHANGE: return "no_change";
    case pbr::v1::CHANGE_CLASS_DETERIORATION: return "deterioration";
    case pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS: return "change_in_diagnosis";
    default: return "";
  }
}

const char* EventWord(pbr::v1::CareEventType t) {
  switch (t) {
    case pbr::v1::CARE_EVENT_REFERRAL_RECEIVED: return "referral_received";
    case pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT: return "referral_to_crht";
    case pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS: return "referral_to_inpatients";
    case pbr::v1::CARE_EVENT_ADMISSION: return "admission";
    case pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT: return "face_to_face_contact";
    case pbr::v1::CARE_EVENT_DISCHARGE_REVIEW: return "discharge_review";
    case pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE: return "discharge_from_service";
    case pbr::v1::CARE_EVENT_MHA_ASSESSMENT: return "mha_assessment";
    case pbr::v1::CARE_EVENT_MEDICATION_NON_CONCORDANCE: return "medication_non_concordance";
    default: return "";
  }
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// NHS numbers

int NhsCheckDigit(const char* d) {
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (d[i] - '0') * (10 - i);
  const int check = 11 - sum % 11;
  if (check == 11) return 0;
  return check == 10 ? -1 : check;
}

namespace {
constexpr int64_t kPrefixesPerRange = 1'000'000;

// The nine-digit prefix at position p: 999 000 000 ... 999 999 999, then 998 000 000 ... 998 999 999.
void PrefixAt(int64_t p, char out[10]) {
  const int64_t value = p < kPrefixesPerRange ? 999'000'000 + p : 998'000'000 + (p - kPrefixesPerRange);
  int64_t v = value;
  for (int i = 8; i >= 0; --i) {
    out[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

// The number for a prefix, or false when none is valid: check value 10, or ten equal digits (9999999999
// passes the check but is a placeholder EPRs use for "not known", and allocation refuses it).
bool NumberFor(char digits[10]) {
  const int check = NhsCheckDigit(digits);
  if (check < 0) return false;
  digits[9] = static_cast<char>('0' + check);
  return std::string_view(digits, 10).find_first_not_of(digits[0]) != std::string_view::npos;
}

// The next valid number at or after prefix position `cursor`, advancing it past the one returned.
std::string NextNhsNumber(int64_t& cursor) {
  char digits[10];
  for (;;) {
    PrefixAt(cursor++, digits);
    if (NumberFor(digits)) return std::string(digits, 10);
  }
}
}  // namespace

int64_t TestRangeCapacity() {
  static const int64_t kCapacity = [] {
    int64_t n = 0;
    char digits[10];
    for (int64_t p = 0; p < kPrefixesPerRange; ++p) {
      PrefixAt(p, digits);
      if (NumberFor(digits)) ++n;
    }
    return n;
  }();
  return kCapacity;
}

std::string NhsNumberAt(int64_t index) {
  int64_t cursor = 0;
  std::string n;
  for (int64_t i = 0; i <= index; ++i) n = NextNhsNumber(cursor);
  return n;
}

std::vector<std::string> SourceSystemNames(int n) {
  static const std::vector<std::string> kNames = {"rio-north",      "systmone-south", "rio-east",     "systmone-west",
                                                  "lorenzo-central", "carenotes-north", "rio-south",    "systmone-east",
                                                  "lorenzo-west",    "carenotes-south", "rio-central",  "systmone-north",
                                                  "lorenzo-east",    "carenotes-west",  "rio-west",     "systmone-central"};
  n = std::clamp(n, 0, kMaxSourceSystems);
  return std::vector<std::string>(kNames.begin(), kNames.begin() + n);
}

absl::Status ValidateOptions(const NationalYearOptions& o) {
  std::vector<std::string> problems;
  const int64_t max_people = 2 * TestRangeCapacity();
  if (o.people < 1 || o.people > max_people) {
    problems.push_back(absl::StrCat("--people: ", o.people, " is not 1-", max_people));
  } else if (o.assessments < o.people * (1 + kMinReviews) || o.assessments > o.people * (1 + kMaxReviews)) {
    problems.push_back(absl::StrCat("--assessments: ", o.assessments, " cannot be shared by ", o.people,
                                    " people with one initial assessment and 1-4 reviews each (give ",
                                    o.people * (1 + kMinReviews), "-", o.people * (1 + kMaxReviews), ")"));
  }
  if (o.source_systems < 1 || o.source_systems > kMaxSourceSystems) {
    problems.push_back(absl::StrCat("--source-systems: ", o.source_systems, " is not 1-", kMaxSourceSystems));
  }
  if (o.year_end.year() < 2002 || o.year_end.year() > 2199) {
    problems.push_back(absl::StrCat("--year-end: ", absl::FormatCivilTime(o.year_end),
                                    " is outside the platform's clinical window (2002-2199)"));
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------------
// What every person shares: the rules, the teams, the EPRs.

struct NationalYear::TeamInfo {
  std::string id;
  std::string area;
  Path path = Path::kOther;
  const care::ServiceArea* service_area = nullptr;
  std::string commissioner;
};

struct NationalYear::Shared {
  care::RuleSet rules;
  absl::TimeZone uk;
  std::vector<TeamInfo> teams;
  std::map<Path, std::vector<int>> teams_by_path;
  std::map<std::string, std::vector<int>> teams_by_area;
  std::vector<std::string> areas;  // areas with teams, in registry order of first team
  std::vector<int> area_weights;
  std::vector<std::string> sources;
  std::vector<std::string> commissioners;           // distinct team defaults, sorted
  std::array<int, 22> review_days{};                // roughly the SOP review period per cluster
  std::array<care::SuperClass, 22> super_class{};
  std::array<bool, 22> secondary{};                 // a valid cluster used in secondary care
  explicit Shared(care::RuleSet r) : rules(std::move(r)) {}
};

absl::StatusOr<NationalYear> NationalYear::Create(const care::RuleSet& rules, const NationalYearOptions& options) {
  if (auto st = ValidateOptions(options); !st.ok()) return st;
  auto shared = std::make_shared<Shared>(rules);
  if (!absl::LoadTimeZone("Europe/London", &shared->uk)) shared->uk = absl::UTCTimeZone();
  std::set<std::string> commissioners;
  for (const auto& [id, team] : rules.teams().teams) {
    const care::ServiceArea* area = rules.service_areas().Find(team.service_area);
    if (area == nullptr || area->allowed.empty()) continue;
    TeamInfo t;
    t.id = id;
    t.area = team.service_area;
    t.path = PathOf(team.service_area);
    t.service_area = area;
    t.commissioner = team.default_commissioner;
    const int index = static_cast<int>(shared->teams.size());
    shared->teams.push_back(std::move(t));
    shared->teams_by_path[shared->teams.back().path].push_back(index);
    auto& in_area = shared->teams_by_area[team.service_area];
    if (in_area.empty()) {
      shared->areas.push_back(team.service_area);
      shared->area_weights.push_back(PathWeight(PathOf(team.service_area)));
    }
    in_area.push_back(index);
    if (!team.default_commissioner.empty()) commissioners.insert(team.default_commissioner);
  }
  if (shared->teams.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the rules' team registry (teams ", rules.teams().version,
                                                      ") has no team in a known service area: nothing to generate"));
  }
  shared->commissioners.assign(commissioners.begin(), commissioners.end());
  shared->sources = SourceSystemNames(options.source_systems);
  for (int c = 0; c < 22; ++c) {
    const care::ClusterInfo* info = rules.FindCluster(c);
    shared->secondary[c] = info != nullptr && info->used_in_secondary_care && care::IsValidClusterId(c);
    shared->super_class[c] = info != nullptr ? info->super_class : care::SuperClass::kVariance;
    shared->review_days[c] = 182;
    if (info != nullptr) {
      if (auto due = rules.ReviewDueDate(c, options.year_end - 365); due.ok()) {
        shared->review_days[c] = static_cast<int>(std::max<int64_t>(7, due->due - (options.year_end - 365)));
      }
    }
  }

  NationalYear y;
  y.shared_ = std::move(shared);
  y.options_ = options;
  y.last_day_ = options.year_end - 1;
  y.first_day_ = options.year_end - 365;
  y.reviews_left_ = options.assessments - options.people;
  return y;
}

// Reviews for the next person: 1 + Binomial(3, p) with p chosen so that the expected count is what the
// remaining people still have to share, then kept feasible (every later person can still get 1-4), so the
// total is exactly --assessments and the spread stays realistic to the last person.
int NationalYear::DrawReviews(uint64_t& rng_state) {
  const int64_t people_left = options_.people - next_index_;
  const int64_t after = people_left - 1;
  const double mean = static_cast<double>(reviews_left_) / static_cast<double>(people_left);
  const double p = std::clamp((mean - kMinReviews) / (kMaxReviews - kMinReviews), 0.0, 1.0);
  Rng rng(rng_state);
  int reviews = kMinReviews;
  for (int i = 0; i < kMaxReviews - kMinReviews; ++i) reviews += rng.Chance(p) ? 1 : 0;
  rng_state = rng.Next();
  const int64_t lo = std::max<int64_t>(kMinReviews, reviews_left_ - kMaxReviews * after);
  const int64_t hi = std::min<int64_t>(kMaxReviews, reviews_left_ - kMinReviews * after);
  return static_cast<int>(std::clamp<int64_t>(reviews, lo, hi));
}

// ---------------------------------------------------------------------------------------------------------
// One person's year.

namespace {

constexpr int kItem8 = care::kItem8Index;

struct Trigger {
  absl::Time at;
  absl::CivilDay day;
  care::HistoryTrigger kind;
};

class PersonBuilder {
 public:
  using TeamInfo = NationalYear::TeamInfo;
  using Shared = NationalYear::Shared;

  PersonBuilder(const Shared& s, const NationalYearOptions& o, absl::CivilDay first_day, absl::CivilDay last_day,
                int64_t index, int reviews, PersonRecord& out)
      : s_(s),
        o_(o),
        first_day_(first_day),
        last_day_(last_day),
        index_(index),
        reviews_(reviews),
        out_(out),
        rng_(Mix(o.seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL) ^ Mix(static_cast<uint64_t>(index) + 1)) {}

  void Build() {
    ChoosePerson();
    Initial();
    for (int k = 1; k <= reviews_; ++k) Review(k);
    if (discharged_) Discharge();
    Finish();
  }

 private:
  // ---- the person ----
  void ChoosePerson() {
    const size_t area = rng_.Weighted(s_.area_weights);
    const std::vector<int>& in_area = s_.teams_by_area.at(s_.areas[area]);
    home_ = in_area[static_cast<size_t>(rng_.Between(0, static_cast<int64_t>(in_area.size()) - 1))];
    path_ = s_.teams[home_].path;
    team_ = home_;
    source_ = static_cast<int>(rng_.Between(0, static_cast<int64_t>(s_.sources.size()) - 1));
    discharged_ = rng_.Chance(0.2);
    severity_ = rng_.Unit();
    const double t = rng_.Unit();
    trajectory_ = t < 0.45 ? -1 : t < 0.8 ? 0 : 1;  // improving, stable, worsening
    if (const ClusterMix* mix = MixFor(path_)) {
      target_ = mix->clusters[rng_.Weighted(mix->weights)];
    } else {
      const auto& allowed = s_.teams[home_].service_area->allowed;
      auto it = allowed.begin();
      std::advance(it, rng_.Between(0, static_cast<int64_t>(allowed.size()) - 1));
      target_ = *it;
    }
    item8_type_ = static_cast<char>('A' + rng_.Between(0, 9));
  }

  // ---- times ----
  absl::Time At(absl::CivilDay day, int minute) const {
    return absl::FromCivil(absl::CivilMinute(day.year(), day.month(), day.day(), minute / 60, minute % 60), s_.uk);
  }
  absl::CivilDay DayOf(absl::Time t) const { return absl::ToCivilDay(t, s_.uk); }
  absl::Time Working(absl::CivilDay day) { return At(day, static_cast<int>(rng_.Between(9 * 60, 16 * 60 + 59))); }
  bool OutOfHours(absl::Time t) const {
    const absl::CivilMinute m = absl::ToCivilMinute(t, s_.uk);
    const absl::Weekday w = absl::GetWeekday(absl::CivilDay(m));
    return w == absl::Weekday::saturday || w == absl::Weekday::sunday || m.hour() < 9 || m.hour() >= 17;
  }

  // ---- rows ----
  const std::string& Source() const { return s_.sources[source_]; }
  std::string LocalId() const { return absl::StrCat("P", source_ + 1, "-", index_ + 1); }
  // The person's usual clinician in a team (stable), e.g. "c-cmht-north-042".
  std::string Clinician(int team, uint64_t salt = 0) const {
    const uint64_t h = Mix(static_cast<uint64_t>(index_) * 131 + static_cast<uint64_t>(team) * 7 + salt);
    return absl::StrCat("c-", s_.teams[team].id, "-", h % 150 + 1);
  }

  CareEventRequest& Event(pbr::v1::CareEventType type, absl::Time at, int team) {
    ImportRow& row = NextRow(at);
    CareEventRequest& e = row.request.emplace<CareEventRequest>();
    e.set_source_system(Source());
    e.set_source_record_id(absl::StrCat("E", o_.seed, "-", index_ + 1, "-", ++events_));
    e.set_nhs_number(out_.nhs_number);
    e.set_local_patient_id(LocalId());
    e.set_team_id(s_.teams[team].id);
    e.set_clinician_id(Clinician(team));
    e.set_type(type);
    *e.mutable_occurred_at() = ToProto(at);
    if (type == pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT || type == pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS) {
      e.set_out_of_hours(OutOfHours(at));
    }
    if (auto trigger = services::HistoryTriggerOf(services::CareEventKindOf(type))) triggers_.push_back({at, DayOf(at), *trigger});
    return e;
  }

  ImportRow& NextRow(absl::Time at) {
    if (used_ == out_.rows.size()) out_.rows.emplace_back();
    if (used_ == out_.times.size()) out_.times.emplace_back();
    out_.times[used_] = at;
    ImportRow& row = out_.rows[used_++];
    row.line = 0;
    return row;
  }

  AssessmentRequest& Assessment(pbr::v1::AssessmentReason reason, absl::Time at, int team) {
    ImportRow& row = NextRow(at);
    AssessmentRequest& a = row.request.emplace<AssessmentRequest>();
    a.set_source_system(Source());
    a.set_source_record_id(absl::StrCat("A", o_.seed, "-", index_ + 1, "-", ++assessments_));
    a.set_nhs_number(out_.nhs_number);
    a.set_local_patient_id(LocalId());
    a.set_team_id(s_.teams[team].id);
    // Now and then a colleague covers the assessment; the care co-ordinator stays the usual clinician.
    if (rng_.Chance(0.1)) {
      a.set_clinician_id(Clinician(team, 1 + assessments_));
      if (a.clinician_id() != Clinician(team)) a.set_care_coordinator_id(Clinician(team));
    } else {
      a.set_clinician_id(Clinician(team));
    }
    // Mostly the team's default commissioner (left empty); a few people are another commissioner's.
    if (s_.commissioners.size() > 1 && rng_.Chance(0.04)) {
      a.set_commissioner_id(rng_.Pick(s_.commissioners));
    }
    *a.mutable_assessed_at() = ToProto(at);
    a.set_reason(reason);
    return a;
  }

  // ---- ratings ----
  // Ratings that look like `cluster`'s scoring profile: a must-score row lands on a must cell; otherwise
  // expected cells are likely, possible ones less so, unlikely ones rare; severity tilts towards higher
  // ratings. Now and then an item is not known (9).
  Items RatingsLike(int cluster) {
    Items items{};
    const auto it = s_.rules.profiles().profiles.find(cluster);
    for (int i = 0; i < kItems; ++i) {
      std::array<int, 5> w{};
      bool has_must = false;
      if (it != s_.rules.profiles().profiles.end()) {
        const care::ItemRow& row = it->second.items[i];
        for (care::CellMark m : row) has_must |= m == care::CellMark::kMust;
        for (int r = 0; r < 5; ++r) {
          const care::CellMark m = row[r];
          int base = has_must ? (m == care::CellMark::kMust ? 100 : 0)
                              : m == care::CellMark::kExpected ? 60
                              : m == care::CellMark::kMay       ? 15
                                                                 : 1;
          const double tilt = 1.0 + (severity_ - 0.5) * 0.6 * (r - 2);
          w[r] = base == 0 ? 0 : std::max(1, static_cast<int>(base * tilt));
        }
      } else {
        w = {30, 30, 20, 12, 8};
      }
      items[i] = static_cast<int>(rng_.Weighted(w));
      if (!has_must && rng_.Chance(0.004)) items[i] = care::kNotKnown;
    }
    return items;
  }

  // A review's ratings: the last ones, a few items moved a point along the person's trajectory
  // (deterioration before an unplanned or crisis review). Items the current cluster must score stay on its
  // must-score cells: the needs that define the cluster change slowly, so most reviews can keep it.
  Items Drift(const Items& last, int direction) {
    Items items = last;
    const auto profile = s_.rules.profiles().profiles.find(cluster_);
    for (int i = 0; i < kItems; ++i) {
      const care::ItemRow* row = profile == s_.rules.profiles().profiles.end() ? nullptr : &profile->second.items[i];
      const bool has_must = row != nullptr && std::find(row->begin(), row->end(), care::CellMark::kMust) != row->end();
      if (has_must && rng_.Chance(0.9)) {
        // Keep to the must cells (move within them when the item changes).
        if (items[i] != care::kNotKnown && (*row)[items[i]] == care::CellMark::kMust && rng_.Chance(0.2)) {
          const int moved = std::clamp(items[i] + (direction != 0 ? direction : (rng_.Chance(0.5) ? 1 : -1)), 0, 4);
          if ((*row)[moved] == care::CellMark::kMust) items[i] = moved;
        }
        continue;
      }
      if (items[i] == care::kNotKnown) {
        if (rng_.Chance(0.5)) items[i] = static_cast<int>(rng_.Between(0, 2));
        continue;
      }
      if (!rng_.Chance(0.22)) continue;
      int step = rng_.Chance(0.7) ? direction : (rng_.Chance(0.5) ? 1 : -1);
      if (step == 0) step = rng_.Chance(0.5) ? 1 : -1;
      items[i] = std::clamp(items[i] + step, 0, care::kMaxRating);
    }
    return items;
  }

  void SetRatings(AssessmentRequest& a, const Items& items) {
    pbr::v1::MhctRatings* r = a.mutable_ratings();
    for (int v : items) r->add_items(v);
    if (items[kItem8] >= 1 && items[kItem8] <= 4) {
      r->set_item8_problem_type(std::string(1, item8_type_));
      if (item8_type_ == 'J') r->set_item8_other_text("hoarding, \"collections\" of papers");
    }
  }

  static int HonosTotal(const Items& items) {
    int t = 0;
    for (int i = 0; i < care::kHonosItemCount; ++i) t += items[i] == care::kNotKnown ? 0 : items[i];
    return t;
  }

  // ---- clusters ----
  // In the team's service area (a rarely-held cluster fits), used in secondary care.
  bool Fits(int cluster, int team) const {
    const care::ServiceArea* a = s_.teams[team].service_area;
    return s_.secondary[cluster] && (a->allowed.count(cluster) > 0 || a->rarely.count(cluster) > 0);
  }
  bool Acute(int team) const { return s_.teams[team].service_area->acute_pathway; }

  // The rules' own ranking (care::RankClusters, as SuggestClusters ranks), for generated ratings.
  care::ClusterRanking RankClusters(const Items& items) const {
    care::MhctRatings ratings;
    ratings.items = items;
    return care::RankClusters(s_.rules.profiles(), ratings);
  }

  bool RedRulesMet(const care::ClusterRanking& ranked, int cluster) const {
    return std::find(ranked.excluded.begin(), ranked.excluded.end(), cluster) == ranked.excluded.end();
  }

  // The initial allocation: the best-ranked cluster the team holds that may be used at a first presentation
  // (now and then the clinician's second choice); low needs (clusters 1-3) recorded with a rationale.
  void ChooseInitial(const Items& items, int team, int& cluster, std::string& rationale) {
    const care::ClusterRanking ranked = RankClusters(items);
    if (target_ >= 1 && target_ <= 3 && !ranked.ranked.empty() && ranked.ranked.front() == target_ &&
        rng_.Chance(0.5)) {
      cluster = target_;
      rationale = absl::StrCat("Low-severity needs (cluster ", target_,
                               ", not normally held in secondary care); held by the team pending discharge to "
                               "primary care, agreed at MDT");
      return;
    }
    std::vector<int> options;
    for (int c : ranked.ranked) {
      if (!Fits(c, team)) continue;
      if (!care::ClusterRestrictionProblem(s_.rules.transitions(), c, /*first_presentation=*/true, Acute(team),
                                           /*returning_patient=*/false)
               .empty()) {
        continue;
      }
      options.push_back(c);
      if (options.size() == 2) break;
    }
    if (options.empty()) {
      cluster = Fits(target_, team) ? target_ : *s_.teams[team].service_area->allowed.begin();
      rationale = absl::StrCat("Clinical judgement: cluster ", cluster,
                               " agreed at MDT although the ratings do not meet its scoring profile");
      return;
    }
    cluster = options.size() > 1 && rng_.Chance(0.15) ? options[1] : options[0];
    if (!RedRulesMet(ranked, cluster)) rationale = "Clinical judgement agreed at MDT";
  }

  bool Adherent(int from, int to, pbr::v1::ChangeClass change, absl::Time at, int team) const {
    care::TransitionQuery q;
    q.from_cluster = from;
    q.to_cluster = to;
    q.change = services::ChangeClassOf(change);
    q.review_date = DayOf(at);
    q.from_cluster_start = cluster_start_;
    q.cluster_before_from = cluster_before_;
    q.acute_pathway = Acute(team);
    for (const Trigger& t : triggers_) {
      if (t.at <= at && t.day <= q.review_date && t.day > q.review_date - 366) q.history.push_back({t.kind, t.day});
    }
    auto decision = s_.rules.CheckTransition(q);
    return decision.ok() && decision->adherent();
  }

  // A review: the ranking of the new ratings in the team's area, the current cluster kept more often than
  // not, the change class the ratings suggest first; the first choice the transition protocol accepts.
  void ChooseReview(const Items& items, int team, absl::Time at, int& cluster, pbr::v1::ChangeClass& change,
                    std::string& rationale) {
    const care::ClusterRanking ranked = RankClusters(items);
    const int from = cluster_;
    std::vector<int> candidates;
    const bool keep = Fits(from, team) && RedRulesMet(ranked, from);
    if (keep && rng_.Chance(0.6)) candidates.push_back(from);
    for (int c : ranked.ranked) {
      if (candidates.size() >= 4) break;
      if (Fits(c, team) && std::find(candidates.begin(), candidates.end(), c) == candidates.end()) {
        candidates.push_back(c);
      }
    }
    if (keep && std::find(candidates.begin(), candidates.end(), from) == candidates.end()) candidates.push_back(from);

    const int delta = HonosTotal(items) - HonosTotal(ratings_);
    const pbr::v1::ChangeClass natural = delta <= -2  ? pbr::v1::CHANGE_CLASS_IMPROVEMENT
                                         : delta >= 2 ? pbr::v1::CHANGE_CLASS_DETERIORATION
                                                      : pbr::v1::CHANGE_CLASS_NO_CHANGE;
    for (int to : candidates) {
      std::vector<pbr::v1::ChangeClass> classes;
      // Another super class is a change in diagnosis first; within one, the change the ratings show first.
      const bool other_kind = s_.super_class[to] != s_.super_class[from];
      if (other_kind) classes.push_back(pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS);
      classes.push_back(natural);
      for (auto c : {pbr::v1::CHANGE_CLASS_NO_CHANGE, pbr::v1::CHANGE_CLASS_IMPROVEMENT,
                     pbr::v1::CHANGE_CLASS_DETERIORATION}) {
        if (c != natural) classes.push_back(c);
      }
      for (auto c : classes) {
        if (Adherent(from, to, c, at, team)) {
          cluster = to;
          change = c;
          return;
        }
      }
    }
    // Nothing the protocol expects fits the ratings here: the clinician records the best fit with a reason.
    cluster = !candidates.empty() ? candidates.front() : (Fits(from, team) ? from : *s_.teams[team].service_area->allowed.begin());
    change = s_.super_class[cluster] != s_.super_class[from] ? pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS : natural;
    rationale = absl::StrCat("Transition outside the protocol agreed at MDT: ratings best fit cluster ", cluster);
  }

  void Record(AssessmentRequest& a, const Items& items, int cluster, const std::string& rationale, absl::Time at) {
    SetRatings(a, items);
    a.set_cluster(cluster);
    if (!rationale.empty()) a.set_clinical_rationale(rationale);
    if (cluster != cluster_ || !has_cluster_) {
      if (has_cluster_) cluster_before_ = cluster_;
      cluster_start_ = DayOf(std::max(at, opened_at_));
    }
    has_cluster_ = true;
    cluster_ = cluster;
    ratings_ = items;
  }

  // Face-to-face contacts on days strictly between two days, by `team` (none on a ward).
  void Contacts(absl::CivilDay after, absl::CivilDay before, int team) {
    const int64_t days = before - after - 1;
    if (days <= 0) return;
    const Path p = s_.teams[team].path;
    int every = p == Path::kCrisis ? 3 : p == Path::kMemory ? 60 : p == Path::kPsychosis ? 21 : 30;
    if (p == Path::kInpatient) return;
    int n = static_cast<int>(std::min<int64_t>(6, days / every + rng_.Between(0, 1)));
    std::vector<int64_t> picks;
    for (int i = 0; i < n; ++i) picks.push_back(rng_.Between(1, days));
    std::sort(picks.begin(), picks.end());
    picks.erase(std::unique(picks.begin(), picks.end()), picks.end());
    for (int64_t d : picks) Event(pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, Working(after + d), team);
  }

  int TeamOn(Path p, int otherwise) {
    auto it = s_.teams_by_path.find(p);
    if (it == s_.teams_by_path.end() || it->second.empty()) return otherwise;
    return it->second[static_cast<size_t>(rng_.Between(0, static_cast<int64_t>(it->second.size()) - 1))];
  }

  // ---- the year ----
  void Initial() {
    const int tail = discharged_ ? 15 : 0;
    const int64_t span = last_day_ - first_day_;
    const int64_t min_span = 14 + 6 * reviews_ + tail;
    const absl::CivilDay referral_day = first_day_ + rng_.Between(0, std::max<int64_t>(0, span - min_span));
    absl::Time referral = Working(referral_day);
    if (path_ == Path::kCrisis || path_ == Path::kInpatient) {
      referral = At(referral_day, static_cast<int>(rng_.Between(7 * 60, 21 * 60)));  // crises come at any hour
    }
    opened_at_ = referral;
    Event(pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, referral, team_);

    absl::Time initial;
    int contacts = 0;
    absl::Time first_contact;
    absl::Time admitted;
    if (path_ == Path::kCrisis) {
      Event(pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, referral + absl::Minutes(rng_.Between(10, 90)), team_);
      initial = referral + absl::Minutes(rng_.Between(120, 30 * 60));
    } else if (path_ == Path::kInpatient) {
      Event(pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS, referral + absl::Minutes(rng_.Between(10, 60)), team_);
      admitted = referral + absl::Minutes(rng_.Between(120, 6 * 60));
      Event(pbr::v1::CARE_EVENT_ADMISSION, admitted, team_);
      initial = admitted + absl::Minutes(rng_.Between(4 * 60, 50 * 60));
    } else {
      const absl::CivilDay day = referral_day + rng_.Between(2, 12);
      contacts = static_cast<int>(std::min<int64_t>(rng_.Between(1, 2), day - referral_day - 1));
      for (int i = 0; i < contacts; ++i) {
        const absl::Time t = Working(referral_day + 1 + i);
        if (i == 0) first_contact = t;
        Event(pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, t, team_);
      }
      initial = Working(day);
    }
    const Items items = RatingsLike(target_);
    int cluster = 0;
    std::string rationale;
    ChooseInitial(items, team_, cluster, rationale);
    AssessmentRequest& a = Assessment(pbr::v1::ASSESSMENT_REASON_INITIAL, initial, team_);
    if (contacts > 0) {
      a.set_face_to_face_contacts(contacts);
      *a.mutable_first_contact_at() = ToProto(first_contact);
    }
    if (path_ == Path::kInpatient) *a.mutable_admitted_at() = ToProto(admitted);
    // An inpatient allocation takes effect from the admission (the episode's start day).
    Record(a, items, cluster, rationale, path_ == Path::kInpatient ? admitted : initial);
    last_ = initial;
  }

  void Review(int k) {
    const int left = reviews_ - k + 1;
    const int tail = discharged_ ? 15 : 0;
    const absl::CivilDay prev = DayOf(last_);
    const int64_t room = (last_day_ - tail - prev) / left;  // days this review may take at most

    pbr::v1::AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW;
    int team = team_;
    int direction = trajectory_;
    int64_t gap = 0;
    enum class Lead { kNone, kCrht, kInpatients, kMha, kNonConcordance } lead = Lead::kNone;
    const int period = s_.review_days[cluster_];
    if (k == reviews_ && discharged_) {
      reason = pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW;
      direction = -1;
      gap = static_cast<int64_t>(period * (0.5 + 0.5 * rng_.Unit()));
    } else if (Acute(team_) && !Acute(home_)) {
      // Back from home treatment or a ward to the home team.
      reason = pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
      team = home_;
      direction = -1;
      gap = rng_.Between(7, 45);
    } else if (Acute(team_)) {
      // Referred in a crisis: stepped down to a community team for the cluster's kind of care.
      reason = pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
      team = TeamOn(StepDownPath(s_.super_class[cluster_]), team_);
      home_ = team;
      direction = -1;
      gap = rng_.Between(10, 60);
    } else if ((path_ == Path::kNonPsychosis || path_ == Path::kPsychosis) && rng_.Chance(0.10) &&
               s_.teams_by_path.count(Path::kCrisis)) {
      reason = pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
      team = TeamOn(Path::kCrisis, team_);
      lead = Lead::kCrht;
      direction = 1;
      gap = rng_.Between(5, 90);
    } else if (path_ == Path::kPsychosis && rng_.Chance(0.04) && s_.teams_by_path.count(Path::kInpatient)) {
      reason = pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
      team = TeamOn(Path::kInpatient, team_);
      lead = Lead::kInpatients;
      direction = 1;
      gap = rng_.Between(5, 90);
    } else if (rng_.Chance(0.05) && s_.teams_by_area.at(s_.teams[team_].area).size() > 1) {
      // Moved house: the same kind of team in another locality.
      reason = pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
      const auto& same = s_.teams_by_area.at(s_.teams[team_].area);
      while (team == team_) team = same[static_cast<size_t>(rng_.Between(0, static_cast<int64_t>(same.size()) - 1))];
      home_ = team;
      gap = static_cast<int64_t>(period * (0.3 + 0.6 * rng_.Unit()));
    } else if (rng_.Chance(0.12)) {
      reason = pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW;
      direction = 1;
      if (path_ == Path::kPsychosis) lead = rng_.Chance(0.5) ? Lead::kNonConcordance : Lead::kMha;
      else if (path_ == Path::kNonPsychosis && rng_.Chance(0.4)) lead = Lead::kMha;
      gap = rng_.Between(5, std::max(6, period / 2));
    } else {
      gap = static_cast<int64_t>(period * (0.75 + 0.27 * rng_.Unit()));  // around the due date, a few late
    }
    gap = std::clamp<int64_t>(gap, 4, std::max<int64_t>(4, room));
    const absl::CivilDay day = prev + gap;

    // A few days of care before the review, then what brought it about.
    const int64_t lead_back = rng_.Between(1, 2);
    const absl::CivilDay lead_day = day - lead_back > prev ? day - lead_back : day;
    Contacts(prev, lead == Lead::kNone ? day : lead_day, team_);
    auto lead_time = [&] {
      // The evening or night before, or the morning of the review if there is no day between.
      return lead_day == day ? At(day, static_cast<int>(rng_.Between(30, 8 * 60)))
                             : At(lead_day, static_cast<int>(rng_.Between(8 * 60, 23 * 60)));
    };
    switch (lead) {
      case Lead::kCrht: Event(pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, lead_time(), team); break;
      case Lead::kInpatients: {
        const absl::Time t = lead_time();
        Event(pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS, t, team);
        Event(pbr::v1::CARE_EVENT_ADMISSION, t + absl::Minutes(rng_.Between(20, 6 * 60)), team);
        break;
      }
      case Lead::kMha: Event(pbr::v1::CARE_EVENT_MHA_ASSESSMENT, lead_time(), team_); break;
      case Lead::kNonConcordance: Event(pbr::v1::CARE_EVENT_MEDICATION_NON_CONCORDANCE, lead_time(), team_); break;
      case Lead::kNone: break;
    }
    absl::Time at = Working(day);
    if (reason == pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW) {
      // The discharge review meeting, and the MHCT rated within the hours after it (KPI 12).
      Event(pbr::v1::CARE_EVENT_DISCHARGE_REVIEW, At(day, static_cast<int>(rng_.Between(8 * 60, 10 * 60))), team_);
      at = At(day, static_cast<int>(rng_.Between(11 * 60, 17 * 60)));
    }
    if (at <= last_) at = last_ + absl::Minutes(30);  // same-day admission: assessed after it

    const Items items = Drift(ratings_, direction);
    int cluster = 0;
    pbr::v1::ChangeClass change = pbr::v1::CHANGE_CLASS_NO_CHANGE;
    std::string rationale;
    ChooseReview(items, team, at, cluster, change, rationale);
    // A transfer to another team may be to one on another EPR: the person then has a local id there too.
    if (team != team_ && s_.sources.size() > 1 && rng_.Chance(0.25)) {
      source_ = (source_ + 1 + static_cast<int>(rng_.Between(0, static_cast<int64_t>(s_.sources.size()) - 2))) %
                static_cast<int>(s_.sources.size());
    }
    AssessmentRequest& a = Assessment(reason, at, team);
    a.set_change_class(change);
    Record(a, items, cluster, rationale, at);
    team_ = team;
    last_ = at;
  }

  void Discharge() {
    const absl::CivilDay day = DayOf(last_) + rng_.Between(1, 14);
    Event(pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Working(std::min(day, last_day_)), team_);
  }

  void Finish() {
    out_.rows.resize(used_);
    out_.times.resize(used_);
    // Rows in time order (a lead event is generated after the contacts before it, never after the review).
    std::vector<size_t> order(used_);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return out_.times[a] < out_.times[b]; });
    bool sorted = true;
    for (size_t i = 0; i < used_; ++i) sorted &= order[i] == i;
    if (!sorted) {
      std::vector<ImportRow> rows(used_);
      std::vector<absl::Time> times(used_);
      for (size_t i = 0; i < used_; ++i) {
        rows[i] = std::move(out_.rows[order[i]]);
        times[i] = out_.times[order[i]];
      }
      out_.rows = std::move(rows);
      out_.times = std::move(times);
    }
    out_.reviews = reviews_;
    out_.discharged = discharged_;
    out_.last_team = s_.teams[team_].id;
    out_.last_cluster = cluster_;
  }

  const Shared& s_;
  const NationalYearOptions& o_;
  const absl::CivilDay first_day_, last_day_;
  const int64_t index_;
  const int reviews_;
  PersonRecord& out_;
  Rng rng_;
  size_t used_ = 0;
  int assessments_ = 0, events_ = 0;

  int home_ = 0, team_ = 0, source_ = 0;
  Path path_ = Path::kOther;
  bool discharged_ = false;
  double severity_ = 0.5;
  int trajectory_ = 0;
  int target_ = 0;
  char item8_type_ = 'A';

  absl::Time opened_at_, last_;
  bool has_cluster_ = false;
  int cluster_ = 0;
  absl::CivilDay cluster_start_;
  std::optional<int> cluster_before_;
  Items ratings_{};
  std::vector<Trigger> triggers_;
};

}  // namespace

bool NationalYear::Next(PersonRecord& out) {
  if (next_index_ >= options_.people) return false;
  uint64_t draw_state = Mix(options_.seed ^ 0xA0761D6478BD642FULL) + static_cast<uint64_t>(next_index_) * 0x9E3779B97F4A7C15ULL;
  const int reviews = DrawReviews(draw_state);
  out.index = next_index_;
  out.nhs_number = NextNhsNumber(nhs_cursor_);
  out.rows.clear();
  out.times.clear();
  PersonBuilder(*shared_, options_, first_day_, last_day_, next_index_, reviews, out).Build();

  // Statistics.
  NationalYearStats& s = stats_;
  ++s.people;
  if (out.nhs_number.compare(0, 3, "999") != 0) ++s.outside_test_range;
  s.people_by_reviews[reviews]++;
  if (out.discharged) ++s.discharged;
  else ++s.caseload_by_team[out.last_team];
  for (size_t i = 0; i < out.rows.size(); ++i) {
    const ImportRow& row = out.rows[i];
    s.earliest = std::min(s.earliest, out.times[i]);
    s.latest = std::max(s.latest, out.times[i]);
    ++s.rows_by_source[row.source_system()];
    if (const auto* a = std::get_if<AssessmentRequest>(&row.request)) {
      ++s.assessments;
      ++s.assessments_by_cluster[a->cluster()];
      ++s.assessments_by_reason[ReasonWord(a->reason())];
      ++s.assessments_by_team[a->team_id()];
      if (!a->clinical_rationale().empty()) ++s.with_rationale;
    } else {
      ++s.care_events;
      ++s.care_events_by_type[EventWord(std::get<CareEventRequest>(row.request).type())];
    }
  }
  reviews_left_ -= reviews;
  ++next_index_;
  return true;
}

void NationalYear::Run(const std::function<bool(const PersonRecord&)>& emit) {
  PersonRecord person;
  while (Next(person)) {
    if (!emit(person)) return;
  }
}

// ---------------------------------------------------------------------------------------------------------
// CSV

const std::vector<std::string>& CsvColumns() {
  static const std::vector<std::string> kColumns = [] {
    std::vector<std::string> c = {"kind",         "source_system", "source_record_id", "nhs_number", "local_patient_id",
                                  "team_id",      "clinician_id",  "assessed_at",      "reason",     "cluster"};
    for (int i = 1; i <= 13; ++i) c.push_back(absl::StrCat("item", i));
    for (char x = 'A'; x <= 'E'; ++x) c.push_back(absl::StrCat("item", std::string(1, x)));
    for (const char* name : {"item8_problem_type", "item8_other_text", "commissioner_id", "care_coordinator_id",
                             "face_to_face_contacts", "first_contact_at", "admitted_at", "change_class",
                             "clinical_rationale", "event_type", "occurred_at", "out_of_hours"}) {
      c.push_back(name);
    }
    return c;
  }();
  return kColumns;
}

std::string CsvHeader() { return absl::StrCat(absl::StrJoin(CsvColumns(), ","), "\n"); }

namespace {
void Digits2(int v, std::string& out) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}
void AppendInt(int64_t v, std::string& out) {
  char buf[24];
  int n = 0;
  const bool negative = v < 0;
  uint64_t u = negative ? static_cast<uint64_t>(-v) : static_cast<uint64_t>(v);
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (negative) out.push_back('-');
  while (n > 0) out.push_back(buf[--n]);
}
// A text field: quoted only when it needs to be (pbr-import trims spaces, so ids never carry them).
void AppendText(const std::string& v, std::string& out) {
  if (v.find_first_of(",\"\r\n") == std::string::npos && (v.empty() || (v.front() != ' ' && v.back() != ' '))) {
    out += v;
  } else {
    out += import::CsvField(v);
  }
}
void AppendTime(const google::protobuf::Timestamp& t, std::string& out) { AppendUtcTime(t.seconds(), out); }
}  // namespace

void AppendUtcTime(int64_t unix_seconds, std::string& out) {
  // Days to civil date (Howard Hinnant's algorithm), proleptic Gregorian, UTC.
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  AppendInt(y, out);
  out.push_back('-');
  Digits2(m, out);
  out.push_back('-');
  Digits2(d, out);
  out.push_back('T');
  Digits2(static_cast<int>(secs / 3600), out);
  out.push_back(':');
  Digits2(static_cast<int>(secs / 60 % 60), out);
  out.push_back(':');
  Digits2(static_cast<int>(secs % 60), out);
  out.push_back('Z');
}

void AppendCsvRow(const ImportRow& row, std::string& out) {
  if (const auto* a = std::get_if<AssessmentRequest>(&row.request)) {
    out += "assessment,";
    AppendText(a->source_system(), out), out.push_back(',');
    AppendText(a->source_record_id(), out), out.push_back(',');
    AppendText(a->nhs_number(), out), out.push_back(',');
    AppendText(a->local_patient_id(), out), out.push_back(',');
    AppendText(a->team_id(), out), out.push_back(',');
    AppendText(a->clinician_id(), out), out.push_back(',');
    if (a->has_assessed_at()) AppendTime(a->assessed_at(), out);
    out.push_back(',');
    out += ReasonWord(a->reason());
    out.push_back(',');
    AppendInt(a->cluster(), out);
    const auto& r = a->ratings();
    for (int i = 0; i < kItems; ++i) {
      out.push_back(',');
      if (i < r.items_size()) AppendInt(r.items(i), out);
    }
    out.push_back(',');
    AppendText(r.item8_problem_type(), out), out.push_back(',');
    AppendText(r.item8_other_text(), out), out.push_back(',');
    AppendText(a->commissioner_id(), out), out.push_back(',');
    AppendText(a->care_coordinator_id(), out), out.push_back(',');
    if (a->face_to_face_contacts() > 0) AppendInt(a->face_to_face_contacts(), out);
    out.push_back(',');
    if (a->has_first_contact_at()) AppendTime(a->first_contact_at(), out);
    out.push_back(',');
    if (a->has_admitted_at()) AppendTime(a->admitted_at(), out);
    out.push_back(',');
    out += ChangeWord(a->change_class());
    out.push_back(',');
    AppendText(a->clinical_rationale(), out);
    out += ",,,\n";
    return;
  }
  const auto& e = std::get<CareEventRequest>(row.request);
  out += "care_event,";
  AppendText(e.source_system(), out), out.push_back(',');
  AppendText(e.source_record_id(), out), out.push_back(',');
  AppendText(e.nhs_number(), out), out.push_back(',');
  AppendText(e.local_patient_id(), out), out.push_back(',');
  AppendText(e.team_id(), out), out.push_back(',');
  AppendText(e.clinician_id(), out), out.push_back(',');
  // assessed_at .. clinical_rationale: 3 + 18 items + 9 more columns, all empty.
  out.append(30, ',');
  out += EventWord(e.type());
  out.push_back(',');
  AppendTime(e.occurred_at(), out);
  out.push_back(',');
  const bool referral =
      e.type() == pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT || e.type() == pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS;
  if (referral) out += e.out_of_hours() ? "true" : "false";
  out.push_back('\n');
}

}  // namespace pbr::loadgen
