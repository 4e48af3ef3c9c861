// Intake and the team registry (rules/teams.yaml): the team decides the service area and the default
// commissioner; an unknown team is refused, or admitted and reported while allow-unknown-teams is on.
#include <sstream>

#include "absl/strings/str_cat.h"
#include "allocation_fixture.h"
#include "allocation_service.h"
#include "care_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "testing/process.h"

namespace pbr::allocation {
namespace {

using ::testing::HasSubstr;
using testing::AllocationFixture;
using testing::Day;
using testing::kNhsNumber;
using testing::kSecret;


pbr::v1::RecordAssessmentRequest Assessment(std::string record_id, std::string team) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("epr-north");
  r.set_source_record_id(std::move(record_id));
  r.set_nhs_number(kNhsNumber);
  r.set_team_id(std::move(team));
  r.set_clinician_id("clin-7");
  *r.mutable_assessed_at() = platform::ToProto(Day(2026, 3, 2));
  for (int i = 0; i < 18; ++i) r.mutable_ratings()->add_items(i == 6 ? 3 : 1);
  r.mutable_ratings()->set_item8_problem_type("B");
  r.set_cluster(4);
  r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  r.set_clinical_rationale("test fixture: the example profiles are not the national grid");
  return r;
}

const pbr::v1::RuleCheck* FindCheck(const google::protobuf::RepeatedPtrField<pbr::v1::RuleCheck>& checks,
                                    absl::string_view rule) {
  for (const auto& c : checks) {
    if (c.rule() == rule) return &c;
  }
  return nullptr;
}

// Log lines written while it lives (the default logger, replaced and then put back).
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(
        std::make_shared<spdlog::logger>("captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

class TeamIntakeTest : public AllocationFixture {
 protected:
  pbr::v1::SuggestClustersRequest Suggestion(std::string team, std::string area = "") const {
    pbr::v1::SuggestClustersRequest q;
    *q.mutable_ratings() = Assessment("x", "").ratings();
    q.set_team_id(std::move(team));
    q.set_service_area(std::move(area));
    return q;
  }
};

TEST_F(TeamIntakeTest, TheServiceAreaAndTheDefaultCommissionerComeFromTheTeam) {
  // cmht-south: community non-psychosis, billed to 00Y (rules/teams.yaml). The EPR sends neither.
  auto reply = service_->Record(Assessment("r1", "cmht-south"), "");
  ASSERT_TRUE(reply.ok()) << reply.status();
  const pbr::v1::RuleCheck* area = FindCheck(reply->checks(), "service-area");
  ASSERT_NE(area, nullptr) << "the team's service area is checked although the EPR sent none";
  EXPECT_TRUE(area->passed());
  EXPECT_EQ(FindCheck(reply->checks(), "team"), nullptr) << "a registered team adds no team check";
  auto events = Pending(platform::topic::kAssessmentRecorded);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].assessment_recorded().service_area(), "community_non_psychosis");
  EXPECT_EQ(events[0].assessment_recorded().commissioner_id(), "00Y");
  pbr::v1::ListRequest list;
  list.set_person_id(reply->person_id());
  auto episodes = service_->ListEpisodes(list);
  ASSERT_TRUE(episodes.ok());
  ASSERT_EQ(episodes->episodes_size(), 1);
  EXPECT_EQ(episodes->episodes(0).commissioner_id(), "00Y") << "the episode is billed to the team's commissioner";

  // A commissioner the EPR names wins; the team's own service area may be sent too.
  auto named = Assessment("r2", "cmht-south");
  *named.mutable_assessed_at() = platform::ToProto(Day(2026, 6, 1));
  named.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  named.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  named.set_commissioner_id("icb-south");
  named.set_service_area("community_non_psychosis");
  ASSERT_TRUE(service_->Record(named, "").ok());
  events = Pending(platform::topic::kAssessmentRecorded);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].assessment_recorded().commissioner_id(), "icb-south");
  EXPECT_EQ(events[1].assessment_recorded().service_area(), "community_non_psychosis");

  // A retry is told apart by what was sent, not by what the team added.
  auto again = service_->Record(Assessment("r1", "cmht-south"), "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate());
}

// Before the registry, an EPR that sent no service area had no service-area check at all: cluster 1
// (not used in secondary care, held by no service area) went through for any team.
TEST_F(TeamIntakeTest, ClusterOneIsRefusedForATeamWhoseServiceAreaDoesNotHoldIt) {
  auto r = Assessment("c1", "cmht-east");
  r.set_cluster(1);
  r.clear_clinical_rationale();
  auto red = rules_->CheckRedRules(1, *services::RatingsFromProto(r.ratings()));
  ASSERT_TRUE(red.ok() && red->met) << "the ratings meet cluster 1's red rules: only the service area refuses it";
  auto refused = service_->Record(r, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr("service_area: cluster 1 is not held by 'community_non_psychosis' (allowed: 0, 4, 5, 6, 7, 8)"));
  EXPECT_TRUE(platform::Outbox::ReadPending(*store_)->empty());
  // With a rationale it is recorded, the breach with it.
  r.set_clinical_rationale("seen once for advice; the team holds the case until the GP takes it back");
  auto accepted = service_->Record(r, "");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  const pbr::v1::RuleCheck* area = FindCheck(accepted->checks(), "service-area");
  ASSERT_NE(area, nullptr);
  EXPECT_FALSE(area->passed());
}

TEST_F(TeamIntakeTest, AServiceAreaThatIsNotTheTeamsIsRefusedNamingBoth) {
  auto r = Assessment("a1", "memory-west");
  r.set_service_area("community_psychosis");
  auto refused = service_->Record(r, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("service_area: 'community_psychosis' is not the service area of team 'memory-west', which is "
                        "'memory_dementia'"));
  EXPECT_TRUE(platform::Outbox::ReadPending(*store_)->empty());
}

TEST_F(TeamIntakeTest, AnUnknownTeamIsRefusedForEveryCallNamingTeamId) {
  auto record = service_->Record(Assessment("u1", "t-north"), "");
  EXPECT_EQ(record.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(record.status().message(),
              HasSubstr("team_id: 't-north' is not a team of the rule set's team registry (teams 'EXAMPLE-teams-1')"));
  EXPECT_EQ(service_->Amend(Assessment("u1", "t-north"), "").status().code(), absl::StatusCode::kInvalidArgument);
  pbr::v1::RecordCareEventRequest e;
  e.set_source_system("epr-north");
  e.set_source_record_id("ce-1");
  e.set_nhs_number(kNhsNumber);
  e.set_team_id("t-crisis");
  e.set_type(pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT);
  *e.mutable_occurred_at() = platform::ToProto(Day(2026, 10, 1));
  auto care = service_->RecordCareEvent(e, "");
  EXPECT_EQ(care.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(care.status().message(), HasSubstr("team_id: 't-crisis' is not a team"));
  auto suggest = service_->Suggest(Suggestion("t-memory"));
  EXPECT_EQ(suggest.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(suggest.status().message(), HasSubstr("team_id: 't-memory' is not a team"));
  EXPECT_TRUE(platform::Outbox::ReadPending(*store_)->empty());
  // Every problem at once: the team is reported with the others.
  auto r = Assessment("u2", "t-north");
  r.set_cluster(9);
  EXPECT_THAT(service_->Record(r, "").status().message(), HasSubstr("team_id: 't-north'"));
  EXPECT_THAT(service_->Record(r, "").status().message(), HasSubstr("cluster: 9"));
}

TEST_F(TeamIntakeTest, SuggestionsForATeamKeepToItsServiceArea) {
  auto memory = service_->Suggest(Suggestion("memory-west"));
  ASSERT_TRUE(memory.ok()) << memory.status();
  ASSERT_GT(memory->suggestions_size(), 0);
  for (const auto& s : memory->suggestions()) EXPECT_GE(s.cluster(), 18) << "memory_dementia holds 18-21";
  EXPECT_TRUE(service_->Suggest(Suggestion("memory-west", "memory_dementia")).ok());
  auto mismatch = service_->Suggest(Suggestion("memory-west", "crht"));
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("service_area: 'crht' is not the service area of team 'memory-west'"));
  auto any = service_->Suggest(Suggestion(""));
  ASSERT_TRUE(any.ok()) << "the team is optional here";
  EXPECT_GT(any->suggestions_size(), memory->suggestions_size());
}

double Counted(platform::Metrics& metrics, absl::string_view kind) {
  for (const auto& family : metrics.registry().Collect()) {
    if (family.name != "pbr_unknown_team_records_total") continue;
    for (const auto& m : family.metric) {
      for (const auto& l : m.label) {
        if (l.name == "kind" && l.value == kind) return m.counter.value;
      }
    }
  }
  return 0;
}

TEST_F(TeamIntakeTest, DuringAMigrationUnknownTeamsAreAdmittedRecordedAsUnknownCountedAndLogged) {
  platform::Metrics metrics("allocation");
  AllocationService migrating(*store_, *outbox_, clock_, rules_, kSecret,
                              {.allow_unknown_teams = true, .metrics = &metrics});
  CapturedLog log;

  // No service area given: nothing to check it against.
  auto r = Assessment("m1", "legacy-cmht-7");
  r.set_cluster(1);
  r.clear_clinical_rationale();
  auto reply = migrating.Record(r, "");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(FindCheck(reply->checks(), "service-area"), nullptr);
  const pbr::v1::RuleCheck* team = FindCheck(reply->checks(), "team");
  ASSERT_NE(team, nullptr);
  EXPECT_FALSE(team->passed());
  EXPECT_THAT(team->reason(), HasSubstr("Team 'legacy-cmht-7' is not in the team registry (teams 'EXAMPLE-teams-1')"));
  EXPECT_EQ(team->rule_version(), rules_->version());
  auto events = Pending(platform::topic::kAssessmentRecorded);
  ASSERT_EQ(events.size(), 1u);
  const auto& published = events[0].assessment_recorded();
  EXPECT_NE(FindCheck(published.checks(), "team"), nullptr) << "published with the assessment";
  EXPECT_EQ(published.service_area(), "");
  EXPECT_EQ(published.commissioner_id(), "");
  EXPECT_EQ(Counted(metrics, "assessment"), 1);
  EXPECT_THAT(log.text(), HasSubstr("team_id 'legacy-cmht-7' is not in the team registry"));

  // A retry is not a second record; a registered team is not counted.
  EXPECT_TRUE(migrating.Record(r, "")->duplicate());
  auto known = Assessment("m2", "cmht-east");
  *known.mutable_assessed_at() = platform::ToProto(Day(2026, 5, 1));
  known.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  known.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  ASSERT_TRUE(migrating.Record(known, "").ok());
  EXPECT_EQ(Counted(metrics, "assessment"), 1);

  // A service area that is given is checked as before.
  auto area = Assessment("m3", "legacy-memory");
  area.set_nhs_number("4010232137");
  area.set_service_area("memory_dementia");
  area.clear_clinical_rationale();
  auto refused = migrating.Record(area, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("service_area: cluster 4 is not held by 'memory_dementia'"));
  EXPECT_EQ(Counted(metrics, "assessment"), 1) << "nothing was recorded";
  // Registered teams are still held to their service area.
  auto mismatch = Assessment("m4", "cmht-east");
  mismatch.set_service_area("crht");
  EXPECT_EQ(migrating.Record(mismatch, "").status().code(), absl::StatusCode::kInvalidArgument);

  pbr::v1::RecordCareEventRequest e;
  e.set_source_system("epr-north");
  e.set_source_record_id("ce-1");
  e.set_nhs_number(kNhsNumber);
  e.set_team_id("legacy-crisis");
  e.set_type(pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT);
  *e.mutable_occurred_at() = platform::ToProto(Day(2026, 10, 1));
  ASSERT_TRUE(migrating.RecordCareEvent(e, "").ok());
  EXPECT_TRUE(migrating.RecordCareEvent(e, "")->duplicate());
  EXPECT_EQ(Counted(metrics, "care_event"), 1);
  EXPECT_THAT(log.text(), HasSubstr("team_id 'legacy-crisis' is not in the team registry"));

  auto suggested = migrating.Suggest(Suggestion("legacy-cmht-7"));
  ASSERT_TRUE(suggested.ok()) << suggested.status();
  bool outside_any_area = false;
  for (const auto& s : suggested->suggestions()) outside_any_area |= s.cluster() < 18;
  EXPECT_TRUE(outside_any_area) << "an unknown team restricts nothing";
}

}  // namespace
}  // namespace pbr::allocation
