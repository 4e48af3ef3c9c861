#pragma once
// Service configuration: declared once per service, read from (lowest precedence first)
// the declared defaults, a `--config=FILE` of `key = value` lines, PBR_* environment variables,
// and `--key=value` flags. Every value is validated at start-up and every problem is reported
// at once, naming the setting and where it came from, so a bad deployment fails fast and clearly.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pbr::platform {

enum class SettingKind { kString, kInt, kBool, kDuration, kHostPort, kChoice };

struct SettingSpec {
  std::string name;           // e.g. "grpc-address"; env var PBR_GRPC_ADDRESS
  SettingKind kind = SettingKind::kString;
  std::string default_value;  // "" with required=true means it must be given
  std::string help;
  bool required = false;
  int64_t min = 0, max = INT64_MAX;   // for kInt
  std::vector<std::string> choices;    // for kChoice
};

class Config {
 public:
  // argv[0] is skipped; `--help` yields a NotFound status whose message is the usage text.
  static absl::StatusOr<Config> Load(std::span<const SettingSpec> specs, int argc, const char* const* argv,
                                     const char* const* envp);

  const std::string& GetString(absl::string_view name) const;
  int64_t GetInt(absl::string_view name) const;
  bool GetBool(absl::string_view name) const;
  absl::Duration GetDuration(absl::string_view name) const;

  static std::string EnvName(absl::string_view setting);
  static std::string Usage(std::span<const SettingSpec> specs);

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

// Settings every service shares: addresses, data directory, broker, clock, shutdown.
std::vector<SettingSpec> CommonSettings(absl::string_view service_name, int default_grpc_port,
                                        int default_metrics_port);

}  // namespace pbr::platform
