#include "commands.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
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

// Reads `path` and parses it with `parse`; nullopt (after saying why on stderr) when either fails.
template <typename Parse>
auto ReadAndParse(const std::string& path, Parse parse) -> std::optional<typename decltype(parse(""))::value_type> {
  const std::optional<std::string> text = ReadInput(path);
  if (!text) return std::nullopt;
  auto parsed = parse(*text);
  if (!parsed.ok()) {
    std::cerr << "error: " << (path == "-" ? "stdin" : path) << ": " << parsed.status().message() << "\n";
    return std::nullopt;
  }
  return *std::move(parsed);
}

int RecordOrAmend(const RpcOptions& rpc, const std::string& path, const QueryFormat& format, bool amend) {
  auto request = ReadAndParse(path, ParseAssessmentJson);
  if (!request) return kExitBadInput;
  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto stub = pbr::v1::Allocation::NewStub(MakeChannel(endpoint.address));
  return Query<pbr::v1::RecordAssessmentReply>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::RecordAssessmentReply& reply) {
        c.AddMetadata("x-trace-id", absl::StrCat(amend ? "pbrctl-amend-" : "pbrctl-", request->source_record_id()));
        return amend ? stub->AmendAssessment(&c, *request, &reply) : stub->RecordAssessment(&c, *request, &reply);
      },
      [amend](const pbr::v1::RecordAssessmentReply& reply) {
        return RenderRecordReply(reply, amend ? "amended" : "recorded");
      });
}

// One page of a person's history, or with `all` every page from `page_token` on, merged into one reply
// (newest first, as the server pages it). Each page is its own call with its own deadline.
template <typename Reply, typename Call, typename Merge, typename Render>
int ListPages(const RpcOptions& rpc, const Endpoint& endpoint, const std::string& person_id,
              const HistoryOptions& options, const QueryFormat& format, Call call, Merge merge, Render render) {
  pbr::v1::ListRequest request;
  request.set_person_id(person_id);
  request.set_page_size(options.page_size);
  request.set_page_token(options.page_token);
  Reply all;
  for (;;) {
    grpc::ClientContext context;
    SetTimeout(context, rpc.timeout);
    Reply page;
    const grpc::Status status = call(context, request, page);
    if (!status.ok()) return ReportRpcError(status, endpoint);
    merge(all, page);
    all.set_next_page_token(page.next_page_token());
    if (!options.all || page.next_page_token().empty()) break;
    if (page.next_page_token() == request.page_token()) {  // a server bug would otherwise loop for ever
      std::cerr << "error: the server returned the same page token twice (" << page.next_page_token() << ")\n";
      return kExitFailed;
    }
    request.set_page_token(page.next_page_token());
  }
  if (format.json) {
    std::cout << ToJson(all);
    return kExitOk;
  }
  std::cout << render(person_id, all);
  if (!all.next_page_token().empty()) {
    std::cout << "\nmore: add --page-token=" << all.next_page_token() << " for the next page, or --all\n";
  }
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

int RunRecord(const RpcOptions& rpc, const std::string& path, const QueryFormat& format) {
  return RecordOrAmend(rpc, path, format, /*amend=*/false);
}

int RunAmend(const RpcOptions& rpc, const std::string& path, const QueryFormat& format) {
  return RecordOrAmend(rpc, path, format, /*amend=*/true);
}

int RunWithdraw(const RpcOptions& rpc, const std::string& source_system, const std::string& source_record_id,
                const std::string& reason, const QueryFormat& format) {
  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto stub = pbr::v1::Allocation::NewStub(MakeChannel(endpoint.address));
  pbr::v1::WithdrawAssessmentRequest request;
  request.set_source_system(source_system);
  request.set_source_record_id(source_record_id);
  request.set_reason(reason);
  return Query<pbr::v1::WithdrawAssessmentReply>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::WithdrawAssessmentReply& reply) {
        c.AddMetadata("x-trace-id", absl::StrCat("pbrctl-withdraw-", source_record_id));
        return stub->WithdrawAssessment(&c, request, &reply);
      },
      RenderWithdrawReply);
}

int RunCareEvent(const RpcOptions& rpc, const std::string& path, const QueryFormat& format) {
  auto request = ReadAndParse(path, ParseCareEventJson);
  if (!request) return kExitBadInput;
  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto stub = pbr::v1::Allocation::NewStub(MakeChannel(endpoint.address));
  return Query<pbr::v1::RecordCareEventReply>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::RecordCareEventReply& reply) {
        c.AddMetadata("x-trace-id", absl::StrCat("pbrctl-", request->source_record_id()));
        return stub->RecordCareEvent(&c, *request, &reply);
      },
      RenderCareEventReply);
}

int RunSuggest(const RpcOptions& rpc, const std::string& path, const std::string& service_area,
               const QueryFormat& format) {
  auto input = ReadAndParse(path, ParseSuggestInput);
  if (!input) return kExitBadInput;
  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto stub = pbr::v1::Allocation::NewStub(MakeChannel(endpoint.address));
  pbr::v1::SuggestClustersRequest request;
  *request.mutable_ratings() = input->ratings;
  request.set_service_area(service_area);
  return Query<pbr::v1::SuggestClustersReply>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::SuggestClustersReply& reply) {
        const grpc::Status status = stub->SuggestClusters(&c, request, &reply);
        // On stderr, so it is seen whether the fits are printed as a table or as JSON.
        if (status.ok() && reply.example_profiles()) std::cerr << ExampleProfilesWarning();
        return status;
      },
      RenderSuggestReply);
}

int RunPerson(const RpcOptions& rpc, const std::string& nhs_number, const std::string& person_id,
              const QueryFormat& format) {
  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto stub = pbr::v1::Allocation::NewStub(MakeChannel(endpoint.address));
  pbr::v1::GetPersonRequest request;
  if (!nhs_number.empty()) {
    request.set_nhs_number(nhs_number);
  } else {
    request.set_person_id(person_id);
  }
  return Query<pbr::v1::Person>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::Person& reply) { return stub->GetPerson(&c, request, &reply); },
      RenderPerson);
}

int RunHistory(const RpcOptions& rpc, const std::string& person_id, const HistoryOptions& options,
               const QueryFormat& format) {
  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto stub = pbr::v1::Allocation::NewStub(MakeChannel(endpoint.address));
  if (options.episodes) {
    return ListPages<pbr::v1::ListEpisodesReply>(
        rpc, endpoint, person_id, options, format,
        [&](grpc::ClientContext& c, const pbr::v1::ListRequest& request, pbr::v1::ListEpisodesReply& reply) {
          return stub->ListEpisodes(&c, request, &reply);
        },
        [](pbr::v1::ListEpisodesReply& all, const pbr::v1::ListEpisodesReply& page) {
          all.mutable_episodes()->MergeFrom(page.episodes());
        },
        RenderEpisodes);
  }
  return ListPages<pbr::v1::ListAssessmentsReply>(
      rpc, endpoint, person_id, options, format,
      [&](grpc::ClientContext& c, const pbr::v1::ListRequest& request, pbr::v1::ListAssessmentsReply& reply) {
        return stub->ListAssessments(&c, request, &reply);
      },
      [](pbr::v1::ListAssessmentsReply& all, const pbr::v1::ListAssessmentsReply& page) {
        all.mutable_assessments()->MergeFrom(page.assessments());
      },
      RenderAssessments);
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
