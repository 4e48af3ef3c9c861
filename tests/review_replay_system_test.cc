// Eighteen months of care replayed through the whole platform, one clinical day at a time, and every
// review announcement checked against the test's own model of the review rules.
//
// A few hundred people (generated from a fixed seed) are referred, allocated, reviewed early, on time,
// on the due date, the day after and late, referred to home treatment and inpatients in and out of
// hours, admitted before they have a cluster, given discharge reviews, discharged and re-referred; some
// of their records are amended or withdrawn, and some are entered on the EPR days after they happened.
// Every service reads one file clock, which the test moves to just after midnight (UK) of each day
// before recording that day's facts through allocation's gRPC API; the review scheduler's timer runs
// every 20 ms. After each day the test waits (polling, with a deadline) until the scheduler has taken
// every fact and its own consumer has every announcement the model expects by then. Around month nine
// the scheduler is SIGKILLed for a few days of facts and restarted: it must catch up with each missed
// transition published once, in order.
//
// The model (care-cluster-rules.md section 7, proto/pbr/v1/events.proto): the review basis is the latest
// live assessment of the open referral period; it is due on MHCT date + the cluster's period under the
// SOP policy (care::RuleSet::ReviewDueDate), its window opens 10 days before, it is overdue from the day
// after; DUE is announced when the window opens and OVERDUE when it falls overdue, once each per review
// (a basis recorded already overdue: OVERDUE only), the review's states reached before a fact recorded
// at R being announced before that fact changes anything; event-triggered reviews (care::TriggerWindow)
// are announced once when missed and retracted when a late record meets them or their care event is
// withdrawn; every later live assessment of a referral period completes the review of the one before.
// The scheduler's queries (GetSchedule, ListOverdue, CountOverdue, the pbr_reviews_overdue gauge) and
// reporting's caseloads are checked against it on a few chosen days.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/review_triggers.h"
#include "care/rules.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/clock.h"
#include "platform/consumer.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/store.h"
#include "platform_fixture.h"
#include "system_history.h"
#include "testing/local_platform.h"
#include "testing/process.h"

namespace pbr {
namespace {

using pbr::v1::AssessmentReason;
using pbr::v1::CareEventType;
using pbr::v1::ChangeClass;
using pbr::v1::ReviewState;
using pbr::v1::TriggerOutcome;
using systemtest::DayText;
using systemtest::London;
using systemtest::Rng;
// The shared history (system_history.h): UK times, the teams, the records and their requests, Diffs.
using namespace systemtest::history;  // NOLINT(build/namespaces)
namespace history = systemtest::history;

// ---- the replay's shape ----

constexpr uint64_t kSeed = 0x5eed2025;
constexpr int kPeople = 240;
const absl::CivilDay kFirstDay(2025, 3, 1);
constexpr int kDays = 548;                 // 1 Mar 2025 to 30 Aug 2026
constexpr int kKillAfter = 275;            // the scheduler is killed after 1 Dec 2025 ...
constexpr int kDownDays = 4;               // ... and restarted on 5 Dec, after that day's facts
const std::set<int> kCheckDays = {120, kKillAfter, kKillAfter + kDownDays, 430, kDays - 1};
constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kEpr[] = "rio-replay";
constexpr char kClinician[] = "clin-replay";
constexpr char kSchedulerName[] = "review-scheduler";
const std::vector<std::string> kSchedulerFlags = {"--timer-interval=20ms"};

absl::CivilDay DayAt(int index) { return kFirstDay + index; }
// The clock on clinical day `d`: just after midnight, so the day's transitions are due.
absl::Time Tick(absl::CivilDay d) { return Local(d, 0, 0, 30); }
google::protobuf::Timestamp Ts(absl::Time t) { return platform::ToProto(t); }
std::string TimeText(absl::Time t) { return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, London()); }
std::string TimeText(const google::protobuf::Timestamp& t) { return TimeText(platform::FromProto(t)); }

// ---- what the EPR records, day by day ----

struct Action {
  absl::CivilDay record_day;  // the clinical day on which it is entered (the clock then reads Tick(day))
  int person = 0;
  int seq = 0;                // generation order (a person's records are entered in it)
  Act act = Act::kAssess;
  std::string record_id;      // the EPR's id of the assessment or care event
  absl::Time at;              // assessed_at / occurred_at
  std::string team;
  int cluster = 0;
  AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_INITIAL;
  ChangeClass change = pbr::v1::CHANGE_CLASS_UNSPECIFIED;
  std::optional<absl::Time> admitted_at;
  int seed = 0;               // synthetic ratings
  CareEventType type = pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED;
  bool out_of_hours = false;
  std::string note;           // what the generator meant, for failure reports
};

// Published on assessment-recorded (else on care-event-recorded).
bool IsAssessment(const Action& a) {
  return a.act == Act::kAssess || a.act == Act::kAmend || a.act == Act::kWithdrawAssessment;
}

// One person's history as the EPR enters it. Keeps what the next step needs to know (the review
// basis of the open referral period) and never lets a record be entered before the person's previous
// one, or more than a day ahead of the clock (allocation refuses clinical times in the future).
class Journey {
 public:
  struct Planned {
    std::string record_id;
    absl::Time at;
    int cluster = 0;
    std::string team;
    AssessmentReason reason;
    std::optional<absl::Time> admitted_at;
    int seed = 0;
  };

  Journey(const care::RuleSet& rules, int person, std::vector<Action>* out, int* seq)
      : rules_(rules), person_(person), out_(out), seq_(seq), label_(absl::StrFormat("p%03d", person)) {}

  const std::string& label() const { return label_; }
  // The latest live assessment of the open referral period, and the one before it.
  const Planned* basis() const { return open_ && !period_.empty() ? &period_.back() : nullptr; }
  const Planned* previous() const { return open_ && period_.size() > 1 ? &period_[period_.size() - 2] : nullptr; }
  bool in_period() const { return open_; }
  absl::Time last_clinical() const { return last_clinical_; }
  absl::CivilDay last_recorded() const { return last_recorded_; }
  absl::CivilDay DueOf(int cluster, absl::Time at) const {
    return rules_.ReviewDueDate(cluster, UkDay(at), care::ReviewPolicy::kTrustSop)->due;
  }
  absl::CivilDay BasisDue() const { return DueOf(basis()->cluster, basis()->at); }

  // Each returns the record id, or "" when the history ends before the record could be entered.
  std::string Assess(absl::CivilDay day, absl::Time at, const std::string& team, int cluster, AssessmentReason reason,
                     ChangeClass change = pbr::v1::CHANGE_CLASS_NO_CHANGE,
                     std::optional<absl::Time> admitted_at = std::nullopt, const std::string& note = "") {
    Action a = Make(Act::kAssess, day, at, absl::StrCat(label_, "-a", ++assessments_), note);
    if (a.record_id.empty()) return "";
    a.team = team;
    a.cluster = cluster;
    a.reason = reason;
    a.change = reason == pbr::v1::ASSESSMENT_REASON_INITIAL ? pbr::v1::CHANGE_CLASS_UNSPECIFIED : change;
    a.admitted_at = admitted_at;
    a.seed = person_ * 31 + assessments_;
    Planned p{a.record_id, at, cluster, team, reason, admitted_at, a.seed};
    if (!open_) period_.clear();
    open_ = true;
    period_.push_back(p);
    std::sort(period_.begin(), period_.end(), [](const Planned& x, const Planned& y) { return x.at < y.at; });
    planned_[a.record_id] = p;
    last_clinical_ = std::max(last_clinical_, at);
    Push(std::move(a));
    return p.record_id;
  }

  // An amendment of a live assessment: a new MHCT time and cluster (or, unchanged, new ratings).
  bool Amend(absl::CivilDay day, const std::string& record_id, absl::Time at, int cluster, const std::string& note) {
    Planned& p = planned_.at(record_id);
    Action a = Make(Act::kAmend, day, at, record_id, note);
    if (a.record_id.empty()) return false;
    a.team = p.team;
    a.cluster = cluster;
    a.reason = p.reason;
    a.change = p.reason == pbr::v1::ASSESSMENT_REASON_INITIAL ? pbr::v1::CHANGE_CLASS_UNSPECIFIED
                                                              : pbr::v1::CHANGE_CLASS_NO_CHANGE;
    a.admitted_at = p.admitted_at;
    a.seed = p.seed + 1;  // other ratings (Ratings(seed) repeats every 5 seeds)
    p.at = at;
    p.cluster = cluster;
    p.seed = a.seed;
    for (Planned& q : period_) {
      if (q.record_id == record_id) q = p;
    }
    std::sort(period_.begin(), period_.end(), [](const Planned& x, const Planned& y) { return x.at < y.at; });
    Push(std::move(a));
    return true;
  }

  bool WithdrawAssessment(absl::CivilDay day, const std::string& record_id, const std::string& note) {
    Action a = Make(Act::kWithdrawAssessment, day, absl::InfinitePast(), record_id, note);
    if (a.record_id.empty()) return false;
    period_.erase(std::remove_if(period_.begin(), period_.end(),
                                 [&](const Planned& p) { return p.record_id == record_id; }),
                  period_.end());
    Push(std::move(a));
    return true;
  }

  std::string Care(absl::CivilDay day, CareEventType type, absl::Time at, const std::string& team,
                   bool out_of_hours = false, const std::string& note = "") {
    Action a = Make(Act::kCareEvent, day, at, absl::StrCat(label_, "-e", ++events_), note);
    if (a.record_id.empty()) return "";
    a.type = type;
    a.team = team;
    a.out_of_hours = out_of_hours;
    if (type == pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE) {
      open_ = false;
      discharged_ = period_;
    }
    if (type == pbr::v1::CARE_EVENT_REFERRAL_RECEIVED && !open_) {
      open_ = true;
      period_.clear();
    }
    last_clinical_ = std::max(last_clinical_, at);
    const std::string id = a.record_id;
    Push(std::move(a));
    return id;
  }

  // `reopens`: the care event was the discharge that closed the period (it is open again).
  bool WithdrawCareEvent(absl::CivilDay day, const std::string& record_id, bool reopens, const std::string& note) {
    Action a = Make(Act::kWithdrawCareEvent, day, absl::InfinitePast(), record_id, note);
    if (a.record_id.empty()) return false;
    if (reopens) {
      open_ = true;
      period_ = discharged_;
    }
    Push(std::move(a));
    return true;
  }

 private:
  Action Make(Act act, absl::CivilDay day, absl::Time at, std::string record_id, const std::string& note) {
    Action a;
    a.act = act;
    a.person = person_;
    a.at = at;
    a.note = note;
    day = std::max(day, last_recorded_);
    // Allocation takes clinical times up to 24 hours ahead of its clock; a 25-hour day can push a
    // late-evening record to the next day (the model follows whenever it is entered).
    while (at != absl::InfinitePast() && at - Tick(day) > absl::Hours(24) - absl::Seconds(10)) day += 1;
    if (day > DayAt(kDays - 1)) return a;  // beyond the replay
    a.record_day = day;
    a.record_id = std::move(record_id);
    return a;
  }
  void Push(Action a) {
    last_recorded_ = a.record_day;
    a.seq = (*seq_)++;
    out_->push_back(std::move(a));
  }

  const care::RuleSet& rules_;
  int person_;
  std::vector<Action>* out_;
  int* seq_;
  std::string label_;
  int assessments_ = 0;
  int events_ = 0;
  bool open_ = false;
  std::vector<Planned> period_;      // live assessments of the open referral period, oldest first
  std::vector<Planned> discharged_;  // those of the period the last discharge closed
  std::map<std::string, Planned> planned_;
  absl::Time last_clinical_ = absl::InfinitePast();
  absl::CivilDay last_recorded_ = kFirstDay;
};

// ---- the generator: journeys through the services ----

class Generator {
 public:
  static constexpr int kSameCluster = -1;
  Generator(const care::RuleSet& rules, std::vector<Action>* out) : rules_(rules), out_(out) {}

  void Person(int index) {
    Rng rng(kSeed ^ (static_cast<uint64_t>(index) * 0x100000001B3ull));
    Journey j(rules_, index, out_, &seq_);
    const int archetype = index % 20;
    if (archetype < 6) {
      Community(j, rng, /*discharges=*/false);
    } else if (archetype < 10) {
      Community(j, rng, /*discharges=*/true);
    } else if (archetype < 14) {
      Psychosis(j, rng);
    } else if (archetype < 17) {
      Inpatient(j, rng);
    } else if (archetype < 18) {
      Memory(j, rng);
    } else {
      Community(j, rng, /*discharges=*/rng.Chance(50), /*corrections=*/35);
    }
  }

  // People whose facts fall on the scheduler's down days in the ways that matter for catching up.
  void DowntimePeople(int first_index) {
    const absl::CivilDay k = DayAt(kKillAfter);
    int index = first_index;
    // Window opening on a down day (K+2): DUE once, after the restart.
    {
      Journey j(rules_, index++, out_, &seq_);
      const absl::CivilDay mhct = MhctDueOn(4, k + 2 + 10);
      j.Assess(mhct, Local(mhct, 11), "cmht-north", 4, pbr::v1::ASSESSMENT_REASON_INITIAL,
               pbr::v1::CHANGE_CLASS_UNSPECIFIED, std::nullopt, "downtime: window opens on day K+2");
    }
    // An early review entered on K+2, before the old review's window opens on K+3: the old review
    // never reached its window while it was the basis, so no DUE for it.
    {
      Journey j(rules_, index++, out_, &seq_);
      const absl::CivilDay mhct = MhctDueOn(4, k + 3 + 10);
      j.Assess(mhct, Local(mhct, 11), "cmht-south", 4, pbr::v1::ASSESSMENT_REASON_INITIAL,
               pbr::v1::CHANGE_CLASS_UNSPECIFIED, std::nullopt, "downtime: window would open on day K+3");
      j.Assess(k + 2, Local(k + 2, 11), "cmht-south", 4, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW,
               pbr::v1::CHANGE_CLASS_NO_CHANGE, std::nullopt, "downtime: early review entered on day K+2");
    }
    // A discharge on K+1 before the review falls overdue on K+3: no OVERDUE.
    {
      Journey j(rules_, index++, out_, &seq_);
      const absl::CivilDay mhct = MhctDueOn(5, k + 2);
      j.Assess(mhct, Local(mhct, 10), "cmht-east", 5, pbr::v1::ASSESSMENT_REASON_INITIAL,
               pbr::v1::CHANGE_CLASS_UNSPECIFIED, std::nullopt, "downtime: due on day K+2");
      j.Care(k + 1, pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Local(k + 1, 15), "cmht-east", false,
             "downtime: discharged on day K+1, before falling overdue");
    }
    // Overdue on K+2, reviewed (late) on K+3: OVERDUE, then the late completion.
    {
      Journey j(rules_, index++, out_, &seq_);
      const absl::CivilDay mhct = MhctDueOn(6, k + 1);
      j.Assess(mhct, Local(mhct, 9), "cmht-north", 6, pbr::v1::ASSESSMENT_REASON_INITIAL,
               pbr::v1::CHANGE_CLASS_UNSPECIFIED, std::nullopt, "downtime: due on day K+1");
      j.Assess(k + 3, Local(k + 3, 14), "cmht-north", 6, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW,
               pbr::v1::CHANGE_CLASS_NO_CHANGE, std::nullopt, "downtime: late review on day K+3");
    }
    // Out-of-hours referral on K, reviewed within the 72 hours on K+2 (deadline K+3 22:00): met.
    {
      Journey j(rules_, index++, out_, &seq_);
      j.Assess(k - 60, Local(k - 60, 10), "eip-north", 11, pbr::v1::ASSESSMENT_REASON_INITIAL);
      j.Care(k, pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, Local(k, 22), "eip-north", true,
             "downtime: out-of-hours referral the evening before the kill");
      j.Assess(k + 2, Local(k + 2, 10), "crht-north", 14, pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW,
               pbr::v1::CHANGE_CLASS_DETERIORATION, std::nullopt, "downtime: reviewed within 72 hours, on day K+2");
    }
    // Admitted on K+1 with no cluster, allocated on K+2 (within 2 bed nights): met.
    {
      Journey j(rules_, index++, out_, &seq_);
      const absl::Time admitted = Local(k + 1, 14);
      j.Care(k + 1, pbr::v1::CARE_EVENT_ADMISSION, admitted, "ward-north", false, "downtime: admitted on day K+1");
      j.Assess(k + 2, Local(k + 2, 10), "ward-north", 14, pbr::v1::ASSESSMENT_REASON_INITIAL,
               pbr::v1::CHANGE_CLASS_UNSPECIFIED, admitted, "downtime: allocated on day K+2");
    }
    // Out-of-hours referral on K with no review: missed on a down day, announced once after the restart.
    {
      Journey j(rules_, index++, out_, &seq_);
      j.Assess(k - 40, Local(k - 40, 10), "eip-central", 10, pbr::v1::ASSESSMENT_REASON_INITIAL);
      j.Care(k, pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS, Local(k, 1, 30), "eip-central", true,
             "downtime: out-of-hours referral on day K (deadline K+3 01:30), never reviewed");
    }
    people_ = index;
  }
  int people() const { return people_; }

 private:
  // The MHCT day whose review (cluster, SOP) is due on `due`.
  absl::CivilDay MhctDueOn(int cluster, absl::CivilDay due) const {
    for (absl::CivilDay d = due - 400; d < due; ++d) {
      if (rules_.ReviewDueDate(cluster, d, care::ReviewPolicy::kTrustSop)->due == due) return d;
    }
    ADD_FAILURE() << "no MHCT day gives a review due on " << due;
    return due - 183;
  }

  // Where a review falls against its due date: early (outside the window), at the window's opening,
  // inside it, on the due date, the day after, late.
  static int Offset(Rng& rng, bool short_period) {
    static const std::vector<int> kLong = {-40, -18, -10, -10, -5, -1, 0, 0, 0, 1, 1, 1, 3, 12, 40};
    static const std::vector<int> kShort = {-9, -4, -1, 0, 0, 1, 1, 3, 8};
    return rng.Pick(short_period ? kShort : kLong);
  }

  // The next review of the person's basis, on `team`'s cluster `cluster` (kSameCluster: the basis's). False
  // when the person goes unreviewed from here on (their review stays overdue) or the replay ends.
  bool Review(Journey& j, Rng& rng, const std::string& team, int cluster, int corrections,
              AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW) {
    const Journey::Planned* b = j.basis();
    if (b == nullptr) return false;
    if (rng.Chance(6)) return false;
    const absl::CivilDay due = j.BasisDue();
    const bool short_period = due - UkDay(b->at) < 60;
    absl::CivilDay day = due + Offset(rng, short_period);
    day = std::max(day, UkDay(j.last_clinical()) + 1);
    const absl::Time at = Local(day, rng.Uniform(9, 16), rng.Uniform(0, 59));
    absl::CivilDay entered = day;
    std::string note = absl::StrCat("review ", due - day >= 0 ? absl::StrCat(due - day, " days early") : absl::StrCat(day - due, " days late"));
    if (rng.Chance(12)) {
      entered = day + rng.Uniform(1, 6);
      absl::StrAppend(&note, ", entered ", entered - day, " days later");
    }
    if (cluster == kSameCluster) cluster = b->cluster;
    if (rng.Chance(6) && reason == pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW) reason = pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW;
    const std::string id = j.Assess(entered, at, team, cluster, reason, pbr::v1::CHANGE_CLASS_NO_CHANGE, std::nullopt, note);
    if (id.empty()) return false;
    if (rng.Chance(corrections)) Correct(j, rng, id);
    return true;
  }

  // The EPR corrects the review just entered: a new MHCT date (and sometimes cluster), new ratings
  // only, or a withdrawal (the earlier basis is the review's basis again).
  void Correct(Journey& j, Rng& rng, const std::string& record_id) {
    if (j.basis() == nullptr || j.previous() == nullptr || j.basis()->record_id != record_id) return;
    const Journey::Planned latest = *j.basis();
    const absl::Time reviewed = j.previous()->at;
    const absl::CivilDay when = j.last_recorded() + rng.Uniform(1, 3);
    const int kind = rng.Uniform(0, 2);
    if (kind == 0) {
      // The MHCT was really a few days earlier (still after the assessment it reviews), and on the
      // community pathway sometimes on the neighbouring cluster.
      const int back = rng.Uniform(1, 5);
      const absl::Time at = latest.at - absl::Hours(24 * back);
      if (at - reviewed < absl::Hours(48)) return;
      int cluster = latest.cluster;
      if (rng.Chance(50) && (cluster == 4 || cluster == 5)) cluster = cluster == 4 ? 5 : 4;
      j.Amend(when, record_id, at, cluster, absl::StrCat("amended: MHCT ", back, " days earlier, cluster ", cluster));
    } else if (kind == 1) {
      j.Amend(when, record_id, latest.at, latest.cluster, "amended: ratings only");
    } else {
      j.WithdrawAssessment(when, record_id, "withdrawn: recorded against the wrong patient");
    }
  }

  void Discharge(Journey& j, Rng& rng, const std::string& team) {
    const Journey::Planned* b = j.basis();
    if (b == nullptr) return;
    const absl::CivilDay day = std::max(UkDay(j.last_clinical()) + rng.Uniform(5, 40), j.last_recorded());
    const absl::Time meeting = Local(day, 10);
    if (j.Care(day, pbr::v1::CARE_EVENT_DISCHARGE_REVIEW, meeting, team).empty()) return;
    // The HoNOS and cluster reviewed within 24 hours after the discharge review (KPI 12).
    const int variant = rng.Uniform(0, 4);
    static const absl::Duration kAfter[] = {absl::Hours(2), absl::Hours(24), absl::Hours(24) + absl::Seconds(1),
                                            absl::Hours(30), absl::Hours(5)};
    static const char* kWhat[] = {"2 h after: met", "exactly 24 h after: met", "24 h 1 s after: missed",
                                  "30 h after: missed", "5 h after, entered 4 days later: missed, then met"};
    const absl::Time at = meeting + kAfter[variant];
    const absl::CivilDay entered = variant == 4 ? day + 4 : UkDay(at);
    if (j.Assess(entered, at, team, b->cluster, pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW,
                 pbr::v1::CHANGE_CLASS_NO_CHANGE, std::nullopt, absl::StrCat("discharge review ", kWhat[variant]))
            .empty()) {
      return;
    }
    const absl::Time out = Local(UkDay(at) + 1, 15);
    const std::string discharge = j.Care(UkDay(out), pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, out, team);
    if (discharge.empty()) return;
    if (rng.Chance(10)) {
      j.WithdrawCareEvent(j.last_recorded() + rng.Uniform(1, 3), discharge, /*reopens=*/true,
                          "discharge withdrawn: recorded against the wrong patient");
    }
  }

  // A re-referral after a discharge: referral received, then an initial assessment.
  bool ReRefer(Journey& j, Rng& rng, const std::string& team, int cluster) {
    const absl::CivilDay back = UkDay(j.last_clinical()) + rng.Uniform(20, 90);
    if (j.Care(back, pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, Local(back, 10), team, false, "re-referral").empty()) {
      return false;
    }
    const absl::CivilDay seen = back + rng.Uniform(1, 10);
    return !j.Assess(seen, Local(seen, 11), team, cluster, pbr::v1::ASSESSMENT_REASON_INITIAL,
                     pbr::v1::CHANGE_CLASS_UNSPECIFIED, std::nullopt, "initial assessment after re-referral")
                .empty();
  }

  // The first assessment: on its day, or (a backlog) entered months after it, already in its window
  // or overdue.
  bool Start(Journey& j, Rng& rng, const std::string& team, int cluster, int latest_start) {
    const absl::CivilDay start = kFirstDay + rng.Uniform(0, latest_start);
    absl::Time at = Local(start, rng.Uniform(9, 16), rng.Uniform(0, 59));
    std::string note = "initial assessment";
    const absl::CivilDay due = j.DueOf(cluster, at);
    if (rng.Chance(10) && due - start > 100) {
      const int period = static_cast<int>(due - start);
      const int back = rng.Pick(std::vector<int>{period - 4, period + 20});  // in its window / overdue
      at = Local(start - back, 11);
      note = absl::StrCat("initial assessment of ", DayText(UkDay(at)), " entered ", back, " days later");
    } else if (rng.Chance(40) && start - 7 >= kFirstDay) {
      j.Care(start - 7, pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, Local(start - 7, 9), team);
    }
    return !j.Assess(start, at, team, cluster, pbr::v1::ASSESSMENT_REASON_INITIAL,
                     pbr::v1::CHANGE_CLASS_UNSPECIFIED, std::nullopt, note)
                .empty();
  }

  void Community(Journey& j, Rng& rng, bool discharges, int corrections = 6) {
    std::string team = rng.Pick(kCmhts);
    if (!Start(j, rng, team, rng.Pick(std::vector<int>{4, 4, 5, 5, 6, 0, 7, 8}), 230)) return;
    int reviews = 0;
    for (int step = 0; step < 12; ++step) {
      if (discharges && reviews >= 1 && rng.Chance(30)) {
        Discharge(j, rng, team);
        if (j.in_period()) continue;  // the discharge was withdrawn
        if (!rng.Chance(45)) return;
        team = rng.Pick(kCmhts);
        if (!ReRefer(j, rng, team, rng.Pick(std::vector<int>{4, 5, 6}))) return;
        continue;
      }
      int cluster = kSameCluster;
      if (rng.Chance(15)) cluster = rng.Pick(std::vector<int>{4, 5, 6});
      if (!Review(j, rng, team, cluster, corrections)) return;
      ++reviews;
    }
  }

  // Psychosis pathway with crises: referrals to home treatment or inpatients, in hours (the review
  // within the 5 days before) or out of hours (within 72 hours after).
  void Psychosis(Journey& j, Rng& rng) {
    const std::string eip = rng.Pick(kEips);
    if (!Start(j, rng, eip, rng.Pick(std::vector<int>{10, 11, 11, 12}), 200)) return;
    for (int step = 0; step < 10; ++step) {
      if (rng.Chance(35)) {
        if (!Crisis(j, rng, eip)) return;
        continue;
      }
      if (!Review(j, rng, eip, kSameCluster, 6)) return;
    }
  }

  bool Crisis(Journey& j, Rng& rng, const std::string& eip) {
    const Journey::Planned* b = j.basis();
    if (b == nullptr) return false;
    const absl::CivilDay due = j.BasisDue();
    const absl::CivilDay from = UkDay(j.last_clinical()) + 7;
    const absl::CivilDay day = from + rng.Uniform(0, std::max<int>(0, static_cast<int>(due - from) + 10));
    const CareEventType type =
        rng.Chance(60) ? pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT : pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS;
    if (rng.Chance(50)) {
      // In hours: the review must be within the 5 days before the referral.
      const absl::Time referral = Local(day, 11);
      const int variant = rng.Uniform(0, 4);
      static const char* kWhat[] = {"review exactly 5 days before: met", "review 5 days and 1 s before: missed",
                                    "review 2 days before: met", "no review: missed",
                                    "review the day before, entered 4 days later: missed, then met"};
      std::optional<absl::Time> at;
      if (variant == 0) at = Local(day - 5, 11);
      if (variant == 1) at = Local(day - 5, 10, 59, 59);
      if (variant == 2) at = Local(day - 2, 14);
      if (variant == 4) at = Local(day - 1, 9, 30);
      const int cluster = rng.Pick(std::vector<int>{12, 13});
      if (at.has_value() && variant != 4 &&
          j.Assess(UkDay(*at), *at, eip, cluster, pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW,
                   pbr::v1::CHANGE_CLASS_DETERIORATION, std::nullopt, kWhat[variant])
              .empty()) {
        return false;
      }
      const std::string ref = j.Care(day, type, referral, eip, false, absl::StrCat("in-hours referral: ", kWhat[variant]));
      if (ref.empty()) return false;
      if (variant == 4 && j.Assess(day + 3, *at, eip, cluster, pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW,
                                   pbr::v1::CHANGE_CLASS_DETERIORATION, std::nullopt, kWhat[variant])
                              .empty()) {
        return false;
      }
      if (variant == 3 && rng.Chance(40)) {
        j.WithdrawCareEvent(day + rng.Uniform(2, 5), ref, false, "referral withdrawn: recorded against the wrong patient");
      }
      return true;
    }
    // Out of hours: the review must be within 72 hours after the referral.
    const absl::Time referral = rng.Chance(50) ? Local(day, 22) : Local(day, 2, 30);
    const int variant = rng.Uniform(0, 4);
    static const absl::Duration kAfter[] = {absl::Hours(3), absl::Hours(72), absl::Hours(72) + absl::Seconds(1),
                                            absl::ZeroDuration(), absl::Hours(30)};
    static const char* kWhat[] = {"review 3 h after: met", "review exactly 72 h after: met",
                                  "review 72 h 1 s after: missed", "no review: missed",
                                  "review 30 h after, entered 5 days later: missed, then met"};
    const std::string ref = j.Care(UkDay(referral), type, referral, eip, true, absl::StrCat("out-of-hours referral: ", kWhat[variant]));
    if (ref.empty()) return false;
    if (variant == 3) {
      if (rng.Chance(40)) {
        j.WithdrawCareEvent(UkDay(referral) + rng.Uniform(4, 7), ref, false,
                            "referral withdrawn: recorded against the wrong patient");
      }
      return true;
    }
    const std::string crht = rng.Pick(kCrhts);
    const absl::Time at = referral + kAfter[variant];
    const absl::CivilDay entered = variant == 4 ? UkDay(referral) + 5 : UkDay(at);
    if (j.Assess(entered, at, crht, 14, pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW, pbr::v1::CHANGE_CLASS_DETERIORATION,
                 std::nullopt, kWhat[variant])
            .empty()) {
      return false;
    }
    // Home treatment: reviewed every 4 weeks, then back to the psychosis team.
    for (int n = rng.Uniform(0, 2); n > 0; --n) {
      if (!Review(j, rng, crht, 14, 4)) return false;
    }
    return Review(j, rng, eip, 12, 4, pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW);
  }

  // An admission of someone with no cluster: the initial allocation within 2 bed nights.
  void Inpatient(Journey& j, Rng& rng) {
    const std::string ward = rng.Pick(kWards);
    const absl::CivilDay day = kFirstDay + rng.Uniform(0, 420);
    const absl::Time admitted = Local(day, rng.Pick(std::vector<int>{22, 2, 14, 9}), rng.Pick(std::vector<int>{0, 30}));
    if (rng.Chance(50)) {
      const absl::Time referred = admitted - absl::Hours(2);
      j.Care(UkDay(referred), pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, referred, rng.Pick(kCrhts));
    }
    if (j.Care(day, pbr::v1::CARE_EVENT_ADMISSION, admitted, ward, false, "admitted with no cluster").empty()) return;
    const int variant = rng.Uniform(0, 4);
    static const char* kWhat[] = {"allocated at the last second of the second bed night: met",
                                  "allocated at the first second after it: missed", "allocated the next day: met",
                                  "allocated on day 4: missed", "allocated the next day, entered on day 5: missed, then met"};
    absl::Time at;
    if (variant == 0) at = Local(day + 2, 23, 59, 59);
    if (variant == 1) at = Local(day + 3, 0, 0, 0);
    if (variant == 2) at = Local(day + 1, 10);
    if (variant == 3) at = Local(day + 4, 11);
    if (variant == 4) at = Local(day + 1, 15);
    const absl::CivilDay entered = variant == 4 ? day + 5 : UkDay(at);
    const int cluster = rng.Pick(std::vector<int>{14, 14, 16, 17, 10, 15});
    if (j.Assess(entered, at, ward, cluster, pbr::v1::ASSESSMENT_REASON_INITIAL, pbr::v1::CHANGE_CLASS_UNSPECIFIED,
                 admitted, kWhat[variant])
            .empty()) {
      return;
    }
    for (int n = rng.Uniform(1, 3); n > 0; --n) {
      if (!Review(j, rng, ward, kSameCluster, 5)) return;
    }
    if (!rng.Chance(80)) return;
    Discharge(j, rng, ward);
    if (j.in_period() || !rng.Chance(40)) return;
    const std::string cmht = rng.Pick(kCmhts);
    if (!ReRefer(j, rng, cmht, rng.Pick(std::vector<int>{4, 5}))) return;
    for (int n = 0; n < 4; ++n) {
      if (!Review(j, rng, cmht, kSameCluster, 5)) return;
    }
  }

  void Memory(Journey& j, Rng& rng) {
    const std::string team = rng.Pick(kMemory);
    if (!Start(j, rng, team, rng.Pick(std::vector<int>{18, 18, 19, 20, 21}), 250)) return;
    for (int n = 0; n < 4; ++n) {
      if (!Review(j, rng, team, kSameCluster, 5)) return;
    }
  }

  const care::RuleSet& rules_;
  std::vector<Action>* out_;
  int seq_ = 0;
  int people_ = 0;
};

// ---- names for failure reports: platform ids as the test's record ids ----

class Names {
 public:
  void Add(const std::string& id, const std::string& name) { names_[id] = name; }
  std::string operator()(const std::string& id) const {
    if (id.empty()) return "-";
    auto it = names_.find(id);
    return it == names_.end() ? absl::StrCat("?", id.substr(0, 12)) : it->second;
  }

 private:
  std::map<std::string, std::string> names_;
};

std::string StateName(ReviewState s) { return std::string(absl::StripPrefix(pbr::v1::ReviewState_Name(s), "REVIEW_STATE_")); }
std::string OutcomeName(TriggerOutcome o) { return std::string(absl::StripPrefix(pbr::v1::TriggerOutcome_Name(o), "TRIGGER_OUTCOME_")); }

// One published event in the words the model uses: everything the model predicts, nothing it does not
// (a withdrawn completion's occurred_at is when the scheduler applied the correction).
std::string Describe(const Names& n, const pbr::v1::EventEnvelope& e) {
  const std::string who = n(e.person_id());
  const std::string at = TimeText(e.occurred_at());
  if (e.has_review_due()) {
    const auto& r = e.review_due();
    const std::string review =
        absl::StrCat("basis=", n(r.basis_assessment_id()), " c", r.cluster(), " mhct=", DayText(r.latest_mhct_date()),
                     " window=", DayText(r.window_opens()), " due=", DayText(r.due_date()), " team=", r.team_id(),
                     " area=", r.service_area(), " rules=", r.rule_version());
    if (!r.has_trigger()) {
      return absl::StrCat(who, " ", StateName(r.state()), r.retracted() ? " RETRACTED" : "", " ", review, " @", at);
    }
    const auto& t = r.trigger();
    return absl::StrCat(who, " trigger ", absl::StripPrefix(pbr::v1::ReviewTriggerKind_Name(t.kind()), "REVIEW_TRIGGER_"),
                        " ", OutcomeName(t.outcome()), r.retracted() ? " retracted" : "", " event=", n(t.care_event_id()),
                        " on ", TimeText(t.occurred_at()), " window ", TimeText(t.window_opens()), " .. ",
                        TimeText(t.deadline()), " met_by=", n(t.met_by_assessment_id()), " event_team=", t.team_id(),
                        " kpis=", t.rule_version(), " state=", StateName(r.state()), " | ", review, " @", at);
  }
  if (e.has_review_completed()) {
    const auto& c = e.review_completed();
    if (c.withdrawn()) {
      return absl::StrCat(who, " completion WITHDRAWN by=", n(c.assessment_id()), " reviewed=",
                          n(c.reviewed_assessment_id()));
    }
    return absl::StrCat(who, " completed by=", n(c.assessment_id()), " r", c.revision(), " ",
                        absl::StripPrefix(pbr::v1::ReviewKind_Name(c.kind()), "REVIEW_KIND_"), " at ",
                        TimeText(c.assessed_at()), " team=", c.team_id(), " c", c.cluster(),
                        " reviewed=", n(c.reviewed_assessment_id()), " mhct=", DayText(c.reviewed_mhct_date()), " c",
                        c.reviewed_cluster(), " window=", DayText(c.window_opens()), " due=", DayText(c.due_date()),
                        c.on_time() ? " ON TIME" : " LATE", " early=", c.days_early(), " late=", c.days_late(),
                        c.within_window() ? " in-window" : " outside-window", " referral=", n(c.referral_id()),
                        " rules=", c.rule_version(), " @", at);
  }
  return absl::StrCat(who, " ", e.event_type(), " ", e.event_id());
}

// Which of a person's event streams an event belongs to: the formal review's announcements, one
// trigger's, one reviewing assessment's completions. Each stream is checked in order.
std::string StreamOf(const pbr::v1::EventEnvelope& e) {
  if (e.has_review_due()) {
    return e.review_due().has_trigger() ? absl::StrCat("trigger:", e.review_due().trigger().care_event_id()) : "review";
  }
  return absl::StrCat("completion:", e.review_completed().assessment_id());
}

// ---- the model ----

struct AssessmentFact {
  std::string id, record_id, team;
  int revision = 0;
  bool live = true;
  absl::Time at, effective;
  int cluster = 0;
  AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_UNSPECIFIED;
};

struct CareFact {
  std::string id, record_id, team;
  bool live = true;
  CareEventType type = pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED;
  absl::Time at;
  bool out_of_hours = false;
};

// The formal review a basis gives.
struct ScheduleView {
  std::string basis_id;
  absl::Time basis_at;
  int cluster = 0;
  std::string team, area, rule_version;
  absl::CivilDay window, due;
  // A review is its basis as of its MHCT time and cluster, and its due date.
  std::string Key() const {
    return absl::StrCat(basis_id, "/", absl::ToUnixSeconds(basis_at), "/", cluster, "/", DayText(due));
  }
  absl::Time DueFrom() const { return absl::FromCivil(window, London()); }
  absl::Time OverdueFrom() const { return absl::FromCivil(due + 1, London()); }
  ReviewState On(absl::CivilDay day) const {
    if (day > due) return pbr::v1::REVIEW_STATE_OVERDUE;
    if (day >= window) return pbr::v1::REVIEW_STATE_DUE;
    return pbr::v1::REVIEW_STATE_UPCOMING;
  }
};

struct TriggerView {
  std::string care_id, team, rule_version, met_by;
  pbr::v1::ReviewTriggerKind kind = pbr::v1::REVIEW_TRIGGER_KIND_UNSPECIFIED;
  absl::Time occurred, opens, deadline;
  TriggerOutcome outcome = pbr::v1::TRIGGER_OUTCOME_PENDING;
  bool in_open_period = false;
};

struct Period {
  std::string id;
  absl::Time opened_at;
  std::optional<absl::Time> closed_at;
  bool open() const { return !closed_at.has_value(); }
};

// What a person's facts mean at an instant, worked out here from the rules (not from the scheduler).
struct Derived {
  std::vector<Period> periods;
  std::map<std::string, size_t> period_of;  // live fact id -> period
  std::vector<const AssessmentFact*> live;  // oldest first (MHCT time, then effective time, then id)
  std::optional<ScheduleView> schedule;
  struct Completion {
    const AssessmentFact* by;
    const AssessmentFact* reviewed;
    std::string referral_id;
  };
  std::vector<Completion> completions;
  std::vector<TriggerView> triggers;
  bool discharged = false;  // the last referral period is closed
};

struct ModelPerson {
  std::string label, nhs, person_id;
  std::map<std::string, AssessmentFact> assessments;  // by platform id
  std::map<std::string, CareFact> care;
  std::map<std::string, std::string> id_of_record;    // EPR record id -> platform id
  // What has been announced.
  std::optional<ScheduleView> review;
  absl::Time entered_at;
  bool due_announced = false, overdue_announced = false;
  struct Held {
    TriggerView last;
    bool missed_announced = false;
  };
  std::map<std::string, Held> triggers;  // by care event id
  struct Published {
    std::string description, reviewed_id;
  };
  std::map<std::string, Published> completions;  // by reviewing assessment id
  std::vector<std::string> history;               // what was entered, for failure reports
};

bool Later(const AssessmentFact& a, const AssessmentFact& b) {
  return std::tie(a.at, a.effective, a.id) > std::tie(b.at, b.effective, b.id);
}

class Model {
 public:
  Model(const care::RuleSet& rules, Names& names) : rules_(rules), names_(names) {}

  struct Emitted {
    std::string person_id, stream, description;
    int day = 0;
  };
  const std::vector<Emitted>& emitted() const { return emitted_; }
  void SetDay(int day) { day_ = day; }

  Derived Derive(const ModelPerson& p, absl::Time now) const {
    Derived d;
    for (const auto& [id, a] : p.assessments) {
      if (a.live) d.live.push_back(&a);
    }
    std::sort(d.live.begin(), d.live.end(), [](const AssessmentFact* a, const AssessmentFact* b) { return Later(*b, *a); });
    std::vector<const CareFact*> events;
    for (const auto& [id, e] : p.care) {
      if (e.live) events.push_back(&e);
    }
    std::sort(events.begin(), events.end(),
              [](const CareFact* a, const CareFact* b) { return std::tie(a->at, a->id) < std::tie(b->at, b->id); });

    // Referral periods: a referral received opens one (if none is open), so does an assessment; a
    // discharge from service closes it. At one instant: referral, then assessments, then discharge.
    std::optional<absl::Time> last_closed;
    const AssessmentFact* latest = nullptr;
    auto open = [&]() -> Period* { return !d.periods.empty() && d.periods.back().open() ? &d.periods.back() : nullptr; };
    auto open_period = [&](absl::Time at, const std::string& by) {
      Period& r = d.periods.emplace_back();
      r.id = ledger::ReferralId(p.person_id, by);
      names_.Add(r.id, absl::StrCat("period(", names_(by), ")"));
      r.opened_at = last_closed ? std::max(at, *last_closed) : at;
    };
    for (const auto& s : history::PeriodSteps(d.live, events)) {
      if (s.e != nullptr && s.rank == 0) {
        if (open() == nullptr) open_period(s.at, s.e->id);
        d.period_of[s.e->id] = d.periods.size() - 1;
      } else if (s.e != nullptr) {
        Period* o = open();
        if (o == nullptr) continue;
        o->closed_at = s.at;
        last_closed = s.at;
        d.period_of[s.e->id] = d.periods.size() - 1;
      } else {
        if (open() == nullptr) open_period(s.a->effective, s.a->id);
        d.period_of[s.a->id] = d.periods.size() - 1;
        latest = s.a;
      }
    }
    auto period_at = [&](absl::Time t) -> std::optional<size_t> {
      std::optional<size_t> found;
      for (size_t i = 0; i < d.periods.size(); ++i) {
        const Period& r = d.periods[i];
        if (r.opened_at <= t && (r.open() || *r.closed_at >= t)) found = i;
      }
      return found;
    };
    for (const CareFact* e : events) {
      if (d.period_of.count(e->id)) continue;
      if (auto at = period_at(e->at)) d.period_of[e->id] = *at;
    }
    d.discharged = !d.periods.empty() && !d.periods.back().open();
    constexpr size_t kNoPeriod = static_cast<size_t>(-1);
    const size_t open_index = open() != nullptr ? d.periods.size() - 1 : kNoPeriod;

    // The review basis: the latest live assessment, while its referral period is the open one.
    if (latest != nullptr && open_index != kNoPeriod && d.period_of.at(latest->id) == open_index) {
      d.schedule = ScheduleOf(*latest);
    }

    // Each live assessment after the first of its period completes the review of the one before.
    const AssessmentFact* previous = nullptr;
    size_t previous_period = 0;
    for (const AssessmentFact* a : d.live) {
      const size_t period = d.period_of.at(a->id);
      if (previous != nullptr && previous_period == period) d.completions.push_back({a, previous, d.periods[period].id});
      previous = a;
      previous_period = period;
    }

    // Event-triggered reviews: referrals to home treatment or inpatients and discharge reviews of a
    // person with a cluster then; admissions of a person with none.
    auto has_cluster_at = [&](absl::Time t) {
      const AssessmentFact* last = nullptr;
      for (const AssessmentFact* a : d.live) {
        if (a->at <= t) last = a;
      }
      if (last == nullptr) return false;
      const Period& r = d.periods[d.period_of.at(last->id)];
      return r.open() || *r.closed_at >= t;
    };
    for (const CareFact* e : events) {
      std::optional<care::ReviewTriggerKind> kind;
      pbr::v1::ReviewTriggerKind proto_kind = pbr::v1::REVIEW_TRIGGER_KIND_UNSPECIFIED;
      switch (e->type) {
        case pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT:
        case pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS:
          kind = e->out_of_hours ? care::ReviewTriggerKind::kOutOfHoursReferral : care::ReviewTriggerKind::kInHoursReferral;
          proto_kind = e->out_of_hours ? pbr::v1::REVIEW_TRIGGER_OUT_OF_HOURS_REFERRAL
                                       : pbr::v1::REVIEW_TRIGGER_IN_HOURS_REFERRAL;
          break;
        case pbr::v1::CARE_EVENT_DISCHARGE_REVIEW:
          kind = care::ReviewTriggerKind::kDischargeReview;
          proto_kind = pbr::v1::REVIEW_TRIGGER_DISCHARGE_REVIEW;
          break;
        case pbr::v1::CARE_EVENT_ADMISSION:
          kind = care::ReviewTriggerKind::kInpatientAdmission;
          proto_kind = pbr::v1::REVIEW_TRIGGER_INPATIENT_ADMISSION;
          break;
        default: break;
      }
      if (!kind.has_value()) continue;
      if (has_cluster_at(e->at) == (*kind == care::ReviewTriggerKind::kInpatientAdmission)) continue;
      const care::ReviewTriggerWindow w = care::TriggerWindow(rules_.kpis(), *kind, e->at, London());
      TriggerView& t = d.triggers.emplace_back();
      t.care_id = e->id;
      t.team = e->team;
      t.rule_version = w.rule_version;
      t.kind = proto_kind;
      t.occurred = e->at;
      t.opens = w.opens;
      t.deadline = w.deadline;
      for (const AssessmentFact* a : d.live) {
        if (care::MeetsTrigger(w, a->at)) {
          t.met_by = a->id;
          break;
        }
      }
      t.outcome = !t.met_by.empty()                ? pbr::v1::TRIGGER_OUTCOME_MET
                  : care::TriggerMissed(w, now) ? pbr::v1::TRIGGER_OUTCOME_MISSED
                                                : pbr::v1::TRIGGER_OUTCOME_PENDING;
      auto of = d.period_of.find(e->id);
      t.in_open_period = open_index != kNoPeriod && of != d.period_of.end() && of->second == open_index;
    }
    return d;
  }

  // A fact entered at `recorded` (the clock): the person is first caught up to it, then it counts.
  void Record(ModelPerson& p, absl::Time recorded, const std::function<void()>& apply) {
    AnnounceReached(p, recorded);
    MissPending(p, recorded);
    apply();
    Reevaluate(p, recorded, recorded);
  }
  // The clock moved to `now`: what time alone changes (the facts, and so the basis, the triggers'
  // meeting assessments and the completions, stay as they are).
  void Pass(ModelPerson& p, absl::Time now) {
    if (p.person_id.empty()) return;
    AnnounceReached(p, now);
    MissPending(p, now);
  }

 private:
  ScheduleView ScheduleOf(const AssessmentFact& a) const {
    auto due = rules_.ReviewDueDate(a.cluster, UkDay(a.at), care::ReviewPolicy::kTrustSop);
    EXPECT_TRUE(due.ok()) << due.status();
    ScheduleView s;
    s.basis_id = a.id;
    s.basis_at = a.at;
    s.cluster = a.cluster;
    s.team = a.team;
    const care::Team* team = rules_.teams().Find(a.team);
    s.area = team != nullptr ? team->service_area : "";
    s.rule_version = due.ok() ? due->rule_version : "";
    s.window = due.ok() ? due->window_opens : absl::CivilDay();
    s.due = due.ok() ? due->due : absl::CivilDay();
    return s;
  }

  // The states the announced review reached by `until`: DUE unless it was already overdue when its
  // basis was entered, then OVERDUE.
  void AnnounceReached(ModelPerson& p, absl::Time until) {
    if (!p.review.has_value()) return;
    const ScheduleView& s = *p.review;
    const bool entered_overdue = p.entered_at >= s.OverdueFrom();
    if (until >= s.DueFrom() && !entered_overdue && !p.due_announced && !p.overdue_announced) {
      Emit(p, ReviewEvent(p, s, pbr::v1::REVIEW_STATE_DUE));
      p.due_announced = true;
    }
    if (until >= s.OverdueFrom() && !p.overdue_announced) {
      Emit(p, ReviewEvent(p, s, pbr::v1::REVIEW_STATE_OVERDUE));
      p.overdue_announced = true;
    }
  }

  // Triggers pending at the last look whose deadline passed by `until`.
  void MissPending(ModelPerson& p, absl::Time until) {
    for (auto& [id, held] : p.triggers) {
      if (held.last.outcome != pbr::v1::TRIGGER_OUTCOME_PENDING || held.last.deadline >= until) continue;
      held.last.outcome = pbr::v1::TRIGGER_OUTCOME_MISSED;
      Emit(p, TriggerEvent(p, held.last, p.review ? &*p.review : nullptr, false));
      held.missed_announced = true;
    }
  }

  void Reevaluate(ModelPerson& p, absl::Time recorded, absl::Time now) {
    const Derived d = Derive(p, now);
    if (d.schedule.has_value()) {
      if (!p.review.has_value() || p.review->Key() != d.schedule->Key()) {
        p.entered_at = recorded;  // a new review (or an earlier one again): announced afresh
        p.due_announced = p.overdue_announced = false;
      }
      p.review = d.schedule;
      AnnounceReached(p, now);
    } else {
      p.review.reset();
    }

    const ScheduleView* current = p.review ? &*p.review : nullptr;
    std::set<std::string> seen;
    for (const TriggerView& t : d.triggers) {
      seen.insert(t.care_id);
      ModelPerson::Held& held = p.triggers[t.care_id];
      if (t.outcome == pbr::v1::TRIGGER_OUTCOME_MISSED && !held.missed_announced) {
        Emit(p, TriggerEvent(p, t, current, false));
        held.missed_announced = true;
      } else if (t.outcome != pbr::v1::TRIGGER_OUTCOME_MISSED && held.missed_announced) {
        Emit(p, TriggerEvent(p, t, current, true));  // met by a late record after all
        held.missed_announced = false;
      }
      held.last = t;
    }
    for (auto it = p.triggers.begin(); it != p.triggers.end();) {
      if (seen.count(it->first)) {
        ++it;
        continue;
      }
      if (it->second.missed_announced) {  // its care event was withdrawn
        TriggerView gone = it->second.last;
        gone.outcome = pbr::v1::TRIGGER_OUTCOME_WITHDRAWN;
        gone.met_by.clear();
        Emit(p, TriggerEvent(p, gone, current, true));
      }
      it = p.triggers.erase(it);
    }

    std::map<std::string, ModelPerson::Published> before;
    before.swap(p.completions);
    for (const Derived::Completion& c : d.completions) {
      pbr::v1::EventEnvelope e = CompletionEvent(p, c);
      const std::string description = Describe(names_, e);
      auto old = before.find(c.by->id);
      if (old == before.end() || old->second.description != description) Emit(p, std::move(e));
      if (old != before.end()) before.erase(old);
      p.completions[c.by->id] = {description, c.reviewed->id};
    }
    for (const auto& [id, published] : before) {
      pbr::v1::EventEnvelope e;
      e.set_person_id(p.person_id);
      auto* c = e.mutable_review_completed();
      c->set_assessment_id(id);
      c->set_reviewed_assessment_id(published.reviewed_id);
      c->set_withdrawn(true);
      Emit(p, std::move(e));
    }
  }

  static void FillReview(const ScheduleView& s, pbr::v1::ReviewDue* r) {
    r->set_basis_assessment_id(s.basis_id);
    r->set_team_id(s.team);
    r->set_cluster(s.cluster);
    *r->mutable_latest_mhct_date() = platform::ToProto(UkDay(s.basis_at));
    *r->mutable_window_opens() = platform::ToProto(s.window);
    *r->mutable_due_date() = platform::ToProto(s.due);
    r->set_rule_version(s.rule_version);
    r->set_service_area(s.area);
  }

  pbr::v1::EventEnvelope ReviewEvent(const ModelPerson& p, const ScheduleView& s, ReviewState state) const {
    pbr::v1::EventEnvelope e;
    e.set_person_id(p.person_id);
    *e.mutable_occurred_at() = Ts(state == pbr::v1::REVIEW_STATE_OVERDUE ? s.OverdueFrom() : s.DueFrom());
    FillReview(s, e.mutable_review_due());
    e.mutable_review_due()->set_state(state);
    return e;
  }

  pbr::v1::EventEnvelope TriggerEvent(const ModelPerson& p, const TriggerView& t, const ScheduleView* current,
                                      bool retracted) const {
    pbr::v1::EventEnvelope e;
    e.set_person_id(p.person_id);
    *e.mutable_occurred_at() = Ts(t.deadline);
    auto* r = e.mutable_review_due();
    if (current != nullptr) FillReview(*current, r);
    if (r->team_id().empty()) r->set_team_id(t.team);
    r->set_state(pbr::v1::REVIEW_STATE_OVERDUE);
    auto* trigger = r->mutable_trigger();
    trigger->set_kind(t.kind);
    trigger->set_care_event_id(t.care_id);
    *trigger->mutable_occurred_at() = Ts(t.occurred);
    *trigger->mutable_window_opens() = Ts(t.opens);
    *trigger->mutable_deadline() = Ts(t.deadline);
    trigger->set_outcome(t.outcome);
    trigger->set_met_by_assessment_id(t.met_by);
    trigger->set_team_id(t.team);
    trigger->set_rule_version(t.rule_version);
    r->set_retracted(retracted);
    return e;
  }

  pbr::v1::EventEnvelope CompletionEvent(const ModelPerson& p, const Derived::Completion& c) const {
    auto due = rules_.ReviewDueDate(c.reviewed->cluster, UkDay(c.reviewed->at), care::ReviewPolicy::kTrustSop);
    EXPECT_TRUE(due.ok()) << due.status();
    const absl::CivilDay reviewed_on = UkDay(c.by->at);
    const bool on_time = reviewed_on <= due->due;
    pbr::v1::EventEnvelope e;
    e.set_person_id(p.person_id);
    *e.mutable_occurred_at() = Ts(c.by->at);
    auto* r = e.mutable_review_completed();
    r->set_assessment_id(c.by->id);
    r->set_revision(c.by->revision);
    *r->mutable_assessed_at() = Ts(c.by->at);
    switch (c.by->reason) {
      case pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW: r->set_kind(pbr::v1::REVIEW_KIND_FORMAL); break;
      case pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW: r->set_kind(pbr::v1::REVIEW_KIND_TRANSFER); break;
      case pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW: r->set_kind(pbr::v1::REVIEW_KIND_DISCHARGE); break;
      case pbr::v1::ASSESSMENT_REASON_UNPLANNED_REVIEW: r->set_kind(pbr::v1::REVIEW_KIND_UNPLANNED); break;
      default: r->set_kind(pbr::v1::REVIEW_KIND_UNSPECIFIED); break;
    }
    r->set_team_id(c.by->team);
    r->set_cluster(c.by->cluster);
    r->set_reviewed_assessment_id(c.reviewed->id);
    *r->mutable_reviewed_mhct_date() = platform::ToProto(UkDay(c.reviewed->at));
    r->set_reviewed_cluster(c.reviewed->cluster);
    *r->mutable_window_opens() = platform::ToProto(due->window_opens);
    *r->mutable_due_date() = platform::ToProto(due->due);
    r->set_on_time(on_time);
    r->set_days_early(on_time ? static_cast<int32_t>(due->due - reviewed_on) : 0);
    r->set_days_late(on_time ? 0 : static_cast<int32_t>(reviewed_on - due->due));
    r->set_within_window(reviewed_on >= due->window_opens && reviewed_on <= due->due);
    r->set_referral_id(c.referral_id);
    r->set_rule_version(due->rule_version);
    return e;
  }

  void Emit(const ModelPerson& p, pbr::v1::EventEnvelope e) {
    e.set_person_id(p.person_id);
    emitted_.push_back({p.person_id, StreamOf(e), Describe(names_, e), day_});
  }

  const care::RuleSet& rules_;
  Names& names_;
  std::vector<Emitted> emitted_;
  int day_ = 0;
};

// ---- the test ----

class ReviewReplaySystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    started_ = absl::Now();
    auto rules = care::RuleSet::LoadFromDirectory(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = std::make_unique<care::RuleSet>(*std::move(rules));
    model_ = std::make_unique<Model>(*rules_, names_);

    clock_path_ = dir_.path() + "/clinical-clock";
    SetClock(Tick(kFirstDay));
    testing::LocalPlatformOptions options;
    options.bin_dir = PBR_BIN_DIR;
    options.rules_dir = PBR_RULES_DIR;
    options.work_dir = dir_.path() + "/platform";
    options.clock = "file:" + clock_path_;
    auto platform = testing::LocalPlatform::Start(options);
    ASSERT_TRUE(platform.ok()) << platform.status();
    platform_ = *std::move(platform);
    // The scheduler again, its timer every 20 ms (the flag is the scheduler's alone).
    ASSERT_TRUE(platform_->StopService(kSchedulerName).ok());
    ASSERT_TRUE(platform_->StartService(kSchedulerName, absl::Seconds(30), kSchedulerFlags).ok());
    allocation_ = platform_->Stub<pbr::v1::Allocation>("allocation", std::string("epr-feed:") + kEpr);
    reporting_ = platform_->Stub<pbr::v1::Reporting>("reporting");
    scheduler_ = platform_->Stub<pbr::v1::ReviewScheduler>(kSchedulerName);
    StartObserver();
  }

  void TearDown() override {
    if (observer_) observer_->Stop();
    if (observer_outbox_) observer_outbox_->Stop(absl::ZeroDuration());
    if (platform_) {
      EXPECT_TRUE(platform_->StopAll().ok()) << "every process stops cleanly on SIGTERM";
    }
    std::cout << "[replay] run time " << absl::FormatDuration(absl::Now() - started_) << "\n";
  }

  // The file every service reads its clock from, replaced atomically (temp file and rename).
  void SetClock(absl::Time t) {
    const std::string tmp = clock_path_ + ".next";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone()) << "\n";
      ASSERT_TRUE(f.good()) << "cannot write " << tmp;
    }
    ASSERT_EQ(std::rename(tmp.c_str(), clock_path_.c_str()), 0) << "cannot rename " << tmp;
  }

  // An independent consumer of what the scheduler publishes (and of any dead letter).
  void StartObserver() {
    auto store = platform::Store::Open(dir_.path() + "/observer", {});
    ASSERT_TRUE(store.ok()) << store.status();
    observer_store_ = *std::move(store);
    platform::KafkaSettings kafka;
    kafka.bootstrap = platform_->bootstrap();
    kafka.group_id = "review-replay-observer";
    auto outbox = platform::Outbox::Open(*observer_store_, kafka, nullptr);
    ASSERT_TRUE(outbox.ok()) << outbox.status();
    observer_outbox_ = *std::move(outbox);
    observer_ = std::make_unique<platform::Consumer>(*observer_store_, *observer_outbox_, kafka, nullptr, observer_clock_);
    // It keeps what was published, as published.
    observer_->ValidateWith([](absl::string_view, const pbr::v1::EventEnvelope&) { return absl::OkStatus(); });
    for (absl::string_view t : {platform::topic::kReviewDue, platform::topic::kReviewCompleted, platform::topic::kDeadLetter}) {
      observer_->On(t, [this](const platform::ConsumedEvent& ev, platform::ApplyContext&) {
        std::lock_guard lock(mu_);
        raw_.push_back(ev.event);
        return absl::OkStatus();
      });
    }
    ASSERT_TRUE(observer_->Start([](const absl::Status& s) { ADD_FAILURE() << "observer stopped: " << s; }).ok());
  }

  // ---- entering the history ----

  pbr::v1::RecordAssessmentRequest AssessmentRequest(const ModelPerson& p, const Action& a) const {
    // The synthetic ratings of the record's seed, item 8's problem type D.
    history::Ratings ratings;
    const std::vector<int> items = systemtest::Ratings(a.seed);
    std::copy(items.begin(), items.end(), ratings.items.begin());
    history::SetItem8Type(ratings, 'D');
    pbr::v1::RecordAssessmentRequest r = history::AssessmentRequest(kEpr, p.nhs, kClinician, a, ratings);
    if (a.admitted_at) *r.mutable_admitted_at() = Ts(*a.admitted_at);
    // Synthetic ratings may break the example red rules and clusters may stray from the protocol:
    // the clinician records why (a rationale never lifts a referral-period refusal).
    r.set_clinical_rationale("review replay system test: synthetic ratings");
    return r;
  }

  std::string Words(const Action& a) const {
    const std::string when = a.at == absl::InfinitePast() ? "" : TimeText(a.at);
    switch (a.act) {
      case Act::kAssess:
        return absl::StrCat("assessment ", a.record_id, " ", pbr::v1::AssessmentReason_Name(a.reason), " MHCT ", when,
                            " team ", a.team, " cluster ", a.cluster,
                            a.admitted_at ? absl::StrCat(" admitted ", TimeText(*a.admitted_at)) : "");
      case Act::kAmend:
        return absl::StrCat("amendment of ", a.record_id, ": MHCT ", when, " cluster ", a.cluster);
      case Act::kWithdrawAssessment: return absl::StrCat("withdrawal of assessment ", a.record_id);
      case Act::kCareEvent:
        return absl::StrCat("care event ", a.record_id, " ", pbr::v1::CareEventType_Name(a.type), " at ", when,
                            a.out_of_hours ? " (out of hours)" : "", " team ", a.team);
      case Act::kWithdrawCareEvent: return absl::StrCat("withdrawal of care event ", a.record_id);
    }
    return "";
  }

  // Enters one record through allocation, as an EPR would, and folds it into the model.
  void Enter(const Action& a) {
    ModelPerson& p = people_[a.person];
    const absl::Time now = Tick(a.record_day);
    p.history.push_back(absl::StrCat("entered ", DayText(a.record_day), ": ", Words(a), a.note.empty() ? "" : " [", a.note,
                                     a.note.empty() ? "" : "]"));
    grpc::Status st;
    switch (a.act) {
      case Act::kAssess:
      case Act::kAmend: {
        pbr::v1::RecordAssessmentReply reply;
        st = history::SendAssessment(*allocation_, a.act, AssessmentRequest(p, a), &reply);
        if (!st.ok()) break;
        EXPECT_FALSE(reply.duplicate()) << Words(a) << ": a new record or a real change, never a retry";
        Know(p, reply.person_id());
        names_.Add(reply.assessment_id(), a.record_id);
        p.id_of_record[a.record_id] = reply.assessment_id();
        model_->Record(p, now, [&] {
          AssessmentFact& f = p.assessments[reply.assessment_id()];
          f.id = reply.assessment_id();
          f.record_id = a.record_id;
          f.revision = reply.revision();
          f.live = true;
          f.at = a.at;
          f.effective = a.reason == pbr::v1::ASSESSMENT_REASON_INITIAL && a.admitted_at ? *a.admitted_at : a.at;
          f.cluster = a.cluster;
          f.team = a.team;
          f.reason = a.reason;
        });
        break;
      }
      case Act::kWithdrawAssessment: {
        pbr::v1::WithdrawAssessmentReply reply;
        st = history::WithdrawAssessment(*allocation_, kEpr, a, &reply);
        if (!st.ok()) break;
        model_->Record(p, now, [&] {
          AssessmentFact& f = p.assessments.at(reply.assessment_id());
          f.live = false;
          f.revision = reply.revision();
        });
        break;
      }
      case Act::kCareEvent: {
        pbr::v1::RecordCareEventReply reply;
        st = history::SendCareEvent(*allocation_, history::CareEventRequest(kEpr, p.nhs, kClinician, a, a.out_of_hours),
                                    &reply);
        if (!st.ok()) break;
        EXPECT_FALSE(reply.duplicate()) << Words(a);
        Know(p, reply.person_id());
        names_.Add(reply.care_event_id(), a.record_id);
        p.id_of_record[a.record_id] = reply.care_event_id();
        model_->Record(p, now, [&] {
          CareFact& f = p.care[reply.care_event_id()];
          f.id = reply.care_event_id();
          f.record_id = a.record_id;
          f.team = a.team;
          f.type = a.type;
          f.at = a.at;
          f.out_of_hours = a.out_of_hours;
        });
        break;
      }
      case Act::kWithdrawCareEvent: {
        pbr::v1::WithdrawCareEventReply reply;
        st = history::WithdrawCareEvent(*allocation_, kEpr, a, &reply);
        if (!st.ok()) break;
        model_->Record(p, now, [&] { p.care.at(reply.care_event_id()).live = false; });
        break;
      }
    }
    if (!st.ok()) {
      ADD_FAILURE() << "allocation refused " << Words(a) << " on " << DayText(a.record_day) << ": " << st.error_code()
                    << " " << st.error_message() << "\n" << absl::StrJoin(p.history, "\n");
      return;
    }
    ++facts_entered_;
    ++facts_since_start_;
  }

  // The person is named in failure reports from the first reply that names them.
  void Know(ModelPerson& p, const std::string& person_id) {
    if (p.person_id.empty()) names_.Add(person_id, p.label);
    history::Know(p, person_id);
  }

  // ---- waiting for the scheduler and the observer ----

  absl::StatusOr<std::string> Metrics(const std::string& service) {
    return testing::HttpGet(platform_->MetricsAddress(service), "/metrics");
  }
  // Samples of `name` as (labels text, value).
  static std::vector<std::pair<std::string, double>> Samples(const std::string& body, absl::string_view name) {
    std::vector<std::pair<std::string, double>> out;
    for (absl::string_view line : absl::StrSplit(body, '\n')) {
      if (!absl::StartsWith(line, name) || line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) {
        continue;
      }
      const size_t space = line.rfind(' ');
      double v = 0;
      if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &v)) continue;
      out.emplace_back(std::string(line.substr(name.size(), space - name.size())), v);
    }
    return out;
  }
  static std::string Label(const std::string& labels, absl::string_view key) {
    const std::string k = absl::StrCat(key, "=\"");
    const size_t at = labels.find(k);
    if (at == std::string::npos) return "";
    const size_t end = labels.find('"', at + k.size());
    return labels.substr(at + k.size(), end - at - k.size());
  }
  // The facts the running scheduler has applied since it started.
  int64_t SchedulerApplied() {
    auto body = Metrics(kSchedulerName);
    if (!body.ok()) return -1;
    double n = 0;
    for (const auto& [labels, v] : Samples(*body, "pbr_events_consumed_total")) {
      const std::string topic = Label(labels, "topic");
      if (topic == platform::topic::kAssessmentRecorded || topic == platform::topic::kCareEventRecorded) n += v;
    }
    return static_cast<int64_t>(n);
  }
  int64_t SchedulerPublished() {
    auto body = Metrics(kSchedulerName);
    if (!body.ok()) return -1;
    double n = 0;
    for (const auto& [labels, v] : Samples(*body, "pbr_events_produced_total")) {
      const std::string topic = Label(labels, "topic");
      if (topic == platform::topic::kReviewDue || topic == platform::topic::kReviewCompleted) n += v;
    }
    return static_cast<int64_t>(n);
  }

  // Until the scheduler has applied every fact entered since it started, so it takes each one while
  // the clock still reads the day it was entered.
  void WaitForScheduler(const std::string& when, absl::Duration deadline = kWait) {
    int64_t applied = 0;
    const bool ok = testing::WaitUntil([&] { return (applied = SchedulerApplied()) >= facts_since_start_; }, deadline,
                                       absl::Milliseconds(3));
    EXPECT_TRUE(ok) << when << ": the scheduler applied " << applied << " of the " << facts_since_start_
                    << " facts entered since it started\n" << testing::Tail(platform_->LogPath(kSchedulerName));
    if (!ok) ++timeouts_;
    if (!ok && applied >= 0) facts_since_start_ = applied;  // reported once, not again every day
  }

  // Takes what the observer received: each event id once.
  void Drain() {
    std::vector<pbr::v1::EventEnvelope> got;
    {
      std::lock_guard lock(mu_);
      got.swap(raw_);
    }
    for (const auto& e : got) {
      if (e.has_dead_letter()) {
        ADD_FAILURE() << "dead letter from " << e.dead_letter().consumer_group() << " (" << e.dead_letter().topic()
                      << "): " << e.dead_letter().reason();
        continue;
      }
      const std::string description = Describe(names_, e);
      auto [it, fresh] = description_of_id_.emplace(e.event_id(), description);
      if (!fresh) {
        EXPECT_EQ(it->second, description) << "event id " << e.event_id() << " published with two contents";
        continue;
      }
      ++observed_[description];
      observed_streams_[e.person_id()][StreamOf(e)].push_back(description);
      observed_on_[description].push_back(day_);
      Balance(description);
    }
  }
  // Takes the model's new expectations.
  void Expect() {
    const auto& all = model_->emitted();
    for (; taken_ < all.size(); ++taken_) {
      const auto& e = all[taken_];
      ++expected_[e.description];
      expected_streams_[e.person_id][e.stream].push_back(e.description);
      expected_on_[e.description].push_back(e.day);
      Balance(e.description);
    }
  }
  void Balance(const std::string& d) {
    if (observed_[d] < expected_[d]) {
      short_.insert(d);
    } else {
      short_.erase(d);
    }
  }

  // Until the observer holds every announcement the model expects so far (those already reported
  // missing excepted).
  void WaitForEvents(const std::string& when) {
    Expect();
    auto complete = [&] {
      Drain();
      return std::all_of(short_.begin(), short_.end(), [&](const std::string& d) { return given_up_.count(d) > 0; });
    };
    if (testing::WaitUntil(complete, kWait, absl::Milliseconds(2))) return;
    ++timeouts_;
    std::vector<std::string> missing;
    for (const auto& d : short_) {
      if (given_up_.insert(d).second) missing.push_back(d);
    }
    ADD_FAILURE() << when << ": " << missing.size() << " expected announcements not published within "
                  << absl::FormatDuration(kWait) << " (first 10):\n"
                  << absl::StrJoin(missing.begin(), missing.begin() + std::min<size_t>(10, missing.size()), "\n");
  }

  // What the restarted scheduler published while catching up is exactly what the model expects of the
  // down days (each transition once; their order is checked with everything else at the end).
  void ExpectCaughtUp(int restart_day) {
    std::map<std::string, int> want, got;
    for (const auto& [d, days] : expected_on_) {
      for (int day : days) want[d] += day > kKillAfter && day <= restart_day;
    }
    for (const auto& [d, days] : observed_on_) {
      for (int day : days) got[d] += day == restart_day;
    }
    std::vector<std::string> missing, extra;
    for (const auto& [d, n] : want) {
      for (int i = got[d]; i < n; ++i) missing.push_back(d);
    }
    for (const auto& [d, n] : got) {
      for (int i = want[d]; i < n; ++i) extra.push_back(d);
    }
    int transitions = 0;
    for (const auto& [d, n] : want) transitions += n;
    std::cout << "[replay] catching up after the restart: " << transitions << " announcements of the down days expected, "
              << missing.size() << " missing, " << extra.size() << " unexpected\n";
    EXPECT_TRUE(missing.empty() && extra.empty())
        << "after the restart on " << DayText(DayAt(restart_day)) << " the scheduler should publish each transition of the "
        << kDownDays << " down days once; missing:\n  " << absl::StrJoin(missing, "\n  ") << "\nunexpected:\n  "
        << absl::StrJoin(extra, "\n  ");
  }

  // ---- the scheduler's and reporting's answers on a day ----

  // Every person's schedule as the scheduler answers it, checked against the model.
  std::map<std::string, pbr::v1::Schedule> CheckSchedules(absl::CivilDay day) {
    std::map<std::string, pbr::v1::Schedule> out;
    const absl::Time now = Tick(day);
    int wrong = 0;
    for (auto& p : people_) {
      if (p.person_id.empty()) continue;
      const Derived d = model_->Derive(p, now);
      pbr::v1::GetScheduleRequest request;
      request.set_person_id(p.person_id);
      pbr::v1::Schedule got;
      const grpc::Status st = scheduler_->GetSchedule(testing::CallContext().get(), request, &got);
      std::string problem;
      if (!d.schedule.has_value()) {
        if (st.error_code() != grpc::StatusCode::NOT_FOUND) {
          problem = absl::StrCat("no review is scheduled, but GetSchedule answered ", st.error_code(), " ",
                                 st.error_message(), " ", got.ShortDebugString());
        } else if (d.discharged && !absl::StrContains(st.error_message(), "discharged")) {
          problem = absl::StrCat("discharged, but NOT_FOUND says ", st.error_message());
        }
      } else if (!st.ok()) {
        problem = absl::StrCat("GetSchedule answered ", st.error_code(), " ", st.error_message());
      } else {
        const ScheduleView& s = *d.schedule;
        std::vector<std::string> want_triggers, got_triggers;
        for (const TriggerView& t : d.triggers) {
          if (t.in_open_period) {
            want_triggers.push_back(absl::StrCat(names_(t.care_id), " ", OutcomeName(t.outcome), " ", names_(t.met_by)));
          }
        }
        for (const auto& t : got.triggers()) {
          got_triggers.push_back(
              absl::StrCat(names_(t.care_event_id()), " ", OutcomeName(t.outcome()), " ", names_(t.met_by_assessment_id())));
        }
        const std::string want = absl::StrCat(
            names_(s.basis_id), " c", s.cluster, " mhct=", DayText(UkDay(s.basis_at)), " window=", DayText(s.window),
            " due=", DayText(s.due), " ", StateName(s.On(day)), " team=", s.team, " area=", s.area, " rules=",
            s.rule_version, " policy=sop triggers=[", absl::StrJoin(want_triggers, ", "), "]");
        const std::string have = absl::StrCat(
            names_(got.basis_assessment_id()), " c", got.cluster(), " mhct=", DayText(got.latest_mhct_date()),
            " window=", DayText(got.window_opens()), " due=", DayText(got.due_date()), " ", StateName(got.state()),
            " team=", got.team_id(), " area=", got.service_area(), " rules=", got.rule_version(), " policy=",
            got.review_policy(), " triggers=[", absl::StrJoin(got_triggers, ", "), "]");
        if (want != have) problem = absl::StrCat("schedule\n  expected ", want, "\n  got      ", have);
        out[p.person_id] = got;
      }
      if (!problem.empty() && ++wrong <= 5) {
        ADD_FAILURE() << DayText(day) << ": " << p.label << ": " << problem << "\n" << absl::StrJoin(p.history, "\n");
      }
    }
    EXPECT_EQ(wrong, 0) << DayText(day) << ": schedules that differ from the model";
    return out;
  }

  // ListOverdue (everyone, one team, one cluster), CountOverdue and the gauge, against the model.
  void CheckOverdue(absl::CivilDay day, const std::map<std::string, pbr::v1::Schedule>& schedules) {
    // The counts hold for the last timer pass: wait for today's.
    pbr::v1::CountOverdueReply counts;
    const bool passed = testing::WaitUntil(
        [&] {
          counts.Clear();
          return scheduler_->CountOverdue(testing::CallContext().get(), {}, &counts).ok() && counts.has_as_of() &&
                 platform::FromProto(counts.as_of()) == day;
        },
        kWait, absl::Milliseconds(5));
    ASSERT_TRUE(passed) << DayText(day) << ": no timer pass for today; CountOverdue: " << counts.ShortDebugString();

    struct Entry {
      absl::CivilDay due;
      std::string person_id;
      const pbr::v1::Schedule* s;
    };
    std::vector<Entry> overdue;
    for (const auto& [person_id, s] : schedules) {
      if (platform::FromProto(s.due_date()) < day) overdue.push_back({platform::FromProto(s.due_date()), person_id, &s});
    }
    std::sort(overdue.begin(), overdue.end(),
              [](const Entry& a, const Entry& b) { return std::tie(a.due, a.person_id) < std::tie(b.due, b.person_id); });
    auto line = [&](const std::string& person_id, const std::string& team, int cluster, const std::string& basis,
                    absl::CivilDay due, int days) {
      return absl::StrCat(names_(person_id), " ", team, " c", cluster, " ", names_(basis), " due ", DayText(due), " +", days);
    };
    auto list = [&](pbr::v1::ListOverdueRequest request) {
      std::vector<std::string> out;
      request.set_page_size(37);  // several pages
      for (int page = 0; page < 100; ++page) {
        pbr::v1::ListOverdueReply reply;
        const grpc::Status st = scheduler_->ListOverdue(testing::CallContext().get(), request, &reply);
        EXPECT_TRUE(st.ok()) << st.error_message();
        if (!st.ok()) break;
        for (const auto& r : reply.reviews()) {
          EXPECT_EQ(r.state(), pbr::v1::REVIEW_STATE_OVERDUE);
          out.push_back(line(r.person_id(), r.team_id(), r.cluster(), r.basis_assessment_id(),
                             platform::FromProto(r.due_date()), r.days_overdue()));
        }
        if (reply.next_page_token().empty()) break;
        request.set_page_token(reply.next_page_token());
      }
      return out;
    };
    auto expected = [&](const std::function<bool(const pbr::v1::Schedule&)>& keep) {
      std::vector<std::string> out;
      for (const Entry& e : overdue) {
        if (!keep(*e.s)) continue;
        out.push_back(line(e.person_id, e.s->team_id(), e.s->cluster(), e.s->basis_assessment_id(), e.due,
                           static_cast<int>(day - e.due)));
      }
      return out;
    };
    EXPECT_EQ(list({}), expected([](const auto&) { return true; })) << DayText(day) << ": ListOverdue";
    pbr::v1::ListOverdueRequest by_team;
    by_team.set_team_id("cmht-north");
    EXPECT_EQ(list(by_team), expected([](const auto& s) { return s.team_id() == "cmht-north"; }))
        << DayText(day) << ": ListOverdue for cmht-north";
    pbr::v1::ListOverdueRequest by_cluster;
    by_cluster.set_has_cluster(true);
    by_cluster.set_cluster(14);
    EXPECT_EQ(list(by_cluster), expected([](const auto& s) { return s.cluster() == 14; }))
        << DayText(day) << ": ListOverdue for cluster 14";
    pbr::v1::ListOverdueRequest by_area;
    by_area.set_service_area("community_psychosis");
    EXPECT_EQ(list(by_area), expected([](const auto& s) { return s.service_area() == "community_psychosis"; }))
        << DayText(day) << ": ListOverdue for community_psychosis";

    std::map<std::string, int64_t> want_counts;
    int64_t want_total = 0;
    for (const Entry& e : overdue) {
      ++want_counts[absl::StrCat(e.s->team_id(), "/", e.s->cluster())];
      ++want_total;
    }
    std::map<std::string, int64_t> got_counts;
    for (const auto& c : counts.counts()) got_counts[absl::StrCat(c.team_id(), "/", c.cluster())] = c.overdue();
    EXPECT_EQ(got_counts, want_counts) << DayText(day) << ": CountOverdue " << counts.ShortDebugString();
    EXPECT_EQ(counts.total(), want_total) << DayText(day);
    if (!overdue.empty()) {
      EXPECT_EQ(platform::FromProto(counts.oldest_due_date()), overdue.front().due) << DayText(day);
    } else {
      EXPECT_FALSE(counts.has_oldest_due_date()) << DayText(day);
    }

    // The gauge is CountOverdue, label for label.
    auto body = Metrics(kSchedulerName);
    ASSERT_TRUE(body.ok()) << body.status();
    std::map<std::string, int64_t> gauge;
    for (const auto& [labels, v] : Samples(*body, "pbr_reviews_overdue")) {
      if (v != 0) gauge[absl::StrCat(Label(labels, "team"), "/", Label(labels, "cluster"))] = static_cast<int64_t>(v);
    }
    EXPECT_EQ(gauge, got_counts) << DayText(day) << ": pbr_reviews_overdue against CountOverdue";
    std::cout << "[replay] " << DayText(day) << ": " << schedules.size() << " people scheduled, " << want_total
              << " overdue\n";
  }

  // Reporting's caseloads show, for every person on them, the scheduler's state and due date.
  void CheckReporting(absl::CivilDay day, const std::map<std::string, pbr::v1::Schedule>& schedules) {
    std::set<std::string> teams;
    for (const auto& [id, team] : rules_->teams().teams) teams.insert(id);
    for (const std::string& team : teams) {
      std::vector<std::string> want;
      for (const auto& [person_id, s] : schedules) {
        if (s.team_id() != team) continue;
        want.push_back(absl::StrCat(names_(person_id), " c", s.cluster(), " ", StateName(s.state()),
                                    s.state() == pbr::v1::REVIEW_STATE_UPCOMING ? "" : absl::StrCat(" due ", DayText(s.due_date()))));
      }
      std::sort(want.begin(), want.end());
      std::vector<std::string> have;
      const bool agree = testing::WaitUntil(
          [&] {
            pbr::v1::GetCaseloadRequest request;
            request.set_team_id(team);
            pbr::v1::Caseload caseload;
            if (!reporting_->GetCaseload(testing::CallContext().get(), request, &caseload).ok()) return false;
            have.clear();
            for (const auto& p : caseload.persons()) {
              have.push_back(absl::StrCat(names_(p.person_id()), " c", p.cluster(), " ", StateName(p.review_state()),
                                          p.has_review_due_date() ? absl::StrCat(" due ", DayText(p.review_due_date())) : ""));
            }
            std::sort(have.begin(), have.end());
            return have == want;
          },
          kWait, absl::Milliseconds(20));
      EXPECT_TRUE(agree) << DayText(day) << ": caseload of " << team << "\nexpected (the scheduler's):\n"
                         << absl::StrJoin(want, "\n") << "\ngot:\n" << absl::StrJoin(have, "\n");
    }
  }

  void CheckDay(absl::CivilDay day) {
    const auto schedules = CheckSchedules(day);
    CheckOverdue(day, schedules);
    CheckReporting(day, schedules);
  }

  // ---- the end: exactly the model's events, each once, in order per person ----

  void ExpectExactlyTheModel() {
    std::vector<std::string> missing, extra;
    for (const auto& [d, n] : expected_) {
      const int got = observed_.count(d) ? observed_.at(d) : 0;
      for (int i = got; i < n; ++i) missing.push_back(d);
    }
    for (const auto& [d, n] : observed_) {
      const int want = expected_.count(d) ? expected_.at(d) : 0;
      for (int i = want; i < n; ++i) extra.push_back(d);
    }
    std::set<std::string> suspects;
    for (const auto& d : missing) suspects.insert(d.substr(0, d.find(' ')));
    for (const auto& d : extra) suspects.insert(d.substr(0, d.find(' ')));
    // Order, stream by stream.
    int out_of_order = 0;
    for (const auto& [person_id, streams] : expected_streams_) {
      for (const auto& [stream, want] : streams) {
        const auto& have = observed_streams_[person_id][stream];
        if (have != want) {
          ++out_of_order;
          suspects.insert(names_(person_id));
        }
      }
    }
    for (const auto& [person_id, streams] : observed_streams_) {
      for (const auto& [stream, have] : streams) {
        if (!expected_streams_[person_id].count(stream)) suspects.insert(names_(person_id));
      }
    }
    auto days = [&](const std::map<std::string, std::vector<int>>& on, const std::string& d) {
      std::vector<std::string> out;
      auto it = on.find(d);
      if (it != on.end()) {
        for (int i : it->second) out.push_back(DayText(DayAt(i)));
      }
      return absl::StrJoin(out, ",");
    };
    std::string report;
    for (size_t i = 0; i < missing.size() && i < 30; ++i) {
      absl::StrAppend(&report, "  MISSING (expected on ", days(expected_on_, missing[i]), "): ", missing[i], "\n");
    }
    for (size_t i = 0; i < extra.size() && i < 30; ++i) {
      absl::StrAppend(&report, "  EXTRA (seen on ", days(observed_on_, extra[i]), "): ", extra[i], "\n");
    }
    int shown = 0;
    for (const auto& label : suspects) {
      if (++shown > 8) break;
      const ModelPerson* p = nullptr;
      for (const auto& q : people_) {
        if (q.label == label) p = &q;
      }
      if (p == nullptr) continue;
      absl::StrAppend(&report, "\n", label, " (", p->person_id, "):\n  ", absl::StrJoin(p->history, "\n  "), "\n");
      for (const auto& [stream, want] : expected_streams_[p->person_id]) {
        const auto& have = observed_streams_[p->person_id][stream];
        if (have == want) continue;
        absl::StrAppend(&report, "  stream ", names_(stream.substr(stream.find(':') + 1)), " expected:\n    ",
                        absl::StrJoin(want, "\n    "), "\n  observed:\n    ", absl::StrJoin(have, "\n    "), "\n");
      }
      for (const auto& [stream, have] : observed_streams_[p->person_id]) {
        if (expected_streams_[p->person_id].count(stream)) continue;
        absl::StrAppend(&report, "  stream ", names_(stream.substr(stream.find(':') + 1)), " expected nothing, observed:\n    ",
                        absl::StrJoin(have, "\n    "), "\n");
      }
    }
    EXPECT_TRUE(missing.empty() && extra.empty() && out_of_order == 0)
        << missing.size() << " expected events missing, " << extra.size() << " unexpected, " << out_of_order
        << " streams out of order or different\n" << report;
  }

  testing::TempDir dir_;
  absl::Time started_;
  std::string clock_path_;
  std::unique_ptr<care::RuleSet> rules_;
  Names names_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<testing::LocalPlatform> platform_;
  std::unique_ptr<pbr::v1::Allocation::Stub> allocation_;
  std::unique_ptr<pbr::v1::Reporting::Stub> reporting_;
  std::unique_ptr<pbr::v1::ReviewScheduler::Stub> scheduler_;
  platform::ManualClock observer_clock_{absl::Now()};
  std::unique_ptr<platform::Store> observer_store_;
  std::unique_ptr<platform::Outbox> observer_outbox_;
  std::unique_ptr<platform::Consumer> observer_;
  std::mutex mu_;
  std::vector<pbr::v1::EventEnvelope> raw_;  // guarded by mu_

  std::vector<ModelPerson> people_;
  int day_ = 0;
  int timeouts_ = 0;  // waits that ran out
  int64_t facts_entered_ = 0;
  int64_t facts_since_start_ = 0;  // since the running scheduler started

  size_t taken_ = 0;
  std::map<std::string, int> expected_, observed_;
  std::map<std::string, std::vector<int>> expected_on_, observed_on_;  // days (indexes)
  std::map<std::string, std::map<std::string, std::vector<std::string>>> expected_streams_, observed_streams_;
  std::map<std::string, std::string> description_of_id_;
  std::set<std::string> short_, given_up_;
};

TEST_F(ReviewReplaySystemTest, EighteenMonthsReplayedDayByDayPublishExactlyTheModelsAnnouncementsAcrossASchedulerCrash) {
  // The history, generated from the seed.
  std::vector<Action> actions;
  Generator generator(*rules_, &actions);
  for (int i = 0; i < kPeople; ++i) generator.Person(i);
  generator.DowntimePeople(kPeople);
  people_.resize(static_cast<size_t>(generator.people()));
  for (size_t i = 0; i < people_.size(); ++i) {
    people_[i].label = absl::StrFormat("p%03d", i);
    people_[i].nhs = testing::NhsNumber(700000000 + static_cast<int64_t>(i) * 100);
  }
  // The scheduler takes assessments and care events from two topics, with no order between them: two
  // facts of one person entered at one clock on different topics may be applied either way round
  // (and, e.g., a retraction then describes the review with or without the other fact). The replay
  // lets the scheduler take the first before entering the second, which it cannot do while the
  // scheduler is down: a generated person whose down-day records use both topics enters them the day
  // after the restart instead (the designed downtime people are order-independent).
  {
    std::map<int, std::set<bool>> topics_while_down;
    for (const Action& a : actions) {
      if (a.record_day > DayAt(kKillAfter) && a.record_day <= DayAt(kKillAfter + kDownDays) && a.person < kPeople) {
        topics_while_down[a.person].insert(IsAssessment(a));
      }
    }
    for (Action& a : actions) {
      if (a.record_day > DayAt(kKillAfter) && a.record_day <= DayAt(kKillAfter + kDownDays) &&
          topics_while_down[a.person].size() > 1) {
        a.record_day = DayAt(kKillAfter + kDownDays + 1);
      }
    }
  }
  std::stable_sort(actions.begin(), actions.end(), [](const Action& a, const Action& b) {
    return std::tie(a.record_day, a.person, a.seq) < std::tie(b.record_day, b.person, b.seq);
  });
  std::map<std::string, int> kinds;
  for (const Action& a : actions) ++kinds[a.act == Act::kCareEvent ? pbr::v1::CareEventType_Name(a.type) : Words(a).substr(0, Words(a).find(' '))];
  std::cout << "[replay] " << people_.size() << " people, " << actions.size() << " records over " << kDays << " days:";
  for (const auto& [k, n] : kinds) std::cout << " " << k << "=" << n;
  std::cout << "\n";

  bool scheduler_up = true;
  int64_t published_before_kill = 0;
  size_t next = 0;
  for (int index = 0; index < kDays; ++index) {
    const absl::CivilDay day = DayAt(index);
    day_ = index;
    model_->SetDay(index);
    SetClock(Tick(day));
    for (auto& p : people_) model_->Pass(p, Tick(day));
    const std::string when = absl::StrCat("day ", index, " (", DayText(day), ")");
    int entered_today = 0;
    std::map<int, bool> topic_today;  // person -> the topic of their last record today
    for (; next < actions.size() && actions[next].record_day == day; ++next, ++entered_today) {
      const Action& a = actions[next];
      auto last = topic_today.find(a.person);
      if (scheduler_up && last != topic_today.end() && last->second != IsAssessment(a)) WaitForScheduler(when);
      topic_today[a.person] = IsAssessment(a);
      Enter(a);
    }

    if (index == kKillAfter + kDownDays) {
      // The scheduler comes back with the clock on the last down day and that day's facts entered.
      ASSERT_TRUE(platform_->StartService(kSchedulerName, absl::Seconds(30), kSchedulerFlags).ok());
      scheduler_ = platform_->Stub<pbr::v1::ReviewScheduler>(kSchedulerName);
      scheduler_up = true;
    }
    if (scheduler_up) {
      // After a SIGKILL the group waits for the dead member's session to expire before the new one
      // gets its partitions: the first restart takes longer.
      if (index == kKillAfter + kDownDays) WaitForScheduler(when, 4 * kWait);
      if (entered_today > 0) WaitForScheduler(when);
      WaitForEvents(when);
      if (index == kKillAfter + kDownDays) ExpectCaughtUp(index);
    } else {
      Expect();
    }
    if (kCheckDays.count(index)) CheckDay(day);
    if (index == kKillAfter) {
      published_before_kill = SchedulerPublished();
      platform_->KillService(kSchedulerName);  // SIGKILL: no chance to flush or leave the group
      scheduler_up = false;
      facts_since_start_ = 0;
      std::cout << "[replay] scheduler killed after " << DayText(day) << "\n";
    }
    if (HasFatalFailure()) return;
    if (timeouts_ > 3) {
      ADD_FAILURE() << "replay stopped after " << when << ": " << timeouts_ << " waits ran out";
      break;
    }
    if (index == kKillAfter || index == kDays - 1) {
      std::cout << "[replay] " << DayText(day) << " done after " << absl::FormatDuration(absl::Now() - started_) << "\n";
    }
  }
  EXPECT_EQ(next, actions.size()) << "records not entered";

  // Everything the scheduler published has reached the observer before the final count.
  const int64_t published = published_before_kill + SchedulerPublished();
  size_t distinct = 0;
  const bool all_seen = testing::WaitUntil(
      [&] {
        Drain();
        return (distinct = description_of_id_.size()) >= static_cast<size_t>(published);
      },
      absl::Seconds(10), absl::Milliseconds(5));
  if (!all_seen) {
    std::cout << "[replay] the scheduler delivered " << published << " events, the observer holds " << distinct
              << " distinct ids (copies re-sent after the kill are delivered again under the same id)\n";
  }
  Expect();
  ExpectExactlyTheModel();

  std::map<std::string, int> by_kind;
  for (const auto& [d, n] : expected_) {
    const std::vector<std::string> words = absl::StrSplit(d, ' ');
    std::string kind = words[1];
    if (words[1] == "trigger") kind = absl::StrCat("trigger ", words[3], words[4] == "retracted" ? " retracted" : "");
    if (words[1] == "completion") kind = "completion withdrawn";
    by_kind[kind] += n;
  }
  std::cout << "[replay] " << facts_entered_ << " facts entered; expected events:";
  for (const auto& [k, n] : by_kind) std::cout << " [" << k << "]=" << n;
  std::cout << "\n";
  // What the history covered, from the model's completions.
  std::map<std::string, int> timeliness;
  for (const auto& [d, n] : expected_) {
    if (!absl::StrContains(d, " completed by=")) continue;
    if (absl::StrContains(d, " ON TIME early=0 ")) timeliness["on the due date"] += n;
    if (absl::StrContains(d, " LATE early=0 late=1 ")) timeliness["the day after"] += n;
    if (absl::StrContains(d, " ON TIME") && absl::StrContains(d, " in-window")) timeliness["in the window"] += n;
    if (absl::StrContains(d, " ON TIME") && absl::StrContains(d, " outside-window")) timeliness["early, before the window"] += n;
    if (absl::StrContains(d, " LATE")) timeliness["late"] += n;
  }
  std::cout << "[replay] completions:";
  for (const auto& [k, n] : timeliness) std::cout << " [" << k << "]=" << n;
  std::cout << "\n";
}

}  // namespace
}  // namespace pbr
