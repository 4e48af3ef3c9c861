#include "testing/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace pbr::testing {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                                                   const std::string& log_path) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("cannot open ", log_path));
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // Signals blocked by a test framework must not be inherited by the child.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(log_fd);
  auto child = std::make_unique<ChildProcess>();
  child->pid_ = pid;
  child->stdout_fd_ = out[0];
  child->log_path_ = log_path;
  return child;
}

ChildProcess::~ChildProcess() {
  Kill();
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

absl::StatusOr<std::string> ChildProcess::WaitForLine(absl::string_view prefix, absl::Duration deadline) {
  const absl::Time until = absl::Now() + deadline;
  while (true) {
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (absl::StartsWith(line, prefix)) return line;
    }
    const absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("no line starting '", prefix, "' from pid ", pid_,
                                                      "; its log:\n", Tail(log_path_)));
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
    if (r > 0) {
      char buf[4096];
      ssize_t n = read(stdout_fd_, buf, sizeof buf);
      if (n <= 0) {
        return absl::UnavailableError(absl::StrCat("pid ", pid_, " closed stdout before printing '", prefix,
                                                   "'; its log:\n", Tail(log_path_)));
      }
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
}

bool ChildProcess::Running() {
  if (exit_code_.has_value() || pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

absl::StatusOr<int> ChildProcess::Terminate(absl::Duration deadline) {
  if (!Running()) return exit_code_.value_or(-1);
  kill(pid_, SIGTERM);
  kill(pid_, SIGCONT);  // a stopped child takes the SIGTERM only once continued
  if (WaitUntil([this] { return !Running(); }, deadline, absl::Milliseconds(10))) return *exit_code_;
  Kill();
  return absl::DeadlineExceededError(absl::StrCat("pid ", pid_, " did not stop within ", absl::FormatDuration(deadline),
                                                  " of SIGTERM; killed. Its log:\n", Tail(log_path_)));
}

void ChildProcess::Kill() {
  if (!Running()) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = 128 + SIGKILL;
}

absl::Status ChildProcess::Stop() {
  if (!Running()) return absl::FailedPreconditionError(absl::StrCat("pid ", pid_, " is not running"));
  if (Stopped()) return absl::OkStatus();  // already reported: waiting again would block
  kill(pid_, SIGSTOP);
  int status = 0;
  if (waitpid(pid_, &status, WUNTRACED) != pid_) return absl::InternalError(absl::StrCat("waitpid ", pid_, " failed"));
  if (WIFSTOPPED(status)) return absl::OkStatus();
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return absl::FailedPreconditionError(absl::StrCat("pid ", pid_, " exited (", *exit_code_, ") instead of stopping"));
}

absl::Status ChildProcess::Continue() {
  if (!Running()) return absl::FailedPreconditionError(absl::StrCat("pid ", pid_, " is not running"));
  if (!Stopped()) return absl::OkStatus();  // nothing to continue: no report would come
  kill(pid_, SIGCONT);
  int status = 0;
  if (waitpid(pid_, &status, WCONTINUED) != pid_) return absl::InternalError(absl::StrCat("waitpid ", pid_, " failed"));
  if (WIFCONTINUED(status)) return absl::OkStatus();
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return absl::FailedPreconditionError(absl::StrCat("pid ", pid_, " exited (", *exit_code_, ") instead of continuing"));
}

bool ChildProcess::Stopped() const {
  if (exit_code_.has_value() || pid_ <= 0) return false;
  std::ifstream in(absl::StrCat("/proc/", pid_, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "pid (comm) S ...": the state follows the last ')', since comm may hold anything.
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
}

bool WaitUntil(const std::function<bool()>& condition, absl::Duration deadline, absl::Duration poll) {
  const absl::Time until = absl::Now() + deadline;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= until) return false;
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(poll));
  }
}

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : std::filesystem::temp_directory_path().string(), "/pbr-XXXXXX");
  path_ = mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::optional<double> MetricSum(const std::string& host_port, absl::string_view name) {
  auto text = HttpGet(host_port, "/metrics");
  if (!text.ok()) return std::nullopt;
  std::optional<double> sum;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::StartsWith(line, absl::StrCat(name, "{")) && !absl::StartsWith(line, absl::StrCat(name, " "))) continue;
    double v = 0;
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) continue;
    sum = sum.value_or(0) + v;
  }
  return sum;
}

absl::StatusOr<std::string> HttpGet(const std::string& host_port, const std::string& path, absl::Duration deadline) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos || host_port.substr(0, colon) != "127.0.0.1") {
    return absl::InvalidArgumentError(absl::StrCat("only 127.0.0.1:PORT is allowed, not '", host_port, "'"));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  timeval tv{static_cast<time_t>(absl::ToInt64Seconds(deadline)), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_port, "\r\n\r\n");
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[8192];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) response.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  const auto body = response.find("\r\n\r\n");
  if (body == std::string::npos) return absl::UnavailableError(absl::StrCat("no HTTP answer from ", host_port, path));
  return response.substr(body + 4);
}

std::string Tail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string l; std::getline(in, l);) {
    last.push_back(l);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  return absl::StrJoin(last, "\n");
}

}  // namespace pbr::testing
