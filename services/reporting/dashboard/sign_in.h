#pragma once
// Who may read the operations dashboard: under mutual TLS only the operations role, shown either by
// a client certificate the trust's CA signed or by a session a sign-in link started. A link is asked
// for over gRPC (Dashboard.IssueSignInLink, operations only; `pbrctl dashboard-link`), lives five
// minutes and, opened, sets an HttpOnly cookie that lives twelve hours. The tokens are signed
// (platform/session_token.h) under the dashboard-token-secret-file key, or a key of this process.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "platform/caller.h"
#include "platform/http_server.h"
#include "platform/session_token.h"

namespace pbr::reporting {

inline constexpr absl::Duration kSignInLinkLifetime = absl::Minutes(5);
inline constexpr absl::Duration kDashboardSessionLifetime = absl::Hours(12);
inline constexpr char kSessionCookie[] = "pbr_dashboard";
inline constexpr char kSignInPath[] = "/sign-in";

class DashboardSignIn {
 public:
  // `now` is wall-clock time (a service run on a fixed clinical clock still expires tokens truly).
  explicit DashboardSignIn(platform::SessionTokens tokens, std::function<absl::Time()> now = absl::Now)
      : tokens_(std::move(tokens)), now_(std::move(now)) {}

  // A sign-in link for `caller` (the access matrix admitted only operations to the call).
  pbr::v1::SignInLink IssueLink(const platform::Caller& caller, int port) const;
  // Before every page and endpoint: nullopt lets an operations caller through; otherwise the answer,
  // 401 (saying how to sign in: JSON under /api/, a page elsewhere) or 403 naming the role.
  std::optional<platform::HttpResponse> Guard(const platform::HttpRequest& request) const;
  // GET /sign-in?token=...: a valid link starts a session (the cookie) and goes to the page.
  platform::HttpResponse SignIn(const platform::HttpRequest& request) const;

 private:
  std::optional<platform::Caller> SessionCaller(const platform::HttpRequest& request) const;
  platform::SessionTokens tokens_;
  std::function<absl::Time()> now_;
};

// Dashboard.IssueSignInLink: handlers parse, call, answer.
class DashboardSignInApi final : public pbr::v1::Dashboard::Service {
 public:
  DashboardSignInApi(std::shared_ptr<const DashboardSignIn> sign_in, std::function<int()> port)
      : sign_in_(std::move(sign_in)), port_(std::move(port)) {}
  grpc::Status IssueSignInLink(grpc::ServerContext* context, const pbr::v1::IssueSignInLinkRequest*,
                               pbr::v1::SignInLink* reply) override;

 private:
  std::shared_ptr<const DashboardSignIn> sign_in_;
  std::function<int()> port_;
};

}  // namespace pbr::reporting
