#include "platform/store.h"

#include <atomic>

#include "gtest/gtest.h"
#include "rocksdb/file_system.h"
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

// A filesystem whose disk can be made full: table and log appends then fail with NoSpace, as the
// real one would; `free` is what the store is told is left.
class FullDiskFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FullDiskFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FullDiskForTests"; }
  std::atomic<bool> full{false};
  std::atomic<uint64_t> free{1ull << 30};
  std::atomic<int> refused{0};

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override {
    auto st = target()->NewWritableFile(f, o, r, d);
    if (st.ok()) *r = std::make_unique<File>(std::move(*r), this);
    return st;
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, FullDiskFileSystem* fs)
        : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_->full) {
        ++fs_->refused;
        return rocksdb::IOStatus::NoSpace("injected: no space left on device");
      }
      return FSWritableFileOwnerWrapper::Append(d, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* dbg) override {
      if (fs_->full) {
        ++fs_->refused;
        return rocksdb::IOStatus::NoSpace("injected: no space left on device");
      }
      return FSWritableFileOwnerWrapper::Append(d, o, v, dbg);
    }

   private:
    FullDiskFileSystem* fs_;
  };
};

struct FullDiskStore {
  std::shared_ptr<FullDiskFileSystem> fs = std::make_shared<FullDiskFileSystem>();
  std::unique_ptr<Store> store;
  explicit FullDiskStore(const std::string& dir) {
    StoreOptions o;
    o.file_system = fs;
    o.min_free_bytes = 64ull << 20;
    o.free_bytes = [fs = fs](const std::string&) -> absl::StatusOr<uint64_t> { return fs->free.load(); };
    auto opened = Store::Open(dir, {"people"}, o);
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) store = *std::move(opened);
  }
  absl::Status Put(const std::string& key) {
    rocksdb::WriteBatch batch;
    batch.Put(store->Family("people"), key, "cluster 4");
    batch.Put(store->Family(kOffsetsFamily), "t/0", key);
    return store->Write(batch, /*sync=*/true);
  }
};

TEST(PlatformStore, AFullDiskRefusesWritesWithoutCrashingAndRecoversByItself) {
  pbr::testing::TempDir dir;
  FullDiskStore s(dir.path());
  ASSERT_NE(s.store, nullptr);
  ASSERT_TRUE(s.Put("before").ok());

  s.fs->free = 10ull << 20;  // below the reserve
  s.fs->full = true;
  absl::Status refused = s.Put("during");
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_NE(refused.message().find("cannot write"), std::string::npos) << refused;
  EXPECT_FALSE(s.store->CheckWritable().ok());
  EXPECT_FALSE(s.store->Get("people", "during")->has_value()) << "nothing is written when refused";
  EXPECT_EQ(s.store->Get(kOffsetsFamily, "t/0")->value(), "before");

  s.fs->full = false;
  s.fs->free = 1ull << 30;
  EXPECT_TRUE(s.store->CheckWritable().ok());
  ASSERT_TRUE(s.Put("after").ok()) << "writes resume with no restart";
  EXPECT_TRUE(s.store->Get("people", "after")->has_value());
}

TEST(PlatformStore, ABackgroundFlushOnAFullDiskIsAnErrorThenResumes) {
  pbr::testing::TempDir dir;
  FullDiskStore s(dir.path());
  ASSERT_NE(s.store, nullptr);
  ASSERT_TRUE(s.Put("p1").ok());
  // The disk fills under the store's feet (its free-space reading says there is room): the
  // flush's table file cannot be written.
  s.fs->full = true;
  EXPECT_FALSE(s.store->Flush().ok());
  EXPECT_GT(s.fs->refused.load(), 0);
  s.fs->full = false;
  // Whatever RocksDB made of the failed flush, the store writes again by itself, without a restart.
  EXPECT_TRUE(pbr::testing::WaitUntil([&] { return s.store->CheckWritable().ok(); }, absl::Seconds(20)));
  ASSERT_TRUE(s.Put("p2").ok());
  EXPECT_TRUE(s.store->Get("people", "p1")->has_value());
  EXPECT_TRUE(s.store->Get("people", "p2")->has_value());
}

TEST(PlatformStore, SeenIdsPastTheirRetentionAreDroppedByCompaction) {
  pbr::testing::TempDir dir;
  auto store = Store::Open(dir.path(), {});
  ASSERT_TRUE(store.ok());
  rocksdb::WriteBatch batch;
  const uint64_t now = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  batch.Put((*store)->Family(kSeenFamily), "expired", EncodeOrderedU64(now - 10));
  batch.Put((*store)->Family(kSeenFamily), "kept", EncodeOrderedU64(now + 3600));
  ASSERT_TRUE((*store)->Write(batch, false).ok());
  ASSERT_TRUE((*store)->Flush().ok());
  rocksdb::CompactRangeOptions cro;
  ASSERT_TRUE((*store)->db()->CompactRange(cro, (*store)->Family(kSeenFamily), nullptr, nullptr).ok());
  EXPECT_FALSE((*store)->Get(kSeenFamily, "expired")->has_value());
  EXPECT_TRUE((*store)->Get(kSeenFamily, "kept")->has_value());
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

TEST(PlatformStore, AnEarlierVersionsFamiliesAreOpenedAndReportedNotDropped) {
  pbr::testing::TempDir dir;
  {
    auto first = Store::Open(dir.path(), {"kept", "old"});
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_TRUE((*first)->created_families().empty()) << "a new database: nothing to report";
    rocksdb::WriteBatch batch;
    batch.Put((*first)->Family("old"), "k", "v");
    ASSERT_TRUE((*first)->Write(batch, true).ok());
  }
  auto second = Store::Open(dir.path(), {"kept", "new"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->created_families(), std::vector<std::string>{"new"});
  EXPECT_EQ((*second)->unrequested_families(), std::vector<std::string>{"old"});
  auto value = (*second)->Get("old", "k");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->value_or(""), "v");
}

}  // namespace
}  // namespace pbr::platform
