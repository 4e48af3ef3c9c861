#pragma once
// A small read-only HTTP server for pages and JSON a browser reads (the reporting dashboard): GET and
// HEAD of exact paths only, bounded requests, deadlines on every socket, and the browser hardening
// headers on every answer. Handlers see plain data and never the HTTP library, so they are tested as
// functions; the library (cpp-httplib) stays inside libs/platform.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace pbr::platform {

struct HttpRequest {
  std::string path;
  // Query parameters, the first value of each (a repeated name is refused before a handler sees it).
  std::map<std::string, std::string> query;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  // Seconds a browser may keep it (static assets); 0: never cached (live figures).
  int max_age_seconds = 0;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

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
  // Binds HOST:PORT (port 0 picks a free one) and serves on threads of its own. UNAVAILABLE when the
  // address cannot be bound (another process holds it), INVALID_ARGUMENT when it is not HOST:PORT.
  absl::Status Start(const std::string& address);
  int port() const { return port_; }
  const std::string& host() const { return host_; }
  // Stops accepting and waits for the requests in flight. Idempotent; the destructor calls it.
  void Stop();
  // Whether a route is registered (a service with none starts no server).
  bool empty() const { return routes_.empty(); }

 private:
  struct Impl;
  Limits limits_;
  std::map<std::string, HttpHandler> routes_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
};

}  // namespace pbr::platform
