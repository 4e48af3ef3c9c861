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

}  // namespace

absl::Status UseTls(const std::string& ca_file, const std::string& cert_file, const std::string& key_file) {
  if (ca_file.empty() && cert_file.empty() && key_file.empty()) return absl::OkStatus();
  auto tls = platform::LoadTls({ca_file, cert_file, key_file}, absl::Now(), "--tls-");
  if (!tls.ok()) return tls.status();
  Credentials() = platform::ClientTlsCredentials(*tls);
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  const auto& tls = Credentials();
  return grpc::CreateCustomChannel(address, tls != nullptr ? tls : grpc::InsecureChannelCredentials(), args);
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
