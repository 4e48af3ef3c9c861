#include "dashboard/sign_in.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pbr::reporting {
namespace {

using ::testing::HasSubstr;

platform::Caller Operations() {
  platform::Caller c;
  c.role = "operations";
  c.subject = "CN=ops lead,O=Trust";
  c.authenticated = true;
  return c;
}

platform::HttpRequest Get(const std::string& path, std::map<std::string, std::string> query = {}) {
  platform::HttpRequest r;
  r.path = path;
  r.query = std::move(query);
  return r;
}

// The session cookie a sign-in answer sets ("pbr_dashboard=<token>").
std::string CookieOf(const platform::HttpResponse& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Set-Cookie") return value.substr(0, value.find(';'));
  }
  return "";
}

struct Fixture {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  DashboardSignIn sign_in{platform::SessionTokens::WithRandomKey(), [this] { return now; }};
  std::string TokenOf(const pbr::v1::SignInLink& link) { return link.path().substr(link.path().find('=') + 1); }
};

TEST(DashboardSignIn, ALinkStartsASessionThatOpensThePageAndItsJson) {
  Fixture f;
  const pbr::v1::SignInLink link = f.sign_in.IssueLink(Operations(), 8094);
  EXPECT_TRUE(absl::StartsWith(link.path(), "/sign-in?token=")) << link.path();
  EXPECT_EQ(link.port(), 8094);
  EXPECT_EQ(link.expires_at().seconds(), absl::ToUnixSeconds(f.now + kSignInLinkLifetime));

  const platform::HttpResponse signed_in = f.sign_in.SignIn(Get("/sign-in", {{"token", f.TokenOf(link)}}));
  EXPECT_EQ(signed_in.status, 303);
  std::string set_cookie;
  for (const auto& [name, value] : signed_in.headers) {
    if (name == "Set-Cookie") set_cookie = value;
    if (name == "Location") EXPECT_EQ(value, "/");
  }
  EXPECT_THAT(set_cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(set_cookie, HasSubstr("Secure"));
  EXPECT_THAT(set_cookie, HasSubstr("Max-Age=43200"));

  for (const std::string path : {"/", "/api/v1/dashboard"}) {
    platform::HttpRequest with_cookie = Get(path);
    with_cookie.cookie = absl::StrCat("theme=dark; ", CookieOf(signed_in));
    EXPECT_EQ(f.sign_in.Guard(with_cookie), std::nullopt) << path;
    platform::HttpRequest with_bearer = Get(path);
    with_bearer.authorization = absl::StrCat("Bearer ", CookieOf(signed_in).substr(sizeof(kSessionCookie)));
    EXPECT_EQ(f.sign_in.Guard(with_bearer), std::nullopt) << path;
  }
  // Twelve hours on, the session is over.
  f.now += kDashboardSessionLifetime;
  platform::HttpRequest late = Get("/api/v1/dashboard");
  late.cookie = CookieOf(signed_in);
  ASSERT_TRUE(f.sign_in.Guard(late).has_value());
  EXPECT_EQ(f.sign_in.Guard(late)->status, 401);
}

TEST(DashboardSignIn, NobodyElseGetsIn) {
  Fixture f;
  // No certificate and no session: 401 saying how to sign in, as JSON for the endpoints, a page elsewhere.
  auto json = f.sign_in.Guard(Get("/api/v1/dashboard"));
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(json->status, 401);
  EXPECT_THAT(json->content_type, HasSubstr("application/json"));
  EXPECT_THAT(json->body, HasSubstr("pbrctl dashboard-link"));
  auto page = f.sign_in.Guard(Get("/"));
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->status, 401);
  EXPECT_THAT(page->content_type, HasSubstr("text/html"));

  // A certificate of another role: 403 naming it. An operations certificate: in.
  platform::HttpRequest finance = Get("/api/v1/dashboard");
  finance.caller = Operations();
  finance.caller.role = "finance";
  ASSERT_TRUE(f.sign_in.Guard(finance).has_value());
  EXPECT_EQ(f.sign_in.Guard(finance)->status, 403);
  EXPECT_THAT(f.sign_in.Guard(finance)->body, HasSubstr("finance role may not"));
  platform::HttpRequest ops = Get("/api/v1/dashboard");
  ops.caller = Operations();
  EXPECT_EQ(f.sign_in.Guard(ops), std::nullopt);

  // A link is good for five minutes, and only as a link; a forged or altered one is refused.
  const std::string link = f.TokenOf(f.sign_in.IssueLink(Operations(), 8094));
  platform::HttpRequest as_session = Get("/");
  as_session.authorization = "Bearer " + link;
  EXPECT_EQ(f.sign_in.Guard(as_session)->status, 401) << "a link is not a session";
  std::string altered = link;
  altered[2] = altered[2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(f.sign_in.SignIn(Get("/sign-in", {{"token", altered}})).status, 401);
  EXPECT_EQ(f.sign_in.SignIn(Get("/sign-in")).status, 400);
  DashboardSignIn other_key(platform::SessionTokens::WithRandomKey(), [&f] { return f.now; });
  EXPECT_EQ(other_key.SignIn(Get("/sign-in", {{"token", link}})).status, 401) << "another service's key";
  f.now += kSignInLinkLifetime;
  const platform::HttpResponse expired = f.sign_in.SignIn(Get("/sign-in", {{"token", link}}));
  EXPECT_EQ(expired.status, 401);
  EXPECT_THAT(expired.body, HasSubstr("expired"));
  // The sign-in page itself is always reachable.
  EXPECT_EQ(f.sign_in.Guard(Get("/sign-in")), std::nullopt);
}

}  // namespace
}  // namespace pbr::reporting

namespace pbr::reporting {
namespace {

// A token whose MAC is missing or short is refused, whatever its payload says.
TEST(DashboardSignIn, ATokenWithoutItsFullMacIsRefused) {
  const platform::SessionTokens tokens = platform::SessionTokens::WithRandomKey();
  const std::string token = tokens.Issue(Operations(), "dashboard-session", absl::Now() + absl::Hours(1));
  const std::string payload = token.substr(0, token.find('.'));
  EXPECT_TRUE(tokens.Verify(token, "dashboard-session", absl::Now()).ok());
  for (const std::string forged : {payload + ".", payload + ".AAAA", payload}) {
    EXPECT_EQ(tokens.Verify(forged, "dashboard-session", absl::Now()).status().code(),
              absl::StatusCode::kUnauthenticated)
        << forged;
  }
}

}  // namespace
}  // namespace pbr::reporting
