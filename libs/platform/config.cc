#include "platform/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "platform/log.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

std::string FileSetting(absl::string_view secret) { return absl::StrCat(secret, "-file"); }

// The declared settings plus the companion NAME-file of every secret.
std::vector<SettingSpec> WithCompanions(std::span<const SettingSpec> specs) {
  std::vector<SettingSpec> out(specs.begin(), specs.end());
  for (const auto& s : specs) {
    if (!s.secret) continue;
    SettingSpec file;
    file.name = FileSetting(s.name);
    file.help = absl::StrCat("a file holding ", s.name,
                             " (one trailing newline is ignored); refused if every user may read it");
    out.push_back(std::move(file));
  }
  return out;
}

std::string HowToGiveSecret(absl::string_view name) {
  return absl::StrCat("give it in a file only this user can read, --", FileSetting(name), "=FILE, or in the environment ",
                      Config::EnvName(name));
}

// The content of a secret's file, with one trailing newline removed.
absl::StatusOr<std::string> ReadSecretFile(absl::string_view setting, const std::string& path) {
  const std::string what = absl::StrCat(FileSetting(setting), " '", path, "'");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat(what, " cannot be read: ", std::strerror(errno)));
  struct stat st{};
  std::string content;
  std::string problem;
  if (fstat(fd, &st) != 0) {
    problem = absl::StrCat("cannot be read: ", std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    problem = "is not a regular file";
  } else if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    // As readable as a command line: refused for the same reason.
    problem = absl::StrFormat("can be read or written by every user of this machine (mode %04o); chmod 600 it",
                              st.st_mode & 07777);
  } else if (st.st_size > 65536) {
    problem = "is larger than 64 KiB: not a key";
  } else {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) content.append(buf, static_cast<size_t>(n));
    if (n < 0) problem = absl::StrCat("cannot be read: ", std::strerror(errno));
  }
  close(fd);
  if (!problem.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " ", problem));
  // A group other than our own can read it: maybe deliberate (a secrets agent's group), so only warned
  // about. Kubernetes mounts Secret files 0440 with group = fsGroup, the service's own group.
  if ((st.st_mode & (S_IRGRP | S_IWGRP)) != 0 && st.st_gid != getegid()) {
    PBR_LOG(warn) << what << " can be read by the members of group " << st.st_gid
                  << ", not only this service; chmod 600 it unless that is intended";
  }
  if (absl::EndsWith(content, "\n")) {
    content.pop_back();
    if (absl::EndsWith(content, "\r")) content.pop_back();
  }
  return content;
}

double ShannonBitsPerSymbol(const std::array<int, 256>& counts, size_t total) {
  double h = 0;
  for (int c : counts) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / static_cast<double>(total);
    h -= p * std::log2(p);
  }
  return h;
}

// Why a secret is too weak to be a key, or "".
std::string WeakSecret(const SettingSpec& spec, absl::string_view value) {
  if (spec.min_entropy_bits <= 0) return "";
  const size_t min_chars = static_cast<size_t>((spec.min_entropy_bits + 3) / 4);
  if (value.size() < min_chars) {
    return absl::StrCat("is too short: ", value.size(), " characters, at least ", min_chars,
                        " needed (generate one with: head -c 48 /dev/urandom | base64 -w0)");
  }
  const double bits = EstimateEntropyBits(value);
  if (bits < spec.min_entropy_bits) {
    return absl::StrCat("is too predictable: about ", static_cast<int>(bits), " bits of entropy, at least ",
                        spec.min_entropy_bits,
                        " needed; repeats, short alphabets and runs such as abcdef count for little "
                        "(generate one with: head -c 48 /dev/urandom | base64 -w0)");
  }
  return "";
}

}  // namespace

double EstimateEntropyBits(absl::string_view value) {
  if (value.size() < 2) return 0;
  std::array<int, 256> symbols{};
  std::array<int, 256> steps{};
  for (size_t i = 0; i < value.size(); ++i) {
    ++symbols[static_cast<unsigned char>(value[i])];
    if (i > 0) ++steps[static_cast<unsigned char>(value[i] - value[i - 1])];
  }
  const double per_char =
      std::min(ShannonBitsPerSymbol(symbols, value.size()), ShannonBitsPerSymbol(steps, value.size() - 1));
  return per_char * static_cast<double>(value.size());
}

std::string Config::EnvName(absl::string_view setting) {
  std::string out(kEnvPrefix);
  for (char c : setting) out += (c == '-' || c == '.') ? '_' : absl::ascii_toupper(c);
  return out;
}

std::string Config::Usage(std::span<const SettingSpec> declared) {
  std::string out = absl::StrCat(
      "Settings (flag --NAME=VALUE, environment ", kEnvPrefix, "NAME, or NAME = VALUE in --config=FILE; an unknown ",
      kEnvPrefix, "* variable is an error):\n");
  for (const auto& s : WithCompanions(declared)) {
    absl::StrAppend(&out, "  --", s.name, s.required ? " (required)" : "",
                    s.default_value.empty() ? "" : absl::StrCat(" [default ", s.default_value, "]"), "\n      ",
                    s.help, "\n");
    if (s.secret) {
      absl::StrAppend(&out, "      A secret: never a flag or a --config line (other users can read those); ",
                      HowToGiveSecret(s.name), ".\n");
    }
    if (s.min_entropy_bits > 0) {
      absl::StrAppend(&out, "      At least ", (s.min_entropy_bits + 3) / 4, " characters and ", s.min_entropy_bits,
                      " bits of estimated entropy: its length times the smaller of the Shannon entropy of its\n"
                      "      characters and of the steps between neighbours, so repeats, short alphabets and runs "
                      "(abcdef) count for little.\n      `head -c 48 /dev/urandom | base64 -w0` makes one that "
                      "passes (64 characters, about 330 bits).\n");
    }
  }
  return out;
}

absl::StatusOr<Config> Config::Load(std::span<const SettingSpec> declared, int argc, const char* const* argv,
                                    const char* const* envp) {
  const std::vector<SettingSpec> all = WithCompanions(declared);
  const std::span<const SettingSpec> specs(all);
  std::vector<std::string> problems;
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> chosen;  // name -> (value, origin)
  for (const auto& s : specs) chosen[s.name] = {s.default_value, "default"};
  std::set<std::string, std::less<>> refused_secrets;  // given where a secret may not be: "required" would repeat it

  // Flags are parsed first (to find --config) but applied last.
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_file;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::NotFoundError(Usage(declared));
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
        const SettingSpec* spec = FindSpec(specs, name);
        if (!spec) {
          problems.push_back(absl::StrCat(where, ": unknown setting '", name, "'"));
          continue;
        }
        if (spec->secret) {
          problems.push_back(absl::StrCat(where, ": ", name,
                                          " is a secret and is not read from a config file (config files get "
                                          "copied, shared and committed); ",
                                          HowToGiveSecret(name)));
          refused_secrets.insert(name);
          continue;
        }
        chosen[name] = {value, where};
      }
    }
  }

  // Every PBR_ variable must name a setting of this program: a typo in a deployment's environment
  // (the usual way Kubernetes passes settings) would otherwise leave the default silently in force.
  if (envp != nullptr) {
    for (const char* const* e = envp; *e != nullptr; ++e) {
      absl::string_view entry = *e;
      if (!absl::StartsWith(entry, kEnvPrefix)) continue;
      const auto eq = entry.find('=');
      const absl::string_view var = entry.substr(0, eq);
      const absl::string_view value = eq == absl::string_view::npos ? "" : entry.substr(eq + 1);
      const SettingSpec* spec = nullptr;
      for (const auto& s : specs) {
        if (EnvName(s.name) == var) spec = &s;
      }
      if (spec == nullptr) {
        problems.push_back(absl::StrCat("environment variable ", var,
                                        ": not a setting of this program (see --help; ", kEnvPrefix,
                                        "* is for service settings only, the client tools read PBRCTL_*)"));
        continue;
      }
      chosen[spec->name] = {std::string(value), std::string(var)};
    }
  }

  for (const auto& [name, value] : flags) {
    const SettingSpec* spec = FindSpec(specs, name);
    if (!spec) {
      problems.push_back(absl::StrCat("flag --", name, ": unknown setting (see --help)"));
      continue;
    }
    if (spec->secret) {
      problems.push_back(absl::StrCat("flag --", name,
                                      ": a secret is not taken from the command line, where every user of this "
                                      "machine can read it (ps, /proc); ",
                                      HowToGiveSecret(name)));
      refused_secrets.insert(name);
      continue;
    }
    chosen[name] = {value, absl::StrCat("--", name)};
  }

  // A secret's file, when named, gives its value.
  for (const auto& s : declared) {
    if (!s.secret) continue;
    const auto& [path, path_origin] = chosen[FileSetting(s.name)];
    if (path.empty()) continue;
    auto& [value, origin] = chosen[s.name];
    if (!value.empty()) {
      problems.push_back(absl::StrCat(s.name, ": given both in ", origin, " and by ", FileSetting(s.name), " (from ",
                                      path_origin, "); give one"));
      continue;
    }
    auto content = ReadSecretFile(s.name, path);
    if (!content.ok()) {
      problems.push_back(absl::StrCat(content.status().message(), " (from ", path_origin, ")"));
      continue;
    }
    value = *std::move(content);
    origin = absl::StrCat(FileSetting(s.name), " '", path, "'");
  }

  Config config;
  for (const auto& s : specs) {
    const auto& [value, origin] = chosen[s.name];
    config.values_[s.name] = value;
    if (value.empty()) {
      if (s.required && !refused_secrets.contains(s.name)) {
        problems.push_back(absl::StrCat(s.name, ": required (", s.help, ")",
                                        s.secret ? absl::StrCat("; ", HowToGiveSecret(s.name)) : ""));
      }
      continue;
    }
    std::string why = CheckValue(s, value);
    if (why.empty() && s.secret) why = WeakSecret(s, value);
    if (why.empty()) continue;
    // A secret's value is never repeated, not even in an error.
    problems.push_back(s.secret ? absl::StrCat(s.name, " (from ", origin, ") ", why)
                                : absl::StrCat(s.name, " = '", value, "' (from ", origin, ") ", why));
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
      {"flow-control-groups", SettingKind::kString, "",
       "consumer groups, GROUP[=TOPIC|TOPIC][,...], whose committed offsets the outbox must not outrun (flow "
       "control; empty: off). A group listed with its topics is held to them from the start, before it has "
       "committed anything; a group listed by name alone counts on a topic once it has committed an offset there"},
      {"flow-control-max-lag-bytes", SettingKind::kInt, "4194304",
       "flow control: the most bytes of this service's events a partition may hold beyond the slowest listed "
       "group's committed offset (keep it under the broker's retention; the embedded broker keeps 5 MiB)",
       false, 1},
      {"flow-control-max-lag-messages", SettingKind::kInt, "50000",
       "flow control: the same bound in messages (the embedded broker keeps at most 100,000 message sets)", false, 1},
      {"clock", SettingKind::kString, "system",
       "'system', 'fixed:<RFC3339>' or 'file:<path>' (tests and replays; a file's time is read at every use)"},
      {"shutdown-timeout", SettingKind::kDuration, "10s", "longest a graceful shutdown may take"},
      {"rules-dir", SettingKind::kString, "rules", "directory of the versioned rule data files"},
      {"tls-ca-file", SettingKind::kString, "",
       "mutual TLS on the gRPC port: PEM file of the CA whose client certificates are accepted"},
      {"tls-cert-file", SettingKind::kString, "", "mutual TLS: PEM file of this service's certificate"},
      {"tls-key-file", SettingKind::kString, "", "mutual TLS: PEM file of this service's private key (not world-readable)"},
      {"grpc-plaintext", SettingKind::kBool, "false",
       "serve gRPC without TLS (no roles, every call allowed): only on a loopback grpc-address, for a developer's "
       "machine; without it the tls-* files are required"},
      {"grpc-reflection", SettingKind::kBool, "false", "serve gRPC server reflection (grpcurl list); off in production"},
  };
}

}  // namespace pbr::platform
