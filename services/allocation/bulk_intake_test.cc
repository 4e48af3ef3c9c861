// The bulk path (RecordBatch): the same answers as the single calls, item by item, one write per
// batch, a refused item refused alone, and a store that cannot write failing the whole batch.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "allocation_fixture.h"
#include "allocation_service.h"
#include "field_limits.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "testing/process.h"

namespace pbr::allocation {
namespace {

using ::testing::HasSubstr;
using testing::AllocationFixture;
using testing::Day;
using testing::kNhsNumber;
using testing::kSecret;

constexpr char kOtherNhsNumber[] = "9434765870";  // valid check digit

pbr::v1::RecordAssessmentRequest Assessment(std::string record_id, absl::Time at, int cluster,
                                            pbr::v1::AssessmentReason reason, const std::string& nhs = kNhsNumber) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system("epr-north");
  r.set_source_record_id(std::move(record_id));
  r.set_nhs_number(nhs);
  r.set_local_patient_id(nhs == kNhsNumber ? "L-1" : "L-2");
  r.set_team_id("cmht-east");
  r.set_clinician_id("clin-7");
  *r.mutable_assessed_at() = platform::ToProto(at);
  for (int i = 0; i < 18; ++i) r.mutable_ratings()->add_items(i == 6 ? 3 : 1);
  r.mutable_ratings()->set_item8_problem_type("B");
  r.set_cluster(cluster);
  r.set_reason(reason);
  if (reason != pbr::v1::ASSESSMENT_REASON_INITIAL) r.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);
  r.set_clinical_rationale("test fixture: the example profiles are not the national grid");
  return r;
}

pbr::v1::RecordCareEventRequest CareEvent(std::string record_id, absl::Time at, pbr::v1::CareEventType type) {
  pbr::v1::RecordCareEventRequest e;
  e.set_source_system("epr-north");
  e.set_source_record_id(std::move(record_id));
  e.set_nhs_number(kNhsNumber);
  e.set_team_id("cmht-east");
  e.set_type(type);
  *e.mutable_occurred_at() = platform::ToProto(at);
  return e;
}

pbr::v1::IntakeItem Item(const pbr::v1::RecordAssessmentRequest& r) {
  pbr::v1::IntakeItem item;
  *item.mutable_assessment() = r;
  return item;
}
pbr::v1::IntakeItem Item(const pbr::v1::RecordCareEventRequest& e) {
  pbr::v1::IntakeItem item;
  *item.mutable_care_event() = e;
  return item;
}

// A history for two people with retries, a conflict and invalid items among the good ones.
std::vector<pbr::v1::IntakeItem> MixedHistory() {
  std::vector<pbr::v1::IntakeItem> items;
  items.push_back(Item(CareEvent("ce-1", Day(2026, 2, 20), pbr::v1::CARE_EVENT_REFERRAL_RECEIVED)));
  items.push_back(Item(Assessment("a-1", Day(2026, 3, 2), 4, pbr::v1::ASSESSMENT_REASON_INITIAL)));
  items.push_back(Item(Assessment("a-1", Day(2026, 3, 2), 4, pbr::v1::ASSESSMENT_REASON_INITIAL)));  // a retry
  items.push_back(Item(Assessment("a-1", Day(2026, 3, 2), 5, pbr::v1::ASSESSMENT_REASON_INITIAL)));  // a conflict
  auto bad = Assessment("a-bad", Day(2026, 3, 3), 4, pbr::v1::ASSESSMENT_REASON_INITIAL);
  bad.set_nhs_number("9434765918");  // wrong check digit
  items.push_back(Item(bad));
  items.push_back(Item(Assessment("b-1", Day(2026, 3, 5), 3, pbr::v1::ASSESSMENT_REASON_INITIAL, kOtherNhsNumber)));
  items.push_back(Item(Assessment("a-2", Day(2026, 6, 1), 4, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW)));
  items.push_back(Item(CareEvent("ce-2", Day(2026, 7, 1), pbr::v1::CARE_EVENT_ADMISSION)));
  items.push_back(pbr::v1::IntakeItem());  // neither kind
  return items;
}

// A second allocation over a store of its own: what the single calls make of the same history.
class SingleCalls {
 public:
  explicit SingleCalls(const platform::Clock& clock, std::shared_ptr<const care::RuleSet> rules) {
    store_ = *platform::Store::Open(dir_.path(), AllocationFamilies());
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    service_ = std::make_unique<AllocationService>(*store_, *outbox_, clock, std::move(rules), kSecret);
  }
  pbr::v1::IntakeItemResult Send(const pbr::v1::IntakeItem& item) {
    pbr::v1::IntakeItemResult result;
    absl::Status st;
    if (item.has_assessment()) {
      auto reply = service_->Record(item.assessment(), "trace-bulk");
      if (reply.ok()) *result.mutable_assessment() = *reply;
      st = reply.status();
    } else if (item.has_care_event()) {
      auto reply = service_->RecordCareEvent(item.care_event(), "trace-bulk");
      if (reply.ok()) *result.mutable_care_event() = *reply;
      st = reply.status();
    } else {
      st = absl::InvalidArgumentError("item: neither an assessment nor a care event");
    }
    result.set_code(static_cast<int>(st.code()));
    result.set_message(std::string(st.message()));
    return result;
  }
  platform::Store& store() { return *store_; }

 private:
  pbr::testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::unique_ptr<AllocationService> service_;
};

// Every family's contents, family by family, but the outbox's own bookkeeping (sequence numbers).
std::map<std::string, std::map<std::string, std::string>> Contents(platform::Store& store) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const std::string& family : AllocationFamilies()) {
    EXPECT_TRUE(store.Scan(family, "", [&](absl::string_view k, absl::string_view v) {
      out[family][std::string(k)] = std::string(v);
      return true;
    }).ok());
  }
  return out;
}

class BulkIntakeTest : public AllocationFixture {};

TEST_F(BulkIntakeTest, EachItemIsAnsweredAsTheSingleCallWouldAnswerItInOrder) {
  const std::vector<pbr::v1::IntakeItem> items = MixedHistory();
  pbr::v1::IntakeBatch batch;
  batch.set_sequence(7);
  for (const auto& item : items) *batch.add_items() = item;
  auto result = service_->RecordBatch(batch, "trace-bulk");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sequence(), 7u);
  ASSERT_EQ(result->results_size(), static_cast<int>(items.size()));

  SingleCalls single(clock_, rules_);
  for (size_t i = 0; i < items.size(); ++i) {
    const pbr::v1::IntakeItemResult expected = single.Send(items[i]);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(result->results(static_cast<int>(i)), expected))
        << "item " << i << ":\n" << result->results(static_cast<int>(i)).DebugString() << "vs single call:\n"
        << expected.DebugString();
  }
  // What was recorded, and what is to be published, is the same record for record.
  const auto bulk = Contents(*store_);
  const auto one_by_one = Contents(single.store());
  using FamilyContents = std::map<std::string, std::string>;
  for (const std::string& family : AllocationFamilies()) {
    if (absl::StartsWith(family, "outbox")) continue;  // keyed by each store's own sequence
    const FamilyContents none;
    const FamilyContents& in_bulk = bulk.count(family) ? bulk.at(family) : none;
    const FamilyContents& in_single = one_by_one.count(family) ? one_by_one.at(family) : none;
    EXPECT_EQ(in_bulk, in_single) << family;
  }
  auto published = [](platform::Store& store) {
    std::vector<std::string> values;
    const auto pending = platform::Outbox::ReadPending(store);
    EXPECT_TRUE(pending.ok()) << pending.status();
    if (pending.ok()) {
      for (const auto& p : *pending) values.push_back(p.topic + " " + p.value);
    }
    return values;
  };
  EXPECT_EQ(published(*store_), published(single.store()));
  EXPECT_EQ(Pending("assessment-recorded").size(), 3u);
  EXPECT_EQ(Pending("care-event-recorded").size(), 2u);

  // The refusals name what was wrong, as the single calls do.
  EXPECT_EQ(result->results(2).assessment().duplicate(), true);
  EXPECT_EQ(result->results(3).code(), static_cast<int>(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(result->results(4).message(), HasSubstr("nhs_number"));
  EXPECT_EQ(result->results(8).code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  // The review saw the initial assessment staged earlier in the same batch.
  EXPECT_EQ(result->results(6).assessment().episode_id(), result->results(1).assessment().episode_id());
}

TEST_F(BulkIntakeTest, ARefusedItemLeavesNothingAndTheNextItemsGoOn) {
  pbr::v1::IntakeBatch batch;
  *batch.add_items() = Item(Assessment("a-1", Day(2026, 3, 2), 4, pbr::v1::ASSESSMENT_REASON_INITIAL));
  // The same person under another local id in the same EPR: refused after its local id was looked at.
  auto conflicting = Assessment("a-2", Day(2026, 4, 2), 4, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  conflicting.set_local_patient_id("L-other");
  *batch.add_items() = Item(conflicting);
  *batch.add_items() = Item(Assessment("a-3", Day(2026, 5, 2), 4, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW));
  auto result = service_->RecordBatch(batch, "");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->results(0).code(), 0);
  EXPECT_EQ(result->results(1).code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(result->results(1).message(), HasSubstr("local_patient_id"));
  EXPECT_EQ(result->results(2).code(), 0) << result->results(2).message();
  EXPECT_EQ(Pending("assessment-recorded").size(), 2u);
  EXPECT_FALSE(store_->Get(kLocalIdsFamily, "epr-north\x1fL-other")->has_value());
  pbr::v1::ListRequest list;
  list.set_person_id(platform::KeyedHash(kSecret, kNhsNumber));
  auto assessments = service_->ListAssessments(list);
  ASSERT_TRUE(assessments.ok()) << assessments.status();
  EXPECT_EQ(assessments->assessments_size(), 2);
}

TEST_F(BulkIntakeTest, ABatchHoldsOneToAThousandItems) {
  pbr::v1::IntakeBatch empty;
  auto none = service_->RecordBatch(empty, "");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(), HasSubstr("items: 0 items"));
  pbr::v1::IntakeBatch big;
  for (int i = 0; i <= services::limits::kMaxIntakeBatchItems; ++i) {
    *big.add_items() = Item(Assessment(absl::StrCat("a-", i), Day(2026, 3, 2), 4, pbr::v1::ASSESSMENT_REASON_INITIAL));
  }
  auto too_many = service_->RecordBatch(big, "");
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_many.status().message(), HasSubstr("items: 1001 items"));
  EXPECT_TRUE(Pending("assessment-recorded").empty());
}

TEST_F(BulkIntakeTest, AFeedRecordsOnlyItsOwnSourceSystemsItems) {
  platform::Caller feed;
  feed.authenticated = true;
  feed.role = "epr-feed";
  feed.source_system = "epr-north";
  pbr::v1::IntakeBatch batch;
  *batch.add_items() = Item(Assessment("a-1", Day(2026, 3, 2), 4, pbr::v1::ASSESSMENT_REASON_INITIAL));
  auto foreign = Assessment("s-1", Day(2026, 3, 2), 3, pbr::v1::ASSESSMENT_REASON_INITIAL, kOtherNhsNumber);
  foreign.set_source_system("epr-south");
  *batch.add_items() = Item(foreign);
  auto result = service_->RecordBatch(batch, "", &feed);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->results(0).code(), 0);
  EXPECT_EQ(result->results(1).code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(result->results(1).message(), HasSubstr("source_system"));
  EXPECT_EQ(Pending("assessment-recorded").size(), 1u);
}

// A store that cannot write (a full disk) fails the batch: nothing of it is kept or answered, and
// the same batch sent again once there is room is recorded whole.
TEST(BulkIntakeStoreTest, AStoreThatCannotWriteFailsTheWholeBatchAndASecondSendRecordsIt) {
  pbr::testing::TempDir dir;
  auto free_bytes = std::make_shared<std::atomic<uint64_t>>(1ull << 40);
  platform::StoreOptions options;
  options.free_bytes = [free_bytes](const std::string&) -> absl::StatusOr<uint64_t> { return free_bytes->load(); };
  auto store = platform::Store::Open(dir.path(), AllocationFamilies(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto outbox = *platform::Outbox::Open(**store, platform::KafkaSettings{}, nullptr);
  auto rules = services::LoadRules(PBR_RULES_DIR);
  ASSERT_TRUE(rules.ok()) << rules.status();
  platform::ManualClock clock(Day(2026, 11, 22));
  AllocationService service(**store, *outbox, clock, *rules, kSecret);

  pbr::v1::IntakeBatch batch;
  *batch.add_items() = Item(Assessment("a-1", Day(2026, 3, 2), 4, pbr::v1::ASSESSMENT_REASON_INITIAL));
  *batch.add_items() = Item(Assessment("b-1", Day(2026, 3, 5), 3, pbr::v1::ASSESSMENT_REASON_INITIAL, kOtherNhsNumber));
  free_bytes->store(1 << 20);  // below the store's reserve
  auto refused = service.RecordBatch(batch, "");
  EXPECT_TRUE(platform::IsStoreRefusal(refused.status())) << refused.status();
  EXPECT_TRUE(platform::Outbox::ReadPending(**store)->empty());
  EXPECT_FALSE((*store)->Get(kPersonsFamily, platform::KeyedHash(kSecret, kNhsNumber))->has_value());

  free_bytes->store(1ull << 40);
  ASSERT_TRUE((*store)->CheckWritable().ok());
  auto recorded = service.RecordBatch(batch, "");
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->results(0).code(), 0);
  EXPECT_FALSE(recorded->results(0).assessment().duplicate());
  EXPECT_EQ(recorded->results(1).code(), 0);
  EXPECT_EQ(platform::Outbox::ReadPending(**store)->size(), 4u);  // two assessments, two cluster starts
}

}  // namespace
}  // namespace pbr::allocation
