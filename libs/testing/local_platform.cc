#include "testing/local_platform.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace pbr::testing {

absl::Status WriteSecretFile(const std::string& path, const std::string& secret) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write ", path));
  const bool ok = fchmod(fd, 0600) == 0 && write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
  close(fd);
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

std::string NhsNumber(int64_t nine_digits) {
  for (;; ++nine_digits) {
    std::string s = absl::StrFormat("%09d", nine_digits);
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (s[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check != 10) return s + static_cast<char>('0' + check);
  }
}

std::string LocalPlatform::FlowControlGroups(const std::string& service) {
  std::string groups;
  for (const auto& [consumer, topics] : kConsumerTopics) {
    if (consumer != service) absl::StrAppend(&groups, groups.empty() ? "" : ",", consumer, "=", topics);
  }
  return groups;
}

absl::StatusOr<std::unique_ptr<LocalPlatform>> LocalPlatform::Start(LocalPlatformOptions options,
                                                                    absl::Duration deadline) {
  std::filesystem::create_directories(options.work_dir);
  std::unique_ptr<LocalPlatform> p(new LocalPlatform(std::move(options)));
  if (p->options_.tls) {
    const std::string dir = p->options_.work_dir + "/tls";
    std::filesystem::create_directories(dir);
    auto ca = TestCa::Create("care-cluster test CA");
    if (!ca.ok()) return ca.status();
    p->ca_ = *std::move(ca);
    {
      std::ofstream out(dir + "/ca.pem");
      out << p->ca_->pem();
      if (!out) return absl::InternalError("cannot write the test CA");
    }
    for (const char* name : kServices) {
      auto server = p->ca_->Issue(name, {"IP:127.0.0.1", "DNS:localhost", absl::StrCat("DNS:", name)});
      if (!server.ok()) return server.status();
      if (auto st = WriteCertificate(dir, name, *server); !st.ok()) return st;
    }
  }
  std::vector<std::string> broker_argv = {p->options_.bin_dir + "/pbr-broker",
                                          absl::StrCat("--partitions=", p->options_.partitions)};
  broker_argv.insert(broker_argv.end(), p->options_.broker_flags.begin(), p->options_.broker_flags.end());
  auto broker = ChildProcess::Spawn(broker_argv, p->LogPath("broker"));
  if (!broker.ok()) return broker.status();
  p->broker_ = *std::move(broker);
  auto line = p->broker_->WaitForLine("BOOTSTRAP ", deadline);
  if (!line.ok()) return line.status();
  p->bootstrap_ = line->substr(std::string("BOOTSTRAP ").size());
  for (const char* name : kServices) {
    if (auto st = p->StartService(name, deadline); !st.ok()) return st;
  }
  return p;
}

LocalPlatform::~LocalPlatform() {
  services_.clear();  // ChildProcess kills on destruction
  broker_.reset();
}

absl::Status LocalPlatform::ReplaceBroker(absl::Duration deadline) {
  if (broker_) broker_->Kill();
  std::vector<std::string> broker_argv = {options_.bin_dir + "/pbr-broker", absl::StrCat("--partitions=", options_.partitions)};
  broker_argv.insert(broker_argv.end(), options_.broker_flags.begin(), options_.broker_flags.end());
  auto broker = ChildProcess::Spawn(broker_argv, LogPath("broker"));
  if (!broker.ok()) return broker.status();
  broker_ = *std::move(broker);
  auto line = broker_->WaitForLine("BOOTSTRAP ", deadline);
  if (!line.ok()) return line.status();
  bootstrap_ = line->substr(std::string("BOOTSTRAP ").size());
  return absl::OkStatus();
}

absl::Status LocalPlatform::StartService(const std::string& name, absl::Duration deadline,
                                         const std::vector<std::string>& extra_flags) {
  return StartAs(name, name, deadline, extra_flags);
}

absl::Status LocalPlatform::StartReplica(const std::string& service, const std::string& replica, absl::Duration deadline,
                                         const std::vector<std::string>& extra_flags) {
  if (std::find(std::begin(kServices), std::end(kServices), replica) != std::end(kServices)) {
    return absl::InvalidArgumentError(absl::StrCat("a replica needs a name of its own, not ", replica));
  }
  return StartAs(service, replica, deadline, extra_flags);
}

absl::Status LocalPlatform::StartAs(const std::string& service, const std::string& name, absl::Duration deadline,
                                    const std::vector<std::string>& extra_flags) {
  std::vector<std::string> argv = {
      absl::StrCat(options_.bin_dir, "/pbr-", service),
      "--grpc-address=127.0.0.1:0",
      "--metrics-address=127.0.0.1:0",
      absl::StrCat("--data-dir=", options_.work_dir, "/", name),
      absl::StrCat("--kafka-bootstrap=", bootstrap_),
      absl::StrCat("--rules-dir=", options_.rules_dir),
      absl::StrCat("--clock=", options_.clock),
  };
  if (service == "allocation") {
    const std::string secret_file = options_.work_dir + "/pseudonym-secret";
    if (auto st = WriteSecretFile(secret_file, options_.pseudonym_secret); !st.ok()) return st;
    argv.push_back("--pseudonym-secret-file=" + secret_file);
  }
  // A start given --grpc-plaintext=true (the bench's plaintext baseline) gets no TLS files.
  const bool plaintext = std::find(extra_flags.begin(), extra_flags.end(), "--grpc-plaintext=true") != extra_flags.end();
  if (options_.tls && !plaintext) {
    const std::string dir = options_.work_dir + "/tls";
    argv.push_back("--tls-ca-file=" + dir + "/ca.pem");
    argv.push_back(absl::StrCat("--tls-cert-file=", dir, "/", service, ".pem"));
    argv.push_back(absl::StrCat("--tls-key-file=", dir, "/", service, ".key"));
  } else if (!plaintext) {
    argv.push_back("--grpc-plaintext=true");
  }
  // Flow control: no service's events may run further ahead of a consumer than the embedded broker
  // keeps (5 MiB a partition). Each lists the other services' consumer groups (their names); a group
  // is ignored on the topics it does not read.
  if (auto groups = FlowControlGroups(service); !groups.empty()) argv.push_back("--flow-control-groups=" + groups);
  // Reporting serves the dashboard too: on a free port, so parallel tests never share one. Under TLS
  // its sign-in key is in a file, as a trust keeps it, so a session outlives a restart.
  if (service == "reporting") {
    argv.push_back("--http-address=127.0.0.1:0");
    if (options_.tls) {
      const std::string key_file = options_.work_dir + "/dashboard-token-secret";
      if (auto st = WriteSecretFile(key_file, options_.pseudonym_secret + "-dashboard"); !st.ok()) return st;
      argv.push_back("--dashboard-token-secret-file=" + key_file);
    }
  }
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  auto child = ChildProcess::Spawn(argv, LogPath(name));
  if (!child.ok()) return child.status();
  auto ready = (*child)->WaitForLine("READY ", deadline);
  if (!ready.ok()) return ready.status();
  // "READY <name> grpc=HOST:PORT metrics=HOST:PORT[ http=HOST:PORT]"
  std::vector<std::string> parts = absl::StrSplit(*ready, ' ');
  if (parts.size() < 4 || parts.size() > 5 || !absl::StartsWith(parts[2], "grpc=") ||
      !absl::StartsWith(parts[3], "metrics=") || (parts.size() == 5 && !absl::StartsWith(parts[4], "http="))) {
    return absl::InternalError(absl::StrCat(name, " printed an unexpected ready line: ", *ready));
  }
  addresses_[name] = {parts[2].substr(5), parts[3].substr(8)};
  if (parts.size() == 5) http_addresses_[name] = parts[4].substr(5);
  services_[name] = *std::move(child);
  return absl::OkStatus();
}

void LocalPlatform::KillService(const std::string& name) {
  if (auto it = services_.find(name); it != services_.end()) it->second->Kill();
}

absl::Status LocalPlatform::StopService(const std::string& name, absl::Duration deadline) {
  auto it = services_.find(name);
  if (it == services_.end()) return absl::NotFoundError(absl::StrCat("no service ", name));
  auto code = it->second->Terminate(deadline);
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(absl::StrCat(name, " exited with code ", *code, " on SIGTERM; its log:\n",
                                            Tail(LogPath(name))));
  }
  return absl::OkStatus();
}

absl::Status LocalPlatform::StopAll(absl::Duration deadline) {
  absl::Status result;
  for (auto& [name, process] : services_) {  // replicas first
    if (std::find(std::begin(kServices), std::end(kServices), name) != std::end(kServices) || !process->Running()) continue;
    if (auto st = StopService(name, deadline); !st.ok() && result.ok()) result = st;
  }
  for (const char* name : kServices) {
    if (services_.count(name) == 0 || !services_[name]->Running()) continue;
    if (auto st = StopService(name, deadline); !st.ok() && result.ok()) result = st;
  }
  if (broker_) {
    auto code = broker_->Terminate(deadline);
    if (!code.ok() && result.ok()) result = code.status();
    if (code.ok() && *code != 0 && result.ok()) result = absl::InternalError("broker did not exit cleanly");
  }
  return result;
}

absl::Status LocalPlatform::PauseBroker() {
  if (!broker_) return absl::FailedPreconditionError("no broker");
  return broker_->Stop();
}

absl::Status LocalPlatform::ResumeBroker() {
  if (!broker_) return absl::FailedPreconditionError("no broker");
  return broker_->Continue();
}

bool LocalPlatform::BrokerPaused() const { return broker_ && broker_->Stopped(); }

absl::StatusOr<IssuedCertificate> LocalPlatform::ClientCertificate(const std::string& role) const {
  if (!ca_) return absl::FailedPreconditionError("this platform runs without TLS");
  std::lock_guard lock(certificates_mu_);
  if (auto it = client_certificates_.find(role); it != client_certificates_.end()) return it->second;
  auto issued = ca_->Issue(absl::StrCat("test ", role), {absl::StrCat("URI:urn:pbr:role:", role)});
  if (!issued.ok()) return issued.status();
  client_certificates_[role] = *issued;
  return *issued;
}

absl::StatusOr<std::vector<std::string>> LocalPlatform::ClientTlsFlags(const std::string& role) const {
  auto cert = ClientCertificate(role);
  if (!cert.ok()) return cert.status();
  const std::string dir = options_.work_dir + "/tls";
  std::string name = absl::StrCat("client-", role);
  std::replace(name.begin(), name.end(), ':', '-');  // client-epr-feed-<SOURCE>, as scripts/make-certs.sh names it
  if (auto st = WriteCertificate(dir, name, *cert); !st.ok()) return st;
  return std::vector<std::string>{absl::StrCat("--tls-ca-file=", dir, "/ca.pem"),
                                  absl::StrCat("--tls-cert-file=", dir, "/", name, ".pem"),
                                  absl::StrCat("--tls-key-file=", dir, "/", name, ".key")};
}

absl::StatusOr<std::vector<std::string>> LocalPlatform::FeedTlsFlags(const std::vector<std::string>& source_systems) const {
  for (const std::string& source : source_systems) {
    if (auto flags = ClientTlsFlags("epr-feed:" + source); !flags.ok()) return flags.status();
  }
  const std::string dir = options_.work_dir + "/tls";
  return std::vector<std::string>{absl::StrCat("--tls-ca-file=", dir, "/ca.pem"), absl::StrCat("--feed-cert-dir=", dir)};
}

std::shared_ptr<grpc::Channel> LocalPlatform::Channel(const std::string& name, const std::string& role) const {
  return ChannelTo(GrpcAddress(name), role);
}

std::shared_ptr<grpc::Channel> LocalPlatform::ChannelTo(const std::string& address, const std::string& role) const {
  if (!ca_) return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_->pem();
  if (!role.empty()) {
    // A role the CA cannot issue for fails the calls, loudly, as no certificate would.
    if (auto cert = ClientCertificate(role); cert.ok()) {
      options.pem_private_key = cert->key_pem;
      options.pem_cert_chain = cert->cert_pem;
    }
  }
  return grpc::CreateChannel(address, grpc::SslCredentials(options));
}

std::string LocalPlatform::GrpcAddress(const std::string& name) const {
  auto it = addresses_.find(name);
  return it == addresses_.end() ? "" : it->second.first;
}

std::string LocalPlatform::HttpAddress(const std::string& name) const {
  auto it = http_addresses_.find(name);
  return it == http_addresses_.end() ? "" : it->second;
}

std::string LocalPlatform::MetricsAddress(const std::string& name) const {
  auto it = addresses_.find(name);
  return it == addresses_.end() ? "" : it->second.second;
}

}  // namespace pbr::testing
