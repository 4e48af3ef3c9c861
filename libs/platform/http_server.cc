#include "platform/http_server.h"

#include <httplib.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace pbr::platform {

struct HttpServer::Impl {
  std::unique_ptr<httplib::Server> server = std::make_unique<httplib::Server>();
};

HttpResponse HttpError(int status, const std::string& message, const std::string& field) {
  nlohmann::json body = {{"error", message}};
  if (!field.empty()) body["field"] = field;
  HttpResponse r;
  r.status = status;
  // A path or parameter name is echoed in messages and may be any bytes: invalid UTF-8 becomes U+FFFD.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpServer::HttpServer() : HttpServer(Limits{}) {}
HttpServer::HttpServer(Limits limits) : limits_(limits), impl_(std::make_unique<Impl>()) {}
HttpServer::~HttpServer() { Stop(); }

void HttpServer::Get(const std::string& path, HttpHandler handler) { routes_[path] = std::move(handler); }

namespace {

// What every answer carries: nothing is framed, sniffed, sent on as a referrer, or loaded from
// anywhere but this server (the page's scripts and styles are its own files, never inline).
void Harden(httplib::Response& res, int max_age_seconds) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  res.set_header("Cache-Control", max_age_seconds > 0 ? absl::StrCat("max-age=", max_age_seconds) : "no-store");
}

void Answer(httplib::Response& res, const HttpResponse& r) {
  res.status = r.status;
  res.set_content(r.body, r.content_type.c_str());
  for (const auto& [name, value] : r.headers) {
    if (name == "Set-Cookie" || name == "Location") res.set_header(name.c_str(), value);
  }
  Harden(res, r.max_age_seconds);
}

constexpr size_t kMaxCredentialHeaderBytes = 4096;

}  // namespace

absl::Status HttpServer::Start(const std::string& address, const TlsMaterial* tls) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http address '", address, "' is not HOST:PORT"));
  }
  host_ = address.substr(0, colon);
  if (tls == nullptr && !IsLoopbackAddress(address)) {
    return absl::InvalidArgumentError(absl::StrCat("http address ", address,
                                                   ": plain HTTP is served on loopback only (configure tls-* for HTTPS)"));
  }
  if (tls != nullptr && !guard_) {
    return absl::FailedPreconditionError(
        absl::StrCat("http address ", address, ": HTTPS pages need a guard saying who may read them (SetGuard)"));
  }
  if (tls != nullptr) {
    const TlsMaterial material = *tls;
    auto secure = std::make_unique<httplib::SSLServer>(
        [material](SSL_CTX& ctx) { return SetUpHttpsContext(material, &ctx); });
    if (!secure->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat("http address ", address, ": cannot serve HTTPS with the tls-* files"));
    }
    impl_->server = std::move(secure);
    https_ = true;
  }
  auto& server = *impl_->server;
  const int threads = limits_.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_read_timeout(absl::ToChronoSeconds(limits_.read_timeout));
  server.set_write_timeout(absl::ToChronoSeconds(limits_.write_timeout));
  // A connection holds a worker while it lives: idle keep-alive connections are let go quickly.
  server.set_keep_alive_timeout(2);
  server.set_keep_alive_max_count(20);
  server.set_payload_max_length(4096);  // a GET has no body; a write is refused (405) once read
  // SO_REUSEADDR only: the library's default SO_REUSEPORT would let a second process share the port.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  const Limits limits = limits_;
  const auto* routes = &routes_;
  const HttpGuard* guard = https_ && guard_ ? &guard_ : nullptr;
  auto serve = [routes, limits, guard](const httplib::Request& req, httplib::Response& res) {
    auto route = routes->find(req.path);
    if (route == routes->end()) {
      Answer(res, HttpError(404, absl::StrCat("no page or endpoint at ", req.path.substr(0, 200))));
      return;
    }
    HttpRequest request;
    request.path = req.path;
    if (req.params.size() > limits.max_query_parameters) {
      Answer(res, HttpError(400, absl::StrCat("at most ", limits.max_query_parameters, " query parameters")));
      return;
    }
    for (const auto& [name, value] : req.params) {
      if (name.size() > limits.max_parameter_bytes || value.size() > limits.max_parameter_bytes) {
        Answer(res, HttpError(400, absl::StrCat("a query parameter is longer than ", limits.max_parameter_bytes,
                                                " bytes"), name.substr(0, 64)));
        return;
      }
      if (!request.query.emplace(name, value).second) {
        Answer(res, HttpError(400, "given more than once", name));
        return;
      }
    }
    request.cookie = req.get_header_value("Cookie");
    request.authorization = req.get_header_value("Authorization");
    if (request.cookie.size() > kMaxCredentialHeaderBytes || request.authorization.size() > kMaxCredentialHeaderBytes) {
      Answer(res, HttpError(431, "the Cookie or Authorization header is too long"));
      return;
    }
    if (req.ssl != nullptr) request.caller = CallerOfHttpsPeer(req.ssl);
    HttpResponse answer;
    try {
      if (guard != nullptr) {
        if (std::optional<HttpResponse> refused = (*guard)(request)) {
          Answer(res, *refused);
          return;
        }
      }
      answer = route->second(request);
    } catch (const std::exception& e) {
      // A handler must not throw; one that does answers 500 and the server keeps serving.
      spdlog::error("http {}: {}", req.path, e.what());
      answer = HttpError(500, "internal error");
    }
    Answer(res, answer);
  };
  server.Get(".*", serve);
  auto refuse = [](const httplib::Request&, httplib::Response& res) {
    Answer(res, HttpError(405, "read only: only GET and HEAD are answered"));
    res.set_header("Allow", "GET, HEAD");
  };
  server.Post(".*", refuse);
  server.Put(".*", refuse);
  server.Patch(".*", refuse);
  server.Delete(".*", refuse);
  server.Options(".*", refuse);

  if (port == 0) {
    port_ = server.bind_to_any_port(host_);
    if (port_ <= 0) port_ = 0;
  } else if (server.bind_to_port(host_, port)) {
    port_ = port;
  }
  if (port_ == 0) {
    return absl::UnavailableError(absl::StrCat("http address ", address, ": cannot listen there (is another process using it?)"));
  }
  thread_ = std::thread([this] { impl_->server->listen_after_bind(); });
  // The library's stop() does nothing until its listen loop has begun: wait for that, so a Stop()
  // straight after Start() cannot leave the thread listening.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!impl_->server->is_running() && absl::Now() < deadline) std::this_thread::yield();
  if (!impl_->server->is_running()) {
    Stop();
    return absl::UnavailableError(absl::StrCat("http address ", address, ": the server did not start listening"));
  }
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  impl_->server->stop();
  thread_.join();
}

}  // namespace pbr::platform
