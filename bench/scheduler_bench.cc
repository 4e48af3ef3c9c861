// scheduler_bench: the review scheduler at a trust's scale, beside what this machine can do.
//
// Builds a scheduler store of --people people in process (each person's initial assessment applied
// through Scheduler::OnAssessment, one WriteBatch per person, as the consumer would), runs the timer
// pass of a day on which exactly --transitions reviews change state, then starts the real
// pbr-review-scheduler on that store and asks it through gRPC. Every figure is printed beside a raw
// baseline measured in the same run on the same machine:
//   load, people/s                 vs  as many raw batch writes of the same size into the same kind of Store
//   timer pass, ms                 vs  as many raw point reads + writes of the same size in one batch
//   ListOverdue / CountOverdue     vs  a bare in-process gRPC echo of the reply's size
//   RSS, bytes stored per person   against the issue's targets
// See bench/README.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
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
#include "bench_support.h"
#include "care/rules.h"
#include "care_bridge.h"
#include "due_index.h"
#include "grpcpp/grpcpp.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/store.h"
#include "queries.h"
#include "scheduler.h"
#include "testing/process.h"

namespace pbr::bench {
namespace {

namespace topic = platform::topic;

constexpr const char* kProgram = "scheduler_bench";

// The issue's targets.
constexpr double kQueryP99TargetMs = 10;
constexpr double kPassTargetMs = 1000;
constexpr double kRssTargetBytes = 1024.0 * 1024 * 1024;

struct Flags {
  int people = 1000000;
  int transitions = 5000;
  int calls = 2000;
  int warmup_calls = 20;
  int page_size = 100;
  int overdue_percent = 15;
  std::string pass_day;  // yyyy-mm-dd; default: today's clinical day
  std::string team;      // ListOverdue's team; default: the registry team with the most overdue reviews
  std::string bin_dir = PBR_BIN_DIR;
  std::string rules_dir = PBR_RULES_DIR;
  std::string work_dir;  // default: a fresh directory under /tmp, removed after a successful run
  bool keep_work_dir = false;
};

constexpr const char* kUsage = R"(usage: scheduler_bench [--flag=value ...]
  --people=1000000        people scheduled, one initial assessment each
  --transitions=5000      people whose review changes state on the pass day (window opens, or falls overdue)
  --overdue-percent=15    share of the other people whose review is already overdue before the pass day
  --pass-day=YYYY-MM-DD   the clinical day of the timer pass and of the service's fixed clock (default: today)
  --calls=2000            ListOverdue and CountOverdue calls measured (each), and echo calls per baseline
  --warmup-calls=20       calls of each kind made first and not measured
  --page-size=100         ListOverdue page size (1-1000)
  --team=ID               ListOverdue's team (default: the registry team with the most overdue reviews)
  --bin-dir=DIR           where pbr-broker and pbr-review-scheduler are (default: this build's bin/)
  --rules-dir=DIR         rule data (default: the repo's rules/)
  --work-dir=DIR          stores and logs (default: a fresh /tmp/pbr-sched-bench-*)
  --keep-work-dir         keep the work dir after a successful run (it is always kept on failure)
)";

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  const FlagTable table = {
      .ints = {{"people", {&f.people, 1, 10000000}},
               {"transitions", {&f.transitions, 0, 10000000}},
               {"calls", {&f.calls, 1, 1000000}},
               {"warmup-calls", {&f.warmup_calls, 0, 100000}},
               {"page-size", {&f.page_size, 1, scheduler::kMaxPageSize}},
               {"overdue-percent", {&f.overdue_percent, 0, 100}}},
      .strings = {{"pass-day", &f.pass_day},
                  {"team", &f.team},
                  {"bin-dir", &f.bin_dir},
                  {"rules-dir", &f.rules_dir},
                  {"work-dir", &f.work_dir}},
      .switches = {{"keep-work-dir", &f.keep_work_dir}},
  };
  if (auto st = ParseFlagArgs(argc, argv, table, kUsage); !st.ok()) return st;
  if (f.transitions > f.people) return absl::InvalidArgumentError("--transitions: more than --people");
  if (!f.pass_day.empty()) {
    absl::CivilDay d;
    if (!absl::ParseCivilTime(f.pass_day, &d) || d.year() < 2001 || d.year() > 2190) {
      return absl::InvalidArgumentError(absl::StrCat("--pass-day: '", f.pass_day, "' is not a date YYYY-MM-DD"));
    }
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

std::string ClinicalText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", t, platform::ClinicalTimeZone());
}

// ---------------------------------------------------------------------------------------------
// The population: who is on which team and cluster, and when their last MHCT was.

// How each person's review stands against the pass day P.
enum class Fate {
  kCurrent,       // on time through P (upcoming or in its window), no change on P
  kOverdue,       // already overdue the day before P
  kWindowOpens,   // a transition: its window opens on P
  kFallsOverdue,  // a transition: due the day before P, overdue from P
};

struct Person {
  std::string id;  // a pseudonym shaped like allocation's (a keyed hash)
  const care::Team* team = nullptr;
  int cluster = 0;
  absl::Time assessed_at;
  absl::Time recorded_at;
  care::ReviewDue due;
  Fate fate = Fate::kCurrent;
};

class Population {
 public:
  // Caseload weight of a team by its service area: community teams hold most people, wards few.
  static int AreaWeight(const std::string& area) {
    static const std::map<std::string, int> kWeights = {
        {"community_non_psychosis", 20}, {"memory_dementia", 10}, {"community_psychosis", 6}, {"crht", 2},
        {"inpatient", 1}};
    auto it = kWeights.find(area);
    return it == kWeights.end() ? 3 : it->second;
  }

  static absl::StatusOr<Population> Make(const care::RuleSet& rules, care::ReviewPolicy policy, absl::CivilDay pass_day,
                                         const Flags& f) {
    Population p;
    p.pass_day_ = pass_day;
    p.people_ = f.people;
    p.transitions_ = f.transitions;
    p.overdue_percent_ = f.overdue_percent;
    // Every MHCT date over the 12 months before P, and what it means for P, per cluster.
    for (const auto& [cluster, info] : rules.catalogue().clusters) {
      ClusterDays& days = p.clusters_[cluster];
      for (absl::CivilDay d = pass_day - 366; d < pass_day; ++d) {
        auto due = rules.ReviewDueDate(cluster, d, policy);
        if (!due.ok()) return due.status();
        const size_t at = days.all.size();
        days.all.push_back({d, *due});
        if (due->window_opens == pass_day) {
          days.window_opens.push_back(at);
        } else if (due->due == pass_day - 1) {
          days.falls_overdue.push_back(at);
        } else if (due->due < pass_day - 1) {
          days.overdue.push_back(at);
        } else {
          days.current.push_back(at);
        }
      }
    }
    int total = 0;
    for (const auto& [id, team] : rules.teams().teams) {
      const care::ServiceArea* area = rules.service_areas().Find(team.service_area);
      if (area == nullptr) continue;
      TeamChoice choice{&team, {}, 0};
      for (int c : area->allowed) {
        if (p.clusters_.count(c) && !p.clusters_[c].current.empty()) choice.clusters.push_back(c);
      }
      if (choice.clusters.empty()) continue;
      total += AreaWeight(team.service_area);
      choice.cumulative_weight = total;
      p.teams_.push_back(std::move(choice));
    }
    if (p.teams_.empty()) return absl::FailedPreconditionError("rules: no team with a service area holding clusters");
    // Every team must be able to hold a transition, so the designated people never fall short.
    for (const TeamChoice& t : p.teams_) {
      bool any = false;
      for (int c : t.clusters) any = any || !p.clusters_[c].window_opens.empty() || !p.clusters_[c].falls_overdue.empty();
      if (!any) return absl::FailedPreconditionError(absl::StrCat("team ", t.team->id, ": no cluster can change state on the pass day"));
    }
    return p;
  }

  // Person i, the same every time it is asked for.
  Person At(int64_t i) const {
    Draws draw(static_cast<uint64_t>(i) + 1);
    Person out;
    out.id = platform::KeyedHash("scheduler-bench", absl::StrCat("person-", i));
    const int total = teams_.back().cumulative_weight;
    const int w = static_cast<int>(draw.Below(total));
    const TeamChoice& team = *std::find_if(teams_.begin(), teams_.end(), [&](const TeamChoice& t) { return w < t.cumulative_weight; });
    out.team = team.team;
    const DayDue* day = nullptr;
    if (Designated(i)) {
      // Alternately a window opening on P and a review falling overdue on P; the other kind, or
      // another of the team's clusters, when a cluster's period cannot give the one wanted.
      const bool opens = (static_cast<int64_t>(i) * transitions_ / people_) % 2 == 0;
      const size_t first = draw.Below(team.clusters.size());
      for (size_t k = 0; k < team.clusters.size() * 2 && day == nullptr; ++k) {
        const int cluster = team.clusters[(first + k / 2) % team.clusters.size()];
        const ClusterDays& days = clusters_.at(cluster);
        const std::vector<size_t>& list = (opens == (k % 2 == 0)) ? days.window_opens : days.falls_overdue;
        if (list.empty()) continue;
        out.cluster = cluster;
        day = &days.all[list[draw.Below(list.size())]];
        out.fate = &list == &days.window_opens ? Fate::kWindowOpens : Fate::kFallsOverdue;
      }
    } else {
      out.cluster = team.clusters[draw.Below(team.clusters.size())];
      const ClusterDays& days = clusters_.at(out.cluster);
      const bool overdue = !days.overdue.empty() && draw.Percent() < overdue_percent_;
      const std::vector<size_t>& list = overdue ? days.overdue : days.current;
      day = &days.all[list[draw.Below(list.size())]];
      out.fate = overdue ? Fate::kOverdue : Fate::kCurrent;
    }
    out.due = day->due;
    // Assessed in clinic hours on the MHCT day, recorded in the EPR soon after.
    const absl::CivilDay mhct = day->mhct;
    out.assessed_at = absl::FromCivil(absl::CivilSecond(mhct.year(), mhct.month(), mhct.day(), 9 + static_cast<int>(draw.Below(8)),
                                                        static_cast<int>(draw.Below(60)), 0),
                                      platform::ClinicalTimeZone());
    out.recorded_at = out.assessed_at + absl::Minutes(20);
    return out;
  }

  // Whether person i is one of the --transitions, spread evenly over everyone.
  bool Designated(int64_t i) const {
    return (i + 1) * transitions_ / people_ > i * transitions_ / people_;
  }

  std::vector<const care::Team*> Teams() const {
    std::vector<const care::Team*> out;
    for (const auto& t : teams_) out.push_back(t.team);
    return out;
  }

 private:
  struct DayDue {
    absl::CivilDay mhct;
    care::ReviewDue due;
  };
  struct ClusterDays {
    std::vector<DayDue> all;
    std::vector<size_t> current, overdue, window_opens, falls_overdue;  // indexes into all
  };
  struct TeamChoice {
    const care::Team* team;
    std::vector<int> clusters;
    int cumulative_weight;
  };
  absl::CivilDay pass_day_;
  int64_t people_ = 0, transitions_ = 0;
  int overdue_percent_ = 0;
  std::map<int, ClusterDays> clusters_;
  std::vector<TeamChoice> teams_;
};

// The assessment-recorded event allocation would have published for person i.
pbr::v1::EventEnvelope AssessmentEvent(const Person& p, int64_t i, const std::string& rule_version) {
  const std::string record_id = absl::StrCat("bench-", i);
  const std::string assessment_id = platform::DeterministicId("assessment", {"bench-epr", record_id});
  auto e = platform::MakeEnvelope(topic::kAssessmentRecorded,
                                  platform::DeterministicId(topic::kAssessmentRecorded, {assessment_id}), p.id,
                                  p.assessed_at, p.recorded_at, "bench-epr", "");
  auto* a = e.mutable_assessment_recorded();
  a->set_assessment_id(assessment_id);
  a->set_source_record_id(record_id);
  a->set_team_id(p.team->id);
  a->set_clinician_id(absl::StrCat("clin-", i % 400));
  a->set_service_area(p.team->service_area);
  a->set_commissioner_id(p.team->default_commissioner);
  a->set_cluster(p.cluster);
  a->set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  a->set_rule_version(rule_version);
  a->set_episode_id(platform::DeterministicId("episode", {p.id, assessment_id}));
  a->set_referral_id(platform::DeterministicId("referral", {p.id, assessment_id}));
  *a->mutable_assessed_at() = platform::ToProto(p.assessed_at);
  *a->mutable_effective_at() = platform::ToProto(p.assessed_at);
  return e;
}

// The scheduler's families, exactly as its main.cc opens them, so the service finds the layout it
// keeps and accepts the store (CheckStateLayout).
std::vector<std::string> SchedulerFamilies() {
  using namespace scheduler;
  return {std::string(kPeopleFamily),        std::string(kTimersFamily), std::string(kDueIndexFamily),
          std::string(kOverdueCountsFamily), std::string(kMetaFamily),   std::string(kLedgerFamily)};
}

// ---------------------------------------------------------------------------------------------
// Results

struct BatchShape {
  double bytes = 0;  // WriteBatch::GetDataSize
  double ops = 0;    // WriteBatch::Count
};

struct Results {
  // load
  int64_t people = 0;
  double load_per_s = 0, raw_load_per_s = 0;
  BatchShape load_batch;
  int64_t load_events = 0;
  double generate_s = 0;  // making the people and their events: the bench's own work, not counted
  int64_t upcoming = 0, due = 0, overdue = 0;  // on the pass day
  // pass
  double pass_ms = 0, raw_pass_ms = 0;
  double pass_derive_ms = 0, pass_write_ms = 0;  // of pass_ms: AdvanceDueReviews, and the synced writes
  int passes = 0;
  int64_t pass_events = 0;
  BatchShape pass_batch;
  // store
  int64_t data_bytes = 0, total_bytes = 0;
  // queries
  std::string team;
  Percentiles list_overdue, count_overdue, echo_list, echo_count, inproc_list, inproc_count;
  size_t list_reply_bytes = 0, count_reply_bytes = 0;
  double start_s = 0, scrape_ms = 0;
  int64_t rss = -1, hwm = -1;
};

// ---------------------------------------------------------------------------------------------
// Stage 1: the scheduler store, built in process.

struct SchedulerStore {
  std::unique_ptr<platform::Store> store;
  std::unique_ptr<platform::Outbox> outbox;  // staged into only; never started (the service relays)
};

absl::StatusOr<SchedulerStore> OpenSchedulerStore(const std::string& dir) {
  SchedulerStore s;
  auto store = platform::Store::Open(dir, SchedulerFamilies());
  if (!store.ok()) return store.status();
  s.store = *std::move(store);
  auto outbox = platform::Outbox::Open(*s.store, platform::KafkaSettings{}, nullptr);
  if (!outbox.ok()) return outbox.status();
  s.outbox = *std::move(outbox);
  return s;
}

absl::Status LoadPeople(const Flags& f, const Population& population, const scheduler::Scheduler& reviews,
                        const std::string& rule_version, absl::Time load_at, SchedulerStore& s, Results& out) {
  const int64_t step = std::max<int64_t>(1, f.people / 10);
  double bytes = 0, ops = 0;
  const TimePoint t0 = SteadyClock::now();
  TimePoint last = t0;
  double generate_s = 0;
  for (int64_t i = 0; i < f.people; ++i) {
    const TimePoint g0 = SteadyClock::now();
    const Person p = population.At(i);
    const pbr::v1::EventEnvelope event = AssessmentEvent(p, i, rule_version);
    generate_s += Seconds(SteadyClock::now() - g0);
    switch (p.fate) {
      case Fate::kCurrent: ++(care::IsInReviewWindow(p.due, platform::ClinicalDay(load_at) + 1) ? out.due : out.upcoming); break;
      case Fate::kOverdue: ++out.overdue; break;
      case Fate::kWindowOpens: ++out.due; break;
      case Fate::kFallsOverdue: ++out.overdue; break;
    }
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*s.store, *s.outbox, batch, load_at);
    if (auto st = reviews.OnAssessment({topic::kAssessmentRecorded, 0, 0, event}, ctx); !st.ok()) {
      return absl::Status(st.code(), absl::StrCat("person ", i, ": OnAssessment: ", st.message()));
    }
    bytes += static_cast<double>(batch.GetDataSize());
    ops += batch.Count();
    out.load_events += ctx.emitted();
    if (auto st = s.store->Write(batch, /*sync=*/false); !st.ok()) return st;
    if ((i + 1) % step == 0 || i + 1 == f.people) {
      const TimePoint now = SteadyClock::now();
      const int64_t in_step = (i + 1) % step == 0 ? step : (i + 1) % step;
      std::printf("  %9lld people  %7.1f s  %8.0f people/s  (last %lld: %.0f/s, wall clock with event making)\n",
                  static_cast<long long>(i + 1), Seconds(now - t0) - generate_s, (i + 1) / (Seconds(now - t0) - generate_s),
                  static_cast<long long>(in_step), in_step / Seconds(now - last));
      std::fflush(stdout);
      last = now;
    }
  }
  const double s_total = Seconds(SteadyClock::now() - t0) - generate_s;
  out.generate_s = generate_s;
  out.people = f.people;
  out.load_per_s = f.people / s_total;
  out.load_batch = {bytes / f.people, ops / f.people};
  std::printf("%d people applied and written in %.1f s: %.0f people/s (making their events, %.1f s, not counted)\n",
              f.people, s_total, out.load_per_s, generate_s);
  std::printf("a person's batch: %.0f bytes, %.1f operations on average; %lld review-due events staged\n",
              out.load_batch.bytes, out.load_batch.ops, static_cast<long long>(out.load_events));
  std::printf("on %s: %lld upcoming, %lld due (in the window), %lld overdue\n",
              absl::FormatCivilTime(platform::ClinicalDay(load_at) + 1).c_str(), static_cast<long long>(out.upcoming),
              static_cast<long long>(out.due), static_cast<long long>(out.overdue));
  return absl::OkStatus();
}

// What the load announced (reviews already due or overdue the day before the pass) stands for history
// published long ago: a running scheduler's outbox is empty between passes. Only the pass's own events
// are left for the service to relay.
absl::Status ForgetLoadAnnouncements(SchedulerStore& s) {
  auto last = s.store->LastKey(platform::kOutboxFamily);
  if (!last.ok()) return last.status();
  if (!last->has_value()) return absl::OkStatus();
  const std::string begin = platform::EncodeOrderedU64(0);
  const std::string end = platform::EncodeOrderedU64(platform::DecodeOrderedU64(**last) + 1);
  auto* family = s.store->Family(platform::kOutboxFamily);
  if (auto st = s.store->db()->DeleteRange(rocksdb::WriteOptions(), family, begin, end); !st.ok()) {
    return platform::FromRocks(st, "outbox delete-range");
  }
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return platform::FromRocks(s.store->db()->CompactRange(compact, family, nullptr, nullptr), "outbox compaction");
}

// ---------------------------------------------------------------------------------------------
// Stage 2: the timer pass of the pass day.

absl::Status RunPass(const Flags& f, const scheduler::Scheduler& reviews, absl::Time pass_at, SchedulerStore& s,
                     Results& out) {
  const absl::CivilDay day = platform::ClinicalDay(pass_at);
  // Exactly the designated people wait on a timer that day.
  const std::string from = scheduler::TimerKey(absl::FromCivil(day, platform::ClinicalTimeZone()), "");
  const std::string end = scheduler::TimerScanEnd(pass_at);
  int64_t waiting = 0, before = 0;
  auto st = s.store->Scan(scheduler::kTimersFamily, "", [&](absl::string_view key, absl::string_view) {
    if (key >= end) return false;
    ++(key >= from ? waiting : before);
    return true;
  });
  if (!st.ok()) return st;
  std::printf("timers due by %s: %lld (and %lld from earlier days)\n", ClinicalText(pass_at).c_str(),
              static_cast<long long>(waiting), static_cast<long long>(before));
  if (waiting != f.transitions || before != 0) {
    return absl::InternalError(absl::StrCat("the store holds ", waiting, " timers on the pass day and ", before,
                                            " earlier; expected exactly ", f.transitions, " and none"));
  }
  // Passes until the day is recorded as done (each takes at most Scheduler::kPeoplePerPass people),
  // each with its batch written as one synced write.
  const std::string done = scheduler::DayText(day);
  double bytes = 0, ops = 0;
  const TimePoint t0 = SteadyClock::now();
  const int max_passes = f.transitions / scheduler::Scheduler::kPeoplePerPass + 2;
  std::vector<std::string> lines;  // printed after the timing
  for (;;) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*s.store, *s.outbox, batch, pass_at);
    const TimePoint d0 = SteadyClock::now();
    if (auto pass = reviews.AdvanceDueReviews(ctx); !pass.ok()) return pass;
    const TimePoint w0 = SteadyClock::now();
    if (auto w = s.store->Write(batch, /*sync=*/true); !w.ok()) return w;
    out.pass_derive_ms += Millis(w0 - d0);
    out.pass_write_ms += Millis(SteadyClock::now() - w0);
    lines.push_back(absl::StrFormat("  pass %d: %d events, AdvanceDueReviews %.1f ms, synced write of %d bytes %.1f ms",
                                    out.passes + 1, ctx.emitted(), Millis(w0 - d0), batch.GetDataSize(),
                                    Millis(SteadyClock::now() - w0)));
    ++out.passes;
    out.pass_events += ctx.emitted();
    bytes += static_cast<double>(batch.GetDataSize());
    ops += batch.Count();
    auto recorded = s.store->Get(scheduler::kMetaFamily, scheduler::kTimerDayKey);
    if (!recorded.ok()) return recorded.status();
    if (recorded->has_value() && **recorded == done) break;
    if (out.passes >= max_passes) return absl::InternalError(absl::StrCat("the timer pass did not finish in ", max_passes, " passes"));
  }
  out.pass_ms = Millis(SteadyClock::now() - t0);
  out.pass_batch = {bytes, ops};
  for (const auto& line : lines) std::printf("%s\n", line.c_str());
  std::printf("%d pass(es) in %.1f ms (AdvanceDueReviews %.1f ms, synced writes %.1f ms): %lld review-due events; "
              "batches %.0f bytes, %.0f operations in all\n",
              out.passes, out.pass_ms, out.pass_derive_ms, out.pass_write_ms, static_cast<long long>(out.pass_events),
              bytes, ops);
  if (out.pass_events != f.transitions) {
    return absl::InternalError(absl::StrCat("the pass announced ", out.pass_events, " state changes; expected ", f.transitions));
  }
  return absl::OkStatus();
}

// In-process answers (no gRPC): the reply sizes for the echo baselines, the team to list, and the
// counts checked against what the population holds.
absl::Status InProcessQueries(const Flags& f, const platform::Store& store, std::shared_ptr<const care::RuleSet> rules,
                              absl::CivilDay today, Results& out, pbr::v1::ListOverdueRequest* list_request) {
  scheduler::ReviewQueries queries(store, std::move(rules));
  auto counts = queries.CountOverdue({});
  if (!counts.ok()) return counts.status();
  if (counts->total() != out.overdue) {
    return absl::InternalError(absl::StrCat("CountOverdue says ", counts->total(), " overdue; the population holds ", out.overdue));
  }
  out.team = f.team;
  if (out.team.empty()) {
    std::map<std::string, int64_t> by_team;
    for (const auto& c : counts->counts()) by_team[c.team_id()] += c.overdue();
    int64_t most = -1;
    for (const auto& [team, n] : by_team) {
      if (n > most) most = n, out.team = team;
    }
  }
  list_request->set_team_id(out.team);
  list_request->set_page_size(f.page_size);
  auto list = queries.ListOverdue(*list_request, today);
  if (!list.ok()) return list.status();
  out.list_reply_bytes = list->ByteSizeLong();
  out.count_reply_bytes = counts->ByteSizeLong();
  std::printf("CountOverdue: %lld overdue in %d counts (%zu bytes); ListOverdue %s: %d reviews (%zu bytes)\n",
              static_cast<long long>(counts->total()), counts->counts_size(), out.count_reply_bytes, out.team.c_str(),
              list->reviews_size(), out.list_reply_bytes);
  auto inproc_list = TimeCalls(f.warmup_calls, f.calls, [&] { return queries.ListOverdue(*list_request, today).status(); });
  if (!inproc_list.ok()) return inproc_list.status();
  auto inproc_count = TimeCalls(f.warmup_calls, f.calls, [&] { return queries.CountOverdue({}).status(); });
  if (!inproc_count.ok()) return inproc_count.status();
  out.inproc_list = *inproc_list;
  out.inproc_count = *inproc_count;
  std::printf("in process, no gRPC: ListOverdue %s; CountOverdue %s\n", Describe(out.inproc_list).c_str(),
              Describe(out.inproc_count).c_str());
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Baselines: raw batches through the same Store (same RocksDB options, no domain logic).

// Text that compresses about as well as the ids and timestamps the scheduler stores.
void FillValue(Draws& draw, std::string& value) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < value.size(); i += 8) {
    uint64_t r = draw.Next();
    for (size_t k = i; k < std::min(value.size(), i + 8); ++k, r >>= 8) value[k] = kHex[r & 15];
  }
}

struct RawShape {
  int puts = 1;
  size_t value_bytes = 1;
};

// `puts` puts per person whose batch comes to about `bytes`, with keys like the scheduler's.
RawShape ShapeLike(const BatchShape& per_person) {
  RawShape shape;
  shape.puts = std::max(1, static_cast<int>(std::lround(per_person.ops)));
  rocksdb::WriteBatch empty_values;
  for (int k = 0; k < shape.puts; ++k) empty_values.Put(absl::StrCat(std::string(32, 'a'), "\x1f", k), "");
  const double overhead = static_cast<double>(empty_values.GetDataSize());
  shape.value_bytes = static_cast<size_t>(std::max(1.0, (per_person.bytes - overhead) / shape.puts));
  return shape;
}

std::string RawKey(int64_t person, int k) {
  return absl::StrCat(platform::KeyedHash("scheduler-bench", absl::StrCat("person-", person)), "\x1f", k);
}

absl::Status RunRawBaselines(const Flags& f, const std::string& dir, Results& out) {
  auto opened = platform::Store::Open(dir, {"raw"});
  if (!opened.ok()) return opened.status();
  std::unique_ptr<platform::Store> store = *std::move(opened);
  auto* family = store->Family("raw");
  Draws draw(424242);

  const RawShape load = ShapeLike(out.load_batch);
  std::string value(load.value_bytes, 'x');
  // The keys are made outside the timing, as the scheduler's events are.
  std::vector<std::string> keys(load.puts);
  TimePoint t0 = SteadyClock::now();
  double key_s = 0;
  for (int64_t i = 0; i < f.people; ++i) {
    const TimePoint k0 = SteadyClock::now();
    for (int k = 0; k < load.puts; ++k) keys[k] = RawKey(i, k);
    key_s += Seconds(SteadyClock::now() - k0);
    rocksdb::WriteBatch batch;
    for (int k = 0; k < load.puts; ++k) {
      FillValue(draw, value);
      batch.Put(family, keys[k], value);
    }
    if (auto st = store->Write(batch, /*sync=*/false); !st.ok()) return st;
  }
  const double load_s = Seconds(SteadyClock::now() - t0) - key_s;
  out.raw_load_per_s = f.people / load_s;
  std::printf("raw load: %d batches of %d puts x %zu-byte values in %.1f s: %.0f batches/s\n", f.people, load.puts,
              load.value_bytes, load_s, out.raw_load_per_s);

  // One pass's worth: a point read of each person's first record, then one synced batch of as many
  // puts, as many bytes, as the timer pass wrote.
  const int64_t n = std::max<int64_t>(1, f.transitions);
  BatchShape per_person{out.pass_batch.bytes / n, out.pass_batch.ops / n};
  const RawShape pass = ShapeLike(per_person);
  std::vector<std::string> read_keys, write_keys;  // made outside the timing
  read_keys.reserve(n);
  for (int64_t j = 0; j < n; ++j) {
    const int64_t w = static_cast<int64_t>(draw.Below(f.people));
    read_keys.push_back(RawKey(w, 0));
    for (int k = 0; k < pass.puts; ++k) write_keys.push_back(RawKey(w, k));  // overwrites, as a pass's are
  }
  value.assign(pass.value_bytes, 'x');
  t0 = SteadyClock::now();
  rocksdb::WriteBatch batch;
  int64_t found = 0;
  for (int64_t j = 0; j < n; ++j) {
    auto got = store->Get("raw", read_keys[j]);
    if (!got.ok()) return got.status();
    found += got->has_value();
    for (int k = 0; k < pass.puts; ++k) {
      FillValue(draw, value);
      batch.Put(family, write_keys[j * pass.puts + k], value);
    }
  }
  if (auto st = store->Write(batch, /*sync=*/true); !st.ok()) return st;
  out.raw_pass_ms = Millis(SteadyClock::now() - t0);
  if (found != n) return absl::InternalError(absl::StrCat("raw baseline: ", found, " of ", n, " point reads found their key"));
  std::printf("raw pass: %lld point reads + %lld puts x %zu bytes in one synced batch: %.1f ms\n",
              static_cast<long long>(n), static_cast<long long>(n) * pass.puts, pass.value_bytes, out.raw_pass_ms);
  store.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // its disk is not needed any more
  return absl::OkStatus();
}

// A bare echo of `payload_bytes` (there and back) from one client, call after call.
absl::StatusOr<Percentiles> RunEcho(const Flags& f, size_t payload_bytes) {
  auto echo = EchoBaseline::Start(payload_bytes);
  if (!echo.ok()) return echo.status();
  return TimeCalls(f.warmup_calls + 1, f.calls, [&] { return (*echo)->Call(); });
}

// ---------------------------------------------------------------------------------------------
// Stage 3: the real service on the store.

// Sums the samples of one metric family in a Prometheus text page.
double MetricSum(absl::string_view page, absl::string_view name) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    const absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != ' ' && rest[0] != '{')) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

absl::Status RunService(const Flags& f, const std::string& data_dir, absl::Time pass_at,
                        const pbr::v1::ListOverdueRequest& list_request, OwnedProcesses& owned, Results& out) {
  auto started = StartOnStore(f.bin_dir, "review-scheduler", data_dir, f.rules_dir, pass_at, f.work_dir,
                              absl::Seconds(180), owned);
  if (!started.ok()) return started.status();
  out.start_s = started->start_s;
  testing::ChildProcess* service = started->process;
  const std::string grpc_address = started->grpc_address, metrics_address = started->metrics_address;

  // The pass's announcements are relayed before anything is measured, so the relay is in no figure.
  const absl::Time relay_deadline = absl::Now() + absl::Seconds(120);
  double scrape_max = 0;
  for (int scrapes = 0;; ++scrapes) {
    const TimePoint s0 = SteadyClock::now();
    auto page = testing::HttpGet(metrics_address, "/metrics");
    const double ms = Millis(SteadyClock::now() - s0);
    if (!page.ok()) return page.status();
    scrape_max = std::max(scrape_max, ms);
    const double produced = MetricSum(*page, "pbr_events_produced_total");
    if (produced >= static_cast<double>(out.pass_events) && MetricSum(*page, "pbr_outbox_depth") == 0) {
      std::printf("the pass's %.0f events relayed; GET /metrics (with the review gauges) took at most %.1f ms over %d scrapes\n",
                  produced, scrape_max, scrapes + 1);
      break;
    }
    if (absl::Now() > relay_deadline) {
      return absl::DeadlineExceededError(absl::StrCat("the service relayed ", produced, " of ", out.pass_events,
                                                      " events within 120 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  out.scrape_ms = scrape_max;

  auto stub = pbr::v1::ReviewScheduler::NewStub(LoopbackChannel(grpc_address));
  auto list = TimeCalls(f.warmup_calls, f.calls, [&]() -> absl::Status {
    pbr::v1::ListOverdueReply reply;
    if (auto st = FromGrpc(stub->ListOverdue(testing::CallContext().get(), list_request, &reply), "ListOverdue"); !st.ok()) return st;
    if (reply.ByteSizeLong() != out.list_reply_bytes) {
      return absl::DataLossError(absl::StrCat("ListOverdue answered ", reply.ByteSizeLong(), " bytes; in process ",
                                              out.list_reply_bytes));
    }
    return absl::OkStatus();
  });
  if (!list.ok()) return list.status();
  out.list_overdue = *list;
  std::printf("ListOverdue team=%s page_size=%d: %s\n", out.team.c_str(), f.page_size, Describe(*list).c_str());
  auto count = TimeCalls(f.warmup_calls, f.calls, [&]() -> absl::Status {
    pbr::v1::CountOverdueReply reply;
    if (auto st = FromGrpc(stub->CountOverdue(testing::CallContext().get(), {}, &reply), "CountOverdue"); !st.ok()) return st;
    if (reply.total() != out.overdue) {
      return absl::DataLossError(absl::StrCat("CountOverdue answered ", reply.total(), " overdue; expected ", out.overdue));
    }
    return absl::OkStatus();
  });
  if (!count.ok()) return count.status();
  out.count_overdue = *count;
  std::printf("CountOverdue (all teams): %s\n", Describe(*count).c_str());

  out.rss = StatusBytes(service->pid(), "VmRSS");
  out.hwm = StatusBytes(service->pid(), "VmHWM");
  std::printf("pbr-review-scheduler VmRSS %.1f MiB (peak VmHWM %.1f MiB)\n", out.rss / 1048576.0, out.hwm / 1048576.0);
  return owned.StopAll();
}

// ---------------------------------------------------------------------------------------------

absl::Status RunBench(const Flags& f, OwnedProcesses& owned, Results& out) {
  auto rules = services::LoadRules(f.rules_dir);
  if (!rules.ok()) return rules.status();
  const care::ReviewPolicy policy = care::ReviewPolicy::kTrustSop;  // the service's default (--review-policy=sop)
  absl::CivilDay pass_day = platform::ClinicalDay(absl::Now());
  if (!f.pass_day.empty()) (void)absl::ParseCivilTime(f.pass_day, &pass_day);
  const absl::Time day_starts = absl::FromCivil(pass_day, platform::ClinicalTimeZone());
  const absl::Time load_at = day_starts - absl::Seconds(1);  // the last second of the day before
  const absl::Time pass_at = day_starts + absl::Hours(6);
  auto population = Population::Make(**rules, policy, pass_day, f);
  if (!population.ok()) return population.status();
  std::printf("pass day %s: people loaded as of %s, the pass at %s\n", absl::FormatCivilTime(pass_day).c_str(),
              ClinicalText(load_at).c_str(), ClinicalText(pass_at).c_str());
  std::printf("teams (registry %s):", (*rules)->teams().version.c_str());
  for (const care::Team* t : population->Teams()) std::printf(" %s", t->id.c_str());
  std::printf("\n");

  const std::string data_dir = f.work_dir + "/review-scheduler";
  scheduler::Scheduler reviews(*rules, policy);
  {
    auto opened = OpenSchedulerStore(data_dir);
    if (!opened.ok()) return opened.status();
    SchedulerStore s = *std::move(opened);

    Stage("scheduler: building the store, one assessment (one batch, sync=false) per person");
    if (auto st = LoadPeople(f, *population, reviews, (*rules)->version(), load_at, s, out); !st.ok()) return st;
    if (auto st = ForgetLoadAnnouncements(s); !st.ok()) return st;
    std::printf("the %lld review-due events the load announced taken out of the outbox (as if published long ago)\n",
                static_cast<long long>(out.load_events));

    Stage("scheduler: the timer pass of the pass day (one synced batch per pass)");
    if (auto st = RunPass(f, reviews, pass_at, s, out); !st.ok()) return st;

    Stage("scheduler: queries in process (for reply sizes and a check of the counts)");
    pbr::v1::ListOverdueRequest list_request;
    if (auto st = InProcessQueries(f, *s.store, *rules, pass_day, out, &list_request); !st.ok()) return st;

    Stage("scheduler: bytes stored after a clean close");
    s.outbox.reset();
    s.store.reset();  // flushes every memtable
    std::tie(out.data_bytes, out.total_bytes) = DirBytes(data_dir);
    std::printf("%.1f MiB of tables, logs and MANIFEST: %.0f bytes/person (whole directory %.0f)\n",
                out.data_bytes / 1048576.0, static_cast<double>(out.data_bytes) / f.people,
                static_cast<double>(out.total_bytes) / f.people);

    Stage("baseline: raw RocksDB batches of the same shapes through the same Store");
    if (auto st = RunRawBaselines(f, f.work_dir + "/raw", out); !st.ok()) return st;

    Stage("baseline: bare gRPC echo, in process, one client, payload the size of each reply");
    auto echo_list = RunEcho(f, out.list_reply_bytes);
    if (!echo_list.ok()) return echo_list.status();
    auto echo_count = RunEcho(f, out.count_reply_bytes);
    if (!echo_count.ok()) return echo_count.status();
    out.echo_list = *echo_list;
    out.echo_count = *echo_count;
    std::printf("echo %zu bytes: %s\necho %zu bytes: %s\n", out.list_reply_bytes, Describe(out.echo_list).c_str(),
                out.count_reply_bytes, Describe(out.echo_count).c_str());

    Stage("service: pbr-broker + pbr-review-scheduler on the store, clock fixed at the pass");
    if (auto st = RunService(f, data_dir, pass_at, list_request, owned, out); !st.ok()) return st;
  }
  return absl::OkStatus();
}

// The table; false when a figure misses its target.
bool PrintTable(const Flags& f, const Results& r) {
  bool all = true;
  auto verdict = [&](bool ok) {
    all = all && ok;
    return ok ? "pass" : "FAIL";
  };
  std::printf("\n== summary (%d people, %d transitions on the pass day, %d calls each)\n", f.people, f.transitions, f.calls);
  std::printf("%-36s %12s %12s %10s %7s\n", "figure", "value", "baseline", "target", "result");
  std::printf("%-36s %12.0f %12.0f %10s %7s  (raw batches/s of the same size)\n", "load, people/s", r.load_per_s,
              r.raw_load_per_s, "-", "-");
  std::printf("%-36s %12.1f %12.1f %10s %7s  (raw reads + writes in one batch)\n",
              absl::StrCat("timer pass, ", f.transitions, " transitions, ms").c_str(), r.pass_ms, r.raw_pass_ms, "< 1000",
              verdict(r.pass_ms < kPassTargetMs));
  auto query = [&](const char* name, const Percentiles& p, const Percentiles& echo) {
    std::printf("%-36s %12.3f %12.3f %10s %7s\n", absl::StrCat(name, " p50, ms").c_str(), p.p50, echo.p50, "-", "-");
    std::printf("%-36s %12.3f %12.3f %10s %7s  (gRPC echo of the reply's size)\n", absl::StrCat(name, " p99, ms").c_str(),
                p.p99, echo.p99, "< 10", verdict(p.p99 < kQueryP99TargetMs));
    std::printf("%-36s %12.3f %12.3f %10s %7s\n", absl::StrCat(name, " max, ms").c_str(), p.max, echo.max, "-", "-");
  };
  query("ListOverdue (team, page 1)", r.list_overdue, r.echo_list);
  query("CountOverdue (all teams)", r.count_overdue, r.echo_count);
  std::printf("%-36s %12.1f %12s %10s %7s  (peak VmHWM %.0f MiB)\n", "scheduler VmRSS, MiB", r.rss / 1048576.0, "-",
              "< 1024", verdict(r.rss > 0 && r.rss < kRssTargetBytes), r.hwm / 1048576.0);
  std::printf("%-36s %12.0f %12s %10s %7s  (whole directory %.0f)\n", "store on disk, bytes/person",
              static_cast<double>(r.data_bytes) / f.people, "-", "-", "-", static_cast<double>(r.total_bytes) / f.people);
  std::printf("(timer pass: AdvanceDueReviews %.1f ms + synced writes %.1f ms; in process, no gRPC: ListOverdue p99 "
              "%.3f ms, CountOverdue p99 %.3f ms;\n service start %.1f s; GET /metrics max %.1f ms)\n",
              r.pass_derive_ms, r.pass_write_ms, r.inproc_list.p99, r.inproc_count.p99, r.start_s, r.scrape_ms);
  return all;
}

}  // namespace
}  // namespace pbr::bench

int main(int argc, char** argv) {
  using namespace pbr::bench;
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) return FlagsExit(kProgram, flags.status());
  Flags& f = *flags;
  if (int exit_code = StartRun(kProgram, "/tmp/pbr-sched-bench-XXXXXX", &f.work_dir); exit_code != 0) return exit_code;
  std::printf("params: --people=%d --transitions=%d --overdue-percent=%d --pass-day=%s --calls=%d --warmup-calls=%d "
              "--page-size=%d --team=%s\n",
              f.people, f.transitions, f.overdue_percent, f.pass_day.empty() ? "(today)" : f.pass_day.c_str(), f.calls,
              f.warmup_calls, f.page_size, f.team.empty() ? "(most overdue)" : f.team.c_str());
  std::fflush(stdout);

  // Ctrl-C, SIGTERM or SIGHUP mid-run: stop the child processes before leaving.
  OwnedProcesses owned(kProgram, "the processes it started");
  owned.StopOnSignals();

  Results results;
  if (absl::Status status = owned.StopAfter(RunBench(f, owned, results)); !status.ok()) {
    return Failed(kProgram, status, "stores and logs", f.work_dir);
  }
  const bool met = PrintTable(f, results);
  std::printf("load average (1/5/15 min) at the end: %s\n", LoadAverage().c_str());
  if (!met) {
    std::fprintf(stderr, "%s: a figure missed its target (work dir kept: %s)\n", kProgram, f.work_dir.c_str());
    return 1;
  }
  if (!f.keep_work_dir) std::filesystem::remove_all(f.work_dir);
  return 0;
}
