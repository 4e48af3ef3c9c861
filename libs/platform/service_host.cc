#include "platform/service_host.h"

#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/support/server_interceptor.h"
#include "platform/log.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace pbr::platform {
namespace {

// Counts every RPC by method and status code and observes its latency.
class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info, Metrics* metrics)
      : method_(info->method()), metrics_(metrics), start_(absl::Now()) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      metrics_->ObserveRpc(method_, absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                           absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  Metrics* metrics_;
  absl::Time start_;
};

class MetricsInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, metrics_);
  }

 private:
  Metrics* metrics_;
};

// Why the process is stopping: a signal (OK) or a component's fatal error.
class StopRequest {
 public:
  void Request(const absl::Status& why) {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    why_ = why;
    cv_.notify_all();
  }
  absl::Status Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopped_; });
    return why_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  absl::Status why_;
};

}  // namespace

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

void ServiceHost::On(absl::string_view topic_name, EventHandler handler) {
  consumes_ = true;
  consumer_->On(topic_name, std::move(handler));
}

void ServiceHost::Every(absl::Duration interval, std::function<absl::Status(ApplyContext&)> task) {
  consumes_ = true;
  consumer_->Every(interval, std::move(task));
}

void ServiceHost::AddService(std::unique_ptr<grpc::Service> service) { services_.push_back(std::move(service)); }

int RunService(absl::string_view name, std::vector<SettingSpec> settings, const std::vector<std::string>& families,
               int argc, const char* const* argv, const char* const* envp,
               const std::function<absl::Status(ServiceHost&)>& setup) {
  // Signals are taken by one thread with sigwait, so every other thread runs undisturbed.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Logs go to stderr; stdout carries only the READY line that launchers wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt(std::string(name)));
  spdlog::set_pattern(absl::StrCat("%Y-%m-%dT%H:%M:%S.%e %^%l%$ ", name, ": %v"));

  auto config = Config::Load(settings, argc, argv, envp);
  if (!config.ok()) {
    if (absl::IsNotFound(config.status())) {
      std::fprintf(stdout, "%s: %s", std::string(name).c_str(), std::string(config.status().message()).c_str());
      return 0;
    }
    std::fprintf(stderr, "%s: %s\n", std::string(name).c_str(), std::string(config.status().message()).c_str());
    return 2;
  }
  ServiceHost host;
  host.config_ = *std::move(config);
  auto fail = [&](const absl::Status& st) {
    spdlog::critical("cannot start: {}", st.ToString());
    return 1;
  };
  auto clock = MakeClock(host.config_.GetString("clock"));
  if (!clock.ok()) return fail(clock.status());
  host.clock_ = *std::move(clock);
  host.kafka_ = KafkaSettings::FromConfig(host.config_);
  if (auto probe = BaseKafkaConf(host.kafka_); !probe.ok()) return fail(probe.status());

  host.metrics_ = std::make_unique<Metrics>(std::string(name));
  if (auto st = host.metrics_->Serve(host.config_.GetString("metrics-address")); !st.ok()) return fail(st);
  auto store = Store::Open(host.config_.GetString("data-dir"), families);
  if (!store.ok()) return fail(store.status());
  host.store_ = *std::move(store);
  auto outbox = Outbox::Open(*host.store_, host.kafka_, host.metrics_.get());
  if (!outbox.ok()) return fail(outbox.status());
  host.outbox_ = *std::move(outbox);
  host.consumer_ =
      std::make_unique<Consumer>(*host.store_, *host.outbox_, host.kafka_, host.metrics_.get(), *host.clock_);
  if (auto st = setup(host); !st.ok()) return fail(st);

  StopRequest stop;
  if (auto st = host.outbox_->Start(); !st.ok()) return fail(st);
  if (host.consumes_) {
    if (auto st = host.consumer_->Start([&stop](const absl::Status& s) { stop.Request(s); }); !st.ok()) return fail(st);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(host.config_.GetString("grpc-address"), grpc::InsecureServerCredentials(), &grpc_port);
  for (auto& s : host.services_) builder.RegisterService(s.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<MetricsInterceptorFactory>(host.metrics_.get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  absl::Status exit_status;
  if (server == nullptr || grpc_port == 0) {
    exit_status = absl::UnavailableError(
        absl::StrCat("grpc-address ", host.config_.GetString("grpc-address"), " could not be bound"));
    stop.Request(exit_status);
  } else {
    const std::string grpc_host = host.config_.GetString("grpc-address").substr(
        0, host.config_.GetString("grpc-address").rfind(':'));
    const std::string metrics_host = host.config_.GetString("metrics-address").substr(
        0, host.config_.GetString("metrics-address").rfind(':'));
    std::printf("READY %s grpc=%s:%d metrics=%s:%d\n", std::string(name).c_str(), grpc_host.c_str(), grpc_port,
                metrics_host.c_str(), host.metrics_->port());
    std::fflush(stdout);
    spdlog::info("serving gRPC on {}:{}, metrics on {}:{}", grpc_host, grpc_port, metrics_host, host.metrics_->port());
  }

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0) spdlog::info("signal {} received: shutting down", sig);
    stop.Request(absl::OkStatus());
  });

  exit_status = stop.Wait();
  // Orderly shutdown: stop intake, finish calls in flight, leave the group, flush the outbox.
  const absl::Time deadline = absl::Now() + host.config_.GetDuration("shutdown-timeout");
  if (server) {
    server->GetHealthCheckService()->Shutdown();
    server->Shutdown(absl::ToChronoTime(deadline));
  }
  if (host.consumes_) host.consumer_->Stop();
  host.outbox_->Stop(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  // Wake the signal thread if the stop came from elsewhere.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  host.consumer_.reset();
  host.outbox_.reset();
  host.store_.reset();
  if (!exit_status.ok()) {
    spdlog::critical("stopped on error: {}", exit_status.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace pbr::platform
