// Fault injection, end to end (issue 7): the broker and the four service binaries as processes,
// fed through gRPC like EPRs would while processes are killed or frozen, then checked through
// every service's query API with exact counts.
//
//  A. Several clients retry each call with the same request (same source record id) while
//     allocation is SIGKILLed mid-stream and restarted, again and again.
//  B. The broker is frozen (SIGSTOP) for 30 seconds during intake and then thawed (SIGCONT).
//
// In both, every acknowledged assessment must be in every service exactly once, and nothing that
// was refused may be anywhere.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "care/rules.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform_fixture.h"
#include "testing/local_platform.h"

namespace pbr {
namespace {

using testing::LocalPlatform;
using systemtest::At;
using systemtest::SetDate;
using systemtest::kToday;
using systemtest::HonosTotal;
using systemtest::London;
using systemtest::Ratings;
constexpr absl::Duration kConverge = absl::Seconds(90);
constexpr absl::Duration kCallDeadline = absl::Seconds(10);

using testing::NhsNumber;


const std::vector<int> kClusters = {0, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};

// One assessment as an EPR sends it.
struct Assessment {
  std::string epr = "epr-a";
  std::string record_id;
  std::string nhs;
  std::string team;
  absl::CivilDay day;
  int cluster = 0;
  int ratings_seed = 0;
  pbr::v1::AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_INITIAL;
};

pbr::v1::RecordAssessmentRequest ToRequest(const Assessment& a) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system(a.epr);
  r.set_source_record_id(a.record_id);
  r.set_nhs_number(a.nhs);
  r.set_team_id(a.team);
  r.set_clinician_id("clin-1");
  r.mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(At(a.day)));
  const std::vector<int> ratings = Ratings(a.ratings_seed);
  for (int v : ratings) r.mutable_ratings()->add_items(v);
  if (ratings[7] >= 1 && ratings[7] <= 4) r.mutable_ratings()->set_item8_problem_type("D");
  r.set_cluster(a.cluster);
  r.set_reason(a.reason);
  if (a.reason != pbr::v1::ASSESSMENT_REASON_INITIAL) r.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  // Synthetic ratings may break the red rules or the transition protocol, and concurrent clients
  // deliver a person's assessments in any order; the rationale makes every valid one acceptable.
  r.set_clinical_rationale("fault system test: synthetic ratings");
  return r;
}

// What the platform acknowledged for one (source system, source record id), as it now stands.
struct Acked {
  Assessment content;
  std::string person_id;
  std::string assessment_id;
  int revision = 0;
  int first_replies = 0;  // replies with duplicate=false: at most one, whoever sent it
};

class FaultSystemTest : public systemtest::PlatformFixture {
 protected:
  static std::unique_ptr<grpc::ClientContext> Context() { return testing::CallContext(kCallDeadline); }
  // What is left of the current convergence deadline: one for a whole round of checks, so a
  // failing test reports every mismatch within it rather than waiting again for each person.
  absl::Duration Left() const { return std::max(converge_until_ - absl::Now(), absl::ZeroDuration()); }

  // Remembers an acknowledged record or amendment. Returns a problem, or "" if the reply fits.
  std::string Accept(const Assessment& a, const pbr::v1::RecordAssessmentReply& reply, bool amendment, int attempts,
                     bool single_sender) {
    std::lock_guard lock(mu_);
    const auto key = std::make_pair(a.epr, a.record_id);
    auto& person = person_of_nhs_[a.nhs];
    if (person.empty()) person = reply.person_id();
    if (person != reply.person_id()) return absl::StrCat(a.record_id, ": another pseudonym for the same NHS number");
    if (reply.duplicate() && single_sender && attempts == 1) {
      return absl::StrCat(a.record_id, ": duplicate=true on the first attempt of its only sender");
    }
    auto [it, inserted] = acked_.try_emplace(key);
    Acked& acked = it->second;
    if (!inserted && acked.assessment_id != reply.assessment_id()) {
      return absl::StrCat(a.record_id, ": two assessment ids for one source record id");
    }
    if (amendment && reply.revision() != acked.revision + 1) {
      return absl::StrCat(a.record_id, ": amendment of revision ", acked.revision, " answered with revision ",
                          reply.revision());
    }
    if (amendment) acked.first_replies = 0;  // a new revision has its own first reply
    acked.content = a;
    acked.person_id = reply.person_id();
    acked.assessment_id = reply.assessment_id();
    acked.revision = reply.revision();
    if (!reply.duplicate() && ++acked.first_replies > 1) {
      return absl::StrCat(a.record_id, ": recorded twice (two replies with duplicate=false)");
    }
    return "";
  }

  // Records one assessment that must be accepted at once (no faults in between).
  void RecordOk(pbr::v1::Allocation::Stub& stub, const Assessment& a) {
    pbr::v1::RecordAssessmentReply reply;
    grpc::Status st = stub.RecordAssessment(Context().get(), ToRequest(a), &reply);
    ASSERT_TRUE(st.ok()) << a.record_id << ": " << st.error_code() << " " << st.error_message();
    EXPECT_FALSE(reply.duplicate()) << a.record_id;
    const std::string problem = Accept(a, reply, false, 1, true);
    EXPECT_EQ(problem, "");
  }

  // The acknowledged assessments per person, oldest first (by assessed day, ties by id, as the
  // services order them).
  std::map<std::string, std::vector<Acked>> ByPerson() {
    std::lock_guard lock(mu_);
    std::map<std::string, std::vector<Acked>> out;
    for (const auto& [key, a] : acked_) out[a.person_id].push_back(a);
    for (auto& [id, list] : out) {
      std::sort(list.begin(), list.end(), [](const Acked& x, const Acked& y) {
        return x.content.day != y.content.day ? x.content.day < y.content.day : x.assessment_id < y.assessment_id;
      });
    }
    return out;
  }
  std::set<std::string> Teams() {
    std::lock_guard lock(mu_);
    std::set<std::string> teams;
    for (const auto& [key, a] : acked_) teams.insert(a.content.team);
    return teams;
  }
  int64_t AckedCount() {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(acked_.size());
  }

  // Allocation: each person's assessments exactly (by source record id, content and revision),
  // the count and the current cluster and team.
  void ExpectAllocationMatches() {
    auto allocation = Clinician();
    for (const auto& [person_id, list] : ByPerson()) {
      std::vector<std::string> expected, got;
      for (const auto& a : list) {
        expected.push_back(absl::StrCat(a.content.epr, "/", a.content.record_id, " ", a.assessment_id, " cluster ",
                                        a.content.cluster, " team ", a.content.team, " rev ", a.revision, " live"));
      }
      pbr::v1::ListRequest req;
      req.set_person_id(person_id);
      req.set_page_size(500);
      while (true) {
        pbr::v1::ListAssessmentsReply page;
        grpc::Status st = allocation->ListAssessments(Context().get(), req, &page);
        ASSERT_TRUE(st.ok()) << st.error_message();
        for (const auto& s : page.assessments()) {
          got.push_back(absl::StrCat(s.source_system(), "/", s.source_record_id(), " ", s.assessment_id(),
                                     " cluster ", s.cluster(), " team ", s.team_id(), " rev ", s.revision(),
                                     s.withdrawn() ? " withdrawn" : " live"));
        }
        if (page.next_page_token().empty()) break;
        req.set_page_token(page.next_page_token());
      }
      std::sort(expected.begin(), expected.end());
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, expected) << "allocation's assessments of " << person_id;

      pbr::v1::GetPersonRequest preq;
      preq.set_person_id(person_id);
      pbr::v1::Person person;
      grpc::Status st = allocation->GetPerson(Context().get(), preq, &person);
      ASSERT_TRUE(st.ok()) << st.error_message();
      EXPECT_EQ(person.assessments(), static_cast<int>(list.size())) << person_id;
      EXPECT_TRUE(person.has_cluster()) << person_id;
      EXPECT_EQ(person.cluster(), list.back().content.cluster) << person_id;
      EXPECT_EQ(person.team_id(), list.back().content.team) << person_id;
    }
  }

  // The scheduler: every person's schedule rests on their latest assessment.
  void ExpectSchedulesMatch() {
    auto scheduler = Stub<pbr::v1::ReviewScheduler>("review-scheduler");
    for (const auto& [person_id, list] : ByPerson()) {
      const Acked& latest = list.back();
      auto due = rules_->ReviewDueDate(latest.content.cluster, latest.content.day, care::ReviewPolicy::kTrustSop);
      ASSERT_TRUE(due.ok()) << due.status();
      pbr::v1::GetScheduleRequest req;
      req.set_person_id(person_id);
      pbr::v1::Schedule s;
      auto day = [](const pbr::v1::CivilDate& d) { return absl::CivilDay(d.year(), d.month(), d.day()); };
      const bool ok = testing::WaitUntil(
          [&] {
            return scheduler->GetSchedule(Context().get(), req, &s).ok() &&
                   s.basis_assessment_id() == latest.assessment_id && s.cluster() == latest.content.cluster &&
                   s.team_id() == latest.content.team && day(s.latest_mhct_date()) == latest.content.day &&
                   day(s.due_date()) == due->due && day(s.window_opens()) == due->window_opens;
          },
          Left(), absl::Milliseconds(100));
      EXPECT_TRUE(ok) << "schedule of " << person_id << ", expected basis " << latest.assessment_id << " ("
                      << latest.content.record_id << ", cluster " << latest.content.cluster << ", due " << due->due
                      << "), got:\n" << s.DebugString() << "\nscheduler log:\n"
                      << testing::Tail(platform_->LogPath("review-scheduler"));
    }
  }

  // Outcomes: every person's HoNOS history holds each assessment exactly once, oldest first.
  void ExpectOutcomesMatch() {
    auto outcomes = Stub<pbr::v1::Outcomes>("outcomes");
    for (const auto& [person_id, list] : ByPerson()) {
      std::vector<std::string> expected, got;
      for (const auto& a : list) {
        expected.push_back(absl::StrCat(a.assessment_id, " cluster ", a.content.cluster, " honos ",
                                        HonosTotal(Ratings(a.content.ratings_seed))));
      }
      pbr::v1::GetOutcomesRequest req;
      req.set_person_id(person_id);
      const bool ok = testing::WaitUntil(
          [&] {
            pbr::v1::PersonOutcomes history;
            got.clear();
            if (!outcomes->GetOutcomes(Context().get(), req, &history).ok()) return false;
            for (const auto& o : history.outcomes()) {
              got.push_back(absl::StrCat(o.assessment_id(), " cluster ", o.cluster(), " honos ", o.honos_total()));
            }
            return got == expected;
          },
          Left(), absl::Milliseconds(100));
      EXPECT_TRUE(ok) << "outcomes of " << person_id << "\nexpected:\n  " << absl::StrJoin(expected, "\n  ")
                      << "\ngot:\n  " << absl::StrJoin(got, "\n  ");
    }
  }

  // Reporting: the exact caseload of every team, computed from what was acknowledged; `empty`
  // teams (used only by refused requests) must show nothing at all.
  pbr::v1::Caseload ExpectedCaseload(const std::string& team) {
    pbr::v1::Caseload out;
    out.set_team_id(team);
    std::map<int, pbr::v1::ClusterCaseload> clusters;
    std::map<int, int64_t> sums;
    int64_t recorded = 0;
    for (const auto& [person_id, list] : ByPerson()) {  // ascending person id, like the index
      for (const auto& a : list) recorded += a.content.team == team;
      const Acked& latest = list.back();
      if (latest.content.team != team) continue;
      const int cluster = latest.content.cluster;
      auto due = rules_->ReviewDueDate(cluster, latest.content.day, care::ReviewPolicy::kTrustSop);
      EXPECT_TRUE(due.ok());
      if (!due.ok()) continue;
      const pbr::v1::ReviewState state = care::IsOverdue(*due, kToday)    ? pbr::v1::REVIEW_STATE_OVERDUE
                                         : kToday >= due->window_opens ? pbr::v1::REVIEW_STATE_DUE
                                                                       : pbr::v1::REVIEW_STATE_UPCOMING;
      const int honos = HonosTotal(Ratings(latest.content.ratings_seed));
      auto& c = clusters[cluster];
      c.set_cluster(cluster);
      c.set_people(c.people() + 1);
      c.set_reviews_due(c.reviews_due() + (state == pbr::v1::REVIEW_STATE_DUE));
      c.set_reviews_overdue(c.reviews_overdue() + (state == pbr::v1::REVIEW_STATE_OVERDUE));
      c.set_people_with_honos(c.people_with_honos() + 1);
      sums[cluster] += honos;
      auto* person = out.add_persons();
      person->set_person_id(person_id);
      person->set_cluster(cluster);
      person->set_has_honos(true);
      person->set_latest_honos_total(honos);
      person->set_review_state(state);
      // Reporting shows the due date the scheduler announced (none is announced while UPCOMING).
      if (state != pbr::v1::REVIEW_STATE_UPCOMING) SetDate(person->mutable_review_due_date(), due->due);
    }
    for (auto& [id, c] : clusters) {
      c.set_mean_latest_honos(static_cast<double>(sums[id]) / c.people_with_honos());
      out.set_people(out.people() + c.people());
      out.set_reviews_due(out.reviews_due() + c.reviews_due());
      out.set_reviews_overdue(out.reviews_overdue() + c.reviews_overdue());
      *out.add_clusters() = c;
    }
    out.set_assessments_recorded(recorded);
    return out;
  }
  pbr::v1::Caseload Caseload(const std::string& team) {
    pbr::v1::GetCaseloadRequest req;
    req.set_team_id(team);
    pbr::v1::Caseload reply;
    Stub<pbr::v1::Reporting>("reporting")->GetCaseload(Context().get(), req, &reply);
    return reply;
  }
  void ExpectCaseloadsMatch(const std::set<std::string>& empty_teams) {
    std::set<std::string> teams = Teams();
    teams.insert(empty_teams.begin(), empty_teams.end());
    for (const auto& team : teams) {
      const pbr::v1::Caseload expected = ExpectedCaseload(team);
      if (empty_teams.count(team)) {
        EXPECT_EQ(expected.assessments_recorded(), 0) << team << " has acknowledged work";
      }
      pbr::v1::Caseload got;
      const bool ok = testing::WaitUntil(
          [&] {
            got = systemtest::WithoutProfile(Caseload(team));
            return google::protobuf::util::MessageDifferencer::Equals(got, expected);
          },
          Left(), absl::Milliseconds(100));
      EXPECT_TRUE(ok) << "caseload of " << team << "\nexpected:\n" << expected.DebugString() << "\ngot:\n"
                      << got.DebugString() << "\nreporting log:\n" << testing::Tail(platform_->LogPath("reporting"));
    }
  }

  // Waits (with deadlines) for the consumers to catch up, then checks every service exactly.
  void ExpectEveryServiceMatches(const std::set<std::string>& empty_teams = {}) {
    ASSERT_GT(AckedCount(), 0);
    converge_until_ = absl::Now() + kConverge;
    ExpectAllocationMatches();
    ExpectCaseloadsMatch(empty_teams);  // first: it waits for the slowest consumer, reporting
    ExpectSchedulesMatch();
    ExpectOutcomesMatch();
    // Still exact once everything has settled: nothing arrived twice late.
    ExpectCaseloadsMatch(empty_teams);
  }

  // A refused request must have left no person behind.
  void ExpectNoPerson(const std::string& nhs) {
    pbr::v1::GetPersonRequest req;
    req.set_nhs_number(nhs);
    pbr::v1::Person p;
    grpc::Status st = Clinician()->GetPerson(Context().get(), req, &p);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << nhs << ": " << p.DebugString();
  }

  // A sample from a service's /metrics: the first line of `name` whose labels contain `label`
  // (-1 if there is none or it cannot be read).
  int64_t Metric(const std::string& service, absl::string_view name, absl::string_view label = "") {
    auto body = testing::HttpGet(platform_->MetricsAddress(service), "/metrics");
    if (!body.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(*body, '\n')) {
      if (!absl::StartsWith(line, name) || (line.size() > name.size() && line[name.size()] != '{' &&
                                            line[name.size()] != ' ')) {
        continue;
      }
      if (!absl::StrContains(line.substr(0, line.rfind(' ')), label)) continue;
      double v = -1;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) return static_cast<int64_t>(v);
    }
    return -1;
  }
  int64_t OutboxDepth(const std::string& service) { return Metric(service, "pbr_outbox_depth"); }

  absl::Time converge_until_ = absl::InfinitePast();
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Acked> acked_;
  std::map<std::string, std::string> person_of_nhs_;
};

// --- A: allocation SIGKILLed again and again under concurrent, retrying clients. ---

// Where allocation listens now. Cleared before each kill, so a client never sends to a port the
// dead process left behind, and set again once the new process is READY (its port is new).
class AllocationEndpoint {
 public:
  void Up(std::string address) {
    std::lock_guard lock(mu_);
    address_ = std::move(address);
  }
  void Down() {
    std::lock_guard lock(mu_);
    address_.clear();
    ++generation_;
  }
  void Abandon() { abandoned_ = true; }
  bool abandoned() const { return abandoned_; }
  int generation() {
    std::lock_guard lock(mu_);
    return generation_;
  }
  // Waits until allocation is up; false if that takes too long or the test gave up.
  bool Current(int& generation, std::string& address, absl::Duration deadline) {
    return testing::WaitUntil(
        [&] {
          std::lock_guard lock(mu_);
          generation = generation_;
          address = address_;
          return !address_.empty() || abandoned_;
        },
        deadline, absl::Milliseconds(5)) &&
           !abandoned_;
  }

 private:
  std::mutex mu_;
  int generation_ = 0;
  std::string address_;
  std::atomic<bool> abandoned_{false};
};

// One client's calls: what to send and what must come back.
struct Step {
  enum Kind { kRecord, kAmend } kind = kRecord;
  Assessment a;
  grpc::StatusCode expect = grpc::StatusCode::OK;
  bool single_sender = true;  // false: other clients send the very same request too
};

struct CallOutcome {
  grpc::Status status;
  pbr::v1::RecordAssessmentReply reply;
  int attempts = 0;
};

bool Retryable(const grpc::Status& st) {
  return st.error_code() == grpc::StatusCode::UNAVAILABLE || st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

TEST_F(FaultSystemTest, RetryingClientsGetExactlyOnceWhileAllocationIsKilledMidStream) {
  constexpr int kClients = 4, kOwnPeople = 8, kRounds = 3, kShared = 3, kKills = 6, kAcksBetweenKills = 14;
  // Teams of rules/teams.yaml: each assessment goes to one that holds its cluster. The refused and the
  // conflicting requests name teams nothing else uses, whose caseloads must stay empty.
  const std::vector<std::string> teams = {"cmht-north", "eip-central", "crht-east", "memory-west", "inpatient-ward-3"};
  const std::string kRefusedTeam = "cmht-south", kConflictTeam = "crht-south";

  // Each client's own people (three assessments each, in rounds), people every client records for
  // (one assessment each, plus one identical request that every client sends), an amendment, and
  // requests that must be refused.
  std::vector<std::vector<Step>> plans(kClients);
  std::vector<std::string> refused_nhs;
  for (int c = 0; c < kClients; ++c) {
    auto& plan = plans[c];
    auto own = [&](int i, int round) {
      Assessment a;
      a.record_id = absl::StrCat("c", c, "-p", i, "-r", round);
      a.nhs = NhsNumber(610000000 + c * 1000 + i * 13);
      a.day = absl::CivilDay(2025, 1, 10) + i * 3 + round * 150;
      a.cluster = kClusters[(c * 5 + i * 3 + round * 7) % kClusters.size()];
      a.team = systemtest::TeamHolding(*rules_, teams, a.cluster, c + i);
      a.ratings_seed = c * 31 + i * 7 + round;
      a.reason = round == 0 ? pbr::v1::ASSESSMENT_REASON_INITIAL : pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW;
      return a;
    };
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kOwnPeople; ++i) {
        plan.push_back({Step::kRecord, own(i, round)});
        if (i == 2 && round < kShared) {  // a shared person, from this client
          Assessment s;
          s.epr = "epr-b";
          s.record_id = absl::StrCat("c", c, "-s", round);
          s.nhs = NhsNumber(620000000 + round * 13);
          s.day = absl::CivilDay(2026, 3, 1) + c * 5 + round;
          s.cluster = kClusters[(c + round * 4) % kClusters.size()];
          s.team = systemtest::TeamHolding(*rules_, teams, s.cluster, round);
          s.ratings_seed = 100 + c * 3 + round;
          s.reason = pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW;
          plan.push_back({Step::kRecord, s});
        }
        if (i == 5 && round < kShared) {  // the same request from every client: recorded once
          Assessment s;
          s.epr = "epr-b";
          s.record_id = absl::StrCat("same-s", round);
          s.nhs = NhsNumber(620000000 + round * 13);
          s.day = absl::CivilDay(2026, 2, 1) + round;
          s.cluster = kClusters[(7 + round) % kClusters.size()];
          s.team = systemtest::TeamHolding(*rules_, teams, s.cluster, round);
          s.ratings_seed = 200 + round;
          plan.push_back({Step::kRecord, s, grpc::StatusCode::OK, /*single_sender=*/false});
        }
      }
      if (round == 1) {
        // Refused: the blank cluster, for a new person and for a known one.
        Assessment bad = own(2, 1);
        bad.record_id = absl::StrCat("c", c, "-bad-known");
        bad.team = kRefusedTeam;
        bad.cluster = 9;
        plan.push_back({Step::kRecord, bad, grpc::StatusCode::INVALID_ARGUMENT});
        bad.record_id = absl::StrCat("c", c, "-bad-new");
        bad.nhs = NhsNumber(630000000 + c * 13);
        refused_nhs.push_back(bad.nhs);
        plan.push_back({Step::kRecord, bad, grpc::StatusCode::INVALID_ARGUMENT});
        // Refused: a source record id already acknowledged (round 0), with other content.
        Assessment conflict = own(3, 0);
        conflict.team = kConflictTeam;
        conflict.cluster = kClusters[(conflict.cluster == kClusters[0]) ? 1 : 0];
        plan.push_back({Step::kRecord, conflict, grpc::StatusCode::ALREADY_EXISTS});
      }
    }
    // An amendment of a person's latest assessment: another cluster and other ratings.
    Assessment amended = own(1, kRounds - 1);
    amended.cluster = kClusters[(c * 5 + 3 + (kRounds - 1) * 7 + 5) % kClusters.size()];
    amended.team = systemtest::TeamHolding(*rules_, teams, amended.cluster, c + 1);
    amended.ratings_seed += 50;
    plan.push_back({Step::kAmend, amended});
  }
  int64_t expected_acks = 0, expected_refusals = 0;
  for (const auto& plan : plans) {
    for (const auto& s : plan) (s.expect == grpc::StatusCode::OK ? expected_acks : expected_refusals)++;
  }
  ASSERT_GT(expected_acks, kKills * kAcksBetweenKills + 2 * kClients) << "enough intake left after the last kill";

  AllocationEndpoint endpoint;
  endpoint.Up(platform_->GrpcAddress("allocation"));
  std::atomic<int> acks{0}, in_flight{0}, failed_attempts{0}, kills{0};
  std::atomic<int> lost_replies{0};  // retries answered duplicate=true: the first attempt was stored
  std::mutex problems_mu;
  std::vector<std::string> problems;
  auto problem = [&](std::string p) {
    std::lock_guard lock(problems_mu);
    problems.push_back(std::move(p));
  };

  // Sends one request until it gets a definite answer, reconnecting after each restart.
  // A client's connections: one per EPR feed (each source system's certificate), remade after a restart.
  struct Connections {
    int generation = -1;
    std::map<std::string, std::shared_ptr<grpc::Channel>> channel;
    std::map<std::string, std::unique_ptr<pbr::v1::Allocation::Stub>> stub;
  };
  auto call = [&](const Step& step, Connections& connections) {
    const pbr::v1::RecordAssessmentRequest request = ToRequest(step.a);  // the same request every time
    const absl::Time give_up = absl::Now() + kConverge;
    CallOutcome out;
    while (true) {
      int generation;
      std::string address;
      if (!endpoint.Current(generation, address, give_up - absl::Now())) {
        out.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "allocation did not come back");
        return out;
      }
      if (generation != connections.generation) {
        connections.channel.clear();
        connections.stub.clear();
        connections.generation = generation;
      }
      const int channel_generation = connections.generation;
      auto& channel = connections.channel[step.a.epr];
      auto& stub = connections.stub[step.a.epr];
      if (!stub) {
        channel = platform_->ChannelTo(address, "epr-feed:" + step.a.epr);
        stub = pbr::v1::Allocation::NewStub(channel);
      }
      ++out.attempts;
      out.reply.Clear();
      ++in_flight;
      auto ctx = Context();
      out.status = step.kind == Step::kAmend ? stub->AmendAssessment(ctx.get(), request, &out.reply)
                                             : stub->RecordAssessment(ctx.get(), request, &out.reply);
      --in_flight;
      if (!Retryable(out.status) || absl::Now() >= give_up) return out;
      ++failed_attempts;
      // Allocation is being restarted (a new generation) or this channel reconnects.
      testing::WaitUntil(
          [&] {
            return endpoint.abandoned() || endpoint.generation() != channel_generation ||
                   channel->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY;
          },
          give_up - absl::Now(), absl::Milliseconds(5));
    }
  };

  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Connections connections;
      for (const Step& step : plans[c]) {
        CallOutcome out = call(step, connections);
        if (out.status.error_code() != step.expect) {
          problem(absl::StrCat(step.a.record_id, ": expected code ", step.expect, ", got ", out.status.error_code(),
                               " (", out.status.error_message(), ") after ", out.attempts, " attempts"));
          if (Retryable(out.status)) return;  // no definite answer: the rest would fail the same way
          continue;
        }
        if (!out.status.ok()) continue;  // refused, as it must be
        if (auto p = Accept(step.a, out.reply, step.kind == Step::kAmend, out.attempts, step.single_sender);
            !p.empty()) {
          problem(p);
        }
        if (out.attempts > 1 && out.reply.duplicate() && step.single_sender) ++lost_replies;
        ++acks;
      }
    });
  }

  // The killer: SIGKILL allocation while calls are in flight, paced by acknowledgements.
  std::thread killer([&] {
    for (int k = 0; k < kKills; ++k) {
      const bool due = testing::WaitUntil(
          [&] {
            return endpoint.abandoned() || (acks.load() >= (k + 1) * kAcksBetweenKills && in_flight.load() > 0);
          },
          kConverge, absl::Milliseconds(1));
      if (!due || endpoint.abandoned()) {
        problem(absl::StrCat("kill ", k + 1, ": no calls in flight after ", acks.load(), " acknowledgements"));
        return;
      }
      endpoint.Down();
      platform_->KillService("allocation");
      ++kills;
      if (auto st = platform_->StartService("allocation"); !st.ok()) {
        problem(absl::StrCat("restart ", k + 1, ": ", st.ToString()));
        endpoint.Abandon();
        return;
      }
      endpoint.Up(platform_->GrpcAddress("allocation"));
    }
  });
  for (auto& t : clients) t.join();
  endpoint.Abandon();  // a killer still waiting for in-flight calls now never sees them
  killer.join();

  EXPECT_EQ(problems, std::vector<std::string>{}) << "allocation log:\n"
                                                   << testing::Tail(platform_->LogPath("allocation"));
  EXPECT_EQ(kills.load(), kKills);
  EXPECT_GT(failed_attempts.load(), 0) << "the kills interrupted calls, which were retried";
  EXPECT_EQ(acks.load(), expected_acks);
  std::printf(
      "fault test A: %d kills, %d calls acknowledged (%d after a lost reply), %lld refused as expected, %d failed "
      "attempts retried\n",
      kills.load(), acks.load(), lost_replies.load(), static_cast<long long>(expected_refusals),
      failed_attempts.load());

  // Every acknowledged assessment once in every service; nothing refused anywhere.
  ExpectEveryServiceMatches({kRefusedTeam, kConflictTeam});
  for (const auto& nhs : refused_nhs) ExpectNoPerson(nhs);
}

// --- B: the broker frozen for 30 seconds during intake. ---

TEST_F(FaultSystemTest, IntakeKeepsAcknowledgingWhileTheBrokerIsFrozenAndDeliversOnceAfter) {
  constexpr absl::Duration kFreeze = absl::Seconds(30);
  constexpr int kBefore = 20, kSlices = 6, kPerSlice = 8, kAfter = 20;
  // Between them they hold every cluster (rules/teams.yaml): every assessment is on one of their caseloads.
  const std::vector<std::string> teams = {"cmht-north", "eip-central", "memory-west"};
  auto person = [&](int i, int review, const std::string& tag) {
    Assessment a;
    a.record_id = absl::StrCat(tag, "-", i, "-", review);
    a.nhs = NhsNumber(710000000 + i * 13);
    a.day = absl::CivilDay(2025, 6, 1) + i + review * 120;
    a.cluster = kClusters[(i * 5 + review * 3) % kClusters.size()];
    a.team = systemtest::TeamHolding(*rules_, teams, a.cluster, i);
    a.ratings_seed = i * 3 + review;
    a.reason = review == 0 ? pbr::v1::ASSESSMENT_REASON_INITIAL : pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW;
    return a;
  };
  auto allocation = Stub<pbr::v1::Allocation>("allocation", "epr-feed:epr-a");

  // Before: the consumers are caught up and connected when the freeze begins.
  for (int i = 0; i < kBefore; ++i) ASSERT_NO_FATAL_FAILURE(RecordOk(*allocation, person(i, 0, "before")));
  converge_until_ = absl::Now() + kConverge;
  ExpectCaseloadsMatch({});
  int64_t reported_before = 0;
  for (const auto& team : teams) reported_before += Caseload(team).assessments_recorded();
  ASSERT_EQ(reported_before, kBefore);

  // The freeze. Whatever happens below, the broker is thawed before the platform is stopped.
  ASSERT_TRUE(platform_->PauseBroker().ok());
  const absl::Time frozen_at = absl::Now();
  auto thaw = absl::MakeCleanup([&] { EXPECT_TRUE(platform_->ResumeBroker().ok()); });
  ASSERT_TRUE(platform_->BrokerPaused());
  int during = 0;
  for (int slice = 0; slice < kSlices; ++slice) {
    // Intake spread over the freeze: a scenario schedule, not a wait for anything.
    std::this_thread::sleep_until(absl::ToChronoTime(frozen_at + kFreeze * slice / kSlices));
    for (int j = 0; j < kPerSlice; ++j) {
      // Half new people, half reviews of people from before the freeze.
      const int n = slice * kPerSlice + j;
      const Assessment a = j % 2 == 0 ? person(kBefore + n, 0, "frozen") : person(n % kBefore, 1 + n / kBefore, "frozen");
      ASSERT_NO_FATAL_FAILURE(RecordOk(*allocation, a)) << "intake while the broker is frozen";
      ++during;
    }
    ASSERT_TRUE(platform_->BrokerPaused()) << "slice " << slice << " was acknowledged while the broker was stopped";
  }
  // Nothing recorded during the freeze can have reached reporting: the freeze is real.
  int64_t reported_frozen = 0;
  for (const auto& team : teams) reported_frozen += Caseload(team).assessments_recorded();
  EXPECT_EQ(reported_frozen, kBefore);
  EXPECT_GT(OutboxDepth("allocation"), 0) << "allocation holds the events it could not deliver";
  std::this_thread::sleep_until(absl::ToChronoTime(frozen_at + kFreeze));  // the rest of the 30 s freeze
  ASSERT_TRUE(platform_->BrokerPaused());
  std::move(thaw).Invoke();
  ASSERT_FALSE(platform_->BrokerPaused());
  EXPECT_EQ(during, kSlices * kPerSlice);
  std::printf("fault test B: %d assessments acknowledged during the %s freeze\n", during,
              absl::FormatDuration(kFreeze).c_str());

  // After: more intake while the backlog is delivered.
  for (int i = 0; i < kAfter; ++i) {
    const Assessment a = i % 2 == 0 ? person(kBefore + i, 1, "after") : person(100 + i, 0, "after");
    ASSERT_NO_FATAL_FAILURE(RecordOk(*allocation, a));
  }
  // Allocation's outbox empties (every event acknowledged by the broker), then every service
  // shows each assessment exactly once.
  int64_t depth = -1;
  EXPECT_TRUE(testing::WaitUntil([&] { return (depth = OutboxDepth("allocation")) == 0; }, kConverge,
                                 absl::Milliseconds(200)))
      << "allocation's outbox depth " << depth << "; its log:\n" << testing::Tail(platform_->LogPath("allocation"));
  ExpectEveryServiceMatches();
  // For the record: how often the broker took an assessment-recorded event (one per acknowledged
  // record; more if the outbox re-sent some, which consumers drop by event id).
  std::printf("fault test B: %lld assessments acknowledged, %lld assessment-recorded deliveries to the broker\n",
              static_cast<long long>(AckedCount()),
              static_cast<long long>(Metric("allocation", "pbr_events_produced_total", "topic=\"assessment-recorded\"")));
}

}  // namespace
}  // namespace pbr
