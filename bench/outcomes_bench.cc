// outcomes_bench: the outcomes projection in process (no broker), at many people. It prints
//   - applying assessments (each in its own WriteBatch, as the consumer does), beside the raw cost of
//     writing the same person records with no derivation;
//   - SummariseOutcomes from the maintained tallies, per grouping, for all time and for one month,
//     beside what answering by reading every person would cost (one scan of the people).
// A program, not a test. See README.md.
#include <cstdio>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench_support.h"
#include "care_bridge.h"
#include "pbr/state/v1/outcomes_state.pb.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "projections/episode_outcomes/episode_outcomes.h"
#include "projections/episode_outcomes/queries.h"
#include "projections/episode_outcomes/tallies.h"

namespace {
using pbr::bench::Millis;
using pbr::bench::SteadyClock;
namespace platform = pbr::platform;

constexpr char kUsage[] =
    "usage: outcomes_bench [--people=N] [--ratings=N] [--teams=N] [--queries=N] [--work-dir=DIR]\n"
    "  --people    people (default 50000)\n"
    "  --ratings   assessments per person, a month or more apart (default 6)\n"
    "  --teams     teams the people are spread over (default 40)\n"
    "  --queries   calls per summary measured (default 50)\n";

int Run(int people, int ratings, int teams, int queries, const std::string& work_dir) {
  auto store = platform::Store::Open(work_dir + "/outcomes", pbr::outcomes::EpisodeOutcomesFamilies());
  auto raw = platform::Store::Open(work_dir + "/raw", {"people"});
  if (!store.ok() || !raw.ok()) return pbr::bench::Failed("outcomes_bench", store.ok() ? raw.status() : store.status(), "data", work_dir);
  auto outbox = platform::Outbox::Open(**store, platform::KafkaSettings{}, nullptr);
  auto rules = pbr::services::LoadRules(PBR_RULES_DIR);
  if (!outbox.ok() || !rules.ok()) return pbr::bench::Failed("outcomes_bench", rules.status(), "data", work_dir);
  pbr::outcomes::EpisodeOutcomes projection(*rules);
  const int clusters[] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 18, 19, 20, 0};
  std::mt19937 rng(20261201);
  const absl::Time start = absl::FromCivil(absl::CivilSecond(2025, 4, 1, 10, 0, 0), platform::ClinicalTimeZone());

  pbr::bench::Stage("applying assessments");
  double derive_ms = 0, raw_ms = 0;
  int64_t applied = 0;
  for (int p = 0; p < people; ++p) {
    const std::string person = absl::StrCat("person-", p);
    const std::string team = absl::StrCat("team-", p % teams);
    const int cluster = clusters[p % (sizeof clusters / sizeof clusters[0])];
    absl::Time at = start + absl::Hours(24 * (p % 200));
    for (int r = 0; r < ratings; ++r) {
      auto e = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, absl::StrCat("ev-", p, "-", r), person, at,
                                      at, "epr", "");
      auto* a = e.mutable_assessment_recorded();
      a->set_assessment_id(absl::StrCat("a-", p, "-", r));
      a->set_cluster(cluster);
      a->set_team_id(team);
      a->set_commissioner_id(p % 3 == 0 ? "00Y" : "00X");
      *a->mutable_assessed_at() = platform::ToProto(at);
      for (int i = 0; i < 18; ++i) a->mutable_ratings()->add_items(i == 7 ? 0 : static_cast<int>(rng() % 5));
      rocksdb::WriteBatch batch;
      platform::ApplyContext ctx(**store, **outbox, batch, at);
      const auto t0 = SteadyClock::now();
      auto st = projection.OnAssessment({platform::topic::kAssessmentRecorded, 0, 0, e}, ctx);
      if (st.ok()) st = (*store)->Write(batch, false);
      derive_ms += Millis(SteadyClock::now() - t0);
      if (!st.ok()) return pbr::bench::Failed("outcomes_bench", st, "data", work_dir);
      // The raw baseline: the person's record as now stored, written again with no derivation.
      auto record = (*store)->Get(pbr::outcomes::kPeopleFamily, person);
      rocksdb::WriteBatch raw_batch;
      if (record.ok() && record->has_value()) raw_batch.Put((*raw)->Family("people"), person, **record);
      const auto t1 = SteadyClock::now();
      auto raw_st = (*raw)->Write(raw_batch, false);
      raw_ms += Millis(SteadyClock::now() - t1);
      if (!raw_st.ok()) return pbr::bench::Failed("outcomes_bench", raw_st, "data", work_dir);
      ++applied;
      at += absl::Hours(24 * (30 + rng() % 60));
    }
    // The outbox would be drained by the relay: keep it from growing without bound here.
    if (p % 1000 == 999) {
      rocksdb::WriteBatch drain;
      drain.DeleteRange((*store)->Family(platform::kOutboxFamily), "", std::string(16, '\xff'));
      if (auto st = (*store)->Write(drain, false); !st.ok()) return pbr::bench::Failed("outcomes_bench", st, "data", work_dir);
    }
  }
  std::printf("%lld assessments for %d people: %.0f per second applied (%.3f ms each); raw record write %.3f ms each "
              "(%.1fx)\n",
              static_cast<long long>(applied), people, applied / (derive_ms / 1000), derive_ms / applied,
              raw_ms / applied, derive_ms / std::max(raw_ms, 1e-9));

  pbr::bench::Stage("the baseline: one scan of every person");
  const auto s0 = SteadyClock::now();
  int64_t scanned = 0, record_bytes = 0;
  auto scan = (*store)->Scan(pbr::outcomes::kPeopleFamily, "", [&](absl::string_view, absl::string_view value) {
    pbr::state::v1::OutcomesPerson person;
    scanned += person.ParseFromArray(value.data(), static_cast<int>(value.size())) ? 1 : 0;
    record_bytes += static_cast<int64_t>(value.size());
    return true;
  });
  const double scan_ms = Millis(SteadyClock::now() - s0);
  if (!scan.ok()) return pbr::bench::Failed("outcomes_bench", scan, "data", work_dir);
  std::printf("reading and parsing %lld people: %.1f ms (their records: %.0f bytes per assessment)\n",
              static_cast<long long>(scanned), scan_ms, static_cast<double>(record_bytes) / std::max<int64_t>(applied, 1));

  pbr::bench::Stage("SummariseOutcomes from the tallies");
  std::printf("%-14s %-10s %8s %10s  %s\n", "grouping", "period", "groups", "episodes", "latency");
  for (auto g : pbr::outcomes::kGroupings) {
    for (const bool month : {false, true}) {
      pbr::outcomes::SummaryQuery q{g, std::nullopt, std::nullopt};
      if (month) q = pbr::outcomes::SummaryQuery{g, absl::CivilDay(2026, 3, 1), absl::CivilDay(2026, 3, 31)};
      std::vector<double> samples;
      pbr::v1::OutcomesSummary last;
      for (int i = 0; i < queries; ++i) {
        const auto t0 = SteadyClock::now();
        auto s = pbr::outcomes::SummariseOutcomes(**store, **rules, q);
        samples.push_back(Millis(SteadyClock::now() - t0));
        if (!s.ok()) return pbr::bench::Failed("outcomes_bench", s.status(), "data", work_dir);
        last = *std::move(s);
      }
      std::printf("%-14s %-10s %8d %10lld  %s (scan of every person: %.1f ms)\n",
                  std::string(pbr::outcomes::GroupingName(g)).c_str(), month ? "2026-03" : "all time",
                  last.groups_size(), static_cast<long long>(last.all().episodes()),
                  pbr::bench::Describe(pbr::bench::Summarize(samples)).c_str(), scan_ms);
    }
  }
  if (auto st = (*store)->Flush(); !st.ok()) return pbr::bench::Failed("outcomes_bench", st, "data", work_dir);
  auto bytes = pbr::bench::DirBytes(work_dir + "/outcomes");
  std::printf("\nstore after a flush (before compaction): %.1f MiB on disk, %.0f bytes per assessment\n", bytes.first / 1048576.0,
              static_cast<double>(bytes.first) / std::max<int64_t>(applied, 1));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int people = 50000, ratings = 6, teams = 40, queries = 50;
  std::string work_dir;
  pbr::bench::FlagTable flags;
  flags.ints = {{"people", {&people, 1, 10'000'000}}, {"ratings", {&ratings, 1, 100}},
                {"teams", {&teams, 1, 100000}}, {"queries", {&queries, 1, 10000}}};
  flags.strings = {{"work-dir", &work_dir}};
  if (auto st = pbr::bench::ParseFlagArgs(argc, argv, flags, kUsage); !st.ok()) return pbr::bench::FlagsExit("outcomes_bench", st);
  if (int code = pbr::bench::StartRun("outcomes_bench", "/tmp/pbr-bench-XXXXXX", &work_dir); code != 0) return code;
  const int code = Run(people, ratings, teams, queries, work_dir);
  std::error_code ec;
  if (code == 0) std::filesystem::remove_all(work_dir, ec);
  return code;
}
