#include "commands.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "render.h"

namespace pbr::cli {
namespace {

int ReportRpcError(const grpc::Status& status, const Endpoint& endpoint) {
  std::cerr << "error: " << DescribeRpcError(status, endpoint) << "\n";
  return kExitFailed;
}

// The whole of `path`, or of stdin for "-"; nullopt (after saying why on stderr) when it cannot be read.
std::optional<std::string> ReadInput(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot read " << path << ": " << std::strerror(errno) << "\n";
    return std::nullopt;
  }
  text << in.rdbuf();
  return text.str();
}

// One unary call with the deadline, printed as JSON or by `render`.
template <typename Reply, typename Call>
int Query(const RpcOptions& rpc, const Endpoint& endpoint, const QueryFormat& format, Call call,
          const std::function<std::string(const Reply&)>& render) {
  grpc::ClientContext context;
  SetTimeout(context, rpc.timeout);
  Reply reply;
  const grpc::Status status = call(context, reply);
  if (!status.ok()) return ReportRpcError(status, endpoint);
  std::cout << (format.json ? ToJson(reply) : render(reply));
  return kExitOk;
}

// Polls the endpoint's health service until it reports SERVING or `until` passes; the last problem seen
// otherwise. At least one check is made even when `until` has already passed, so the report is current.
std::optional<std::string> WaitServing(const Endpoint& endpoint, absl::Time until) {
  auto channel = MakeChannel(endpoint.address);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  std::string problem;
  for (;;) {
    grpc::ClientContext context;
    // wait_for_ready: a refused connection waits for the service to come up instead of failing at once.
    context.set_wait_for_ready(true);
    const absl::Time now = absl::Now();
    context.set_deadline(absl::ToChronoTime(std::max(std::min(until, now + absl::Seconds(2)),
                                                     now + absl::Milliseconds(500))));
    grpc::health::v1::HealthCheckRequest request;  // service "": the server as a whole
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    if (status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING) return std::nullopt;
    if (status.ok()) {
      problem = absl::StrCat("health status ",
                             grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()));
    } else if (channel->GetState(false) != GRPC_CHANNEL_READY) {
      problem = "no connection (is it running, and is the address right?)";  // wait_for_ready hides the cause
    } else {
      problem = absl::StrCat(StatusCodeName(status.error_code()), ": ", status.error_message());
    }
    if (absl::Now() >= until) return problem;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

int RunRecord(const RpcOptions& rpc, const std::string& path) {
  const std::optional<std::string> text = ReadInput(path);
  if (!text) return kExitBadInput;
  auto request = ParseAssessmentJson(*text);
  if (!request.ok()) {
    std::cerr << "error: " << (path == "-" ? "stdin" : path) << ": " << request.status().message() << "\n";
    return kExitBadInput;
  }
  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto stub = pbr::v1::Allocation::NewStub(MakeChannel(endpoint.address));
  grpc::ClientContext context;
  SetTimeout(context, rpc.timeout);
  context.AddMetadata("x-trace-id", absl::StrCat("pbrctl-", request->source_record_id()));
  pbr::v1::RecordAssessmentReply reply;
  const grpc::Status status = stub->RecordAssessment(&context, *request, &reply);
  if (!status.ok()) return ReportRpcError(status, endpoint);
  std::cout << ToJson(reply);
  return kExitOk;
}

int RunSchedule(const RpcOptions& rpc, const std::string& person_id, const QueryFormat& format) {
  const Endpoint endpoint = rpc.SchedulerEndpoint();
  auto stub = pbr::v1::ReviewScheduler::NewStub(MakeChannel(endpoint.address));
  pbr::v1::GetScheduleRequest request;
  request.set_person_id(person_id);
  return Query<pbr::v1::Schedule>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::Schedule& reply) { return stub->GetSchedule(&c, request, &reply); },
      RenderSchedule);
}

int RunOutcomes(const RpcOptions& rpc, const std::string& person_id, const QueryFormat& format) {
  const Endpoint endpoint = rpc.OutcomesEndpoint();
  auto stub = pbr::v1::Outcomes::NewStub(MakeChannel(endpoint.address));
  pbr::v1::GetOutcomesRequest request;
  request.set_person_id(person_id);
  return Query<pbr::v1::PersonOutcomes>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::PersonOutcomes& reply) { return stub->GetOutcomes(&c, request, &reply); },
      RenderOutcomes);
}

int RunCaseload(const RpcOptions& rpc, const std::string& team_id, const QueryFormat& format) {
  const Endpoint endpoint = rpc.ReportingEndpoint();
  auto stub = pbr::v1::Reporting::NewStub(MakeChannel(endpoint.address));
  pbr::v1::GetCaseloadRequest request;
  request.set_team_id(team_id);
  return Query<pbr::v1::Caseload>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::Caseload& reply) { return stub->GetCaseload(&c, request, &reply); },
      [&](const pbr::v1::Caseload& c) { return RenderCaseload(c, format.persons); });
}

int RunWaitReady(const RpcOptions& rpc, absl::Duration deadline) {
  const absl::Time start = absl::Now();
  const absl::Time until = start + deadline;
  int exit_code = kExitOk;
  for (const Endpoint& endpoint :
       {rpc.AllocationEndpoint(), rpc.SchedulerEndpoint(), rpc.OutcomesEndpoint(), rpc.ReportingEndpoint()}) {
    if (auto problem = WaitServing(endpoint, until)) {
      std::cerr << absl::StrFormat("error: %s at %s not ready after %.1fs: %s\n", endpoint.service,
                                   endpoint.address, absl::ToDoubleSeconds(absl::Now() - start), *problem);
      exit_code = kExitFailed;
      continue;
    }
    std::cout << absl::StrFormat("%-17s %-21s SERVING (%.1fs)\n", endpoint.service, endpoint.address,
                                 absl::ToDoubleSeconds(absl::Now() - start));
  }
  return exit_code;
}

}  // namespace pbr::cli
