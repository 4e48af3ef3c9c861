#pragma once
// Each service's Prometheus metrics and its /metrics endpoint.
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace pbr::platform {

class Metrics {
 public:
  explicit Metrics(std::string service);
  // Serves /metrics on HOST:PORT (port 0 picks a free one).
  absl::Status Serve(const std::string& address);
  int port() const { return port_; }
  prometheus::Registry& registry() { return *registry_; }

  void ObserveRpc(absl::string_view method, absl::string_view code, double seconds);
  void CountConsumed(absl::string_view topic);
  void CountProduced(absl::string_view topic);
  void CountDeadLettered(absl::string_view topic, absl::string_view reason_class);
  void SetConsumerLag(absl::string_view topic, int partition, int64_t lag);
  void SetOutboxDepth(int64_t depth);
  void SetConsumerPaused(bool paused);
  void SetStoreWritable(bool writable);
  void SetUndeliverable(int64_t events);

 private:
  std::string service_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_latency_;
  prometheus::Family<prometheus::Counter>& consumed_;
  prometheus::Family<prometheus::Counter>& produced_;
  prometheus::Family<prometheus::Counter>& dead_lettered_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Gauge& outbox_depth_;
  prometheus::Gauge& consumer_paused_;
  prometheus::Gauge& store_writable_;
  prometheus::Gauge& undeliverable_kept_;
};

}  // namespace pbr::platform
