// The whole platform end to end: the embedded broker and the four service binaries as separate
// processes, fed through gRPC like an EPR would, checked through each service's query API.
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
using systemtest::TeamHolding;
constexpr absl::Duration kConverge = absl::Seconds(90);

absl::CivilDay D(int y, int m, int d) { return absl::CivilDay(y, m, d); }
using testing::NhsNumber;

struct Assessment {
  std::string epr = "epr-a";
  std::string record_id;
  std::string nhs;
  std::string team;
  absl::CivilDay day;
  int cluster = 0;
  std::vector<int> ratings;  // 18
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
  for (int v : a.ratings) r.mutable_ratings()->add_items(v);
  if (a.ratings[7] >= 1 && a.ratings[7] <= 4) r.mutable_ratings()->set_item8_problem_type("D");
  r.set_cluster(a.cluster);
  r.set_reason(a.reason);
  if (a.reason != pbr::v1::ASSESSMENT_REASON_INITIAL) r.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  // Synthetic ratings may break the example red rules or the transition protocol; a clinician
  // records why, and so does this test.
  r.set_clinical_rationale("system test: synthetic ratings");
  return r;
}



class SystemTest : public systemtest::PlatformFixture {
 protected:
  static std::unique_ptr<grpc::ClientContext> Context() { return testing::CallContext(); }

  // Records an assessment as its EPR's feed; remembers what the platform should now know.
  pbr::v1::RecordAssessmentReply Record(const Assessment& a) {
    pbr::v1::RecordAssessmentReply reply;
    grpc::Status st = Feed(a.epr).RecordAssessment(Context().get(), ToRequest(a), &reply);
    EXPECT_TRUE(st.ok()) << st.error_message();
    if (st.ok()) {
      std::lock_guard lock(mu_);
      auto& person = oracle_[reply.person_id()];
      person.assessments++;
      if (person.latest == nullptr || a.day >= person.latest->day) {
        person.latest = std::make_shared<Assessment>(a);
        person.latest_id = reply.assessment_id();
      }
      team_assessments_[a.team]++;
    }
    return reply;
  }

  // The caseload each team should show, computed from what was recorded.
  pbr::v1::Caseload ExpectedCaseload(const std::string& team) {
    std::lock_guard lock(mu_);
    pbr::v1::Caseload out;
    out.set_team_id(team);
    std::map<int, pbr::v1::ClusterCaseload> clusters;
    std::map<int, int64_t> sums;
    for (const auto& [person_id, p] : oracle_) {  // ascending person id, like the index
      if (p.latest->team != team) continue;
      const int cluster = p.latest->cluster;
      auto due = rules_->ReviewDueDate(cluster, p.latest->day, care::ReviewPolicy::kTrustSop);
      EXPECT_TRUE(due.ok());
      pbr::v1::ReviewState state = care::IsOverdue(*due, kToday)    ? pbr::v1::REVIEW_STATE_OVERDUE
                                   : kToday >= due->window_opens ? pbr::v1::REVIEW_STATE_DUE
                                                                 : pbr::v1::REVIEW_STATE_UPCOMING;
      auto& c = clusters[cluster];
      c.set_cluster(cluster);
      c.set_people(c.people() + 1);
      c.set_reviews_due(c.reviews_due() + (state == pbr::v1::REVIEW_STATE_DUE));
      c.set_reviews_overdue(c.reviews_overdue() + (state == pbr::v1::REVIEW_STATE_OVERDUE));
      c.set_people_with_honos(c.people_with_honos() + 1);
      sums[cluster] += HonosTotal(p.latest->ratings);
      auto* person = out.add_persons();
      person->set_person_id(person_id);
      person->set_cluster(cluster);
      person->set_has_honos(true);
      person->set_latest_honos_total(HonosTotal(p.latest->ratings));
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
    out.set_assessments_recorded(team_assessments_[team]);
    return out;
  }

  pbr::v1::Caseload Caseload(const std::string& team) {
    pbr::v1::GetCaseloadRequest req;
    req.set_team_id(team);
    pbr::v1::Caseload reply;
    Stub<pbr::v1::Reporting>("reporting")->GetCaseload(Context().get(), req, &reply);
    return reply;
  }

  // Waits until reporting shows exactly the expected caseload for every team.
  void ExpectCaseloadsConverge(const std::set<std::string>& teams) {
    for (const auto& team : teams) {
      const auto expected = ExpectedCaseload(team);
      pbr::v1::Caseload got;
      const bool converged = testing::WaitUntil(
          [&] {
            got = systemtest::WithoutProfile(Caseload(team));
            return google::protobuf::util::MessageDifferencer::Equals(got, expected);
          },
          kConverge, absl::Milliseconds(100));
      EXPECT_TRUE(converged) << "team " << team << "\nexpected:\n"
                             << expected.DebugString() << "\ngot:\n" << got.DebugString() << "\nreporting log:\n"
                             << testing::Tail(platform_->LogPath("reporting"));
    }
  }

  // Every person's schedule and outcomes, exactly.
  void ExpectSchedulesAndOutcomes() {
    std::lock_guard lock(mu_);
    auto scheduler = Stub<pbr::v1::ReviewScheduler>("review-scheduler");
    auto outcomes = Stub<pbr::v1::Outcomes>("outcomes");
    for (const auto& [person_id, p] : oracle_) {
      auto due = rules_->ReviewDueDate(p.latest->cluster, p.latest->day, care::ReviewPolicy::kTrustSop);
      ASSERT_TRUE(due.ok());
      pbr::v1::GetScheduleRequest sreq;
      sreq.set_person_id(person_id);
      pbr::v1::Schedule schedule;
      ASSERT_TRUE(testing::WaitUntil(
          [&] {
            return scheduler->GetSchedule(Context().get(), sreq, &schedule).ok() &&
                   schedule.basis_assessment_id() == p.latest_id;
          },
          kConverge, absl::Milliseconds(100)))
          << "schedule of " << person_id << ": " << schedule.DebugString();
      EXPECT_EQ(absl::CivilDay(schedule.due_date().year(), schedule.due_date().month(), schedule.due_date().day()),
                due->due);
      EXPECT_EQ(schedule.cluster(), p.latest->cluster);

      pbr::v1::GetOutcomesRequest oreq;
      oreq.set_person_id(person_id);
      pbr::v1::PersonOutcomes history;
      ASSERT_TRUE(testing::WaitUntil(
          [&] {
            return outcomes->GetOutcomes(Context().get(), oreq, &history).ok() &&
                   history.outcomes_size() >= p.assessments;
          },
          kConverge, absl::Milliseconds(100)))
          << "outcomes of " << person_id;
      EXPECT_EQ(history.outcomes_size(), p.assessments) << "nothing lost, nothing doubled";
      EXPECT_EQ(history.outcomes().rbegin()->honos_total(), HonosTotal(p.latest->ratings));
    }
  }

  struct PersonTruth {
    std::shared_ptr<Assessment> latest;
    std::string latest_id;
    int assessments = 0;
  };
  std::mutex mu_;
  std::map<std::string, PersonTruth> oracle_;
  std::map<std::string, int64_t> team_assessments_;
};

TEST_F(SystemTest, AssessmentsFlowToEveryServiceAndSurviveAConsumerKilledMidStream) {
  auto allocation = Stub<pbr::v1::Allocation>("allocation", "epr-feed:epr-a");

  // --- Part 1: a few people whose reviews are worked out by hand (trust SOP periods, today 22 Nov 2026),
  // on psychosis teams (community_psychosis holds 10-17) and a memory service (18-21).
  // Cluster 14 (4 weeks) from 1 Nov: due 28 Nov, window open since 18 Nov -> due.
  auto p1 = Record({"epr-a", "a-1", NhsNumber(400000001), "eip-central", D(2026, 11, 1), 14, Ratings(1)});
  // Cluster 10 (6 months) from 10 Jan: due 9 Jul -> overdue.
  Record({"epr-a", "a-2", NhsNumber(400000002), "eip-central", D(2026, 1, 10), 10, Ratings(2)});
  // Cluster 11 (6 months) from 1 Oct: due 31 Mar 2027 -> upcoming.
  Record({"epr-a", "a-3", NhsNumber(400000003), "eip-central", D(2026, 10, 1), 11, Ratings(3)});
  // Reviewed and stepped up from 11 to 12 in another team.
  Record({"epr-a", "a-4", NhsNumber(400000004), "eip-north", D(2026, 6, 1), 11, Ratings(4)});
  auto stepped = Record({"epr-a", "a-5", NhsNumber(400000004), "eip-north", D(2026, 11, 20), 12, Ratings(5),
                                      pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW});
  EXPECT_TRUE(stepped.cluster_changed());
  // The same person from two EPRs is one person.
  auto from_a = Record({"epr-a", "a-6", NhsNumber(400000006), "memory-west", D(2025, 12, 1), 18, Ratings(6)});
  auto from_b = Record({"epr-b", "B-77", NhsNumber(400000006), "memory-west", D(2026, 2, 1), 19, Ratings(7),
                                     pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW});
  EXPECT_EQ(from_a.person_id(), from_b.person_id());

  // A retry is answered from the first result and counted once.
  pbr::v1::RecordAssessmentReply retry;
  ASSERT_TRUE(allocation
                  ->RecordAssessment(Context().get(),
                                     ToRequest({"epr-a", "a-1", NhsNumber(400000001), "eip-central", D(2026, 11, 1), 14, Ratings(1)}),
                                     &retry)
                  .ok());
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.person_id(), p1.person_id());
  // Bad input is refused, naming the field.
  auto bad = ToRequest({"epr-a", "a-bad", "1234567890", "eip-central", D(2026, 11, 1), 9, Ratings(1)});
  pbr::v1::RecordAssessmentReply ignored;
  grpc::Status refused = allocation->RecordAssessment(Context().get(), bad, &ignored);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("nhs_number"), std::string::npos) << refused.error_message();
  EXPECT_NE(refused.error_message().find("cluster: 9"), std::string::npos) << refused.error_message();

  auto central = ExpectedCaseload("eip-central");
  EXPECT_EQ(central.people(), 3);  // the oracle agrees with the hand-worked figures
  EXPECT_EQ(central.reviews_due(), 1);
  EXPECT_EQ(central.reviews_overdue(), 1);
  ExpectCaseloadsConverge({"eip-central", "eip-north", "memory-west"});
  ExpectSchedulesAndOutcomes();

  // --- Part 2: a stream of assessments; consumers are killed with SIGKILL mid-stream and restarted.
  // The demo's teams (rules/teams.yaml); each assessment goes to one that holds its cluster.
  const std::vector<std::string> teams = {"cmht-north", "cmht-south",  "eip-central",
                                          "crht-east",  "memory-west", "inpatient-ward-3"};
  const std::vector<int> clusters = {0, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
  constexpr int kPeople = 80, kPerPerson = 3;
  std::atomic<int> accepted{0};
  std::thread stream([&] {
    for (int round = 0; round < kPerPerson; ++round) {
      for (int i = 0; i < kPeople; ++i) {
        Assessment a;
        a.record_id = absl::StrCat("s-", i, "-", round);
        a.nhs = NhsNumber(500000000 + i * 13);
        a.day = absl::CivilDay(2025, 1, 5) + i + round * 120;
        a.cluster = clusters[(i * 5 + round * (i % 3 == 0)) % clusters.size()];
        a.team = TeamHolding(*rules_, teams, a.cluster, i + round / 2);  // some move team at their last review
        a.ratings = Ratings(i + round);
        a.reason = round == 0 ? pbr::v1::ASSESSMENT_REASON_INITIAL : pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW;
        Record(a);
        ++accepted;
      }
    }
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return accepted >= 60; }, kConverge));
  platform_->KillService("reporting");
  ASSERT_TRUE(testing::WaitUntil([&] { return accepted >= 100; }, kConverge));
  ASSERT_TRUE(platform_->StartService("reporting").ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return accepted >= 150; }, kConverge));
  platform_->KillService("outcomes");
  ASSERT_TRUE(platform_->StartService("outcomes").ok());
  stream.join();
  EXPECT_EQ(accepted.load(), kPeople * kPerPerson);

  std::set<std::string> all_teams(teams.begin(), teams.end());
  all_teams.insert({"eip-north"});  // from part 1 (the others are in `teams`)
  ExpectCaseloadsConverge(all_teams);
  ExpectSchedulesAndOutcomes();

  // Each service serves Prometheus metrics: RPCs by method and code, events per topic, outbox depth.
  auto allocation_metrics = testing::HttpGet(platform_->MetricsAddress("allocation"), "/metrics");
  ASSERT_TRUE(allocation_metrics.ok()) << allocation_metrics.status();
  EXPECT_NE(allocation_metrics->find("pbr_rpcs_total{code=\"OK\",method=\"/pbr.v1.Allocation/RecordAssessment\""),
            std::string::npos) << *allocation_metrics;
  EXPECT_NE(allocation_metrics->find("code=\"INVALID_ARGUMENT\""), std::string::npos);
  EXPECT_NE(allocation_metrics->find("pbr_events_produced_total{service=\"allocation\",topic=\"assessment-recorded\"}"),
            std::string::npos);
  EXPECT_NE(allocation_metrics->find("pbr_outbox_depth"), std::string::npos);
  // Lag is sampled once a second per assigned partition.
  absl::StatusOr<std::string> reporting_metrics;
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        reporting_metrics = testing::HttpGet(platform_->MetricsAddress("reporting"), "/metrics");
        return reporting_metrics.ok() && reporting_metrics->find("pbr_consumer_lag{partition=") != std::string::npos;
      },
      absl::Seconds(15), absl::Milliseconds(200)))
      << reporting_metrics.status() << "\n" << reporting_metrics.value_or("");
  EXPECT_NE(reporting_metrics.value_or("").find("pbr_events_consumed_total{service=\"reporting\",topic=\"review-due\"}"),
            std::string::npos);

  // Every service says which rules it runs. The shipped ones have the example scoring profiles, so
  // each also warns in its log at start that suggestions and red-rule checks are for demonstration.
  for (const std::string service : {"allocation", "review-scheduler", "outcomes", "reporting"}) {
    auto metrics = testing::HttpGet(platform_->MetricsAddress(service), "/metrics");
    ASSERT_TRUE(metrics.ok()) << service << ": " << metrics.status();
    EXPECT_NE(metrics->find(absl::StrCat("pbr_rules_info{example_profiles=\"true\",rule_version=\"", rules_->version(),
                                         "\",service=\"", service, "\"} 1\n")),
              std::string::npos)
        << *metrics;
    std::ifstream log_file(platform_->LogPath(service));
    std::stringstream log;
    log << log_file.rdbuf();
    EXPECT_NE(log.str().find("the scoring profiles are an EXAMPLE"), std::string::npos)
        << service << "'s log:\n" << testing::Tail(platform_->LogPath(service));
  }
}

}  // namespace
}  // namespace pbr
