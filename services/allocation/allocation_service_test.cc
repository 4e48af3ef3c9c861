#include "allocation_service.h"

#include "care_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "testing/process.h"

namespace pbr::allocation {
namespace {

using ::testing::HasSubstr;
constexpr char kSecret[] = "a-test-secret-of-some-length";
constexpr char kNhsNumber[] = "9434765919";  // valid modulus-11 check digit

absl::Time Day(int y, int m, int d) { return absl::FromCivil(absl::CivilSecond(y, m, d, 10, 0, 0), absl::UTCTimeZone()); }

pbr::v1::RecordAssessmentRequest ValidRequest(std::string record_id = "rec-1") {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("epr-north");
  r.set_source_record_id(std::move(record_id));
  r.set_nhs_number(kNhsNumber);
  r.set_team_id("cmht-east");
  r.set_clinician_id("clin-7");
  *r.mutable_assessed_at() = platform::ToProto(Day(2026, 3, 2));
  for (int i = 0; i < 18; ++i) r.mutable_ratings()->add_items(i == 6 ? 3 : 1);  // item 8 rated 1 needs a type
  r.mutable_ratings()->set_item8_problem_type("B");
  r.set_cluster(4);
  r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  return r;
}

class AllocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), {std::string(kAssessmentsFamily), std::string(kPersonsFamily)});
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    auto rules = services::LoadRules(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    service_ = std::make_unique<AllocationService>(*store_, *outbox_, clock_, *rules, kSecret);
  }
  std::vector<pbr::v1::EventEnvelope> Pending(absl::string_view topic_name) {
    std::vector<pbr::v1::EventEnvelope> out;
    const auto pending = platform::Outbox::ReadPending(*store_);
    EXPECT_TRUE(pending.ok());
    for (const auto& p : *pending) {
      if (p.topic != topic_name) continue;
      pbr::v1::EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(p.value));
      EXPECT_EQ(p.key, e.person_id());
      out.push_back(e);
    }
    return out;
  }

  pbr::testing::TempDir dir_;
  platform::ManualClock clock_{Day(2026, 11, 22)};
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::unique_ptr<AllocationService> service_;
};

TEST_F(AllocationTest, RecordsAssessmentAndPublishesItWithTheClusterStart) {
  auto reply = service_->Record(ValidRequest(), "trace-1");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->person_id(), platform::KeyedHash(kSecret, kNhsNumber));
  EXPECT_FALSE(reply->duplicate());
  EXPECT_TRUE(reply->cluster_changed());
  EXPECT_FALSE(reply->rule_version().empty());

  auto assessed = Pending("assessment-recorded");
  ASSERT_EQ(assessed.size(), 1u);
  EXPECT_EQ(assessed[0].person_id(), reply->person_id());
  EXPECT_EQ(assessed[0].trace_id(), "trace-1");
  EXPECT_EQ(assessed[0].assessment_recorded().cluster(), 4);
  EXPECT_EQ(assessed[0].assessment_recorded().team_id(), "cmht-east");
  EXPECT_EQ(assessed[0].assessment_recorded().ratings().items(6), 3);
  auto changed = Pending("cluster-changed");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_FALSE(changed[0].cluster_changed().has_previous_cluster());
  EXPECT_EQ(changed[0].cluster_changed().cluster(), 4);
}

TEST_F(AllocationTest, TheNhsNumberNeverLeavesAllocation) {
  ASSERT_TRUE(service_->Record(ValidRequest(), "").ok());
  const auto pending = platform::Outbox::ReadPending(*store_);
  ASSERT_TRUE(pending.ok());
  for (const auto& p : *pending) {
    EXPECT_EQ(p.value.find(kNhsNumber), std::string::npos) << p.topic;
    EXPECT_EQ(p.key.find(kNhsNumber), std::string::npos) << p.topic;
  }
}

TEST_F(AllocationTest, ARetryReturnsTheFirstReplyAndPublishesNothingNew) {
  auto first = service_->Record(ValidRequest(), "");
  ASSERT_TRUE(first.ok());
  const size_t pending = platform::Outbox::ReadPending(*store_)->size();
  auto again = service_->Record(ValidRequest(), "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate());
  EXPECT_EQ(again->assessment_id(), first->assessment_id());
  EXPECT_EQ(platform::Outbox::ReadPending(*store_)->size(), pending);
}

TEST_F(AllocationTest, TheSameRecordIdWithOtherContentIsRefused) {
  ASSERT_TRUE(service_->Record(ValidRequest(), "").ok());
  auto changed = ValidRequest();
  changed.set_cluster(5);
  auto reply = service_->Record(changed, "");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(reply.status().message(), HasSubstr("source_record_id: 'rec-1' from 'epr-north'"));
}

TEST_F(AllocationTest, ClusterChangedOnlyWhenTheLatestAssessmentMovesTheCluster) {
  ASSERT_TRUE(service_->Record(ValidRequest("r1"), "").ok());
  auto same = ValidRequest("r2");
  *same.mutable_assessed_at() = platform::ToProto(Day(2026, 6, 1));
  same.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  EXPECT_FALSE(service_->Record(same, "")->cluster_changed());

  auto moved = ValidRequest("r3");
  *moved.mutable_assessed_at() = platform::ToProto(Day(2026, 9, 1));
  moved.set_cluster(5);
  moved.set_reason(pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  EXPECT_TRUE(service_->Record(moved, "")->cluster_changed());

  // A late back-fill from before the latest assessment does not move the current cluster.
  auto backfill = ValidRequest("r0");
  *backfill.mutable_assessed_at() = platform::ToProto(Day(2025, 12, 1));
  backfill.set_cluster(8);
  EXPECT_FALSE(service_->Record(backfill, "")->cluster_changed());

  auto changes = Pending("cluster-changed");
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[1].cluster_changed().has_previous_cluster());
  EXPECT_EQ(changes[1].cluster_changed().previous_cluster(), 4);
  EXPECT_EQ(changes[1].cluster_changed().cluster(), 5);
  EXPECT_EQ(Pending("assessment-recorded").size(), 4u);
}

struct BadInput {
  std::string name;
  std::function<void(pbr::v1::RecordAssessmentRequest&)> spoil;
  std::string field;
};

void PrintTo(const BadInput& b, std::ostream* os) { *os << b.name; }

class AllocationRejects : public AllocationTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(AllocationRejects, InvalidInputNamingTheField) {
  auto r = ValidRequest();
  GetParam().spoil(r);
  auto reply = service_->Record(r, "");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr(GetParam().field));
  EXPECT_TRUE(platform::Outbox::ReadPending(*store_)->empty()) << "nothing is published for a refused call";
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, AllocationRejects,
    ::testing::Values(
        BadInput{"RatingAboveFour", [](auto& r) { r.mutable_ratings()->set_items(3, 5); }, "item"},
        BadInput{"NegativeRating", [](auto& r) { r.mutable_ratings()->set_items(17, -1); }, "item"},
        BadInput{"TooFewRatings", [](auto& r) { r.mutable_ratings()->mutable_items()->RemoveLast(); }, "ratings.items"},
        BadInput{"BlankCluster", [](auto& r) { r.set_cluster(9); }, "cluster: 9 is the blank cluster"},
        BadInput{"ClusterOutOfRange", [](auto& r) { r.set_cluster(22); }, "cluster: 22"},
        BadInput{"NegativeCluster", [](auto& r) { r.set_cluster(-1); }, "cluster: -1"},
        BadInput{"NhsChecksum", [](auto& r) { r.set_nhs_number("9434765918"); }, "nhs_number"},
        BadInput{"NhsLength", [](auto& r) { r.set_nhs_number("943476591"); }, "nhs_number"},
        BadInput{"MissingRecordId", [](auto& r) { r.clear_source_record_id(); }, "source_record_id: required"},
        BadInput{"MissingSourceSystem", [](auto& r) { r.clear_source_system(); }, "source_system: required"},
        BadInput{"MissingTeam", [](auto& r) { r.clear_team_id(); }, "team_id: required"},
        BadInput{"MissingClinician", [](auto& r) { r.clear_clinician_id(); }, "clinician_id: required"},
        BadInput{"MissingDate", [](auto& r) { r.clear_assessed_at(); }, "assessed_at: required"},
        BadInput{"FutureDate", [](auto& r) { *r.mutable_assessed_at() = platform::ToProto(Day(2027, 1, 1)); },
                 "assessed_at: is in the future"},
        BadInput{"MissingReason", [](auto& r) { r.clear_reason(); }, "reason: required"},
        BadInput{"Item8WithoutType", [](auto& r) { r.mutable_ratings()->clear_item8_problem_type(); }, "item"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace pbr::allocation
