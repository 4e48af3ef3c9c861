#include "projections/episode_outcomes/episode_outcomes.h"

#include "absl/strings/str_cat.h"
#include "api.h"
#include "care/teams.h"
#include "care_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pbr/state/v1/outcomes_state.pb.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "projections/episode_outcomes/queries.h"
#include "projections/episode_outcomes/tallies.h"
#include "testing/process.h"

namespace pbr::outcomes {
namespace {

using ::testing::ElementsAre;

// 10:00 UK time (GMT in winter) on a day of 2026.
absl::Time Day(int month, int day, int hour = 10) {
  return absl::FromCivil(absl::CivilSecond(2026, month, day, hour, 0, 0), platform::ClinicalTimeZone());
}

// HoNOS items 1-12 as given; items 13 and A-E rated 0.
std::vector<int> Honos(std::array<int, 12> honos) {
  std::vector<int> r(18, 0);
  for (int i = 0; i < 12; ++i) r[i] = honos[i];
  return r;
}
std::vector<int> Flat(int v) {  // items 1-12 rated v: total 12 * v
  std::array<int, 12> a;
  a.fill(v);
  return Honos(a);
}

struct Rated {
  std::string id;
  absl::Time at;
  std::vector<int> items;
  int cluster = 4;
  std::string team = "T1";
  int revision = 0;
  bool withdrawn = false;
  std::string person = "p1";
  int32_t partition = 0;  // consumed from
};

class EpisodeOutcomesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), EpisodeOutcomesFamilies());
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    auto rules = services::LoadRules(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
    projection_ = std::make_unique<EpisodeOutcomes>(rules_);
  }
  absl::Status Apply(const Rated& r) {
    auto e = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, absl::StrCat("ev-", r.id, "-r", r.revision),
                                    r.person, r.at, r.at, "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(r.id);
    a->set_revision(r.revision);
    a->set_withdrawn(r.withdrawn);
    a->set_cluster(r.cluster);
    a->set_team_id(r.team);
    a->set_commissioner_id("00X");
    a->set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
    *a->mutable_assessed_at() = platform::ToProto(r.at);
    for (int v : r.items) a->mutable_ratings()->add_items(v);
    if (r.items.size() > 7 && r.items[7] >= 1 && r.items[7] <= 4) a->mutable_ratings()->set_item8_problem_type("H");
    return Write([&](platform::ApplyContext& ctx) {
      return projection_->OnAssessment({platform::topic::kAssessmentRecorded, r.partition, 0, e}, ctx);
    }, r.at);
  }
  absl::Status CareEvent(const std::string& id, pbr::v1::CareEventType type, absl::Time at, std::string person = "p1",
                         int32_t partition = 0) {
    auto e = platform::MakeEnvelope(platform::topic::kCareEventRecorded, "ev-" + id, person, at, at, "epr", "");
    auto* c = e.mutable_care_event_recorded();
    c->set_care_event_id(id);
    c->set_type(type);
    c->set_team_id("T1");
    *c->mutable_occurred_at() = platform::ToProto(at);
    return Write([&](platform::ApplyContext& ctx) {
      return projection_->OnCareEvent({platform::topic::kCareEventRecorded, partition, 0, e}, ctx);
    }, at);
  }
  absl::Status Write(const std::function<absl::Status(platform::ApplyContext&)>& apply, absl::Time at) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, at);
    auto st = apply(ctx);
    if (st.ok()) st = store_->Write(batch, false);
    return st;
  }
  pbr::v1::PersonOutcomes Person(const std::string& id = "p1") {
    auto p = PersonOutcomesOf(*store_, *rules_, id);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.value_or(pbr::v1::PersonOutcomes{});
  }
  std::vector<pbr::v1::OutcomeRecorded> Emitted() {
    std::vector<pbr::v1::OutcomeRecorded> out;
    auto pending = platform::Outbox::ReadPending(*store_);
    EXPECT_TRUE(pending.ok());
    for (const auto& p : pending.value_or(std::vector<platform::PendingEvent>{})) {
      pbr::v1::EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(p.value));
      EXPECT_EQ(p.topic, "outcome-recorded");
      out.push_back(e.outcome_recorded());
    }
    return out;
  }
  // The last announcement of one assessment.
  pbr::v1::OutcomeRecorded LastFor(const std::string& assessment_id) {
    pbr::v1::OutcomeRecorded last;
    for (const auto& o : Emitted()) {
      if (o.assessment_id() == assessment_id) last = o;
    }
    EXPECT_FALSE(last.assessment_id().empty()) << assessment_id << " was never announced";
    return last;
  }
  pbr::v1::OutcomesSummary Summary(pbr::v1::OutcomeGrouping g, std::optional<absl::CivilDay> first = std::nullopt,
                                   std::optional<absl::CivilDay> last = std::nullopt,
                                   const pbr::v1::ConsumedShare& share = {}) {
    auto s = SummariseOutcomes(*store_, *rules_, SummaryQuery{g, first, last}, share);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.value_or(pbr::v1::OutcomesSummary{});
  }
  int TallyRows() {
    int n = 0;
    EXPECT_TRUE(store_->Scan(kTalliesFamily, "", [&](auto, auto) { return ++n, true; }).ok());
    return n;
  }

  pbr::testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::shared_ptr<const care::RuleSet> rules_;
  std::unique_ptr<EpisodeOutcomes> projection_;
};

TEST_F(EpisodeOutcomesTest, TheSopsWorkedPairThroughTheProjection) {
  ASSERT_TRUE(Apply({"initial", Day(3, 2), Honos({0, 0, 0, 0, 0, 0, 3, 2, 1, 1, 1, 1})}).ok());
  ASSERT_TRUE(Apply({"review", Day(6, 1), Honos({0, 0, 0, 0, 0, 0, 2, 1, 1, 0, 1, 0})}).ok());
  const pbr::v1::PersonOutcomes p = Person();
  ASSERT_EQ(p.outcomes_size(), 2);
  const auto& first = p.outcomes(0);
  EXPECT_EQ(first.honos_total(), 9);
  EXPECT_TRUE(first.total_valid());
  EXPECT_EQ(first.missing_item_policy(), "strict");
  std::vector<int> factors;
  for (const auto& f : first.factors()) factors.push_back(f.score());
  EXPECT_THAT(factors, ElementsAre(2, 5, 3, 0));
  EXPECT_EQ(first.factors(0).max(), 16);
  EXPECT_EQ(first.factor_sum(), 10);
  EXPECT_EQ(first.factor_sum_max(), 52);
  ASSERT_EQ(first.items_size(), 12);
  EXPECT_EQ(first.items(6).significance(), pbr::v1::ITEM_SIGNIFICANT);   // item 7 rated 3
  EXPECT_EQ(first.items(7).significance(), pbr::v1::ITEM_ON_THE_CUSP);  // item 8 rated 2
  EXPECT_EQ(first.items(8).significance(), pbr::v1::ITEM_NOT_SIGNIFICANT);
  EXPECT_EQ(first.items(6).name(), care::MhctItemName(6)) << "names are the rules', put back on reading";
  EXPECT_EQ(first.factors(1).name(), "Emotional well-being");
  ASSERT_EQ(first.care_plan_needs_size(), 2);
  EXPECT_EQ(first.care_plan_needs(0).item(), 7);
  EXPECT_EQ(first.care_plan_needs(1).item(), 8);
  EXPECT_EQ(first.care_plan_needs(1).problem_type(), "H");
  EXPECT_FALSE(first.has_since_first());
  EXPECT_FALSE(first.has_since_previous());
  EXPECT_EQ(first.rule_version(), rules_->version());

  const auto& review = p.outcomes(1);
  EXPECT_EQ(review.honos_total(), 5);
  ASSERT_TRUE(review.has_since_first());
  EXPECT_EQ(review.since_first().total_change(), -4);
  EXPECT_EQ(review.since_first().reliable_change(), pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE);
  std::vector<int> factor_changes;
  for (const auto& f : review.since_first().factors()) factor_changes.push_back(f.change());
  EXPECT_THAT(factor_changes, ElementsAre(-2, -2, -1, 0));
  EXPECT_EQ(review.since_first().items(6).change(), -1);  // item 7: 3 -> 2
  EXPECT_EQ(review.since_first().earlier_assessment_id(), "initial");
  // Cluster 4's pattern is improvement: no reliable change does not match it.
  EXPECT_EQ(review.since_first().expected(), pbr::v1::EXPECTED_OUTCOME_DOES_NOT_MATCH);
  EXPECT_EQ(review.since_previous().total_change(), -4);

  ASSERT_EQ(p.episodes_size(), 1);
  const auto& episode = p.episodes(0);
  EXPECT_TRUE(episode.paired());
  EXPECT_EQ(episode.first_assessment_id(), "initial");
  EXPECT_EQ(episode.last_assessment_id(), "review");
  EXPECT_EQ(episode.change().total_change(), -4);
  EXPECT_EQ(episode.super_class(), "NP");
  EXPECT_EQ(platform::FromProto(episode.counted_on()), absl::CivilDay(2026, 6, 1));

  // Each assessment announced what reporting needs; the review's announcement carries its change, and
  // the initial rating is announced again with the episode it now belongs to (paired).
  auto emitted = Emitted();
  ASSERT_EQ(emitted.size(), 3u);
  EXPECT_EQ(emitted[0].assessment_id(), "initial");
  EXPECT_FALSE(emitted[0].episode().paired());
  const auto review_announced = LastFor("review");
  EXPECT_EQ(review_announced.measures().since_first().total_change(), -4);
  EXPECT_TRUE(review_announced.episode().paired());
  EXPECT_EQ(review_announced.honos_total(), 5);
  EXPECT_TRUE(LastFor("initial").episode().paired());
  EXPECT_EQ(LastFor("initial").measures().honos_total(), 9);
}

TEST_F(EpisodeOutcomesTest, SameDayRatingsDoNotPairButStillCompareWithThePrevious) {
  ASSERT_TRUE(Apply({"a", Day(3, 2, 9), Flat(2)}).ok());
  ASSERT_TRUE(Apply({"b", Day(3, 2, 16), Flat(1)}).ok());
  const auto p = Person();
  EXPECT_FALSE(p.episodes(0).paired());
  EXPECT_FALSE(p.outcomes(1).has_since_first());
  ASSERT_TRUE(p.outcomes(1).has_since_previous());
  EXPECT_EQ(p.outcomes(1).since_previous().total_change(), -12);
  const auto s = Summary(pbr::v1::OUTCOME_GROUPING_TEAM);
  EXPECT_EQ(s.all().episodes(), 1);
  EXPECT_EQ(s.all().paired_episodes(), 0);
}

TEST_F(EpisodeOutcomesTest, InvalidRatingsAreLeftOutOfPairsAndChanges) {
  std::vector<int> missing = Flat(2);
  missing[0] = 9;  // strict: the total is not valid
  ASSERT_TRUE(Apply({"a", Day(3, 2), missing}).ok());
  ASSERT_TRUE(Apply({"b", Day(4, 2), Flat(2)}).ok());
  ASSERT_TRUE(Apply({"c", Day(5, 2), missing}).ok());
  ASSERT_TRUE(Apply({"d", Day(6, 2), Flat(1)}).ok());
  const auto p = Person();
  EXPECT_FALSE(p.outcomes(0).total_valid());
  EXPECT_EQ(p.outcomes(0).missing_items(), 1);
  EXPECT_EQ(p.outcomes(0).items(0).significance(), pbr::v1::ITEM_NOT_KNOWN);
  EXPECT_FALSE(p.outcomes(2).has_since_previous());
  EXPECT_EQ(p.outcomes(3).since_previous().earlier_assessment_id(), "b");  // the previous valid one
  EXPECT_EQ(p.episodes(0).first_assessment_id(), "b");
  EXPECT_EQ(p.episodes(0).last_assessment_id(), "d");
  EXPECT_EQ(p.episodes(0).valid_ratings(), 2);
  EXPECT_EQ(p.episodes(0).ratings(), 4);
  EXPECT_EQ(p.episodes(0).change().total_change(), -12);
  EXPECT_EQ(p.episodes(0).change().reliable_change(), pbr::v1::RELIABLE_CHANGE_IMPROVED);
  EXPECT_EQ(p.episodes(0).change().expected(), pbr::v1::EXPECTED_OUTCOME_MATCHES);  // cluster 4: improvement
}

TEST_F(EpisodeOutcomesTest, AnAmendmentRecomputesAndReannouncesTheLaterRatings) {
  ASSERT_TRUE(Apply({"a", Day(3, 2), Flat(2)}).ok());
  ASSERT_TRUE(Apply({"b", Day(4, 2), Flat(1)}).ok());
  ASSERT_TRUE(Apply({"c", Day(5, 2), Flat(1)}).ok());
  const size_t before = Emitted().size();  // each new rating re-announced its episode's earlier ones
  ASSERT_EQ(before, 1u + 2u + 3u);
  // The first rating is amended: every later change depends on it.
  Rated amended{"a", Day(3, 2), Flat(3)};
  amended.revision = 1;
  ASSERT_TRUE(Apply(amended).ok());
  const auto p = Person();
  EXPECT_EQ(p.outcomes(1).since_first().total_change(), -24);
  EXPECT_EQ(p.outcomes(2).since_first().total_change(), -24);
  EXPECT_EQ(p.outcomes(2).since_previous().total_change(), 0);  // b -> c did not change
  auto emitted = Emitted();
  // a (new measures), b (new changes), c (new change since first and a new episode pair).
  ASSERT_EQ(emitted.size(), before + 3);
  EXPECT_EQ(emitted[before].assessment_id(), "a");
  EXPECT_EQ(emitted[before + 1].assessment_id(), "b");
  EXPECT_EQ(emitted[before + 2].assessment_id(), "c");
  EXPECT_EQ(emitted[before + 2].episode().change().total_change(), -24);
  // A stale revision changes nothing and announces nothing.
  Rated stale{"a", Day(3, 2), Flat(4)};
  stale.revision = 1;
  ASSERT_TRUE(Apply(stale).ok());
  EXPECT_EQ(Emitted().size(), before + 3);
}

TEST_F(EpisodeOutcomesTest, AWithdrawalMovesThePairAndTheLastOneLeavesNothing) {
  ASSERT_TRUE(Apply({"a", Day(3, 2), Flat(3)}).ok());
  ASSERT_TRUE(Apply({"b", Day(4, 2), Flat(2)}).ok());
  ASSERT_TRUE(Apply({"c", Day(5, 2), Flat(1)}).ok());
  const size_t before = Emitted().size();
  Rated gone{"a", Day(3, 2), {}};
  gone.revision = 1;
  gone.withdrawn = true;
  ASSERT_TRUE(Apply(gone).ok()) << "a withdrawal needs no ratings";
  auto p = Person();
  ASSERT_EQ(p.outcomes_size(), 2);
  EXPECT_EQ(p.episodes(0).first_assessment_id(), "b");
  EXPECT_EQ(p.episodes(0).change().total_change(), -12);
  auto emitted = Emitted();
  ASSERT_EQ(emitted.size(), before + 3);
  EXPECT_TRUE(emitted[before].withdrawn()) << "the withdrawal first, then what it changed";
  EXPECT_EQ(emitted[before].assessment_id(), "a");
  // The referral period was opened by "a", so it is a new period now, announced with b's new measures.
  EXPECT_FALSE(emitted[before].has_episode());
  EXPECT_EQ(emitted[before + 1].assessment_id(), "b");
  EXPECT_EQ(emitted[before + 1].episode().first_assessment_id(), "b") << "its episode as it now stands";
  EXPECT_EQ(Summary(pbr::v1::OUTCOME_GROUPING_CLUSTER).all().mean_total_change(), -12);

  for (const std::string id : {"b", "c"}) {
    Rated w{id, Day(4, 2), {}};
    w.revision = 1;
    w.withdrawn = true;
    ASSERT_TRUE(Apply(w).ok());
  }
  EXPECT_EQ(PersonOutcomesOf(*store_, *rules_, "p1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TallyRows(), 0) << "every contribution taken away again";
  EXPECT_EQ(Summary(pbr::v1::OUTCOME_GROUPING_TEAM).groups_size(), 0);
}

TEST_F(EpisodeOutcomesTest, ADischargeAndReReferralMakeTwoEpisodesEachPairedWithin) {
  ASSERT_TRUE(CareEvent("ref1", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, Day(1, 5)).ok());
  ASSERT_TRUE(Apply({"a", Day(1, 10), Flat(3)}).ok());
  ASSERT_TRUE(Apply({"b", Day(3, 10), Flat(2)}).ok());
  ASSERT_TRUE(CareEvent("dis1", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, Day(3, 20)).ok());
  ASSERT_TRUE(CareEvent("ref2", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, Day(6, 1)).ok());
  ASSERT_TRUE(Apply({"c", Day(6, 5), Flat(1), 12, "T2"}).ok());
  ASSERT_TRUE(Apply({"d", Day(9, 5), Flat(2), 12, "T2"}).ok());
  const auto p = Person();
  ASSERT_EQ(p.episodes_size(), 2);
  EXPECT_TRUE(p.episodes(0).has_closed_at());
  // The discharge changed no rating, but it closed the period: its ratings were announced with it closed.
  bool announced_closed = false;
  for (const auto& o : Emitted()) announced_closed |= o.assessment_id() == "b" && o.episode().has_closed_at();
  EXPECT_TRUE(announced_closed);
  EXPECT_EQ(p.episodes(0).change().total_change(), -12);
  EXPECT_EQ(p.episodes(1).change().total_change(), 12);
  EXPECT_EQ(p.episodes(1).change().reliable_change(), pbr::v1::RELIABLE_CHANGE_DETERIORATED);
  EXPECT_FALSE(p.outcomes(2).has_since_previous()) << "the first rating of a new referral compares with nothing";
  EXPECT_NE(p.outcomes(0).referral_id(), p.outcomes(2).referral_id());

  const auto by_team = Summary(pbr::v1::OUTCOME_GROUPING_TEAM);
  ASSERT_EQ(by_team.groups_size(), 2);
  EXPECT_EQ(by_team.groups(0).group(), "T1");
  EXPECT_EQ(by_team.groups(0).improved(), 1);
  EXPECT_EQ(by_team.groups(1).group(), "T2");
  EXPECT_EQ(by_team.groups(1).deteriorated(), 1);
  // Cluster 12's pattern includes improvement and stability, not deterioration.
  EXPECT_EQ(by_team.groups(1).matching_expected(), 0);
  EXPECT_EQ(by_team.groups(1).with_expected_pattern(), 1);
  EXPECT_EQ(by_team.all().paired_episodes(), 2);
  EXPECT_DOUBLE_EQ(by_team.all().mean_total_change(), 0);
  const auto by_class = Summary(pbr::v1::OUTCOME_GROUPING_SUPER_CLASS);
  ASSERT_EQ(by_class.groups_size(), 2);
  EXPECT_EQ(by_class.groups(0).group(), "NP");
  EXPECT_EQ(by_class.groups(1).group(), "P");
  // The period counts an episode on the day of its last valid rating.
  const auto march = Summary(pbr::v1::OUTCOME_GROUPING_TEAM, absl::CivilDay(2026, 3, 1), absl::CivilDay(2026, 3, 31));
  ASSERT_EQ(march.groups_size(), 1);
  EXPECT_EQ(march.groups(0).group(), "T1");
  const auto later = Summary(pbr::v1::OUTCOME_GROUPING_TEAM, absl::CivilDay(2026, 3, 11), std::nullopt);
  ASSERT_EQ(later.groups_size(), 1);
  EXPECT_EQ(later.groups(0).group(), "T2");
  // The discharge withdrawn: one referral again, paired from a to d.
  auto e = platform::MakeEnvelope(platform::topic::kCareEventRecorded, "ev-dis1-w", "p1", Day(3, 20), Day(3, 20), "epr", "");
  e.mutable_care_event_recorded()->set_care_event_id("dis1");
  e.mutable_care_event_recorded()->set_revision(1);
  e.mutable_care_event_recorded()->set_withdrawn(true);
  ASSERT_TRUE(Write([&](platform::ApplyContext& ctx) {
    return projection_->OnCareEvent({platform::topic::kCareEventRecorded, 0, 0, e}, ctx);
  }, Day(7, 1)).ok());
  EXPECT_EQ(Summary(pbr::v1::OUTCOME_GROUPING_TEAM).all().episodes(), Person().episodes_size());
}

TEST_F(EpisodeOutcomesTest, SummariesAddUpOverPeopleAndGroups) {
  ASSERT_TRUE(Apply({"a1", Day(1, 5), Flat(2), 4, "T1", 0, false, "p1"}).ok());
  ASSERT_TRUE(Apply({"a2", Day(2, 5), Flat(1), 4, "T1", 0, false, "p1"}).ok());   // -12 improved
  ASSERT_TRUE(Apply({"b1", Day(1, 6), Flat(1), 7, "T1", 0, false, "p2"}).ok());
  ASSERT_TRUE(Apply({"b2", Day(2, 6), Flat(1), 7, "T1", 0, false, "p2"}).ok());   // 0 no change, matches 7
  ASSERT_TRUE(Apply({"c1", Day(1, 7), Flat(1), 0, "T1", 0, false, "p3"}).ok());   // cluster 0, single
  const auto s = Summary(pbr::v1::OUTCOME_GROUPING_TEAM);
  ASSERT_EQ(s.groups_size(), 1);
  const auto& t1 = s.groups(0);
  EXPECT_EQ(t1.episodes(), 3);
  EXPECT_EQ(t1.paired_episodes(), 2);
  EXPECT_DOUBLE_EQ(t1.mean_total_change(), -6);
  EXPECT_DOUBLE_EQ(t1.share_improved(), 0.5);
  EXPECT_DOUBLE_EQ(t1.share_no_reliable_change(), 0.5);
  EXPECT_EQ(t1.with_expected_pattern(), 2);
  EXPECT_EQ(t1.matching_expected(), 2);  // 4 improved, 7 stable
  ASSERT_EQ(t1.factors_size(), 4);
  EXPECT_EQ(t1.factors(0).id(), "personal_wellbeing");
  EXPECT_DOUBLE_EQ(t1.factors(0).mean_change(), -2);  // 4 items x -1, over 2 pairs
  const auto by_cluster = Summary(pbr::v1::OUTCOME_GROUPING_CLUSTER);
  ASSERT_EQ(by_cluster.groups_size(), 3);
  EXPECT_EQ(by_cluster.groups(0).group(), "0");
  EXPECT_EQ(by_cluster.groups(0).paired_episodes(), 0);
  const auto by_commissioner = Summary(pbr::v1::OUTCOME_GROUPING_COMMISSIONER);
  ASSERT_EQ(by_commissioner.groups_size(), 1);
  EXPECT_EQ(by_commissioner.groups(0).group(), "00X");
}

TEST(EpisodeOutcomesGroups, AnEpisodeNamingNoCommissionerIsInTheUnknownCommissionersGroup) {
  pbr::v1::EpisodeOutcome episode;
  EXPECT_EQ(GroupOf(episode, pbr::v1::OUTCOME_GROUPING_COMMISSIONER), care::kUnknownCommissioner)
      << "the same group reporting's commissioner scopes use";
  episode.set_commissioner_id("00Y");
  EXPECT_EQ(GroupOf(episode, pbr::v1::OUTCOME_GROUPING_COMMISSIONER), "00Y");
}

TEST_F(EpisodeOutcomesTest, MalformedRatingsAreRefusedForTheDeadLetterTopic) {
  EXPECT_EQ(Apply({"short", Day(3, 2), {1, 2, 3}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PersonOutcomesOf(*store_, *rules_, "p1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EpisodeOutcomesTest, TheApiNamesTheFieldOfABadRequest) {
  OutcomesApi api(*store_, rules_, [] { return pbr::v1::ConsumedShare(); });
  pbr::v1::GetOutcomesRequest get;
  pbr::v1::PersonOutcomes person;
  EXPECT_EQ(api.GetOutcomes(nullptr, &get, &person).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  get.set_person_id(std::string(129, 'p'));
  EXPECT_THAT(api.GetOutcomes(nullptr, &get, &person).error_message(), ::testing::StartsWith("person_id: longer than 128"));
  get.set_person_id("nobody");
  EXPECT_EQ(api.GetOutcomes(nullptr, &get, &person).error_code(), grpc::StatusCode::NOT_FOUND);

  pbr::v1::SummariseOutcomesRequest req;
  pbr::v1::OutcomesSummary summary;
  grpc::Status st = api.SummariseOutcomes(nullptr, &req, &summary);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("group_by"));
  req.set_group_by(pbr::v1::OUTCOME_GROUPING_TEAM);
  *req.mutable_period_start() = platform::ToProto(absl::CivilDay(2026, 4, 1));
  *req.mutable_period_end() = platform::ToProto(absl::CivilDay(2026, 3, 31));
  st = api.SummariseOutcomes(nullptr, &req, &summary);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("period_end"));
  req.mutable_period_end()->set_month(13);
  st = api.SummariseOutcomes(nullptr, &req, &summary);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("period_end"));
  req.clear_period_end();
  EXPECT_TRUE(api.SummariseOutcomes(nullptr, &req, &summary).ok());
}

// What the measures and summaries are derived with: the rule set (outcomes.yaml, the clusters' super classes).
TEST_F(EpisodeOutcomesTest, TheDerivationIsTheRulesVersionAndTalliesByPartition) {
  EXPECT_EQ(projection_->derivation(), absl::StrCat("rules ", rules_->care_version(), "; tallies by partition"));
}

pbr::v1::ConsumedShare Assigned(std::vector<int32_t> partitions) {
  pbr::v1::ConsumedShare share;
  share.set_assigned(true);
  for (int32_t p : partitions) share.add_partitions(p);
  return share;
}

// Replicas of the service in one consumer group each answer for their partitions: a person's outcomes
// only where their partition is, the summaries counted over those partitions, so replicas that cover
// every partition once add up to what one replica with all of them says.
TEST_F(EpisodeOutcomesTest, EachReplicaAnswersForItsPartitionsAndTheirSummariesAddUp) {
  // p1 on partition 1 improves in T1; p2 on partition 10 deteriorates in T1; p3 on partition 0 in T2.
  ASSERT_TRUE(CareEvent("ref1", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, Day(1, 5), "p1", 1).ok());
  ASSERT_TRUE(Apply({.id = "a1", .at = Day(1, 10), .items = Flat(3), .person = "p1", .partition = 1}).ok());
  ASSERT_TRUE(Apply({.id = "b1", .at = Day(3, 10), .items = Flat(1), .person = "p1", .partition = 1}).ok());
  ASSERT_TRUE(CareEvent("ref2", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, Day(1, 5), "p2", 10).ok());
  ASSERT_TRUE(Apply({.id = "a2", .at = Day(1, 12), .items = Flat(1), .person = "p2", .partition = 10}).ok());
  ASSERT_TRUE(Apply({.id = "b2", .at = Day(4, 12), .items = Flat(3), .person = "p2", .partition = 10}).ok());
  ASSERT_TRUE(CareEvent("ref3", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, Day(2, 1), "p3", 0).ok());
  ASSERT_TRUE(Apply({.id = "a3", .at = Day(2, 2), .items = Flat(2), .team = "T2", .person = "p3", .partition = 0}).ok());

  // One replica with every partition, or a store never assigned: everyone.
  const auto whole = Summary(pbr::v1::OUTCOME_GROUPING_TEAM);
  EXPECT_EQ(whole.all().episodes(), 3);
  EXPECT_EQ(whole.all().paired_episodes(), 2);
  EXPECT_EQ(Summary(pbr::v1::OUTCOME_GROUPING_TEAM, std::nullopt, std::nullopt, Assigned({0, 1, 10})).DebugString(),
            [&] {
              auto w = whole;
              *w.mutable_share() = Assigned({0, 1, 10});
              return w.DebugString();
            }());

  // Partitions 1 and 10 are the only ones in the "1" range of keys: neither is read for the other.
  const auto first = Summary(pbr::v1::OUTCOME_GROUPING_TEAM, std::nullopt, std::nullopt, Assigned({1}));
  ASSERT_EQ(first.groups_size(), 1);
  EXPECT_EQ(first.groups(0).group(), "T1");
  EXPECT_EQ(first.groups(0).improved(), 1);
  EXPECT_EQ(first.groups(0).deteriorated(), 0);
  EXPECT_THAT(first.share().partitions(), ElementsAre(1));
  const auto second = Summary(pbr::v1::OUTCOME_GROUPING_TEAM, std::nullopt, std::nullopt, Assigned({0, 10}));
  ASSERT_EQ(second.groups_size(), 2);
  EXPECT_EQ(second.groups(0).deteriorated(), 1);
  EXPECT_EQ(second.groups(1).group(), "T2");
  EXPECT_EQ(first.all().episodes() + second.all().episodes(), whole.all().episodes());
  EXPECT_EQ(first.all().paired_episodes() + second.all().paired_episodes(), whole.all().paired_episodes());
  EXPECT_EQ(first.all().improved() + second.all().improved(), whole.all().improved());
  EXPECT_EQ(first.all().deteriorated() + second.all().deteriorated(), whole.all().deteriorated());
  EXPECT_EQ(Summary(pbr::v1::OUTCOME_GROUPING_TEAM, std::nullopt, std::nullopt, Assigned({})).groups_size(), 0);

  // A person is answered only where their partition is.
  EXPECT_TRUE(PersonOutcomesOf(*store_, *rules_, "p2", Assigned({0, 10})).ok());
  const auto elsewhere = PersonOutcomesOf(*store_, *rules_, "p2", Assigned({1}));
  EXPECT_EQ(elsewhere.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(elsewhere.status().message()), ::testing::HasSubstr("partition 10"));
  EXPECT_EQ(PersonOutcomesOf(*store_, *rules_, "nobody", Assigned({1})).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace pbr::outcomes
