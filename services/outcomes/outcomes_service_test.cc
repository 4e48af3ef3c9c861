#include "outcomes_service.h"

#include "absl/strings/str_cat.h"
#include "care_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "testing/process.h"

namespace pbr::outcomes {
namespace {

class OutcomesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), {std::string(kOutcomesFamily), std::string(kAssessmentsFamily)});
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    auto rules = services::LoadRules(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    recorder_ = std::make_unique<OutcomeRecorder>(*rules);
  }
  absl::Status Apply(const std::string& id, absl::Time at, std::vector<int> items) {
    auto e = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, "ev-" + id, "p1", at, at, "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_cluster(11);
    *a->mutable_assessed_at() = platform::ToProto(at);
    for (int v : items) a->mutable_ratings()->add_items(v);
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, at);
    auto st = recorder_->OnAssessment({platform::topic::kAssessmentRecorded, 0, 0, e}, ctx);
    if (st.ok()) st = store_->Write(batch, false);
    return st;
  }
  // Revision `revision` of assessment `id`: an amendment, or a withdrawal (with no ratings at all).
  absl::Status Correct(const std::string& id, int revision, absl::Time at, std::vector<int> items,
                       bool withdrawn = false) {
    auto e = platform::MakeEnvelope(platform::topic::kAssessmentRecorded, absl::StrCat("ev-", id, "-r", revision), "p1",
                                    at, at, "epr", "");
    auto* a = e.mutable_assessment_recorded();
    a->set_assessment_id(id);
    a->set_revision(revision);
    a->set_withdrawn(withdrawn);
    a->set_cluster(12);
    *a->mutable_assessed_at() = platform::ToProto(at);
    for (int v : items) a->mutable_ratings()->add_items(v);
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, at);
    auto st = recorder_->OnAssessment({platform::topic::kAssessmentRecorded, 0, 0, e}, ctx);
    if (st.ok()) st = store_->Write(batch, false);
    return st;
  }
  std::vector<pbr::v1::EventEnvelope> Emitted() {
    std::vector<pbr::v1::EventEnvelope> out;
    const auto pending = platform::Outbox::ReadPending(*store_);  // kept: the loop reads into it
    EXPECT_TRUE(pending.ok());
    for (const auto& p : pending.value_or(std::vector<platform::PendingEvent>{})) {
      EXPECT_TRUE(out.emplace_back().ParseFromString(p.value));
    }
    return out;
  }
  static std::vector<int> Flat(int v) {  // items 1-12 rated v: total 12 * v
    std::vector<int> r(18, 0);
    for (int i = 0; i < 12; ++i) r[i] = v;
    r[7] = 0;  // item 8 rated 0 needs no problem type
    return r;
  }

  pbr::testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::unique_ptr<OutcomeRecorder> recorder_;
};

TEST_F(OutcomesTest, HonosTotalIsItemsOneToTwelveAndHistoryIsInTimeOrder) {
  const absl::Time later = absl::FromUnixSeconds(1'780'000'000), earlier = absl::FromUnixSeconds(1'770'000'000);
  // Items 1-12 sum to 1+2+...+4 pattern; items 13 and A-E (rated 4) must not count.
  ASSERT_TRUE(Apply("late", later, {0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 4, 4, 4, 4, 4, 4}).ok());
  ASSERT_TRUE(Apply("early", earlier, {1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}).ok());
  auto h = OutcomeRecorder::History(*store_, "p1");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->outcomes_size(), 2);
  EXPECT_EQ(h->outcomes(0).assessment_id(), "early");
  EXPECT_EQ(h->outcomes(0).honos_total(), 11);
  EXPECT_EQ(h->outcomes(1).honos_total(), 21);
  EXPECT_TRUE(h->outcomes(1).total_valid());
  auto pending = *platform::Outbox::ReadPending(*store_);
  ASSERT_EQ(pending.size(), 2u);
  pbr::v1::EventEnvelope e;
  ASSERT_TRUE(e.ParseFromString(pending[0].value));
  EXPECT_EQ(e.outcome_recorded().honos_total(), 21);
  EXPECT_EQ(pending[0].topic, "outcome-recorded");
}

TEST_F(OutcomesTest, ItemsRatedNineAreMissingAndStrictPolicyInvalidatesTheTotal) {
  ASSERT_TRUE(Apply("a", absl::FromUnixSeconds(1'780'000'000), {9, 2, 2, 2, 2, 2, 2, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0}).ok());
  auto h = OutcomeRecorder::History(*store_, "p1");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->outcomes(0).missing_items(), 1);
  EXPECT_EQ(h->outcomes(0).honos_total(), 20);
  EXPECT_FALSE(h->outcomes(0).total_valid());
}

TEST_F(OutcomesTest, MalformedRatingsAreRejectedForTheDeadLetterTopic) {
  auto st = Apply("short", absl::FromUnixSeconds(1'780'000'000), {1, 2, 3});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OutcomeRecorder::History(*store_, "p1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(OutcomesTest, AnAmendmentReplacesTheOutcomeAndIsAnnouncedUnderANewId) {
  const absl::Time t1 = absl::FromUnixSeconds(1'770'000'000), t2 = absl::FromUnixSeconds(1'775'000'000),
                   t3 = absl::FromUnixSeconds(1'780'000'000);
  ASSERT_TRUE(Apply("a1", t1, Flat(1)).ok());
  ASSERT_TRUE(Apply("a2", t2, Flat(2)).ok());
  // a1 is amended: new ratings and a date after a2's, so its entry moves to the end.
  ASSERT_TRUE(Correct("a1", 1, t3, Flat(3)).ok());
  auto h = OutcomeRecorder::History(*store_, "p1");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->outcomes_size(), 2) << "replaced, not added";
  EXPECT_EQ(h->outcomes(0).assessment_id(), "a2");
  EXPECT_EQ(h->outcomes(1).assessment_id(), "a1");
  EXPECT_EQ(h->outcomes(1).honos_total(), 3 * 11);
  EXPECT_EQ(h->outcomes(1).cluster(), 12);
  EXPECT_EQ(platform::FromProto(h->outcomes(1).assessed_at()), t3);
  auto emitted = Emitted();
  ASSERT_EQ(emitted.size(), 3u);
  EXPECT_EQ(emitted[2].outcome_recorded().assessment_id(), "a1");
  EXPECT_EQ(emitted[2].outcome_recorded().honos_total(), 3 * 11);
  EXPECT_NE(emitted[2].event_id(), emitted[0].event_id()) << "a revision is a new fact, not a duplicate";
}

TEST_F(OutcomesTest, AWithdrawalRemovesTheOutcomeAndTheLastOneLeavesNone) {
  const absl::Time t1 = absl::FromUnixSeconds(1'770'000'000), t2 = absl::FromUnixSeconds(1'775'000'000);
  ASSERT_TRUE(Apply("a1", t1, Flat(1)).ok());
  ASSERT_TRUE(Apply("a2", t2, Flat(2)).ok());
  ASSERT_TRUE(Correct("a2", 1, t2, {}, /*withdrawn=*/true).ok()) << "a withdrawal needs no ratings";
  auto h = OutcomeRecorder::History(*store_, "p1");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->outcomes_size(), 1);
  EXPECT_EQ(h->outcomes(0).assessment_id(), "a1");
  ASSERT_TRUE(Correct("a1", 1, t1, {}, /*withdrawn=*/true).ok());
  EXPECT_EQ(OutcomeRecorder::History(*store_, "p1").status().code(), absl::StatusCode::kNotFound);
  auto emitted = Emitted();
  ASSERT_EQ(emitted.size(), 4u) << "two outcomes, then each withdrawal is announced";
  EXPECT_TRUE(emitted[2].outcome_recorded().withdrawn());
  EXPECT_EQ(emitted[2].outcome_recorded().assessment_id(), "a2");
  EXPECT_TRUE(emitted[3].outcome_recorded().withdrawn());
}

TEST_F(OutcomesTest, AStaleRevisionIsIgnored) {
  const absl::Time t1 = absl::FromUnixSeconds(1'770'000'000), t2 = absl::FromUnixSeconds(1'775'000'000);
  ASSERT_TRUE(Apply("a1", t1, Flat(1)).ok());
  ASSERT_TRUE(Correct("a1", 2, t2, Flat(2)).ok());
  ASSERT_TRUE(Correct("a1", 1, t1, Flat(4)).ok());
  ASSERT_TRUE(Correct("a1", 2, t1, Flat(4)).ok());
  ASSERT_TRUE(Correct("a1", 0, t1, {}, /*withdrawn=*/true).ok());
  auto h = OutcomeRecorder::History(*store_, "p1");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->outcomes_size(), 1);
  EXPECT_EQ(h->outcomes(0).honos_total(), 2 * 11);
  EXPECT_EQ(platform::FromProto(h->outcomes(0).assessed_at()), t2);
  EXPECT_EQ(Emitted().size(), 2u);
}

TEST(OutcomesApiTest, APersonIdIsRequiredAndBounded) {
  pbr::testing::TempDir dir;
  auto store = platform::Store::Open(dir.path(), {std::string(kOutcomesFamily), std::string(kAssessmentsFamily)});
  ASSERT_TRUE(store.ok()) << store.status();
  OutcomesApi api(**store);
  pbr::v1::GetOutcomesRequest request;
  pbr::v1::PersonOutcomes reply;
  EXPECT_EQ(api.GetOutcomes(nullptr, &request, &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_person_id(std::string(129, 'p'));
  const grpc::Status st = api.GetOutcomes(nullptr, &request, &reply);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), ::testing::StartsWith("person_id: longer than 128"));
}

}  // namespace
}  // namespace pbr::outcomes
