#include "ledger/ledger.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pbr::ledger {
namespace {

using ::testing::ElementsAre;

absl::Time Day(int month, int day, int hour = 10) {
  return absl::FromCivil(absl::CivilSecond(2026, month, day, hour, 0, 0), absl::UTCTimeZone());
}

Assessment A(std::string id, absl::Time at, int cluster, AssessmentKind kind = AssessmentKind::kFormalReview,
             std::string team = "t1") {
  Assessment a;
  a.id = std::move(id);
  a.assessed_at = at;
  a.effective_at = at;
  a.cluster = cluster;
  a.kind = kind;
  a.team_id = std::move(team);
  return a;
}

CareEvent E(std::string id, CareEventKind kind, absl::Time at) {
  CareEvent e;
  e.id = std::move(id);
  e.kind = kind;
  e.occurred_at = at;
  return e;
}

std::vector<int> Clusters(const CareRecord& r) {
  std::vector<int> out;
  for (const auto& e : r.episodes) out.push_back(e.cluster);
  return out;
}

TEST(Fold, AHigherRevisionWinsAndAStaleOneChangesNothing) {
  PersonFacts f;
  EXPECT_TRUE(f.Fold(A("a", Day(1, 1), 4)));
  Assessment amended = A("a", Day(1, 2), 5);
  amended.revision = 1;
  EXPECT_TRUE(f.Fold(amended));
  EXPECT_FALSE(f.Fold(A("a", Day(1, 1), 4)));  // revision 0 again, late
  EXPECT_FALSE(f.Fold(amended));               // repeated
  EXPECT_EQ(f.FindAssessment("a")->cluster, 5);
}

TEST(Fold, AWithdrawalIsATombstoneThatAStaleRevisionCannotRevive) {
  PersonFacts f;
  f.Fold(A("a", Day(1, 1), 4));
  Assessment gone = A("a", Day(1, 1), 4);
  gone.revision = 1;
  gone.withdrawn = true;
  EXPECT_TRUE(f.Fold(gone));
  EXPECT_FALSE(f.Fold(A("a", Day(1, 1), 4)));
  EXPECT_TRUE(f.LiveAssessments().empty());
  EXPECT_FALSE(Derive("p", f).latest.has_value());
  EXPECT_EQ(Derive("p", f).current_episode(), nullptr);
}

TEST(Latest, IsTheLatestMhctTimeThenTheLaterEffectiveTimeThenTheGreaterId) {
  PersonFacts f;
  f.Fold(A("b", Day(3, 1), 4, AssessmentKind::kInitial));
  f.Fold(A("a", Day(3, 1), 5));  // same MHCT time and effective time: "b" > "a" wins
  EXPECT_EQ(Derive("p", f).latest->id, "b");
  Assessment c = A("c", Day(3, 1), 6);
  c.effective_at = Day(3, 1) + absl::Minutes(1);  // hypothetical: same MHCT time, later effect
  f.Fold(c);
  EXPECT_EQ(Derive("p", f).latest->id, "c");
}

TEST(Clocks, ABackDatedInpatientEpisodeStartsAtTheAdmissionWhileTheReviewClockRunsFromTheMhct) {
  PersonFacts f;
  Assessment initial = A("init", Day(3, 3), 14, AssessmentKind::kInitial);
  initial.effective_at = Day(3, 1);  // admitted two days before the MHCT
  f.Fold(initial);
  const CareRecord r = Derive("p", f);
  ASSERT_NE(r.current_episode(), nullptr);
  EXPECT_EQ(r.current_episode()->started_at, Day(3, 1));
  EXPECT_EQ(r.open_referral()->opened_at, Day(3, 1));
  ASSERT_TRUE(r.review_basis().has_value());
  EXPECT_EQ(r.review_basis()->assessed_at, Day(3, 3));
}

TEST(Clocks, AReviewBetweenTheAdmissionAndALaterMhctDoesNotOutrankIt) {
  // The order is by MHCT time everywhere: allocation's current cluster and reporting's agree.
  PersonFacts f;
  f.Fold(A("community", Day(2, 1), 12, AssessmentKind::kInitial));
  Assessment ward = A("ward", Day(3, 3), 14, AssessmentKind::kTransferReview);
  f.Fold(ward);
  f.Fold(A("between", Day(3, 2), 13));
  const CareRecord r = Derive("p", f);
  EXPECT_EQ(r.latest->id, "ward");
  EXPECT_EQ(r.current_episode()->cluster, 14);
  EXPECT_THAT(Clusters(r), ElementsAre(12, 13, 14));
}

TEST(Episodes, StartWhenTheClusterChangesAndEndAtTheNextStart) {
  PersonFacts f;
  f.Fold(A("a1", Day(1, 1), 4, AssessmentKind::kInitial));
  f.Fold(A("a2", Day(4, 1), 4));
  f.Fold(A("a3", Day(7, 1), 5));
  const CareRecord r = Derive("p", f);
  ASSERT_THAT(Clusters(r), ElementsAre(4, 5));
  EXPECT_EQ(r.episodes[0].ended_at, Day(7, 1));
  EXPECT_FALSE(r.episodes[0].ended_by_discharge);
  EXPECT_EQ(r.episodes[0].id, EpisodeId("p", "a1"));
  EXPECT_EQ(r.episode_of.at("a2"), r.episodes[0].id);
  EXPECT_EQ(r.previous_episode()->cluster, 4);
}

TEST(Referrals, AReferralOpensAPeriodThatADischargeClosesWithItsEpisode) {
  PersonFacts f;
  f.Fold(E("ref", CareEventKind::kReferralReceived, Day(1, 1)));
  CareRecord r = Derive("p", f);
  ASSERT_NE(r.open_referral(), nullptr);
  EXPECT_EQ(r.open_referral()->opened_by, "ref");
  EXPECT_EQ(r.current_episode(), nullptr);  // referred, not yet allocated
  EXPECT_FALSE(r.review_basis().has_value());

  f.Fold(A("init", Day(1, 10), 4, AssessmentKind::kInitial));
  f.Fold(A("dr", Day(5, 1), 4, AssessmentKind::kDischargeReview));
  f.Fold(E("dis", CareEventKind::kDischargeFromService, Day(5, 1)));  // same instant as the discharge review
  r = Derive("p", f);
  EXPECT_EQ(r.open_referral(), nullptr);
  EXPECT_EQ(r.current_episode(), nullptr);
  EXPECT_FALSE(r.review_basis().has_value());
  ASSERT_EQ(r.episodes.size(), 1u);
  EXPECT_EQ(r.episodes[0].ended_at, Day(5, 1));
  EXPECT_TRUE(r.episodes[0].ended_by_discharge);
  EXPECT_EQ(r.referral_of.at("dr"), r.referrals[0].id);
  EXPECT_EQ(r.referral_of.at("dis"), r.referrals[0].id);
  EXPECT_EQ(r.referrals[0].closed_at, Day(5, 1));
}

TEST(Referrals, AReReferralOpensANewPeriodAndANewEpisodeOnTheSameCluster) {
  PersonFacts f;
  f.Fold(A("init", Day(1, 1), 4, AssessmentKind::kInitial));
  f.Fold(E("dis", CareEventKind::kDischargeFromService, Day(3, 1)));
  f.Fold(A("again", Day(6, 1), 4, AssessmentKind::kInitial));
  const CareRecord r = Derive("p", f);
  ASSERT_EQ(r.referrals.size(), 2u);
  EXPECT_TRUE(r.referrals[0].opened_by_assessment);
  EXPECT_EQ(r.referrals[1].opened_by, "again");
  EXPECT_TRUE(r.returning());
  ASSERT_THAT(Clusters(r), ElementsAre(4, 4));
  EXPECT_EQ(r.current_episode()->started_by, "again");
  EXPECT_EQ(r.review_basis()->assessment_id, "again");
}

TEST(Referrals, AReferralWhileOneIsOpenBelongsToIt) {
  PersonFacts f;
  f.Fold(E("r1", CareEventKind::kReferralReceived, Day(1, 1)));
  f.Fold(E("r2", CareEventKind::kReferralReceived, Day(2, 1)));
  const CareRecord r = Derive("p", f);
  ASSERT_EQ(r.referrals.size(), 1u);
  EXPECT_EQ(r.referral_of.at("r2"), r.referrals[0].id);
}

TEST(Referrals, ADischargeWithNothingOpenChangesNothing) {
  PersonFacts f;
  f.Fold(E("dis", CareEventKind::kDischargeFromService, Day(1, 1)));
  const CareRecord r = Derive("p", f);
  EXPECT_TRUE(r.referrals.empty());
  EXPECT_EQ(r.referral_of.count("dis"), 0u);
}

TEST(Referrals, WithdrawingTheDischargeReopensThePeriodAndTheEpisode) {
  PersonFacts f;
  f.Fold(A("init", Day(1, 1), 4, AssessmentKind::kInitial));
  f.Fold(E("dis", CareEventKind::kDischargeFromService, Day(3, 1)));
  CareEvent withdrawn = E("dis", CareEventKind::kDischargeFromService, Day(3, 1));
  withdrawn.revision = 1;
  withdrawn.withdrawn = true;
  f.Fold(withdrawn);
  const CareRecord r = Derive("p", f);
  ASSERT_NE(r.current_episode(), nullptr);
  EXPECT_EQ(r.review_basis()->assessment_id, "init");
}

TEST(Referrals, OtherCareEventsBelongToThePeriodCoveringTheirTime) {
  PersonFacts f;
  f.Fold(A("init", Day(1, 1), 12, AssessmentKind::kInitial));
  f.Fold(E("crht", CareEventKind::kReferralToCrht, Day(2, 1)));
  f.Fold(E("dis", CareEventKind::kDischargeFromService, Day(3, 1)));
  f.Fold(E("late", CareEventKind::kFaceToFaceContact, Day(4, 1)));
  const CareRecord r = Derive("p", f);
  EXPECT_EQ(r.referral_of.at("crht"), r.referrals[0].id);
  EXPECT_EQ(r.referral_of.count("late"), 0u);
}

TEST(Before, SeesOnlyWhatCameBeforeTheAssessment) {
  PersonFacts f;
  f.Fold(A("a1", Day(1, 1), 11, AssessmentKind::kInitial));
  f.Fold(E("adm", CareEventKind::kAdmission, Day(2, 1)));
  f.Fold(A("a3", Day(9, 1), 13));
  const Assessment next = A("a2", Day(3, 1), 12);
  const PersonFacts before = f.Before(next);
  EXPECT_EQ(before.assessments().size(), 1u);
  EXPECT_EQ(before.care_events().size(), 1u);
  EXPECT_EQ(Derive("p", before).current_episode()->cluster, 11);
}

TEST(ReviewBasis, KeyChangesWithAnAmendedDateOrCluster) {
  PersonFacts f;
  f.Fold(A("a", Day(1, 1), 4, AssessmentKind::kInitial));
  const std::string first = Derive("p", f).review_basis()->key();
  Assessment amended = A("a", Day(1, 2), 4, AssessmentKind::kInitial);
  amended.revision = 1;
  f.Fold(amended);
  EXPECT_NE(Derive("p", f).review_basis()->key(), first);
}

TEST(Derive, IsTheSameWhateverOrderTheFactsArrivedIn) {
  std::vector<std::function<void(PersonFacts&)>> facts = {
      [](PersonFacts& f) { f.Fold(E("ref", CareEventKind::kReferralReceived, Day(1, 1))); },
      [](PersonFacts& f) { f.Fold(A("a1", Day(1, 5), 4, AssessmentKind::kInitial)); },
      [](PersonFacts& f) { f.Fold(A("a2", Day(4, 5), 5)); },
      [](PersonFacts& f) { f.Fold(E("dis", CareEventKind::kDischargeFromService, Day(6, 1))); },
      [](PersonFacts& f) { f.Fold(A("a3", Day(8, 1), 5, AssessmentKind::kInitial)); },
  };
  std::vector<size_t> order = {0, 1, 2, 3, 4};
  std::string expected;
  do {
    PersonFacts f;
    for (size_t i : order) facts[i](f);
    const CareRecord r = Derive("p", f);
    std::string shape;
    for (const auto& e : r.episodes) {
      shape += absl::StrCat(e.id, ":", e.cluster, ":", absl::ToUnixSeconds(e.started_at), ":",
                            e.ended_at ? absl::ToUnixSeconds(*e.ended_at) : -1, ";");
    }
    for (const auto& p : r.referrals) shape += absl::StrCat(p.id, p.open() ? "+" : "-", ";");
    if (expected.empty()) expected = shape;
    EXPECT_EQ(shape, expected);
  } while (std::next_permutation(order.begin(), order.end()));
}


TEST(CompletedReviews, EachLaterAssessmentOfAPeriodReviewsTheOneBeforeItAndAReReferralStartsAfresh) {
  PersonFacts f;
  f.Fold(A("init", Day(1, 5), 4, AssessmentKind::kInitial));
  f.Fold(A("formal", Day(6, 30), 4));
  f.Fold(A("discharge", Day(8, 1), 4, AssessmentKind::kDischargeReview));
  f.Fold(E("out", CareEventKind::kDischargeFromService, Day(8, 1, 12)));
  f.Fold(E("back", CareEventKind::kReferralReceived, Day(10, 1)));
  f.Fold(A("again", Day(10, 3), 11, AssessmentKind::kInitial));
  f.Fold(A("late", Day(3, 1), 4));  // back-filled: it slots in between the initial and the formal review
  const CareRecord r = Derive("p", f);
  std::vector<std::string> pairs;
  for (const auto& c : CompletedReviews(f, r)) pairs.push_back(absl::StrCat(c.reviewed.assessment_id, ">", c.by->id));
  EXPECT_THAT(pairs, ElementsAre("init>late", "late>formal", "formal>discharge"));

  Assessment gone = A("late", Day(3, 1), 4);
  gone.revision = 1;
  gone.withdrawn = true;
  f.Fold(gone);
  pairs.clear();
  for (const auto& c : CompletedReviews(f, Derive("p", f))) pairs.push_back(absl::StrCat(c.reviewed.assessment_id, ">", c.by->id));
  EXPECT_THAT(pairs, ElementsAre("init>formal", "formal>discharge"));
}

TEST(BasisAt, TheLatestAssessmentUpToTheTimeWhileItsPeriodWasOpen) {
  PersonFacts f;
  f.Fold(A("init", Day(1, 5), 4, AssessmentKind::kInitial));
  f.Fold(A("formal", Day(6, 30), 5));
  f.Fold(E("out", CareEventKind::kDischargeFromService, Day(8, 1)));
  const CareRecord r = Derive("p", f);
  EXPECT_FALSE(BasisAt(f, r, Day(1, 4)).has_value());  // before any allocation
  EXPECT_EQ(BasisAt(f, r, Day(1, 5))->assessment_id, "init");  // at the MHCT time itself
  EXPECT_EQ(BasisAt(f, r, Day(7, 1))->assessment_id, "formal");
  EXPECT_EQ(BasisAt(f, r, Day(7, 1))->cluster, 5);
  EXPECT_EQ(BasisAt(f, r, Day(8, 1))->assessment_id, "formal");  // at the discharge itself: still open
  EXPECT_FALSE(BasisAt(f, r, Day(8, 2)).has_value());  // discharged since
}

TEST(InEffectAt, ABackDatedInpatientAllocationIsInEffectFromTheAdmissionUnlikeTheBasisByMhct) {
  // Referred 10 Jan, admitted 14 Jan 22:00, allocated 16 Jan 23:00 back-dated to the admission (SOP Table 13).
  PersonFacts f;
  f.Fold(E("ref", CareEventKind::kReferralReceived, Day(1, 10)));
  Assessment initial = A("init", Day(1, 16, 23), 14, AssessmentKind::kInitial);
  initial.effective_at = Day(1, 14, 22);
  f.Fold(initial);
  const CareRecord r = Derive("p", f);
  EXPECT_EQ(AssessmentInEffectAt(f, r, Day(1, 14, 21)), nullptr) << "referred, not yet admitted: no cluster";
  ASSERT_NE(AssessmentInEffectAt(f, r, Day(1, 14, 22)), nullptr);
  EXPECT_EQ(AssessmentInEffectAt(f, r, Day(1, 15, 23))->id, "init");
  EXPECT_FALSE(BasisAt(f, r, Day(1, 15, 23)).has_value()) << "the review basis goes by the MHCT time";
  EXPECT_EQ(r.episodes.at(0).started_at, Day(1, 14, 22)) << "as the episode";
  EXPECT_EQ(AssessmentInEffectAt(f, r, Day(1, 9)), nullptr) << "no referral period yet";
}

TEST(InEffectAt, NeverBeforeThePeriodOpenedNorBeforeTheEpisodeItCameIn) {
  PersonFacts f;
  f.Fold(E("ref", CareEventKind::kReferralReceived, Day(2, 3)));
  Assessment initial = A("init", Day(2, 5), 14, AssessmentKind::kInitial);
  initial.effective_at = Day(1, 29);  // admitted before the referral was recorded
  f.Fold(initial);
  f.Fold(A("review", Day(3, 5), 11));
  // Recorded after the review but back-dated before it: it takes effect where its episode can start.
  Assessment late = A("late", Day(3, 20), 7);
  late.effective_at = Day(2, 10);
  f.Fold(late);
  const CareRecord r = Derive("p", f);
  EXPECT_EQ(AssessmentInEffectAt(f, r, Day(2, 2)), nullptr);
  EXPECT_EQ(AssessmentInEffectAt(f, r, Day(2, 3))->id, "init") << "from the referral, not the admission";
  EXPECT_EQ(AssessmentInEffectAt(f, r, Day(2, 20))->id, "init") << "not back before the review's episode";
  EXPECT_EQ(AssessmentInEffectAt(f, r, Day(3, 5))->id, "late") << "the later in the ledger's order at one start";
  ASSERT_THAT(Clusters(r), ElementsAre(14, 11, 7));
  EXPECT_EQ(r.episodes[2].started_at, Day(3, 5));
}

TEST(InEffectAt, IsTheEpisodesClusterAtEveryTime) {
  // Random histories (back-dated effects, clusters kept and changed, referrals, discharges): at every time
  // the assessment in effect is one of its period and has the cluster of the episode covering that time.
  uint64_t seed = 20260714;
  auto pick = [&](int lo, int hi) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return lo + static_cast<int>((seed >> 33) % static_cast<uint64_t>(hi - lo + 1));
  };
  for (int person = 0; person < 300; ++person) {
    PersonFacts f;
    for (int i = 0; i < pick(1, 6); ++i) {
      Assessment a = A(absl::StrCat("a", i), Day(1, 1) + absl::Hours(pick(0, 24 * 200)), pick(3, 6));
      if (pick(0, 2) == 0) a.effective_at = a.assessed_at - absl::Hours(pick(0, 24 * 30));
      f.Fold(a);
    }
    for (int i = 0; i < pick(0, 3); ++i) {
      f.Fold(E(absl::StrCat("e", i), pick(0, 1) ? CareEventKind::kDischargeFromService : CareEventKind::kReferralReceived,
               Day(1, 1) + absl::Hours(pick(0, 24 * 220))));
    }
    const CareRecord r = Derive("p", f);
    for (int h = -24 * 40; h < 24 * 240; h += 7) {
      const absl::Time t = Day(1, 1) + absl::Hours(h) + absl::Seconds(1);  // never on a fact's own instant
      const Assessment* a = AssessmentInEffectAt(f, r, t);
      const Episode* covering = nullptr;
      for (const Episode& e : r.episodes) {
        if (e.started_at <= t && (!e.ended_at.has_value() || t < *e.ended_at)) covering = &e;
      }
      const ReferralPeriod* period = r.ReferralAt(t);
      ASSERT_EQ(a != nullptr, covering != nullptr) << "person " << person << " hour " << h;
      if (a == nullptr) continue;
      EXPECT_EQ(a->cluster, covering->cluster) << "person " << person << " hour " << h;
      ASSERT_NE(period, nullptr);
      EXPECT_EQ(r.referral_of.at(a->id), period->id);
      EXPECT_EQ(covering->referral_id, period->id);
    }
  }
}

// ---- event-triggered reviews: which care events trigger, for whom, and which assessment answers.

care::KpiSettings Timing() {
  care::KpiSettings k;  // the defaults are the shipped values: 5 days, 72 hours, 24 hours, 2 bed nights
  k.version = "kpis-test";
  return k;
}

CareEvent Referral(std::string id, CareEventKind kind, absl::Time at, bool out_of_hours) {
  CareEvent e = E(std::move(id), kind, at);
  e.out_of_hours = out_of_hours;
  return e;
}

std::vector<TriggeredReview> Triggered(const PersonFacts& f, const care::KpiSettings& k = Timing()) {
  return TriggeredReviews(f, Derive("p", f), k, absl::UTCTimeZone());
}

TEST(TriggeredReviews, TransfersAndDischargeReviewsOfAPersonWithAClusterAnswerByTheFirstAssessmentInTheWindow) {
  PersonFacts f;
  f.Fold(A("initial", Day(1, 5), 4, AssessmentKind::kInitial));
  f.Fold(A("review", Day(3, 8), 4, AssessmentKind::kTransferReview));  // 2 days before the referral
  f.Fold(A("later", Day(3, 9), 5, AssessmentKind::kTransferReview));   // also inside: not the first
  f.Fold(Referral("crht", CareEventKind::kReferralToCrht, Day(3, 10), false));
  f.Fold(Referral("ward", CareEventKind::kReferralToInpatients, Day(4, 1), true));  // nothing within 72 h after
  f.Fold(E("dr", CareEventKind::kDischargeReview, Day(5, 1)));
  f.Fold(A("discharge", Day(5, 1, 20), 5, AssessmentKind::kDischargeReview));
  f.Fold(E("contact", CareEventKind::kFaceToFaceContact, Day(5, 2)));  // never a trigger
  const auto t = Triggered(f);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].event->id, "crht");
  EXPECT_EQ(t[0].kind, care::ReviewTriggerKind::kInHoursReferral);
  ASSERT_NE(t[0].answered_by, nullptr);
  EXPECT_EQ(t[0].answered_by->id, "review");
  ASSERT_TRUE(t[0].basis.has_value());
  EXPECT_EQ(t[0].basis->assessment_id, "later");  // the basis at the referral's time
  EXPECT_EQ(t[0].window.opens, Day(3, 5));
  EXPECT_EQ(t[0].window.deadline, Day(3, 10));
  EXPECT_EQ(t[0].window.rule_version, "kpis-test");
  EXPECT_EQ(t[1].event->id, "ward");
  EXPECT_EQ(t[1].kind, care::ReviewTriggerKind::kOutOfHoursReferral);
  EXPECT_EQ(t[1].answered_by, nullptr);
  EXPECT_EQ(t[2].kind, care::ReviewTriggerKind::kDischargeReview);
  ASSERT_NE(t[2].answered_by, nullptr);
  EXPECT_EQ(t[2].answered_by->id, "discharge");
}

TEST(TriggeredReviews, AnAdmissionTriggersOnlyForAPersonWithoutAClusterAndATransferOnlyForOneWithIt) {
  PersonFacts f;
  f.Fold(E("referred", CareEventKind::kReferralReceived, Day(1, 1)));
  f.Fold(Referral("early", CareEventKind::kReferralToCrht, Day(1, 2), false));  // no cluster yet: nothing
  f.Fold(E("admitted", CareEventKind::kAdmission, Day(1, 3)));
  Assessment inpatient = A("initial", Day(1, 4), 14, AssessmentKind::kInitial);
  inpatient.effective_at = Day(1, 3);
  f.Fold(inpatient);
  f.Fold(E("readmitted", CareEventKind::kAdmission, Day(2, 1)));  // has a cluster now: not an initial allocation
  const auto t = Triggered(f);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].event->id, "admitted");
  EXPECT_EQ(t[0].kind, care::ReviewTriggerKind::kInpatientAdmission);
  EXPECT_FALSE(t[0].basis.has_value());
  ASSERT_NE(t[0].answered_by, nullptr);
  EXPECT_EQ(t[0].answered_by->id, "initial");
}

TEST(TriggeredReviews, NoneAfterADischargeAndNoneForAWithdrawnEvent) {
  PersonFacts f;
  f.Fold(A("initial", Day(1, 5), 4, AssessmentKind::kInitial));
  f.Fold(E("out", CareEventKind::kDischargeFromService, Day(2, 1)));
  f.Fold(E("dr", CareEventKind::kDischargeReview, Day(2, 2)));  // discharged by then: no cluster
  CareEvent gone = Referral("crht", CareEventKind::kReferralToCrht, Day(1, 20), false);
  f.Fold(gone);
  EXPECT_EQ(Triggered(f).size(), 1u);
  gone.revision = 1;
  gone.withdrawn = true;
  f.Fold(gone);
  EXPECT_TRUE(Triggered(f).empty());
}

TEST(TriggeredReviews, TheWindowsFollowTheKpiFileOptions) {
  PersonFacts f;
  f.Fold(A("initial", Day(1, 5), 4, AssessmentKind::kInitial));
  f.Fold(A("before", Day(3, 9), 4, AssessmentKind::kTransferReview));  // a day before both events
  f.Fold(Referral("ooh", CareEventKind::kReferralToCrht, Day(3, 10), true));
  f.Fold(E("dr", CareEventKind::kDischargeReview, Day(3, 10)));
  care::KpiSettings k = Timing();
  // Same time: the care events' order is by id, so the discharge review comes first.
  auto t = Triggered(f, k);
  ASSERT_EQ(t.size(), 2u);
  ASSERT_EQ(t[0].event->id, "dr");
  ASSERT_NE(t[0].answered_by, nullptr) << "discharge: either side";
  EXPECT_EQ(t[1].answered_by, nullptr) << "out of hours: only the 72 hours after";
  k.out_of_hours_window = care::OutOfHoursWindow::kEitherSide;
  k.discharge_review_window = care::DischargeReviewWindow::kAfter;
  t = Triggered(f, k);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].answered_by, nullptr);
  ASSERT_NE(t[1].answered_by, nullptr);
  EXPECT_EQ(t[1].answered_by->id, "before");
}

}  // namespace
}  // namespace pbr::ledger
