#include "platform/pending_writes.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/process.h"

namespace pbr::platform {
namespace {

std::vector<std::string> Keys(const StoreReader& reader, absl::string_view family, absl::string_view prefix) {
  std::vector<std::string> keys;
  EXPECT_TRUE(reader.Scan(family, prefix, [&](absl::string_view k, absl::string_view v) {
    keys.push_back(absl::StrCat(k, "=", v));
    return true;
  }).ok());
  return keys;
}

class PendingWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::Open(dir_.path(), {"people", "totals"});
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
    rocksdb::WriteBatch batch;
    batch.Put(store_->Family("people"), "p1", "cluster 11");
    batch.Put(store_->Family("people"), "p3", "cluster 4");
    batch.Put(store_->Family("totals"), "team-a", "5");
    ASSERT_TRUE(store_->Write(batch, false).ok());
  }
  pbr::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(PendingWritesTest, ReadsSeeTheStoreThroughWhatIsPending) {
  PendingWrites pending(*store_);
  pending.batch().Put(store_->Family("people"), "p2", "cluster 3");
  pending.batch().Put(store_->Family("people"), "p1", "cluster 12");
  pending.batch().Delete(store_->Family("people"), "p3");
  EXPECT_EQ(pending.Get("people", "p1")->value(), "cluster 12");
  EXPECT_EQ(pending.Get("people", "p2")->value(), "cluster 3");
  EXPECT_FALSE(pending.Get("people", "p3")->has_value());
  EXPECT_EQ(pending.Get("totals", "team-a")->value(), "5");  // not pending: from the store
  EXPECT_EQ(Keys(pending, "people", "p"), (std::vector<std::string>{"p1=cluster 12", "p2=cluster 3"}));
  EXPECT_EQ(pending.LastKey("people")->value(), "p2");
  // The store itself has none of it until written.
  EXPECT_EQ(Keys(*store_, "people", "p"), (std::vector<std::string>{"p1=cluster 11", "p3=cluster 4"}));
}

TEST_F(PendingWritesTest, AKeyChangedManyTimesIsWrittenOnceWithItsLatestValue) {
  PendingWrites pending(*store_);
  for (int i = 6; i <= 100; ++i) pending.batch().Put(store_->Family("totals"), "team-a", absl::StrCat(i));
  pending.batch().Put(store_->Family("people"), "p4", "cluster 8");
  pending.batch().Put(store_->Family("people"), "p4", "cluster 9");
  pending.batch().Delete(store_->Family("people"), "p1");
  ASSERT_TRUE(pending.WriteTo(*store_, false).ok());
  EXPECT_EQ(pending.written_keys(), 3);
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(store_->Get("totals", "team-a")->value(), "100");
  EXPECT_EQ(Keys(*store_, "people", "p"), (std::vector<std::string>{"p3=cluster 4", "p4=cluster 9"}));
}

TEST_F(PendingWritesTest, ASavePointDropsOneMessagesChangesAndKeepsTheRest) {
  PendingWrites pending(*store_);
  pending.batch().Put(store_->Family("totals"), "team-a", "6");  // the first message
  pending.SetSavePoint();
  pending.batch().Put(store_->Family("totals"), "team-a", "7");  // the second, refused
  pending.batch().Put(store_->Family("people"), "p9", "cluster 2");
  EXPECT_EQ(pending.Get("totals", "team-a")->value(), "7");
  ASSERT_TRUE(pending.RollbackToSavePoint().ok());
  EXPECT_EQ(pending.Get("totals", "team-a")->value(), "6");
  EXPECT_FALSE(pending.Get("people", "p9")->has_value());
  ASSERT_TRUE(pending.WriteTo(*store_, false).ok());
  EXPECT_EQ(store_->Get("totals", "team-a")->value(), "6");
  EXPECT_FALSE(store_->Get("people", "p9")->has_value());
}

}  // namespace
}  // namespace pbr::platform
