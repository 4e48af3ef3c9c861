// A progress line on stderr: rows done/total, rate and ETA. Rewritten in place (\r) at most five times a
// second on a terminal; elsewhere (logs, CI) one line per tenth of the work, so logs stay short.
// Shared by `pbrctl demo` and pbr-import.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include "absl/time/time.h"

namespace pbr::cli {

class Progress {
 public:
  // What is counted: things (rows, people) or bytes of a file (shown in MB).
  enum class Unit { kCount, kBytes };
  // `verb` starts the line ("sent 40/100 ..."). `tty` chooses the in-place form.
  Progress(std::string verb, size_t total, std::ostream& out, bool tty, Unit unit = Unit::kCount);
  ~Progress() { Finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(size_t n = 1) { done_.fetch_add(n, std::memory_order_relaxed); }  // thread-safe
  void Set(size_t done) { done_.store(done, std::memory_order_relaxed); }
  // Prints the final line and stops the ticker; idempotent.
  void Finish();

  // "sent 40/100 (40%)  20/s  ETA 3s"; in bytes "sent 12.5/50.0 MB (25%)  6.2 MB/s  ETA 7s"
  static std::string Line(const std::string& verb, size_t done, size_t total, absl::Duration elapsed,
                          Unit unit = Unit::kCount);

 private:
  void Loop();
  void Print(size_t done, bool final);
  int Decile(size_t done) const { return total_ == 0 ? 10 : static_cast<int>(done * 10 / total_); }

  const std::string verb_;
  const size_t total_;
  std::ostream& out_;
  const bool tty_;
  const Unit unit_;
  const absl::Time start_;
  std::atomic<size_t> done_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool finished_ = false;
  int printed_decile_ = 0;
  std::thread thread_;
};

}  // namespace pbr::cli
