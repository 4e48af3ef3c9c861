// reporting_bench: reporting's read models at a trust's scale, beside what this machine can do.
//
// Builds a reporting store of --people people in process: each person's history (a referral, the initial
// allocation, an admission for an inpatient team's people, face-to-face contacts, reviews on time and late,
// transfers to crisis resolution, discharge reviews and discharges, the scheduler's review announcements and
// outcomes' HoNOS), all before the service's clock, is made as the events allocation, the scheduler and
// outcomes publish, checked by the shared event rules, and applied through the three read models
// the issue measures (caseload, national measures, KPIs; not the tariff ledger, which the service also runs), a
// run of messages per WriteBatch as the consumer does.
// Then the real pbr-reporting starts on that store and is asked through gRPC. Every figure is printed beside
// a raw baseline measured in the same run on the same machine:
//   load, messages/s             vs  as many raw batch writes of the same size into the same kind of Store
//                                    (at most 1,000,000)
//   GetKpis / GetCaseload        vs  transport only: a bare in-process gRPC echo of the reply's size; and the
//                                    same query in process with no gRPC, on the store reopened after the load
//   RSS (after many teams' queries), bytes stored per person against the issue's targets
// See bench/README.md.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api.h"
#include "bench_support.h"
#include "care/rules.h"
#include "care_bridge.h"
#include "event_rules.h"
#include "grpcpp/grpcpp.h"
#include "pbr/state/v1/state.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "platform/consumer.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/pending_writes.h"
#include "platform/projection.h"
#include "platform/store.h"
#include "projections/caseload/caseload.h"
#include "projections/kpis/kpis.h"
#include "projections/national_measures/national_measures.h"
#include "testing/process.h"

namespace pbr::bench {
namespace {

namespace topic = platform::topic;

constexpr const char* kProgram = "reporting_bench";

// The issue's targets.
constexpr double kQueryP99TargetMs = 10;
constexpr double kRssTargetBytes = 1024.0 * 1024 * 1024;

struct Flags {
  int people = 1000000;
  int teams = 1000;
  int calls = 2000;
  int warmup_calls = 20;
  int run_messages = static_cast<int>(platform::Consumer::kMaxRunMessages);
  std::string as_of;  // the clinical day the history runs to and the service's clock stands on
  std::string bin_dir = PBR_BIN_DIR;
  std::string rules_dir = PBR_RULES_DIR;
  std::string work_dir;
  bool keep_work_dir = false;
  bool resume_load = false;
};

constexpr const char* kUsage = R"(usage: reporting_bench [--flag=value ...]
  --people=1000000        people in the read models, each with a referral and an initial allocation
  --teams=1000            teams they are spread over (about people/teams on each caseload)
  --calls=2000            calls measured per query, and echo calls per baseline
  --warmup-calls=20       calls of each kind made first and not measured
  --run-messages=512      messages applied per store write (the consumer's run; 1 = one write per message)
  --as-of=YYYY-MM-DD      the day the two years of history run to and the service's clock (default: today)
  --bin-dir=DIR           where pbr-broker and pbr-reporting are (default: this build's bin/)
  --rules-dir=DIR         rule data (default: the repo's rules/)
  --work-dir=DIR          stores and logs (default: a fresh /tmp/pbr-reporting-bench-*)
  --keep-work-dir         keep the work dir after a successful run (it is always kept on failure)
  --resume-load           continue the load a stopped run left in --work-dir (needs --work-dir and --as-of,
                          the same --people, --teams and --run-messages: a million people's load spans sessions)
)";

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  const FlagTable table = {
      .ints = {{"people", {&f.people, 1, 10000000}},
               {"teams", {&f.teams, 1, 100000}},
               {"calls", {&f.calls, 1, 1000000}},
               {"warmup-calls", {&f.warmup_calls, 0, 100000}},
               {"run-messages", {&f.run_messages, 1, 100000}}},
      .strings = {{"as-of", &f.as_of}, {"bin-dir", &f.bin_dir}, {"rules-dir", &f.rules_dir}, {"work-dir", &f.work_dir}},
      .switches = {{"keep-work-dir", &f.keep_work_dir}, {"resume-load", &f.resume_load}},
  };
  if (auto st = ParseFlagArgs(argc, argv, table, kUsage); !st.ok()) return st;
  if (f.resume_load && (f.work_dir.empty() || f.as_of.empty())) {
    return absl::InvalidArgumentError(
        "--resume-load: needs --work-dir (the stopped run's) and --as-of (its day, so the same history is made)");
  }
  if (!f.as_of.empty()) {
    absl::CivilDay d;
    if (!absl::ParseCivilTime(f.as_of, &d) || d.year() < 2003 || d.year() > 2190) {
      return absl::InvalidArgumentError(absl::StrCat("--as-of: '", f.as_of, "' is not a date YYYY-MM-DD"));
    }
  }
  return f;
}

absl::Time ClinicalTime(absl::CivilDay d, int hour, int minute) {
  return absl::FromCivil(absl::CivilSecond(d.year(), d.month(), d.day(), hour, minute, 0), platform::ClinicalTimeZone());
}

// ---------------------------------------------------------------------------------------------
// The trust: teams over the service areas, weighted as a trust's caseloads are (community teams most).

struct BenchTeam {
  std::string id, area, commissioner;
  std::vector<int> clusters;  // the area's allowed clusters
};

int AreaWeight(const std::string& area) {
  static const std::map<std::string, int> kWeights = {
      {"community_non_psychosis", 10}, {"memory_dementia", 4}, {"community_psychosis", 4}, {"crht", 1}, {"inpatient", 1}};
  auto it = kWeights.find(area);
  return it == kWeights.end() ? 2 : it->second;
}

// --teams teams, each in a service area with clusters; areas get teams by weight. Each team's people are
// about equal, so a team's caseload is about people/teams.
absl::StatusOr<std::vector<BenchTeam>> MakeTeams(const care::RuleSet& rules, int count, std::string* yaml) {
  std::vector<const care::ServiceArea*> areas;
  int total_weight = 0;
  for (const care::ServiceArea& a : rules.service_areas().areas) {
    if (a.allowed.empty()) continue;
    areas.push_back(&a);
    total_weight += AreaWeight(a.id);
  }
  if (areas.empty()) return absl::FailedPreconditionError("rules: no service area allows any cluster");
  static const char* kCommissioners[] = {"00X", "00Y", "00Z", "01A"};
  std::vector<BenchTeam> teams;
  *yaml = "# Written by reporting_bench: the teams its people are on.\nkind: teams\nversion: \"bench\"\nteams:\n";
  for (int t = 0; t < count; ++t) {
    // Team t's area: the weighted areas laid out end to end, t's share of the way along.
    const int point = static_cast<int>((static_cast<int64_t>(t) * total_weight) / count);
    int acc = 0;
    const care::ServiceArea* area = areas.back();
    for (const care::ServiceArea* a : areas) {
      acc += AreaWeight(a->id);
      if (point < acc) {
        area = a;
        break;
      }
    }
    BenchTeam team{absl::StrCat("bench-team-", t), area->id, kCommissioners[t % 4], {area->allowed.begin(), area->allowed.end()}};
    absl::StrAppend(yaml, "  - {id: ", team.id, ", name: bench, service_area: ", team.area,
                    ", default_commissioner: \"", team.commissioner, "\", memory_assessment_service: ",
                    team.area == "memory_dementia" ? "true" : "false", "}\n");
    teams.push_back(std::move(team));
  }
  return teams;
}

// ---------------------------------------------------------------------------------------------
// A person's history, as the events the other services publish.

struct History {
  std::vector<pbr::v1::EventEnvelope> events;  // in the order they happened
  bool discharged = false;
  int reviews = 0;
};

class Histories {
 public:
  // `clock_at` is the service's clock: nothing in a history happens, or is recorded, at or after it.
  Histories(const care::RuleSet& rules, const std::vector<BenchTeam>& teams, absl::CivilDay as_of, absl::Time clock_at)
      : rules_(rules), teams_(teams), as_of_(as_of), clock_at_(clock_at), latest_(clock_at - absl::Minutes(30)) {}

  // Person i's history, the same every time it is asked for.
  absl::StatusOr<History> Make(int64_t i) const {
    Draws draw(static_cast<uint64_t>(i) + 7);
    History h;
    const std::string person = platform::KeyedHash("reporting-bench", absl::StrCat("person-", i));
    const BenchTeam& team = teams_[static_cast<size_t>(i % static_cast<int64_t>(teams_.size()))];
    const std::string clinician = absl::StrCat("clin-", team.id.substr(11), "-", draw.Below(12));
    const std::string coordinator = draw.Percent() < 80 ? clinician : "";  // some EPRs name none
    const std::string referral = platform::DeterministicId("referral", {person, "bench"});

    // Referred some day in the two years before as_of (at least 3 weeks before it).
    const absl::CivilDay referred = as_of_ - (21 + static_cast<int>(draw.Below(710)));
    const absl::Time referred_at = ClinicalTime(referred, 9 + static_cast<int>(draw.Below(8)), 10);
    h.events.push_back(CareEvent(person, i, "referral", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, referred_at, team,
                                 clinician, referral, false));
    // The first face-to-face contact 1-14 days after (a referral made at 9-16h may follow a contact at 10:00
    // on its own day), the initial allocation at it or a little later.
    const absl::CivilDay first_contact = referred + 1 + static_cast<int>(draw.Below(14));
    const absl::Time first_contact_at = ClinicalTime(first_contact, 10, 0);
    // An inpatient team's people are admitted at that contact, before they have a cluster: KPI 4 judges their
    // allocation by the 2 bed nights, and it is back-dated to the admission.
    std::optional<absl::Time> admitted_at;
    if (team.area == "inpatient") {
      admitted_at = first_contact_at;
      h.events.push_back(CareEvent(person, i, "admission", pbr::v1::CARE_EVENT_ADMISSION, *admitted_at, team,
                                   clinician, referral, false));
    }
    h.events.push_back(CareEvent(person, i, "contact-1", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT, first_contact_at,
                                 team, clinician, referral, false));
    int cluster = team.clusters[draw.Below(team.clusters.size())];
    // Up to 10 days after the contact; an admitted person within the 2 bed nights, but one in ten 3-10 days
    // after. Recorded before the clock, for a referral of the last weeks too.
    absl::Duration allocated_after = absl::Hours(1 + static_cast<int64_t>(draw.Below(24 * 10)));
    if (admitted_at.has_value()) {
      allocated_after = draw.Percent() < 90 ? absl::Hours(1 + static_cast<int64_t>(draw.Below(48)))
                                            : absl::Hours(72 + static_cast<int64_t>(draw.Below(24 * 7)));
    }
    absl::Time assessed_at = std::min(first_contact_at + allocated_after, latest_);
    std::string episode = platform::DeterministicId("episode", {person, "0"});
    std::string basis = Assessment(h, person, i, 0, pbr::v1::ASSESSMENT_REASON_INITIAL, cluster, assessed_at, team,
                                   clinician, coordinator, episode, referral, draw, first_contact_at, admitted_at);
    const absl::CivilDay second_contact = platform::ClinicalDay(assessed_at) + 7 + static_cast<int>(draw.Below(60));
    if (second_contact < as_of_) {
      h.events.push_back(CareEvent(person, i, "contact-2", pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT,
                                   ClinicalTime(second_contact, 11, 0), team, clinician, referral, false));
    }
    // Formal reviews while they come due before as_of: most on time, some late, some missed so far.
    for (int r = 1; r <= 6; ++r) {
      auto due = rules_.ReviewDueDate(cluster, platform::ClinicalDay(assessed_at), care::ReviewPolicy::kTrustSop);
      if (!due.ok()) return due.status();
      const int fate = draw.Percent();
      const absl::CivilDay on = fate < 75 ? due->window_opens + static_cast<int>(draw.Below(11))
                                          : due->due + 1 + static_cast<int>(draw.Below(40));
      // A review on as_of itself could come after the clock (noon): it is not done yet either.
      if (fate >= 90 || on >= as_of_) {
        // Not reviewed yet: the scheduler announced the review as due when its window opened, and as overdue
        // the day after its due date.
        if (as_of_ >= due->window_opens) {
          h.events.push_back(ReviewDue(person, basis, team, cluster, assessed_at, *due, pbr::v1::REVIEW_STATE_DUE));
        }
        if (as_of_ > due->due) {
          h.events.push_back(ReviewDue(person, basis, team, cluster, assessed_at, *due, pbr::v1::REVIEW_STATE_OVERDUE));
        }
        break;
      }
      if (on > due->due) {
        h.events.push_back(ReviewDue(person, basis, team, cluster, assessed_at, *due, pbr::v1::REVIEW_STATE_DUE));
        h.events.push_back(ReviewDue(person, basis, team, cluster, assessed_at, *due, pbr::v1::REVIEW_STATE_OVERDUE));
      }
      const absl::Time review_at = ClinicalTime(on, 9 + static_cast<int>(draw.Below(8)), 30);
      // A review in the last year discharges one person in ten.
      const bool discharge = on > as_of_ - 365 && draw.Percent() < 10;
      // One other review in twelve is a transfer review, for a referral to crisis resolution (out of hours in
      // four of ten). In hours the review comes first (KPI 9: in the 5 days before the referral), out of hours
      // the referral (KPI 10: in the 72 hours after it); one in eight is outside its window.
      const bool transfer = !discharge && draw.Percent() < 8;
      const bool out_of_hours = transfer && draw.Percent() < 40;
      const bool transfer_missed = transfer && draw.Percent() < 12;
      if (out_of_hours) {
        const int days_before = (transfer_missed ? 4 : 1) + static_cast<int>(draw.Below(3));
        h.events.push_back(CareEvent(person, i, absl::StrCat("crht-", r), pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT,
                                     ClinicalTime(on - days_before, 22, 0), team, clinician, referral, true));
      }
      if (discharge) {
        // The discharge review, 1-21 hours before its HoNOS and cluster review (KPI 12: within 24 hours of it)
        // for nine in ten, 30-72 hours before for the rest.
        const absl::Duration before = draw.Percent() < 90
                                          ? absl::Minutes(60 + static_cast<int64_t>(draw.Below(20 * 60)))
                                          : absl::Hours(30 + static_cast<int64_t>(draw.Below(43)));
        h.events.push_back(CareEvent(person, i, "discharge-review", pbr::v1::CARE_EVENT_DISCHARGE_REVIEW,
                                     review_at - before, team, clinician, referral, false));
      }
      h.events.push_back(CareEvent(person, i, absl::StrCat("contact-r", r), pbr::v1::CARE_EVENT_FACE_TO_FACE_CONTACT,
                                   review_at - absl::Minutes(30), team, clinician, referral, false));
      if (!discharge && draw.Percent() < 15) {  // a step to another cluster of the area: a new episode
        cluster = team.clusters[draw.Below(team.clusters.size())];
        episode = platform::DeterministicId("episode", {person, absl::StrCat(r)});
      }
      basis = Assessment(h, person, i, r,
                         discharge  ? pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW
                         : transfer ? pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW
                                    : pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW,
                         cluster, review_at, team, clinician, coordinator, episode, referral, draw, std::nullopt,
                         std::nullopt);
      ++h.reviews;
      assessed_at = review_at;
      if (transfer && !out_of_hours) {
        // 1-4 days after the review, or 6-9 when outside the window; one that would come after the clock is
        // made an hour after the review instead.
        const int days_after = (transfer_missed ? 6 : 1) + static_cast<int>(draw.Below(4));
        absl::Time referred_to_crht = ClinicalTime(on + days_after, 9 + static_cast<int>(draw.Below(7)), 15);
        if (referred_to_crht > latest_) referred_to_crht = review_at + absl::Hours(1);
        h.events.push_back(CareEvent(person, i, absl::StrCat("crht-", r), pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT,
                                     referred_to_crht, team, clinician, referral, false));
      }
      if (discharge) {
        h.events.push_back(CareEvent(person, i, "discharge", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE,
                                     review_at + absl::Hours(2), team, clinician, referral, false));
        h.discharged = true;
        break;
      }
    }
    // In the order they happened (a second contact may follow the first review, a referral the scheduler's
    // announcement); an assessment's outcome, at the same clinical time, stays after it.
    std::stable_sort(h.events.begin(), h.events.end(), [](const auto& a, const auto& b) {
      return platform::FromProto(a.occurred_at()) < platform::FromProto(b.occurred_at());
    });
    for (const pbr::v1::EventEnvelope& e : h.events) {
      if (platform::FromProto(e.occurred_at()) >= clock_at_ || platform::FromProto(e.recorded_at()) >= clock_at_) {
        return absl::InternalError(absl::StrCat("person ", i, ": the bench made a ", platform::EventTypeOf(e),
                                                " event (", e.event_id(), ") at or after the service's clock"));
      }
    }
    return h;
  }

 private:
  static pbr::v1::EventEnvelope CareEvent(const std::string& person, int64_t i, const std::string& what,
                                          pbr::v1::CareEventType type, absl::Time at, const BenchTeam& team,
                                          const std::string& clinician, const std::string& referral, bool out_of_hours) {
    const std::string record_id = absl::StrCat("bench-", i, "-", what);
    const std::string id = platform::DeterministicId("care-event", {"bench-epr", record_id});
    auto e = platform::MakeEnvelope(topic::kCareEventRecorded, platform::DeterministicId(topic::kCareEventRecorded, {id}),
                                    person, at, at + absl::Minutes(5), "bench-epr", "");
    auto* c = e.mutable_care_event_recorded();
    c->set_care_event_id(id);
    c->set_source_record_id(record_id);
    c->set_type(type);
    *c->mutable_occurred_at() = platform::ToProto(at);
    c->set_out_of_hours(out_of_hours);
    c->set_team_id(team.id);
    c->set_clinician_id(clinician);
    c->set_referral_id(referral);
    return e;
  }

  // Appends the assessment allocation would publish, and the outcome outcomes would; returns its id.
  std::string Assessment(History& h, const std::string& person, int64_t i, int n, pbr::v1::AssessmentReason reason,
                         int cluster, absl::Time at, const BenchTeam& team, const std::string& clinician,
                         const std::string& coordinator, const std::string& episode, const std::string& referral,
                         Draws& draw, std::optional<absl::Time> first_contact_at,
                         std::optional<absl::Time> admitted_at) const {
    const std::string record_id = absl::StrCat("bench-", i, "-a", n);
    const std::string id = platform::DeterministicId("assessment", {"bench-epr", record_id});
    auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, platform::DeterministicId(topic::kAssessmentRecorded, {id}),
                                    person, at, at + absl::Minutes(20), "bench-epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_source_record_id(record_id);
    a->set_team_id(team.id);
    a->set_clinician_id(clinician);
    a->set_care_coordinator_id(coordinator);
    *a->mutable_assessed_at() = platform::ToProto(at);
    // An admitted person's initial allocation takes effect from the admission, as allocation back-dates it.
    *a->mutable_effective_at() = platform::ToProto(admitted_at.value_or(at));
    if (admitted_at.has_value()) *a->mutable_admitted_at() = platform::ToProto(*admitted_at);
    int honos = 0;
    for (int k = 0; k < 18; ++k) {
      const int rating = k == 7 ? 0 : static_cast<int>(draw.Below(4));
      a->mutable_ratings()->add_items(rating);
      if (k < 12) honos += rating;
    }
    a->set_cluster(cluster);
    a->set_reason(reason);
    a->set_rule_version(rules_.version());
    a->set_service_area(team.area);
    a->set_commissioner_id(team.commissioner);
    a->set_episode_id(episode);
    a->set_referral_id(referral);
    auto* red = a->add_checks();
    red->set_rule("red-rules");
    red->set_passed(draw.Percent() < 85);
    red->set_rule_version(rules_.version());
    if (reason != pbr::v1::ASSESSMENT_REASON_INITIAL) {
      a->set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
      auto* transition = a->add_checks();
      transition->set_rule("transition-protocol");
      transition->set_passed(draw.Percent() < 90);
      transition->set_rule_version(rules_.version());
    }
    a->set_face_to_face_contacts(first_contact_at.has_value() ? 1 : 2);
    if (first_contact_at.has_value()) *a->mutable_first_contact_at() = platform::ToProto(*first_contact_at);
    h.events.push_back(e);

    // Outcomes' announcement of its HoNOS, a little later; one referral period in twenty deteriorated.
    auto o = platform::MakeEnvelope(topic::kOutcomeRecorded, platform::DeterministicId(topic::kOutcomeRecorded, {id, "0"}),
                                    person, at, at + absl::Minutes(21), "outcomes", "");
    auto* out = o.mutable_outcome_recorded();
    out->set_assessment_id(id);
    out->set_team_id(team.id);
    out->set_cluster(cluster);
    *out->mutable_assessed_at() = platform::ToProto(at);
    out->set_honos_total(honos);
    out->set_total_valid(true);
    out->set_rule_version(rules_.version());
    auto* ep = out->mutable_episode();
    ep->set_referral_id(referral);
    ep->set_paired(n > 0);
    if (n > 0) {
      ep->mutable_change()->set_reliable_change(draw.Percent() < 5 ? pbr::v1::RELIABLE_CHANGE_DETERIORATED
                                                                   : pbr::v1::RELIABLE_CHANGE_IMPROVED);
    }
    h.events.push_back(std::move(o));
    return id;
  }

  pbr::v1::EventEnvelope ReviewDue(const std::string& person, const std::string& basis, const BenchTeam& team,
                                   int cluster, absl::Time assessed_at, const care::ReviewDue& due,
                                   pbr::v1::ReviewState state) const {
    const absl::CivilDay announced_on = state == pbr::v1::REVIEW_STATE_DUE ? due.window_opens : due.due + 1;
    const absl::Time at = ClinicalTime(announced_on, 0, 5);
    auto e = platform::MakeEnvelope(
        topic::kReviewDue,
        platform::DeterministicId(topic::kReviewDue, {basis, state == pbr::v1::REVIEW_STATE_DUE ? "due" : "overdue"}),
        person, at, at, "review-scheduler", "");
    auto* r = e.mutable_review_due();
    r->set_basis_assessment_id(basis);
    r->set_team_id(team.id);
    r->set_cluster(cluster);
    *r->mutable_latest_mhct_date() = platform::ToProto(platform::ClinicalDay(assessed_at));
    *r->mutable_window_opens() = platform::ToProto(due.window_opens);
    *r->mutable_due_date() = platform::ToProto(due.due);
    r->set_state(state);
    r->set_rule_version(due.rule_version);
    r->set_service_area(team.area);
    return e;
  }

  const care::RuleSet& rules_;
  const std::vector<BenchTeam>& teams_;
  const absl::CivilDay as_of_;
  const absl::Time clock_at_;
  const absl::Time latest_;  // the latest clinical time of an event: recorded up to 21 minutes later, before the clock
};

// ---------------------------------------------------------------------------------------------
// Results

struct Results {
  int64_t people = 0, messages = 0, reviews = 0, discharged = 0;
  double generate_s = 0, validate_s = 0, load_s = 0, raw_load_s = 0;
  int64_t raw_batches = 0, runs = 0;
  double written_keys = 0, written_bytes = 0;  // over every run's write
  double raw_messages_per_s = 0;
  int64_t skipped_on_resume = 0;  // messages of the block a stopped load was in, applied before it stopped
  int64_t data_bytes = 0, total_bytes = 0;
  std::string team;
  int32_t team_people = 0;
  struct Query {
    std::string name;
    size_t reply_bytes = 0;
    Percentiles inproc, grpc, echo;
  };
  std::vector<Query> queries;
  double start_s = 0;
  int64_t rss = -1, hwm = -1;
  size_t rss_caseload_teams = 0, rss_kpi_teams = 0;  // the teams asked about before RSS was read
};

// ---------------------------------------------------------------------------------------------
// Stage 1: the reporting store, built in process through the service's projections.

std::vector<std::string> ReportingFamilies() {
  return platform::FamiliesOf(reporting::kCaseloadFamilies, reporting::kNationalFamilies, reporting::kKpisFamilies);
}

// People are made a block at a time and their events applied in the order they were recorded across
// the block, as a topic holds them, each serialised as the broker carries it.
constexpr int64_t kBlockPeople = 2000;

// How far a load has come, kept in the store in the same write as the block of people it counts, so a
// load stopped anywhere (a session's end, a kill) resumes after its last whole block. In the offsets
// family, under a key no consumer reads.
constexpr absl::string_view kProgressKey = "reporting-bench/progress";

std::string ProgressRecord(const Flags& f, const Results& out, int64_t people_done, double load_s) {
  return absl::StrFormat("v1 %s %d %d %d %d %d %d %d %d %.0f %.0f %.6f %.6f %.6f", f.as_of, f.people, f.teams,
                         f.run_messages, people_done, out.messages, out.reviews, out.discharged, out.runs,
                         out.written_keys, out.written_bytes, load_s, out.generate_s, out.validate_s);
}

// The people already loaded (0 for a new store), with the counts and seconds so far restored into `out`.
absl::StatusOr<int64_t> LoadedSoFar(const Flags& f, const platform::Store& store, Results& out, double* load_s) {
  auto held = store.Get(platform::kOffsetsFamily, kProgressKey);
  if (!held.ok()) return held.status();
  if (!held->has_value()) return 0;
  if (!f.resume_load) {
    return absl::FailedPreconditionError("the store holds part of an earlier load: continue it with --resume-load");
  }
  const std::vector<std::string> v = absl::StrSplit(**held, ' ');
  int people = 0, teams = 0, run_messages = 0;
  int64_t done = 0;
  bool ok = v.size() == 15 && v[0] == "v1" && absl::SimpleAtoi(v[2], &people) && absl::SimpleAtoi(v[3], &teams) &&
            absl::SimpleAtoi(v[4], &run_messages) && absl::SimpleAtoi(v[5], &done) &&
            absl::SimpleAtoi(v[6], &out.messages) && absl::SimpleAtoi(v[7], &out.reviews) &&
            absl::SimpleAtoi(v[8], &out.discharged) && absl::SimpleAtoi(v[9], &out.runs) &&
            absl::SimpleAtod(v[10], &out.written_keys) && absl::SimpleAtod(v[11], &out.written_bytes) &&
            absl::SimpleAtod(v[12], load_s) && absl::SimpleAtod(v[13], &out.generate_s) &&
            absl::SimpleAtod(v[14], &out.validate_s);
  if (!ok) return absl::DataLossError(absl::StrCat("the load's progress record is unreadable: ", **held));
  if (v[1] != f.as_of || people != f.people || teams != f.teams || run_messages != f.run_messages) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--resume-load: the stopped load was --as-of=%s --people=%d --teams=%d --run-messages=%d; give the same",
        v[1], people, teams, run_messages));
  }
  return done;
}

absl::Status LoadPeople(const Flags& f, const Histories& histories, const platform::EventValidator& validate,
                        const std::vector<std::shared_ptr<platform::Projection>>& projections, platform::Store& store,
                        platform::Outbox& outbox, absl::Time load_at, Results& out) {
  // Each topic's handlers, as ServiceHost::AddProjection registers them with the consumer.
  std::map<std::string, std::vector<platform::NamedHandler>, std::less<>> handlers;
  for (const auto& p : projections) {
    for (const std::string& t : p->topics()) {
      handlers[t].push_back({std::string(p->name()), [p](const platform::ConsumedEvent& e, platform::ApplyContext& ctx) {
                               return p->Apply(e, ctx);
                             }});
    }
  }
  struct Message {
    absl::Time recorded;
    std::string topic, key, value;
  };
  platform::PendingWrites pending(store);
  size_t run = 0;
  auto write_run = [&]() -> absl::Status {
    if (run == 0) return absl::OkStatus();
    if (auto st = pending.WriteTo(store, /*sync=*/false); !st.ok()) return st;
    ++out.runs;
    out.written_keys += pending.written_keys();
    out.written_bytes += static_cast<double>(pending.written_bytes());
    run = 0;
    return absl::OkStatus();
  };
  const int64_t step = std::max<int64_t>(1, f.people / 10);
  double earlier_load_s = 0;  // in the sessions before this one, when resumed
  auto resumed_at = LoadedSoFar(f, store, out, &earlier_load_s);
  if (!resumed_at.ok()) return resumed_at.status();
  if (*resumed_at > 0) {
    std::printf("  resuming after %lld people, %lld messages, %.1f s of loading so far\n",
                static_cast<long long>(*resumed_at), static_cast<long long>(out.messages), earlier_load_s);
  }
  const TimePoint t0 = SteadyClock::now();
  double not_load_s = 0;  // making the events and publishing them: the other services' and the broker's work
  auto load_s = [&] { return earlier_load_s + Seconds(SteadyClock::now() - t0) - not_load_s; };
  std::vector<Message> block;
  for (int64_t first = *resumed_at; first < f.people; first += kBlockPeople) {
    const int64_t end = std::min<int64_t>(f.people, first + kBlockPeople);
    const TimePoint g0 = SteadyClock::now();
    block.clear();
    for (int64_t i = first; i < end; ++i) {
      auto history = histories.Make(i);
      if (!history.ok()) return history.status();
      for (const pbr::v1::EventEnvelope& e : history->events) {
        block.push_back({platform::FromProto(e.recorded_at()), std::string(platform::EventTypeOf(e)), e.person_id(),
                         e.SerializeAsString()});
      }
      out.reviews += history->reviews;
      out.discharged += history->discharged ? 1 : 0;
    }
    std::stable_sort(block.begin(), block.end(), [](const Message& a, const Message& b) { return a.recorded < b.recorded; });
    const double made_s = Seconds(SteadyClock::now() - g0);
    out.generate_s += made_s;
    not_load_s += made_s;
    // What the consumer does with each message (Consumer::Stage): parse, check by the shared rules,
    // apply to every projection that subscribes (de-duplicated by event id), keep the partition's
    // position with the message's digest; a run of messages per write.
    for (const Message& m : block) {
      pbr::v1::EventEnvelope e;
      if (!e.ParseFromString(m.value)) return absl::DataLossError("an event the bench made does not parse");
      const TimePoint v0 = SteadyClock::now();
      if (auto st = validate(m.topic, e); !st.ok()) {
        return absl::Status(st.code(), absl::StrCat("the shared event rules refuse a ", m.topic, " event of ",
                                                    e.person_id(), ": ", st.message()));
      }
      out.validate_s += Seconds(SteadyClock::now() - v0);
      const int32_t partition = static_cast<int32_t>(std::hash<std::string>{}(m.key) % 12);
      const platform::ConsumedEvent consumed{m.topic, partition, out.messages, e};
      auto applied = platform::ApplyEvent(pending, outbox, handlers[m.topic], consumed, load_at, &validate,
                                          load_at + absl::Hours(24 * 30));
      if (!applied.ok()) {
        return absl::Status(applied.status().code(), absl::StrCat("a ", m.topic, " event of ", e.person_id(), ": ",
                                                                  applied.status().message()));
      }
      // The block a stopped load was in may have had runs written before the stop: those messages are
      // applied already, and skipped by their ids as the consumer skips a re-sent message.
      if (applied->duplicate && *resumed_at > 0 && first == *resumed_at) {
        ++out.skipped_on_resume;
      } else if (applied->duplicate || !applied->rejected.empty()) {
        return absl::InternalError(absl::StrCat("a ", m.topic, " event of ", e.person_id(), " was ",
                                                applied->duplicate ? "a duplicate" : applied->rejected));
      }
      pbr::state::v1::ConsumedPosition position;
      position.set_next_offset(out.messages + 1);
      position.set_cluster_id("bench");
      position.set_last_digest(platform::DeterministicId("consumed", {m.key, m.value}));
      pending.batch().Put(store.Family(platform::kOffsetsFamily), absl::StrCat(m.topic, "/", partition),
                          position.SerializeAsString());
      ++out.messages;
      if (++run >= static_cast<size_t>(f.run_messages) || pending.bytes() >= platform::Consumer::kMaxRunBytes) {
        if (auto st = write_run(); !st.ok()) return st;
      }
    }
    // The block's last run carries the progress record: a block is loaded whole or not at all.
    pending.batch().Put(store.Family(platform::kOffsetsFamily), std::string(kProgressKey), ProgressRecord(f, out, end, load_s()));
    ++run;
    if (auto st = write_run(); !st.ok()) return st;
    if (end % step < kBlockPeople || end == f.people) {
      const TimePoint now = SteadyClock::now();
      const double s = load_s();
      std::printf("  %9lld people  %8lld messages  %7.1f s  %8.0f messages/s  (wall clock %.0f s)\n",
                  static_cast<long long>(end), static_cast<long long>(out.messages), s, out.messages / s,
                  Seconds(now - t0));
      std::fflush(stdout);
    }
  }
  out.people = f.people;
  out.load_s = load_s();
  if (*resumed_at > 0) {
    std::printf("(resumed: %lld messages of the block the load stopped in were applied before it stopped, and "
                "skipped)\n",
                static_cast<long long>(out.skipped_on_resume));
  }
  std::printf("%lld messages for %d people applied through %zu projections in %.1f s: %.0f messages/s, %.0f people/s\n",
              static_cast<long long>(out.messages), f.people, projections.size(), out.load_s, out.messages / out.load_s,
              f.people / out.load_s);
  std::printf("(making the events and ordering them %.1f s, not counted; checking them by the shared rules %.1f s, "
              "counted)\n",
              out.generate_s, out.validate_s);
  std::printf("%lld writes of up to %zu messages: %.0f keys, %.0f bytes each on average; %lld reviews, %lld people "
              "discharged\n",
              static_cast<long long>(out.runs), static_cast<size_t>(f.run_messages),
              out.written_keys / std::max<int64_t>(1, out.runs), out.written_bytes / std::max<int64_t>(1, out.runs),
              static_cast<long long>(out.reviews), static_cast<long long>(out.discharged));
  return absl::OkStatus();
}

// The raw baseline: the load's writes without their reading and deriving. As many batches as the load
// wrote, each of its average keys and bytes, into a Store of the same options (at most 20,000 batches:
// the rate is what is compared, a longer run only takes longer). Its rate is given in the load's
// messages (batches/s x messages per batch).
absl::Status RawLoad(const std::string& dir, Results& out) {
  auto opened = platform::Store::Open(dir, {"raw"});
  if (!opened.ok()) return opened.status();
  std::unique_ptr<platform::Store> store = *std::move(opened);
  auto* family = store->Family("raw");
  const int64_t runs = std::max<int64_t>(1, out.runs);
  const int puts = std::max(1, static_cast<int>(out.written_keys / runs + 0.5));
  const size_t value_bytes = static_cast<size_t>(std::max(1.0, out.written_bytes / runs / puts - 40));
  Draws draw(99);
  std::string value(value_bytes, 'x');
  std::vector<std::string> keys(puts);
  double key_s = 0;
  const TimePoint t0 = SteadyClock::now();
  const int64_t batches = std::min<int64_t>(runs, 20000);
  for (int64_t m = 0; m < batches; ++m) {
    const TimePoint k0 = SteadyClock::now();
    for (int k = 0; k < puts; ++k) keys[k] = platform::KeyedHash("raw", absl::StrCat(m, "/", k));
    for (size_t b = 0; b < value.size(); ++b) value[b] = static_cast<char>('a' + draw.Below(16));
    key_s += Seconds(SteadyClock::now() - k0);
    rocksdb::WriteBatch batch;
    for (int k = 0; k < puts; ++k) batch.Put(family, keys[k], value);
    if (auto st = store->Write(batch, /*sync=*/false); !st.ok()) return st;
  }
  out.raw_load_s = Seconds(SteadyClock::now() - t0) - key_s;
  out.raw_batches = batches;
  out.raw_messages_per_s = (static_cast<double>(batches) / out.raw_load_s) * (static_cast<double>(out.messages) / runs);
  std::printf("raw load: %lld batches of %d puts x %zu-byte values in %.1f s: %.0f batches/s, %.0f messages/s\n",
              static_cast<long long>(batches), puts, value_bytes, out.raw_load_s, batches / out.raw_load_s,
              out.raw_messages_per_s);
  store.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// The queries: the same requests in process and through the service.

struct Request {
  std::string name;
  bool caseload = false;
  pbr::v1::GetKpisRequest kpis;
  pbr::v1::GetCaseloadRequest team;
};

std::vector<Request> Requests(const std::string& team, absl::CivilDay as_of) {
  std::vector<Request> out;
  const absl::CivilMonth last_month = absl::CivilMonth(as_of) - 1;
  auto kpis = [&](std::string name, pbr::v1::ReportScopeKind kind, const std::string& id, bool month) {
    Request r;
    r.name = std::move(name);
    r.kpis.mutable_scope()->set_kind(kind);
    r.kpis.mutable_scope()->set_id(id);
    if (month) {
      r.kpis.mutable_month()->set_year(static_cast<int32_t>(last_month.year()));
      r.kpis.mutable_month()->set_month(last_month.month());
    } else {
      *r.kpis.mutable_as_at() = platform::ToProto(as_of);
    }
    out.push_back(std::move(r));
  };
  kpis(absl::StrFormat("GetKpis trust, month %04d-%02d", last_month.year(), last_month.month()),
       pbr::v1::REPORT_SCOPE_TRUST, "", true);
  kpis("GetKpis trust, as at today", pbr::v1::REPORT_SCOPE_TRUST, "", false);
  kpis(absl::StrFormat("GetKpis %s, month %04d-%02d", team, last_month.year(), last_month.month()),
       pbr::v1::REPORT_SCOPE_TEAM, team, true);
  kpis(absl::StrCat("GetKpis ", team, ", as at today"), pbr::v1::REPORT_SCOPE_TEAM, team, false);
  Request c;
  c.name = absl::StrCat("GetCaseload ", team);
  c.caseload = true;
  c.team.set_team_id(team);
  out.push_back(std::move(c));
  return out;
}

absl::StatusOr<std::string> InProcess(const reporting::ReportingApi& api, const Request& r, absl::CivilDay today) {
  if (r.caseload) {
    auto reply = api.GetCaseload(r.team);
    if (!reply.ok()) return reply.status();
    return reply->SerializeAsString();
  }
  auto reply = api.GetKpis(r.kpis, today);
  if (!reply.ok()) return reply.status();
  return reply->SerializeAsString();
}

absl::Status Call(pbr::v1::Reporting::Stub& stub, const Request& r, std::string* bytes) {
  grpc::Status st;
  if (r.caseload) {
    pbr::v1::Caseload reply;
    st = stub.GetCaseload(testing::CallContext().get(), r.team, &reply);
    if (st.ok()) *bytes = reply.SerializeAsString();
  } else {
    pbr::v1::KpiReport reply;
    st = stub.GetKpis(testing::CallContext().get(), r.kpis, &reply);
    if (st.ok()) *bytes = reply.SerializeAsString();
  }
  return FromGrpc(st, r.name);
}

// The load recorded the consumer's positions as it went, in a log of its own (cluster "bench"); the service's
// broker is a new, empty one, which a stored position would rightly make the service refuse as another log
// (DATA_LOSS). So they are forgotten first (the load's progress record stays): the service starts on the loaded
// read models as a consumer with nothing yet to read.
absl::Status ForgetLoadPositions(const std::string& data_dir) {
  auto store = platform::Store::Open(data_dir, ReportingFamilies());
  if (!store.ok()) return store.status();
  std::vector<std::string> positions;
  auto st = (*store)->Scan(platform::kOffsetsFamily, "", [&](absl::string_view key, absl::string_view) {
    if (key != kProgressKey) positions.emplace_back(key);
    return true;
  });
  if (!st.ok()) return st;
  rocksdb::WriteBatch batch;
  for (const std::string& key : positions) batch.Delete((*store)->Family(platform::kOffsetsFamily), key);
  if (auto written = (*store)->Write(batch, /*sync=*/true); !written.ok()) return written;
  std::printf("forgot the load's %zu consumer positions (a log of its own): the service's broker is a new one\n",
              positions.size());
  return absl::OkStatus();
}

// The team with the most people on its caseload (every team holds about the same).
absl::StatusOr<std::pair<std::string, int32_t>> LargestTeam(const reporting::ReportingApi& api,
                                                            const std::vector<BenchTeam>& teams, size_t sample) {
  std::pair<std::string, int32_t> best{"", -1};
  for (size_t t = 0; t < teams.size() && t < sample; ++t) {
    pbr::v1::GetCaseloadRequest r;
    r.set_team_id(teams[t].id);
    auto c = api.GetCaseload(r);
    if (!c.ok()) return c.status();
    if (c->people() > best.second) best = {teams[t].id, c->people()};
  }
  return best;
}

absl::Status RunService(const Flags& f, const std::string& rules_dir, const std::string& data_dir, absl::Time clock_at,
                        absl::CivilDay as_of, const std::vector<BenchTeam>& teams, const std::vector<Request>& requests,
                        const std::vector<std::string>& expected, OwnedProcesses& owned, Results& out) {
  auto started = StartOnStore(f.bin_dir, "reporting", data_dir, rules_dir, clock_at, f.work_dir, absl::Seconds(300), owned);
  if (!started.ok()) return started.status();
  out.start_s = started->start_s;
  testing::ChildProcess* service = started->process;
  const std::string grpc_address = started->grpc_address;

  auto stub = pbr::v1::Reporting::NewStub(LoopbackChannel(grpc_address));
  for (size_t q = 0; q < requests.size(); ++q) {
    std::string bytes;
    auto timed = TimeCalls(f.warmup_calls, f.calls, [&] { return Call(*stub, requests[q], &bytes); });
    if (!timed.ok()) return timed.status();
    // The last reply, compared after the timing so that only the call is timed (the clock stands still: every
    // reply is the same).
    if (bytes != expected[q]) {
      return absl::DataLossError(absl::StrCat(requests[q].name, ": the service answered ", bytes.size(),
                                              " bytes unlike the ", expected[q].size(), " answered in process"));
    }
    out.queries[q].grpc = *timed;
    std::printf("%-40s %s\n", requests[q].name.c_str(), Describe(*timed).c_str());
    std::fflush(stdout);
  }
  // RSS with the caches the queries of many teams fill, not only the measured team's: the caseloads of every
  // team (up to 500, spread over the areas) and the KPIs of up to 20.
  const size_t caseload_teams = std::min<size_t>(teams.size(), 500), kpi_teams = std::min<size_t>(teams.size(), 20);
  for (size_t k = 0; k < caseload_teams; ++k) {
    Request r;
    r.caseload = true;
    r.team.set_team_id(teams[k * teams.size() / caseload_teams].id);
    r.name = absl::StrCat("GetCaseload ", r.team.team_id());
    std::string bytes;
    if (auto st = Call(*stub, r, &bytes); !st.ok()) return st;
  }
  for (size_t k = 0; k < kpi_teams; ++k) {
    for (const Request& r : Requests(teams[k * teams.size() / kpi_teams].id, as_of)) {
      if (r.caseload || r.kpis.scope().kind() != pbr::v1::REPORT_SCOPE_TEAM) continue;
      std::string bytes;
      if (auto st = Call(*stub, r, &bytes); !st.ok()) return st;
    }
  }
  out.rss_caseload_teams = caseload_teams;
  out.rss_kpi_teams = kpi_teams;
  out.rss = StatusBytes(service->pid(), "VmRSS");
  out.hwm = StatusBytes(service->pid(), "VmHWM");
  std::printf("pbr-reporting VmRSS %.1f MiB (peak VmHWM %.1f MiB) after %zu teams' caseloads, %zu teams' KPIs\n",
              out.rss / 1048576.0, out.hwm / 1048576.0, caseload_teams, kpi_teams);
  return owned.StopAll();
}

// ---------------------------------------------------------------------------------------------

absl::Status RunBench(const Flags& f, OwnedProcesses& owned, Results& out) {
  absl::CivilDay as_of = platform::ClinicalDay(absl::Now());
  if (!f.as_of.empty()) (void)absl::ParseCivilTime(f.as_of, &as_of);
  // The service's clock stands at noon on as_of; the history ends before it.
  const absl::Time clock_at = ClinicalTime(as_of, 12, 0);

  auto shipped = care::RuleSet::LoadFromDirectory(f.rules_dir);
  if (!shipped.ok()) return shipped.status();
  std::string teams_yaml;
  auto teams = MakeTeams(*shipped, f.teams, &teams_yaml);
  if (!teams.ok()) return teams.status();
  if (f.resume_load) {  // made again from the same flags
    std::error_code ec;
    std::filesystem::remove_all(f.work_dir + "/rules", ec);
  }
  auto rules_dir = CopyRulesWithTeams(f.rules_dir, f.work_dir, teams_yaml);
  if (!rules_dir.ok()) return rules_dir.status();
  auto rules = services::LoadRules(*rules_dir);
  if (!rules.ok()) return rules.status();
  std::map<std::string, int> per_area;
  for (const BenchTeam& t : *teams) ++per_area[t.area];
  std::printf("as of %s; %d people over %d teams (about %d each):", absl::FormatCivilTime(as_of).c_str(), f.people,
              f.teams, f.people / f.teams);
  for (const auto& [area, n] : per_area) std::printf(" %s %d,", area.c_str(), n);
  std::printf(" rules %s\n", (*rules)->version().c_str());

  Stage("load: every person's history through the caseload, national-measures and KPI projections");
  const std::string data_dir = f.work_dir + "/reporting";
  const care::ReviewPolicy policy = care::ReviewPolicy::kTrustSop;  // the service's default (--review-policy=sop)
  const platform::ManualClock fixed(clock_at);
  {
    auto store = platform::Store::Open(data_dir, ReportingFamilies());
    if (!store.ok()) return store.status();
    auto outbox = platform::Outbox::Open(**store, platform::KafkaSettings{}, nullptr);
    if (!outbox.ok()) return outbox.status();
    std::vector<std::shared_ptr<platform::Projection>> projections = {
        std::make_shared<reporting::CaseloadProjection>(*rules),
        std::make_shared<reporting::NationalMeasuresProjection>(*rules),
        std::make_shared<reporting::KpisProjection>(*rules, policy)};
    const Histories histories(**rules, *teams, as_of, clock_at);
    const platform::EventValidator validate = services::SharedEventRules(*rules);
    if (auto st = LoadPeople(f, histories, validate, projections, **store, **outbox, clock_at, out); !st.ok()) return st;
    // The measured team is chosen here, untimed, so its scans warm nothing the measurement below reads.
    const reporting::ReportingApi api(**store, *rules, &fixed, policy);
    auto largest = LargestTeam(api, *teams, 50);
    if (!largest.ok()) return largest.status();
    out.team = largest->first;
    out.team_people = largest->second;
    if (auto st = (*store)->Flush(); !st.ok()) return st;
  }
  const auto stored = DirBytes(data_dir);
  out.data_bytes = stored.first;
  out.total_bytes = stored.second;
  std::printf("store: %.1f MiB of RocksDB data (%.0f bytes per person), %.1f MiB in its directory\n",
              out.data_bytes / 1048576.0, static_cast<double>(out.data_bytes) / f.people, out.total_bytes / 1048576.0);

  Stage("in process, no gRPC: the same queries on the store reopened after the load, as the service opens it");
  std::printf("measured team: %s, %d people on its caseload (the largest of the first 50 teams)\n", out.team.c_str(),
              out.team_people);
  const std::vector<Request> requests = Requests(out.team, as_of);
  std::vector<std::string> expected;
  {
    // Flushed, closed and opened again: empty memtables and a cold block cache, not the load's.
    auto store = platform::Store::Open(data_dir, ReportingFamilies());
    if (!store.ok()) return store.status();
    const reporting::ReportingApi api(**store, *rules, &fixed, policy);
    for (const Request& r : requests) {
      std::string bytes;
      auto timed = TimeCalls(f.warmup_calls, f.calls, [&]() -> absl::Status {
        auto reply = InProcess(api, r, as_of);
        if (!reply.ok()) return reply.status();
        bytes = *std::move(reply);
        return absl::OkStatus();
      });
      if (!timed.ok()) return absl::Status(timed.status().code(), absl::StrCat(r.name, ": ", timed.status().message()));
      expected.push_back(bytes);
      out.queries.push_back({r.name, bytes.size(), *timed, {}, {}});
      std::printf("%-40s %s  (%zu-byte reply)\n", r.name.c_str(), Describe(*timed).c_str(), bytes.size());
    }
  }
  // What the trust-wide KPIs and the caseload say, so a run shows the population is a real one.
  pbr::v1::KpiReport trust;
  if (trust.ParseFromString(expected[0]) && trust.kpis_size() > 0) {
    std::printf("%s: ", requests[0].name.c_str());
    for (int k = 0; k < trust.kpis_size() && k < 13; ++k) {
      const auto& v = trust.kpis(k);
      std::printf("%s %lld/%lld%s", v.id().c_str(), static_cast<long long>(v.numerator()),
                  static_cast<long long>(v.denominator()), k + 1 < trust.kpis_size() && k + 1 < 13 ? ", " : "\n");
    }
  }
  pbr::v1::Caseload caseload;
  if (caseload.ParseFromString(expected.back())) {
    std::printf("%s: %d people, %d reviews due, %d overdue, %d cases to discuss\n", out.team.c_str(), caseload.people(),
                caseload.reviews_due(), caseload.reviews_overdue(), caseload.cases_to_discuss());
  }

  Stage("raw baseline: as many batches of the same size into a Store");
  if (auto st = RawLoad(f.work_dir + "/raw", out); !st.ok()) return st;

  Stage("baseline, transport only: a bare in-process gRPC echo, each reply's size sent and returned, no reporting");
  for (Results::Query& q : out.queries) {
    auto echo = EchoBaseline::Start(q.reply_bytes);
    if (!echo.ok()) return echo.status();
    auto timed = TimeCalls(f.warmup_calls + 1, f.calls, [&] { return (*echo)->Call(); });
    if (!timed.ok()) return timed.status();
    q.echo = *timed;
    std::printf("echo of %7zu bytes (transport only): %s\n", q.reply_bytes, Describe(*timed).c_str());
  }

  Stage("service: pbr-broker + pbr-reporting on the store, clock fixed at noon on the as-of day");
  if (auto st = ForgetLoadPositions(data_dir); !st.ok()) return st;
  return RunService(f, *rules_dir, data_dir, clock_at, as_of, *teams, requests, expected, owned, out);
}

// 1234567 as "1,234,567".
std::string Grouped(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n), out;
  for (size_t k = 0; k < digits.size(); ++k) {
    if (k > 0 && (digits.size() - k) % 3 == 0) out += ',';
    out += digits[k];
  }
  return n < 0 ? "-" + out : out;
}

bool PrintSummary(const Flags& f, const Results& r) {
  std::printf("\n== summary (%lld people, %lld messages, %d calls each)\n", static_cast<long long>(r.people),
              static_cast<long long>(r.messages), f.calls);
  std::printf("%-40s %12s %12s %21s %10s  %s\n", "", "p99 service", "in process", "echo p99 (transport)", "target", "");
  bool ok = true;
  for (const Results::Query& q : r.queries) {
    const bool met = q.grpc.p99 < kQueryP99TargetMs;
    ok = ok && met;
    std::printf("%-40s %9.3f ms %9.3f ms %18.3f ms %7.0f ms  %s\n", q.name.c_str(), q.grpc.p99, q.inproc.p99,
                q.echo.p99, kQueryP99TargetMs, met ? "met" : "NOT MET");
  }
  const bool rss_met = r.rss >= 0 && r.rss < kRssTargetBytes;
  ok = ok && rss_met;
  // The service's store-memory-mib is left at its default, StoreOptions' memory budget: the block cache, with
  // the memtables charged to it.
  const double cache_cap_mib = static_cast<double>(platform::StoreOptions{}.memory_budget) / 1048576.0;
  std::printf("%-40s %9.1f MiB %42.0f MiB  %s  (peak %.1f MiB; block cache cap %.0f MiB; after %zu teams' caseloads "
              "and %zu teams' KPIs)\n",
              "pbr-reporting RSS", r.rss / 1048576.0, kRssTargetBytes / 1048576.0, rss_met ? "met" : "NOT MET",
              r.hwm / 1048576.0, cache_cap_mib, r.rss_caseload_teams, r.rss_kpi_teams);
  // RawLoad writes at most 20,000 batches: a longer load is compared with its first ones' rate.
  const std::string raw_cap =
      r.raw_batches < r.runs ? absl::StrCat(", first ", Grouped(r.raw_batches), " of its batches") : "";
  std::printf("%-40s %9.0f /s  raw, the same writes alone: %.0f /s%s (%.1fx)\n", "load, messages",
              r.messages / r.load_s, r.raw_messages_per_s, raw_cap.c_str(), r.raw_messages_per_s / (r.messages / r.load_s));
  std::printf("%-40s %9.0f bytes per person\n", "store", static_cast<double>(r.data_bytes) / std::max<int64_t>(1, r.people));
  return ok;
}

}  // namespace
}  // namespace pbr::bench

int main(int argc, char** argv) {
  using namespace pbr::bench;
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) return FlagsExit(kProgram, flags.status());
  Flags f = *std::move(flags);
  if (int code = StartRun(kProgram, "/tmp/pbr-reporting-bench-XXXXXX", &f.work_dir, f.resume_load); code != 0) {
    return code;
  }
  std::printf("params: --people=%d --teams=%d --calls=%d --warmup-calls=%d --run-messages=%d --as-of=%s\n", f.people, f.teams, f.calls,
              f.warmup_calls, f.run_messages, f.as_of.empty() ? "(today)" : f.as_of.c_str());
  std::fflush(stdout);
  // Ctrl-C, SIGTERM or SIGHUP mid-run: stop the child processes before leaving.
  OwnedProcesses owned(kProgram, "the processes it started");
  owned.StopOnSignals();
  Results results;
  const absl::Status run = owned.StopAfter(RunBench(f, owned, results));
  if (!run.ok()) return Failed(kProgram, run, "the stores and logs", f.work_dir);
  const bool met = PrintSummary(f, results);
  std::printf("load average (1/5/15 min) at the end: %s\n", LoadAverage().c_str());
  if (!met) {
    std::fprintf(stderr, "%s: a figure missed its target (work dir kept: %s)\n", kProgram, f.work_dir.c_str());
    return 1;
  }
  if (!f.keep_work_dir) {
    std::error_code ec;
    std::filesystem::remove_all(f.work_dir, ec);
  }
  return 0;
}
