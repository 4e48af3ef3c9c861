#pragma once
// Each service's Prometheus metrics and its /metrics endpoint.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
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
  void SetOutboxHeldBack(bool held);
  void SetConsumerPaused(bool paused);
  void SetStoreWritable(bool writable);
  void SetUndeliverable(int64_t events);

  // An info gauge: one series `name`{service="<service>", labels...} = 1 saying what this process
  // runs (its rules, say), so a dashboard can join on it. Setting it again replaces the series, so
  // there is never more than one per name whatever the labels. Label names must be valid Prometheus
  // names and not "service"; InvalidArgument names the offending label otherwise.
  absl::Status SetInfo(const std::string& name, const std::string& help,
                       const std::map<std::string, std::string>& labels);

  // Metric families computed at scrape time from the service's own state (gauges that must agree
  // with what its API answers at the same instant, so they are read, never pushed).
  // `collect` runs on every scrape of /metrics (and every Text()), from the exposer's thread: it must be
  // thread-safe and quick. Each family it returns is served as is, with the service label added to every series
  // (replacing any "service" label of its own). Family names must not clash with the registry's. May be
  // called before or after Serve; a collector stays until CloseCollectors. One that throws is
  // logged and left out of that scrape.
  void AddCollector(std::function<std::vector<prometheus::MetricFamily>()> collect);
  // Waits for a scrape in progress to finish its collectors, then runs none again (the rest of /metrics
  // is still served): called before what they read is freed.
  void CloseCollectors();

  // Every metric in the Prometheus text format, as /metrics serves it (tests, diagnostics).
  std::string Text() const;

 private:
  struct InfoSeries {
    prometheus::Family<prometheus::Gauge>* family = nullptr;
    prometheus::Gauge* gauge = nullptr;
  };

  class Collectors;

  std::string service_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Collectors> collectors_;  // registered on the exposer (which holds a weak_ptr)
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_latency_;
  prometheus::Family<prometheus::Counter>& consumed_;
  prometheus::Family<prometheus::Counter>& produced_;
  prometheus::Family<prometheus::Counter>& dead_lettered_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Gauge& outbox_depth_;
  prometheus::Gauge& outbox_held_back_;
  prometheus::Gauge& consumer_paused_;
  prometheus::Gauge& store_writable_;
  prometheus::Gauge& undeliverable_kept_;
  std::mutex info_mu_;
  std::map<std::string, InfoSeries> infos_;  // by metric name
};

}  // namespace pbr::platform
