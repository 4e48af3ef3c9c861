#include "platform/store.h"

#include <filesystem>

#include "platform/log.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/options.h"

namespace pbr::platform {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError()) return absl::UnavailableError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir,
                                                   const std::vector<std::string>& families) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::FailedPreconditionError(absl::StrCat("data-dir '", dir, "': ", ec.message()));

  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.enable_pipelined_write = true;
  options.IncreaseParallelism(2);

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, std::string(kOffsetsFamily),
                                    std::string(kOutboxFamily), std::string(kSeenFamily)};
  names.insert(names.end(), families.begin(), families.end());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) {
    descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  }

  std::unique_ptr<Store> store(new Store());
  store->dir_ = dir;
  rocksdb::DB* raw = nullptr;
  absl::Status st =
      FromRocks(rocksdb::DB::Open(options, dir, descriptors, &store->handles_, &raw), absl::StrCat("open ", dir));
  if (!st.ok()) return st;
  store->db_.reset(raw);
  for (size_t i = 0; i < names.size(); ++i) store->by_name_[names[i]] = store->handles_[i];
  return store;
}

Store::~Store() {
  if (!db_) return;
  // Flush memtables so a restart does not replay a long WAL; errors here are only logged by RocksDB.
  db_->FlushWAL(true).PermitUncheckedError();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
}

rocksdb::ColumnFamilyHandle* Store::Family(absl::string_view name) const {
  auto it = by_name_.find(name);
  PBR_CHECK(it != by_name_.end()) << "column family '" << name << "' was not opened";
  return it->second;
}

absl::StatusOr<std::optional<std::string>> Store::Get(absl::string_view family, absl::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Family(family), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, absl::StrCat("get ", family));
  return value;
}

absl::Status Store::Write(rocksdb::WriteBatch& batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Write(wo, &batch), "write batch");
}

absl::Status Store::Scan(absl::string_view family, absl::string_view prefix,
                         const std::function<bool(absl::string_view, absl::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Family(family)));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    if (!absl::StartsWith(key, prefix)) break;
    if (!visit(key, absl::string_view(it->value().data(), it->value().size()))) break;
  }
  return FromRocks(it->status(), absl::StrCat("scan ", family));
}

absl::Status Store::ScanFrom(absl::string_view family, absl::string_view start,
                             const std::function<bool(absl::string_view, absl::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Family(family)));
  for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid(); it->Next()) {
    if (!visit(absl::string_view(it->key().data(), it->key().size()),
               absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), absl::StrCat("scan ", family));
}

absl::StatusOr<std::optional<std::string>> Store::LastKey(absl::string_view family) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Family(family)));
  it->SeekToLast();
  if (!it->status().ok()) return FromRocks(it->status(), absl::StrCat("seek ", family));
  if (!it->Valid()) return std::nullopt;
  return it->key().ToString();
}

std::string EncodeOrderedU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t DecodeOrderedU64(absl::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

}  // namespace pbr::platform
