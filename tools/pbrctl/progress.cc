#include "progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace pbr::cli {
namespace {

std::string Eta(size_t done, size_t total, double rate) {
  if (done >= total) return "0s";
  if (rate <= 0) return "-";  // nothing done yet: no rate to extrapolate from
  return absl::FormatDuration(absl::Seconds(std::ceil(static_cast<double>(total - done) / rate)));
}

}  // namespace

Progress::Progress(std::string verb, size_t total, std::ostream& out, bool tty, Unit unit)
    : verb_(std::move(verb)), total_(total), out_(out), tty_(tty), unit_(unit), start_(absl::Now()) {
  thread_ = std::thread([this] { Loop(); });
}

void Progress::Finish() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
  }
  wake_.notify_all();
  thread_.join();
  Print(done_.load(), /*final=*/true);
}

void Progress::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return finished_; })) {
    Print(done_.load(), /*final=*/false);
  }
}

void Progress::Print(size_t done, bool final) {
  done = std::min(done, total_);  // a file may grow while it is read
  const std::string line = Line(verb_, done, total_, absl::Now() - start_, unit_);
  if (tty_) {
    out_ << "\r" << line << "\033[K" << (final ? "\n" : "") << std::flush;
  } else if (Decile(done) > printed_decile_) {
    printed_decile_ = Decile(done);
    out_ << line << "\n" << std::flush;
  }
}

std::string Progress::Line(const std::string& verb, size_t done, size_t total, absl::Duration elapsed, Unit unit) {
  const double seconds = std::max(absl::ToDoubleSeconds(elapsed), 1e-3);
  const double rate = static_cast<double>(done) / seconds;
  if (unit == Unit::kBytes) {
    constexpr double kMB = 1e6;
    return absl::StrFormat("%s %.1f/%.1f MB (%d%%)  %.1f MB/s  ETA %s", verb, done / kMB, total / kMB,
                           total == 0 ? 100 : done * 100 / total, rate / kMB, Eta(done, total, rate));
  }
  return absl::StrFormat("%s %d/%d (%d%%)  %.0f/s  ETA %s", verb, done, total, total == 0 ? 100 : done * 100 / total,
                         rate, Eta(done, total, rate));
}

}  // namespace pbr::cli
