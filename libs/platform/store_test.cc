#include "platform/store.h"

#include "gtest/gtest.h"
#include "platform/clock.h"
#include "platform/events.h"
#include "testing/process.h"

namespace pbr::platform {
namespace {

TEST(PlatformStore, BatchIsAtomicAcrossFamiliesAndSurvivesReopen) {
  pbr::testing::TempDir dir;
  {
    auto store = Store::Open(dir.path(), {"people"});
    ASSERT_TRUE(store.ok()) << store.status();
    rocksdb::WriteBatch batch;
    batch.Put((*store)->Family("people"), "p1", "cluster 11");
    batch.Put((*store)->Family(kOffsetsFamily), "t/0", "42");
    ASSERT_TRUE((*store)->Write(batch, true).ok());
  }
  auto store = Store::Open(dir.path(), {"people"});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Get("people", "p1")->value(), "cluster 11");
  EXPECT_EQ((*store)->Get(kOffsetsFamily, "t/0")->value(), "42");
  EXPECT_FALSE((*store)->Get("people", "p2")->has_value());
}

TEST(PlatformStore, ScanVisitsOnlyThePrefixInOrder) {
  pbr::testing::TempDir dir;
  auto store = Store::Open(dir.path(), {"due"});
  ASSERT_TRUE(store.ok());
  rocksdb::WriteBatch batch;
  for (const char* k : {"due/2026-03-01/b", "due/2026-01-01/a", "other/x", "due/2026-02-01/c"}) {
    batch.Put((*store)->Family("due"), k, "");
  }
  ASSERT_TRUE((*store)->Write(batch, false).ok());
  std::vector<std::string> keys;
  ASSERT_TRUE((*store)->Scan("due", "due/", [&](absl::string_view k, absl::string_view) {
    keys.emplace_back(k);
    return true;
  }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"due/2026-01-01/a", "due/2026-02-01/c", "due/2026-03-01/b"}));
  EXPECT_EQ((*store)->LastKey("due")->value(), "other/x");
}

TEST(PlatformStore, OrderedIntegersSortNumerically) {
  EXPECT_LT(EncodeOrderedU64(255), EncodeOrderedU64(256));
  EXPECT_LT(EncodeOrderedU64(1), EncodeOrderedU64(1ull << 40));
  for (uint64_t v : {0ull, 1ull, 255ull, 65536ull, ~0ull}) EXPECT_EQ(DecodeOrderedU64(EncodeOrderedU64(v)), v);
}

TEST(PlatformStore, OpeningAFileAsDirectoryFailsWithStatus) {
  auto store = Store::Open("/dev/null/x", {});
  EXPECT_FALSE(store.ok());
}

TEST(PlatformEvents, DeterministicIdsAndPseudonyms) {
  EXPECT_EQ(DeterministicId("assessment-recorded", {"rio", "123"}), DeterministicId("assessment-recorded", {"rio", "123"}));
  EXPECT_NE(DeterministicId("assessment-recorded", {"rio", "123"}), DeterministicId("assessment-recorded", {"rio1", "23"}));
  EXPECT_NE(DeterministicId("a", {"x"}), DeterministicId("b", {"x"}));
  EXPECT_EQ(KeyedHash("secret", "9434765919"), KeyedHash("secret", "9434765919"));
  EXPECT_NE(KeyedHash("secret", "9434765919"), KeyedHash("other", "9434765919"));
  EXPECT_EQ(KeyedHash("secret", "9434765919").size(), 32u);
}

TEST(PlatformEvents, TimeConversionsRoundTrip) {
  const absl::Time t = absl::FromUnixNanos(1'700'000'000'123'456'789);
  EXPECT_EQ(FromProto(ToProto(t)), t);
  EXPECT_EQ(FromProto(ToProto(absl::CivilDay(2024, 2, 29))), absl::CivilDay(2024, 2, 29));
  // 23:30 UTC in British Summer Time is already the next clinical day.
  EXPECT_EQ(ClinicalDay(absl::FromCivil(absl::CivilSecond(2026, 7, 1, 23, 30, 0), absl::UTCTimeZone())),
            absl::CivilDay(2026, 7, 2));
}

TEST(PlatformClock, FixedClockParsesAndRefusesNonsense) {
  auto c = MakeClock("fixed:2026-11-22T09:00:00Z");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Now(), absl::FromCivil(absl::CivilSecond(2026, 11, 22, 9, 0, 0), absl::UTCTimeZone()));
  EXPECT_FALSE(MakeClock("fixed:yesterday").ok());
  EXPECT_FALSE(MakeClock("sundial").ok());
}

}  // namespace
}  // namespace pbr::platform

#include "platform/topic_admin.h"

namespace pbr::platform {
namespace {

TEST(PlatformTopicAdmin, EveryTopicIsSpecifiedWithThePrefixAndKeepsEverything) {
  auto topics = PlatformTopics("prod.", 12, 3, 2);
  ASSERT_EQ(topics.size(), std::size(topic::kAll));
  for (const auto& t : topics) {
    EXPECT_EQ(t.name.rfind("prod.", 0), 0u) << t.name;
    EXPECT_EQ(t.partitions, 12);
    EXPECT_EQ(t.replication_factor, 3);
    EXPECT_EQ(t.configs.at("retention.ms"), "-1") << "offsets live in RocksDB: the log must not be trimmed";
    EXPECT_EQ(t.configs.at("min.insync.replicas"), "2");
  }
}

TEST(PlatformTopicAdmin, AnUnreachableClusterIsADeadlineNotAHang) {
  KafkaSettings settings;
  settings.bootstrap = "127.0.0.1:1";  // nothing listens on port 1
  settings.timeout = absl::Milliseconds(500);
  auto result = CreateTopics(settings, PlatformTopics("", 1, 1, 1));
  EXPECT_FALSE(result.ok());
}

}  // namespace
}  // namespace pbr::platform
