#pragma once
// A small WebDriver (W3C) client for tests that drive headless Chromium through ChromeDriver, both
// on loopback only. Every call has a deadline; a test waits for what a page does with WaitFor (one
// blocking call the page answers when its condition holds), never with a sleep. Destroying the
// Browser ends ChromeDriver, Chromium and every process they started, also when the test fails,
// and removes the profile; if the test process itself dies, a guard process does the same.
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "testing/process.h"

namespace httplib {
class Client;
}

namespace pbr::testing {

// GET https://127.0.0.1:PORT`path` (only 127.0.0.1), trusting only `ca_pem` and presenting
// `client` (empty PEMs: no certificate) and, when not empty, `headers` ("Authorization: ..."):
// the body of a 200 answer, else an error with the status and body.
absl::StatusOr<std::string> HttpsGet(const std::string& host_port, const std::string& path, const std::string& ca_pem,
                                     const std::string& client_cert_pem = "", const std::string& client_key_pem = "",
                                     const std::vector<std::pair<std::string, std::string>>& headers = {});

struct BrowserOptions {
  // Empty: $PBR_CHROMIUM or /usr/bin/chromium, $PBR_CHROMEDRIVER or /usr/bin/chromedriver.
  std::string chromium;
  std::string chromedriver;
  // ChromeDriver's and Chromium's output. Empty: inside the browser's temp dir, removed with it
  // (errors from Start quote its last lines either way).
  std::string log_path;
  std::vector<std::string> extra_args;  // more Chromium flags
  absl::Duration start_deadline = absl::Seconds(60);
  // For each command; a page load and a synchronous script get this long too.
  absl::Duration command_deadline = absl::Seconds(30);
};

class Browser {
 public:
  // Starts ChromeDriver on a free loopback port and opens a headless Chromium session.
  // FailedPrecondition only when Chromium or ChromeDriver is not installed (a test skips then).
  static absl::StatusOr<std::unique_ptr<Browser>> Start(BrowserOptions options = {});
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // Only http(s)://127.0.0.1, about: and data: URLs; returns once the page has loaded.
  absl::Status Navigate(const std::string& url);
  absl::StatusOr<std::string> Title();
  // The first element matching a CSS selector: its visible text, an attribute (nullopt when it has
  // none), a click. NotFound when nothing matches.
  absl::StatusOr<std::string> Text(const std::string& css);
  absl::StatusOr<std::optional<std::string>> Attribute(const std::string& css, const std::string& name);
  absl::StatusOr<int> Count(const std::string& css);
  absl::Status Click(const std::string& css);
  // Sets a <select>'s value and dispatches `input` and `change`, as a person choosing would.
  absl::Status SelectOption(const std::string& select_css, const std::string& value);

  // A function body run in the page (`arguments` holds `args`); its return value.
  absl::StatusOr<nlohmann::json> Execute(const std::string& script,
                                         const nlohmann::json& args = nlohmann::json::array());
  // As Execute, but the script ends by calling its last argument with the result; DeadlineExceeded
  // unless it does within `timeout`.
  absl::StatusOr<nlohmann::json> ExecuteAsync(const std::string& script,
                                              const nlohmann::json& args = nlohmann::json::array(),
                                              absl::Duration timeout = absl::Seconds(10));
  // Blocks until the JavaScript expression `condition` is truthy in the page (checked on every DOM
  // change and every 50 ms; an expression that throws counts as not yet). DeadlineExceeded naming
  // the condition (and its last error) if it is not within `deadline`.
  absl::Status WaitFor(const std::string& condition, absl::Duration deadline = absl::Seconds(10));

  absl::Status Screenshot(const std::string& png_path);  // the viewport, as PNG
  // console.error lines and uncaught errors since the last call (the browser log is drained).
  absl::StatusOr<std::vector<std::string>> ConsoleErrors();

  // For tests of this class and for failure messages.
  pid_t driver_pid() const { return driver_pid_; }
  const std::string& work_dir() const { return work_dir_.path(); }  // profile, crash reports, log
  const std::string& log_path() const { return log_path_; }

 private:
  explicit Browser(BrowserOptions options);  // in the .cc, where httplib::Client is complete
  absl::Status Launch(const std::string& chromedriver, absl::Time until);
  absl::Status CreateSession(const std::string& chromium, absl::Time until);
  absl::StatusOr<std::string> Find(const std::string& css);
  // One WebDriver command; the answer's "value", or its error as a status naming `what`.
  absl::StatusOr<nlohmann::json> Command(const std::string& method, const std::string& path,
                                         const nlohmann::json& body, absl::Duration deadline,
                                         const std::string& what);
  absl::Status SetScriptTimeout(absl::Duration timeout);
  void Shutdown();

  BrowserOptions options_;
  TempDir work_dir_;
  std::string log_path_;
  int port_ = 0;
  pid_t guard_pid_ = -1;   // our child: it started ChromeDriver and ends it when `release_fd_` closes
  pid_t driver_pid_ = -1;  // ChromeDriver, leader of the process group Chromium runs in
  int release_fd_ = -1;
  std::unique_ptr<httplib::Client> http_;
  std::string session_;
  absl::Duration script_timeout_;
};

}  // namespace pbr::testing
