#include "platform/http_server.h"

#include <httplib.h>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace pbr::platform {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/echo", [](const HttpRequest& r) {
      HttpResponse out;
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [k, v] : r.query) j[k] = v;
      out.body = j.dump();
      return out;
    });
    server_.Get("/throws", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    ASSERT_TRUE(server_.Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_.port());
    client_->set_connection_timeout(5);
    client_->set_read_timeout(5);
  }
  HttpServer server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, AnswersARouteWithItsQueryAndTheHardeningHeaders) {
  auto res = client_->Get("/echo?team=T1&month=2026-11");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body), (nlohmann::json{{"team", "T1"}, {"month", "2026-11"}}));
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(res->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
}

TEST_F(HttpServerTest, UnknownPathIs404AndWritesAre405) {
  auto missing = client_->Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto post = client_->Post("/echo", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
}

TEST_F(HttpServerTest, RepeatedOrOversizedParametersAreRefusedNamingThem) {
  auto repeated = client_->Get("/echo?team=A&team=B");
  ASSERT_TRUE(repeated);
  EXPECT_EQ(repeated->status, 400);
  EXPECT_EQ(nlohmann::json::parse(repeated->body)["field"], "team");
  auto big = client_->Get("/echo?team=" + std::string(300, 'x'));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 400);
  EXPECT_EQ(nlohmann::json::parse(big->body)["field"], "team");
}

TEST_F(HttpServerTest, AThrowingHandlerIs500AndTheServerKeepsServing) {
  auto res = client_->Get("/throws");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  auto again = client_->Get("/echo");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(HttpServerTest, BytesThatAreNotUtf8AreAnsweredAsJsonWithTheHeaders) {
  auto res = client_->Get("/%FF%FE");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  const auto body = nlohmann::json::parse(res->body);
  EXPECT_NE(body["error"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << res->body;  // U+FFFD
  auto repeated = client_->Get("/echo?%FF=1&%FF=2");
  ASSERT_TRUE(repeated);
  EXPECT_EQ(repeated->status, 400);
  EXPECT_TRUE(nlohmann::json::parse(repeated->body).contains("field"));
}

// Stop straight after Start returns (the library ignores a stop before its listen loop has begun).
TEST(HttpServer, StopStraightAfterStartReturns) {
  for (int i = 0; i < 50; ++i) {
    HttpServer server;
    server.Get("/", [](const HttpRequest&) { return HttpResponse{}; });
    ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
    server.Stop();
  }
}

TEST(HttpServer, ASecondServerOnTheSamePortIsRefused) {
  HttpServer first;
  first.Get("/", [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());
  HttpServer second;
  second.Get("/", [](const HttpRequest&) { return HttpResponse{}; });
  const absl::Status st = second.Start("127.0.0.1:" + std::to_string(first.port()));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(HttpServer().Start("nonsense").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pbr::platform
