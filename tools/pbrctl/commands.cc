#include "commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "care/catalogue.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/finance.grpc.pb.h"
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

// One page of a listing, or with `pages.all` every page from `pages.page_token` on, merged into one reply
// in the server's order. Each page is its own call with its own deadline; `call` may adjust the request
// for the next page (the overdue listing pins its as_of). `count` is a page's number of items; `render`
// prints the merged reply as a table. With `all`, a progress line goes to stderr every
// kProgressEveryPages pages, and past `pages.max_items` items the listing stops with exit 1.
template <typename Request, typename Reply, typename Call, typename Merge, typename Count, typename Render>
int ListPages(const RpcOptions& rpc, const Endpoint& endpoint, Request request, const PageOptions& pages,
              const QueryFormat& format, absl::string_view items, Call call, Merge merge, Count count,
              Render render) {
  request.set_page_size(pages.page_size);
  request.set_page_token(pages.page_token);
  Reply all;
  int listed = 0, fetched = 0;
  bool stopped = false;
  for (;;) {
    grpc::ClientContext context;
    SetTimeout(context, rpc.timeout);
    Reply page;
    const grpc::Status status = call(context, request, page);
    if (!status.ok()) return ReportRpcError(status, endpoint);
    merge(all, page);
    all.set_next_page_token(page.next_page_token());
    listed += count(page);
    ++fetched;
    if (!pages.all || page.next_page_token().empty()) break;
    // A server bug would otherwise loop for ever.
    if (page.next_page_token() == request.page_token() || count(page) == 0) {
      std::cerr << "error: the server returned " << (count(page) == 0 ? "an empty page with a page token ("
                                                                         : "the same page token twice (")
                << page.next_page_token() << ")\n";
      return kExitFailed;
    }
    if (listed >= pages.max_items) {
      stopped = true;
      break;
    }
    if (fetched % kProgressEveryPages == 0) {
      std::cerr << absl::StrFormat("%d pages, %d %s so far...\n", fetched, listed, items);
    }
    request.set_page_token(page.next_page_token());
  }
  std::cout << (format.json ? ToJson(all) : render(all));
  if (stopped) {
    std::cerr << absl::StrFormat("error: --all stopped after %d %s (at most %d are gathered in one listing); "
                                 "narrow the query, or go on with --page-token=%s\n",
                                 listed, items, pages.max_items, all.next_page_token());
    return kExitFailed;
  }
  if (!format.json && !all.next_page_token().empty()) {
    std::cout << "\nmore: add --page-token=" << all.next_page_token() << " for the next page, or --all\n";
  }
  return kExitOk;
}

pbr::v1::CivilDate ToCivilDate(absl::CivilDay day) {
  pbr::v1::CivilDate d;
  d.set_year(static_cast<int32_t>(day.year()));
  d.set_month(day.month());
  d.set_day(day.day());
  return d;
}

// The date of `flag`, or nullopt after saying on stderr which flag is wrong.
std::optional<pbr::v1::CivilDate> DateFlag(absl::string_view flag, const std::string& text) {
  const std::optional<absl::CivilDay> day = ParseDateFlag(text);
  if (!day) {
    std::cerr << "error: " << flag << ": \"" << text << "\" is not a date YYYY-MM-DD\n";
    return std::nullopt;
  }
  return ToCivilDate(*day);
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

std::optional<absl::CivilDay> ParseDateFlag(const std::string& text) {
  absl::CivilDay day;
  // ParseCivilTime refuses a day the month lacks (2025-02-30).
  if (!absl::ParseCivilTime(text, &day)) return std::nullopt;
  return day;
}

std::string ClusterFlagProblem(const std::string& text) {
  int cluster = 0;
  if (!absl::SimpleAtoi(text, &cluster) || !care::IsValidClusterId(cluster)) {
    return absl::StrFormat("%s is not a care cluster (%d-%d, not %d)", text, care::kMinCluster, care::kMaxCluster,
                           care::kBlankCluster);
  }
  return "";
}

std::optional<pbr::v1::ReportScope> ParseScopeFlag(const std::string& text) {
  pbr::v1::ReportScope scope;
  if (text == "trust") {
    scope.set_kind(pbr::v1::REPORT_SCOPE_TRUST);
    return scope;
  }
  const std::map<std::string, pbr::v1::ReportScopeKind> kinds = {{"team", pbr::v1::REPORT_SCOPE_TEAM},
                                                                 {"area", pbr::v1::REPORT_SCOPE_SERVICE_AREA},
                                                                 {"commissioner", pbr::v1::REPORT_SCOPE_COMMISSIONER}};
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon + 1 == text.size()) return std::nullopt;
  auto kind = kinds.find(text.substr(0, colon));
  if (kind == kinds.end()) return std::nullopt;
  scope.set_kind(kind->second);
  scope.set_id(text.substr(colon + 1));
  return scope;
}

std::optional<absl::CivilMonth> ParseMonthFlag(const std::string& text) {
  absl::CivilMonth month;
  // Exactly YYYY-MM: ParseCivilTime alone would also take a bare year.
  if (text.size() != 7 || text[4] != '-' || !absl::ParseCivilTime(text, &month)) return std::nullopt;
  return month;
}

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
  pbr::v1::ListRequest request;
  request.set_person_id(person_id);
  if (options.episodes) {
    return ListPages<pbr::v1::ListRequest, pbr::v1::ListEpisodesReply>(
        rpc, endpoint, request, options.pages, format, "episodes",
        [&](grpc::ClientContext& c, pbr::v1::ListRequest& r, pbr::v1::ListEpisodesReply& reply) {
          return stub->ListEpisodes(&c, r, &reply);
        },
        [](pbr::v1::ListEpisodesReply& all, const pbr::v1::ListEpisodesReply& page) {
          all.mutable_episodes()->MergeFrom(page.episodes());
        },
        [](const pbr::v1::ListEpisodesReply& page) { return page.episodes_size(); },
        [&](const pbr::v1::ListEpisodesReply& all) { return RenderEpisodes(person_id, all); });
  }
  return ListPages<pbr::v1::ListRequest, pbr::v1::ListAssessmentsReply>(
      rpc, endpoint, request, options.pages, format, "assessments",
      [&](grpc::ClientContext& c, pbr::v1::ListRequest& r, pbr::v1::ListAssessmentsReply& reply) {
        return stub->ListAssessments(&c, r, &reply);
      },
      [](pbr::v1::ListAssessmentsReply& all, const pbr::v1::ListAssessmentsReply& page) {
        all.mutable_assessments()->MergeFrom(page.assessments());
      },
      [](const pbr::v1::ListAssessmentsReply& page) { return page.assessments_size(); },
      [&](const pbr::v1::ListAssessmentsReply& all) { return RenderAssessments(person_id, all); });
}

int RunAudit(const RpcOptions& rpc, const AuditOptions& options, const QueryFormat& format) {
  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto stub = pbr::v1::Allocation::NewStub(MakeChannel(endpoint.address));
  pbr::v1::ListAuditRequest request;
  if (!options.person_id.empty()) request.set_person_id(options.person_id);
  else request.set_caller_subject(options.caller_subject);
  const std::string who = options.person_id.empty() ? absl::StrCat("caller ", options.caller_subject)
                                                    : absl::StrCat("person ", options.person_id);
  return ListPages<pbr::v1::ListAuditRequest, pbr::v1::ListAuditReply>(
      rpc, endpoint, request, options.pages, format, "audit entries",
      [&](grpc::ClientContext& c, pbr::v1::ListAuditRequest& r, pbr::v1::ListAuditReply& reply) {
        return stub->ListAudit(&c, r, &reply);
      },
      [](pbr::v1::ListAuditReply& all, const pbr::v1::ListAuditReply& page) {
        all.mutable_entries()->MergeFrom(page.entries());
      },
      [](const pbr::v1::ListAuditReply& page) { return page.entries_size(); },
      [&](const pbr::v1::ListAuditReply& all) { return RenderAudit(who, all); });
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

int RunOverdue(const RpcOptions& rpc, const OverdueOptions& options, const QueryFormat& format) {
  pbr::v1::ListOverdueRequest request;
  request.set_team_id(options.team_id);
  request.set_service_area(options.service_area);
  if (options.cluster) {
    if (const std::string problem = ClusterFlagProblem(absl::StrCat(*options.cluster)); !problem.empty()) {
      std::cerr << "error: --cluster: " << problem << "\n";
      return kExitBadInput;
    }
    request.set_has_cluster(true);
    request.set_cluster(*options.cluster);
  }
  if (!options.as_of.empty()) {
    auto as_of = DateFlag("--as-of", options.as_of);
    if (!as_of) return kExitBadInput;
    *request.mutable_as_of() = *as_of;
  }
  const Endpoint endpoint = rpc.SchedulerEndpoint();
  auto stub = pbr::v1::ReviewScheduler::NewStub(MakeChannel(endpoint.address));
  return ListPages<pbr::v1::ListOverdueRequest, pbr::v1::ListOverdueReply>(
      rpc, endpoint, request, options.pages, format, "reviews",
      [&](grpc::ClientContext& c, pbr::v1::ListOverdueRequest& r, pbr::v1::ListOverdueReply& reply) {
        const grpc::Status status = stub->ListOverdue(&c, r, &reply);
        // Every later page is judged on the same day, even if the clock passes midnight meanwhile.
        if (status.ok() && !r.has_as_of()) *r.mutable_as_of() = reply.as_of();
        return status;
      },
      [](pbr::v1::ListOverdueReply& all, const pbr::v1::ListOverdueReply& page) {
        all.mutable_reviews()->MergeFrom(page.reviews());
        if (!all.has_as_of()) *all.mutable_as_of() = page.as_of();
      },
      [](const pbr::v1::ListOverdueReply& page) { return page.reviews_size(); }, RenderOverdue);
}

int RunDue(const RpcOptions& rpc, const DueOptions& options, const QueryFormat& format) {
  auto from = DateFlag("--from", options.from);
  if (!from) return kExitBadInput;
  auto to = DateFlag("--to", options.to);
  if (!to) return kExitBadInput;
  if (*ParseDateFlag(options.to) < *ParseDateFlag(options.from)) {
    std::cerr << "error: --to: " << options.to << " is before --from " << options.from << "\n";
    return kExitBadInput;
  }
  pbr::v1::ListDueRequest request;
  *request.mutable_from() = *from;
  *request.mutable_to() = *to;
  request.set_team_id(options.team_id);
  const Endpoint endpoint = rpc.SchedulerEndpoint();
  auto stub = pbr::v1::ReviewScheduler::NewStub(MakeChannel(endpoint.address));
  return ListPages<pbr::v1::ListDueRequest, pbr::v1::ListDueReply>(
      rpc, endpoint, request, options.pages, format, "reviews",
      [&](grpc::ClientContext& c, pbr::v1::ListDueRequest& r, pbr::v1::ListDueReply& reply) {
        return stub->ListDue(&c, r, &reply);
      },
      [](pbr::v1::ListDueReply& all, const pbr::v1::ListDueReply& page) {
        all.mutable_reviews()->MergeFrom(page.reviews());
      },
      [](const pbr::v1::ListDueReply& page) { return page.reviews_size(); },
      [&](const pbr::v1::ListDueReply& all) { return RenderDue(all, options.from, options.to); });
}

int RunOverdueCount(const RpcOptions& rpc, const std::string& team_id, const QueryFormat& format) {
  const Endpoint endpoint = rpc.SchedulerEndpoint();
  auto stub = pbr::v1::ReviewScheduler::NewStub(MakeChannel(endpoint.address));
  pbr::v1::CountOverdueRequest request;
  request.set_team_id(team_id);
  return Query<pbr::v1::CountOverdueReply>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::CountOverdueReply& reply) {
        return stub->CountOverdue(&c, request, &reply);
      },
      RenderOverdueCount);
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

int RunOutcomesSummary(const RpcOptions& rpc, const OutcomesSummaryOptions& options, const QueryFormat& format) {
  pbr::v1::SummariseOutcomesRequest request;
  const std::map<std::string, pbr::v1::OutcomeGrouping> groupings = {
      {"team", pbr::v1::OUTCOME_GROUPING_TEAM},
      {"cluster", pbr::v1::OUTCOME_GROUPING_CLUSTER},
      {"commissioner", pbr::v1::OUTCOME_GROUPING_COMMISSIONER},
      {"super-class", pbr::v1::OUTCOME_GROUPING_SUPER_CLASS}};
  auto g = groupings.find(options.by);
  if (g == groupings.end()) {
    std::cerr << "error: --by: " << options.by << " is not team, cluster, commissioner or super-class\n";
    return kExitBadInput;
  }
  request.set_group_by(g->second);
  if (!options.from.empty()) {
    auto from = DateFlag("--from", options.from);
    if (!from) return kExitBadInput;
    *request.mutable_period_start() = *from;
  }
  if (!options.to.empty()) {
    auto to = DateFlag("--to", options.to);
    if (!to) return kExitBadInput;
    *request.mutable_period_end() = *to;
  }
  const Endpoint endpoint = rpc.OutcomesEndpoint();
  auto stub = pbr::v1::Outcomes::NewStub(MakeChannel(endpoint.address));
  return Query<pbr::v1::OutcomesSummary>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::OutcomesSummary& reply) {
        return stub->SummariseOutcomes(&c, request, &reply);
      },
      RenderOutcomesSummary);
}

int RunCaseload(const RpcOptions& rpc, const std::string& team_id, const std::string& care_coordinator_id,
                const QueryFormat& format) {
  const Endpoint endpoint = rpc.ReportingEndpoint();
  auto stub = pbr::v1::Reporting::NewStub(MakeChannel(endpoint.address));
  pbr::v1::GetCaseloadRequest request;
  request.set_team_id(team_id);
  request.set_care_coordinator_id(care_coordinator_id);
  return Query<pbr::v1::Caseload>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::Caseload& reply) { return stub->GetCaseload(&c, request, &reply); },
      [&](const pbr::v1::Caseload& c) { return RenderCaseload(c, format.persons); });
}

absl::StatusOr<pbr::v1::GetKpisRequest> KpisRequestOf(const KpisOptions& options) {
  pbr::v1::GetKpisRequest request;
  const std::optional<pbr::v1::ReportScope> scope = ParseScopeFlag(options.scope);
  if (!scope) {
    return absl::InvalidArgumentError(absl::StrCat("--scope: \"", options.scope,
                                                   "\" is not trust, team:<id>, area:<id> or commissioner:<id>"));
  }
  *request.mutable_scope() = *scope;
  if (options.month.empty() == options.as_at.empty()) {
    return absl::InvalidArgumentError("give exactly one of --month YYYY-MM and --as-at YYYY-MM-DD");
  }
  if (!options.month.empty()) {
    const std::optional<absl::CivilMonth> month = ParseMonthFlag(options.month);
    if (!month) return absl::InvalidArgumentError(absl::StrCat("--month: \"", options.month, "\" is not a month YYYY-MM"));
    request.mutable_month()->set_year(static_cast<int32_t>(month->year()));
    request.mutable_month()->set_month(month->month());
  } else {
    const std::optional<absl::CivilDay> day = ParseDateFlag(options.as_at);
    if (!day) return absl::InvalidArgumentError(absl::StrCat("--as-at: \"", options.as_at, "\" is not a date YYYY-MM-DD"));
    *request.mutable_as_at() = ToCivilDate(*day);
  }
  return request;
}

int RunKpis(const RpcOptions& rpc, const KpisOptions& options, const QueryFormat& format) {
  auto request = KpisRequestOf(options);
  if (!request.ok()) {
    std::cerr << "error: " << request.status().message() << "\n";
    return kExitBadInput;
  }
  const Endpoint endpoint = rpc.ReportingEndpoint();
  auto stub = pbr::v1::Reporting::NewStub(MakeChannel(endpoint.address));
  return Query<pbr::v1::KpiReport>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::KpiReport& reply) { return stub->GetKpis(&c, *request, &reply); },
      RenderKpis);
}

int RunTariffExport(const RpcOptions& rpc, const TariffExportOptions& options, const QueryFormat& format) {
  const std::optional<absl::CivilMonth> month = ParseMonthFlag(options.month);
  if (!month) {
    std::cerr << "error: --month: \"" << options.month << "\" is not a month YYYY-MM\n";
    return kExitBadInput;
  }
  if (options.out.empty()) {
    std::cerr << "error: --out: give the file to write\n";
    return kExitBadInput;
  }
  // A file of its own beside the target (two exports of the same file never share one), renamed into place.
  std::string partial = options.out + ".partial.XXXXXX";
  const int fd = ::mkstemp(partial.data());
  if (fd < 0) {
    std::cerr << "error: --out: cannot write " << partial << ": " << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  auto fail = [&](const std::string& why) {
    ::close(fd);
    ::unlink(partial.c_str());
    std::cerr << "error: " << why << "\n";
    return kExitFailed;
  };
  pbr::v1::ExportTariffRequest request;
  request.set_commissioner_id(options.commissioner);
  request.set_year(static_cast<int32_t>(month->year()));
  request.set_month(month->month());
  const Endpoint endpoint = rpc.ReportingEndpoint();
  auto stub = pbr::v1::Finance::NewStub(MakeChannel(endpoint.address));
  grpc::ClientContext context;
  // The whole export is one call: a big commissioner's month may take minutes, more than one query's --timeout.
  SetTimeout(context, std::max(rpc.timeout, absl::Minutes(30)));
  auto reader = stub->ExportTariff(&context, request);
  pbr::v1::TariffExportChunk chunk;
  std::optional<pbr::v1::TariffExportTotals> totals;
  int64_t written = 0, reported = 0;
  while (reader->Read(&chunk)) {
    for (size_t done = 0; done < chunk.csv().size();) {
      const ssize_t n = ::write(fd, chunk.csv().data() + done, chunk.csv().size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        context.TryCancel();
        return fail(absl::StrCat("cannot write ", partial, ": ", std::strerror(errno)));
      }
      done += static_cast<size_t>(n);
    }
    written += static_cast<int64_t>(chunk.csv().size());
    if (written - reported >= (8 << 20)) {  // a big export says how far it has come
      std::cerr << "tariff-export: " << written / (1 << 20) << " MiB written\n";
      reported = written;
    }
    if (chunk.has_totals()) totals = chunk.totals();
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return fail(DescribeRpcError(status, endpoint));
  if (!totals) return fail("the export ended without its totals: nothing written");
  if (::fsync(fd) != 0) return fail(absl::StrCat("cannot sync ", partial, ": ", std::strerror(errno)));
  if (::close(fd) != 0) {
    ::unlink(partial.c_str());
    std::cerr << "error: cannot write " << partial << ": " << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  if (::chmod(partial.c_str(), 0640) != 0 || std::rename(partial.c_str(), options.out.c_str()) != 0) {
    ::unlink(partial.c_str());
    std::cerr << "error: cannot rename " << partial << " to " << options.out << ": " << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  // The rename itself survives a crash only once the directory is synced.
  const size_t slash = options.out.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : options.out.substr(0, slash));
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    const int synced = ::fsync(dfd);
    ::close(dfd);
    if (synced != 0) {
      std::cerr << "error: cannot sync " << dir << ": " << std::strerror(errno) << "\n";
      return kExitFailed;
    }
  }
  std::cout << (format.json ? ToJson(*totals) : RenderTariffTotals(*totals, options.commissioner, options.month, options.out));
  return kExitOk;
}

int RunNational(const RpcOptions& rpc, const NationalOptions& options, const QueryFormat& format) {
  const std::optional<pbr::v1::ReportScope> scope = ParseScopeFlag(options.scope);
  if (!scope) {
    std::cerr << "error: --scope: \"" << options.scope
              << "\" is not trust, team:<id>, area:<id> or commissioner:<id>\n";
    return kExitBadInput;
  }
  const std::optional<absl::CivilMonth> month = ParseMonthFlag(options.month);
  if (!month) {
    std::cerr << "error: --month: \"" << options.month << "\" is not a month YYYY-MM\n";
    return kExitBadInput;
  }
  pbr::v1::GetNationalMeasuresRequest request;
  *request.mutable_scope() = *scope;
  request.mutable_month()->set_year(static_cast<int32_t>(month->year()));
  request.mutable_month()->set_month(month->month());
  request.set_publication_rounding(options.publication_rounding);
  const Endpoint endpoint = rpc.ReportingEndpoint();
  auto stub = pbr::v1::Reporting::NewStub(MakeChannel(endpoint.address));
  return Query<pbr::v1::NationalMeasures>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::NationalMeasures& reply) {
        return stub->GetNationalMeasures(&c, request, &reply);
      },
      RenderNationalMeasures);
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

int RunDashboardLink(const RpcOptions& rpc, const QueryFormat& format) {
  const Endpoint endpoint = rpc.ReportingEndpoint();
  auto stub = pbr::v1::Dashboard::NewStub(MakeChannel(endpoint.address));
  // The dashboard is on reporting's host, on the port reporting says it serves it.
  const std::string host = endpoint.address.substr(0, endpoint.address.rfind(':'));
  return Query<pbr::v1::SignInLink>(
      rpc, endpoint, format,
      [&](grpc::ClientContext& c, pbr::v1::SignInLink& reply) { return stub->IssueSignInLink(&c, {}, &reply); },
      [&](const pbr::v1::SignInLink& link) {
        return absl::StrCat("https://", host, ":", link.port(), link.path(), "\n",
                            "(open it within 5 minutes, until ",
                            absl::FormatTime("%H:%M:%S", absl::FromUnixSeconds(link.expires_at().seconds()), absl::LocalTimeZone()),
                            "; it signs that browser in for 12 hours)\n");
      });
}

int RunProbe(const RpcOptions& rpc, const std::string& service) {
  std::optional<Endpoint> endpoint;
  for (const Endpoint& e :
       {rpc.AllocationEndpoint(), rpc.SchedulerEndpoint(), rpc.OutcomesEndpoint(), rpc.ReportingEndpoint()}) {
    if (e.service == service) endpoint = e;
  }
  if (!endpoint) {
    std::cerr << "error: service: '" << service << "' is not allocation, review-scheduler, outcomes or reporting\n";
    return kExitBadInput;
  }
  if (auto problem = WaitServing(*endpoint, absl::Now() + rpc.timeout)) {
    std::cerr << absl::StrFormat("error: %s at %s: %s\n", endpoint->service, endpoint->address, *problem);
    return kExitFailed;
  }
  std::cout << endpoint->service << " SERVING\n";
  return kExitOk;
}

}  // namespace pbr::cli
