#include "platform/clock.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pbr::platform {

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
  return absl::InvalidArgumentError(
      absl::StrCat("clock: '", spec, "' must be 'system' or 'fixed:<RFC3339 time>'"));
}

}  // namespace pbr::platform
