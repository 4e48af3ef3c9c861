#include "outcomes_service.h"

#include "care_bridge.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "testing/process.h"

namespace pbr::outcomes {
namespace {

class OutcomesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), {std::string(kOutcomesFamily)});
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

}  // namespace
}  // namespace pbr::outcomes
