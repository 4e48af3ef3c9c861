#include "rpc.h"

#include <array>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "platform/tls.h"

namespace pbr::cli {
namespace {

std::shared_ptr<grpc::ChannelCredentials>& Credentials() {
  static auto* credentials = new std::shared_ptr<grpc::ChannelCredentials>();
  return *credentials;
}
std::string& FeedCertDir() {
  static auto* dir = new std::string();
  return *dir;
}
std::string& ServerName() {
  static auto* name = new std::string();
  return *name;
}
std::string& CaFile() {
  static auto* file = new std::string();
  return *file;
}

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  if (!ServerName().empty()) args.SetSslTargetNameOverride(ServerName());
  return args;
}

}  // namespace

absl::Status UseTls(const TlsFlags& flags) {
  const bool one = !(flags.cert_file.empty() && flags.key_file.empty());
  if (one && (flags.cert_file.empty() || flags.key_file.empty() || flags.ca_file.empty())) {
    return absl::InvalidArgumentError("--tls-ca-file, --tls-cert-file and --tls-key-file go together");
  }
  if (!flags.feed_cert_dir.empty() && flags.ca_file.empty()) {
    return absl::InvalidArgumentError("--feed-cert-dir needs --tls-ca-file: the CA the platform's servers are signed by");
  }
  if (!one && flags.feed_cert_dir.empty() && !flags.ca_file.empty()) {
    return absl::InvalidArgumentError("--tls-ca-file: give --tls-cert-file and --tls-key-file (or --feed-cert-dir) too");
  }
  if (!flags.server_name.empty() && flags.ca_file.empty()) {
    return absl::InvalidArgumentError("--tls-server-name needs --tls-ca-file: it is checked in the server's certificate");
  }
  ServerName() = flags.server_name;
  CaFile() = flags.ca_file;
  FeedCertDir() = flags.feed_cert_dir;
  if (!one) return absl::OkStatus();
  auto tls = platform::LoadTls({flags.ca_file, flags.cert_file, flags.key_file}, absl::Now(), "--tls-");
  if (!tls.ok()) return tls.status();
  Credentials() = platform::ClientTlsCredentials(*tls);
  return absl::OkStatus();
}

absl::Status CheckPlaintextTargets(const RpcOptions& rpc, const TlsFlags& flags) {
  if (!flags.cert_file.empty()) return absl::OkStatus();
  const std::pair<const char*, const std::string*> targets[] = {
      {"allocation", &rpc.allocation}, {"scheduler", &rpc.scheduler}, {"outcomes", &rpc.outcomes},
      {"reporting", &rpc.reporting}};
  for (const auto& [flag, address] : targets) {
    if (std::string(flag) == "allocation" && !flags.feed_cert_dir.empty()) continue;
    if (!platform::IsLoopbackAddress(*address)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", *address,
                                                     ": without --tls-cert-file and --tls-key-file calls go in plain text, "
                                                     "which is only for 127.0.0.1 or localhost"));
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  const auto& tls = Credentials();
  return grpc::CreateCustomChannel(address, tls != nullptr ? tls : grpc::InsecureChannelCredentials(), ChannelArgs());
}

absl::StatusOr<FeedStubs::Feed*> FeedStubs::For(const std::string& source_system) {
  std::lock_guard lock(mu_);
  const std::string key = FeedCertDir().empty() ? "" : source_system;
  Feed& feed = by_source_[key];
  if (feed.stub != nullptr) return &feed;
  if (key.empty()) {
    feed.channel = MakeChannel(address_);
  } else {
    const std::string base = absl::StrCat(FeedCertDir(), "/client-epr-feed-", source_system);
    auto tls = platform::LoadTls({CaFile(), base + ".pem", base + ".key"}, absl::Now(), "--feed-cert-dir ");
    if (!tls.ok()) {
      by_source_.erase(key);
      return absl::Status(tls.status().code(), absl::StrCat("source system ", source_system, ": ", tls.status().message()));
    }
    feed.channel = grpc::CreateCustomChannel(address_, platform::ClientTlsCredentials(*tls), ChannelArgs());
  }
  feed.stub = pbr::v1::Allocation::NewStub(feed.channel);
  return &feed;
}

void SetTimeout(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

absl::string_view StatusCodeName(grpc::StatusCode code) {
  static constexpr std::array<absl::string_view, 17> kNames = {
      "OK",        "CANCELLED",         "UNKNOWN",         "INVALID_ARGUMENT",  "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED",   "INTERNAL",        "UNAVAILABLE",       "DATA_LOSS",         "UNAUTHENTICATED"};
  const auto index = static_cast<size_t>(code);
  return index < kNames.size() ? kNames[index] : "UNKNOWN";
}

std::string DescribeRpcError(const grpc::Status& status, const Endpoint& endpoint) {
  const grpc::StatusCode code = status.error_code();
  // gRPC's own text for these ("failed to connect to all addresses") does not say which service.
  if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
      code == grpc::StatusCode::UNIMPLEMENTED) {
    return absl::StrCat(StatusCodeName(code), ": ", endpoint.service, " at ", endpoint.address, ": ",
                        status.error_message());
  }
  return absl::StrCat(StatusCodeName(code), ": ", status.error_message());
}

std::optional<absl::Duration> ParseCliDuration(const std::string& text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    if (!std::isfinite(seconds)) return std::nullopt;
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return std::nullopt;
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) return std::nullopt;
  return d;
}

}  // namespace pbr::cli
