#pragma once
// "Now" is injected, so tests and demos can run a year of clinical time in seconds and every
// time-dependent decision (a review becoming overdue) is reproducible.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pbr::platform {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// A clock that only moves when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start) : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Set(absl::Time t) { nanos_.store(absl::ToUnixNanos(t)); }
  void Advance(absl::Duration d) { nanos_.fetch_add(absl::ToInt64Nanoseconds(d)); }

 private:
  std::atomic<int64_t> nanos_;
};

// A clock whose time is the RFC3339 timestamp written in a file, read again at every Now(), so a
// replay (a test in another process) can move the clinical time of running services, across their
// restarts too. The writer replaces the file atomically (writes a temporary file, then renames it).
// A later read that fails (missing, unreadable, too large, not a time) keeps the last good time,
// so a bad read never moves the clock, and logs each distinct problem once (and the recovery). A
// good read is the time, even an earlier one: the file is the truth. Thread-safe.
class FileClock final : public Clock {
 public:
  // The most a clock file may hold: a timestamp and some whitespace.
  static constexpr size_t kMaxFileBytes = 256;

  // Reads the file once: an error (naming `clock` and the path) when it cannot be read or parsed.
  static absl::StatusOr<std::unique_ptr<FileClock>> Open(std::string path);

  absl::Time Now() const override;
  const std::string& path() const { return path_; }

  // The time in the file, or why there is none (what Now() logs).
  static absl::StatusOr<absl::Time> ReadTimeFile(const std::string& path);

 private:
  FileClock(std::string path, absl::Time start) : path_(std::move(path)), last_good_(start) {}

  const std::string path_;
  mutable std::mutex mu_;
  mutable absl::Time last_good_;     // guarded by mu_
  mutable std::string problem_;      // guarded by mu_: the problem last logged, "" while reads succeed
};

// Parses the `clock` setting: "system", "fixed:<RFC3339 time>" (a ManualClock at that time) or
// "file:<path>" (a FileClock on that file).
absl::StatusOr<std::unique_ptr<Clock>> MakeClock(absl::string_view spec);

}  // namespace pbr::platform
