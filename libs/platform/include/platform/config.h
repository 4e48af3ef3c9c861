#pragma once
// Service configuration: declared once per service, read from (lowest precedence first)
// the declared defaults, a `--config=FILE` of `key = value` lines, PBR_* environment variables,
// and `--key=value` flags. Every value is validated at start-up and every problem is reported
// at once, naming the setting and where it came from, so a bad deployment fails fast and clearly.
// Unknown names are refused wherever they appear: a flag, a line of the file, or a PBR_* variable
// (PBR_ belongs to the services' settings alone; the client tools use PBRCTL_*).
//
// A setting declared `secret` (a key) is never taken from a flag or the config file, which other
// local users can read (ps, /proc/PID/cmdline; a file copied around with the rest): only from the
// environment PBR_NAME, or from a file named by the companion setting `NAME-file` (which may come
// from anywhere), its content with one trailing newline removed. A file others can read is refused.
// Its value never appears in a message.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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
  bool secret = false;                 // see the top of this file
  // For a secret used as a key: the least EstimateEntropyBits() allowed; then at least a quarter as
  // many characters are required too (32 for 128 bits). 0: no strength check.
  int min_entropy_bits = 0;
};

// A rough estimate of the entropy of `value` in bits: its length times the smaller of the Shannon
// entropy of its characters and of the steps between neighbouring characters (byte differences), so
// repeats ("aaaa"), small alphabets ("abab") and runs ("abcdef", "0123") count for little. It catches
// the obvious, not every guessable value (an English sentence scores well): generate keys, don't
// choose them. Random text scores a little under its true entropy (a short sample shows too few symbols):
// 64 random base64 characters score about 330, 64 random hex digits about 245, 32 random hex digits
// about 115 (too few for 128) and "aaaaaaaaaaaaaaaa" 0.
double EstimateEntropyBits(absl::string_view value);

class Config {
 public:
  // argv[0] is skipped; `--help` yields a NotFound status whose message is the usage text.
  static absl::StatusOr<Config> Load(std::span<const SettingSpec> specs, int argc, const char* const* argv,
                                     const char* const* envp);

  const std::string& GetString(absl::string_view name) const;
  int64_t GetInt(absl::string_view name) const;
  bool GetBool(absl::string_view name) const;
  absl::Duration GetDuration(absl::string_view name) const;
  // Whether the setting was declared (a host feature a service may or may not use).
  bool Has(absl::string_view name) const { return values_.find(name) != values_.end(); }

  static std::string EnvName(absl::string_view setting);
  static constexpr absl::string_view kEnvPrefix = "PBR_";
  static std::string Usage(std::span<const SettingSpec> specs);

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

// Settings every service shares: addresses, data directory, broker, clock, shutdown.
std::vector<SettingSpec> CommonSettings(absl::string_view service_name, int default_grpc_port,
                                        int default_metrics_port);

}  // namespace pbr::platform
