// How pbrctl reaches the platform: service addresses, channels, deadlines and error text.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "pbr/v1/allocation.grpc.pb.h"

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

// The mutual-TLS flags of the client tools (pbrctl, pbr-import): the trust's CA and one certificate,
// and, for a load of several EPRs' records (a demo, a migration file), a directory holding each
// feed's certificate as scripts/make-certs.sh names them: client-epr-feed-<SOURCE>.pem and .key.
struct TlsFlags {
  std::string ca_file, cert_file, key_file;
  std::string feed_cert_dir;
  // The name the server's certificate must carry when it is not the address dialled (a probe
  // dialling 127.0.0.1 inside a pod whose certificate names its Service, say).
  std::string server_name;
};

// Sets the credentials every later channel uses. INVALID_ARGUMENT naming the flag: a certificate
// without its key or CA, a directory without the CA, or a file that does not load.
absl::Status UseTls(const TlsFlags& flags);

// Without a certificate a call goes in plain text, so only to loopback: INVALID_ARGUMENT naming the
// address flag of a service elsewhere (allocation is exempt when --feed-cert-dir carries its calls).
absl::Status CheckPlaintextTargets(const RpcOptions& rpc, const TlsFlags& flags);

// Allocation stubs for the records of each source system: over its feed certificate from
// --feed-cert-dir when one was given (loaded once, on first use), else over MakeChannel's. Safe to
// use from several threads.
class FeedStubs {
 public:
  struct Feed {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pbr::v1::Allocation::Stub> stub;
  };
  explicit FeedStubs(std::string address) : address_(std::move(address)) {}
  // The connection for records of `source_system`; INVALID_ARGUMENT naming the file when its
  // certificate cannot be loaded.
  absl::StatusOr<Feed*> For(const std::string& source_system);

 private:
  std::string address_;
  std::mutex mu_;
  std::map<std::string, Feed> by_source_;  // "" when every source shares one channel; guarded by mu_
};

// Sets the context's deadline `timeout` from now.
void SetTimeout(grpc::ClientContext& context, absl::Duration timeout);

// "UNAVAILABLE", "INVALID_ARGUMENT", ...
absl::string_view StatusCodeName(grpc::StatusCode code);

// "<CODE>: <message>"; for failures to reach the service the message names it and its address.
std::string DescribeRpcError(const grpc::Status& status, const Endpoint& endpoint);

// "10s", "500ms", "1m30s", or a bare number of seconds; nullopt unless positive and finite.
std::optional<absl::Duration> ParseCliDuration(const std::string& text);

}  // namespace pbr::cli
