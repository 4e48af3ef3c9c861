#pragma once
// The whole platform as separate processes on loopback: the embedded broker and the four
// services, each with its own data directory and free ports. Used by the system tests and the
// benchmark; scripts/run-local.sh does the same for people.
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "testing/certificates.h"
#include "testing/process.h"

namespace pbr::testing {

struct LocalPlatformOptions {
  std::string bin_dir;     // where pbr-broker and pbr-<service> are
  std::string rules_dir;
  std::string work_dir;    // data directories and logs go here
  std::string clock = "system";
  int partitions = 6;
  // Test-only key (random, so strong enough for allocation); written to work_dir/pseudonym-secret (0600).
  std::string pseudonym_secret = "2vRfGsd6AmZa/tbe5fVFS3H3tU9Htd1fg5eTvMrmZKzwI546154/xI0by19hGnqX";
  std::vector<std::string> extra_flags;  // given to every service
  std::vector<std::string> broker_flags;  // given to pbr-broker, e.g. "--extra-topics=bench"
  // Mutual TLS on every gRPC port: a CA made at start (work_dir/tls/), a certificate per service, and
  // client certificates per role for Channel and Stub. Off only where a test says why (the services
  // then serve plaintext on loopback, --grpc-plaintext, where nobody has a role).
  bool tls = true;
};

// Writes allocation's pseudonym secret as it wants it: in a file only its owner can read (0600),
// never on the command line.
absl::Status WriteSecretFile(const std::string& path, const std::string& secret);

// A valid NHS number from nine digits (the first that makes one, counting up): the tenth is the
// modulus-11 check digit.
std::string NhsNumber(int64_t nine_digits);

// A client context whose call must finish within `deadline`.
inline std::unique_ptr<grpc::ClientContext> CallContext(absl::Duration deadline = absl::Seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return ctx;
}

class LocalPlatform {
 public:
  static constexpr const char* kServices[] = {"allocation", "review-scheduler", "outcomes", "reporting"};
  // The services that consume, each in the consumer group of its name (the default).
  static constexpr const char* kConsumers[] = {"review-scheduler", "outcomes", "reporting"};
  // The topics each consumer reads (its projections' topics), so flow control holds a producer to a
  // group from the start, before the group has joined and committed anything.
  static constexpr std::pair<const char*, const char*> kConsumerTopics[] = {
      {"review-scheduler", "assessment-recorded|care-event-recorded"},
      {"outcomes", "assessment-recorded|care-event-recorded"},
      {"reporting", "assessment-recorded|care-event-recorded|outcome-recorded|review-due"},
  };
  // The --flow-control-groups a service's outbox is started with: every consumer's group but its
  // own (no service reads a topic it publishes), each with its topics, so a bulk load never outruns
  // the broker's retention, not even while the groups are still joining.
  static std::string FlowControlGroups(const std::string& service);

  // Starts the broker and every service; returns when each has printed READY.
  static absl::StatusOr<std::unique_ptr<LocalPlatform>> Start(LocalPlatformOptions options,
                                                              absl::Duration deadline = absl::Seconds(60));
  ~LocalPlatform();  // kills whatever still runs

  // `extra_flags` are given to this start only (e.g. "--reset-state=true").
  absl::Status StartService(const std::string& name, absl::Duration deadline = absl::Seconds(30),
                            const std::vector<std::string>& extra_flags = {});
  // Another replica of a consuming service, named `replica` (its data directory, log and the name
  // Process, StopService and Channel know it by), in the service's consumer group unless the flags
  // say otherwise ("--consumer-group=..."). StopAll stops it first.
  absl::Status StartReplica(const std::string& service, const std::string& replica,
                            absl::Duration deadline = absl::Seconds(30), const std::vector<std::string>& extra_flags = {});
  // Kills the broker and starts a new, empty one (as after losing it); services started from now
  // on are given its address, those running keep the old one.
  absl::Status ReplaceBroker(absl::Duration deadline = absl::Seconds(30));
  // The running process of a service, or nullptr.
  ChildProcess* Process(const std::string& name) {
    auto it = services_.find(name);
    return it == services_.end() ? nullptr : it->second.get();
  }
  void KillService(const std::string& name);  // SIGKILL: no chance to flush or leave the group
  // SIGTERM and wait; an error unless it exits 0 in time.
  absl::Status StopService(const std::string& name, absl::Duration deadline = absl::Seconds(20));
  // Stops every service, then the broker, each within the deadline and with exit code 0.
  absl::Status StopAll(absl::Duration deadline = absl::Seconds(30));

  // Freezes the broker with SIGSTOP (clients keep their connections; nothing is answered) and
  // thaws it with SIGCONT. StopAll and the destructor end a frozen broker too.
  absl::Status PauseBroker();
  absl::Status ResumeBroker();
  bool BrokerPaused() const;

  const std::string& bootstrap() const { return bootstrap_; }
  // The process id of a running service (for measuring it), or -1.
  pid_t Pid(const std::string& name) const {
    auto it = services_.find(name);
    return it == services_.end() ? -1 : it->second->pid();
  }
  std::string DataDir(const std::string& name) const { return options_.work_dir + "/" + name; }
  std::string GrpcAddress(const std::string& name) const;
  std::string MetricsAddress(const std::string& name) const;
  // Where a service serves HTTP (reporting's dashboard), HOST:PORT; empty for one that serves none.
  std::string HttpAddress(const std::string& name) const;
  std::string LogPath(const std::string& name) const { return options_.work_dir + "/" + name + ".log"; }

  // A channel to a running service (after a restart, ask again: the port changes). Under TLS, as the
  // holder of a certificate for `role` ("clinician", "epr-feed:rio-north", ...: the SAN URI
  // urn:pbr:role:<role>); an empty role presents no certificate. Without TLS the role is ignored.
  std::shared_ptr<grpc::Channel> Channel(const std::string& name, const std::string& role = "") const;
  // The same to a service's address the test tracks itself (across restarts).
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address, const std::string& role) const;
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& name, const std::string& role) const {
    return Service::NewStub(Channel(name, role));
  }
  // A stub of a pseudonymous service as its usual reader: finance for the tariff stream and
  // exports, operations for the rest. Allocation has no such reader: a test says whose certificate
  // calls it (an "epr-feed:<SOURCE>" or "clinician").
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& name) const {
    constexpr std::string_view service = Service::service_full_name();
    static_assert(service != "pbr.v1.Allocation", "name the role that calls allocation");
    return Service::NewStub(Channel(name, service == "pbr.v1.Finance" ? "finance" : "operations"));
  }
  // Under TLS: the platform's CA, and a certificate it issued for `role` (made once per role).
  const TestCa* ca() const { return ca_.get(); }
  absl::StatusOr<IssuedCertificate> ClientCertificate(const std::string& role) const;
  // Under TLS: the --tls-ca-file, --tls-cert-file and --tls-key-file flags a client tool (pbrctl)
  // takes to call as `role`, its certificate written to work_dir/tls/client-<role>.{pem,key}.
  absl::StatusOr<std::vector<std::string>> ClientTlsFlags(const std::string& role) const;
  // Under TLS: --tls-ca-file and --feed-cert-dir for a tool loading several EPRs' records (pbrctl
  // demo, pbr-import), a feed certificate per source system in work_dir/tls.
  absl::StatusOr<std::vector<std::string>> FeedTlsFlags(const std::vector<std::string>& source_systems) const;

 private:
  explicit LocalPlatform(LocalPlatformOptions options) : options_(std::move(options)) {}
  // Runs pbr-<service> as `name` (the service itself, or a replica of it).
  absl::Status StartAs(const std::string& service, const std::string& name, absl::Duration deadline,
                       const std::vector<std::string>& extra_flags);
  LocalPlatformOptions options_;
  std::unique_ptr<ChildProcess> broker_;
  std::string bootstrap_;
  std::map<std::string, std::unique_ptr<ChildProcess>> services_;
  std::map<std::string, std::pair<std::string, std::string>> addresses_;  // grpc, metrics
  std::map<std::string, std::string> http_addresses_;
  std::unique_ptr<TestCa> ca_;
  mutable std::mutex certificates_mu_;
  mutable std::map<std::string, IssuedCertificate> client_certificates_;  // by role; guarded by certificates_mu_
};

}  // namespace pbr::testing
