#include "platform/clock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "platform/log.h"
#include "platform/quote.h"

namespace pbr::platform {
namespace {

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

absl::StatusOr<absl::Time> FileClock::ReadTimeFile(const std::string& path) {
  // O_NONBLOCK: a FIFO put there by mistake must not block Now(); it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", ErrnoText(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot stat ", path, ": ", ErrnoText(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(path, ": not a regular file"));
  }
  // One read of at most kMaxFileBytes + 1: a larger file is refused, never read whole.
  char buf[kMaxFileBytes + 1];
  size_t got = 0;
  while (got < sizeof buf) {
    const ssize_t n = ::read(fd, buf + got, sizeof buf - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", ErrnoText(err)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got > kMaxFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": larger than ", kMaxFileBytes, " bytes, not a clock file"));
  }
  const absl::string_view text = absl::StripAsciiWhitespace(absl::string_view(buf, got));
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty, not an RFC3339 time"));
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", Quote(text), " is not an RFC3339 time (", err, ")"));
  }
  return t;
}

absl::StatusOr<std::unique_ptr<FileClock>> FileClock::Open(std::string path) {
  if (path.empty()) return absl::InvalidArgumentError("clock: 'file:' needs a path (file:<path>)");
  auto t = ReadTimeFile(path);
  if (!t.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("clock: 'file:", path, "': ", t.status().message()));
  }
  return std::unique_ptr<FileClock>(new FileClock(std::move(path), *t));
}

absl::Time FileClock::Now() const {
  // Read under the lock: concurrent callers see the file's times in order, and a slow read of an
  // older time can never overwrite a newer one.
  std::lock_guard<std::mutex> lock(mu_);
  auto t = ReadTimeFile(path_);
  if (t.ok()) {
    if (!problem_.empty()) {
      PBR_LOG(info) << "clock: file:" << path_ << " reads again (" << FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone())
                    << ")";
      problem_.clear();
    }
    last_good_ = *t;
    return *t;
  }
  if (std::string problem(t.status().message()); problem != problem_) {
    PBR_LOG(warn) << "clock: " << problem << "; keeping the last good time "
                  << FormatTime(absl::RFC3339_full, last_good_, absl::UTCTimeZone());
    problem_ = std::move(problem);
  }
  return last_good_;
}

absl::StatusOr<std::unique_ptr<Clock>> MakeClock(absl::string_view spec) {
  if (spec == "system") return std::make_unique<SystemClock>();
  constexpr absl::string_view kFixed = "fixed:";
  if (absl::StartsWith(spec, kFixed)) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, spec.substr(kFixed.size()), &t, &err)) {
      return absl::InvalidArgumentError(
          absl::StrCat("clock: '", spec, "' is not fixed:<RFC3339 time> (", err, ")"));
    }
    return std::make_unique<ManualClock>(t);
  }
  constexpr absl::string_view kFile = "file:";
  if (absl::StartsWith(spec, kFile)) {
    auto clock = FileClock::Open(std::string(spec.substr(kFile.size())));
    if (!clock.ok()) return clock.status();
    return std::unique_ptr<Clock>(*std::move(clock));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("clock: '", spec, "' must be 'system', 'fixed:<RFC3339 time>' or 'file:<path>'"));
}

}  // namespace pbr::platform
