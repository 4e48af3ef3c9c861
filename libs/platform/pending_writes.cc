#include "platform/pending_writes.h"

#include "absl/strings/str_cat.h"

namespace pbr::platform {

PendingWrites::PendingWrites(const Store& store) : store_(store) {}

absl::StatusOr<std::optional<std::string>> PendingWrites::Get(absl::string_view family, absl::string_view key) const {
  std::string value;
  rocksdb::Status s = pending_.GetFromBatchAndDB(store_.db(), rocksdb::ReadOptions(), Family(family),
                                                 rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, absl::StrCat("get ", family));
  return value;
}

std::unique_ptr<rocksdb::Iterator> PendingWrites::Iterator(absl::string_view family) const {
  rocksdb::ColumnFamilyHandle* cf = Family(family);
  // The merged iterator owns the base one.
  return std::unique_ptr<rocksdb::Iterator>(
      pending_.NewIteratorWithBase(cf, store_.db()->NewIterator(rocksdb::ReadOptions(), cf)));
}

absl::Status PendingWrites::Scan(absl::string_view family, absl::string_view prefix,
                                 const std::function<bool(absl::string_view, absl::string_view)>& visit) const {
  auto it = Iterator(family);
  return VisitKeys(*it, family, prefix, /*prefix_only=*/true, visit);
}

absl::Status PendingWrites::ScanFrom(absl::string_view family, absl::string_view start,
                                     const std::function<bool(absl::string_view, absl::string_view)>& visit) const {
  auto it = Iterator(family);
  return VisitKeys(*it, family, start, /*prefix_only=*/false, visit);
}

absl::StatusOr<std::optional<std::string>> PendingWrites::LastKey(absl::string_view family) const {
  auto it = Iterator(family);
  return LastKeyOf(*it, family);
}

absl::Status PendingWrites::RollbackToSavePoint() {
  return FromRocks(pending_.RollbackToSavePoint(), "roll back pending writes");
}

void PendingWrites::PopSavePoint() { pending_.PopSavePoint().PermitUncheckedError(); }

absl::Status PendingWrites::WriteTo(Store& store, bool sync) {
  if (empty()) return absl::OkStatus();
  // The index holds each key's latest change once: write those, not every change in between.
  rocksdb::WriteBatch latest;
  for (const auto& [name, cf] : store.families()) {
    std::unique_ptr<rocksdb::WBWIIterator> it(pending_.NewIterator(cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::WriteEntry e = it->Entry();
      rocksdb::Status s;
      switch (e.type) {
        case rocksdb::kPutRecord: s = latest.Put(cf, e.key, e.value); break;
        case rocksdb::kDeleteRecord: s = latest.Delete(cf, e.key); break;
        case rocksdb::kSingleDeleteRecord: s = latest.SingleDelete(cf, e.key); break;
        case rocksdb::kMergeRecord: s = latest.Merge(cf, e.key, e.value); break;
        default: break;  // log data and transaction markers are never staged here
      }
      if (!s.ok()) return FromRocks(s, absl::StrCat("stage pending writes of ", name));
    }
    if (!it->status().ok()) return FromRocks(it->status(), absl::StrCat("read pending writes of ", name));
  }
  if (auto st = store.Write(latest, sync); !st.ok()) return st;
  written_keys_ = latest.Count();
  written_bytes_ = latest.GetDataSize();
  Clear();
  return absl::OkStatus();
}

void PendingWrites::Clear() { pending_.Clear(); }

}  // namespace pbr::platform
