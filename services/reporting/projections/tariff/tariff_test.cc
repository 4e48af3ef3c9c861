// The tariff ledger: activity from episodes and price lists, the month close, corrections (reversal and
// restatement), gaps, the lines published keyed by commissioner, the export and the resumable stream through
// real gRPC. Every expected figure is worked by hand from the shipped EXAMPLE price lists (2024/25: 00X per
// cluster-day, cluster 4 at 18.40 and 11 at 14.20, no price for cluster 3; 00Y per review period, cluster 4
// at 3310.00 per 6-month period) and written beside its case.
#include "projections/tariff/tariff.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "event_rules.h"
#include "finance_api.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/service_host.h"
#include "projections/tariff/queries.h"
#include "testing/process.h"
#include "testing/test_server.h"

namespace pbr::reporting {
namespace {

namespace topic = platform::topic;
using ::testing::HasSubstr;
using pbr::v1::TariffActivity;

std::shared_ptr<const care::RuleSet> ShippedRules() {
  static const auto* rules = new std::shared_ptr<const care::RuleSet>(
      std::make_shared<care::RuleSet>(*care::RuleSet::LoadFromDirectory(PBR_RULES_DIR)));
  return *rules;
}

// 10:00 UK time on a day of 2024 (or another year).
absl::Time At(int month, int day, int year = 2024) {
  return absl::FromCivil(absl::CivilSecond(year, month, day, 10, 0, 0), platform::ClinicalTimeZone());
}

struct Fact {
  std::string person, id;
  absl::Time at;
  int cluster = 4;
  std::string commissioner = "00X";
  std::string team = "cmht-north";
  int revision = 0;
  bool withdrawn = false;
};

pbr::v1::EventEnvelope AssessmentEvent(const Fact& f) {
  auto e = platform::MakeEnvelope(topic::kAssessmentRecorded, absl::StrCat("a-", f.id, "-", f.revision), f.person, f.at,
                                  f.at, "epr", "");
  auto* a = e.mutable_assessment_recorded();
  a->set_assessment_id(f.id);
  a->set_revision(f.revision);
  a->set_withdrawn(f.withdrawn);
  a->set_team_id(f.team);
  a->set_cluster(f.cluster);
  a->set_reason(f.id.ends_with("-1") ? pbr::v1::ASSESSMENT_REASON_INITIAL
                                                         : pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  a->set_service_area("community_non_psychosis");
  a->set_commissioner_id(f.commissioner);
  *a->mutable_assessed_at() = platform::ToProto(f.at);
  *a->mutable_effective_at() = platform::ToProto(f.at);
  return e;
}

pbr::v1::EventEnvelope DischargeEvent(const std::string& person, const std::string& id, absl::Time at) {
  auto e = platform::MakeEnvelope(topic::kCareEventRecorded, absl::StrCat("e-", id), person, at, at, "epr", "");
  auto* c = e.mutable_care_event_recorded();
  c->set_care_event_id(id);
  c->set_type(pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE);
  *c->mutable_occurred_at() = platform::ToProto(at);
  c->set_team_id("cmht-north");
  return e;
}

// A store with the projection, the lines it issues checked by the shared event rules as the service does.
class Harness {
 public:
  explicit Harness(std::shared_ptr<const care::RuleSet> rules = ShippedRules()) { Open(std::move(rules)); }
  void Open(std::shared_ptr<const care::RuleSet> rules) {
    rules_ = rules;
    validator_ = services::SharedEventRules(rules);
    projection_ = std::make_unique<TariffProjection>(rules);
    outbox_.reset();
    store_.reset();
    store_ = *platform::Store::Open(dir_.path(), projection_->families());
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
  }
  absl::Status TryApply(absl::string_view topic_name, const pbr::v1::EventEnvelope& e, absl::Time now) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, now, &validator_);
    platform::ConsumedEvent ev{topic_name, 0, 0, e};
    if (auto st = projection_->Apply(ev, ctx); !st.ok()) return st;
    if (!ctx.emit_problem().ok()) return ctx.emit_problem();
    return store_->Write(batch, false);
  }
  void Apply(const Fact& f, absl::Time now = At(6, 1)) {
    const absl::Status st = TryApply(topic::kAssessmentRecorded, AssessmentEvent(f), now);
    ASSERT_TRUE(st.ok()) << st;
  }
  void Discharge(const std::string& person, absl::Time at, absl::Time now = At(6, 1)) {
    const absl::Status st = TryApply(topic::kCareEventRecorded, DischargeEvent(person, person + "-discharge", at), now);
    ASSERT_TRUE(st.ok()) << st;
  }
  // One month-close pass at `now`; how many keys it wrote.
  int Close(absl::Time now) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, now, &validator_);
    const absl::Status st = projection_->CloseMonths(ctx);
    EXPECT_TRUE(st.ok()) << st;
    EXPECT_TRUE(ctx.emit_problem().ok()) << ctx.emit_problem();
    EXPECT_TRUE(store_->Write(batch, false).ok());
    return batch.Count();
  }
  // Passes until no month is left to close.
  void CloseAll(absl::Time now) {
    for (int pass = 0; pass < 100; ++pass) {
      Close(now);
      if (!tariff::LoadMeta(*store_)->sweeping()) return;
    }
    ADD_FAILURE() << "the month close never finished";
  }
  std::vector<TariffActivity> Lines(uint64_t after = 0, const std::string& commissioner = "") {
    auto lines = tariff::LinesAfter(*store_, after, commissioner, 1000000);
    EXPECT_TRUE(lines.ok()) << lines.status();
    return lines.ok() ? *lines : std::vector<TariffActivity>{};
  }
  // Net amount (pence) and days of every line of a commissioner's month, and of one cluster's.
  struct Net {
    int64_t amount = 0, days = 0, periods = 0;
  };
  Net NetOf(const std::string& commissioner, int year, int month, int cluster = -1) {
    Net n;
    for (const auto& l : Lines()) {
      if (l.commissioner_id() != commissioner || l.year() != year || l.month() != month) continue;
      if (cluster >= 0 && l.cluster() != cluster) continue;
      n.amount += l.amount_pence();
      n.days += l.days();
      n.periods += l.review_periods_started();
    }
    return n;
  }

  testing::TempDir dir_;
  std::shared_ptr<const care::RuleSet> rules_;
  platform::EventValidator validator_;
  std::unique_ptr<TariffProjection> projection_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
};

class TariffTest : public ::testing::Test, public Harness {};

TEST(TariffActivityTest, EpisodesArePricedPerMonthWithGapsCountedNotPriced) {
  const auto& rules = *ShippedRules();
  ledger::PersonFacts facts;
  ledger::Assessment a;
  a.id = "p-1";
  a.assessed_at = a.effective_at = At(5, 10);
  a.cluster = 4;
  a.kind = ledger::AssessmentKind::kInitial;
  a.team_id = "cmht-north";
  a.commissioner_id = "00X";
  facts.Fold(a);
  a.id = "p-2";
  a.assessed_at = a.effective_at = At(7, 20);
  a.cluster = 3;  // 00X prices no cluster 3
  a.kind = ledger::AssessmentKind::kFormalReview;
  facts.Fold(a);
  const auto activity = tariff::ActivityThrough(ledger::Derive("p", facts), rules, absl::CivilMonth(2024, 8));
  auto at = [&](int month, int cluster) { return activity.at({202400 + month, "00X", "cmht-north", cluster}); };
  EXPECT_EQ(activity.size(), 5u);
  EXPECT_EQ(at(5, 4).days, 22);  // 10-31 May
  EXPECT_EQ(at(5, 4).amount_pence, 22 * 1840);
  EXPECT_EQ(at(5, 4).review_periods_started, 1);  // the episode's first period starts on 10 May
  EXPECT_EQ(at(6, 4).days, 30);
  EXPECT_EQ(at(6, 4).review_periods_started, 0);
  EXPECT_EQ(at(7, 4).days, 19);  // 1-19 July: the day cluster 3 started is cluster 3's
  EXPECT_EQ(at(7, 3).days, 12);  // 20-31 July
  EXPECT_FALSE(at(7, 3).priced);
  EXPECT_EQ(at(7, 3).amount_pence, 0);
  EXPECT_THAT(at(7, 3).gap, HasSubstr("cluster 3"));
  EXPECT_EQ(at(8, 3).days, 31);

  // Another commissioner with no price list for the year: every month a gap, its days still counted.
  ledger::PersonFacts elsewhere;
  a.id = "q-1";
  a.cluster = 4;
  a.commissioner_id = "00Z";
  a.assessed_at = a.effective_at = At(8, 1);
  elsewhere.Fold(a);
  const auto gap = tariff::ActivityThrough(ledger::Derive("q", elsewhere), rules, absl::CivilMonth(2024, 8));
  ASSERT_EQ(gap.size(), 1u);
  EXPECT_EQ(gap.begin()->second.days, 31);
  EXPECT_FALSE(gap.begin()->second.priced);
  EXPECT_THAT(gap.begin()->second.gap, HasSubstr("none for commissioner 00Z in 2024/25"));
}

TEST(TariffActivityTest, ADischargeDayIsBilledAndTheDayAClusterChangesIsTheNewClusters) {
  EXPECT_EQ(care::LastDayOnCluster(absl::CivilDay(2024, 6, 15), true), absl::CivilDay(2024, 6, 15));
  EXPECT_EQ(care::LastDayOnCluster(absl::CivilDay(2024, 6, 15), false), absl::CivilDay(2024, 6, 14));
  EXPECT_EQ(care::LastDayOnCluster(std::nullopt, false), std::nullopt);
}

TEST_F(TariffTest, NothingIsIssuedBeforeAMonthClosesThenEachClosedMonthIsBilledOnce) {
  Apply({"p", "p-1", At(5, 10), 4});
  Apply({"p", "p-2", At(7, 20), 11});
  EXPECT_TRUE(Lines().empty());
  Close(At(8, 31));  // July is the last month ended on 31 August: May to July close
  EXPECT_FALSE(Lines().empty());
  const size_t through_july = Lines().size();
  EXPECT_EQ(through_july, 4u);  // May, June, July (4), July (11)
  CloseAll(At(9, 1));  // August closes
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 5u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].sequence(), i + 1);
    EXPECT_EQ(lines[i].kind(), pbr::v1::TARIFF_LINE_ORIGINAL);
    EXPECT_TRUE(lines[i].priced());
    EXPECT_EQ(lines[i].basis(), "per_cluster_day");
  }
  EXPECT_EQ(lines[4].cause(), "month close 2024-08; bills 2024-08");
  EXPECT_EQ(NetOf("00X", 2024, 5).amount, 22 * 1840);
  EXPECT_EQ(NetOf("00X", 2024, 6).amount, 30 * 1840);
  EXPECT_EQ(NetOf("00X", 2024, 7).amount, 19 * 1840 + 12 * 1420);
  EXPECT_EQ(NetOf("00X", 2024, 8).amount, 31 * 1420);
  // Closing again changes nothing and writes nothing.
  EXPECT_EQ(Close(At(9, 20)), 0);
  EXPECT_EQ(Lines().size(), 5u);
}

TEST_F(TariffTest, PerReviewPeriodPricesBillThePeriodsStartingInTheMonth) {
  Apply({"p", "p-1", At(5, 10), 4, "00Y"});
  CloseAll(At(12, 1));  // through November: periods start 10 May and 10 November
  EXPECT_EQ(NetOf("00Y", 2024, 5).amount, 331000);
  EXPECT_EQ(NetOf("00Y", 2024, 5).periods, 1);
  EXPECT_EQ(NetOf("00Y", 2024, 8).amount, 0);
  EXPECT_EQ(NetOf("00Y", 2024, 8).days, 31);  // on the cluster, no period started
  EXPECT_EQ(NetOf("00Y", 2024, 11).amount, 331000);
  for (const auto& l : Lines()) EXPECT_EQ(l.basis(), "per_review_period");
}

TEST_F(TariffTest, AnAmendmentToAClosedMonthReversesWhatWasBilledAndRestatesIt) {
  Apply({"p", "p-1", At(5, 10), 4});
  Apply({"p", "p-2", At(7, 20), 11});
  CloseAll(At(9, 1));
  const uint64_t before = Lines().size();
  // The review's MHCT date was 25 July, not 20: July is now 24 days on 4 and 7 on 11; August is unchanged.
  Apply({"p", "p-2", At(7, 25), 11, "00X", "cmht-north", 1}, At(9, 3));
  const auto added = Lines(before);
  ASSERT_EQ(added.size(), 4u);
  std::map<std::pair<int, int>, int64_t> net;  // (kind, cluster) -> days
  for (const auto& l : added) {
    EXPECT_EQ(l.month(), 7);
    EXPECT_THAT(l.cause(), HasSubstr("assessment p-2 amended (revision 1); corrects 2024-07"));
    EXPECT_EQ(l.cause_event_id(), "a-p-2-1");
    net[{l.kind(), l.cluster()}] += l.days();
    if (l.kind() == pbr::v1::TARIFF_LINE_REVERSAL) {
      EXPECT_GT(l.reverses_sequence(), 0u);
      EXPECT_LE(l.reverses_sequence(), before);
    }
  }
  EXPECT_EQ((net[{pbr::v1::TARIFF_LINE_REVERSAL, 4}]), -19);
  EXPECT_EQ((net[{pbr::v1::TARIFF_LINE_RESTATEMENT, 4}]), 24);
  EXPECT_EQ((net[{pbr::v1::TARIFF_LINE_REVERSAL, 11}]), -12);
  EXPECT_EQ((net[{pbr::v1::TARIFF_LINE_RESTATEMENT, 11}]), 7);
  EXPECT_EQ(NetOf("00X", 2024, 7).amount, 24 * 1840 + 7 * 1420);  // the month's truth, summed over its lines
  EXPECT_EQ(NetOf("00X", 2024, 7).days, 31);
  EXPECT_EQ(NetOf("00X", 2024, 8).amount, 31 * 1420);

  // Withdrawn: the person was on cluster 4 all along; July and August are restated, 11 reversed.
  Apply({"p", "p-2", At(7, 25), 11, "00X", "cmht-north", 2, true}, At(9, 4));
  EXPECT_EQ(NetOf("00X", 2024, 7, 11).days, 0);
  EXPECT_EQ(NetOf("00X", 2024, 8, 11).amount, 0);
  EXPECT_EQ(NetOf("00X", 2024, 7).amount, 31 * 1840);
  EXPECT_EQ(NetOf("00X", 2024, 8).amount, 31 * 1840);
  // A stale revision arriving late changes nothing.
  const size_t now = Lines().size();
  Apply({"p", "p-2", At(7, 20), 11, "00X", "cmht-north", 0}, At(9, 5));
  EXPECT_EQ(Lines().size(), now);
}

TEST_F(TariffTest, ADischargedPersonIsBilledUpToTheDischargeAndALateRecordRestatesClosedMonths) {
  Apply({"d", "d-1", At(5, 1), 4});
  Discharge("d", At(6, 15));
  CloseAll(At(9, 1));
  EXPECT_EQ(NetOf("00X", 2024, 6).days, 15);  // 1-15 June, the discharge day billed
  EXPECT_EQ(NetOf("00X", 2024, 7).days, 0);
  // Someone first recorded after August closed: their months are corrections (nothing to reverse).
  const uint64_t before = Lines().size();
  Apply({"late", "late-1", At(8, 1), 11}, At(9, 10));
  const auto added = Lines(before);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].kind(), pbr::v1::TARIFF_LINE_RESTATEMENT);
  EXPECT_EQ(added[0].days(), 31);
  EXPECT_THAT(added[0].cause(), HasSubstr("assessment late-1 recorded; corrects 2024-08"));
}

TEST_F(TariffTest, DaysAreUkDaysAndADischargeDayIsBilledOnceWhenTheyAreReReferredThatDay) {
  // 00:30 on 1 August BST is 23:30 on 31 July UTC: August's. 23:30 on 31 August BST is still 31 August.
  const absl::Time just_after_midnight =
      absl::FromCivil(absl::CivilSecond(2024, 8, 1, 0, 30, 0), platform::ClinicalTimeZone());
  Apply({"uk", "uk-1", just_after_midnight, 4});
  Discharge("uk", absl::FromCivil(absl::CivilSecond(2024, 8, 31, 23, 30, 0), platform::ClinicalTimeZone()));
  // Discharged at 10:00 on 15 June and allocated again at 14:00 the same day, on the same cluster and team.
  Apply({"back", "back-1", At(6, 1), 11});
  Discharge("back", At(6, 15));
  Apply({"back", "back-2", At(6, 15) + absl::Hours(4), 11});
  CloseAll(At(10, 1));
  EXPECT_EQ(NetOf("00X", 2024, 7, 4).days, 0);
  EXPECT_EQ(NetOf("00X", 2024, 8, 4).days, 31);
  EXPECT_EQ(NetOf("00X", 2024, 9, 4).days, 0);
  EXPECT_EQ(NetOf("00X", 2024, 6, 11).days, 30) << "15 June once, not twice";
}

TEST_F(TariffTest, AMonthCloseWhoseLineTheRulesRefuseWritesNothingAndStopsNothing) {
  Apply({"p", "p-1", At(7, 10), 4});
  const platform::EventValidator refuse = [](absl::string_view, const pbr::v1::EventEnvelope&) {
    return absl::InvalidArgumentError("refused for the test");
  };
  rocksdb::WriteBatch batch;
  platform::ApplyContext ctx(*store_, *outbox_, batch, At(8, 1), &refuse);
  EXPECT_TRUE(projection_->CloseMonths(ctx).ok()) << "the consumer drops the pass and tries again";
  EXPECT_FALSE(ctx.emit_problem().ok());
  CloseAll(At(8, 1));  // the next pass, with lines the rules accept
  EXPECT_EQ(Lines().size(), 1u);
}

TEST_F(TariffTest, AMonthWithNoPriceIsAVisibleGapNotAZero) {
  Apply({"z", "z-1", At(8, 5), 4, "00Z"});
  Apply({"c3", "c3-1", At(8, 5), 3, "00X"});
  CloseAll(At(9, 1));
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) {
    EXPECT_FALSE(l.priced());
    EXPECT_EQ(l.days(), 27);  // 5-31 August
    EXPECT_EQ(l.amount_pence(), 0);
    EXPECT_FALSE(l.gap().empty());
  }
  std::string csv;
  auto totals = tariff::ExportMonth(*store_, "00Z", 202408, [&](std::string c) {
    csv += c;
    return true;
  });
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_EQ(totals->unpriced_lines(), 1);
  EXPECT_EQ(totals->unpriced_days(), 27);
  EXPECT_EQ(totals->amount_pence(), 0);
  EXPECT_THAT(csv, HasSubstr(",no,"));
}

TEST_F(TariffTest, EveryLineIsPublishedKeyedByItsCommissioner) {
  Apply({"p", "p-1", At(7, 10), 4, "00X"});
  Apply({"q", "q-1", At(7, 10), 4, "00Y"});
  CloseAll(At(8, 1));
  auto pending = platform::Outbox::ReadPending(*store_);
  ASSERT_TRUE(pending.ok());
  std::map<uint64_t, std::string> keys;
  for (const auto& e : *pending) {
    if (!absl::EndsWith(e.topic, topic::kTariffActivity)) continue;
    pbr::v1::EventEnvelope env;
    ASSERT_TRUE(env.ParseFromString(e.value));
    EXPECT_EQ(e.key, env.tariff_activity().commissioner_id());
    EXPECT_EQ(env.person_id(), env.tariff_activity().person_id());
    keys[env.tariff_activity().sequence()] = e.key;
  }
  EXPECT_EQ(keys, (std::map<uint64_t, std::string>{{1, "00X"}, {2, "00Y"}}));
}

TEST_F(TariffTest, AMonthCloseGoesThroughEveryoneInBoundedPassesAndSomeoneRecordedMeanwhileIsBilledOnce) {
  const int people = static_cast<int>(TariffProjection::kSweepPeople) + 150;
  for (int i = 0; i < people; ++i) {
    const std::string p = absl::StrFormat("p%05d", i);
    Apply({p, p + "-1", At(7, 1), 4});
  }
  Close(At(8, 1));
  auto meta = tariff::LoadMeta(*store_);
  ASSERT_TRUE(meta->sweeping());  // the first pass billed kSweepPeople people
  EXPECT_EQ(Lines().size(), TariffProjection::kSweepPeople);
  // Recorded mid-close: one behind the cursor (billed now, as the pass would have), one ahead (left to it).
  Apply({"p00000a", "p00000a-1", At(7, 1), 4}, At(8, 1));
  Apply({"p99999", "p99999-1", At(7, 1), 4}, At(8, 1));
  Close(At(8, 1));
  EXPECT_FALSE(tariff::LoadMeta(*store_)->sweeping());
  EXPECT_EQ(tariff::LoadMeta(*store_)->closed_through(), 202407);
  EXPECT_EQ(NetOf("00X", 2024, 7).days, 31 * (people + 2));
  EXPECT_EQ(Lines().size(), static_cast<size_t>(people + 2));
  for (const auto& l : Lines()) EXPECT_EQ(l.kind(), pbr::v1::TARIFF_LINE_ORIGINAL) << l.cause();
}

TEST_F(TariffTest, ANewRuleSetRestatesTheClosedMonthsItPricesDifferently) {
  Apply({"p", "p-1", At(7, 10), 4});
  CloseAll(At(8, 1));
  EXPECT_EQ(NetOf("00X", 2024, 7).amount, 22 * 1840);
  // The trust replaces its 2024/25 price list: cluster 4 at 19.00.
  testing::TempDir rules_dir;
  std::filesystem::copy(PBR_RULES_DIR, rules_dir.path(), std::filesystem::copy_options::recursive);
  const std::string file = rules_dir.path() + "/prices/EXAMPLE-00X-2024-25.yaml";
  std::stringstream text;
  text << std::ifstream(file).rdbuf();
  std::ofstream(file) << absl::StrReplaceAll(text.str(), {{"4: \"18.40\"", "4: \"19.00\""}, {"-v1\"", "-v2\""}});
  auto replaced = care::RuleSet::LoadFromDirectory(rules_dir.path());
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  Open(std::make_shared<care::RuleSet>(*std::move(replaced)));
  CloseAll(At(8, 2));
  EXPECT_EQ(NetOf("00X", 2024, 7).amount, 22 * 1900);
  const auto lines = Lines(1);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].kind(), pbr::v1::TARIFF_LINE_REVERSAL);
  EXPECT_EQ(lines[1].kind(), pbr::v1::TARIFF_LINE_RESTATEMENT);
  EXPECT_THAT(lines[1].cause(), HasSubstr("rules "));
  EXPECT_EQ(lines[1].price_list_version(), "EXAMPLE-00X-2024/25-v2");
}

TEST_F(TariffTest, TheExportIsACsvOfTheMonthsLinesWithTotalsAndOnlyForAClosedMonth) {
  Apply({"p", "p-1", At(7, 10), 4});
  Apply({"q", "q-1", At(7, 1), 11});
  CloseAll(At(8, 1));
  Apply({"p", "p-1", At(7, 12), 4, "00X", "cmht-north", 1}, At(8, 2));  // 20 days, not 22
  std::string csv;
  int chunks = 0;
  auto totals = tariff::ExportMonth(
      *store_, "00X", 202407,
      [&](std::string c) {
        csv += c;
        ++chunks;
        return true;
      },
      /*chunk_bytes=*/200);
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_GT(chunks, 1);
  const std::vector<std::string> rows = absl::StrSplit(csv, "\r\n", absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 5u);  // the header, two originals, a reversal and a restatement
  EXPECT_EQ(rows[0], absl::StripSuffix(tariff::CsvHeader(), "\r\n"));
  EXPECT_THAT(rows[3], HasSubstr(",reversal,2024-07,00X,cmht-north,4,p,-22,"));
  EXPECT_THAT(rows[3], HasSubstr(",-404.80,yes,"));
  EXPECT_EQ(totals->lines(), 4);
  EXPECT_EQ(totals->amount_pence(), 20 * 1840 + 31 * 1420);
  EXPECT_EQ(totals->days(), 51);
  EXPECT_EQ(totals->last_sequence(), 4u);

  platform::StopSignal stopping;
  FinanceApi api(*store_, stopping);
  pbr::v1::ExportTariffRequest r;
  r.set_commissioner_id("00X");
  r.set_year(2024);
  r.set_month(8);
  EXPECT_EQ(api.CheckExportRequest(r).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(api.CheckExportRequest(r).message(), HasSubstr("month: 2024-08 is not closed yet"));
  r.set_month(13);
  r.set_year(1999);
  r.clear_commissioner_id();
  const absl::Status bad = api.CheckExportRequest(r);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("commissioner_id"));
  EXPECT_THAT(bad.message(), HasSubstr("year"));
  EXPECT_THAT(bad.message(), HasSubstr("month"));
}

TEST(TariffCsvTest, TextWithACommaOrAQuoteIsQuoted) {
  TariffActivity l;
  l.set_sequence(7);
  l.set_kind(pbr::v1::TARIFF_LINE_ORIGINAL);
  l.set_commissioner_id("00X");
  l.set_team_id("team,\"a\"");
  l.set_year(2024);
  l.set_month(7);
  l.set_cause("month close 2024-07; bills 2024-07");
  const std::string row = tariff::CsvRow(l);
  EXPECT_THAT(row, HasSubstr(",\"team,\"\"a\"\"\","));
  EXPECT_TRUE(absl::EndsWith(row, "\r\n"));
}

// The stream through real gRPC: everything after a cursor in order, new lines as issued, a resume with no gap
// and no repeat, and an end (UNAVAILABLE) when the service stops.
TEST_F(TariffTest, TheStreamSendsEveryLineAfterTheCursorThenNewOnesAndResumesWithoutGapOrRepeat) {
  Apply({"p", "p-1", At(6, 10), 4, "00X"});
  Apply({"q", "q-1", At(6, 10), 4, "00Y"});
  CloseAll(At(8, 1));  // June and July for each: 4 lines
  platform::StopSignal stopping;
  FinanceApi api(*store_, stopping, absl::Milliseconds(20));
  auto server = testing::TestServer::Start({&api}, [](grpc::ServerBuilder& b) { platform::PrepareServer(b, nullptr); });
  ASSERT_NE(server, nullptr);
  auto stub = pbr::v1::Finance::NewStub(server->Channel());

  grpc::ClientContext first;
  pbr::v1::StreamTariffActivityRequest from_start;
  auto reader = stub->StreamTariffActivity(&first, from_start);
  std::vector<uint64_t> seen;
  TariffActivity line;
  for (int i = 0; i < 4 && reader->Read(&line); ++i) seen.push_back(line.sequence());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}));
  // A correction while the stream is open arrives on it.
  Apply({"p", "p-1", At(6, 12), 4, "00X", "cmht-north", 1}, At(8, 2));
  ASSERT_TRUE(reader->Read(&line));
  EXPECT_EQ(line.sequence(), 5u);
  first.TryCancel();  // the client is cut off after sequence 5
  while (reader->Read(&line)) {
  }
  reader->Finish();

  // It resumes from its last cursor, for its commissioner: the rest of 00X's lines, none twice.
  grpc::ClientContext second;
  pbr::v1::StreamTariffActivityRequest resume;
  resume.set_after_sequence(5);
  resume.set_commissioner_id("00X");
  auto resumed = stub->StreamTariffActivity(&second, resume);
  ASSERT_TRUE(resumed->Read(&line));
  EXPECT_EQ(line.sequence(), 6u);  // the restatement that followed the reversal at 5
  EXPECT_EQ(line.commissioner_id(), "00X");
  const std::string ledger = line.ledger_id();
  EXPECT_EQ(ledger.size(), 32u);
  stopping.Set();  // the service stops: the stream ends at once, telling the client to resume
  while (resumed->Read(&line)) {
  }
  const grpc::Status end = resumed->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(end.error_message(), HasSubstr("resume after sequence 6"));

  // A cursor from another ledger (reporting rebuilt) is refused, not answered with another ledger's lines.
  for (const auto& [request, code, text] :
       std::vector<std::tuple<pbr::v1::StreamTariffActivityRequest, grpc::StatusCode, std::string>>{
           {[&] {
              pbr::v1::StreamTariffActivityRequest r;
              r.set_ledger_id("0123456789abcdef0123456789abcdef");
              return r;
            }(),
            grpc::StatusCode::FAILED_PRECONDITION, "it was rebuilt"},
           {[&] {
              pbr::v1::StreamTariffActivityRequest r;
              r.set_after_sequence(99);
              r.set_ledger_id(ledger);
              return r;
            }(),
            grpc::StatusCode::OUT_OF_RANGE, "after_sequence: 99 is after the last line issued (6)"}}) {
    grpc::ClientContext c;
    auto refused = stub->StreamTariffActivity(&c, request);
    while (refused->Read(&line)) {
    }
    const grpc::Status why = refused->Finish();
    EXPECT_EQ(why.error_code(), code) << why.error_message();
    EXPECT_THAT(why.error_message(), HasSubstr(text));
  }

  grpc::ClientContext bad;
  pbr::v1::StreamTariffActivityRequest wrong;
  wrong.set_commissioner_id(std::string(200, 'x'));
  auto refused = stub->StreamTariffActivity(&bad, wrong);
  while (refused->Read(&line)) {
  }
  const grpc::Status why = refused->Finish();
  EXPECT_EQ(why.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(why.error_message(), HasSubstr("commissioner_id"));
}

}  // namespace
}  // namespace pbr::reporting
