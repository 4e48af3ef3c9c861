#pragma once
// "Now" is injected, so tests and demos can run a year of clinical time in seconds and every
// time-dependent decision (a review becoming overdue) is reproducible.
#include <atomic>
#include <memory>
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

// Parses the `clock` setting: "system", or "fixed:<RFC3339 time>" (a ManualClock at that time).
absl::StatusOr<std::unique_ptr<Clock>> MakeClock(absl::string_view spec);

}  // namespace pbr::platform
