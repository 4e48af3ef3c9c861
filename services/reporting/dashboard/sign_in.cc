#include "dashboard/sign_in.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "platform/events.h"

namespace pbr::reporting {
namespace {

constexpr char kLinkPurpose[] = "dashboard-sign-in";
constexpr char kSessionPurpose[] = "dashboard-session";
constexpr char kOperations[] = "operations";

constexpr char kHowToSignIn[] =
    "sign in with an operations client certificate, or open the link `pbrctl dashboard-link` prints "
    "(run with an operations certificate)";

platform::HttpResponse Refusal(const platform::HttpRequest& request, int status, const std::string& why) {
  if (absl::StartsWith(request.path, "/api/")) return platform::HttpError(status, why);
  platform::HttpResponse page;
  page.status = status;
  page.content_type = "text/html; charset=utf-8";
  // No user text is echoed: `why` is the service's own sentence.
  page.body = absl::StrCat(
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in: operations dashboard</title>"
      "</head><body><h1>Operations dashboard</h1><p>",
      why, "</p></body></html>\n");
  return page;
}

// The value of cookie `name` in a Cookie header ("a=1; b=2").
std::string CookieValue(absl::string_view header, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) return std::string(part);
  }
  return "";
}

}  // namespace

pbr::v1::SignInLink DashboardSignIn::IssueLink(const platform::Caller& caller, int port) const {
  const absl::Time expires = now_() + kSignInLinkLifetime;
  pbr::v1::SignInLink link;
  link.set_path(absl::StrCat(kSignInPath, "?token=", tokens_.Issue(caller, kLinkPurpose, expires)));
  *link.mutable_expires_at() = platform::ToProto(expires);
  link.set_port(port);
  return link;
}

std::optional<platform::Caller> DashboardSignIn::SessionCaller(const platform::HttpRequest& request) const {
  std::string token = CookieValue(request.cookie, kSessionCookie);
  absl::string_view bearer = request.authorization;
  if (token.empty() && absl::ConsumePrefix(&bearer, "Bearer ")) token = std::string(bearer);
  if (token.empty()) return std::nullopt;
  auto caller = tokens_.Verify(token, kSessionPurpose, now_());
  if (!caller.ok()) return std::nullopt;
  return *caller;
}

std::optional<platform::HttpResponse> DashboardSignIn::Guard(const platform::HttpRequest& request) const {
  if (request.path == kSignInPath) return std::nullopt;
  if (request.caller.authenticated) {
    if (request.caller.role == kOperations) return std::nullopt;
    return Refusal(request, 403,
                   absl::StrCat("the ", request.caller.role, " role may not read the operations dashboard (operations only)"));
  }
  if (auto caller = SessionCaller(request)) {
    if (caller->role == kOperations) return std::nullopt;
    return Refusal(request, 403, "this session is not for the operations role");
  }
  return Refusal(request, 401, absl::StrCat("Not signed in: ", kHowToSignIn, "."));
}

platform::HttpResponse DashboardSignIn::SignIn(const platform::HttpRequest& request) const {
  auto token = request.query.find("token");
  if (token == request.query.end()) return Refusal(request, 400, absl::StrCat("This sign-in link has no token: ", kHowToSignIn, "."));
  auto caller = tokens_.Verify(token->second, kLinkPurpose, now_());
  if (!caller.ok()) {
    return Refusal(request, 401, absl::StrCat("This sign-in link cannot be used (", caller.status().message(), "): ",
                                              kHowToSignIn, " for a new one."));
  }
  if (caller->role != kOperations) return Refusal(request, 403, "this link is not for the operations role");
  const std::string session = tokens_.Issue(*caller, kSessionPurpose, now_() + kDashboardSessionLifetime);
  platform::HttpResponse go;
  go.status = 303;
  go.content_type = "text/plain; charset=utf-8";
  go.body = "signed in\n";
  // HttpOnly: no script reads it; Secure: only over HTTPS; Lax: sent when the link itself is followed.
  go.headers = {{"Set-Cookie", absl::StrCat(kSessionCookie, "=", session, "; Path=/; Max-Age=",
                                            absl::ToInt64Seconds(kDashboardSessionLifetime),
                                            "; HttpOnly; Secure; SameSite=Lax")},
                {"Location", "/"}};
  return go;
}

grpc::Status DashboardSignInApi::IssueSignInLink(grpc::ServerContext* context, const pbr::v1::IssueSignInLinkRequest*,
                                                 pbr::v1::SignInLink* reply) {
  const platform::Caller caller = platform::CallerOf(*context);
  if (!caller.authenticated) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "the dashboard needs no sign-in here: this reporting serves plaintext on loopback (grpc-plaintext)");
  }
  const int port = port_();
  if (port == 0) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the dashboard is not serving yet: try again");
  *reply = sign_in_->IssueLink(caller, port);
  return grpc::Status::OK;
}

}  // namespace pbr::reporting
