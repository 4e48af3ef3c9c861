// `pbrctl demo`: generates the demo history and sends it through the allocation intake, as the EPRs would.
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

using pbr::demo::DemoCall;
using pbr::demo::DemoHistory;

// One person's calls in the order their care happened. A person is the unit of work, so each history
// reaches the platform in that order, whatever the concurrency.
using PersonBatch = std::vector<const DemoCall*>;

std::vector<PersonBatch> GroupByPerson(const std::vector<DemoCall>& calls) {
  std::vector<PersonBatch> batches;
  std::map<std::string, size_t> index;  // NHS number -> batch
  for (const DemoCall& c : calls) {
    auto [it, added] = index.emplace(c.nhs_number, batches.size());
    if (added) batches.emplace_back();
    batches[it->second].push_back(&c);
  }
  return batches;
}

// What the platform answered one call.
struct Answer {
  grpc::Status status;
  std::string person_id;
  bool duplicate = false;
};

// Sends one call by its kind.
Answer Send(pbr::v1::Allocation::Stub& stub, grpc::ClientContext& context, const DemoCall& call) {
  Answer a;
  if (const auto* r = call.assessment()) {
    pbr::v1::RecordAssessmentReply reply;
    a.status = call.amend ? stub.AmendAssessment(&context, *r, &reply) : stub.RecordAssessment(&context, *r, &reply);
    a.person_id = reply.person_id();
    a.duplicate = reply.duplicate();
  } else if (const auto* r = call.care_event()) {
    pbr::v1::RecordCareEventReply reply;
    a.status = stub.RecordCareEvent(&context, *r, &reply);
    a.person_id = reply.person_id();
    a.duplicate = reply.duplicate();
  } else if (const auto* r = call.assessment_withdrawal()) {
    pbr::v1::WithdrawAssessmentReply reply;
    a.status = stub.WithdrawAssessment(&context, *r, &reply);
    a.person_id = reply.person_id();
  } else if (const auto* r = call.care_event_withdrawal()) {
    pbr::v1::WithdrawCareEventReply reply;
    a.status = stub.WithdrawCareEvent(&context, *r, &reply);
    a.person_id = reply.person_id();
  }
  return a;
}

bool IsWithdrawal(const DemoCall& call) {
  return call.assessment_withdrawal() != nullptr || call.care_event_withdrawal() != nullptr;
}

// The trace id of a call: its record's, marked for a correction (a record and its amendment share an id).
std::string TraceId(const DemoCall& call) {
  const char* suffix = call.amend ? "-amend" : IsWithdrawal(call) ? "-withdraw" : "";
  return absl::StrCat("pbrctl-demo-", call.source_record_id(), suffix);
}

// What the intake answered, shared by the workers.
class Tally {
 public:
  explicit Tally(size_t batches) : batch_person_(batches) {}

  // `reloaded`: every earlier call of the person was answered as a duplicate, i.e. this history was
  // loaded before. Then a record the history corrects later is held in its corrected form (ALREADY_EXISTS
  // for the original) and a withdrawal was already made: both count as duplicates. True when the call
  // counted as a duplicate.
  bool Add(size_t batch, const DemoCall& call, const Answer& answer, bool reloaded) {
    std::lock_guard<std::mutex> lock(mu_);
    const bool superseded = reloaded && call.corrected_later && answer.status.error_code() == grpc::StatusCode::ALREADY_EXISTS;
    if (!answer.status.ok() && !superseded) {
      ++rejected_;
      if (answer.status.error_code() == grpc::StatusCode::ALREADY_EXISTS) ++conflicts_;
      if (errors_.size() < kErrorsShown) {
        errors_.push_back(absl::StrCat(call.source_record_id(), ": ", StatusCodeName(answer.status.error_code()), ": ",
                                       answer.status.error_message()));
      }
      return false;
    }
    const bool duplicate = answer.duplicate || superseded || (reloaded && IsWithdrawal(call));
    ++(duplicate ? duplicates_ : accepted_);
    if (!answer.person_id.empty()) {
      person_ids_.insert(answer.person_id);
      batch_person_[batch] = answer.person_id;
    }
    return duplicate;
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
LoadResult RecordAll(const RpcOptions& rpc, FeedStubs& feeds, const std::vector<PersonBatch>& batches,
                     int concurrency, Tally& tally, Progress& progress) {
  std::atomic<size_t> next{0}, sent{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  LoadResult result;
  auto worker = [&] {
    for (size_t b = next++; b < batches.size() && !stop; b = next++) {
      bool reloaded = false;  // every call of the person so far was a duplicate
      for (size_t i = 0; i < batches[b].size() && !stop; ++i) {
        const DemoCall& call = *batches[b][i];
        grpc::ClientContext context;
        SetTimeout(context, rpc.timeout);
        context.AddMetadata("x-trace-id", TraceId(call));
        auto feed = feeds.For(call.source_system());
        const Answer answer = feed.ok() ? Send(*(*feed)->stub, context, call)
                                        : Answer{grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                                              std::string(feed.status().message()))};
        if (answer.status.error_code() == grpc::StatusCode::UNAVAILABLE) {
          std::lock_guard<std::mutex> lock(mu);
          if (!stop.exchange(true)) result.lost_connection = DescribeRpcError(answer.status, rpc.AllocationEndpoint());
          break;  // counted as not sent: the service never answered
        }
        ++sent;
        const bool duplicate = tally.Add(b, call, answer, reloaded);
        reloaded = (i == 0 || reloaded) && duplicate;
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

// " --reporting=ADDR" when the user pointed pbrctl elsewhere, so the suggested commands work as printed.
std::string AddressFlag(const std::string& flag, const std::string& value, const std::string& default_value) {
  return value == default_value ? "" : absl::StrCat(" --", flag, "=", value);
}

void PrintSummary(const RpcOptions& rpc, const DemoHistory& history, const std::vector<PersonBatch>& batches,
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
  // The caseloads the platform should show once it has taken everything (reporting counts the same way).
  const auto teams = pbr::demo::CaseloadSizes(history);
  std::vector<std::string> team_text;
  for (const auto& [team, people] : teams) team_text.push_back(absl::StrCat(team, " ", people));
  std::cout << "teams        " << absl::StrJoin(team_text, ", ") << "\n";
  std::cout << absl::StrFormat("took         %.1fs\n", absl::ToDoubleSeconds(took));
  if (teams.empty() || tally.distinct_people() == 0) return;

  // Suggest the person on a caseload with the most assessments: the most interesting schedule and outcomes
  // (a discharged person has no review scheduled).
  std::set<std::string> on_caseload;
  for (const pbr::demo::DemoPerson& p : history.people) {
    if (!p.caseload_team.empty()) on_caseload.insert(p.nhs_number);
  }
  auto candidate = [&](size_t b) { return !tally.person_of(b).empty() && on_caseload.count(batches[b].front()->nhs_number); };
  auto assessments = [&](size_t b) {
    return std::count_if(batches[b].begin(), batches[b].end(), [](const DemoCall* c) { return c->assessment() != nullptr; });
  };
  size_t longest = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    if (candidate(b) && (!candidate(longest) || assessments(b) > assessments(longest))) longest = b;
  }
  const RpcOptions defaults;
  std::cout << "\ntry (the read models catch up within seconds):\n"
            << "  pbrctl caseload " << teams.front().first
            << AddressFlag("reporting", rpc.reporting, defaults.reporting) << "\n"
            << "  pbrctl overdue --team " << teams.front().first
            << AddressFlag("scheduler", rpc.scheduler, defaults.scheduler) << "\n"
            << "  pbrctl overdue-count" << AddressFlag("scheduler", rpc.scheduler, defaults.scheduler) << "\n";
  if (candidate(longest)) {
    std::cout << "  pbrctl schedule " << tally.person_of(longest)
              << AddressFlag("scheduler", rpc.scheduler, defaults.scheduler) << "\n"
              << "  pbrctl outcomes " << tally.person_of(longest)
              << AddressFlag("outcomes", rpc.outcomes, defaults.outcomes) << "\n";
  }
}

}  // namespace

int RunDemo(const RpcOptions& rpc, const pbr::demo::DemoOptions& data, int concurrency) {
  const DemoHistory history = pbr::demo::GenerateDemoHistory(data);
  const std::vector<PersonBatch> batches = GroupByPerson(history.calls);
  int assessments = 0, care_events = 0, corrections = 0;
  for (const DemoCall& c : history.calls) {
    if (c.amend || IsWithdrawal(c)) {
      ++corrections;
    } else {
      ++(c.assessment() != nullptr ? assessments : care_events);
    }
  }
  std::cerr << absl::StrFormat(
      "demo: %d assessments, %d care events and %d corrections for %d people (seed %d, %d years to %s), %d in "
      "flight\n",
      assessments, care_events, corrections, batches.size(), data.seed, data.history_years,
      absl::FormatTime("%Y-%m-%d", data.now, absl::UTCTimeZone()), concurrency);

  const Endpoint endpoint = rpc.AllocationEndpoint();
  // Each record goes as its own EPR's feed (--feed-cert-dir), or all over the one certificate.
  FeedStubs feeds(endpoint.address);
  // Fail fast with the address rather than hundreds of identical errors, over the first source
  // system with a certificate (the records of one without are rejected, saying so).
  FeedStubs::Feed* connection = nullptr;
  std::string load_error;
  for (const DemoCall& call : history.calls) {
    auto feed = feeds.For(call.source_system());
    if (feed.ok()) {
      connection = *feed;
      break;
    }
    if (load_error.empty()) load_error = std::string(feed.status().message());
  }
  if (connection == nullptr && !history.calls.empty()) {
    std::cerr << "error: " << load_error << "\n";
    return kExitBadInput;
  }
  if (connection != nullptr && !connection->channel->WaitForConnected(absl::ToChronoTime(absl::Now() + rpc.timeout))) {
    std::cerr << "error: UNAVAILABLE: " << endpoint.service << " at " << endpoint.address << ": no connection within "
              << absl::FormatDuration(rpc.timeout) << "\n";
    return kExitFailed;
  }
  Tally tally(batches.size());
  const absl::Time start = absl::Now();
  LoadResult load;
  {
    Progress progress("recorded", history.calls.size(), std::cerr, isatty(STDERR_FILENO) != 0);
    load = RecordAll(rpc, feeds, batches, std::max(concurrency, 1), tally, progress);
  }
  PrintSummary(rpc, history, batches, tally, load, absl::Now() - start);
  return tally.rejected() > 0 || !load.lost_connection.empty() ? kExitFailed : kExitOk;
}

}  // namespace pbr::cli
