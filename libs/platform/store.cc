#include "platform/store.h"

#include <algorithm>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "platform/log.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/sst_file_manager.h"
#include "rocksdb/table.h"
#include "rocksdb/write_buffer_manager.h"

namespace pbr::platform {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

// RocksDB (as Debian builds it, with assertions on) aborts the process on the next write to a
// write-ahead log or MANIFEST file after one of their writes failed, and it cannot be closed or
// resumed without that write. So those files must never see a full disk: their appends wait for
// space instead (Store::Write already refuses new writes long before the disk is full, so a wait
// here means something else filled the disk in between). Table files, which RocksDB handles
// failing cleanly, are refused with NoSpace before they would fill the disk to the last byte.
class DiskGuardFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  DiskGuardFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::string name, bool log_file,
                std::function<absl::StatusOr<uint64_t>(const std::string&)> free_bytes, std::string dir,
                std::shared_ptr<std::atomic<bool>> shutting_down)
      : FSWritableFileOwnerWrapper(std::move(file)), name_(std::move(name)), log_file_(log_file),
        free_bytes_(std::move(free_bytes)), dir_(std::move(dir)), shutting_down_(std::move(shutting_down)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    if (auto st = Room(data.size()); !st.ok()) return st;
    return FSWritableFileOwnerWrapper::Append(data, o, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* dbg) override {
    if (auto st = Room(data.size()); !st.ok()) return st;
    return FSWritableFileOwnerWrapper::Append(data, o, v, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    if (auto st = Room(data.size()); !st.ok()) return st;
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* dbg) override {
    if (auto st = Room(data.size()); !st.ok()) return st;
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, v, dbg);
  }

 private:
  static constexpr uint64_t kMargin = 1 * kMiB;
  bool Fits(size_t n) const {
    auto free = free_bytes_(dir_);
    return !free.ok() || *free >= n + kMargin;  // an unreadable figure must not stop writes
  }
  rocksdb::IOStatus Room(size_t n) {
    if (Fits(n)) return rocksdb::IOStatus::OK();
    if (!log_file_) return rocksdb::IOStatus::NoSpace(absl::StrCat(name_, ": the data directory is full"));
    PBR_LOG(err) << "store: " << name_ << " waits for free space on " << dir_ << " (the disk is full)";
    absl::Time next_log = absl::Now() + absl::Seconds(30);
    while (!Fits(n)) {
      if (shutting_down_->load()) {
        return rocksdb::IOStatus::NoSpace(absl::StrCat(name_, ": the disk is still full at shutdown"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (absl::Now() >= next_log) {
        PBR_LOG(err) << "store: " << name_ << " still waits for free space on " << dir_;
        next_log = absl::Now() + absl::Seconds(30);
      }
    }
    PBR_LOG(warn) << "store: free space is back on " << dir_ << "; " << name_ << " continues";
    return rocksdb::IOStatus::OK();
  }
  std::string name_;
  bool log_file_;
  std::function<absl::StatusOr<uint64_t>(const std::string&)> free_bytes_;
  std::string dir_;
  std::shared_ptr<std::atomic<bool>> shutting_down_;
};

class DiskGuardFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  DiskGuardFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base,
                      std::function<absl::StatusOr<uint64_t>(const std::string&)> free_bytes, std::string dir,
                      std::shared_ptr<std::atomic<bool>> shutting_down)
      : FileSystemWrapper(base), free_bytes_(std::move(free_bytes)), dir_(std::move(dir)),
        shutting_down_(std::move(shutting_down)) {}
  const char* Name() const override { return "PbrDiskGuard"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override {
    return Guard(f, target()->NewWritableFile(f, o, r, d), r);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override {
    return Guard(f, target()->ReopenWritableFile(f, o, r, d), r);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* d) override {
    return Guard(f, target()->ReuseWritableFile(f, old, o, r, d), r);
  }

 private:
  rocksdb::IOStatus Guard(const std::string& fname, rocksdb::IOStatus st,
                          std::unique_ptr<rocksdb::FSWritableFile>* r) {
    if (!st.ok()) return st;
    const std::string base = std::filesystem::path(fname).filename().string();
    const bool log_file = absl::EndsWith(base, ".log") || absl::StartsWith(base, "MANIFEST");
    *r = std::make_unique<DiskGuardFile>(std::move(*r), base, log_file, free_bytes_, dir_, shutting_down_);
    return st;
  }
  std::function<absl::StatusOr<uint64_t>(const std::string&)> free_bytes_;
  std::string dir_;
  std::shared_ptr<std::atomic<bool>> shutting_down_;
};

// Drops de-duplication ids whose retention has passed (see kSeenFamily).
class SeenExpiry final : public rocksdb::CompactionFilter {
 public:
  const char* Name() const override { return "PbrSeenExpiry"; }
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*, bool*) const override {
    if (value.size() != 8) return false;  // written before retention existed: kept
    return DecodeOrderedU64(absl::string_view(value.data(), value.size())) <
           static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  }
};

// Tells the store when RocksDB stops writing after a background error (a flush or compaction that
// met a full disk) and when it has recovered, so health and writes follow without a failed write first.
class ErrorWatch final : public rocksdb::EventListener {
 public:
  explicit ErrorWatch(std::atomic<bool>* failed) : failed_(failed) {}
  void OnBackgroundError(rocksdb::BackgroundErrorReason, rocksdb::Status* error) override {
    if (error != nullptr && !error->ok()) failed_->store(true);
  }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok()) failed_->store(false);
  }

 private:
  std::atomic<bool>* failed_;
};

constexpr absl::string_view kRefusalPayload = "pbr.platform.StoreRefusal";

absl::Status Refusal(std::string message) {
  absl::Status st = absl::UnavailableError(std::move(message));
  st.SetPayload(kRefusalPayload, absl::Cord("1"));
  return st;
}

}  // namespace

bool IsStoreRefusal(const absl::Status& status) { return status.GetPayload(kRefusalPayload).has_value(); }

absl::StatusOr<uint64_t> FreeBytes(const std::string& dir) {
  struct statvfs fs;
  if (statvfs(dir.c_str(), &fs) != 0) {
    return absl::UnavailableError(absl::StrCat("free space of ", dir, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

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
                                                   const std::vector<std::string>& families, StoreOptions opts) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::FailedPreconditionError(absl::StrCat("data-dir '", dir, "': ", ec.message()));
  if (!opts.free_bytes) opts.free_bytes = FreeBytes;
  if (!opts.file_system) opts.file_system = rocksdb::FileSystem::Default();

  std::unique_ptr<Store> store(new Store());
  store->dir_ = dir;
  store->options_ = opts;
  store->env_ = rocksdb::NewCompositeEnv(std::make_shared<DiskGuardFileSystem>(opts.file_system, opts.free_bytes, dir,
                                                                             store->shutting_down_));

  rocksdb::DBOptions options;
  options.env = store->env_.get();
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.enable_pipelined_write = true;
  options.IncreaseParallelism(2);
  // Checks room before compactions and resumes by itself after a background write found the disk full.
  options.sst_file_manager.reset(rocksdb::NewSstFileManager(store->env_.get()));
  options.listeners.push_back(std::make_shared<ErrorWatch>(&store->write_failed_));
  options.keep_log_file_num = 3;
  options.max_log_file_size = 4 * kMiB;
  // One memory budget for the whole database: memtables are charged to the block cache.
  // Index and filter blocks in the high-priority pool (RocksDB 7.8's defaults, stated so a later version's
  // cannot change them silently): data blocks are evicted before them.
  auto cache = rocksdb::NewLRUCache(opts.memory_budget, /*num_shard_bits=*/-1, /*strict_capacity_limit=*/false,
                                    /*high_pri_pool_ratio=*/0.5);
  options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(opts.memory_budget / 2, cache);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Partitioned: once a store outgrows the cache (a million people), a lookup that misses loads one small
  // filter and index partition, not a table's whole filter (megabytes read and checksummed per miss, which
  // made reads, not the projections, most of a consumer's time). The small top levels stay pinned.
  table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  rocksdb::ColumnFamilyOptions family_options;
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  family_options.write_buffer_size = std::min<uint64_t>(16 * kMiB, std::max<uint64_t>(opts.memory_budget / 16, kMiB));
  static const SeenExpiry kSeenExpiry;

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, std::string(kOffsetsFamily),
                                    std::string(kOutboxFamily), std::string(kSeenFamily),
                                    std::string(kUndeliverableFamily)};
  names.insert(names.end(), families.begin(), families.end());
  // RocksDB opens a database only with every family it holds: an earlier version's family is
  // opened too (and reported), so an upgrade is a decision the service makes, not a failed open.
  std::vector<std::string> existing;
  if (!rocksdb::DB::ListColumnFamilies(options, dir, &existing).ok()) existing.clear();  // a new database
  for (const auto& n : names) {
    if (!existing.empty() && std::find(existing.begin(), existing.end(), n) == existing.end()) {
      store->created_.push_back(n);
    }
  }
  for (const auto& n : existing) {
    if (std::find(names.begin(), names.end(), n) == names.end()) {
      store->unrequested_.push_back(n);
      names.push_back(n);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) {
    rocksdb::ColumnFamilyOptions o = family_options;
    if (n == kSeenFamily) o.compaction_filter = &kSeenExpiry;
    descriptors.emplace_back(n, o);
  }
  rocksdb::DB* raw = nullptr;
  absl::Status st =
      FromRocks(rocksdb::DB::Open(options, dir, descriptors, &store->handles_, &raw), absl::StrCat("open ", dir));
  if (!st.ok()) return st;
  store->db_.reset(raw);
  for (size_t i = 0; i < names.size(); ++i) store->by_name_[names[i]] = store->handles_[i];
  return store;
}

absl::Status Store::Destroy(const std::string& dir) {
  rocksdb::Options options;
  return FromRocks(rocksdb::DestroyDB(dir, options), absl::StrCat("destroy ", dir));
}

Store::~Store() {
  if (!db_) return;
  // Flush memtables so a restart does not replay a long WAL; a failure (full disk) leaves the WAL,
  // which replays on the next start.
  if (auto st = Flush(); !st.ok()) PBR_LOG(warn) << "store: flush on close: " << st;
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

absl::Status Store::SpaceCheck() const {
  auto free = options_.free_bytes(dir_);
  if (!free.ok()) return absl::OkStatus();  // cannot tell: let RocksDB try
  if (*free < options_.min_free_bytes) {
    return Refusal(absl::StrCat("the store cannot write: its data directory ", dir_, " has ",
                                               *free / kMiB, " MiB free, below the ", options_.min_free_bytes / kMiB,
                                               " MiB it keeps in reserve; nothing was written"));
  }
  return absl::OkStatus();
}

absl::Status Store::CheckWritable() {
  if (auto st = SpaceCheck(); !st.ok()) return st;
  if (!write_failed_.load()) return absl::OkStatus();
  std::lock_guard lock(recover_mu_);
  if (!write_failed_.load()) return absl::OkStatus();
  if (absl::Now() < next_resume_) return Refusal("the store cannot write: recovering from a failed write");
  next_resume_ = absl::Now() + absl::Milliseconds(500);
  if (rocksdb::Status s = db_->Resume(); !s.ok()) {
    return Refusal(absl::StrCat("the store cannot write: ", s.ToString()));
  }
  write_failed_ = false;
  PBR_LOG(warn) << "store: " << dir_ << " writes again";
  return absl::OkStatus();
}

absl::Status Store::Write(rocksdb::WriteBatch& batch, bool sync) {
  if (auto st = CheckWritable(); !st.ok()) return st;
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  if (rocksdb::Status s = db_->Write(wo, &batch); !s.ok()) {
    write_failed_ = true;
    PBR_LOG(err) << "store: write to " << dir_ << " failed: " << s.ToString();
    return Refusal(absl::StrCat("the store cannot write: ", s.ToString()));
  }
  return absl::OkStatus();
}

absl::Status Store::Flush() {
  rocksdb::FlushOptions fo;
  return FromRocks(db_->Flush(fo, handles_), "flush");
}

absl::Status VisitKeys(rocksdb::Iterator& it, absl::string_view family, absl::string_view start, bool prefix_only,
                       const std::function<bool(absl::string_view, absl::string_view)>& visit) {
  for (it.Seek(rocksdb::Slice(start.data(), start.size())); it.Valid(); it.Next()) {
    absl::string_view key(it.key().data(), it.key().size());
    if (prefix_only && !absl::StartsWith(key, start)) break;
    if (!visit(key, absl::string_view(it.value().data(), it.value().size()))) break;
  }
  return FromRocks(it.status(), absl::StrCat("scan ", family));
}

absl::StatusOr<std::optional<std::string>> LastKeyOf(rocksdb::Iterator& it, absl::string_view family) {
  it.SeekToLast();
  if (!it.status().ok()) return FromRocks(it.status(), absl::StrCat("seek ", family));
  if (!it.Valid()) return std::nullopt;
  return it.key().ToString();
}

absl::Status Store::Scan(absl::string_view family, absl::string_view prefix,
                         const std::function<bool(absl::string_view, absl::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Family(family)));
  return VisitKeys(*it, family, prefix, /*prefix_only=*/true, visit);
}

absl::Status Store::ScanFrom(absl::string_view family, absl::string_view start,
                             const std::function<bool(absl::string_view, absl::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Family(family)));
  return VisitKeys(*it, family, start, /*prefix_only=*/false, visit);
}

absl::StatusOr<std::optional<std::string>> Store::LastKey(absl::string_view family) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Family(family)));
  return LastKeyOf(*it, family);
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
