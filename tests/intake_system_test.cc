// Allocation as the front door, end to end: two EPRs with an overlapping patient fed through the
// bulk import (twice), malformed rows, an amendment and a withdrawal through gRPC; checked in the
// events on the broker and in every service's queries.
#include <fstream>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/consumer.h"
#include "platform/events.h"
#include "testing/local_platform.h"

namespace pbr {
namespace {

using ::testing::HasSubstr;
constexpr absl::Duration kConverge = absl::Seconds(60);

// Synthetic NHS numbers (999 range) with valid check digits.
constexpr char kPersonOne[] = "9990000018";
constexpr char kPersonTwo[] = "9990000026";
constexpr char kPersonThree[] = "9990000034";

constexpr char kHeader[] =
    "kind,source_system,source_record_id,nhs_number,local_patient_id,team_id,clinician_id,assessed_at,reason,"
    "cluster,item1,item2,item3,item4,item5,item6,item7,item8,item9,item10,item11,item12,item13,itemA,itemB,itemC,"
    "itemD,itemE,item8_problem_type,change_class,clinical_rationale,event_type,occurred_at,out_of_hours\n";

std::string AssessmentRow(const std::string& epr, const std::string& id, const std::string& nhs,
                          const std::string& local, const std::string& team, const std::string& date,
                          const std::string& reason, const std::string& cluster, const std::string& change) {
  // Items 1-12 sum to 14; item 8 rated 2 needs a problem type.
  return absl::StrCat("assessment,", epr, ",", id, ",", nhs, ",", local, ",", team, ",clin-1,", date, ",", reason, ",",
                      cluster, ",1,0,1,0,2,1,2,2,1,1,1,2,0,0,1,0,1,0,B,", change,
                      ",\"synthetic ratings, for the test\",,,\n");
}

class IntakeSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::LocalPlatformOptions options;
    options.bin_dir = PBR_BIN_DIR;
    options.rules_dir = PBR_RULES_DIR;
    options.work_dir = dir_.path() + "/platform";
    options.clock = "fixed:2026-11-22T12:00:00Z";
    auto platform = testing::LocalPlatform::Start(options);
    ASSERT_TRUE(platform.ok()) << platform.status();
    platform_ = *std::move(platform);
    StartObserver();
  }
  void TearDown() override {
    if (observer_) observer_->Stop();
    if (observer_outbox_) observer_outbox_->Stop(absl::ZeroDuration());
    if (platform_) EXPECT_TRUE(platform_->StopAll().ok());
  }

  // An independent consumer of the published events, built on the platform library.
  void StartObserver() {
    observer_store_ = *platform::Store::Open(dir_.path() + "/observer", {});
    platform::KafkaSettings kafka;
    kafka.bootstrap = platform_->bootstrap();
    kafka.group_id = "test-observer";
    observer_outbox_ = *platform::Outbox::Open(*observer_store_, kafka, nullptr);
    observer_ = std::make_unique<platform::Consumer>(*observer_store_, *observer_outbox_, kafka, nullptr, clock_);
    // It records what was published, as published: the services apply the shared rules.
    observer_->ValidateWith([](absl::string_view, const pbr::v1::EventEnvelope&) { return absl::OkStatus(); });
    for (absl::string_view t : {platform::topic::kAssessmentRecorded, platform::topic::kClusterChanged,
                                platform::topic::kCareEventRecorded}) {
      observer_->On(t, [this](const platform::ConsumedEvent& ev, platform::ApplyContext&) {
        std::lock_guard lock(mu_);
        events_.push_back(ev.event);
        return absl::OkStatus();
      });
    }
    ASSERT_TRUE(observer_->Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  }
  std::vector<pbr::v1::EventEnvelope> Events(absl::string_view type) {
    std::lock_guard lock(mu_);
    std::vector<pbr::v1::EventEnvelope> out;
    for (const auto& e : events_) {
      if (e.event_type() == type) out.push_back(e);
    }
    return out;
  }

  struct ImportRun {
    int exit_code = -1;
    std::string summary;
  };
  ImportRun Import(const std::string& csv_path) {
    std::vector<std::string> argv = {std::string(PBR_BIN_DIR) + "/pbr-import", csv_path,
                                     "--allocation=" + platform_->GrpcAddress("allocation")};
    // Each row goes as its own EPR's feed.
    auto tls = platform_->FeedTlsFlags({"rio-north", "systmone-south"});
    EXPECT_TRUE(tls.ok()) << tls.status();
    if (tls.ok()) argv.insert(argv.end(), tls->begin(), tls->end());
    auto child = testing::ChildProcess::Spawn(argv, dir_.path() + "/import.log");
    EXPECT_TRUE(child.ok()) << child.status();
    ImportRun run;
    auto line = (*child)->WaitForLine("rejected ", absl::Seconds(60));
    EXPECT_TRUE(line.ok()) << line.status();
    run.summary = line.value_or("");
    EXPECT_TRUE(testing::WaitUntil([&] { return !(*child)->Running(); }, absl::Seconds(30)));
    run.exit_code = (*child)->Terminate(absl::Seconds(1)).value_or(-1);
    return run;
  }
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& name) {
    return platform_->Stub<Service>(name);
  }
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& name, const std::string& role) {
    return platform_->Stub<Service>(name, role);
  }
  static std::unique_ptr<grpc::ClientContext> Context() { return testing::CallContext(); }
  pbr::v1::Caseload Caseload(const std::string& team) {
    pbr::v1::GetCaseloadRequest req;
    req.set_team_id(team);
    pbr::v1::Caseload reply;
    Stub<pbr::v1::Reporting>("reporting")->GetCaseload(Context().get(), req, &reply);
    return reply;
  }
  // Waits until a team's caseload matches: people on each cluster, and assessments recorded.
  void ExpectCaseload(const std::string& team, const std::map<int, int>& people, int64_t recorded) {
    pbr::v1::Caseload got;
    const bool ok = testing::WaitUntil(
        [&] {
          got = Caseload(team);
          std::map<int, int> have;
          for (const auto& c : got.clusters()) have[c.cluster()] = c.people();
          return have == people && got.assessments_recorded() == recorded;
        },
        kConverge, absl::Milliseconds(100));
    EXPECT_TRUE(ok) << team << ":\n" << got.DebugString();
  }
  pbr::v1::Person Person(const std::string& nhs) {
    pbr::v1::GetPersonRequest req;
    req.set_nhs_number(nhs);
    pbr::v1::Person p;
    grpc::Status st = Stub<pbr::v1::Allocation>("allocation", "clinician")->GetPerson(Context().get(), req, &p);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return p;
  }

  testing::TempDir dir_;
  platform::ManualClock clock_{absl::Now()};
  std::unique_ptr<testing::LocalPlatform> platform_;
  std::unique_ptr<platform::Store> observer_store_;
  std::unique_ptr<platform::Outbox> observer_outbox_;
  std::unique_ptr<platform::Consumer> observer_;
  std::mutex mu_;
  std::vector<pbr::v1::EventEnvelope> events_;
};

TEST_F(IntakeSystemTest, TwoEprsReplaysMalformedRowsAmendmentsAndWithdrawals) {
  // EPR A: person one starts on 11 with a psychosis team and steps up to 12 after a crisis referral;
  // person two on 4 with a community team.
  const std::string a = WriteFile(
      "rio.csv",
      absl::StrCat(kHeader,
                   AssessmentRow("rio-north", "RN-1", kPersonOne, "RN100", "eip-north", "2026-05-01", "initial", "11", ""),
                   AssessmentRow("rio-north", "RN-2", kPersonTwo, "RN200", "cmht-north", "2026-06-01", "initial", "4", ""),
                   "care_event,rio-north,RN-E1,", kPersonOne, ",RN100,crht-east,clin-2,,,,,,,,,,,,,,,,,,,,,,,,,",
                   "referral_to_crht,2026-07-01T23:10:00+01:00,true\n",
                   AssessmentRow("rio-north", "RN-3", kPersonOne, "RN100", "eip-north", "2026-08-01",
                                 "formal_review", "12", "deterioration")));
  // EPR B: the same person one under its own local id, moved to crisis care on 13; person three
  // new; one unreadable row and one the service refuses (a bad NHS number check digit).
  const std::string b = WriteFile(
      "s1.csv",
      absl::StrCat(kHeader,
                   AssessmentRow("systmone-south", "S-1", kPersonOne, "S77", "crht-south", "2026-09-01",
                                 "transfer_review", "13", "deterioration"),
                   AssessmentRow("systmone-south", "S-2", kPersonThree, "S78", "memory-west", "2026-10-01", "initial", "18", ""),
                   AssessmentRow("systmone-south", "S-3", kPersonThree, "S78", "memory-west", "2026-10-02", "initial", "x", ""),
                   AssessmentRow("systmone-south", "S-4", "9990000019", "S79", "memory-west", "2026-10-03", "initial", "18", "")));

  ImportRun first = Import(a);
  EXPECT_EQ(first.exit_code, 0) << testing::Tail(dir_.path() + "/import.log");
  ImportRun second = Import(b);
  EXPECT_EQ(second.exit_code, 1) << "some rows were rejected";
  EXPECT_THAT(second.summary, HasSubstr("rejected      2"));
  std::ifstream rejects(dir_.path() + "/s1.rejects.csv");
  std::string reject_text((std::istreambuf_iterator<char>(rejects)), std::istreambuf_iterator<char>());
  EXPECT_THAT(reject_text, HasSubstr("4,S-3,"));
  EXPECT_THAT(reject_text, HasSubstr("5,S-4,INVALID_ARGUMENT"));
  EXPECT_THAT(reject_text, HasSubstr("nhs_number"));
  ImportRun replay = Import(a);
  EXPECT_EQ(replay.exit_code, 0) << "re-running a file changes nothing";

  // One person across both EPRs.
  pbr::v1::Person one = Person(kPersonOne);
  EXPECT_EQ(one.local_ids_size(), 2);
  EXPECT_EQ(one.cluster(), 13);
  EXPECT_EQ(one.assessments(), 3);
  ExpectCaseload("eip-north", {}, 2);
  ExpectCaseload("cmht-north", {{4, 1}}, 1);
  ExpectCaseload("crht-south", {{13, 1}}, 1);
  ExpectCaseload("memory-west", {{18, 1}}, 1);

  // EPR B corrects its transfer review (cluster 14, psychotic crisis), then withdraws it.
  auto allocation = Stub<pbr::v1::Allocation>("allocation", "epr-feed:systmone-south");
  pbr::v1::RecordAssessmentRequest amend;
  amend.set_source_system("systmone-south");
  amend.set_source_record_id("S-1");
  amend.set_nhs_number(kPersonOne);
  amend.set_local_patient_id("S77");
  amend.set_team_id("crht-south");
  amend.set_clinician_id("clin-1");
  amend.mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2026, 9, 1, 12, 0, 0), platform::ClinicalTimeZone())));
  for (int v : {1, 0, 1, 0, 2, 1, 2, 2, 1, 1, 1, 2, 0, 0, 1, 0, 1, 0}) amend.mutable_ratings()->add_items(v);
  amend.mutable_ratings()->set_item8_problem_type("B");
  amend.set_cluster(14);
  amend.set_reason(pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW);
  amend.set_change_class(pbr::v1::CHANGE_CLASS_DETERIORATION);
  amend.set_clinical_rationale("corrected: psychotic crisis");
  pbr::v1::RecordAssessmentReply amended;
  grpc::Status st = allocation->AmendAssessment(Context().get(), amend, &amended);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(amended.revision(), 1);
  ExpectCaseload("crht-south", {{14, 1}}, 1);
  pbr::v1::GetScheduleRequest sreq;
  sreq.set_person_id(one.person_id());
  pbr::v1::Schedule schedule;
  auto scheduler = Stub<pbr::v1::ReviewScheduler>("review-scheduler");
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return scheduler->GetSchedule(Context().get(), sreq, &schedule).ok() && schedule.cluster() == 14; },
      kConverge));
  EXPECT_EQ(schedule.state(), pbr::v1::REVIEW_STATE_OVERDUE) << "cluster 14: 4 weeks from 1 September";

  pbr::v1::WithdrawAssessmentRequest withdraw;
  withdraw.set_source_system("systmone-south");
  withdraw.set_source_record_id("S-1");
  withdraw.set_reason("recorded against the wrong referral");
  pbr::v1::WithdrawAssessmentReply withdrawn;
  st = allocation->WithdrawAssessment(Context().get(), withdraw, &withdrawn);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(withdrawn.cluster_changed());
  // Person one is back on 12 with the eip-north review as the basis of the next review.
  ExpectCaseload("crht-south", {}, 0);
  ExpectCaseload("eip-north", {{12, 1}}, 2);
  ExpectCaseload("cmht-north", {{4, 1}}, 1);
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return scheduler->GetSchedule(Context().get(), sreq, &schedule).ok() && schedule.cluster() == 12; },
      kConverge))
      << schedule.DebugString();
  EXPECT_EQ(schedule.state(), pbr::v1::REVIEW_STATE_UPCOMING) << "six months from 1 August";
  auto outcomes = Stub<pbr::v1::Outcomes>("outcomes");
  pbr::v1::GetOutcomesRequest oreq;
  oreq.set_person_id(one.person_id());
  pbr::v1::PersonOutcomes history;
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return outcomes->GetOutcomes(Context().get(), oreq, &history).ok() && history.outcomes_size() == 2; },
      kConverge))
      << history.DebugString();
  EXPECT_EQ(history.outcomes(1).honos_total(), 14);

  // The broker carries each fact once: no replayed row published anything again.
  ASSERT_TRUE(testing::WaitUntil([&] { return Events("assessment-recorded").size() >= 7; }, kConverge));
  auto assessed = Events("assessment-recorded");
  EXPECT_EQ(assessed.size(), 7u) << "5 rows, 1 amendment, 1 withdrawal";
  int amendments = 0, withdrawals = 0;
  for (const auto& e : assessed) {
    EXPECT_EQ(e.person_id().find(kPersonOne), std::string::npos) << "no NHS number on the wire";
    if (e.assessment_recorded().withdrawn()) ++withdrawals;
    else if (e.assessment_recorded().revision() > 0) ++amendments;
  }
  EXPECT_EQ(amendments, 1);
  EXPECT_EQ(withdrawals, 1);
  ASSERT_TRUE(testing::WaitUntil([&] { return Events("care-event-recorded").size() >= 1; }, kConverge));
  EXPECT_EQ(Events("care-event-recorded").size(), 1u);
  EXPECT_TRUE(Events("care-event-recorded")[0].care_event_recorded().out_of_hours());
  // Cluster changes: one 11 -> 12 -> 13 -> 14 -> 12; two starts on 4; three on 18.
  ASSERT_TRUE(testing::WaitUntil([&] { return Events("cluster-changed").size() >= 7; }, kConverge));
  EXPECT_EQ(Events("cluster-changed").size(), 7u);
}

// Teams come from the rules' registry (rules/teams.yaml). An id nobody has listed is refused, and has no
// caseload; started with the migration setting, allocation admits it and says so: on the record, in its
// metrics and in its log.
TEST_F(IntakeSystemTest, AnUnknownTeamIsRefusedUnlessAllocationRunsWithTheMigrationSetting) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("rio-north");
  r.set_source_record_id("RN-LEGACY-1");
  r.set_nhs_number(kPersonTwo);
  r.set_team_id("north-cmht-old");
  r.set_clinician_id("clin-1");
  r.mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2026, 6, 1, 12, 0, 0), platform::ClinicalTimeZone())));
  for (int v : {1, 0, 1, 0, 2, 1, 2, 2, 1, 1, 1, 2, 0, 0, 1, 0, 1, 0}) r.mutable_ratings()->add_items(v);
  r.mutable_ratings()->set_item8_problem_type("B");
  r.set_cluster(4);
  r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  r.set_clinical_rationale("synthetic ratings, for the test");
  pbr::v1::RecordAssessmentReply reply;
  grpc::Status st = Stub<pbr::v1::Allocation>("allocation", "epr-feed:rio-north")->RecordAssessment(Context().get(), r, &reply);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("team_id: 'north-cmht-old' is not a team"));
  pbr::v1::GetCaseloadRequest req;
  req.set_team_id("north-cmht-old");
  pbr::v1::Caseload caseload;
  st = Stub<pbr::v1::Reporting>("reporting")->GetCaseload(Context().get(), req, &caseload);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), HasSubstr("team_id: 'north-cmht-old'"));

  ASSERT_TRUE(platform_->StopService("allocation").ok());
  ASSERT_TRUE(platform_->StartService("allocation", absl::Seconds(30), {"--allow-unknown-teams=true"}).ok());
  st = Stub<pbr::v1::Allocation>("allocation", "epr-feed:rio-north")->RecordAssessment(Context().get(), r, &reply);
  ASSERT_TRUE(st.ok()) << st.error_message();
  bool unknown = false;
  for (const auto& c : reply.checks()) unknown |= c.rule() == "team" && !c.passed();
  EXPECT_TRUE(unknown) << reply.DebugString();
  auto metrics = testing::HttpGet(platform_->MetricsAddress("allocation"), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(*metrics, HasSubstr("pbr_unknown_team_records_total{kind=\"assessment\",service=\"allocation\"} 1"));
  std::ifstream log(platform_->LogPath("allocation"));
  const std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(log_text, HasSubstr("team_id 'north-cmht-old' is not in the team registry"));
  // The published record says the same.
  ASSERT_TRUE(testing::WaitUntil([&] { return !Events("assessment-recorded").empty(); }, kConverge));
  bool published = false;
  const auto events = Events("assessment-recorded");
  for (const auto& c : events.front().assessment_recorded().checks()) {
    published |= c.rule() == "team" && !c.passed();
  }
  EXPECT_TRUE(published);
}

}  // namespace
}  // namespace pbr
