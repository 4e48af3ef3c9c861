#include "testing/webdriver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace pbr::testing {

absl::StatusOr<std::string> HttpsGet(const std::string& host_port, const std::string& path, const std::string& ca_pem,
                                     const std::string& client_cert_pem, const std::string& client_key_pem,
                                     const std::vector<std::pair<std::string, std::string>>& headers) {
  const auto colon = host_port.rfind(':');
  int port = 0;
  if (colon == std::string::npos || host_port.substr(0, colon) != "127.0.0.1" ||
      !absl::SimpleAtoi(host_port.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("only 127.0.0.1:PORT is allowed, not '", host_port, "'"));
  }
  auto read = [](const std::string& pem, auto reader) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    auto* out = reader(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return out;
  };
  // A server that refuses the client at the handshake may close before the request is written:
  // that is this call's failure (EPIPE), not a SIGPIPE that kills the test binary.
  static const bool sigpipe_ignored = [] { return signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)sigpipe_ignored;
  X509* cert = client_cert_pem.empty() ? nullptr : read(client_cert_pem, PEM_read_bio_X509);
  EVP_PKEY* key = client_key_pem.empty() ? nullptr : read(client_key_pem, PEM_read_bio_PrivateKey);
  httplib::SSLClient client("127.0.0.1", port, cert, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  X509_STORE* store = X509_STORE_new();
  X509* ca = read(ca_pem, PEM_read_bio_X509);
  if (ca == nullptr) {
    X509_STORE_free(store);
    return absl::InvalidArgumentError("ca_pem holds no certificate");
  }
  X509_STORE_add_cert(store, ca);
  X509_free(ca);
  client.set_ca_cert_store(store);  // the client owns it now
  client.enable_server_certificate_verification(true);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  httplib::Headers sent;
  for (const auto& [name, value] : headers) sent.emplace(name, value);
  auto res = client.Get(path.c_str(), sent);
  if (!res) return absl::UnavailableError(absl::StrCat("GET https://", host_port, path, ": ", httplib::to_string(res.error())));
  if (res->status != 200) {
    return absl::Status(res->status == 401 ? absl::StatusCode::kUnauthenticated
                        : res->status == 403 ? absl::StatusCode::kPermissionDenied
                                             : absl::StatusCode::kUnknown,
                        absl::StrCat("GET ", path, ": HTTP ", res->status, ": ", res->body.substr(0, 500)));
  }
  return res->body;
}
namespace {

using nlohmann::json;

// W3C's key for an element reference in a command's answer.
constexpr char kElementKey[] = "element-6066-11e4-a52e-4f735466cecf";
// On top of a page-side limit, for the answer to travel back.
constexpr absl::Duration kAnswerMargin = absl::Seconds(5);

std::string Resolve(const std::string& given, const char* env, const char* fallback) {
  if (!given.empty()) return given;
  const char* value = std::getenv(env);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// A port nobody holds right now. ChromeDriver binds it a moment later; if something else got it
// first, ChromeDriver exits and Start tries another.
absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) return absl::InternalError("cannot bind a loopback port");
  return ntohs(addr.sin_port);
}

// Closes every descriptor from 3 up except `keep` (a forked copy of the test process holds its
// listening sockets and pipes, which must not stay open in a process that outlives them).
void CloseAllExcept(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned first = 3;
  for (int fd : keep) {
    if (fd < static_cast<int>(first)) continue;
    if (static_cast<unsigned>(fd) > first) close_range(first, static_cast<unsigned>(fd) - 1, 0);
    first = static_cast<unsigned>(fd) + 1;
  }
  close_range(first, ~0U, 0);
}

// The guard: a forked copy of the test process that starts ChromeDriver in a process group of its
// own and, once `release_fd` closes (the Browser is destroyed, or the test process died), kills
// that group and reaps whatever is left. It is a subreaper, so the crash handlers Chromium
// daemonizes (outside the group) come back to it rather than to init, and it leaves only when they
// have gone too. Released, it then removes the temp dir (`remove_argv`), for when the test process
// died before it could. Only system calls from here on: the test process may have other threads.
[[noreturn]] void RunGuard(int release_fd, int report_fd, int log_fd, int null_fd, char* const* argv,
                           char* const* envp, char* const* remove_argv) {
  CloseAllExcept({release_fd, report_fd, log_fd, null_fd});
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGALRM, SIG_DFL);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  const pid_t driver = fork();
  if (driver < 0) _exit(126);
  if (driver == 0) {
    setpgid(0, 0);
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close_range(3, ~0U, 0);
    execve(argv[0], argv, envp);
    _exit(127);
  }
  setpgid(driver, driver);  // as the child does: whichever runs first
  (void)!write(report_fd, &driver, sizeof driver);
  close(report_fd);
  close(log_fd);
  close(null_fd);
  // Wait for the release, or for ChromeDriver to exit by itself (then the Browser sees the guard go).
  const int driver_fd = static_cast<int>(syscall(SYS_pidfd_open, driver, 0));
  pollfd wait_for[2] = {{release_fd, POLLIN, 0}, {driver_fd, POLLIN, 0}};
  while (poll(wait_for, driver_fd >= 0 ? 2 : 1, -1) < 0 && errno == EINTR) {
  }
  const bool released = (wait_for[0].revents & (POLLIN | POLLHUP)) != 0;
  kill(-driver, SIGKILL);
  kill(driver, SIGKILL);
  alarm(20);  // if a descendant will not go, the guard still does
  int code = 0;
  while (true) {
    int status = 0;
    const pid_t p = waitpid(-1, &status, 0);
    if (p == driver) code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (p < 0 && errno != EINTR) break;
  }
  alarm(0);
  // Not when ChromeDriver exited by itself: the Browser still reads its log and may try again.
  if (released) execve(remove_argv[0], remove_argv, envp);
  _exit(code);
}

// SIGKILLs every process whose command line mentions `dir` (Chromium with its profile, its crash
// handlers with their database there); returns how many it found.
int KillProcessesUsing(const std::string& dir) {
  int found = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const pid_t pid = std::stoi(name);
    if (pid == getpid()) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(dir) == std::string::npos) continue;
    ++found;
    kill(pid, SIGKILL);
  }
  return found;
}

absl::StatusCode CodeFor(const std::string& error) {
  if (absl::StartsWith(error, "no such ")) return absl::StatusCode::kNotFound;
  if (error == "timeout" || error == "script timeout") return absl::StatusCode::kDeadlineExceeded;
  if (error == "invalid argument" || error == "invalid selector" || error == "javascript error") {
    return absl::StatusCode::kInvalidArgument;
  }
  if (error == "invalid session id" || error == "session not created") return absl::StatusCode::kUnavailable;
  if (error == "element not interactable" || error == "element click intercepted" ||
      error == "stale element reference" || error == "invalid element state" || error == "unexpected alert open") {
    return absl::StatusCode::kFailedPrecondition;
  }
  if (error == "unknown command" || error == "unknown method" || error == "unsupported operation") {
    return absl::StatusCode::kUnimplemented;
  }
  return absl::StatusCode::kUnknown;
}

bool AllowedUrl(const std::string& url) {
  for (const char* prefix : {"http://127.0.0.1:", "http://127.0.0.1/", "https://127.0.0.1:", "https://127.0.0.1/"}) {
    if (absl::StartsWith(url, prefix)) return true;
  }
  return url == "http://127.0.0.1" || absl::StartsWith(url, "about:") || absl::StartsWith(url, "data:");
}

// Whether something accepts connections on 127.0.0.1 at the URL's port (80/443 when it names none);
// true for about: and data: URLs. A refused connection on loopback is answered at once.
bool SomethingListens(const std::string& url) {
  absl::string_view rest = url;
  int port = 0;
  if (absl::ConsumePrefix(&rest, "http://127.0.0.1")) port = 80;
  else if (absl::ConsumePrefix(&rest, "https://127.0.0.1")) port = 443;
  else return true;
  if (absl::ConsumePrefix(&rest, ":")) {
    const size_t end = rest.find_first_not_of("0123456789");
    if (!absl::SimpleAtoi(rest.substr(0, end), &port) || port <= 0 || port > 65535) return false;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell: let the browser try
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return connected;
}

// `{}` as the arguments makes a JSON null; WebDriver wants a list.
json ArgumentList(const json& args) { return args.is_null() ? json::array() : args; }

}  // namespace

absl::StatusOr<std::unique_ptr<Browser>> Browser::Start(BrowserOptions options) {
  const std::string chromium = Resolve(options.chromium, "PBR_CHROMIUM", "/usr/bin/chromium");
  const std::string chromedriver = Resolve(options.chromedriver, "PBR_CHROMEDRIVER", "/usr/bin/chromedriver");
  struct Needed {
    const char* what;
    const std::string& path;
    const char* env;
  };
  for (const Needed& n : {Needed{"Chromium", chromium, "PBR_CHROMIUM"}, Needed{"ChromeDriver", chromedriver, "PBR_CHROMEDRIVER"}}) {
    if (access(n.path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(n.what, " is not installed at ", n.path,
                                                        ": run scripts/setup.sh --browser (or set ", n.env, ")"));
    }
  }
  const absl::Time until = absl::Now() + options.start_deadline;
  auto browser = std::unique_ptr<Browser>(new Browser(std::move(options)));
  const std::string& work = browser->work_dir_.path();
  if (work.empty()) return absl::InternalError("cannot make a temp dir for the browser");
  for (const char* sub : {"profile", "home", "config", "cache"}) {
    std::error_code ec;
    std::filesystem::create_directory(absl::StrCat(work, "/", sub), ec);
  }
  browser->log_path_ = browser->options_.log_path.empty() ? work + "/chromedriver.log" : browser->options_.log_path;
  absl::Status launched;
  for (int attempt = 0; attempt < 3; ++attempt) {
    launched = browser->Launch(chromedriver, until);
    if (!absl::IsAborted(launched)) break;  // Aborted: its port was taken meanwhile
  }
  if (!launched.ok()) return launched;
  if (absl::Status s = browser->CreateSession(chromium, until); !s.ok()) return s;
  return browser;
}

absl::Status Browser::Launch(const std::string& chromedriver, absl::Time until) {
  absl::StatusOr<int> port = FreeLoopbackPort();
  if (!port.ok()) return port.status();
  port_ = *port;
  const std::string& work = work_dir_.path();

  // Everything Chromium writes outside its profile (crash reports, caches, ~/.pki) goes to the
  // temp dir too: a test leaves nothing in the home directory.
  std::vector<std::string> argv = {chromedriver, absl::StrCat("--port=", port_)};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (!absl::StartsWith(entry, "HOME=") && !absl::StartsWith(entry, "XDG_CONFIG_HOME=") &&
        !absl::StartsWith(entry, "XDG_CACHE_HOME=")) {
      env.push_back(entry);
    }
  }
  env.push_back(absl::StrCat("HOME=", work, "/home"));
  env.push_back(absl::StrCat("XDG_CONFIG_HOME=", work, "/config"));
  env.push_back(absl::StrCat("XDG_CACHE_HOME=", work, "/cache"));
  std::vector<std::string> remove = {"/bin/rm", "-rf", "--", work};
  std::vector<char*> argv_c, env_c, remove_c;
  for (auto& a : argv) argv_c.push_back(a.data());
  argv_c.push_back(nullptr);
  for (auto& a : remove) remove_c.push_back(a.data());
  remove_c.push_back(nullptr);
  for (auto& e : env) env_c.push_back(e.data());
  env_c.push_back(nullptr);

  int release[2], report[2];
  if (pipe2(release, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  if (pipe2(report, O_CLOEXEC) != 0) {
    close(release[0]);
    close(release[1]);
    return absl::InternalError("pipe failed");
  }
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t guard = (log_fd >= 0 && null_fd >= 0) ? fork() : -1;
  if (guard == 0) {
    close(release[1]);
    close(report[0]);
    RunGuard(release[0], report[1], log_fd, null_fd, argv_c.data(), env_c.data(), remove_c.data());
  }
  close(release[0]);
  close(report[1]);
  if (log_fd >= 0) close(log_fd);
  if (null_fd >= 0) close(null_fd);
  if (guard < 0) {
    close(release[1]);
    close(report[0]);
    return absl::InternalError(absl::StrCat("cannot start ChromeDriver (log ", log_path_, ")"));
  }
  guard_pid_ = guard;
  release_fd_ = release[1];

  // The guard reports ChromeDriver's pid at once; only a broken fork would keep it waiting.
  pollfd p{report[0], POLLIN, 0};
  const bool reported = poll(&p, 1, 5000) == 1 && read(report[0], &driver_pid_, sizeof driver_pid_) ==
                                                      static_cast<ssize_t>(sizeof driver_pid_);
  close(report[0]);
  if (!reported) return absl::InternalError("the ChromeDriver guard did not report its pid");

  http_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  http_->set_keep_alive(true);
  http_->set_connection_timeout(std::chrono::seconds(2));
  std::optional<int> exit_code;
  const bool ready = WaitUntil(
      [&] {
        int status = 0;
        if (waitpid(guard_pid_, &status, WNOHANG) == guard_pid_) {
          exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          guard_pid_ = -1;
          return true;
        }
        absl::StatusOr<json> answer = Command("GET", "/status", nullptr, absl::Seconds(2), "GET /status");
        return answer.ok() && answer->value("ready", false);
      },
      until - absl::Now());
  if (exit_code.has_value()) {
    close(release_fd_);
    release_fd_ = -1;
    const std::string log = Tail(log_path_);
    if (absl::StrContains(log, "Address already in use") || absl::StrContains(log, "bind() failed")) {
      return absl::AbortedError(absl::StrCat("ChromeDriver could not bind 127.0.0.1:", port_));
    }
    return absl::UnavailableError(absl::StrCat("ChromeDriver exited (", *exit_code, ") before it was ready; its log:\n", log));
  }
  if (!ready) {
    return absl::DeadlineExceededError(absl::StrCat("ChromeDriver on 127.0.0.1:", port_, " not ready within ",
                                                    absl::FormatDuration(options_.start_deadline), "; its log:\n",
                                                    Tail(log_path_)));
  }
  return absl::OkStatus();
}

absl::Status Browser::CreateSession(const std::string& chromium, absl::Time until) {
  const std::string& work = work_dir_.path();
  json args = {
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
      absl::StrCat("--user-data-dir=", work, "/profile"),
      // Loopback only, also for whatever a page or Chromium itself would fetch: every host name
      // but 127.0.0.1 fails to resolve, and no proxy from the environment is used.
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--no-proxy-server",
      "--disable-component-update"};
  for (const auto& a : options_.extra_args) args.push_back(a);
  const int64_t command_ms = absl::ToInt64Milliseconds(options_.command_deadline);
  const json body = {
      {"capabilities",
       {{"alwaysMatch",
         {{"browserName", "chrome"},
          {"pageLoadStrategy", "normal"},
          {"timeouts", {{"implicit", 0}, {"pageLoad", command_ms}, {"script", command_ms}}},
          {"goog:loggingPrefs", {{"browser", "ALL"}}},
          {"goog:chromeOptions", {{"binary", chromium}, {"args", args}}}}}}}};
  absl::StatusOr<json> answer =
      Command("POST", "/session", body, std::max(until - absl::Now(), absl::Seconds(1)), "creating a session");
  if (!answer.ok()) {
    return absl::Status(answer.status().code(),
                        absl::StrCat(answer.status().message(), "\nChromeDriver's log:\n", Tail(log_path_)));
  }
  session_ = answer->value("sessionId", "");
  if (session_.empty()) return absl::InternalError(absl::StrCat("no sessionId in ", answer->dump()));
  script_timeout_ = options_.command_deadline;
  return absl::OkStatus();
}

Browser::Browser(BrowserOptions options) : options_(std::move(options)) {}

Browser::~Browser() { Shutdown(); }

void Browser::Shutdown() {
  // Politely first (Chromium quits and its crash handlers follow), briefly: a frozen ChromeDriver
  // must not hold up the kill.
  if (!session_.empty() && http_ != nullptr) {
    (void)Command("DELETE", absl::StrCat("/session/", session_), nullptr, absl::Seconds(3), "closing the session");
    session_.clear();
  }
  http_.reset();
  if (release_fd_ >= 0) {
    close(release_fd_);  // the guard kills ChromeDriver's process group
    release_fd_ = -1;
  }
  if (guard_pid_ > 0) {
    const bool gone = WaitUntil(
        [this] {
          KillProcessesUsing(work_dir_.path());  // crash handlers: outside the group
          int status = 0;
          return waitpid(guard_pid_, &status, WNOHANG) == guard_pid_;
        },
        absl::Seconds(20), absl::Milliseconds(10));
    if (!gone) {
      kill(guard_pid_, SIGKILL);
      waitpid(guard_pid_, nullptr, 0);
      if (driver_pid_ > 0) kill(-driver_pid_, SIGKILL);
    }
    guard_pid_ = -1;
  }
  KillProcessesUsing(work_dir_.path());
}

absl::StatusOr<json> Browser::Command(const std::string& method, const std::string& path, const json& body,
                                      absl::Duration deadline, const std::string& what) {
  http_->set_read_timeout(absl::ToChronoMicroseconds(deadline));
  http_->set_write_timeout(absl::ToChronoMicroseconds(deadline));
  httplib::Result result = method == "GET"      ? http_->Get(path)
                           : method == "DELETE" ? http_->Delete(path)
                                                : http_->Post(path, body.dump(), "application/json");
  if (!result) {
    if (result.error() == httplib::Error::Read) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": no answer from ChromeDriver within ", absl::FormatDuration(deadline)));
    }
    return absl::UnavailableError(absl::StrCat(what, ": ", httplib::to_string(result.error()), " error talking to ",
                                               "ChromeDriver on 127.0.0.1:", port_));
  }
  json answer = json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("value")) {
    return absl::InternalError(absl::StrCat(what, ": HTTP ", result->status, " with no WebDriver answer: ",
                                            result->body.substr(0, 300)));
  }
  json value = std::move(answer["value"]);
  if (result->status != 200 || (value.is_object() && value.contains("error"))) {
    const std::string error = value.is_object() ? value.value("error", "unknown error") : "unknown error";
    std::string message = value.is_object() ? value.value("message", "") : "";
    // ChromeDriver appends "\n  (Session info: chrome=...)", which says nothing a test needs.
    if (const auto cut = message.find("\n  (Session info:"); cut != std::string::npos) message.resize(cut);
    if (!absl::StartsWith(message, error)) message = absl::StrCat(error, ": ", message);
    return absl::Status(CodeFor(error), absl::StrCat(what, ": ", message));
  }
  return value;
}

absl::Status Browser::SetScriptTimeout(absl::Duration timeout) {
  if (timeout == script_timeout_) return absl::OkStatus();
  absl::StatusOr<json> set = Command("POST", absl::StrCat("/session/", session_, "/timeouts"),
                                     {{"script", absl::ToInt64Milliseconds(timeout)}},
                                     options_.command_deadline, "setting the script timeout");
  if (!set.ok()) return set.status();
  script_timeout_ = timeout;
  return absl::OkStatus();
}

absl::Status Browser::Navigate(const std::string& url) {
  if (!AllowedUrl(url)) {
    return absl::InvalidArgumentError(absl::StrCat("only 127.0.0.1, about: and data: URLs, not '", url, "'"));
  }
  const std::string what = absl::StrCat("navigating to ", url);
  // Nothing listening is found out here, at once and for any port: Chromium answers a port it deems
  // unsafe (e.g. 1) with an error page that does not always read as one.
  if (!SomethingListens(url)) {
    return absl::UnavailableError(absl::StrCat(what, ": nothing accepts connections there"));
  }
  absl::StatusOr<json> went = Command("POST", absl::StrCat("/session/", session_, "/url"), {{"url", url}},
                                      options_.command_deadline + kAnswerMargin, what);
  // Nothing listening comes back as an "unknown error" naming net::ERR_CONNECTION_REFUSED; a port
  // Chromium will not use (e.g. 1) as success, on its own error page.
  if (!went.ok()) {
    if (absl::IsUnknown(went.status()) && absl::StrContains(went.status().message(), "net::ERR_")) {
      return absl::UnavailableError(went.status().message());
    }
    return went.status();
  }
  absl::StatusOr<json> at = Command("GET", absl::StrCat("/session/", session_, "/url"), nullptr,
                                    options_.command_deadline, what);
  if (!at.ok()) return at.status();
  if (at->is_string() && absl::StartsWith(at->get<std::string>(), "chrome-error:")) {
    return absl::UnavailableError(absl::StrCat(what, ": Chromium shows its error page"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Browser::Title() {
  absl::StatusOr<json> title = Command("GET", absl::StrCat("/session/", session_, "/title"), nullptr,
                                       options_.command_deadline, "reading the title");
  if (!title.ok()) return title.status();
  return title->is_string() ? title->get<std::string>() : "";
}

absl::StatusOr<std::string> Browser::Find(const std::string& css) {
  absl::StatusOr<json> found =
      Command("POST", absl::StrCat("/session/", session_, "/element"), {{"using", "css selector"}, {"value", css}},
              options_.command_deadline, absl::StrCat("finding '", css, "'"));
  if (!found.ok()) return found.status();
  if (!found->is_object() || !found->contains(kElementKey)) {
    return absl::InternalError(absl::StrCat("finding '", css, "': no element reference in ", found->dump()));
  }
  return absl::StrCat("/session/", session_, "/element/", (*found)[kElementKey].get<std::string>());
}

absl::StatusOr<std::string> Browser::Text(const std::string& css) {
  absl::StatusOr<std::string> element = Find(css);
  if (!element.ok()) return element.status();
  absl::StatusOr<json> text =
      Command("GET", *element + "/text", nullptr, options_.command_deadline, absl::StrCat("reading the text of '", css, "'"));
  if (!text.ok()) return text.status();
  return text->is_string() ? text->get<std::string>() : "";
}

absl::StatusOr<std::optional<std::string>> Browser::Attribute(const std::string& css, const std::string& name) {
  absl::StatusOr<std::string> element = Find(css);
  if (!element.ok()) return element.status();
  absl::StatusOr<json> value = Command("GET", absl::StrCat(*element, "/attribute/", name), nullptr,
                                       options_.command_deadline, absl::StrCat("reading ", name, " of '", css, "'"));
  if (!value.ok()) return value.status();
  if (value->is_null()) return std::optional<std::string>();
  return std::optional<std::string>(value->is_string() ? value->get<std::string>() : value->dump());
}

absl::StatusOr<int> Browser::Count(const std::string& css) {
  absl::StatusOr<json> found =
      Command("POST", absl::StrCat("/session/", session_, "/elements"), {{"using", "css selector"}, {"value", css}},
              options_.command_deadline, absl::StrCat("counting '", css, "'"));
  if (!found.ok()) return found.status();
  return found->is_array() ? static_cast<int>(found->size()) : 0;
}

absl::Status Browser::Click(const std::string& css) {
  absl::StatusOr<std::string> element = Find(css);
  if (!element.ok()) return element.status();
  return Command("POST", *element + "/click", json::object(), options_.command_deadline,
                 absl::StrCat("clicking '", css, "'"))
      .status();
}

absl::Status Browser::SelectOption(const std::string& select_css, const std::string& value) {
  // In the page: one round trip, and the events a person's choice would fire.
  static constexpr char kScript[] = R"js(
    const [css, value] = arguments;
    const select = document.querySelector(css);
    if (!select) return {missing: true, message: 'no element matches ' + css};
    if (select.tagName !== 'SELECT') return {missing: false, message: css + ' is a <' + select.tagName.toLowerCase() + '>, not a <select>'};
    const values = [...select.options].map(o => o.value);
    if (!values.includes(value)) return {missing: true, message: css + ' has no option ' + JSON.stringify(value) + ' (only ' + JSON.stringify(values) + ')'};
    select.value = value;
    select.dispatchEvent(new Event('input', {bubbles: true}));
    select.dispatchEvent(new Event('change', {bubbles: true}));
    return null;
  )js";
  absl::StatusOr<json> problem = Execute(kScript, {select_css, value});
  if (!problem.ok()) return problem.status();
  if (problem->is_null()) return absl::OkStatus();
  const std::string message = absl::StrCat("selecting ", value, " in '", select_css, "': ", problem->value("message", ""));
  return problem->value("missing", false) ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
}

absl::StatusOr<json> Browser::Execute(const std::string& script, const json& args) {
  if (absl::Status s = SetScriptTimeout(options_.command_deadline); !s.ok()) return s;
  return Command("POST", absl::StrCat("/session/", session_, "/execute/sync"),
                 {{"script", script}, {"args", ArgumentList(args)}},
                 options_.command_deadline + kAnswerMargin, "running a script");
}

absl::StatusOr<json> Browser::ExecuteAsync(const std::string& script, const json& args, absl::Duration timeout) {
  if (absl::Status s = SetScriptTimeout(timeout); !s.ok()) return s;
  return Command("POST", absl::StrCat("/session/", session_, "/execute/async"),
                 {{"script", script}, {"args", ArgumentList(args)}},
                 timeout + kAnswerMargin, "running an async script");
}

absl::Status Browser::WaitFor(const std::string& condition, absl::Duration deadline) {
  // The condition is part of the script's text, so a syntax error in it comes back at once (as
  // InvalidArgument) rather than as a wait that never ends. The page gives up at `deadline` itself
  // and says why; the script timeout, a little later, only backs that up.
  const std::string script = absl::StrCat(R"js(
    const limitMs = arguments[0], done = arguments[arguments.length - 1];
    let lastError = null, finished = false, observer = null, poller = null, timer = null;
    const check = () => {
      try {
        return !!(
)js", condition, R"js(
        );
      } catch (e) {
        lastError = String(e);
        return false;
      }
    };
    const finish = ok => {
      if (finished) return;
      finished = true;
      if (observer) observer.disconnect();
      clearInterval(poller);
      clearTimeout(timer);
      done({ok, lastError});
    };
    if (check()) return finish(true);
    observer = new MutationObserver(() => { if (check()) finish(true); });
    observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
    poller = setInterval(() => { if (check()) finish(true); }, 50);
    timer = setTimeout(() => finish(check()), limitMs);
  )js");
  const std::string named = absl::StrCat("waiting for `", condition, "`");
  absl::StatusOr<json> result =
      ExecuteAsync(script, {absl::ToInt64Milliseconds(deadline)}, deadline + absl::Seconds(2));
  if (!result.ok()) {
    return absl::Status(result.status().code(), absl::StrCat(named, ": ", result.status().message()));
  }
  if (result->is_object() && result->value("ok", false)) return absl::OkStatus();
  std::string message = absl::StrCat("`", condition, "` not true within ", absl::FormatDuration(deadline));
  if (result->is_object() && (*result)["lastError"].is_string()) {
    absl::StrAppend(&message, "; it last threw ", (*result)["lastError"].get<std::string>());
  }
  return absl::DeadlineExceededError(message);
}

absl::Status Browser::Screenshot(const std::string& png_path) {
  absl::StatusOr<json> shot = Command("GET", absl::StrCat("/session/", session_, "/screenshot"), nullptr,
                                      options_.command_deadline, "taking a screenshot");
  if (!shot.ok()) return shot.status();
  std::string png;
  if (!shot->is_string() || !absl::Base64Unescape(shot->get<std::string>(), &png) || png.empty()) {
    return absl::InternalError("taking a screenshot: the answer is not base64");
  }
  std::ofstream out(png_path, std::ios::binary | std::ios::trunc);
  out.write(png.data(), static_cast<std::streamsize>(png.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", png_path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Browser::ConsoleErrors() {
  // ChromeDriver's own log endpoint (not W3C), fed by goog:loggingPrefs.
  absl::StatusOr<json> entries = Command("POST", absl::StrCat("/session/", session_, "/se/log"), {{"type", "browser"}},
                                         options_.command_deadline, "reading the browser log");
  if (!entries.ok()) return entries.status();
  std::vector<std::string> errors;
  if (!entries->is_array()) return errors;
  for (const json& e : *entries) {
    if (e.value("level", "") == "SEVERE") errors.push_back(e.value("message", ""));
  }
  return errors;
}

}  // namespace pbr::testing
