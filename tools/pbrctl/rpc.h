// How pbrctl reaches the platform: service addresses, channels, deadlines and error text.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"

namespace pbr::cli {

// One service as the user named it: used in every error so they know which address failed.
struct Endpoint {
  std::string service;  // "allocation", "review-scheduler", "outcomes", "reporting"
  std::string address;  // host:port
};

// The local defaults match each service's default --grpc-address.
struct RpcOptions {
  std::string allocation = "127.0.0.1:50051";
  std::string scheduler = "127.0.0.1:50052";
  std::string outcomes = "127.0.0.1:50053";
  std::string reporting = "127.0.0.1:50054";
  absl::Duration timeout = absl::Seconds(10);  // deadline of every RPC

  Endpoint AllocationEndpoint() const { return {"allocation", allocation}; }
  Endpoint SchedulerEndpoint() const { return {"review-scheduler", scheduler}; }
  Endpoint OutcomesEndpoint() const { return {"outcomes", outcomes}; }
  Endpoint ReportingEndpoint() const { return {"reporting", reporting}; }
};

// A channel that retries a refused connection within a second, so waiting for a service that is
// still starting does not back off for minutes. Mutual TLS once UseTls was called (every channel of
// one pbrctl run presents the same certificate), else plain text (a loopback platform run so).
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// Sets the credentials every later channel uses: the CA, certificate and key of --tls-ca-file,
// --tls-cert-file and --tls-key-file. An error names the flag of a bad file.
absl::Status UseTls(const std::string& ca_file, const std::string& cert_file, const std::string& key_file);

// Sets the context's deadline `timeout` from now.
void SetTimeout(grpc::ClientContext& context, absl::Duration timeout);

// "UNAVAILABLE", "INVALID_ARGUMENT", ...
absl::string_view StatusCodeName(grpc::StatusCode code);

// "<CODE>: <message>"; for failures to reach the service the message names it and its address.
std::string DescribeRpcError(const grpc::Status& status, const Endpoint& endpoint);

// "10s", "500ms", "1m30s", or a bare number of seconds; nullopt unless positive and finite.
std::optional<absl::Duration> ParseCliDuration(const std::string& text);

}  // namespace pbr::cli
