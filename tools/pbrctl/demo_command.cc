// `pbrctl demo`: generates the demo set and records it through the allocation intake.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "commands.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "progress.h"

namespace pbr::cli {
namespace {

using Request = pbr::v1::RecordAssessmentRequest;

// One person's assessments in date order. A person is the unit of work, so each history reaches the
// platform in the order it happened, whatever the concurrency.
using PersonBatch = std::vector<const Request*>;

std::vector<PersonBatch> GroupByPerson(const std::vector<Request>& requests) {
  std::vector<PersonBatch> batches;
  std::map<std::string, size_t> index;  // NHS number -> batch
  for (const Request& r : requests) {
    auto [it, added] = index.emplace(r.nhs_number(), batches.size());
    if (added) batches.emplace_back();
    batches[it->second].push_back(&r);
  }
  return batches;
}

// What the intake answered, shared by the workers.
class Tally {
 public:
  explicit Tally(size_t batches) : batch_person_(batches) {}

  void Add(size_t batch, const Request& request, const grpc::Status& status,
           const pbr::v1::RecordAssessmentReply& reply) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok()) {
      ++rejected_;
      if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) ++conflicts_;
      if (errors_.size() < kErrorsShown) {
        errors_.push_back(absl::StrCat(request.source_record_id(), ": ", StatusCodeName(status.error_code()), ": ",
                                       status.error_message()));
      }
      return;
    }
    ++(reply.duplicate() ? duplicates_ : accepted_);
    person_ids_.insert(reply.person_id());
    batch_person_[batch] = reply.person_id();
  }

  static constexpr size_t kErrorsShown = 5;
  // Read only after the workers are joined.
  int accepted() const { return accepted_; }
  int duplicates() const { return duplicates_; }
  int rejected() const { return rejected_; }
  int conflicts() const { return conflicts_; }
  const std::vector<std::string>& errors() const { return errors_; }
  size_t distinct_people() const { return person_ids_.size(); }
  const std::string& person_of(size_t batch) const { return batch_person_[batch]; }

 private:
  std::mutex mu_;
  int accepted_ = 0, duplicates_ = 0, rejected_ = 0;
  int conflicts_ = 0;  // ALREADY_EXISTS: the record id was used before with other content
  std::vector<std::string> errors_;
  std::set<std::string> person_ids_;
  std::vector<std::string> batch_person_;  // the person id the platform gave each batch
};

struct LoadResult {
  size_t not_sent = 0;
  std::string lost_connection;  // why the load stopped early, empty when it ran to the end
};

// Records the batches with `concurrency` blocking calls in flight. A lost connection stops the load:
// every later call would fail the same way.
LoadResult RecordAll(const RpcOptions& rpc, pbr::v1::Allocation::Stub& stub, const std::vector<PersonBatch>& batches,
                     int concurrency, Tally& tally, Progress& progress) {
  std::atomic<size_t> next{0}, sent{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  LoadResult result;
  auto worker = [&] {
    for (size_t b = next++; b < batches.size() && !stop; b = next++) {
      for (const Request* request : batches[b]) {
        if (stop) break;
        grpc::ClientContext context;
        SetTimeout(context, rpc.timeout);
        context.AddMetadata("x-trace-id", absl::StrCat("pbrctl-demo-", request->source_record_id()));
        pbr::v1::RecordAssessmentReply reply;
        const grpc::Status status = stub.RecordAssessment(&context, *request, &reply);
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
          std::lock_guard<std::mutex> lock(mu);
          if (!stop.exchange(true)) result.lost_connection = DescribeRpcError(status, rpc.AllocationEndpoint());
          break;  // counted as not sent: the service never answered
        }
        ++sent;
        tally.Add(b, *request, status, reply);
        progress.Add();
      }
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < concurrency; ++i) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  size_t total = 0;
  for (const auto& b : batches) total += b.size();
  result.not_sent = total - sent.load();
  return result;
}

// People per team by their latest assessment (the team whose caseload holds them), largest first.
std::vector<std::pair<std::string, int>> TeamSizes(const std::vector<Request>& requests) {
  std::map<std::string, std::string> team_of;  // NHS number -> team of the latest assessment
  for (const Request& r : requests) team_of[r.nhs_number()] = r.team_id();
  std::map<std::string, int> sizes;
  for (const auto& [nhs, team] : team_of) ++sizes[team];
  std::vector<std::pair<std::string, int>> out(sizes.begin(), sizes.end());
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

// " --reporting=ADDR" when the user pointed pbrctl elsewhere, so the suggested commands work as printed.
std::string AddressFlag(const std::string& flag, const std::string& value, const std::string& default_value) {
  return value == default_value ? "" : absl::StrCat(" --", flag, "=", value);
}

void PrintSummary(const RpcOptions& rpc, const std::vector<Request>& requests, const std::vector<PersonBatch>& batches,
                  const Tally& tally, const LoadResult& load, absl::Duration took) {
  std::cout << absl::StrFormat("accepted     %d\nduplicates   %d\nrejected     %d\n", tally.accepted(),
                               tally.duplicates(), tally.rejected());
  for (const std::string& e : tally.errors()) std::cout << "  " << e << "\n";
  if (tally.rejected() > static_cast<int>(tally.errors().size())) {
    std::cout << absl::StrFormat("  ... and %d more\n", tally.rejected() - static_cast<int>(tally.errors().size()));
  }
  if (tally.conflicts() > 0) {
    std::cout << "  (ALREADY_EXISTS: these record ids were loaded before with other content, e.g. by a demo\n"
                 "   with another --as-of date; load into fresh services or pass the earlier --as-of)\n";
  }
  if (!load.lost_connection.empty()) {
    std::cout << absl::StrFormat("not sent     %d (stopped: %s)\n", load.not_sent, load.lost_connection);
  }
  std::cout << absl::StrFormat("person ids   %d distinct (of %d people generated)\n", tally.distinct_people(),
                               batches.size());
  const auto teams = TeamSizes(requests);
  std::vector<std::string> team_text;
  for (const auto& [team, people] : teams) team_text.push_back(absl::StrCat(team, " ", people));
  std::cout << "teams        " << absl::StrJoin(team_text, ", ") << "\n";
  std::cout << absl::StrFormat("took         %.1fs\n", absl::ToDoubleSeconds(took));
  if (teams.empty() || tally.distinct_people() == 0) return;

  // Suggest the person with the longest history: the most interesting schedule and outcomes.
  size_t longest = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    if (!tally.person_of(b).empty() && (tally.person_of(longest).empty() || batches[b].size() > batches[longest].size())) {
      longest = b;
    }
  }
  const RpcOptions defaults;
  std::cout << "\ntry (the read models catch up within seconds):\n"
            << "  pbrctl caseload " << teams.front().first
            << AddressFlag("reporting", rpc.reporting, defaults.reporting) << "\n"
            << "  pbrctl overdue --team " << teams.front().first
            << AddressFlag("scheduler", rpc.scheduler, defaults.scheduler) << "\n"
            << "  pbrctl overdue-count" << AddressFlag("scheduler", rpc.scheduler, defaults.scheduler) << "\n";
  if (!tally.person_of(longest).empty()) {
    std::cout << "  pbrctl schedule " << tally.person_of(longest)
              << AddressFlag("scheduler", rpc.scheduler, defaults.scheduler) << "\n"
              << "  pbrctl outcomes " << tally.person_of(longest)
              << AddressFlag("outcomes", rpc.outcomes, defaults.outcomes) << "\n";
  }
}

}  // namespace

int RunDemo(const RpcOptions& rpc, const pbr::demo::DemoOptions& data, int concurrency) {
  const std::vector<Request> requests = pbr::demo::GenerateDemoAssessments(data);
  const std::vector<PersonBatch> batches = GroupByPerson(requests);
  std::cerr << absl::StrFormat("demo: %d assessments for %d people (seed %d, %d years to %s), %d in flight\n",
                               requests.size(), batches.size(), data.seed, data.history_years,
                               absl::FormatTime("%Y-%m-%d", data.now, absl::UTCTimeZone()), concurrency);

  const Endpoint endpoint = rpc.AllocationEndpoint();
  auto channel = MakeChannel(endpoint.address);
  // Fail fast with the address rather than hundreds of identical errors.
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + rpc.timeout))) {
    std::cerr << "error: UNAVAILABLE: " << endpoint.service << " at " << endpoint.address << ": no connection within "
              << absl::FormatDuration(rpc.timeout) << "\n";
    return kExitFailed;
  }
  auto stub = pbr::v1::Allocation::NewStub(channel);
  Tally tally(batches.size());
  const absl::Time start = absl::Now();
  LoadResult load;
  {
    Progress progress("recorded", requests.size(), std::cerr, isatty(STDERR_FILENO) != 0);
    load = RecordAll(rpc, *stub, batches, std::max(concurrency, 1), tally, progress);
  }
  PrintSummary(rpc, requests, batches, tally, load, absl::Now() - start);
  return tally.rejected() > 0 || !load.lost_connection.empty() ? kExitFailed : kExitOk;
}

}  // namespace pbr::cli
