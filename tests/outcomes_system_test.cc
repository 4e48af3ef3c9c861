// HoNOS outcomes through the whole platform (issue 10), checked against a calculation of their own.
//
// A few hundred people (generated from a fixed seed, plus a handful written out by hand for the edges)
// are referred, assessed and reviewed over nearly three years by the example trust's teams, discharged
// and referred again; the EPR then corrects some of their records: ratings amended (an item rated 9
// added or filled in), MHCT dates moved (onto the day of another rating, or across a day), assessments
// withdrawn (all of a person's, now and then), and a discharge or a re-referral withdrawn. Everything
// goes in through allocation's gRPC API on the platform's fixed clock; once the outcomes service has
// taken every published fact (its consumed count, polled with a deadline) the test asks it for every
// person's outcomes (GetOutcomes) and for the summaries (SummariseOutcomes) by team, cluster,
// commissioner and super-class, for all time and for a month, a quarter and two open-ended periods.
//
// What each answer should be is computed here from the ratings sent, by the definitions of
// care-cluster-rules.md section 6 and rules/outcomes.yaml (shipped policy: strict, standard thresholds
// for every cluster), without the rules library's outcome functions or the service's code:
// - HoNOS total: items 1-12 rated 0-4; an item rated 9 is missing and makes the total invalid.
//   Factors (Speak et al.): personal 4, 5, 10, 12; emotional 2, 7, 8; social 3, 9, 11, 12; severe
//   disturbance 1, 6; an item rated 9 counts 0. Significance: 0-1 not, 2 cusp, 3-4 significant, 9 not
//   known. Care-plan needs: items rated 2-4.
// - Episodes are referral periods (opened by a referral received, or by an assessment when none is
//   open; closed by a discharge from service). Within one, in MHCT order: since_previous against the
//   previous valid rating (any day), for a valid rating; since_first against the first valid rating,
//   for a valid rating on a strictly later UK day. The pair: first valid against last valid, when the
//   last is on a strictly later UK day.
// - Reliable change: -8 or less improved, +8 or more deteriorated. SOP Table 10 on the earlier rating's
//   cluster; cluster 0 has no pattern.
// - Summaries: each period with a valid rating once, under its first valid rating's team, cluster,
//   commissioner and super-class, on the UK day of its last valid rating.
#include <algorithm>
#include <array>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "platform/events.h"
#include "platform_fixture.h"
#include "system_history.h"
#include "testing/local_platform.h"
#include "testing/process.h"

namespace pbr {
namespace {

using pbr::v1::CareEventType;
using pbr::v1::ExpectedOutcomeMatch;
using pbr::v1::ItemSignificance;
using pbr::v1::ReliableChange;
using systemtest::DayText;
using systemtest::Rng;
// The shared history (system_history.h): UK times, the teams, the records and their requests, Diffs.
using namespace systemtest::history;  // NOLINT(build/namespaces)
namespace history = systemtest::history;

// ---- the history's shape ----

constexpr uint64_t kSeed = 0x0c7c0e5a11ull;
constexpr int kRandomPeople = 220;
constexpr int kEntryThreads = 4;  // people are entered in parallel, each person's records in order
const absl::CivilDay kFirstDay(2024, 1, 8);
const absl::CivilDay kLastDay(2026, 11, 12);  // the platform's clock reads 22 Nov 2026
constexpr absl::Duration kWait = absl::Seconds(60);
constexpr char kEpr[] = "rio-outcomes";
constexpr char kClinician[] = "clin-outcomes";
const std::vector<std::string> kCommissioners = {"00X", "00Y", "00Z", "15A"};

// ---- HoNOS, computed here ----

constexpr int kReliableChange = 8;  // standard thresholds: the shipped rules list no severe cluster
constexpr int kClinicalCutoff = 11;
constexpr int kRemissionMax = 5;

struct FactorDef {
  const char* id;
  std::vector<int> items;  // HoNOS item numbers
  int max;
};
const std::vector<FactorDef>& Factors() {
  static const auto* f = new std::vector<FactorDef>{{"personal_wellbeing", {4, 5, 10, 12}, 16},
                                                    {"emotional_wellbeing", {2, 7, 8}, 12},
                                                    {"social_wellbeing", {3, 9, 11, 12}, 16},
                                                    {"severe_disturbance", {1, 6}, 8}};
  return *f;
}

struct Measures {
  int total = 0;    // of the items rated 0-4
  int missing = 0;  // items 1-12 rated 9
  bool valid = false;
  std::array<int, 4> factor_score{}, factor_missing{};
  int factor_sum = 0;
};

Measures MeasuresOf(const Ratings& r) {
  Measures m;
  for (int i = 0; i < 12; ++i) {
    if (r.items[i] == kNotKnown) {
      ++m.missing;
    } else {
      m.total += r.items[i];
    }
  }
  m.valid = m.missing == 0;  // strict
  for (size_t f = 0; f < Factors().size(); ++f) {
    for (int item : Factors()[f].items) {
      const int v = r.items[item - 1];
      if (v == kNotKnown) {
        ++m.factor_missing[f];
      } else {
        m.factor_score[f] += v;
      }
    }
    m.factor_sum += m.factor_score[f];
  }
  return m;
}

ItemSignificance SignificanceOf(int rating) {
  if (rating == kNotKnown) return pbr::v1::ITEM_NOT_KNOWN;
  if (rating >= 3) return pbr::v1::ITEM_SIGNIFICANT;
  if (rating == 2) return pbr::v1::ITEM_ON_THE_CUSP;
  return pbr::v1::ITEM_NOT_SIGNIFICANT;
}

ReliableChange ClassOf(int change) {
  if (change <= -kReliableChange) return pbr::v1::RELIABLE_CHANGE_IMPROVED;
  if (change >= kReliableChange) return pbr::v1::RELIABLE_CHANGE_DETERIORATED;
  return pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE;
}

// SOP Table 10 as rules/outcomes.yaml `matches` it.
ExpectedOutcomeMatch ExpectedFor(int cluster, ReliableChange c) {
  const bool improved = c == pbr::v1::RELIABLE_CHANGE_IMPROVED;
  const bool same = c == pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE;
  const bool worse = c == pbr::v1::RELIABLE_CHANGE_DETERIORATED;
  bool matches = false;
  if ((cluster >= 1 && cluster <= 5) || cluster == 10 || cluster == 14 || cluster == 15) {
    matches = improved;
  } else if ((cluster >= 6 && cluster <= 8) || cluster == 11) {
    matches = same;
  } else if (cluster == 12 || cluster == 13 || cluster == 16 || cluster == 17) {
    matches = improved || same;
  } else if (cluster == 18) {
    matches = same || worse;
  } else if (cluster >= 19 && cluster <= 21) {
    matches = true;
  } else {
    return pbr::v1::EXPECTED_OUTCOME_NO_PATTERN;  // cluster 0
  }
  return matches ? pbr::v1::EXPECTED_OUTCOME_MATCHES : pbr::v1::EXPECTED_OUTCOME_DOES_NOT_MATCH;
}

std::string SuperClassOf(int cluster) {
  if (cluster >= 1 && cluster <= 8) return "NP";
  if (cluster >= 10 && cluster <= 17) return "P";
  if (cluster >= 18 && cluster <= 21) return "O";
  return "V";
}

// ---- what the EPR sends ----

using Action = Record;  // nothing more than the shared record

// One person's records as the EPR enters them, and what the generator needs to keep them acceptable
// to allocation: each period's referral before its first assessment and its discharge after its last;
// an initial assessment first in its period (so amending it stays an initial assessment); no two
// assessments at one instant.
class Plan {
 public:
  explicit Plan(std::string label) : label_(std::move(label)) {}
  const std::string& label() const { return label_; }

  struct Period {
    std::string referral;
    absl::Time referral_at;
    std::vector<std::string> assessments;  // record ids, as generated
    std::string discharge;
    std::optional<absl::Time> discharge_at;
  };
  struct Held {
    Action content;  // as last sent
    size_t period = 0;
    bool live = true;
  };

  const std::vector<Action>& actions() const { return actions_; }
  const std::vector<Period>& periods() const { return periods_; }
  const Held& held(const std::string& id) const { return held_.at(id); }
  std::vector<std::string> live_assessments() const {
    std::vector<std::string> out;
    for (const auto& id : order_) {
      if (held_.at(id).live) out.push_back(id);
    }
    return out;
  }
  bool in_period() const { return !periods_.empty() && !periods_.back().discharge_at.has_value(); }
  std::optional<absl::Time> last_assessed() const {
    if (periods_.empty() || periods_.back().assessments.empty()) return std::nullopt;
    return held_.at(periods_.back().assessments.back()).content.at;
  }

  std::string Refer(absl::Time at, const std::string& team, const std::string& note = "") {
    Action a = Care(pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, at, team, note);
    Period& p = periods_.emplace_back();
    p.referral = a.record_id;
    p.referral_at = at;
    actions_.push_back(a);
    return a.record_id;
  }

  std::string Discharge(absl::Time at, const std::string& team, const std::string& note = "") {
    Action a = Care(pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, at, team, note);
    periods_.back().discharge = a.record_id;
    periods_.back().discharge_at = at;
    actions_.push_back(a);
    return a.record_id;
  }

  // The first assessment of a period is the initial one; later ones are reviews (a transfer review
  // when the team changes).
  std::string Assess(absl::Time at, const std::string& team, int cluster, const Ratings& ratings,
                     const std::string& commissioner = "", const std::string& note = "") {
    Period& p = periods_.back();
    Action a;
    a.act = Act::kAssess;
    a.record_id = absl::StrCat(label_, "-a", ++assessments_);
    a.at = at;
    a.team = team;
    a.cluster = cluster;
    a.commissioner = commissioner;
    a.ratings = ratings;
    a.note = note;
    if (p.assessments.empty()) {
      a.reason = pbr::v1::ASSESSMENT_REASON_INITIAL;
    } else {
      const Action& before = held_.at(p.assessments.back()).content;
      a.reason = before.team != team ? pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW : pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW;
      a.change = pbr::v1::CHANGE_CLASS_NO_CHANGE;
    }
    p.assessments.push_back(a.record_id);
    order_.push_back(a.record_id);
    held_[a.record_id] = {a, periods_.size() - 1, true};
    actions_.push_back(a);
    return a.record_id;
  }

  void AmendRatings(const std::string& id, const Ratings& ratings, const std::string& note,
                    std::optional<std::string> commissioner = std::nullopt) {
    Held& h = held_.at(id);
    Action a = h.content;
    a.act = Act::kAmend;
    a.ratings = ratings;
    if (commissioner.has_value()) a.commissioner = *commissioner;
    a.note = note;
    h.content = a;
    actions_.push_back(a);
  }

  void AmendTime(const std::string& id, absl::Time at, std::optional<int> cluster, const std::string& note) {
    Held& h = held_.at(id);
    Action a = h.content;
    a.act = Act::kAmend;
    a.at = at;
    if (cluster.has_value()) a.cluster = *cluster;
    a.note = note;
    h.content = a;
    actions_.push_back(a);
  }

  void Withdraw(const std::string& id, const std::string& note) {
    Held& h = held_.at(id);
    h.live = false;
    actions_.push_back(history::Withdrawal<Action>(Act::kWithdrawAssessment, id, note));
  }

  void WithdrawCare(const std::string& id, const std::string& note) {
    actions_.push_back(history::Withdrawal<Action>(Act::kWithdrawCareEvent, id, note));
  }

  // Where an assessment's MHCT time may move to and keep the history acceptable: inside its referral
  // period, an initial assessment before every other live one of it, a review after the live initial.
  std::optional<std::pair<absl::Time, absl::Time>> MoveWindow(const std::string& id) const {
    const Held& h = held_.at(id);
    const Period& p = periods_[h.period];
    absl::Time lo = p.referral_at + absl::Minutes(1);
    absl::Time hi;
    if (h.content.reason == pbr::v1::ASSESSMENT_REASON_INITIAL) {
      hi = h.content.at;
      for (const auto& other : p.assessments) {
        if (other != id && held_.at(other).live) hi = std::min(hi, held_.at(other).content.at - absl::Minutes(1));
      }
    } else {
      const Held& initial = held_.at(p.assessments.front());
      if (initial.live) lo = std::max(lo, initial.content.at + absl::Minutes(1));
      hi = p.discharge_at.has_value() ? *p.discharge_at - absl::Minutes(1)
                                      : std::min(h.content.at + absl::Hours(24 * 60), Local(kLastDay, 12));
    }
    if (hi <= lo) return std::nullopt;
    return std::make_pair(lo, hi);
  }
  bool Taken(absl::Time t) const {
    for (const auto& id : order_) {
      if (held_.at(id).live && held_.at(id).content.at == t) return true;
    }
    return false;
  }

 private:
  Action Care(CareEventType type, absl::Time at, const std::string& team, const std::string& note) {
    Action a;
    a.act = Act::kCareEvent;
    a.record_id = absl::StrCat(label_, "-e", ++events_);
    a.at = at;
    a.team = team;
    a.type = type;
    a.note = note;
    return a;
  }

  std::string label_;
  int assessments_ = 0;
  int events_ = 0;
  std::vector<Action> actions_;
  std::vector<Period> periods_;
  std::vector<std::string> order_;
  std::map<std::string, Held> held_;
};

// HoNOS items 1-12 as given, the rest (13, A-E) rated 1.
Ratings Honos(const std::array<int, 12>& items) {
  Ratings r;
  for (int i = 0; i < 12; ++i) r.items[i] = items[i];
  for (int i = 12; i < 18; ++i) r.items[i] = 1;
  SetItem8Type(r, 'C');
  return r;
}
// A valid rating with this HoNOS total (0-48), spread over the items.
Ratings Total(int total) {
  std::array<int, 12> items{};
  for (int i = 0; i < 12; ++i) items[i] = total / 12 + (i < total % 12 ? 1 : 0);
  return Honos(items);
}
// The same with items rated 9 (an invalid total under the strict policy).
Ratings Missing(int total, std::vector<int> unknown_items) {
  Ratings r = Total(total);
  for (int item : unknown_items) r.items[item - 1] = kNotKnown;
  SetItem8Type(r, 'C');
  return r;
}

// ---- the generated people ----

struct Pathway {
  std::vector<std::string> teams;
  std::vector<int> clusters;           // valid for the teams' service area
  std::vector<std::string> crisis;     // teams a review may go to for a while (home treatment)
  std::vector<int> crisis_clusters;
};
const std::vector<Pathway>& Pathways() {
  static const auto* p = new std::vector<Pathway>{
      {kCmhts, {4, 4, 5, 5, 6, 7, 8, 0}, kCrhts, {4, 5, 6, 7, 0}},
      {kEips, {10, 11, 11, 12, 13, 14, 15, 16, 17}, kCrhts, {12, 13, 14, 10}},
      {kMemory, {18, 18, 19, 20, 21}, {}, {}},
      {kWards, {14, 16, 17, 10, 15, 0, 5, 13}, {}, {}},
  };
  return *p;
}

class Generator {
 public:
  explicit Generator(Rng& rng) : rng_(rng) {}

  // New ratings from the person's current levels, moved by the period's trend; now and then with
  // items rated 9.
  Ratings Next(std::array<int, 12>& level, int trend) {
    for (int i = 0; i < 12; ++i) {
      if (rng_.Chance(45)) level[i] += trend;
      if (rng_.Chance(20)) level[i] += rng_.Pick(std::vector<int>{-1, 1});
      level[i] = std::clamp(level[i], 0, 4);
    }
    Ratings r;
    for (int i = 0; i < 12; ++i) r.items[i] = level[i];
    for (int i = 12; i < 18; ++i) r.items[i] = rng_.Chance(5) ? kNotKnown : rng_.Uniform(0, 4);
    if (rng_.Chance(11)) {
      for (int n = rng_.Uniform(1, 2); n > 0; --n) r.items[rng_.Uniform(0, 11)] = kNotKnown;
    }
    SetItem8Type(r, static_cast<char>('A' + rng_.Uniform(0, 8)));
    return r;
  }

  // An amendment's ratings: a few items moved; sometimes an item rated 9 added, or the 9s rated.
  // Never the same ratings (allocation would take it for a retry).
  Ratings Amended(const Ratings& before) {
    for (;;) {
      Ratings r = AmendedOnce(before);
      if (r.items != before.items) return r;
    }
  }
  Ratings AmendedOnce(Ratings r) {
    bool has_unknown = false;
    for (int i = 0; i < 12; ++i) has_unknown |= r.items[i] == kNotKnown;
    if (has_unknown && rng_.Chance(60)) {
      for (int i = 0; i < 12; ++i) {
        if (r.items[i] == kNotKnown) r.items[i] = rng_.Uniform(0, 4);
      }
    } else if (!has_unknown && rng_.Chance(25)) {
      r.items[rng_.Uniform(0, 11)] = kNotKnown;
    }
    for (int n = rng_.Uniform(1, 4); n > 0; --n) {
      const int i = rng_.Uniform(0, 11);
      if (r.items[i] != kNotKnown) r.items[i] = std::clamp(r.items[i] + rng_.Pick(std::vector<int>{-2, -1, 1, 2}), 0, 4);
    }
    SetItem8Type(r, static_cast<char>('A' + rng_.Uniform(0, 8)));
    return r;
  }

  absl::Time DayTime(absl::CivilDay day) {
    // Mostly in working hours; now and then just before or after midnight (UK).
    const int hour = rng_.Chance(6) ? rng_.Pick(std::vector<int>{0, 23}) : rng_.Uniform(8, 16);
    return Local(day, hour, rng_.Uniform(0, 59), rng_.Uniform(0, 59));
  }

  void Person(Plan& plan, int index) {
    const Pathway& path = Pathways()[index % 10 < 5 ? 0 : index % 10 < 8 ? 1 : index % 10 < 9 ? 2 : 3];
    absl::CivilDay day = kFirstDay + rng_.Uniform(0, 620);
    const int periods = rng_.Chance(38) ? 2 : 1;
    std::array<int, 12> level{};
    for (int& v : level) v = rng_.Uniform(0, 3);
    for (int p = 0; p < periods; ++p) {
      std::string team = rng_.Pick(path.teams);
      int cluster = rng_.Pick(path.clusters);
      if (day > kLastDay - 20) return;
      plan.Refer(DayTime(day), team);
      day += rng_.Uniform(1, 20);
      const int n = rng_.Pick(std::vector<int>{1, 2, 2, 3, 3, 3, 4, 4, 5, 6});
      const int trend = rng_.Pick(std::vector<int>{-1, -1, -1, 0, 1});
      std::optional<absl::Time> last;
      std::string home_team = team;
      for (int k = 0; k < n; ++k) {
        absl::Time at;
        if (last.has_value() && rng_.Chance(12)) {
          // A second rating the same UK day (a transfer, a correction entered as a new record).
          at = *last + absl::Minutes(rng_.Uniform(20, 300));
          if (UkDay(at) != UkDay(*last)) at = *last + absl::Minutes(3);
        } else {
          if (last.has_value()) day = UkDay(*last) + rng_.Uniform(7, 110);
          if (day > kLastDay - 5) break;
          at = DayTime(day);
          if (last.has_value() && at <= *last) at = *last + absl::Minutes(7);
        }
        // Home treatment for a review or two, then back; sometimes another cluster.
        if (k > 0 && !path.crisis.empty() && rng_.Chance(15)) {
          team = rng_.Pick(path.crisis);
          cluster = rng_.Pick(path.crisis_clusters);
        } else if (team != home_team && rng_.Chance(60)) {
          team = home_team;
          cluster = rng_.Pick(path.clusters);
        } else if (k > 0 && rng_.Chance(20)) {
          cluster = team == home_team ? rng_.Pick(path.clusters) : rng_.Pick(path.crisis_clusters);
        }
        const std::string commissioner = rng_.Chance(25) ? rng_.Pick(kCommissioners) : "";
        plan.Assess(at, team, cluster, Next(level, trend), commissioner);
        last = at;
      }
      if (!last.has_value()) return;
      const bool discharge = p + 1 < periods || rng_.Chance(55);
      if (!discharge) return;
      const absl::CivilDay out = UkDay(*last) + rng_.Uniform(1, 40);
      if (out > kLastDay) return;
      plan.Discharge(Local(out, rng_.Uniform(10, 16), rng_.Uniform(0, 59)), team);
      day = out + rng_.Uniform(14, 150);
    }
  }

  // The EPR's corrections, after everything was entered: assessments first (amending an initial
  // assessment is checked against the periods as they then stand), care events last.
  void Corrections(Plan& plan) {
    for (const std::string& id : plan.live_assessments()) {
      const int r = rng_.Uniform(0, 99);
      if (r < 6) {
        plan.Withdraw(id, "withdrawn: recorded against the wrong patient");
      } else if (r < 13) {
        const bool commissioner = rng_.Chance(20);
        plan.AmendRatings(id, Amended(plan.held(id).content.ratings), "amended: ratings",
                          commissioner ? std::optional<std::string>(rng_.Pick(kCommissioners)) : std::nullopt);
      } else if (r < 20) {
        Move(plan, id);
      }
    }
    if (rng_.Chance(3)) {
      for (const std::string& id : plan.live_assessments()) plan.Withdraw(id, "withdrawn: the whole record was another patient's");
    }
    const auto& periods = plan.periods();
    if (periods.size() == 2) {
      const int r = rng_.Uniform(0, 99);
      if (r < 7 && !periods[0].discharge.empty()) {
        plan.WithdrawCare(periods[0].discharge, "discharge withdrawn: the periods are one");
      } else if (r < 14) {
        plan.WithdrawCare(periods[1].referral, "re-referral withdrawn: its first assessment opens the period");
      }
    } else if (!periods.empty() && !periods.back().discharge.empty() && rng_.Chance(5)) {
      plan.WithdrawCare(periods.back().discharge, "discharge withdrawn: still in the service");
    }
  }

 private:
  // A new MHCT time: a few days either way, onto the UK day of another rating of the period, or
  // anywhere in the period; sometimes with another cluster of the same pathway.
  void Move(Plan& plan, const std::string& id) {
    const auto window = plan.MoveWindow(id);
    if (!window.has_value()) return;
    const auto [lo, hi] = *window;
    const Plan::Held& h = plan.held(id);
    for (int attempt = 0; attempt < 10; ++attempt) {
      absl::Time at;
      const int kind = rng_.Uniform(0, 9);
      if (kind < 5) {
        at = h.content.at + absl::Hours(24 * rng_.Pick(std::vector<int>{-5, -3, -1, 1, 2, 6}));
      } else if (kind < 7) {
        const auto& others = plan.periods()[h.period].assessments;
        const Plan::Held& other = plan.held(rng_.Pick(others));
        at = Local(UkDay(other.content.at), rng_.Uniform(0, 23), rng_.Uniform(0, 59), rng_.Uniform(0, 59));
      } else {
        const int64_t span = absl::ToInt64Seconds(hi - lo);
        at = lo + absl::Seconds(static_cast<int64_t>(rng_.Next() % static_cast<uint64_t>(span + 1)));
      }
      if (at < lo || at > hi || at == h.content.at || plan.Taken(at)) continue;
      std::optional<int> cluster;
      if (rng_.Chance(30)) {
        for (const Pathway& p : Pathways()) {
          if (std::find(p.teams.begin(), p.teams.end(), h.content.team) != p.teams.end()) cluster = rng_.Pick(p.clusters);
          if (std::find(p.crisis.begin(), p.crisis.end(), h.content.team) != p.crisis.end()) {
            cluster = rng_.Pick(p.crisis_clusters);
          }
        }
      }
      plan.AmendTime(id, at, cluster, absl::StrCat("amended: MHCT moved to ", TimeText(at)));
      return;
    }
  }

  Rng& rng_;
};

// People written out by hand for the edges the random ones may miss.
void DesignedPeople(std::vector<Plan>& plans) {
  auto person = [&]() -> Plan& { return plans.emplace_back(absl::StrFormat("d%03d", plans.size())); };
  using absl::CivilDay;
  {  // Over midnight in summer time: two UK days, one UTC day. Paired: -8, improved, matches cluster 4.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 6, 10), 10), "cmht-north");
    p.Assess(Local(CivilDay(2025, 6, 14), 23, 30), "cmht-north", 4, Total(20));
    p.Assess(Local(CivilDay(2025, 6, 15), 0, 30), "cmht-north", 4, Total(12));
    p.Discharge(Local(CivilDay(2025, 6, 20), 12), "cmht-north");
  }
  {  // One UK day over a UTC midnight: not paired; +10 since the previous, not cluster 6's pattern.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 6, 25), 10), "cmht-south");
    p.Assess(Local(CivilDay(2025, 7, 1), 0, 30), "cmht-south", 6, Total(10));
    p.Assess(Local(CivilDay(2025, 7, 1), 22, 0), "cmht-south", 6, Total(20));
  }
  {  // Last valid rating at 00:20 on 1 August (31 July in UTC): counted in August. +8: deteriorated.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 7, 1), 9), "eip-north");
    p.Assess(Local(CivilDay(2025, 7, 10), 11), "eip-north", 12, Total(15));
    p.Assess(Local(CivilDay(2025, 8, 1), 0, 20), "eip-north", 12, Total(23));
  }
  {  // Last valid rating at 23:30 on 31 July: counted in July. +8 on cluster 18: matches.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 7, 1), 9), "memory-west");
    p.Assess(Local(CivilDay(2025, 7, 5), 11), "memory-west", 18, Total(10));
    p.Assess(Local(CivilDay(2025, 7, 31), 23, 30), "memory-west", 18, Total(18), "00Z");
  }
  {  // -7: no reliable change; cluster 14 expects improvement.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 3, 1), 9), "eip-central");
    p.Assess(Local(CivilDay(2025, 3, 3), 11), "eip-central", 14, Total(20));
    p.Assess(Local(CivilDay(2025, 5, 3), 11), "eip-central", 14, Total(13));
    p.Discharge(Local(CivilDay(2025, 5, 20), 11), "eip-central");
  }
  {  // Cluster 0: -8, improved, no pattern.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 7, 2), 9), "cmht-east");
    p.Assess(Local(CivilDay(2025, 7, 4), 11), "cmht-east", 0, Total(16));
    p.Assess(Local(CivilDay(2025, 7, 30), 11), "cmht-east", 0, Total(8));
  }
  {  // The first rating invalid: the episode is the second's (another team, cluster, commissioner).
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 9, 1), 9), "cmht-north");
    p.Assess(Local(CivilDay(2025, 9, 2), 11), "cmht-north", 5, Missing(14, {3}));
    p.Assess(Local(CivilDay(2025, 9, 9), 11), "crht-south", 7, Total(22), "00Z");
    p.Assess(Local(CivilDay(2025, 10, 9), 11), "cmht-north", 5, Total(12));
  }
  {  // Every rating invalid: listed, counted nowhere.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 9, 1), 9), "eip-north");
    p.Assess(Local(CivilDay(2025, 9, 2), 11), "eip-north", 11, Missing(14, {3, 9}));
    p.Assess(Local(CivilDay(2025, 11, 2), 11), "eip-north", 11, Missing(18, {12}));
  }
  {  // Every assessment withdrawn: NOT_FOUND.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 2, 1), 9), "cmht-south");
    const std::string a = p.Assess(Local(CivilDay(2025, 2, 2), 11), "cmht-south", 4, Total(14));
    const std::string b = p.Assess(Local(CivilDay(2025, 4, 2), 11), "cmht-south", 4, Total(6));
    p.Withdraw(b, "withdrawn");
    p.Withdraw(a, "withdrawn");
  }
  {  // An invalid rating between two valid ones: since_previous reaches past it.
    Plan& p = person();
    p.Refer(Local(CivilDay(2024, 5, 1), 9), "ward-north");
    p.Assess(Local(CivilDay(2024, 5, 2), 11), "ward-north", 16, Total(30));
    p.Assess(Local(CivilDay(2024, 5, 20), 11), "ward-north", 16, Missing(20, {1}));
    p.Assess(Local(CivilDay(2024, 6, 20), 11), "ward-north", 17, Total(21));
    p.Discharge(Local(CivilDay(2024, 6, 21), 11), "ward-north");
  }
  {  // Last valid rating at 23:30 on 31 March 2026 (summer time): in the first quarter.
    Plan& p = person();
    p.Refer(Local(CivilDay(2026, 2, 1), 9), "cmht-east");
    p.Assess(Local(CivilDay(2026, 2, 10), 11), "cmht-east", 8, Total(9));
    p.Assess(Local(CivilDay(2026, 3, 31), 23, 30), "cmht-east", 8, Total(10));
  }
  {  // At 00:30 on 1 April 2026 (31 March in UTC): in the second quarter.
    Plan& p = person();
    p.Refer(Local(CivilDay(2026, 2, 1), 9), "cmht-east");
    p.Assess(Local(CivilDay(2026, 2, 10), 11), "cmht-east", 5, Total(25));
    p.Assess(Local(CivilDay(2026, 4, 1), 0, 30), "cmht-east", 5, Total(15));
  }
  {  // Over midnight in winter: UK and UTC days agree; 40 seconds apart, two days: paired.
    Plan& p = person();
    p.Refer(Local(CivilDay(2025, 11, 20), 9), "crht-north");
    p.Assess(Local(CivilDay(2025, 12, 1), 23, 59, 30), "crht-north", 15, Total(33));
    p.Assess(Local(CivilDay(2025, 12, 2), 0, 0, 10), "crht-north", 15, Total(25));
  }
  {  // A review moved onto the first rating's day: the pair goes.
    Plan& p = person();
    p.Refer(Local(CivilDay(2024, 10, 1), 9), "cmht-south");
    p.Assess(Local(CivilDay(2024, 10, 2), 10), "cmht-south", 4, Total(18));
    const std::string b = p.Assess(Local(CivilDay(2024, 11, 2), 10), "cmht-south", 4, Total(6));
    p.AmendTime(b, Local(CivilDay(2024, 10, 2), 16), std::nullopt, "amended: same day as the first");
  }
  {  // The last rating amended to have an item rated 9: the one before is the last valid.
    Plan& p = person();
    p.Refer(Local(CivilDay(2024, 3, 1), 9), "eip-central");
    p.Assess(Local(CivilDay(2024, 3, 2), 10), "eip-central", 13, Total(24));
    p.Assess(Local(CivilDay(2024, 6, 2), 10), "eip-central", 13, Total(14));
    const std::string c = p.Assess(Local(CivilDay(2024, 9, 2), 10), "eip-central", 13, Total(10));
    p.AmendRatings(c, Missing(10, {7}), "amended: item 7 not known");
  }
  {  // Two periods made one by withdrawing the discharge between them.
    Plan& p = person();
    p.Refer(Local(CivilDay(2024, 2, 1), 9), "cmht-north");
    p.Assess(Local(CivilDay(2024, 2, 2), 10), "cmht-north", 6, Total(20));
    p.Assess(Local(CivilDay(2024, 5, 2), 10), "cmht-north", 6, Total(17));
    const std::string out = p.Discharge(Local(CivilDay(2024, 5, 9), 10), "cmht-north");
    p.Refer(Local(CivilDay(2024, 8, 1), 9), "cmht-north");
    p.Assess(Local(CivilDay(2024, 8, 2), 10), "cmht-north", 4, Total(15));
    p.Assess(Local(CivilDay(2024, 10, 2), 10), "cmht-north", 4, Total(9));
    p.Discharge(Local(CivilDay(2024, 10, 9), 10), "cmht-north");
    p.WithdrawCare(out, "discharge withdrawn");
  }
  {  // The re-referral withdrawn: the second period is opened by its first assessment.
    Plan& p = person();
    p.Refer(Local(CivilDay(2024, 2, 1), 9), "eip-north");
    p.Assess(Local(CivilDay(2024, 2, 2), 10), "eip-north", 10, Total(26));
    p.Assess(Local(CivilDay(2024, 5, 2), 10), "eip-north", 10, Total(17));
    p.Discharge(Local(CivilDay(2024, 5, 9), 10), "eip-north");
    const std::string back = p.Refer(Local(CivilDay(2024, 8, 1), 9), "eip-north");
    p.Assess(Local(CivilDay(2024, 8, 2), 10), "eip-north", 11, Total(15));
    p.Assess(Local(CivilDay(2024, 10, 2), 10), "eip-north", 11, Total(23));
    p.WithdrawCare(back, "re-referral withdrawn");
  }
}

// ---- the model: each person's facts as allocation accepted them ----

struct AssessmentFact {
  std::string record_id, id, team, commissioner;  // commissioner as allocation publishes it
  absl::Time at;
  int cluster = 0;
  Ratings ratings;
  bool live = true;
};

struct CareFact {
  std::string record_id, id;
  CareEventType type = pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED;
  absl::Time at;
  bool live = true;
};

struct ModelPerson {
  std::string label, nhs, person_id;
  std::map<std::string, AssessmentFact> assessments;  // by record id
  std::map<std::string, CareFact> care;
  std::vector<std::string> history;
  std::map<std::string, std::string> names;  // platform id -> record id
  std::string Name(const std::string& id) const {
    if (id.empty()) return "-";
    auto it = names.find(id);
    return it == names.end() ? absl::StrCat("?", id.substr(0, 12)) : it->second;
  }
};

struct ExpectedChange {
  const AssessmentFact* earlier = nullptr;
  Measures e, l;
  int change = 0;
  ReliableChange reliable = pbr::v1::RELIABLE_CHANGE_UNSPECIFIED;
  ExpectedOutcomeMatch expected = pbr::v1::EXPECTED_OUTCOME_MATCH_UNSPECIFIED;
};

ExpectedChange ChangeOf(const AssessmentFact& earlier, const AssessmentFact& later) {
  ExpectedChange c;
  c.earlier = &earlier;
  c.e = MeasuresOf(earlier.ratings);
  c.l = MeasuresOf(later.ratings);
  c.change = c.l.total - c.e.total;
  c.reliable = ClassOf(c.change);
  c.expected = ExpectedFor(earlier.cluster, c.reliable);
  return c;
}

struct ExpectedEntry {
  const AssessmentFact* a = nullptr;
  Measures m;
  std::string referral_id;
  std::optional<ExpectedChange> since_first, since_previous;
};

struct ExpectedEpisode {
  std::string referral_id;
  std::string opened_by;  // record id of the referral or assessment that opened the period
  absl::Time opened_at;
  std::optional<absl::Time> closed_at;
  int ratings = 0, valid = 0;
  const AssessmentFact* first = nullptr;  // valid
  const AssessmentFact* last = nullptr;
  bool paired = false;
  std::optional<ExpectedChange> change;
  std::string super_class;
  absl::CivilDay counted_on;
};

struct Expected {
  std::vector<ExpectedEntry> entries;  // MHCT order
  std::vector<ExpectedEpisode> episodes;
};

Expected Derive(const ModelPerson& p) {
  std::vector<const AssessmentFact*> live;
  for (const auto& [id, a] : p.assessments) {
    if (a.live) live.push_back(&a);
  }
  std::sort(live.begin(), live.end(), [](const AssessmentFact* x, const AssessmentFact* y) { return x->at < y->at; });
  std::vector<const CareFact*> events;  // by record id
  for (const auto& [id, e] : p.care) {
    if (e.live) events.push_back(&e);
  }

  // Referral periods: at one instant a referral, then assessments, then a discharge.
  struct PeriodModel {
    std::string id, opened_by;
    absl::Time opened_at;
    std::optional<absl::Time> closed_at;
    std::vector<const AssessmentFact*> assessments;
  };
  std::vector<PeriodModel> periods;
  std::optional<absl::Time> last_closed;
  auto open = [&]() -> PeriodModel* { return !periods.empty() && !periods.back().closed_at ? &periods.back() : nullptr; };
  for (const auto& s : history::PeriodSteps(live, events)) {
    if (s.e != nullptr && s.rank == 0) {
      if (open() == nullptr) {
        periods.push_back({ledger::ReferralId(p.person_id, s.e->id), s.e->record_id,
                           last_closed ? std::max(s.at, *last_closed) : s.at, {}, {}});
      }
    } else if (s.e != nullptr) {
      if (PeriodModel* o = open()) {
        o->closed_at = s.at;
        last_closed = s.at;
      }
    } else {
      if (open() == nullptr) {
        periods.push_back({ledger::ReferralId(p.person_id, s.a->id), s.a->record_id,
                           last_closed ? std::max(s.at, *last_closed) : s.at, {}, {}});
      }
      open()->assessments.push_back(s.a);
    }
  }

  Expected out;
  std::map<const AssessmentFact*, ExpectedEntry> entries;
  for (const PeriodModel& period : periods) {
    if (period.assessments.empty()) continue;
    ExpectedEpisode& ep = out.episodes.emplace_back();
    ep.referral_id = period.id;
    ep.opened_by = period.opened_by;
    ep.opened_at = period.opened_at;
    ep.closed_at = period.closed_at;
    ep.ratings = static_cast<int>(period.assessments.size());
    const AssessmentFact* first = nullptr;
    const AssessmentFact* previous = nullptr;
    for (const AssessmentFact* a : period.assessments) {
      ExpectedEntry e;
      e.a = a;
      e.m = MeasuresOf(a->ratings);
      e.referral_id = period.id;
      if (e.m.valid) {
        if (previous != nullptr) e.since_previous = ChangeOf(*previous, *a);
        if (first != nullptr && UkDay(a->at) > UkDay(first->at)) e.since_first = ChangeOf(*first, *a);
        if (first == nullptr) first = a;
        previous = a;
        ++ep.valid;
      }
      entries[a] = e;
    }
    if (first == nullptr) continue;
    ep.first = first;
    ep.last = previous;
    ep.paired = UkDay(ep.last->at) > UkDay(first->at);
    if (ep.paired) ep.change = entries[ep.last].since_first;
    ep.super_class = SuperClassOf(first->cluster);
    ep.counted_on = UkDay(ep.last->at);
  }
  for (const AssessmentFact* a : live) out.entries.push_back(entries.at(a));
  return out;
}

// ---- the summaries, computed here from the expected episodes ----

struct Tally {
  int64_t episodes = 0, paired = 0, improved = 0, same = 0, worse = 0, with_expected = 0, matching = 0;
  int64_t total_change = 0;
  std::array<int64_t, 4> factor_sum{}, factor_count{};
  void Add(const ExpectedEpisode& e) {
    ++episodes;
    if (!e.paired) return;
    ++paired;
    total_change += e.change->change;
    for (size_t f = 0; f < 4; ++f) {
      if (e.change->e.factor_missing[f] == 0 && e.change->l.factor_missing[f] == 0) {
        factor_sum[f] += e.change->l.factor_score[f] - e.change->e.factor_score[f];
        ++factor_count[f];
      }
    }
    improved += e.change->reliable == pbr::v1::RELIABLE_CHANGE_IMPROVED;
    same += e.change->reliable == pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE;
    worse += e.change->reliable == pbr::v1::RELIABLE_CHANGE_DETERIORATED;
    with_expected += e.change->expected != pbr::v1::EXPECTED_OUTCOME_NO_PATTERN;
    matching += e.change->expected == pbr::v1::EXPECTED_OUTCOME_MATCHES;
  }
};

std::string GroupOf(const ExpectedEpisode& e, pbr::v1::OutcomeGrouping g) {
  switch (g) {
    case pbr::v1::OUTCOME_GROUPING_TEAM: return e.first->team;
    case pbr::v1::OUTCOME_GROUPING_CLUSTER: return absl::StrCat(e.first->cluster);
    case pbr::v1::OUTCOME_GROUPING_COMMISSIONER: return e.first->commissioner;
    case pbr::v1::OUTCOME_GROUPING_SUPER_CLASS: return e.super_class;
    default: return "";
  }
}

double Ratio(int64_t n, int64_t d) { return d == 0 ? 0.0 : static_cast<double>(n) / static_cast<double>(d); }

// ---- comparing ----

// A differing field without its indexes and assessment id, to count them by kind.
std::string FieldKind(const std::string& field) {
  std::string out;
  bool in_brackets = false, in_id = false;
  for (char c : field) {
    if (in_id && c != '.') continue;
    in_id = false;
    if (c == '[') in_brackets = true;
    if (c == ']') in_brackets = false;
    if (c == ' ' && absl::StartsWith(out, "outcomes[]") && out.size() == 10) {
      in_id = true;
      continue;
    }
    if (in_brackets && c >= '0' && c <= '9') continue;
    out.push_back(c);
  }
  return out;
}

std::string RcName(ReliableChange c) { return pbr::v1::ReliableChange_Name(c); }
std::string MatchName(ExpectedOutcomeMatch m) { return pbr::v1::ExpectedOutcomeMatch_Name(m); }
std::string SignificanceName(ItemSignificance s) { return pbr::v1::ItemSignificance_Name(s); }

// A later rating against an earlier one (both valid), item by item and factor by factor.
void CompareChange(Diffs& d, const ModelPerson& p, const std::string& at, const pbr::v1::RatingChange& got,
                   const ExpectedChange& want, const AssessmentFact& later) {
  d.Eq(at + ".earlier_assessment_id", p.Name(got.earlier_assessment_id()), want.earlier->record_id);
  d.Eq(at + ".earlier_assessed_at", platform::FromProto(got.earlier_assessed_at()), want.earlier->at);
  d.Eq(at + ".earlier_total", got.earlier_total(), want.e.total);
  d.Eq(at + ".later_total", got.later_total(), want.l.total);
  d.Eq(at + ".total_change", got.total_change(), want.change);
  d.Eq(at + ".factors.size", got.factors_size(), 4);
  for (int f = 0; f < std::min(got.factors_size(), 4); ++f) {
    const auto& gf = got.factors(f);
    const std::string fa = absl::StrCat(at, ".factors[", f, "]");
    const bool known = want.e.factor_missing[f] == 0 && want.l.factor_missing[f] == 0;
    d.Eq(fa + ".id", gf.id(), std::string(Factors()[f].id));
    d.Eq(fa + ".earlier", gf.earlier(), want.e.factor_score[f]);
    d.Eq(fa + ".later", gf.later(), want.l.factor_score[f]);
    d.Eq(fa + ".known", gf.known(), known);
    if (known) d.Eq(fa + ".change", gf.change(), want.l.factor_score[f] - want.e.factor_score[f]);
  }
  d.Eq(at + ".items.size", got.items_size(), 12);
  for (int i = 0; i < std::min(got.items_size(), 12); ++i) {
    const auto& gi = got.items(i);
    const std::string ia = absl::StrCat(at, ".items[", i, "]");
    const int e = want.earlier->ratings.items[i];
    const int l = later.ratings.items[i];
    const bool known = e != kNotKnown && l != kNotKnown;
    d.Eq(ia + ".item", gi.item(), i + 1);
    d.Eq(ia + ".earlier", gi.earlier(), e);
    d.Eq(ia + ".later", gi.later(), l);
    d.Eq(ia + ".known", gi.known(), known);
    d.Eq(ia + ".change", gi.change(), known ? l - e : 0);
  }
  d.Eq(at + ".population", pbr::v1::OutcomePopulation_Name(got.population()),
       pbr::v1::OutcomePopulation_Name(pbr::v1::OUTCOME_POPULATION_STANDARD));
  d.Eq(at + ".reliable_change_threshold", got.reliable_change_threshold(), kReliableChange);
  d.Eq(at + ".reliable_change", RcName(got.reliable_change()), RcName(want.reliable));
  d.Eq(at + ".clinical_cutoff", got.clinical_cutoff(), kClinicalCutoff);
  const bool earlier_clinical = want.e.total >= kClinicalCutoff;
  const bool later_clinical = want.l.total >= kClinicalCutoff;
  d.Eq(at + ".earlier_clinical", got.earlier_clinical(), earlier_clinical);
  d.Eq(at + ".later_clinical", got.later_clinical(), later_clinical);
  d.Eq(at + ".later_remission", got.later_remission(), want.l.total <= kRemissionMax);
  d.Eq(at + ".clinically_significant_improvement", got.clinically_significant_improvement(),
       want.reliable == pbr::v1::RELIABLE_CHANGE_IMPROVED && earlier_clinical && !later_clinical);
  d.Eq(at + ".expected_cluster", got.expected_cluster(), want.earlier->cluster);
  d.Eq(at + ".expected", MatchName(got.expected()), MatchName(want.expected));
  d.Eq(at + ".expected_outcome is set", !got.expected_outcome().empty(),
       want.expected != pbr::v1::EXPECTED_OUTCOME_NO_PATTERN);
}

void CompareEntry(Diffs& d, const ModelPerson& p, const std::string& at, const pbr::v1::OutcomeEntry& got,
                  const ExpectedEntry& want) {
  const AssessmentFact& a = *want.a;
  const Measures& m = want.m;
  d.Eq(at + ".assessment_id", p.Name(got.assessment_id()), a.record_id);
  d.Eq(at + ".assessed_at", platform::FromProto(got.assessed_at()), a.at);
  d.Eq(at + ".cluster", got.cluster(), a.cluster);
  d.Eq(at + ".total_valid", got.total_valid(), m.valid);
  if (m.valid) d.Eq(at + ".honos_total", got.honos_total(), m.total);
  d.Eq(at + ".missing_items", got.missing_items(), m.missing);
  d.Eq(at + ".missing_item_policy", got.missing_item_policy(), std::string("strict"));
  d.Eq(at + ".factors.size", got.factors_size(), 4);
  for (int f = 0; f < std::min(got.factors_size(), 4); ++f) {
    const std::string fa = absl::StrCat(at, ".factors[", f, "]");
    d.Eq(fa + ".id", got.factors(f).id(), std::string(Factors()[f].id));
    d.Eq(fa + ".score", got.factors(f).score(), m.factor_score[f]);
    d.Eq(fa + ".max", got.factors(f).max(), Factors()[f].max);
    d.Eq(fa + ".missing_items", got.factors(f).missing_items(), m.factor_missing[f]);
  }
  d.Eq(at + ".factor_sum", got.factor_sum(), m.factor_sum);
  d.Eq(at + ".factor_sum_max", got.factor_sum_max(), 52);
  d.Eq(at + ".items.size", got.items_size(), 12);
  for (int i = 0; i < std::min(got.items_size(), 12); ++i) {
    const std::string ia = absl::StrCat(at, ".items[", i, "]");
    d.Eq(ia + ".item", got.items(i).item(), i + 1);
    d.Eq(ia + ".rating", got.items(i).rating(), a.ratings.items[i]);
    d.Eq(ia + ".significance", SignificanceName(got.items(i).significance()),
         SignificanceName(SignificanceOf(a.ratings.items[i])));
  }
  std::vector<std::string> needs, got_needs;
  for (int i = 0; i < 12; ++i) {
    const int v = a.ratings.items[i];
    if (v < 2 || v > 4) continue;
    needs.push_back(absl::StrCat(i + 1, "=", v, " ", SignificanceName(SignificanceOf(v)),
                                 i == 7 ? absl::StrCat(" type ", std::string(1, a.ratings.item8_type)) : ""));
  }
  for (const auto& n : got.care_plan_needs()) {
    got_needs.push_back(absl::StrCat(n.item(), "=", n.rating(), " ", SignificanceName(n.significance()),
                                     n.item() == 8 ? absl::StrCat(" type ", n.problem_type()) : ""));
  }
  d.Eq(at + ".care_plan_needs", absl::StrJoin(got_needs, ", "), absl::StrJoin(needs, ", "));
  d.Eq(at + ".population", pbr::v1::OutcomePopulation_Name(got.population()),
       pbr::v1::OutcomePopulation_Name(pbr::v1::OUTCOME_POPULATION_STANDARD));
  d.Eq(at + ".clinical_cutoff", got.clinical_cutoff(), kClinicalCutoff);
  d.Eq(at + ".clinical_range", got.clinical_range(), m.valid && m.total >= kClinicalCutoff);
  d.Eq(at + ".remission", got.remission(), m.valid && m.total <= kRemissionMax);
  d.Eq(at + ".referral_id", got.referral_id(), want.referral_id);
  d.Eq(at + ".team_id", got.team_id(), a.team);
  d.Eq(at + ".commissioner_id", got.commissioner_id(), a.commissioner);
  d.Eq(at + ".since_first present", got.has_since_first(), want.since_first.has_value());
  if (got.has_since_first() && want.since_first.has_value()) {
    CompareChange(d, p, at + ".since_first", got.since_first(), *want.since_first, a);
  }
  d.Eq(at + ".since_previous present", got.has_since_previous(), want.since_previous.has_value());
  if (got.has_since_previous() && want.since_previous.has_value()) {
    CompareChange(d, p, at + ".since_previous", got.since_previous(), *want.since_previous, a);
  }
}

void CompareEpisode(Diffs& d, const ModelPerson& p, const std::string& at, const pbr::v1::EpisodeOutcome& got,
                    const ExpectedEpisode& want) {
  d.Eq(at + ".referral_id", got.referral_id(), want.referral_id);
  d.Eq(at + ".opened_at", platform::FromProto(got.opened_at()), want.opened_at);
  d.Eq(at + ".closed_at present", got.has_closed_at(), want.closed_at.has_value());
  if (got.has_closed_at() && want.closed_at) d.Eq(at + ".closed_at", platform::FromProto(got.closed_at()), *want.closed_at);
  d.Eq(at + ".ratings", got.ratings(), want.ratings);
  d.Eq(at + ".valid_ratings", got.valid_ratings(), want.valid);
  d.Eq(at + ".paired", got.paired(), want.paired);
  d.Eq(at + ".first_assessment_id", p.Name(got.first_assessment_id()), want.first ? want.first->record_id : "-");
  d.Eq(at + ".last_assessment_id", p.Name(got.last_assessment_id()), want.last ? want.last->record_id : "-");
  d.Eq(at + ".change present", got.has_change(), want.change.has_value());
  if (got.has_change() && want.change) {
    CompareChange(d, p, at + ".change", got.change(), *want.change, *want.last);
  }
  d.Eq(at + ".team_id", got.team_id(), want.first ? want.first->team : "");
  d.Eq(at + ".cluster", got.cluster(), want.first ? want.first->cluster : 0);
  d.Eq(at + ".commissioner_id", got.commissioner_id(), want.first ? want.first->commissioner : "");
  d.Eq(at + ".super_class", got.super_class(), want.first ? want.super_class : "");
  d.Eq(at + ".counted_on present", got.has_counted_on(), want.first != nullptr);
  if (got.has_counted_on() && want.first) d.Eq(at + ".counted_on", DayText(got.counted_on()), DayText(want.counted_on));
}

std::string Words(const Action& a) {
  const std::string when = a.act == Act::kWithdrawAssessment || a.act == Act::kWithdrawCareEvent ? "" : TimeText(a.at);
  auto honos = [](const Ratings& r) {
    std::vector<std::string> v;
    for (int i = 0; i < 12; ++i) v.push_back(absl::StrCat(r.items[i]));
    return absl::StrJoin(v, " ");
  };
  switch (a.act) {
    case Act::kAssess:
    case Act::kAmend:
      return absl::StrCat(a.act == Act::kAssess ? "assessment " : "amendment of ", a.record_id, " ",
                          pbr::v1::AssessmentReason_Name(a.reason), " MHCT ", when, " team ", a.team, " cluster ",
                          a.cluster, " commissioner ", a.commissioner.empty() ? "(team's)" : a.commissioner,
                          " HoNOS [", honos(a.ratings), "]");
    case Act::kWithdrawAssessment: return absl::StrCat("withdrawal of assessment ", a.record_id);
    case Act::kCareEvent:
      return absl::StrCat("care event ", a.record_id, " ", pbr::v1::CareEventType_Name(a.type), " at ", when, " team ", a.team);
    case Act::kWithdrawCareEvent: return absl::StrCat("withdrawal of care event ", a.record_id);
  }
  return "";
}

// ---- the test ----

class OutcomesSystemTest : public systemtest::PlatformFixture {
 protected:
  pbr::v1::RecordAssessmentRequest AssessmentRequest(const ModelPerson& p, const Action& a) const {
    pbr::v1::RecordAssessmentRequest r = history::AssessmentRequest(kEpr, p.nhs, kClinician, a, a.ratings);
    r.set_commissioner_id(a.commissioner);
    // Synthetic ratings break red rules and clusters stray from the protocol: the clinician says why.
    r.set_clinical_rationale("outcomes system test: synthetic ratings");
    return r;
  }

  // Enters one record through allocation and, when it is accepted, folds it into the model.
  bool Enter(pbr::v1::Allocation::Stub& allocation, ModelPerson& p, const Action& a) {
    p.history.push_back(absl::StrCat(Words(a), a.note.empty() ? "" : absl::StrCat(" [", a.note, "]")));
    grpc::Status st;
    switch (a.act) {
      case Act::kAssess:
      case Act::kAmend: {
        pbr::v1::RecordAssessmentReply reply;
        st = history::SendAssessment(allocation, a.act, AssessmentRequest(p, a), &reply);
        if (!st.ok()) break;
        EXPECT_FALSE(reply.duplicate()) << p.label << ": " << Words(a);
        history::Know(p, reply.person_id());
        p.names[reply.assessment_id()] = a.record_id;
        AssessmentFact& f = p.assessments[a.record_id];
        f.record_id = a.record_id;
        f.id = reply.assessment_id();
        f.at = a.at;
        f.team = a.team;
        f.cluster = a.cluster;
        f.ratings = a.ratings;
        const care::Team* team = rules_->teams().Find(a.team);
        f.commissioner = !a.commissioner.empty() ? a.commissioner : team != nullptr ? team->default_commissioner : "";
        f.live = true;
        break;
      }
      case Act::kWithdrawAssessment: {
        pbr::v1::WithdrawAssessmentReply reply;
        st = history::WithdrawAssessment(allocation, kEpr, a, &reply);
        if (st.ok()) p.assessments.at(a.record_id).live = false;
        break;
      }
      case Act::kCareEvent: {
        pbr::v1::RecordCareEventReply reply;
        // This history has no referrals out of hours.
        st = history::SendCareEvent(
            allocation, history::CareEventRequest(kEpr, p.nhs, kClinician, a, /*out_of_hours=*/false), &reply);
        if (!st.ok()) break;
        EXPECT_FALSE(reply.duplicate()) << p.label << ": " << Words(a);
        history::Know(p, reply.person_id());
        p.names[reply.care_event_id()] = a.record_id;
        p.care[a.record_id] = {a.record_id, reply.care_event_id(), a.type, a.at, true};
        break;
      }
      case Act::kWithdrawCareEvent: {
        pbr::v1::WithdrawCareEventReply reply;
        st = history::WithdrawCareEvent(allocation, kEpr, a, &reply);
        if (st.ok()) p.care.at(a.record_id).live = false;
        break;
      }
    }
    return history::Accepted(st, p, Words(a));
  }

  // The facts outcomes has applied (or dead-lettered) from the two topics it reads.
  struct Taken {
    int64_t consumed = -1, dead_lettered = 0;
  };
  Taken OutcomesTaken() {
    Taken out;
    auto body = testing::HttpGet(platform_->MetricsAddress("outcomes"), "/metrics");
    if (!body.ok()) return out;
    double consumed = 0, dead = 0;
    for (absl::string_view line : absl::StrSplit(*body, '\n')) {
      const bool is_consumed = absl::StartsWith(line, "pbr_events_consumed_total{");
      const bool is_dead = absl::StartsWith(line, "pbr_events_dead_lettered_total{");
      if (!is_consumed && !is_dead) continue;
      const bool ours = absl::StrContains(line, absl::StrCat("\"", platform::topic::kAssessmentRecorded, "\"")) ||
                        absl::StrContains(line, absl::StrCat("\"", platform::topic::kCareEventRecorded, "\""));
      double v = 0;
      const size_t space = line.rfind(' ');
      if (!ours || space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &v)) continue;
      (is_consumed ? consumed : dead) += v;
    }
    out.consumed = static_cast<int64_t>(consumed);
    out.dead_lettered = static_cast<int64_t>(dead);
    return out;
  }

  void CheckSummary(const std::vector<ModelPerson>& people, const std::vector<Expected>& expected,
                    pbr::v1::OutcomeGrouping grouping, std::optional<absl::CivilDay> start,
                    std::optional<absl::CivilDay> end, int* groups_checked) {
    const std::string what = absl::StrCat(pbr::v1::OutcomeGrouping_Name(grouping), " from ",
                                          start ? DayText(*start) : "the start", " to ", end ? DayText(*end) : "the end");
    std::map<std::string, Tally> want;
    Tally all;
    for (size_t i = 0; i < people.size(); ++i) {
      for (const ExpectedEpisode& e : expected[i].episodes) {
        if (e.first == nullptr) continue;
        if ((start && e.counted_on < *start) || (end && e.counted_on > *end)) continue;
        want[GroupOf(e, grouping)].Add(e);
        all.Add(e);
      }
    }
    pbr::v1::SummariseOutcomesRequest request;
    request.set_group_by(grouping);
    if (start) *request.mutable_period_start() = platform::ToProto(*start);
    if (end) *request.mutable_period_end() = platform::ToProto(*end);
    pbr::v1::OutcomesSummary got;
    auto outcomes = Stub<pbr::v1::Outcomes>("outcomes");
    const grpc::Status st = outcomes->SummariseOutcomes(testing::CallContext().get(), request, &got);
    ASSERT_TRUE(st.ok()) << what << ": " << st.error_code() << " " << st.error_message();
    EXPECT_EQ(got.group_by(), grouping) << what;
    EXPECT_EQ(got.has_period_start(), start.has_value()) << what;
    EXPECT_EQ(got.has_period_end(), end.has_value()) << what;
    if (start && got.has_period_start()) {
      EXPECT_EQ(DayText(got.period_start()), DayText(*start)) << what;
    }
    if (end && got.has_period_end()) {
      EXPECT_EQ(DayText(got.period_end()), DayText(*end)) << what;
    }
    EXPECT_EQ(got.rule_version(), rules_->version()) << what;

    std::vector<std::string> want_groups, got_groups;
    for (const auto& [g, t] : want) want_groups.push_back(g);
    for (const auto& g : got.groups()) got_groups.push_back(g.group());
    EXPECT_EQ(absl::StrJoin(got_groups, ", "), absl::StrJoin(want_groups, ", ")) << what << ": the groups, in order";

    auto compare = [&](const std::string& label, const pbr::v1::OutcomeGroupSummary& g, const Tally& t) {
      const std::string at = absl::StrCat(what, ", group ", label, ": ");
      EXPECT_EQ(g.episodes(), t.episodes) << at << "episodes";
      EXPECT_EQ(g.paired_episodes(), t.paired) << at << "paired_episodes";
      EXPECT_NEAR(g.mean_total_change(), Ratio(t.total_change, t.paired), 1e-9) << at << "mean_total_change";
      ASSERT_EQ(g.factors_size(), 4) << at << "factors";
      for (int f = 0; f < 4; ++f) {
        EXPECT_EQ(g.factors(f).id(), Factors()[f].id) << at << "factors[" << f << "].id";
        EXPECT_EQ(g.factors(f).episodes(), t.factor_count[f]) << at << "factors[" << f << "].episodes";
        EXPECT_NEAR(g.factors(f).mean_change(), Ratio(t.factor_sum[f], t.factor_count[f]), 1e-9)
            << at << "factors[" << f << "].mean_change";
      }
      EXPECT_EQ(g.improved(), t.improved) << at << "improved";
      EXPECT_EQ(g.no_reliable_change(), t.same) << at << "no_reliable_change";
      EXPECT_EQ(g.deteriorated(), t.worse) << at << "deteriorated";
      EXPECT_NEAR(g.share_improved(), Ratio(t.improved, t.paired), 1e-9) << at << "share_improved";
      EXPECT_NEAR(g.share_no_reliable_change(), Ratio(t.same, t.paired), 1e-9) << at << "share_no_reliable_change";
      EXPECT_NEAR(g.share_deteriorated(), Ratio(t.worse, t.paired), 1e-9) << at << "share_deteriorated";
      EXPECT_EQ(g.with_expected_pattern(), t.with_expected) << at << "with_expected_pattern";
      EXPECT_EQ(g.matching_expected(), t.matching) << at << "matching_expected";
      EXPECT_NEAR(g.share_matching_expected(), Ratio(t.matching, t.with_expected), 1e-9) << at << "share_matching_expected";
      ++*groups_checked;
    };
    for (const auto& g : got.groups()) {
      auto it = want.find(g.group());
      if (it == want.end()) continue;  // reported with the list of groups
      compare(g.group(), g, it->second);
    }
    EXPECT_TRUE(got.all().group().empty()) << what << ": all.group";
    compare("(all)", got.all(), all);
  }
};

TEST_F(OutcomesSystemTest, EveryPersonsOutcomesAndEverySummaryMatchAnIndependentCalculation) {
  const absl::Time started = absl::Now();
  // The history, generated from the seed.
  std::vector<Plan> plans;
  for (int i = 0; i < kRandomPeople; ++i) {
    Rng rng(kSeed ^ (static_cast<uint64_t>(i + 1) * 0x100000001B3ull));
    Generator g(rng);
    Plan& plan = plans.emplace_back(absl::StrFormat("p%03d", i));
    g.Person(plan, i);
    g.Corrections(plan);
  }
  DesignedPeople(plans);
  std::vector<ModelPerson> people(plans.size());
  for (size_t i = 0; i < plans.size(); ++i) {
    people[i].label = plans[i].label();
    people[i].nhs = testing::NhsNumber(610000000 + static_cast<int64_t>(i) * 100);
  }

  // Entered through allocation: people in parallel, each person's records in order.
  std::map<Act, int64_t> sent;
  for (const Plan& plan : plans) {
    for (const Action& a : plan.actions()) ++sent[a.act];
  }
  history::Entered entered;
  {
    auto allocation = Stub<pbr::v1::Allocation>("allocation", std::string("epr-feed:") + kEpr);
    entered = history::EnterInParallel(
        plans, kEntryThreads, [&](size_t i, const Action& a) { return Enter(*allocation, people[i], a); });
  }
  const int64_t published = entered.accepted;
  ASSERT_EQ(entered.refused, 0) << "allocation refused records: the history is not the one planned";
  const absl::Duration entering = absl::Now() - started;

  // Until outcomes has taken every published assessment and care event.
  Taken taken;
  const bool caught_up = testing::WaitUntil(
      [&] {
        taken = OutcomesTaken();
        return taken.consumed >= 0 && taken.consumed + taken.dead_lettered >= published;
      },
      kWait, absl::Milliseconds(20));
  ASSERT_TRUE(caught_up) << "outcomes took " << taken.consumed << " of the " << published
                         << " published facts\n" << testing::Tail(platform_->LogPath("outcomes"));
  EXPECT_EQ(taken.dead_lettered, 0) << "outcomes dead-lettered facts\n" << testing::Tail(platform_->LogPath("outcomes"));

  // 1. Every person's outcomes.
  std::vector<Expected> expected;
  auto outcomes = Stub<pbr::v1::Outcomes>("outcomes");
  int wrong = 0, not_found = 0, entries = 0, valid = 0, since_first = 0, since_previous = 0, episodes = 0,
      counted = 0, pairs = 0, same_day = 0, cluster0 = 0;
  std::map<std::string, int> wrong_fields;
  for (ModelPerson& p : people) {
    expected.push_back(Derive(p));
    const Expected& want = expected.back();
    for (const ExpectedEpisode& e : want.episodes) p.names[e.referral_id] = absl::StrCat("period(", e.opened_by, ")");
    pbr::v1::GetOutcomesRequest request;
    request.set_person_id(p.person_id);
    pbr::v1::PersonOutcomes got;
    const grpc::Status st = outcomes->GetOutcomes(testing::CallContext().get(), request, &got);
    Diffs d;
    if (want.entries.empty()) {
      ++not_found;
      d.Eq("GetOutcomes status", st.error_code(), grpc::StatusCode::NOT_FOUND);
    } else if (!st.ok()) {
      d.Note(absl::StrCat("GetOutcomes: ", st.error_code(), " ", st.error_message()));
    } else {
      d.Eq("person_id", got.person_id(), p.person_id);
      d.Eq("rule_version", got.rule_version(), rules_->version());
      std::vector<std::string> got_ids, want_ids;
      for (const auto& e : got.outcomes()) got_ids.push_back(p.Name(e.assessment_id()));
      for (const auto& e : want.entries) want_ids.push_back(e.a->record_id);
      d.Eq("outcomes (ids, in order)", absl::StrJoin(got_ids, " "), absl::StrJoin(want_ids, " "));
      if (got_ids == want_ids) {
        for (size_t i = 0; i < want.entries.size(); ++i) {
          CompareEntry(d, p, absl::StrCat("outcomes[", i, "] ", want_ids[i]), got.outcomes(static_cast<int>(i)),
                       want.entries[i]);
        }
      }
      std::vector<std::string> got_eps, want_eps;
      for (const auto& e : got.episodes()) got_eps.push_back(p.Name(e.referral_id()));
      for (const auto& e : want.episodes) want_eps.push_back(p.Name(e.referral_id));
      d.Eq("episodes (referral ids, in order)", absl::StrJoin(got_eps, " "), absl::StrJoin(want_eps, " "));
      if (static_cast<size_t>(got.episodes_size()) == want.episodes.size()) {
        for (size_t i = 0; i < want.episodes.size(); ++i) {
          CompareEpisode(d, p, absl::StrCat("episodes[", i, "]"), got.episodes(static_cast<int>(i)), want.episodes[i]);
        }
      }
    }
    for (size_t i = 0; i < want.entries.size(); ++i) {
      const ExpectedEntry& e = want.entries[i];
      ++entries;
      valid += e.m.valid;
      since_first += e.since_first.has_value();
      since_previous += e.since_previous.has_value();
      cluster0 += e.a->cluster == 0;
      if (i > 0 && UkDay(want.entries[i - 1].a->at) == UkDay(e.a->at)) ++same_day;
    }
    for (const ExpectedEpisode& e : want.episodes) {
      ++episodes;
      counted += e.first != nullptr;
      pairs += e.paired;
    }
    if (!d.empty()) {
      for (const auto& f : d.fields()) ++wrong_fields[FieldKind(f)];
      if (++wrong <= 12) {
        ADD_FAILURE() << p.label << " (" << p.person_id << "): " << d.size() << " fields differ from the calculation:\n  "
                      << d.Text(40) << "\nhistory:\n  " << absl::StrJoin(p.history, "\n  ");
      }
    }
  }
  EXPECT_EQ(wrong, 0) << "people whose outcomes differ from the calculation";

  // 2. The summaries: every grouping, for all time, a month, a quarter and two open-ended periods.
  int groups_checked = 0;
  const std::vector<std::pair<std::optional<absl::CivilDay>, std::optional<absl::CivilDay>>> periods = {
      {std::nullopt, std::nullopt},
      {absl::CivilDay(2025, 7, 1), absl::CivilDay(2025, 7, 31)},
      {absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 3, 31)},
      {absl::CivilDay(2026, 4, 1), std::nullopt},
      {std::nullopt, absl::CivilDay(2025, 6, 30)},
  };
  for (pbr::v1::OutcomeGrouping g : {pbr::v1::OUTCOME_GROUPING_TEAM, pbr::v1::OUTCOME_GROUPING_CLUSTER,
                                     pbr::v1::OUTCOME_GROUPING_COMMISSIONER, pbr::v1::OUTCOME_GROUPING_SUPER_CLASS}) {
    for (const auto& [start, end] : periods) CheckSummary(people, expected, g, start, end, &groups_checked);
  }

  // What the history covered.
  std::cout << "[outcomes] " << people.size() << " people, " << published << " records entered in "
            << absl::FormatDuration(entering) << " (" << sent[Act::kAssess] << " assessments, " << sent[Act::kAmend]
            << " amendments, " << sent[Act::kWithdrawAssessment] << " assessment withdrawals, " << sent[Act::kCareEvent]
            << " care events, " << sent[Act::kWithdrawCareEvent] << " care-event withdrawals)\n";
  std::cout << "[outcomes] " << entries << " live assessments (" << valid << " valid, " << entries - valid
            << " invalid, " << same_day << " on the day of the one before, " << cluster0 << " on cluster 0), "
            << since_previous << " since_previous, " << since_first << " since_first; " << episodes
            << " episodes, " << counted << " with a valid rating, " << pairs << " paired; " << not_found
            << " people NOT_FOUND; " << groups_checked << " summary groups checked; run time "
            << absl::FormatDuration(absl::Now() - started) << "\n";
  if (!wrong_fields.empty()) {
    std::cout << "[outcomes] differing fields:";
    for (const auto& [f, n] : wrong_fields) std::cout << "\n  " << f << " x" << n;
    std::cout << "\n";
  }
}

}  // namespace
}  // namespace pbr
