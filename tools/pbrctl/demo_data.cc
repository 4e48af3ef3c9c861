#include "demo_data.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "care/kpi.h"
#include "care/review_triggers.h"
#include "ledger/ledger.h"
#include "ledger_kinds.h"

namespace pbr::demo {
namespace {

using pbr::v1::AssessmentReason;
using pbr::v1::CareEventType;

constexpr int kItemCount = 18;  // MHCT items 1-13 then A-E
constexpr int kItem8Index = 7;
constexpr int kNotKnown = 9;
constexpr int kMaxPeople = 100000;  // keeps NHS numbers unique
constexpr int kMaxPeriods = 3;      // referral periods per person (a few are re-referred)

// Randomness whose output is fixed by the seed on every platform: std::mt19937_64's sequence is
// specified by the standard, and the distributions below are ours (std::uniform_int_distribution's
// algorithm is left to each standard library).
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [lo, hi]. Rejects the short tail of the 64-bit range so the modulo is unbiased.
  int64_t Between(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
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

bool Acute(TeamKind kind) { return kind == TeamKind::kCrisis || kind == TeamKind::kInpatient; }

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

// Roughly the days between reviews under the trust SOP (rules/review_periods.yaml): formal reviews are
// placed around this, some early and some late, so the due dates themselves are the rules' to compute.
int ReviewPeriodDays(int cluster) {
  if (cluster == 14 || cluster == 15) return 28;
  if (cluster == 18) return 365;
  return 182;
}

// Days between face-to-face contacts with the team then holding the person; 0: none recorded (a ward).
std::pair<int, int> ContactGapDays(TeamKind kind) {
  switch (kind) {
    case TeamKind::kPsychosis: return {10, 35};
    case TeamKind::kMemory: return {35, 110};
    case TeamKind::kCrisis: return {1, 3};
    case TeamKind::kInpatient: return {0, 0};
    default: return {18, 56};
  }
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
  ratings.clear_item8_other_text();
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

// A cluster for a team of `kind` reviewing someone on `from`: kept with probability `keep` when the team
// holds it, otherwise a transition the team can hold, else the team's usual mix.
int ReviewCluster(Random& rng, TeamKind kind, int from, double keep) {
  const ClusterMix& mix = MixFor(kind);
  if (mix.Holds(from) && rng.Chance(keep)) return from;
  std::vector<int> options;
  for (int c : MovesFrom(from)) {
    if (mix.Holds(c)) options.push_back(c);
  }
  if (!options.empty()) return rng.Pick(options);
  return mix.Holds(from) ? from : FirstCluster(rng, kind);
}

// A plausible change class for a review: same cluster is no change; a move up the cluster
// numbers within a super-class reads as deterioration, down as improvement.
pbr::v1::ChangeClass ChangeClassOf(int from, int to) {
  if (from == to) return pbr::v1::CHANGE_CLASS_NO_CHANGE;
  auto super_class = [](int c) { return c == 0 ? 0 : c <= 8 ? 1 : c <= 17 ? 2 : 3; };
  if (super_class(from) != super_class(to)) return pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS;
  return to > from ? pbr::v1::CHANGE_CLASS_DETERIORATION : pbr::v1::CHANGE_CLASS_IMPROVEMENT;
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

absl::Time FromProto(const google::protobuf::Timestamp& t) { return absl::FromUnixSeconds(t.seconds()); }

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

// The clinical time zone (UK civil time), as the platform reads clinical days; UTC if the zone data is
// missing, as the platform falls back too.
const absl::TimeZone& UkZone() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/London", z)) *z = absl::UTCTimeZone();
    return z;
  }();
  return *zone;
}

absl::CivilDay DayOf(absl::Time t) { return absl::ToCivilDay(t, UkZone()); }

absl::Time Local(absl::CivilDay day, int64_t minute_of_day) {
  return absl::FromCivil(absl::CivilMinute(day) + minute_of_day, UkZone());
}

bool Weekend(absl::CivilDay day) {
  const absl::Weekday w = absl::GetWeekday(day);
  return w == absl::Weekday::saturday || w == absl::Weekday::sunday;
}

constexpr absl::Duration kGap = absl::Minutes(30);  // between one person's consecutive assessments and triggers

// One person while their history is generated: the calls so far and what the ledger makes of them.
struct Person {
  std::string nhs_number;
  size_t epr = 0;
  std::string home;        // the team responsible for the person's care
  std::string team;        // the team holding the review basis (home, or home treatment in a crisis)
  std::map<std::string, std::string> clinicians;  // per team: the person's usual clinician there
  int cluster = 0;
  int assessments_in_period = 0;
  absl::Time last;         // the latest assessment or review-triggering event
  bool moves_epr = false;  // moves to the other EPR at a review
  bool quiet = false;      // not seen face to face for months before the end
  absl::Time quiet_from = absl::InfiniteFuture();
  absl::Time next_contact = absl::InfiniteFuture();
  std::vector<DemoCall> calls;
  ledger::PersonFacts facts;
};

class Generator {
 public:
  explicit Generator(const DemoOptions& options)
      : options_(options),
        rng_(options.seed),
        window_days_(365 * std::max(options.history_years, 1)),
        // Every call falls on a UK day before `now`'s UTC day: such a time is before that day's UTC
        // midnight, whatever the time of `now` (UK time is never behind UTC).
        last_day_(absl::ToCivilDay(options.now, absl::UTCTimeZone()) - 1),
        first_day_(last_day_ - window_days_ + 2) {
    for (const std::string& t : options_.teams) {
      team_weights_.push_back(TeamWeight(KindOf(t)));
      if (KindOf(t) == TeamKind::kCrisis) crisis_teams_.push_back(t);
      if (KindOf(t) == TeamKind::kInpatient) wards_.push_back(t);
    }
  }

  DemoHistory Run() {
    DemoHistory out;
    const int people = std::clamp(options_.people, 0, kMaxPeople);
    if (options_.teams.empty() || options_.epr_systems.empty()) return out;
    for (int i = 0; i < people; ++i) {
      Person p = NewPerson();
      History(p);
      Corrections(p);
      out.people.push_back({p.nhs_number, CaseloadTeam(p)});
      for (DemoCall& c : p.calls) out.calls.push_back(std::move(c));
    }
    std::stable_sort(out.calls.begin(), out.calls.end(), [](const DemoCall& a, const DemoCall& b) {
      if (a.sent_at != b.sent_at) return a.sent_at < b.sent_at;
      if (a.source_system() != b.source_system()) return a.source_system() < b.source_system();
      return a.source_record_id() < b.source_record_id();
    });
    return out;
  }

 private:
  Person NewPerson() {
    Person p;
    p.nhs_number = UniqueNhsNumber(rng_, nhs_numbers_);
    p.home = options_.teams[rng_.Weighted(team_weights_)];
    p.epr = static_cast<size_t>(rng_.Between(0, static_cast<int64_t>(options_.epr_systems.size()) - 1));
    // About one person in eight moves to the other EPR at a review: same NHS number, so the platform
    // sees one person with a history in both systems.
    p.moves_epr = options_.epr_systems.size() > 1 && rng_.Chance(0.25);
    // Some are not seen face to face in the months before the end (only at their reviews).
    p.quiet = !Acute(KindOf(p.home)) && rng_.Chance(0.2);
    if (p.quiet) p.quiet_from = Local(last_day_ - rng_.Between(95, 300), 0);
    return p;
  }

  // ---- times ----

  // Working hours (09:00-17:00 UK time) on a weekday: `day`, or the Monday after a weekend.
  absl::Time WorkingTime(absl::CivilDay day) {
    while (Weekend(day)) ++day;
    return Local(day, rng_.Between(9 * 60, 17 * 60 - 1));
  }
  // An evening, a night or a weekend.
  absl::Time OutOfHoursTime(absl::CivilDay day) {
    if (Weekend(day)) return Local(day, rng_.Between(30, 23 * 60 + 30));
    return rng_.Chance(0.6) ? Local(day, rng_.Between(17 * 60 + 30, 23 * 60 + 30)) : Local(day, rng_.Between(20, 8 * 60));
  }
  bool InWindow(absl::Time t) const { return DayOf(t) <= last_day_; }

  // ---- calls ----

  const std::string& Epr(const Person& p) const { return options_.epr_systems[p.epr]; }

  const std::string& ClinicianFor(Person& p, const std::string& team) {
    auto [it, added] = p.clinicians.emplace(team, "");
    if (added) it->second = Clinician(rng_, team);
    return it->second;
  }

  DemoCall& Add(Person& p, DemoCall::Request request, absl::Time sent_at) {
    DemoCall& c = p.calls.emplace_back();
    c.request = std::move(request);
    c.sent_at = sent_at;
    c.nhs_number = p.nhs_number;
    return c;
  }

  static std::string FactId(const std::string& source_system, const std::string& record_id) {
    return absl::StrCat(source_system, "/", record_id);
  }

  ledger::Assessment FactOf(const pbr::v1::RecordAssessmentRequest& r, int revision) {
    ledger::Assessment a;
    a.id = FactId(r.source_system(), r.source_record_id());
    a.revision = revision;
    a.assessed_at = FromProto(r.assessed_at());
    // An inpatient initial allocation takes effect from the admission, as allocation records it.
    const bool back_dated = r.reason() == pbr::v1::ASSESSMENT_REASON_INITIAL && r.has_admitted_at();
    a.effective_at = back_dated ? FromProto(r.admitted_at()) : a.assessed_at;
    a.cluster = r.cluster();
    a.kind = services::AssessmentKindOf(r.reason());
    a.team_id = r.team_id();
    return a;
  }

  // An MHCT by the team holding the person now, on `cluster`.
  size_t Assess(Person& p, absl::Time at, AssessmentReason reason, int cluster) {
    pbr::v1::RecordAssessmentRequest r;
    r.set_source_system(Epr(p));
    r.set_source_record_id(absl::StrFormat("%s-A%d-%d", Epr(p), options_.seed, ++assessment_counter_));
    r.set_nhs_number(p.nhs_number);
    r.set_team_id(p.team);
    // Now and then a colleague covers the review; the person's care co-ordinator stays the usual one.
    if (p.clinicians.contains(p.team) && rng_.Chance(0.15)) {
      r.set_clinician_id(Clinician(rng_, p.team));
      if (r.clinician_id() != ClinicianFor(p, p.team)) r.set_care_coordinator_id(ClinicianFor(p, p.team));
    } else {
      r.set_clinician_id(ClinicianFor(p, p.team));
    }
    *r.mutable_assessed_at() = ToProto(at);
    *r.mutable_ratings() = MakeRatings(rng_, cluster, p.assessments_in_period);
    r.set_cluster(cluster);
    r.set_reason(reason);
    if (reason != pbr::v1::ASSESSMENT_REASON_INITIAL) r.set_change_class(ChangeClassOf(p.cluster, cluster));
    // The ratings are synthetic, so the chosen cluster may break the (example) red rules or the
    // transition protocol: say so, as a clinician must.
    r.set_clinical_rationale("synthetic demo data");
    p.cluster = cluster;
    ++p.assessments_in_period;
    p.last = at;
    Add(p, std::move(r), at);
    return p.calls.size() - 1;
  }

  // Folds a recorded assessment, once all its fields are set, into the person's facts.
  void Fold(Person& p, size_t call) {
    p.facts.Fold(FactOf(*p.calls[call].assessment(), 0));
  }

  size_t Care(Person& p, CareEventType type, absl::Time at, const std::string& team, bool out_of_hours = false) {
    pbr::v1::RecordCareEventRequest r;
    r.set_source_system(Epr(p));
    r.set_source_record_id(absl::StrFormat("%s-E%d-%d", Epr(p), options_.seed, ++event_counter_));
    r.set_nhs_number(p.nhs_number);
    r.set_team_id(team);
    r.set_clinician_id(ClinicianFor(p, team));
    r.set_type(type);
    *r.mutable_occurred_at() = ToProto(at);
    r.set_out_of_hours(out_of_hours);
    ledger::CareEvent e;
    e.id = FactId(r.source_system(), r.source_record_id());
    e.kind = services::CareEventKindOf(type);
    e.occurred_at = at;
    e.team_id = team;
    e.out_of_hours = out_of_hours;
    p.facts.Fold(e);
    Add(p, std::move(r), at);
    return p.calls.size() - 1;
  }

  // Face-to-face contacts with the team holding the person, from p.next_contact up to `until`; the quiet
  // ones are not seen after p.quiet_from.
  void ContactsUntil(Person& p, absl::Time until) {
    const auto [lo, hi] = ContactGapDays(KindOf(p.team));
    if (lo == 0) {
      p.next_contact = absl::InfiniteFuture();
      return;
    }
    while (p.next_contact < until && InWindow(p.next_contact)) {
      if (p.next_contact < p.quiet_from) Care(p, pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, p.next_contact, p.team);
      p.next_contact = WorkingTime(DayOf(p.next_contact) + rng_.Between(lo, hi));
    }
  }
  void ScheduleContacts(Person& p, absl::Time from) {
    const auto [lo, hi] = ContactGapDays(KindOf(p.team));
    p.next_contact = lo == 0 ? absl::InfiniteFuture() : WorkingTime(DayOf(from) + rng_.Between(lo, hi));
  }

  // ---- the history ----

  void History(Person& p) {
    absl::CivilDay start = first_day_ + (rng_.Chance(0.6) ? rng_.Between(0, window_days_ * 45 / 100)
                                                         : rng_.Between(0, window_days_ - 20));
    start = std::min(start, last_day_ - 3);
    for (int period = 0; period < kMaxPeriods; ++period) {
      const std::optional<absl::Time> discharged = Period(p, start);
      if (!discharged.has_value() || !rng_.Chance(0.15)) return;
      start = DayOf(*discharged) + rng_.Between(30, 150);  // referred again
      if (start > last_day_ - 3) return;
    }
  }

  // One referral period from `day`: the referral, the first contacts and the initial assessment, then
  // the course of care. Returns the discharge from service, or nullopt while still in care at the end.
  std::optional<absl::Time> Period(Person& p, absl::CivilDay day) {
    p.team = p.home;
    p.assessments_in_period = 0;
    const TeamKind kind = KindOf(p.home);
    // Crisis and inpatient referrals come at any hour; the others mostly in working hours. (The
    // out-of-hours flag itself is only for referrals to home treatment or a ward.)
    const absl::Time referral = rng_.Chance(Acute(kind) ? 0.55 : 0.15) ? OutOfHoursTime(day) : WorkingTime(day);
    Care(p, pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, referral, p.home);
    p.last = referral;

    const Start started = kind == TeamKind::kInpatient ? AdmitAndAllocate(p, referral) : SeeAndAllocate(p, referral);
    switch (started) {
      case Start::kAllocated: return Course(p);
      case Start::kDischarged: return p.last;
      case Start::kWindowEnded: return std::nullopt;
    }
    return std::nullopt;
  }

  // How a referral period began.
  enum class Start { kAllocated, kDischarged /* without a cluster */, kWindowEnded };

  // An inpatient admission, and the initial allocation back-dated to it: mostly within the 2 bed nights,
  // sometimes days later.
  Start AdmitAndAllocate(Person& p, absl::Time referral) {
    const absl::Time admitted = referral + absl::Minutes(rng_.Between(30, 480));
    if (!InWindow(admitted)) return Start::kWindowEnded;
    Care(p, pbr::v1::CARE_EVENT_ADMISSION, admitted, p.home);
    const care::ReviewTriggerWindow window =
        care::TriggerWindow(timing_, care::ReviewTriggerKind::kInpatientAdmission, admitted, UkZone());
    const absl::Time at =
        rng_.Chance(0.8)
            ? admitted + absl::Minutes(rng_.Between(60, absl::ToInt64Minutes(window.deadline - admitted) - 60))
            : Local(DayOf(window.deadline) + rng_.Between(1, 4), rng_.Between(9 * 60, 20 * 60));
    if (!InWindow(at)) return Start::kWindowEnded;
    const size_t call = Assess(p, at, pbr::v1::ASSESSMENT_REASON_INITIAL, FirstCluster(rng_, TeamKind::kInpatient));
    auto& r = std::get<pbr::v1::RecordAssessmentRequest>(p.calls[call].request);
    *r.mutable_admitted_at() = ToProto(admitted);
    Fold(p, call);
    ScheduleContacts(p, at);
    return Start::kAllocated;
  }

  // The first face-to-face contacts and the initial assessment at one of them (mostly the first or the
  // second). The second contact is mostly within the 28 days (memory services: 12 weeks), sometimes later.
  // A few are seen and discharged without a cluster (they do not need secondary care).
  Start SeeAndAllocate(Person& p, absl::Time referral) {
    const TeamKind kind = KindOf(p.home);
    const int limit = kind == TeamKind::kMemory ? timing_.memory_initial_contacts_days : timing_.initial_contacts_days;
    static constexpr std::array<int, 4> kContactsBefore = {45, 40, 10, 5};  // the initial at contact 1..4
    const int at_contact = static_cast<int>(rng_.Weighted(kContactsBefore)) + 1;
    std::vector<absl::Time> contacts;
    if (kind == TeamKind::kCrisis) {
      contacts.push_back(referral + absl::Minutes(rng_.Between(60, 60 * 20)));  // seen the same day or the next
    } else {
      const int first_gap = kind == TeamKind::kMemory ? rng_.Between(10, 42) : rng_.Between(2, 18);
      contacts.push_back(std::max(WorkingTime(DayOf(referral) + first_gap), referral + absl::Hours(2)));
    }
    for (int k = 1; k < std::max(at_contact, 2); ++k) {
      const absl::CivilDay previous = DayOf(contacts.back());
      int gap = 0;
      if (k > 1) {
        gap = rng_.Between(2, 14);
      } else if (kind == TeamKind::kCrisis) {
        gap = rng_.Between(1, 3);
      } else if (rng_.Chance(0.85)) {
        gap = rng_.Between(3, std::min(limit, kind == TeamKind::kMemory ? 70 : 26));
      } else {
        gap = limit + rng_.Between(1, 30);  // the second contact late
      }
      contacts.push_back(kind == TeamKind::kCrisis ? Local(previous + gap, rng_.Between(8 * 60, 21 * 60))
                                                   : WorkingTime(previous + gap));
    }
    // Now and then someone is seen once or twice and discharged without a cluster.
    if (!Acute(kind) && rng_.Chance(0.04)) {
      const int seen = static_cast<int>(rng_.Between(1, 2));
      for (int k = 0; k < seen; ++k) {
        if (!InWindow(contacts[k])) return Start::kWindowEnded;
        Care(p, pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, contacts[k], p.home);
      }
      const absl::Time out = WorkingTime(DayOf(contacts[seen - 1]) + rng_.Between(1, 10));
      if (!InWindow(out)) return Start::kWindowEnded;
      Care(p, pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, out, p.home);
      p.last = out;
      return Start::kDischarged;
    }
    for (int k = 0; k < at_contact; ++k) {
      if (!InWindow(contacts[k])) return Start::kWindowEnded;
      Care(p, pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, contacts[k], p.home);
    }
    const absl::Time at = contacts[at_contact - 1] + absl::Minutes(rng_.Between(40, 120));
    if (!InWindow(at)) return Start::kWindowEnded;
    const size_t call = Assess(p, at, pbr::v1::ASSESSMENT_REASON_INITIAL, FirstCluster(rng_, kind));
    auto& r = std::get<pbr::v1::RecordAssessmentRequest>(p.calls[call].request);
    // The EPR says how many contacts there were and when the first was; a few leave both out.
    if (rng_.Chance(0.9)) {
      r.set_face_to_face_contacts(at_contact);
      *r.mutable_first_contact_at() = ToProto(contacts.front());
    }
    Fold(p, call);
    if (at_contact == 1) {
      p.next_contact = contacts[1];
    } else {
      ScheduleContacts(p, at);
    }
    return Start::kAllocated;
  }

  // What happens after the initial allocation, review by review, until a discharge or the end.
  std::optional<absl::Time> Course(Person& p) {
    for (int step = 0; step < 60; ++step) {
      const TeamKind kind = KindOf(p.home);
      const absl::CivilDay due = DayOf(p.last) + ReviewPeriodDays(p.cluster);
      const int r = static_cast<int>(rng_.Between(0, 99));
      std::optional<bool> done;  // set: the period ended (true) or the window did (false)
      if (Acute(kind)) {
        // A few weeks of home treatment or a ward stay, then discharge; now and then a few months.
        done = Discharge(p, DayOf(p.last) + (r < 85 ? rng_.Between(10, 50) : rng_.Between(50, 120)));
      } else if (r < 12 && CanTransfer(p) && DayOf(p.last) + 10 < due) {
        done = Transfer(p, due);
      } else if (r < 12 + DischargePercent(kind)) {
        done = Discharge(p, DayOf(p.last) + rng_.Between(7, 60));
      } else if (r < 18 + DischargePercent(kind)) {
        const int room = static_cast<int>(std::max<absl::civil_diff_t>(due - DayOf(p.last), 30));
        done = Review(p, DayOf(p.last) + rng_.Between(14, room / 2 + 14), pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW);
      } else {
        done = FormalReview(p, due);
      }
      if (done.has_value()) {
        if (*done) return p.last;
        break;
      }
    }
    ContactsUntil(p, Local(last_day_ + 1, 0));
    return std::nullopt;
  }

  static int DischargePercent(TeamKind kind) {
    switch (kind) {
      case TeamKind::kCommunity: return 9;
      case TeamKind::kPsychosis: return 5;
      case TeamKind::kMemory: return 4;
      default: return 7;
    }
  }

  // A formal review around its due date: mostly in the 10 days before it, some early, some late.
  std::optional<bool> FormalReview(Person& p, absl::CivilDay due) {
    static constexpr std::array<int, 5> kWhen = {8, 50, 10, 22, 10};
    int offset = 0;
    switch (rng_.Weighted(kWhen)) {
      case 0: offset = static_cast<int>(rng_.Between(-25, -11)); break;
      case 1: offset = static_cast<int>(rng_.Between(-10, -1)); break;
      case 2: offset = 0; break;
      case 3: offset = static_cast<int>(rng_.Between(1, 14)); break;
      default: offset = static_cast<int>(rng_.Between(15, 60)); break;
    }
    return Review(p, due + offset, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  }

  // A review on `day` by the team holding the person. A person who moves EPR moves at one of these: the
  // other EPR's sibling team (if any) takes them over with a transfer review.
  std::optional<bool> Review(Person& p, absl::CivilDay day, AssessmentReason reason) {
    absl::Time at = WorkingTime(std::max(day, DayOf(p.last) + 1));
    if (at < p.last + kGap) at = p.last + kGap + absl::Minutes(rng_.Between(0, 120));
    if (!InWindow(at)) return false;
    ContactsUntil(p, at);
    if (p.moves_epr && rng_.Chance(0.5)) {
      p.moves_epr = false;
      p.epr = (p.epr + 1) % options_.epr_systems.size();
      p.home = SiblingTeam(p.home);
      p.team = p.home;
      reason = pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW;
    }
    const size_t call = Assess(p, at, reason, ReviewCluster(rng_, KindOf(p.team), p.cluster, 0.75));
    Fold(p, call);
    MaybeEnteredTwice(p, call);
    return std::nullopt;
  }

  // Another team of the same kind (where a transferred person goes), or the same team if there is none.
  std::string SiblingTeam(const std::string& team) {
    std::vector<std::string> siblings;
    for (const std::string& t : options_.teams) {
      if (t != team && KindOf(t) == KindOf(team)) siblings.push_back(t);
    }
    return siblings.empty() ? team : rng_.Pick(siblings);
  }

  bool CanTransfer(const Person& p) const {
    if (p.team != p.home) return false;
    // Memory services' people go to a ward that holds their clusters, never to home treatment.
    if (KindOf(p.home) == TeamKind::kMemory) return !wards_.empty() && MixFor(TeamKind::kInpatient).Holds(p.cluster);
    return !crisis_teams_.empty() || !wards_.empty();
  }

  // A referral to home treatment or a ward, in or out of hours, with its transfer review inside the
  // window (care::TriggerWindow) or outside it; then a few weeks of crisis care and back home.
  std::optional<bool> Transfer(Person& p, absl::CivilDay due) {
    const bool memory = KindOf(p.home) == TeamKind::kMemory;
    const bool to_ward = !wards_.empty() && (memory || crisis_teams_.empty() || rng_.Chance(0.3));
    const std::string crisis_team = rng_.Pick(to_ward ? wards_ : crisis_teams_);
    const absl::CivilDay day = DayOf(p.last) + rng_.Between(7, std::max<int64_t>(8, std::min<int64_t>(due - DayOf(p.last) - 3, 120)));
    const bool out_of_hours = rng_.Chance(0.4);
    absl::Time at = out_of_hours ? OutOfHoursTime(day) : WorkingTime(day);
    if (at < p.last + 2 * kGap) at = p.last + 2 * kGap;
    if (!InWindow(at)) return false;
    ContactsUntil(p, at);
    const care::ReviewTriggerWindow window = care::TriggerWindow(
        timing_, out_of_hours ? care::ReviewTriggerKind::kOutOfHoursReferral : care::ReviewTriggerKind::kInHoursReferral,
        at, UkZone());

    // When the transfer review is done, and by whom: before an in-hours referral the referring team
    // reviews (on time within the 5 days, or too early); otherwise the receiving team after it (for an
    // in-hours referral that is outside the window; out of hours within the 72 hours or late).
    std::optional<absl::Time> before, after;
    const int v = static_cast<int>(rng_.Between(0, 99));
    if (!out_of_hours && v < 70) {
      // In working hours on one of the 5 days, inside the window.
      absl::Time t = Local(DayOf(at) - rng_.Between(0, timing_.transfer_in_hours_days_before - 1),
                           rng_.Between(9 * 60, 17 * 60 - 1));
      if (t > at - kGap) t = at - kGap - absl::Minutes(rng_.Between(0, 60));
      if (t < window.opens) t = window.opens + kGap;
      if (t >= p.last + kGap) before = t;
    } else if (!out_of_hours && v < 85) {
      const absl::Time t = Local(DayOf(window.opens) - rng_.Between(1, 3), rng_.Between(9 * 60, 17 * 60 - 1));
      if (t >= p.last + kGap) before = t;
    } else if (out_of_hours && v < 75) {
      after = at + absl::Minutes(rng_.Between(30, absl::ToInt64Minutes(window.deadline - at) - 30));
    } else if (out_of_hours && v < 92) {
      after = window.deadline + absl::Minutes(rng_.Between(60, 60 * 48));
    }
    if (!before && !after && (!out_of_hours || v < 92)) after = at + absl::Minutes(rng_.Between(60, 60 * 48));
    if (before) {
      const size_t call = Assess(p, *before, pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW,
                                 ReviewCluster(rng_, KindOf(p.team), p.cluster, 0.4));
      Fold(p, call);
    }
    Care(p, to_ward ? pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS : pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, at, p.team,
         out_of_hours);
    p.last = at;
    if (to_ward) {
      const absl::Time admitted = at + absl::Minutes(rng_.Between(60, 600));
      if (!InWindow(admitted)) return false;
      Care(p, pbr::v1::CARE_EVENT_ADMISSION, admitted, crisis_team);
      p.last = admitted;
    }
    // The receiving team's own review takes the person onto its caseload for the crisis.
    const std::string home = p.team;
    if (after && *after < p.last + kGap) *after = p.last + kGap + absl::Minutes(rng_.Between(0, 60));
    if (after) {
      if (!InWindow(*after)) return false;
      p.team = crisis_team;
      const size_t call = Assess(p, *after, pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW,
                                 ReviewCluster(rng_, KindOf(crisis_team), p.cluster, 0.3));
      Fold(p, call);
    }
    // Crisis care: home treatment visits every day or few (a ward records no contacts here).
    const absl::Time back = WorkingTime(DayOf(p.last) + rng_.Between(12, 42));
    p.team = crisis_team;
    ScheduleContacts(p, at);
    ContactsUntil(p, std::min(back, Local(last_day_ + 1, 0)));
    if (!after) p.team = home;
    if (!InWindow(back)) return false;
    p.last = std::max(p.last, back);  // the crisis is over: what comes next comes after it
    if (after) {
      // Back to the home team, which reviews on taking the person back.
      p.team = home;
      const size_t call = Assess(p, p.last + kGap, pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW,
                                 ReviewCluster(rng_, KindOf(home), p.cluster, 0.3));
      Fold(p, call);
    }
    ScheduleContacts(p, back);
    return std::nullopt;
  }

  // A discharge from service around `day`: mostly after a discharge review whose MHCT is within the 24
  // hours of it (or not, or never done), sometimes without one.
  std::optional<bool> Discharge(Person& p, absl::CivilDay day) {
    absl::Time out;
    if (rng_.Chance(0.8)) {
      absl::Time review = WorkingTime(std::max(day, DayOf(p.last) + 1));
      if (review < p.last + 2 * kGap) review = p.last + 2 * kGap;
      if (!InWindow(review)) return false;
      ContactsUntil(p, review);
      Care(p, pbr::v1::CARE_EVENT_DISCHARGE_REVIEW, review, p.team);
      const care::ReviewTriggerWindow window =
          care::TriggerWindow(timing_, care::ReviewTriggerKind::kDischargeReview, review, UkZone());
      std::optional<absl::Time> mhct;
      const int v = static_cast<int>(rng_.Between(0, 99));
      if (v < 72) {
        mhct = review + absl::Minutes(rng_.Between(absl::ToInt64Minutes(window.opens - review) + 60,
                                                   absl::ToInt64Minutes(window.deadline - review) - 60));
        if (*mhct < p.last + kGap) mhct = review + absl::Minutes(rng_.Between(30, 600));
      } else if (v < 88) {
        mhct = window.deadline + absl::Minutes(rng_.Between(60, 60 * 72));
      }
      p.last = review;
      if (mhct) {
        if (!InWindow(*mhct)) return false;
        const size_t call = Assess(p, *mhct, pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW,
                                   ReviewCluster(rng_, KindOf(p.team), p.cluster, 0.8));
        Fold(p, call);
        p.last = std::max(review, *mhct);
      }
      out = WorkingTime(DayOf(p.last) + rng_.Between(1, 14));
    } else {
      out = WorkingTime(std::max(day, DayOf(p.last) + 1));
      if (out < p.last + kGap) out = p.last + kGap;
    }
    if (!InWindow(out)) return false;
    ContactsUntil(p, out);
    Care(p, pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, out, p.team);
    p.last = out;
    p.next_contact = absl::InfiniteFuture();
    return true;
  }

  // Now and then an EPR sends a review twice, the copy a couple of minutes later under a new record id,
  // and withdraws the copy a day or so later.
  void MaybeEnteredTwice(Person& p, size_t call) {
    if (!rng_.Chance(0.02)) return;
    const absl::Time original = p.calls[call].sent_at;
    const absl::Time withdrawn = WorkingTime(DayOf(original) + rng_.Between(1, 3));
    if (!InWindow(withdrawn)) return;
    pbr::v1::RecordAssessmentRequest copy = *p.calls[call].assessment();
    copy.set_source_record_id(absl::StrFormat("%s-A%d-%d", copy.source_system(), options_.seed, ++assessment_counter_));
    *copy.mutable_assessed_at() = ToProto(original + absl::Minutes(2));
    p.facts.Fold(FactOf(copy, 0));
    ledger::Assessment tombstone = FactOf(copy, 1);
    tombstone.withdrawn = true;
    p.facts.Fold(tombstone);
    pbr::v1::WithdrawAssessmentRequest w;
    w.set_source_system(copy.source_system());
    w.set_source_record_id(copy.source_record_id());
    w.set_reason("entered twice");
    Add(p, std::move(copy), original + absl::Minutes(2)).corrected_later = true;
    Add(p, std::move(w), withdrawn);
    p.last = std::max(p.last, original + absl::Minutes(2));
  }

  // ---- corrections ----

  // The EPR's corrections, a few days after what they correct (and never after the window): ratings or an
  // initial allocation's cluster amended, contacts and referrals to crisis care withdrawn, and a final
  // discharge withdrawn (the person is still in the service).
  void Corrections(Person& p) {
    std::vector<DemoCall> corrections;
    std::optional<size_t> final_discharge;
    for (size_t i = 0; i < p.calls.size(); ++i) {
      DemoCall& c = p.calls[i];
      if (c.corrected_later) continue;
      std::optional<DemoCall> correction;
      if (const auto* a = c.assessment()) {
        if (rng_.Chance(0.05)) correction = Amendment(p, *a, c.sent_at);
      } else if (const auto* e = c.care_event()) {
        switch (e->type()) {
          case pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT:
            if (rng_.Chance(0.02)) correction = Withdrawal(p, *e, c.sent_at, "recorded against the wrong patient");
            break;
          case pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT:
          case pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS:
            if (rng_.Chance(0.05)) correction = Withdrawal(p, *e, c.sent_at, "the referral was not made");
            break;
          case pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE: final_discharge = i; break;
          default: break;
        }
      }
      if (correction.has_value()) {
        c.corrected_later = true;
        corrections.push_back(*std::move(correction));
      }
    }
    // Only the person's last call, so nothing of theirs comes after the discharge it undoes.
    if (final_discharge.has_value() && IsLast(p, *final_discharge) && rng_.Chance(0.05)) {
      DemoCall& c = p.calls[*final_discharge];
      if (auto w = Withdrawal(p, *c.care_event(), c.sent_at, "discharged in error: still in the service")) {
        c.corrected_later = true;
        corrections.push_back(*std::move(w));
      }
    }
    for (DemoCall& c : corrections) p.calls.push_back(std::move(c));
  }

  static bool IsLast(const Person& p, size_t i) {
    return std::all_of(p.calls.begin(), p.calls.end(), [&](const DemoCall& c) { return c.sent_at <= p.calls[i].sent_at; });
  }

  std::optional<DemoCall> Amendment(Person& p, const pbr::v1::RecordAssessmentRequest& a, absl::Time sent_at) {
    const absl::Time when = WorkingTime(DayOf(sent_at) + rng_.Between(1, 10));
    if (!InWindow(when)) return std::nullopt;
    pbr::v1::RecordAssessmentRequest amended = a;
    if (a.reason() == pbr::v1::ASSESSMENT_REASON_INITIAL && rng_.Chance(0.3)) {
      amended.set_cluster(FirstCluster(rng_, KindOf(a.team_id())));  // the allocation reconsidered
    }
    if (amended.cluster() == a.cluster()) {  // a rating keyed wrongly
      pbr::v1::MhctRatings& ratings = *amended.mutable_ratings();
      const int item = static_cast<int>(rng_.Between(0, 11));
      const int old = ratings.items(item);
      ratings.set_items(item, old == kNotKnown ? 2 : old >= 3 ? old - 1 : old + 1);
      const int item8 = ratings.items(kItem8Index);
      if (item8 >= 1 && item8 <= 4 && ratings.item8_problem_type().empty()) {
        SetItem8Type(rng_, amended.cluster(), ratings);
      } else if (item8 == 0 || item8 == kNotKnown) {
        ratings.clear_item8_problem_type();
        ratings.clear_item8_other_text();
      }
    }
    p.facts.Fold(FactOf(amended, 1));
    DemoCall c;
    c.request = std::move(amended);
    c.amend = true;
    c.sent_at = when;
    c.nhs_number = p.nhs_number;
    return c;
  }

  std::optional<DemoCall> Withdrawal(Person& p, const pbr::v1::RecordCareEventRequest& e, absl::Time sent_at,
                                     const std::string& why) {
    const absl::Time when = WorkingTime(DayOf(sent_at) + rng_.Between(1, 7));
    if (!InWindow(when)) return std::nullopt;
    ledger::CareEvent tombstone;
    tombstone.id = FactId(e.source_system(), e.source_record_id());
    tombstone.revision = 1;
    tombstone.withdrawn = true;
    tombstone.kind = services::CareEventKindOf(e.type());
    tombstone.occurred_at = FromProto(e.occurred_at());
    tombstone.team_id = e.team_id();
    p.facts.Fold(tombstone);
    pbr::v1::WithdrawCareEventRequest w;
    w.set_source_system(e.source_system());
    w.set_source_record_id(e.source_record_id());
    w.set_reason(why);
    DemoCall c;
    c.request = std::move(w);
    c.sent_at = when;
    c.nhs_number = p.nhs_number;
    return c;
  }

  // The team whose caseload holds the person at the end: the shared ledger's review basis, while the
  // person has an open referral period with a current cluster episode.
  static std::string CaseloadTeam(const Person& p) {
    const ledger::CareRecord record = ledger::Derive(p.nhs_number, p.facts);
    const std::optional<ledger::ReviewBasis> basis = record.review_basis();
    if (record.current_episode() == nullptr || !basis.has_value()) return "";
    return basis->team_id;
  }

  const DemoOptions& options_;
  const care::KpiSettings timing_;  // the KPI windows' default timing (rules/kpis.yaml ships the same)
  Random rng_;
  const int window_days_;
  const absl::CivilDay last_day_;   // the last day anything happens
  const absl::CivilDay first_day_;  // the first
  std::vector<int> team_weights_;
  std::vector<std::string> crisis_teams_, wards_;
  std::set<std::string> nhs_numbers_;
  int assessment_counter_ = 0;
  int event_counter_ = 0;
};

}  // namespace

const std::string& DemoCall::source_system() const {
  return std::visit([](const auto& r) -> const std::string& { return r.source_system(); }, request);
}

const std::string& DemoCall::source_record_id() const {
  return std::visit([](const auto& r) -> const std::string& { return r.source_record_id(); }, request);
}

int NhsCheckDigit(const std::string& first_nine) {
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (first_nine[static_cast<size_t>(i)] - '0') * (10 - i);
  const int check = 11 - sum % 11;
  if (check == 11) return 0;
  return check == 10 ? -1 : check;
}

DemoHistory GenerateDemoHistory(const DemoOptions& options) { return Generator(options).Run(); }

std::vector<std::pair<std::string, int>> CaseloadSizes(const DemoHistory& history) {
  std::map<std::string, int> sizes;
  for (const DemoPerson& p : history.people) {
    if (!p.caseload_team.empty()) ++sizes[p.caseload_team];
  }
  std::vector<std::pair<std::string, int>> out(sizes.begin(), sizes.end());
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

}  // namespace pbr::demo
