#include "platform/config.h"

#include <cctype>
#include <fstream>

#include "platform/log.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pbr::platform {
namespace {

const SettingSpec* FindSpec(std::span<const SettingSpec> specs, absl::string_view name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// Returns "" when valid, else why not.
std::string CheckValue(const SettingSpec& spec, const std::string& value) {
  switch (spec.kind) {
    case SettingKind::kString:
      return "";
    case SettingKind::kInt: {
      int64_t v;
      if (!absl::SimpleAtoi(value, &v)) return "is not a whole number";
      if (v < spec.min || v > spec.max) return absl::StrCat("must be between ", spec.min, " and ", spec.max);
      return "";
    }
    case SettingKind::kBool: {
      bool b;
      return absl::SimpleAtob(value, &b) ? "" : "must be true or false";
    }
    case SettingKind::kDuration: {
      absl::Duration d;
      if (!absl::ParseDuration(value, &d)) return "is not a duration such as 500ms, 10s or 2m";
      return d < absl::ZeroDuration() ? "must not be negative" : "";
    }
    case SettingKind::kHostPort: {
      auto colon = value.rfind(':');
      int port;
      if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(value.substr(colon + 1), &port) ||
          port < 0 || port > 65535) {
        return "must be HOST:PORT with a port from 0 to 65535";
      }
      return "";
    }
    case SettingKind::kChoice:
      for (const auto& c : spec.choices) {
        if (c == value) return "";
      }
      return absl::StrCat("must be one of: ", absl::StrJoin(spec.choices, ", "));
  }
  return "";
}

}  // namespace

std::string Config::EnvName(absl::string_view setting) {
  std::string out = "PBR_";
  for (char c : setting) out += (c == '-' || c == '.') ? '_' : absl::ascii_toupper(c);
  return out;
}

std::string Config::Usage(std::span<const SettingSpec> specs) {
  std::string out = "Settings (flag --NAME=VALUE, environment PBR_NAME, or NAME = VALUE in --config=FILE):\n";
  for (const auto& s : specs) {
    absl::StrAppend(&out, "  --", s.name, s.required ? " (required)" : "",
                    s.default_value.empty() ? "" : absl::StrCat(" [default ", s.default_value, "]"), "\n      ",
                    s.help, "\n");
  }
  return out;
}

absl::StatusOr<Config> Config::Load(std::span<const SettingSpec> specs, int argc, const char* const* argv,
                                    const char* const* envp) {
  std::vector<std::string> problems;
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> chosen;  // name -> (value, origin)
  for (const auto& s : specs) chosen[s.name] = {s.default_value, "default"};

  // Flags are parsed first (to find --config) but applied last.
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_file;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::NotFoundError(Usage(specs));
    if (!absl::ConsumePrefix(&arg, "--")) {
      problems.push_back(absl::StrCat("argument '", arg, "': expected --NAME=VALUE"));
      continue;
    }
    std::pair<std::string, std::string> kv = absl::StrSplit(arg, absl::MaxSplits('=', 1));
    if (!absl::StrContains(arg, '=')) {
      problems.push_back(absl::StrCat("flag --", kv.first, ": expected --", kv.first, "=VALUE"));
      continue;
    }
    if (kv.first == "config") {
      config_file = kv.second;
    } else {
      flags.push_back(kv);
    }
  }

  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) {
      problems.push_back(absl::StrCat("config file '", config_file, "' cannot be read"));
    } else {
      std::string line;
      for (int line_no = 1; std::getline(in, line); ++line_no) {
        absl::string_view l = absl::StripAsciiWhitespace(line);
        if (l.empty() || l[0] == '#') continue;
        auto eq = l.find('=');
        std::string where = absl::StrCat(config_file, ":", line_no);
        if (eq == absl::string_view::npos) {
          problems.push_back(absl::StrCat(where, ": expected NAME = VALUE"));
          continue;
        }
        std::string name(absl::StripAsciiWhitespace(l.substr(0, eq)));
        std::string value(absl::StripAsciiWhitespace(l.substr(eq + 1)));
        if (!FindSpec(specs, name)) {
          problems.push_back(absl::StrCat(where, ": unknown setting '", name, "'"));
          continue;
        }
        chosen[name] = {value, where};
      }
    }
  }

  if (envp != nullptr) {
    for (const auto& s : specs) {
      std::string env = EnvName(s.name) + "=";
      for (const char* const* e = envp; *e != nullptr; ++e) {
        if (absl::StartsWith(*e, env)) chosen[s.name] = {std::string(*e + env.size()), EnvName(s.name)};
      }
    }
  }

  for (const auto& [name, value] : flags) {
    if (!FindSpec(specs, name)) {
      problems.push_back(absl::StrCat("flag --", name, ": unknown setting (see --help)"));
      continue;
    }
    chosen[name] = {value, absl::StrCat("--", name)};
  }

  Config config;
  for (const auto& s : specs) {
    const auto& [value, origin] = chosen[s.name];
    if (value.empty()) {
      if (s.required) problems.push_back(absl::StrCat(s.name, ": required (", s.help, ")"));
      config.values_[s.name] = value;
      continue;
    }
    if (std::string why = CheckValue(s, value); !why.empty()) {
      problems.push_back(absl::StrCat(s.name, " = '", value, "' (from ", origin, ") ", why));
    }
    config.values_[s.name] = value;
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid configuration:\n  ", absl::StrJoin(problems, "\n  ")));
  }
  return config;
}

const std::string& Config::GetString(absl::string_view name) const {
  auto it = values_.find(name);
  PBR_CHECK(it != values_.end()) << "setting '" << name << "' was never declared";
  return it->second;
}

int64_t Config::GetInt(absl::string_view name) const {
  int64_t v = 0;
  PBR_CHECK(absl::SimpleAtoi(GetString(name), &v)) << name;
  return v;
}

bool Config::GetBool(absl::string_view name) const {
  bool b = false;
  PBR_CHECK(absl::SimpleAtob(GetString(name), &b)) << name;
  return b;
}

absl::Duration Config::GetDuration(absl::string_view name) const {
  absl::Duration d;
  PBR_CHECK(absl::ParseDuration(GetString(name), &d)) << name;
  return d;
}

std::vector<SettingSpec> CommonSettings(absl::string_view service_name, int default_grpc_port,
                                        int default_metrics_port) {
  return {
      {"grpc-address", SettingKind::kHostPort, absl::StrCat("127.0.0.1:", default_grpc_port),
       "where the gRPC API listens (port 0 picks a free one)"},
      {"metrics-address", SettingKind::kHostPort, absl::StrCat("127.0.0.1:", default_metrics_port),
       "where Prometheus /metrics is served (port 0 picks a free one)"},
      {"data-dir", SettingKind::kString, "", "the service's own RocksDB directory", true},
      {"kafka-bootstrap", SettingKind::kString, "", "Kafka bootstrap servers, HOST:PORT[,HOST:PORT]", true},
      {"kafka-extra", SettingKind::kString, "",
       "extra librdkafka properties, KEY=VALUE;KEY=VALUE (e.g. TLS or SASL for a production cluster)"},
      {"topic-prefix", SettingKind::kString, "", "prefix for every topic name, per environment"},
      {"consumer-group", SettingKind::kString, std::string(service_name), "Kafka consumer group"},
      {"session-timeout", SettingKind::kDuration, "6s", "Kafka consumer group session timeout"},
      {"fetch-wait-max", SettingKind::kDuration, "5ms", "longest a broker holds an empty fetch"},
      {"kafka-timeout", SettingKind::kDuration, "10s", "deadline for blocking Kafka calls and delivery"},
      {"clock", SettingKind::kString, "system", "'system' or 'fixed:<RFC3339>' (tests and replays)"},
      {"shutdown-timeout", SettingKind::kDuration, "10s", "longest a graceful shutdown may take"},
      {"rules-dir", SettingKind::kString, "rules", "directory of the versioned rule data files"},
  };
}

}  // namespace pbr::platform
