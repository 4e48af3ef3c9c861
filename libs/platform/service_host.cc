#include "platform/service_host.h"

#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "platform/tls.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/support/server_interceptor.h"
#include "platform/log.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace pbr::platform {
namespace {

using grpc::experimental::InterceptionHookPoints;

// The method a call names, if this binary knows it ("/pbr.v1.Allocation/RecordAssessment").
const google::protobuf::MethodDescriptor* FindMethod(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, "/")) return nullptr;
  const size_t slash = path.find('/');
  if (slash == absl::string_view::npos) return nullptr;
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
      absl::StrCat(path.substr(0, slash), ".", path.substr(slash + 1)));
}

// Health checks are served by gRPC's own code, with no descriptor in the generated pool.
constexpr absl::string_view kHealthMethods[] = {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"};

// Protobuf reports a string field holding invalid UTF-8 only in a log line, written on the
// thread that parses. The sync server creates a call's interceptors, parses its request and runs
// the POST_RECV_MESSAGE hook on one thread, in that order, so the line in between names the field.
thread_local std::string t_invalid_utf8_field;
google::protobuf::LogHandler* g_previous_log_handler = nullptr;

void CaptureProtobufLog(google::protobuf::LogLevel level, const char* filename, int line, const std::string& message) {
  // "String field 'pbr.v1.MhctRatings.item8_other_text' contains invalid UTF-8 data when parsing ..."
  absl::string_view m = message;
  if (absl::ConsumePrefix(&m, "String field '") && absl::StrContains(m, "invalid UTF-8")) {
    t_invalid_utf8_field = std::string(m.substr(0, m.find('\'')));
  }
  if (g_previous_log_handler != nullptr) g_previous_log_handler(level, filename, line, message);
}

// The path from `message` to the field named `full_name` ("ratings.item8_other_text").
bool FieldPath(const google::protobuf::Descriptor* message, absl::string_view full_name, int depth, std::string* path) {
  if (message == nullptr || depth > 8) return false;
  for (int i = 0; i < message->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = message->field(i);
    std::string rest;
    if (f->full_name() == full_name ||
        (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE &&
         FieldPath(f->message_type(), full_name, depth + 1, &rest))) {
      *path = rest.empty() ? f->name() : absl::StrCat(f->name(), ".", rest);
      return true;
    }
  }
  return false;
}

// A request that cannot be parsed is the caller's mistake: gRPC answers INTERNAL with no message,
// so this names the problem and the field instead (INVALID_ARGUMENT), for every service's calls.
class UnreadableRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit UnreadableRequestInterceptor(grpc::experimental::ServerRpcInfo* info) : method_(info->method()) {
    t_invalid_utf8_field.clear();  // this thread parses this call's request next
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (methods->GetRecvMessage() == nullptr) {
        unreadable_ = true;
        field_ = t_invalid_utf8_field;
      }
      t_invalid_utf8_field.clear();
    }
    if (unreadable_ && methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL) {
      methods->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, Problem()));
    }
    methods->Proceed();
  }

 private:
  std::string Problem() const {
    const google::protobuf::MethodDescriptor* method = FindMethod(method_);
    const std::string request = method ? method->input_type()->full_name() : "the request";
    if (field_.empty()) return absl::StrCat("request: not a valid ", request, " message");
    std::string path;
    if (!method || !FieldPath(method->input_type(), field_, 0, &path)) path = field_;
    return absl::StrCat(path, ": is not valid UTF-8 (every string field must be)");
  }

  std::string method_;
  bool unreadable_ = false;
  std::string field_;
};

class UnreadableRequestInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new UnreadableRequestInterceptor(info);
  }
};

// Counts every RPC by method and status code and observes its latency. A method this binary does
// not know is counted as "unknown": label values come from a bounded set, whatever callers send.
class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info, Metrics* metrics)
      : method_(MethodLabel(info->method())), metrics_(metrics), start_(absl::Now()) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
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

std::string MethodLabel(absl::string_view method) {
  for (absl::string_view health : kHealthMethods) {
    if (method == health) return std::string(method);
  }
  return FindMethod(method) != nullptr ? std::string(method) : "unknown";
}

namespace {
// Mutual TLS from the tls-* files. Plaintext only when grpc-plaintext says so, and only on loopback:
// a forgotten setting must not leave mental-health records readable by anyone on the network.
// `loaded` receives the TLS files, which the service's HTTPS pages serve with too.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const Config& config,
                                                                              const AccessPolicy& policy,
                                                                              std::optional<TlsMaterial>& loaded) {
  const TlsFiles files{config.GetString("tls-ca-file"), config.GetString("tls-cert-file"),
                       config.GetString("tls-key-file")};
  const bool no_tls = files.ca_file.empty() && files.cert_file.empty() && files.key_file.empty();
  const std::string address = config.GetString("grpc-address");
  if (config.GetBool("grpc-plaintext")) {
    if (!no_tls) {
      return absl::InvalidArgumentError("grpc-plaintext: true, but tls-* files are given too; choose one");
    }
    if (!IsLoopbackAddress(address)) {
      return absl::InvalidArgumentError(absl::StrCat("grpc-plaintext: plaintext gRPC listens only on loopback, not on ",
                                                     address, " (give tls-ca-file, tls-cert-file and tls-key-file)"));
    }
    spdlog::warn("gRPC: plaintext on {} (grpc-plaintext): no caller has a role, every call is allowed", address);
    return grpc::InsecureServerCredentials();
  }
  if (no_tls) {
    return absl::InvalidArgumentError(
        "tls-ca-file: gRPC needs mutual TLS: give tls-ca-file, tls-cert-file and tls-key-file (scripts/make-certs.sh "
        "makes a local set), or grpc-plaintext=true on a loopback address for a developer's machine");
  }
  auto tls = LoadTls(files, absl::Now());
  if (!tls.ok()) return tls.status();
  AccessPolicy checked = policy ? policy : AccessPolicy([](const Caller&, absl::string_view method) {
    return absl::PermissionDeniedError(absl::StrCat("this service declares no access policy: ", method, " refused"));
  });
  spdlog::info("gRPC: mutual TLS as {} (certificate valid until {})", tls->subject, absl::FormatTime(tls->not_after));
  loaded = *tls;
  return ServerTlsCredentials(*tls, std::move(checked));
}
}  // namespace

void PrepareServer(grpc::ServerBuilder& builder, Metrics* metrics) {
  static std::once_flag once;
  std::call_once(once, [] { g_previous_log_handler = google::protobuf::SetLogHandler(&CaptureProtobufLog); });
  // Off, so a second process on a bound address fails to start instead of sharing its calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  // First, so the metrics see the status as rewritten.
  interceptors.push_back(std::make_unique<UnreadableRequestInterceptorFactory>());
  if (metrics != nullptr) interceptors.push_back(std::make_unique<MetricsInterceptorFactory>(metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // A backstop: status messages travel as metadata, which clients limit (8 KiB by default).
  constexpr size_t kMaxMessage = 4096;
  absl::string_view message = s.message();
  std::string shown = message.size() <= kMaxMessage
                          ? std::string(message)
                          : absl::StrCat(message.substr(0, kMaxMessage), "... (", message.size(), " bytes)");
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::move(shown));
}

void ServiceHost::On(absl::string_view topic_name, EventHandler handler, std::string name) {
  consumes_ = true;
  consumer_->On(topic_name, std::move(handler), std::move(name));
}

absl::Status ServiceHost::AddProjection(std::shared_ptr<const Projection> projection) {
  const std::string prefix = absl::StrCat(projection->name(), "_");
  for (const std::string& family : projection->families()) {
    if (!absl::StartsWith(family, prefix)) {
      return absl::FailedPreconditionError(absl::StrCat("projection ", projection->name(), ": family ", family,
                                                        " is not named ", prefix, "..."));
    }
    if (!store_->HasFamily(family)) {
      return absl::FailedPreconditionError(absl::StrCat("projection ", projection->name(), ": family ", family,
                                                        " is not in the service's family list"));
    }
  }
  if (auto st = CheckProjectionDerivation(*store_, *projection); !st.ok()) return st;
  for (const std::string& topic : projection->topics()) {
    const Projection* p = projection.get();
    On(topic, [p](const ConsumedEvent& ev, ApplyContext& ctx) { return p->Apply(ev, ctx); },
       std::string(projection->name()));
  }
  projections_.push_back(std::move(projection));
  return absl::OkStatus();
}

std::string DerivationKey(absl::string_view projection_name) { return absl::StrCat("projection/", projection_name); }

absl::Status CheckProjectionDerivation(Store& store, const Projection& projection) {
  const std::string family(rocksdb::kDefaultColumnFamilyName);
  const std::string key = DerivationKey(projection.name());
  const std::string derivation = projection.derivation();
  auto stored = store.Get(family, key);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    if (**stored == derivation) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "projection ", projection.name(), ": its state in ", store.dir(), " was derived with \"", **stored,
        "\", not \"", derivation, "\" (the rules or settings changed): start once with --reset-state=true to "
        "rebuild it from the topics, or with what it was derived with"));
  }
  rocksdb::WriteBatch batch;
  batch.Put(store.Family(family), key, derivation);
  return store.Write(batch, /*sync=*/true);
}

absl::StatusOr<pbr::v1::ConsumedShare> ServiceHost::consumed_share() const {
  if (!consumer_) return pbr::v1::ConsumedShare();  // consumes nothing: answers for all it holds
  auto share = consumer_->Share();
  if (!share.ok()) return share.status();
  pbr::v1::ConsumedShare out;
  out.set_assigned(share->partitions.has_value());
  if (share->partitions.has_value()) {
    for (int32_t p : *share->partitions) out.add_partitions(p);
  }
  for (const auto& a : share->applied) {
    auto* position = out.add_applied();
    position->set_topic(a.topic);
    position->set_partition(a.partition);
    position->set_next_offset(a.next_offset);
  }
  return out;
}

void ServiceHost::Every(absl::Duration interval, std::function<absl::Status(ApplyContext&)> task) {
  consumes_ = true;
  consumer_->Every(interval, std::move(task));
}

SettingSpec ResetStateSetting() {
  return {"reset-state", SettingKind::kBool, "false",
          "delete this service's store at start and rebuild it from the topics (once, after the broker was "
          "replaced and allocation re-published its history; README: Recovery)"};
}

SettingSpec HttpAddressSetting(int default_port) {
  return {"http-address", SettingKind::kHostPort, absl::StrCat("127.0.0.1:", default_port),
          "where the service's HTTP pages are served (port 0 picks a free one)"};
}

void ServiceHost::AddService(std::unique_ptr<grpc::Service> service) { services_.push_back(std::move(service)); }

namespace {

// The families a service keeps are its state layout. A store an earlier version built with another
// layout would be read wrongly (a read model missing what it now derives from), so a service that
// can rebuild from the topics refuses it and says how; allocation, the system of record, keeps its
// data and only warns about families it no longer uses.
absl::Status CheckStateLayout(Store& store, std::vector<std::string> families, bool rebuildable,
                              const std::string& dir) {
  constexpr absl::string_view kLayoutKey = "state-layout";
  const std::string family(rocksdb::kDefaultColumnFamilyName);
  std::sort(families.begin(), families.end());
  const std::string layout = absl::StrJoin(families, ",");
  auto marker = store.Get(family, kLayoutKey);
  if (!marker.ok()) return marker.status();
  const bool changed = marker->has_value() ? **marker != layout
                                           : !store.created_families().empty() || !store.unrequested_families().empty();
  if (changed && rebuildable) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data-dir ", dir, ": this store was built by an earlier version that kept other state (",
        marker->has_value() ? absl::StrCat("layout ", **marker) : std::string("no layout recorded"), "; now ", layout,
        "): start once with --reset-state=true to rebuild it from the topics"));
  }
  for (const auto& f : store.unrequested_families()) {
    PBR_LOG(warn) << "store: family " << f << " in " << dir << " is no longer used by this version (kept as it is)";
  }
  if (marker->has_value() && **marker == layout) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  batch.Put(store.Family(family), std::string(kLayoutKey), layout);
  return store.Write(batch, /*sync=*/true);
}

}  // namespace

int RunService(absl::string_view name, std::vector<SettingSpec> settings, const std::vector<std::string>& families,
               int argc, const char* const* argv, const char* const* envp,
               const std::function<absl::Status(ServiceHost&)>& setup) {
  // Signals are taken by one thread with sigwait, so every other thread runs undisturbed.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A peer that closes a connection while the service writes to it (a dashboard tab closed mid-answer,
  // a TLS client refused at the handshake) is an error on that connection: OpenSSL writes with plain
  // write(2), whose SIGPIPE would otherwise end the whole service.
  signal(SIGPIPE, SIG_IGN);
  // Logs go to stderr; stdout carries only the READY line that launchers wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt(std::string(name)));
  spdlog::set_pattern(absl::StrCat("%Y-%m-%dT%H:%M:%S.%e %^%l%$ ", name, ": %v"));

  // Settings the platform itself takes in every service.
  settings.push_back({"store-memory-mib", SettingKind::kInt, "256",
                      "RocksDB memory for the whole store (block cache, with the memtables charged to it)", false, 16,
                      1 << 20});
  settings.push_back({"store-reserve-mib", SettingKind::kInt, "64",
                      "free space kept on the data directory's filesystem: below it writes are refused (UNAVAILABLE) "
                      "and health says NOT_SERVING until space returns",
                      false, 2, 1 << 20});
  settings.push_back({"dedup-retention", SettingKind::kDuration, "720h",
                      "how long applied event ids are remembered to drop re-sent copies; must exceed the longest "
                      "outage after which an outbox could re-send an event"});
  const bool rebuildable = std::any_of(settings.begin(), settings.end(), [](const SettingSpec& s) {
    return s.name == "reset-state";
  });
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
    if (host.metrics_) host.metrics_->CloseCollectors();
    return 1;
  };
  if (host.config_.GetDuration("dedup-retention") < absl::Hours(1)) {
    std::fprintf(stderr, "%s: invalid configuration:\n  dedup-retention = '%s' must be at least 1h: ids must outlive "
                 "any re-send of an event\n", std::string(name).c_str(), host.config_.GetString("dedup-retention").c_str());
    return 2;
  }
  auto clock = MakeClock(host.config_.GetString("clock"));
  if (!clock.ok()) return fail(clock.status());
  host.clock_ = *std::move(clock);
  host.kafka_ = KafkaSettings::FromConfig(host.config_);
  if (auto probe = BaseKafkaConf(host.kafka_); !probe.ok()) return fail(probe.status());

  host.metrics_ = std::make_unique<Metrics>(std::string(name));
  if (auto st = host.metrics_->Serve(host.config_.GetString("metrics-address")); !st.ok()) return fail(st);
  if (rebuildable && host.config_.GetBool("reset-state")) {
    // An explicit rebuild (after a broker was replaced): this service's state comes back from the topics.
    spdlog::warn("reset-state: deleting the store in {} to rebuild it from the topics", host.config_.GetString("data-dir"));
    if (auto st = Store::Destroy(host.config_.GetString("data-dir")); !st.ok()) return fail(st);
  }
  StoreOptions store_options;
  store_options.memory_budget = static_cast<uint64_t>(host.config_.GetInt("store-memory-mib")) << 20;
  store_options.min_free_bytes = static_cast<uint64_t>(host.config_.GetInt("store-reserve-mib")) << 20;
  auto store = Store::Open(host.config_.GetString("data-dir"), families, store_options);
  if (!store.ok()) return fail(store.status());
  host.store_ = *std::move(store);
  if (auto st = CheckStateLayout(*host.store_, families, rebuildable, host.config_.GetString("data-dir")); !st.ok()) {
    return fail(st);
  }
  auto outbox = Outbox::Open(*host.store_, host.kafka_, host.metrics_.get());
  if (!outbox.ok()) return fail(outbox.status());
  host.outbox_ = *std::move(outbox);
  host.consumer_ =
      std::make_unique<Consumer>(*host.store_, *host.outbox_, host.kafka_, host.metrics_.get(), *host.clock_);
  host.consumer_->SetDedupRetention(host.config_.GetDuration("dedup-retention"));
  if (auto st = setup(host); !st.ok()) return fail(st);

  // The gRPC port is bound before the outbox and the consumer start: a process that cannot have
  // its address (another one holds it) must stop before it joins the consumer group.
  grpc::EnableDefaultHealthCheckService(true);
  if (host.config_.GetBool("grpc-reflection")) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  std::optional<TlsMaterial> tls;
  auto credentials = ServerCredentialsFor(host.config_, host.access_policy_, tls);
  if (!credentials.ok()) return fail(credentials.status());
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(host.config_.GetString("grpc-address"), *credentials, &grpc_port);
  for (auto& s : host.services_) builder.RegisterService(s.get());
  PrepareServer(builder, host.metrics_.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || grpc_port == 0) {
    return fail(absl::UnavailableError(absl::StrCat("grpc-address ", host.config_.GetString("grpc-address"),
                                                    ": cannot listen there (is another process using it?)")));
  }
  auto stop_server = [&server, &host] {
    host.stopping_.Set();
    host.http_.Stop();
    server->Shutdown(absl::ToChronoTime(absl::Now()));
  };
  std::string http_line;
  if (!host.http_.empty()) {
    if (!host.config_.Has("http-address")) {
      stop_server();
      return fail(absl::FailedPreconditionError("the service serves HTTP but declares no http-address setting"));
    }
    if (auto st = host.http_.Start(host.config_.GetString("http-address"), tls ? &*tls : nullptr); !st.ok()) {
      stop_server();
      return fail(st);
    }
    http_line = absl::StrCat(" http=", host.http_.host(), ":", host.http_.port());  // HTTPS under mutual TLS
  }

  StopRequest stop;
  if (auto st = host.outbox_->Start(); !st.ok()) {
    stop_server();
    return fail(st);
  }
  if (host.consumes_) {
    if (auto st = host.consumer_->Start([&stop](const absl::Status& s) { stop.Request(s); }); !st.ok()) {
      stop_server();
      host.outbox_->Stop(absl::ZeroDuration());
      return fail(st);
    }
  }
  const std::string grpc_host =
      host.config_.GetString("grpc-address").substr(0, host.config_.GetString("grpc-address").rfind(':'));
  const std::string metrics_host =
      host.config_.GetString("metrics-address").substr(0, host.config_.GetString("metrics-address").rfind(':'));
  std::printf("READY %s grpc=%s:%d metrics=%s:%d%s\n", std::string(name).c_str(), grpc_host.c_str(), grpc_port,
              metrics_host.c_str(), host.metrics_->port(), http_line.c_str());
  std::fflush(stdout);
  spdlog::info("serving gRPC on {}:{}, metrics on {}:{}", grpc_host, grpc_port, metrics_host, host.metrics_->port());

  // Health follows the store and the outbox: NOT_SERVING while the store cannot write (a full
  // disk; it recovers by itself), and "outbox" NOT_SERVING while events the broker refused for good
  // are kept aside for an operator.
  std::mutex health_mu;
  std::condition_variable health_cv;
  bool health_stop = false;
  std::thread health_thread([&] {
    std::optional<bool> was_writable, was_delivering;
    std::unique_lock lock(health_mu);
    while (!health_stop) {
      lock.unlock();
      const absl::Status writable = host.store_->CheckWritable();
      const bool delivering = host.outbox_->undeliverable() == 0;
      if (server && (was_writable != writable.ok() || was_delivering != delivering)) {
        server->GetHealthCheckService()->SetServingStatus(writable.ok());
        server->GetHealthCheckService()->SetServingStatus("outbox", delivering);
        if (was_writable.has_value() && *was_writable != writable.ok()) {
          if (writable.ok()) spdlog::warn("health: SERVING again, the store writes");
          else spdlog::error("health: NOT_SERVING: {}", writable.ToString());
        }
      }
      host.metrics_->SetStoreWritable(writable.ok());
      was_writable = writable.ok();
      was_delivering = delivering;
      lock.lock();
      health_cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return health_stop; });
    }
  });

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0) spdlog::info("signal {} received: shutting down", sig);
    stop.Request(absl::OkStatus());
  });

  const absl::Status exit_status = stop.Wait();
  host.store_->BeginShutdown();  // nothing may wait for disk space from here on
  {
    std::lock_guard lock(health_mu);
    health_stop = true;
  }
  health_cv.notify_all();
  health_thread.join();
  // Orderly shutdown: stop intake, finish calls in flight, leave the group, flush the outbox.
  const absl::Time deadline = absl::Now() + host.config_.GetDuration("shutdown-timeout");
  server->GetHealthCheckService()->Shutdown();
  host.stopping_.Set();  // open streams end now, not at the deadline
  host.http_.Stop();     // pages read the store: done before it closes
  server->Shutdown(absl::ToChronoTime(deadline));
  if (host.consumes_) host.consumer_->Stop();
  host.outbox_->Stop(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  // Wake the signal thread if the stop came from elsewhere.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  host.metrics_->CloseCollectors();  // scrape-time gauges read the store and the service's own objects
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
