#pragma once
// A service's RocksDB database: one column family per kind of record, and a status-returning API.
// Every logical change is one WriteBatch (state + consumed offset + outgoing events together).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace pbr::platform {

// Column families the platform library itself uses in every service's database.
inline constexpr absl::string_view kOffsetsFamily = "offsets";  // "<topic>/<partition>" -> next offset
inline constexpr absl::string_view kOutboxFamily = "outbox";    // sequence -> event waiting to be published
inline constexpr absl::string_view kSeenFamily = "seen";        // event id -> "" once applied

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

class Store {
 public:
  // Opens (creating if needed) the database with the platform's families plus `families`.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir,
                                                     const std::vector<std::string>& families);
  ~Store();

  // The handle of a family that was named at Open; a wrong name is a programming error.
  rocksdb::ColumnFamilyHandle* Family(absl::string_view name) const;

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view family, absl::string_view key) const;
  // `sync` makes the write-ahead log durable before returning; concurrent synced writers share
  // one fsync (RocksDB's write group), which is the group commit acknowledged intake relies on.
  absl::Status Write(rocksdb::WriteBatch& batch, bool sync);
  // Calls `visit` for each key with `prefix` in order until it returns false.
  absl::Status Scan(absl::string_view family, absl::string_view prefix,
                    const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const;
  // Calls `visit` for each key from `start` (inclusive) to the end of the family, in order, until
  // it returns false. Seeking past deleted keys is what keeps queue-like families cheap to read.
  absl::Status ScanFrom(absl::string_view family, absl::string_view start,
                        const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const;
  // The last key of a family, if any.
  absl::StatusOr<std::optional<std::string>> LastKey(absl::string_view family) const;

  rocksdb::DB* db() const { return db_.get(); }
  const std::string& dir() const { return dir_; }

 private:
  Store() = default;
  std::string dir_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> by_name_;
  std::unique_ptr<rocksdb::DB> db_;
};

// Big-endian fixed-width encoding so numeric keys sort in numeric order.
std::string EncodeOrderedU64(uint64_t v);
uint64_t DecodeOrderedU64(absl::string_view s);

}  // namespace pbr::platform
