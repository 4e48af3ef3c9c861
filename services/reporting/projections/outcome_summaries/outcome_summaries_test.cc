#include "projections/outcome_summaries/outcome_summaries.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "projections/outcome_summaries/queries.h"
#include "testing/process.h"

namespace pbr::reporting {
namespace {

namespace topic = platform::topic;
absl::Time T(int day) { return absl::FromUnixSeconds(1'767'225'600 + day * 86'400 + 12 * 3600); }  // day 0 = 2026-01-01

// An episode as outcomes announces it: first valid rating against last, counted under `team` on `day`.
struct Episode {
  std::string referral = "ref-1";
  std::string team = "cmht-north";
  int counted_day = 40;  // 2026-02-10
  bool paired = true;
  int total_change = -6;
  pbr::v1::ReliableChange reliable = pbr::v1::RELIABLE_CHANGE_IMPROVED;
  bool valid = true;     // has a valid rating at all
};

class OutcomeSummariesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), projection_.families());
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
  }
  absl::Status TryApply(const pbr::v1::EventEnvelope& e) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, T(100));
    platform::ConsumedEvent ev{topic::kOutcomeRecorded, 0, 0, e};
    if (auto st = projection_.Apply(ev, ctx); !st.ok()) return st;
    return store_->Write(batch, false);
  }
  pbr::v1::EventEnvelope Outcome(const std::string& person, const std::string& assessment,
                                 const std::optional<Episode>& episode, bool withdrawn = false) {
    auto e = platform::MakeEnvelope(topic::kOutcomeRecorded, absl::StrCat("o", ++n_), person, T(1), T(1), "", "");
    auto* o = e.mutable_outcome_recorded();
    o->set_assessment_id(assessment);
    o->set_withdrawn(withdrawn);
    if (!withdrawn) {
      o->mutable_measures()->set_assessment_id(assessment);
      o->mutable_measures()->set_referral_id(episode ? episode->referral : "ref-1");
    }
    if (episode.has_value()) {
      auto* ep = o->mutable_episode();
      ep->set_referral_id(episode->referral);
      if (episode->valid) ep->set_first_assessment_id("first");
      ep->set_paired(episode->paired);
      ep->set_team_id(episode->team);
      *ep->mutable_counted_on() = platform::ToProto(platform::ClinicalDay(T(episode->counted_day)));
      if (episode->paired) {
        ep->mutable_change()->set_total_change(episode->total_change);
        ep->mutable_change()->set_reliable_change(episode->reliable);
      }
    }
    return e;
  }
  void Apply(const pbr::v1::EventEnvelope& e) {
    const absl::Status st = TryApply(e);
    ASSERT_TRUE(st.ok()) << st;
  }
  TeamOutcomes Read(absl::CivilMonth first = absl::CivilMonth(2026, 1), absl::CivilMonth last = absl::CivilMonth(2026, 12)) {
    auto r = OutcomesByTeam(*store_, first, last);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TeamOutcomes{};
  }

  pbr::testing::TempDir dir_;
  OutcomeSummariesProjection projection_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  int n_ = 0;
};

TEST_F(OutcomeSummariesTest, APairedEpisodeCountsUnderItsTeamAndMonth) {
  Apply(Outcome("p1", "a2", Episode{}));
  const TeamOutcomes t = Read();
  ASSERT_EQ(t.teams.size(), 1u);
  const care::OutcomeTally& north = t.teams.at("cmht-north");
  EXPECT_EQ(north.episodes, 1);
  EXPECT_EQ(north.paired, 1);
  EXPECT_EQ(north.improved, 1);
  EXPECT_EQ(north.total_change_sum, -6);
  EXPECT_EQ(Read(absl::CivilMonth(2026, 3), absl::CivilMonth(2026, 12)).teams.size(), 0u);  // counted in February
}

TEST_F(OutcomeSummariesTest, AReannouncedPeriodMovesInsteadOfCountingTwice) {
  Apply(Outcome("p1", "a2", Episode{}));
  Episode later;
  later.counted_day = 100;  // a later last rating: April, and no reliable change now
  later.total_change = -2;
  later.reliable = pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE;
  Apply(Outcome("p1", "a3", later));
  const TeamOutcomes t = Read();
  EXPECT_EQ(t.all.episodes, 1);
  EXPECT_EQ(t.all.improved, 0);
  EXPECT_EQ(t.all.no_reliable_change, 1);
  EXPECT_EQ(t.all.total_change_sum, -2);
  EXPECT_EQ(Read(absl::CivilMonth(2026, 2), absl::CivilMonth(2026, 2)).all.episodes, 0);
  EXPECT_EQ(Read(absl::CivilMonth(2026, 4), absl::CivilMonth(2026, 4)).all.episodes, 1);
}

TEST_F(OutcomeSummariesTest, WithdrawalsThatEmptyThePeriodRemoveIt) {
  Apply(Outcome("p1", "a1", Episode{.paired = false}));
  Apply(Outcome("p1", "a2", Episode{}));
  // a2 withdrawn: the period stands on a1 alone (unpaired); then a1 withdrawn: nothing left.
  Apply(Outcome("p1", "a2", Episode{.paired = false}, /*withdrawn=*/true));
  EXPECT_EQ(Read().all.episodes, 1);
  EXPECT_EQ(Read().all.paired, 0);
  Apply(Outcome("p1", "a1", std::nullopt, /*withdrawn=*/true));
  EXPECT_EQ(Read().all.episodes, 0);
  EXPECT_TRUE(Read().teams.empty());
  auto person = store_->Get(kOutcomeSummariesPeopleFamily, "p1");
  ASSERT_TRUE(person.ok());
  EXPECT_FALSE(person->has_value()) << "nothing is kept of a person with nothing counted";
}

TEST_F(OutcomeSummariesTest, APeriodEveryAssessmentLeftLeavesThoughNobodyAnnouncesIt) {
  Apply(Outcome("p1", "a1", Episode{.referral = "ref-1"}));
  // A correction moves a1 into another referral period: only the new period is announced.
  Apply(Outcome("p1", "a1", Episode{.referral = "ref-2", .team = "cmht-south"}));
  const TeamOutcomes t = Read();
  EXPECT_EQ(t.all.episodes, 1);
  ASSERT_EQ(t.teams.size(), 1u);
  EXPECT_EQ(t.teams.begin()->first, "cmht-south");
}

TEST_F(OutcomeSummariesTest, TeamsAndMonthsSumAsAnIndependentCalculation) {
  struct Case { std::string person, team; int day, change; pbr::v1::ReliableChange rc; };
  const std::vector<Case> cases = {
      {"p1", "cmht-north", 20, -8, pbr::v1::RELIABLE_CHANGE_IMPROVED},
      {"p2", "cmht-north", 50, 1, pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE},
      {"p3", "cmht-south", 50, 7, pbr::v1::RELIABLE_CHANGE_DETERIORATED},
      {"p4", "cmht-south", 200, -3, pbr::v1::RELIABLE_CHANGE_NO_RELIABLE_CHANGE},
  };
  for (const Case& c : cases) {
    Episode e;
    e.referral = "ref-" + c.person;
    e.team = c.team;
    e.counted_day = c.day;
    e.total_change = c.change;
    e.reliable = c.rc;
    Apply(Outcome(c.person, "a-" + c.person, e));
  }
  const TeamOutcomes t = Read(absl::CivilMonth(2026, 1), absl::CivilMonth(2026, 6));  // p4 (July) left out
  EXPECT_EQ(t.teams.at("cmht-north").total_change_sum, -8 + 1);
  EXPECT_EQ(t.teams.at("cmht-south").total_change_sum, 7);
  EXPECT_EQ(t.all.paired, 3);
  EXPECT_EQ(t.all.improved, 1);
  EXPECT_EQ(t.all.deteriorated, 1);
  const care::OutcomeFigures f = care::FiguresOf(t.all);
  ASSERT_TRUE(f.mean_total_change.has_value());
  EXPECT_DOUBLE_EQ(*f.mean_total_change, (-8.0 + 1.0 + 7.0) / 3.0);
  std::set<std::string> south = {"cmht-south"};
  auto only = OutcomesByTeam(*store_, absl::CivilMonth(2026, 1), absl::CivilMonth(2026, 12), &south);
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->teams.size(), 1u);
  EXPECT_EQ(only->all.paired, 2);
}

TEST_F(OutcomeSummariesTest, BadEventsAreRefusedNamingTheField) {
  auto no_person = Outcome("", "a1", Episode{});
  EXPECT_THAT(std::string(TryApply(no_person).message()), ::testing::HasSubstr("person_id"));
  auto no_assessment = Outcome("p1", "", Episode{});
  EXPECT_THAT(std::string(TryApply(no_assessment).message()), ::testing::HasSubstr("assessment_id"));
  auto no_referral = Outcome("p1", "a1", Episode{.referral = ""});
  const absl::Status st = TryApply(no_referral);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("referral_id"));
  auto no_team = Outcome("p1", "a1", Episode{.team = ""});
  EXPECT_THAT(std::string(TryApply(no_team).message()), ::testing::HasSubstr("episode.team_id"));
  EXPECT_TRUE(Read().teams.empty()) << "nothing of a refused event is kept";
}

}  // namespace
}  // namespace pbr::reporting
