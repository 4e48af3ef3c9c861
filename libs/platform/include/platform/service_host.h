#pragma once
// The wiring every service shares (after userver's samples: business logic apart from wiring).
// A service declares its settings, column families, consumed topics and gRPC handlers; the host
// validates configuration, opens the store, runs the outbox relay, the consumer, periodic tasks,
// the gRPC server (with health and reflection) and /metrics, and shuts all of it down in order
// on SIGTERM/SIGINT within the configured deadline.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "platform/caller.h"
#include "platform/clock.h"
#include "platform/config.h"
#include "platform/consumer.h"
#include "platform/http_server.h"
#include "platform/kafka.h"
#include "platform/metrics.h"
#include "platform/outbox.h"
#include "platform/projection.h"
#include "platform/stop_signal.h"
#include "platform/store.h"

namespace pbr::platform {

// The gRPC status for a result; its message is capped (status messages travel as metadata).
grpc::Status ToGrpc(const absl::Status& s);

// What every service's gRPC server gets (RunService applies it; tests building their own server
// use it too): the interceptors, which turn an unreadable request (invalid UTF-8 in a string
// field, say) into INVALID_ARGUMENT naming the field and count calls in `metrics` (if not null)
// by method, and no SO_REUSEPORT, so a second process on a bound address fails to start.
void PrepareServer(grpc::ServerBuilder& builder, Metrics* metrics);

// The metrics label for a called method: its path if this binary knows the method, else
// "unknown", so label values stay a bounded set whatever names callers send.
std::string MethodLabel(absl::string_view method);

class ServiceHost {
 public:
  const Config& config() const { return config_; }
  const Clock& clock() const { return *clock_; }
  Store& store() { return *store_; }
  Outbox& outbox() { return *outbox_; }
  Metrics& metrics() { return *metrics_; }
  const KafkaSettings& kafka() const { return kafka_; }
  // Set when the service begins to stop, before the gRPC server shuts down: what long-lived calls wait on.
  const StopSignal& stopping() const { return stopping_; }
  // Subscribes to a topic; the consumer starts only if at least one topic is subscribed.
  void On(absl::string_view topic_name, EventHandler handler, std::string name = "");
  // The shared payload rules every consumed event is checked by (see Consumer::ValidateWith);
  // required when any topic is subscribed: the service refuses to start without it.
  void ValidateEventsWith(EventValidator validator) { consumer_->ValidateWith(std::move(validator)); }
  // Registers a read model (kept alive by the host): it receives every message of its topics, in
  // registration order with the service's other projections. FAILED_PRECONDITION when one of its
  // families is not named "<name>_..." or was not in the service's family list, or when the store's
  // state of it was derived with another derivation (CheckProjectionDerivation).
  absl::Status AddProjection(std::shared_ptr<const Projection> projection);
  // Runs `task` every `interval` on the consumer's thread (see Consumer::Every).
  void Every(absl::Duration interval, std::function<absl::Status(ApplyContext&)> task);
  // Registers a gRPC service (kept alive by the host).
  void AddService(std::unique_ptr<grpc::Service> service);
  // Which caller may make which call, when the gRPC port runs mutual TLS (tls-* settings): checked for
  // every call before its handler (caller.h). Without one, a TLS server refuses every call.
  void SetAccessPolicy(AccessPolicy policy) { access_policy_ = std::move(policy); }
  // Answers GET `path` over HTTP (a page, or JSON a browser reads). A service with a route must
  // declare the `http-address` setting (HttpAddressSetting); the host binds it with the gRPC port,
  // names it on the READY line ("http=HOST:PORT") and stops it before the gRPC server.
  void ServeHttp(const std::string& path, HttpHandler handler) { http_.Get(path, std::move(handler)); }
  // Under mutual TLS the pages are HTTPS, with the gRPC port's certificate, and `guard` decides who
  // may read each one; under grpc-plaintext they are plain HTTP on loopback, open to all.
  void GuardHttp(HttpGuard guard) { http_.SetGuard(std::move(guard)); }
  // The port the pages are served on, once the service runs (0 before, or with none).
  int http_port() const { return http_.port(); }
  // Where the consumer stands (any thread): what a page shows when its figures are behind.
  Consumer::Progress consumer_progress() const { return consumer_->progress(); }
  // What this replica's answers cover in its consumer group (any thread), as the contracts say it.
  absl::StatusOr<pbr::v1::ConsumedShare> consumed_share() const;
  // When this process started (system time): a page shows a restart.
  absl::Time started_at() const { return started_at_; }

 private:
  friend int RunService(absl::string_view, std::vector<SettingSpec>, const std::vector<std::string>&, int,
                        const char* const*, const char* const*, const std::function<absl::Status(ServiceHost&)>&);
  Config config_;
  AccessPolicy access_policy_;
  std::unique_ptr<Clock> clock_;
  KafkaSettings kafka_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<Consumer> consumer_;
  bool consumes_ = false;
  StopSignal stopping_;
  HttpServer http_;
  absl::Time started_at_ = absl::Now();
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::vector<std::shared_ptr<const Projection>> projections_;
};

// The default-family key a projection's derivation is kept under: "projection/<name>".
std::string DerivationKey(absl::string_view projection_name);
// What `projection`'s state in `store` was derived with (Projection::derivation), checked at start: the
// first start on a store keeps it (one synced write); a later start with another derivation is
// FAILED_PRECONDITION naming the projection, the stored and the new derivation and --reset-state=true,
// since state derived with two rule sets or policies would be mixed silently in its totals.
absl::Status CheckProjectionDerivation(Store& store, const Projection& projection);

// The `reset-state` setting of a service whose state is rebuilt from the topics (every consumer,
// never allocation, the system of record): true deletes its store at start, for a rebuild after
// the broker was replaced (README: Recovery).
SettingSpec ResetStateSetting();

// The `http-address` setting of a service that serves pages (ServiceHost::ServeHttp).
SettingSpec HttpAddressSetting(int default_port);

// The whole life of a service process; returns the exit code. `setup` registers the service's
// handlers and may refuse to start (bad rule files, say) with a clear status.
// On start it prints one line to stdout: "READY <name> grpc=HOST:PORT metrics=HOST:PORT", followed by
// " http=HOST:PORT" for a service that serves HTTP.
int RunService(absl::string_view name, std::vector<SettingSpec> settings, const std::vector<std::string>& families,
               int argc, const char* const* argv, const char* const* envp,
               const std::function<absl::Status(ServiceHost&)>& setup);

}  // namespace pbr::platform
