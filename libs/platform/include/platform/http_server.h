#pragma once
// A small read-only HTTP server for pages and JSON a browser reads (the reporting dashboard): GET and
// HEAD of exact paths only, bounded requests, deadlines on every socket, and the browser hardening
// headers on every answer. Handlers see plain data and never the HTTP library, so they are tested as
// functions; the library (cpp-httplib) stays inside libs/platform.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "platform/caller.h"
#include "platform/tls.h"

namespace pbr::platform {

struct HttpRequest {
  std::string path;
  // Query parameters, the first value of each (a repeated name is refused before a handler sees it).
  std::map<std::string, std::string> query;
  // Over HTTPS: the caller a client certificate the CA signed names (not authenticated without one).
  Caller caller;
  std::string cookie;         // the Cookie header, as sent (at most 4 KiB)
  std::string authorization;  // the Authorization header, as sent (at most 4 KiB)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  // Seconds a browser may keep it (static assets); 0: never cached (live figures).
  int max_age_seconds = 0;
  // Set-Cookie and Location only (a sign-in); the hardening headers are always added.
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// Runs before every route over HTTPS: an answer refuses the request, nullopt lets it through.
using HttpGuard = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

// A JSON error answer: {"error": message, "field": field} (field omitted when empty).
HttpResponse HttpError(int status, const std::string& message, const std::string& field = "");

class HttpServer {
 public:
  struct Limits {
    absl::Duration read_timeout = absl::Seconds(5);
    absl::Duration write_timeout = absl::Seconds(10);
    size_t max_query_parameters = 16;
    size_t max_parameter_bytes = 256;  // a name or a value
    int threads = 8;  // each open connection holds one while it lives (keep-alive at most 2 s idle)
  };
  HttpServer();
  explicit HttpServer(Limits limits);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers GET (and HEAD) of exactly `path`. Register before Start.
  void Get(const std::string& path, HttpHandler handler);
  // Who may read what, checked before every route when serving HTTPS. Set before Start.
  void SetGuard(HttpGuard guard) { guard_ = std::move(guard); }
  // Binds HOST:PORT (port 0 picks a free one) and serves on threads of its own: HTTPS with `tls`'s
  // certificate, asking for (not requiring) a client certificate from its CA, or, without `tls`,
  // plain HTTP on a loopback address only (and then no guard: nobody has a role). UNAVAILABLE when
  // the address cannot be bound (another process holds it), INVALID_ARGUMENT when it is not
  // HOST:PORT or plain HTTP is asked for off loopback.
  absl::Status Start(const std::string& address, const TlsMaterial* tls = nullptr);
  bool https() const { return https_; }
  int port() const { return port_.load(); }  // 0 until Start has bound it (any thread)
  const std::string& host() const { return host_; }
  // Stops accepting and waits for the requests in flight. Idempotent; the destructor calls it.
  void Stop();
  // Whether a route is registered (a service with none starts no server).
  bool empty() const { return routes_.empty(); }

 private:
  struct Impl;
  Limits limits_;
  std::map<std::string, HttpHandler> routes_;
  HttpGuard guard_;
  bool https_ = false;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::string host_;
  std::atomic<int> port_{0};
};

}  // namespace pbr::platform
