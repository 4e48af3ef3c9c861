#pragma once
// A gRPC server on a free loopback port inside the test process, for tests that must go through
// real gRPC (request parsing, interceptors). `prepare` adds what the services get in production
// (pass platform::PrepareServer).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace pbr::testing {

class TestServer {
 public:
  static std::unique_ptr<TestServer> Start(const std::vector<grpc::Service*>& services,
                                           const std::function<void(grpc::ServerBuilder&)>& prepare) {
    // As RunService does. gRPC's health service is served through its callback API, and with a
    // callback method on the server, unknown methods reach the interceptors under their own names.
    grpc::EnableDefaultHealthCheckService(true);
    auto s = std::unique_ptr<TestServer>(new TestServer);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &s->port_);
    for (grpc::Service* service : services) builder.RegisterService(service);
    if (prepare) prepare(builder);
    s->server_ = builder.BuildAndStart();
    if (s->server_ == nullptr || s->port_ == 0) return nullptr;
    return s;
  }
  ~TestServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }

 private:
  TestServer() = default;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace pbr::testing
