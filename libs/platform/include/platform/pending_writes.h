#pragma once
// Writes not made yet, read together with the store beneath them. A consumer applies a run of
// messages into one PendingWrites so the whole run is one store write (one memtable insert per
// key however often the run changed it), while each message's handlers read what the messages
// before it changed. Save points let one message's changes be dropped (a dead-lettered message)
// without the rest.
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/store.h"
#include "rocksdb/utilities/write_batch_with_index.h"

namespace pbr::platform {

class PendingWrites : public StoreReader {
 public:
  explicit PendingWrites(const Store& store);

  // Where changes are staged: Put and Delete as on a WriteBatch.
  rocksdb::WriteBatchBase& batch() { return pending_; }
  bool empty() const { return pending_.GetWriteBatch()->Count() == 0; }
  // Bytes staged, every change counted (a bound on how much one write carries).
  size_t bytes() const { return pending_.GetWriteBatch()->GetDataSize(); }

  void SetSavePoint() { pending_.SetSavePoint(); }
  // Drops everything staged since the last SetSavePoint.
  absl::Status RollbackToSavePoint();
  void PopSavePoint();

  // Writes the latest change of each key, all in one WriteBatch, and starts empty again. On a
  // refusal (see Store::Write) nothing is written and the changes stay pending.
  absl::Status WriteTo(Store& store, bool sync);
  // Forgets every staged change.
  void Clear();
  // What the last WriteTo wrote: keys (each once) and bytes.
  int64_t written_keys() const { return written_keys_; }
  size_t written_bytes() const { return written_bytes_; }

  rocksdb::ColumnFamilyHandle* Family(absl::string_view name) const override { return store_.Family(name); }
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view family, absl::string_view key) const override;
  absl::Status Scan(absl::string_view family, absl::string_view prefix,
                    const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const override;
  absl::Status ScanFrom(absl::string_view family, absl::string_view start,
                        const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const override;
  absl::StatusOr<std::optional<std::string>> LastKey(absl::string_view family) const override;

 private:
  std::unique_ptr<rocksdb::Iterator> Iterator(absl::string_view family) const;

  const Store& store_;
  // overwrite_key: the index keeps a key's latest change only, so reads and WriteTo see that one.
  // Mutable: reading through the index (an iterator) is not a const call on it.
  mutable rocksdb::WriteBatchWithIndex pending_{rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true};
  int64_t written_keys_ = 0;
  size_t written_bytes_ = 0;
};

}  // namespace pbr::platform
