// The WebDriver client against headless Chromium and a page served here on loopback. Skipped, with
// the reason, when Chromium or ChromeDriver is not installed (scripts/setup.sh --browser).
#include "testing/webdriver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pbr::testing {
namespace {

// The script is a file of its own under a policy that forbids inline script and eval, as the
// dashboard's pages are: what the client runs in a page works there too (ChromeDriver's scripts
// are not subject to the page's policy).
constexpr char kPage[] = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>WebDriver test page</title><link rel="icon" href="data:,"></head>
<body>
<h1 id="status">idle</h1>
<button id="go" data-role="start">Go</button>
<button id="fail">Fail</button>
<select id="team"><option value="north">North</option><option value="south">South</option></select>
<p id="chosen">none</p>
<p id="later">waiting</p>
<ul><li class="item">a</li><li class="item">b</li><li class="item">c</li></ul>
<script src="/page.js"></script>
</body></html>
)html";

constexpr char kScript[] = R"js(
document.getElementById('go').addEventListener('click', () => {
  document.getElementById('status').textContent = 'clicked';
  setTimeout(() => {
    document.getElementById('later').textContent = 'done';
    const added = document.createElement('p');
    added.id = 'added';
    added.textContent = 'here';
    document.body.appendChild(added);
  }, 800);
});
document.getElementById('fail').addEventListener('click', () => console.error('boom from the page'));
document.getElementById('team').addEventListener('change', e => {
  document.getElementById('chosen').textContent = 'chose ' + e.target.value;
});
)js";

constexpr char kPolicy[] = "default-src 'none'; script-src 'self'; img-src data:";

// What /proc says about every process: its process group and command line.
struct ProcessInfo {
  pid_t pid;
  pid_t group;
  std::string cmdline;
};

std::vector<ProcessInfo> Processes() {
  std::vector<ProcessInfo> all;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream stat_in(entry.path() / "stat");
    const std::string stat((std::istreambuf_iterator<char>(stat_in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    // "pid (comm) state ppid pgrp ...": the group is the third field after the ')'.
    std::istringstream fields(stat.substr(paren + 1));
    std::string state;
    pid_t parent = 0, group = 0;
    fields >> state >> parent >> group;
    std::ifstream cmd_in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(cmd_in)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    all.push_back({pid, group, cmdline});
  }
  return all;
}

// A loopback port nothing listens on (nothing in this test binds one after asking).
// (A bound httplib::Server would not do: it listens until stopped, so connections would be accepted
// by the kernel and never answered.)
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  socklen_t len = sizeof addr;
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);  // bound, never listening, now closed: connecting is refused
  if (!bound) return absl::InternalError("cannot bind a loopback port");
  return ntohs(addr.sin_port);
}

class WebDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy", kPolicy);
      res.set_content(kPage, "text/html; charset=utf-8");
    });
    server_.Get("/page.js", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kScript, "text/javascript");
    });
    server_.set_read_timeout(std::chrono::seconds(5));
    server_.set_write_timeout(std::chrono::seconds(5));
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    server_thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the accept loop runs would be lost, and join would wait for ever.
    ASSERT_TRUE(WaitUntil([this] { return server_.is_running(); }, absl::Seconds(5)));

    absl::StatusOr<std::unique_ptr<Browser>> browser = Browser::Start();
    if (absl::IsFailedPrecondition(browser.status())) GTEST_SKIP() << browser.status().message();
    ASSERT_TRUE(browser.ok()) << browser.status();
    browser_ = std::move(*browser);
  }

  void TearDown() override {
    if (browser_ != nullptr) EndBrowserAndCheckNothingIsLeft();
    server_.stop();
    if (server_thread_.joinable()) server_thread_.join();
  }

  void EndBrowserAndCheckNothingIsLeft() {
    const pid_t driver = browser_->driver_pid();
    const std::string work_dir = browser_->work_dir();
    const absl::Time began = absl::Now();
    browser_.reset();
    EXPECT_LT(absl::Now() - began, absl::Seconds(15));
    for (const ProcessInfo& p : Processes()) {
      EXPECT_NE(p.pid, driver) << "ChromeDriver still runs: " << p.cmdline;
      EXPECT_NE(p.group, driver) << "pid " << p.pid << " still runs in ChromeDriver's group: " << p.cmdline;
      EXPECT_FALSE(absl::StrContains(p.cmdline, work_dir)) << "pid " << p.pid << " still runs: " << p.cmdline;
    }
    EXPECT_FALSE(std::filesystem::exists(work_dir)) << work_dir;
  }

  std::string Url(const std::string& path = "/") const { return absl::StrCat("http://127.0.0.1:", port_, path); }

  httplib::Server server_;
  std::thread server_thread_;
  int port_ = 0;
  std::unique_ptr<Browser> browser_;
};

TEST_F(WebDriverTest, NavigatesAndReadsThePage) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  EXPECT_EQ(browser_->Title().value_or("?"), "WebDriver test page");
  EXPECT_EQ(browser_->Text("#status").value_or("?"), "idle");
  EXPECT_EQ(browser_->Count(".item").value_or(-1), 3);
  EXPECT_EQ(browser_->Count(".nothing").value_or(-1), 0);
  absl::StatusOr<std::optional<std::string>> role = browser_->Attribute("#go", "data-role");
  ASSERT_TRUE(role.ok()) << role.status();
  EXPECT_EQ(role->value_or("?"), "start");
  absl::StatusOr<std::optional<std::string>> none = browser_->Attribute("#go", "data-nothing");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
}

TEST_F(WebDriverTest, ClickChangesTheText) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  ASSERT_TRUE(browser_->Click("#go").ok());
  EXPECT_EQ(browser_->Text("#status").value_or("?"), "clicked");
}

TEST_F(WebDriverTest, SelectOptionSetsTheValueAndFiresChange) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  ASSERT_TRUE(browser_->SelectOption("#team", "south").ok());
  EXPECT_EQ(browser_->Text("#chosen").value_or("?"), "chose south");
  EXPECT_EQ(browser_->Execute("return document.querySelector(arguments[0]).value;", {"#team"}).value_or(nullptr),
            "south");

  const absl::Status no_option = browser_->SelectOption("#team", "east");
  EXPECT_TRUE(absl::IsNotFound(no_option)) << no_option;
  EXPECT_TRUE(absl::StrContains(no_option.message(), "east")) << no_option;
  EXPECT_TRUE(absl::IsInvalidArgument(browser_->SelectOption("#go", "north")));
  EXPECT_TRUE(absl::IsNotFound(browser_->SelectOption("#nothing", "north")));
}

TEST_F(WebDriverTest, WaitForWaitsForTheDelayedUpdate) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  ASSERT_TRUE(browser_->Click("#go").ok());
  // Throws until the timer has added #added: that counts as not yet.
  const absl::Status waited = browser_->WaitFor(
      "document.querySelector('#added').textContent === 'here' && "
      "document.querySelector('#later').textContent === 'done'",
      absl::Seconds(10));
  ASSERT_TRUE(waited.ok()) << waited;
  EXPECT_EQ(browser_->Text("#later").value_or("?"), "done");
  // Already true: answered at once.
  EXPECT_TRUE(browser_->WaitFor("document.title.length > 0", absl::Seconds(1)).ok());
}

TEST_F(WebDriverTest, WaitForAConditionNeverTrueEndsAtItsDeadlineNamingIt) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  const absl::Time began = absl::Now();
  const absl::Status waited = browser_->WaitFor("window.neverSet === true", absl::Seconds(1));
  const absl::Duration took = absl::Now() - began;
  EXPECT_TRUE(absl::IsDeadlineExceeded(waited)) << waited;
  EXPECT_TRUE(absl::StrContains(waited.message(), "window.neverSet === true")) << waited;
  EXPECT_GE(took, absl::Seconds(1));
  EXPECT_LT(took, absl::Seconds(5));

  const absl::Status broken = browser_->WaitFor("document.title ===", absl::Seconds(1));
  EXPECT_TRUE(absl::IsInvalidArgument(broken)) << broken;
  EXPECT_TRUE(absl::StrContains(broken.message(), "document.title ===")) << broken;
}

TEST_F(WebDriverTest, ExecuteAndExecuteAsyncReturnTheScriptsResult) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  absl::StatusOr<nlohmann::json> sum = browser_->Execute("return {sum: arguments[0] + arguments[1]};", {40, 2});
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ((*sum)["sum"], 42);
  absl::StatusOr<nlohmann::json> later = browser_->ExecuteAsync(
      "const [n, done] = arguments; setTimeout(() => done(n * 2), 10);", {21}, absl::Seconds(5));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(*later, 42);
  const absl::StatusOr<nlohmann::json> never = browser_->ExecuteAsync("/* never calls back */", {}, absl::Milliseconds(500));
  EXPECT_TRUE(absl::IsDeadlineExceeded(never.status())) << never.status();
  // The session's script timeout is back to normal for the next synchronous script.
  EXPECT_EQ(browser_->Execute("return 1;").value_or(nullptr), 1);
}

TEST_F(WebDriverTest, ErrorsNameTheCommandAndTheWebDriverError) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  const absl::StatusOr<std::string> missing = browser_->Text("#missing");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "finding '#missing'")) << missing.status();
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "no such element")) << missing.status();

  const absl::StatusOr<nlohmann::json> thrown = browser_->Execute("throw new Error('kaboom');");
  EXPECT_TRUE(absl::IsInvalidArgument(thrown.status())) << thrown.status();
  EXPECT_TRUE(absl::StrContains(thrown.status().message(), "javascript error")) << thrown.status();
  EXPECT_TRUE(absl::StrContains(thrown.status().message(), "kaboom")) << thrown.status();

  // Loopback only: refused before anything is asked of the browser.
  EXPECT_TRUE(absl::IsInvalidArgument(browser_->Navigate("http://example.com/")));
  // Nothing answers: an error, not Chromium's error page taken for a page.
  absl::StatusOr<int> unused = FreePort();
  ASSERT_TRUE(unused.ok());
  const absl::Status refused = browser_->Navigate(absl::StrCat("http://127.0.0.1:", *unused, "/"));
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_TRUE(absl::IsUnavailable(browser_->Navigate("http://127.0.0.1:1/")));  // a port Chromium refuses
}

TEST_F(WebDriverTest, ConsoleErrorsHoldsWhatThePageLogged) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  ASSERT_TRUE(browser_->Click("#fail").ok());
  absl::StatusOr<std::vector<std::string>> errors = browser_->ConsoleErrors();
  ASSERT_TRUE(errors.ok()) << errors.status();
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_TRUE(absl::StrContains((*errors)[0], "boom from the page")) << (*errors)[0];
  EXPECT_TRUE(browser_->ConsoleErrors().value_or(std::vector<std::string>{"?"}).empty());  // drained
}

TEST_F(WebDriverTest, ScreenshotWritesAPng) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  // A private file, removed afterwards: the dashboard's browser test keeps the screenshots worth keeping.
  const std::string path = (std::filesystem::temp_directory_path() /
                            absl::StrCat("webdriver_test_screenshot_", ::getpid(), ".png")).string();
  std::filesystem::remove(path);
  const absl::Status shot = browser_->Screenshot(path);
  ASSERT_TRUE(shot.ok()) << shot;
  std::ifstream in(path, std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::filesystem::remove(path);
}

TEST_F(WebDriverTest, DestroyingTheBrowserEndsAFrozenChromeDriverAndChromium) {
  ASSERT_TRUE(browser_->Navigate(Url()).ok());
  // Frozen, it answers nothing (not even the session's close): the destructor must still end it
  // and every Chromium process, within its deadlines. TearDown checks.
  ASSERT_EQ(kill(browser_->driver_pid(), SIGSTOP), 0);
  EndBrowserAndCheckNothingIsLeft();
}

TEST(WebDriverStartTest, MissingChromiumIsAFailedPreconditionSayingWhatToRun) {
  BrowserOptions options;
  options.chromium = "/nonexistent/chromium";
  absl::StatusOr<std::unique_ptr<Browser>> browser = Browser::Start(options);
  EXPECT_TRUE(absl::IsFailedPrecondition(browser.status())) << browser.status();
  EXPECT_TRUE(absl::StrContains(browser.status().message(), "scripts/setup.sh --browser")) << browser.status();
}

}  // namespace
}  // namespace pbr::testing
