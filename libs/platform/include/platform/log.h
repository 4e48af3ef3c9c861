#pragma once
// Stream-style logging over spdlog (Debian's abseil predates absl/log).
//   PBR_LOG(warn) << "outbox: " << status;
//   PBR_CHECK(handle != nullptr) << "column family " << name;   // programming errors only
#include <cstdlib>
#include <sstream>

#include "spdlog/spdlog.h"

namespace pbr::platform {

class LogLine {
 public:
  explicit LogLine(spdlog::level::level_enum level, bool fatal = false) : level_(level), fatal_(fatal) {}
  LogLine(const LogLine&) = delete;
  ~LogLine() {
    spdlog::log(level_, "{}", os_.str());
    if (fatal_) {
      spdlog::default_logger()->flush();
      std::abort();
    }
  }
  template <typename T>
  LogLine& operator<<(const T& v) {
    os_ << v;
    return *this;
  }

 private:
  spdlog::level::level_enum level_;
  bool fatal_;
  std::ostringstream os_;
};

}  // namespace pbr::platform

#define PBR_LOG(lvl) ::pbr::platform::LogLine(::spdlog::level::lvl)
#define PBR_CHECK(cond) \
  if (cond) {           \
  } else                \
    ::pbr::platform::LogLine(::spdlog::level::critical, true) << __FILE__ << ":" << __LINE__ << " check failed: " #cond " "
