#include "platform/metrics.h"

#include <algorithm>
#include <shared_mutex>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "platform/log.h"
#include "prometheus/collectable.h"
#include "prometheus/text_serializer.h"

namespace pbr::platform {

// The service's scrape-time collectors as one Collectable, so the exposer serves them beside the registry.
class Metrics::Collectors final : public prometheus::Collectable {
 public:
  using CollectFn = std::function<std::vector<prometheus::MetricFamily>()>;
  explicit Collectors(std::string service) : service_(std::move(service)) {}

  void Add(CollectFn collect) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    collects_.push_back(std::make_shared<const CollectFn>(std::move(collect)));
  }

  // Waits for a scrape in progress, then no collector runs again: what they read may now be freed.
  void Close() {
    std::unique_lock running(running_);
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    collects_.clear();
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::shared_lock running(running_);  // held while collecting: Close waits for it
    std::vector<std::shared_ptr<const CollectFn>> collects;
    {
      std::lock_guard<std::mutex> lock(mu_);  // not held while collecting: a slow one delays no AddCollector
      collects = collects_;
    }
    std::vector<prometheus::MetricFamily> out;
    for (const auto& collect : collects) {
      std::vector<prometheus::MetricFamily> families;
      try {
        families = (*collect)();
      } catch (const std::exception& e) {
        PBR_LOG(err) << "metrics: a collector of " << service_ << " failed, its families are left out: " << e.what();
        continue;
      }
      for (auto& family : families) {
        for (auto& series : family.metric) {
          auto& labels = series.label;
          labels.erase(std::remove_if(labels.begin(), labels.end(), [](const auto& l) { return l.name == "service"; }),
                       labels.end());
          labels.push_back({"service", service_});
          std::sort(labels.begin(), labels.end());  // the order the registry's series print in
        }
        out.push_back(std::move(family));
      }
    }
    return out;
  }

 private:
  const std::string service_;
  mutable std::shared_mutex running_;
  mutable std::mutex mu_;
  bool closed_ = false;                                      // guarded by mu_
  std::vector<std::shared_ptr<const CollectFn>> collects_;  // guarded by mu_
};

Metrics::Metrics(std::string service)
    : service_(std::move(service)),
      registry_(std::make_shared<prometheus::Registry>()),
      collectors_(std::make_shared<Collectors>(service_)),
      rpcs_(prometheus::BuildCounter().Name("pbr_rpcs_total").Help("gRPC calls by method and status code").Register(*registry_)),
      rpc_latency_(prometheus::BuildHistogram()
                       .Name("pbr_rpc_latency_seconds")
                       .Help("gRPC call latency by method")
                       .Register(*registry_)),
      consumed_(prometheus::BuildCounter().Name("pbr_events_consumed_total").Help("events applied, by topic").Register(*registry_)),
      produced_(prometheus::BuildCounter().Name("pbr_events_produced_total").Help("events delivered to the broker, by topic").Register(*registry_)),
      dead_lettered_(prometheus::BuildCounter()
                         .Name("pbr_events_dead_lettered_total")
                         .Help("events sent to the dead-letter topic, by source topic and reason class")
                         .Register(*registry_)),
      lag_(prometheus::BuildGauge().Name("pbr_consumer_lag").Help("messages behind the partition's end").Register(*registry_)),
      outbox_depth_(prometheus::BuildGauge()
                        .Name("pbr_outbox_depth")
                        .Help("events stored but not yet acknowledged by the broker")
                        .Register(*registry_)
                        .Add({{"service", service_}})),
      outbox_held_back_(prometheus::BuildGauge()
                            .Name("pbr_outbox_held_back")
                            .Help("1 while flow control holds the outbox's events back: a listed consumer group is "
                                  "too far behind, or its committed offsets cannot be read")
                            .Register(*registry_)
                            .Add({{"service", service_}})),
      consumer_paused_(prometheus::BuildGauge()
                           .Name("pbr_consumer_paused")
                           .Help("1 while the consumer is paused because the store cannot write")
                           .Register(*registry_)
                           .Add({{"service", service_}})),
      store_writable_(prometheus::BuildGauge()
                          .Name("pbr_store_writable")
                          .Help("1 when the service's store can write (free space above the reserve, no write error)")
                          .Register(*registry_)
                          .Add({{"service", service_}})),
      undeliverable_kept_(prometheus::BuildGauge()
                              .Name("pbr_outbox_undeliverable")
                              .Help("events refused for good and kept aside for an operator (alert when above 0)")
                              .Register(*registry_)
                              .Add({{"service", service_}})) {
  store_writable_.Set(1);
}

absl::Status Metrics::Serve(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
  } catch (const std::exception& e) {
    // civetweb refuses an address in use (no SO_REUSEPORT), but says only "null context".
    return absl::UnavailableError(
        absl::StrCat("metrics-address ", address, ": cannot listen there (is another process using it?): ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(collectors_);
  auto ports = exposer_->GetListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();
  return absl::OkStatus();
}

void Metrics::ObserveRpc(absl::string_view method, absl::string_view code, double seconds) {
  rpcs_.Add({{"service", service_}, {"method", std::string(method)}, {"code", std::string(code)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
  rpc_latency_.Add({{"service", service_}, {"method", std::string(method)}}, kBuckets).Observe(seconds);
}

void Metrics::CountConsumed(absl::string_view topic) {
  consumed_.Add({{"service", service_}, {"topic", std::string(topic)}}).Increment();
}

void Metrics::CountProduced(absl::string_view topic) {
  produced_.Add({{"service", service_}, {"topic", std::string(topic)}}).Increment();
}

void Metrics::CountDeadLettered(absl::string_view topic, absl::string_view reason_class) {
  dead_lettered_.Add({{"service", service_}, {"topic", std::string(topic)}, {"reason", std::string(reason_class)}})
      .Increment();
}

void Metrics::SetConsumerLag(absl::string_view topic, int partition, int64_t lag) {
  lag_.Add({{"service", service_}, {"topic", std::string(topic)}, {"partition", absl::StrCat(partition)}})
      .Set(static_cast<double>(lag));
}

void Metrics::SetOutboxDepth(int64_t depth) { outbox_depth_.Set(static_cast<double>(depth)); }

void Metrics::SetOutboxHeldBack(bool held) { outbox_held_back_.Set(held ? 1 : 0); }

void Metrics::SetUndeliverable(int64_t events) { undeliverable_kept_.Set(static_cast<double>(events)); }

void Metrics::SetConsumerPaused(bool paused) { consumer_paused_.Set(paused ? 1 : 0); }

void Metrics::SetStoreWritable(bool writable) { store_writable_.Set(writable ? 1 : 0); }

absl::Status Metrics::SetInfo(const std::string& name, const std::string& help,
                              const std::map<std::string, std::string>& labels) {
  if (labels.count("service") > 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": label \"service\" is set by the platform"));
  }
  prometheus::Labels all(labels.begin(), labels.end());
  all["service"] = service_;
  std::lock_guard<std::mutex> lock(info_mu_);
  auto it = infos_.find(name);
  // prometheus-cpp refuses bad metric and label names by throwing; say which one instead.
  try {
    if (it == infos_.end()) {
      auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
      it = infos_.emplace(name, InfoSeries{&family, nullptr}).first;
    }
    prometheus::Gauge& gauge = it->second.family->Add(all);
    if (it->second.gauge != nullptr && it->second.gauge != &gauge) it->second.family->Remove(it->second.gauge);
    it->second.gauge = &gauge;
    gauge.Set(1);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a valid info metric (name or label names): ", e.what()));
  }
  return absl::OkStatus();
}

void Metrics::CloseCollectors() { collectors_->Close(); }

void Metrics::AddCollector(std::function<std::vector<prometheus::MetricFamily>()> collect) {
  collectors_->Add(std::move(collect));
}

std::string Metrics::Text() const {
  auto families = registry_->Collect();
  auto computed = collectors_->Collect();
  families.insert(families.end(), std::make_move_iterator(computed.begin()), std::make_move_iterator(computed.end()));
  return prometheus::TextSerializer().Serialize(families);
}


}  // namespace pbr::platform
