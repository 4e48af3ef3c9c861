#pragma once
// A service's RocksDB database: one column family per kind of record, and a status-returning API.
// Every logical change is one WriteBatch (state + consumed offset + outgoing events together).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/time/time.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace pbr::platform {

// Column families the platform library itself uses in every service's database.
// "<topic>/<partition>" -> next offset; also the consumer's "assigned-partitions" (consumer.h).
inline constexpr absl::string_view kOffsetsFamily = "offsets";
inline constexpr absl::string_view kOutboxFamily = "outbox";    // sequence -> event waiting to be published
// event id -> when the id may be forgotten (EncodeOrderedU64 of Unix seconds); expired ids are
// dropped by compaction, so the family is bounded by the de-duplication retention.
inline constexpr absl::string_view kSeenFamily = "seen";
// sequence -> an outbox entry the broker refused for good (kept for an operator; see outbox.h).
inline constexpr absl::string_view kUndeliverableFamily = "outbox_undeliverable";
// sequence -> every event the service ever published, for re-publishing to a new broker (only in
// services that keep a journal: allocation, the system of record).
inline constexpr absl::string_view kJournalFamily = "journal";

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

// True for the UNAVAILABLE a Store returns when it refuses or fails a write (a full disk): the
// caller may wait and try again; nothing was written.
bool IsStoreRefusal(const absl::Status& status);

// Free bytes on the filesystem holding `dir`.
absl::StatusOr<uint64_t> FreeBytes(const std::string& dir);

struct StoreOptions {
  // Memory for every family together: the block cache, which memtables are charged to as well,
  // so a service's RocksDB memory stays near this however many families it has.
  uint64_t memory_budget = 256ull << 20;
  // Writes are refused (UNAVAILABLE, nothing written) while the data directory has less than
  // this free, so RocksDB itself never meets a full disk in its write-ahead log.
  uint64_t min_free_bytes = 64ull << 20;
  // Tests inject a fault-prone filesystem and a free-space reading; by default the real ones.
  std::shared_ptr<rocksdb::FileSystem> file_system;
  std::function<absl::StatusOr<uint64_t>(const std::string& dir)> free_bytes;
};

// Reading a store: the Store itself, or a Store seen through writes not made yet (PendingWrites,
// with which a consumer applies several messages in one batch and each handler sees the changes
// the messages before it made). Handlers and queries read through this, never around it.
class StoreReader {
 public:
  virtual ~StoreReader() = default;
  // The handle of a family that was named at Open; a wrong name is a programming error.
  virtual rocksdb::ColumnFamilyHandle* Family(absl::string_view name) const = 0;
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view family, absl::string_view key) const = 0;
  // Calls `visit` for each key with `prefix` in order until it returns false.
  virtual absl::Status Scan(absl::string_view family, absl::string_view prefix,
                            const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const = 0;
  // Calls `visit` for each key from `start` (inclusive) to the end of the family, in order, until
  // it returns false. Seeking past deleted keys is what keeps queue-like families cheap to read.
  virtual absl::Status ScanFrom(absl::string_view family, absl::string_view start,
                                const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const = 0;
  // The last key of a family, if any.
  virtual absl::StatusOr<std::optional<std::string>> LastKey(absl::string_view family) const = 0;
};

class Store : public StoreReader {
 public:
  // Opens (creating if needed) the database with the platform's families plus `families`.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir,
                                                     const std::vector<std::string>& families,
                                                     StoreOptions options = {});
  // Deletes a database (a consumer service's explicit rebuild from the topics).
  static absl::Status Destroy(const std::string& dir);
  ~Store();

  rocksdb::ColumnFamilyHandle* Family(absl::string_view name) const override;
  bool HasFamily(absl::string_view name) const { return by_name_.contains(name); }
  // How this open found the database, for telling a store an earlier version built apart: the
  // families this open had to create, and the ones it found that the caller did not ask for
  // (opened as they are, never dropped: their data stays until someone decides).
  const std::vector<std::string>& created_families() const { return created_; }
  const std::vector<std::string>& unrequested_families() const { return unrequested_; }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view family, absl::string_view key) const override;
  // `sync` makes the write-ahead log durable before returning; concurrent synced writers share
  // one fsync (RocksDB's write group), which is the group commit acknowledged intake relies on.
  // A write that cannot be made (full disk, I/O error) returns UNAVAILABLE naming the cause and
  // writes nothing; the store recovers by itself once the cause is gone (see CheckWritable).
  absl::Status Write(rocksdb::WriteBatch& batch, bool sync);
  // OK when a write would be attempted now: enough free space and no unrecovered write error.
  // After a failed write it tries to resume RocksDB (at most every 500 ms). Health checks call it.
  absl::Status CheckWritable();
  absl::Status Scan(absl::string_view family, absl::string_view prefix,
                    const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const override;
  absl::Status ScanFrom(absl::string_view family, absl::string_view start,
                        const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const override;
  absl::StatusOr<std::optional<std::string>> LastKey(absl::string_view family) const override;
  // Every family this open has, by name (a batch of pending writes is replayed family by family).
  const std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>>& families() const { return by_name_; }

  // Stops waiting for disk space inside RocksDB (a process shutting down must not hang on a full disk).
  void BeginShutdown() { shutting_down_->store(true); }

  // Flushes every memtable to table files (a clean stop, and before measuring bytes stored).
  absl::Status Flush();

  rocksdb::DB* db() const { return db_.get(); }
  const std::string& dir() const { return dir_; }

 private:
  Store() = default;
  absl::Status SpaceCheck() const;
  std::string dir_;
  StoreOptions options_;
  std::unique_ptr<rocksdb::Env> env_;  // over options_.file_system, when one is injected
  std::mutex recover_mu_;
  std::atomic<bool> write_failed_{false};
  std::shared_ptr<std::atomic<bool>> shutting_down_ = std::make_shared<std::atomic<bool>>(false);
  absl::Time next_resume_ = absl::InfinitePast();
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> by_name_;
  std::vector<std::string> created_, unrequested_;
  std::unique_ptr<rocksdb::DB> db_;
};

// The scans of a StoreReader over any RocksDB iterator (the store's, or one through pending writes):
// from `start` in order until `visit` returns false, or the first key without the prefix `start`.
absl::Status VisitKeys(rocksdb::Iterator& it, absl::string_view family, absl::string_view start, bool prefix_only,
                       const std::function<bool(absl::string_view key, absl::string_view value)>& visit);
absl::StatusOr<std::optional<std::string>> LastKeyOf(rocksdb::Iterator& it, absl::string_view family);

// Big-endian fixed-width encoding so numeric keys sort in numeric order.
std::string EncodeOrderedU64(uint64_t v);
uint64_t DecodeOrderedU64(absl::string_view s);

}  // namespace pbr::platform
