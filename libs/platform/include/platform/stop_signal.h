#pragma once
// Set once, when a service begins to stop. A long-lived call (a stream waiting for new data) waits on
// it between looks instead of sleeping, so it ends as soon as the service stops and the server's
// shutdown never waits out its deadline for it.
#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace pbr::platform {

class StopSignal {
 public:
  void Set() {
    {
      std::lock_guard lock(mu_);
      set_ = true;
    }
    cv_.notify_all();
  }
  bool is_set() const {
    std::lock_guard lock(mu_);
    return set_;
  }
  // Waits at most `timeout`; true when the service is stopping.
  bool WaitFor(absl::Duration timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return set_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool set_ = false;
};

}  // namespace pbr::platform
