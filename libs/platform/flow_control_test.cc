// Flow control end to end against the embedded broker on loopback: the outbox relay holds its
// events back while a listed consumer group is too far behind, so the broker's retention (5 MiB per
// partition in the embedded broker) never deletes what the group has not applied yet.
#include "platform/flow_control.h"

#include <atomic>
#include <map>
#include <set>
#include <condition_variable>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/consumer.h"
#include "platform/embedded_broker.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "testing/process.h"

namespace pbr::platform {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(30);
constexpr absl::string_view kApplied = "applied";  // event id -> times applied
constexpr int kBulkEvents = 8000;                  // of about 1.6 KB: far more than the broker keeps
constexpr size_t kPadding = 1500;

// A store with an outbox, and a consumer when it applies events.
struct Side {
  pbr::testing::TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<Outbox> outbox;
  KafkaSettings kafka;

  Side(const std::string& bootstrap, std::string group, std::vector<std::string> flow_control_groups = {},
       absl::Duration timeout = absl::Seconds(10),
       std::map<std::string, std::set<std::string>, std::less<>> group_topics = {}) {
    kafka.bootstrap = bootstrap;
    kafka.group_id = std::move(group);
    kafka.flow_control_groups = std::move(flow_control_groups);
    kafka.flow_control_group_topics = std::move(group_topics);
    kafka.timeout = timeout;
    store = *Store::Open(dir.path(), {std::string(kApplied)});
    outbox = *Outbox::Open(*store, kafka, nullptr);
    auto st = outbox->Start();
    EXPECT_TRUE(st.ok()) << st;
  }
  ~Side() { outbox->Stop(absl::Seconds(5)); }

  // Stages events [first, first + n) on `topic`, many to a write as a bulk load does.
  void Publish(int first, int n, absl::string_view topic = topic::kAssessmentRecorded) {
    rocksdb::WriteBatch batch;
    for (int i = first; i < first + n; ++i) {
      auto e = MakeEnvelope(topic::kAssessmentRecorded, DeterministicId("flow", {absl::StrCat(i)}),
                            absl::StrCat("person-", i % 50), absl::Now(), absl::Now(), "test-epr", "");
      e.mutable_assessment_recorded()->set_assessment_id(absl::StrCat("a", i, "-", std::string(kPadding, 'x')));
      outbox->Stage(batch, topic, e);
      if (batch.Count() >= 500) {
        ASSERT_TRUE(store->Write(batch, false).ok());
        batch.Clear();
      }
    }
    ASSERT_TRUE(store->Write(batch, false).ok());
    outbox->Wake();
  }

  // Every applied id, each exactly once.
  void ExpectAppliedOnce(int events) {
    int rows = 0;
    ASSERT_TRUE(store->Scan(kApplied, "", [&](absl::string_view, absl::string_view v) {
      ++rows;
      EXPECT_EQ(v, "1");
      return true;
    }).ok());
    EXPECT_EQ(rows, events);
    for (int i = 0; i < events; ++i) {
      auto v = store->Get(kApplied, DeterministicId("flow", {absl::StrCat(i)}));
      ASSERT_TRUE(v.ok() && v->has_value()) << "event " << i << " never applied";
    }
  }
};

absl::Status AnyPayload(absl::string_view, const pbr::v1::EventEnvelope&) { return absl::OkStatus(); }

// Applies every event once gate() opens; blocks the consumer until then (a group not keeping up).
class GatedHandler {
 public:
  absl::Status operator()(const ConsumedEvent& ev, ApplyContext& ctx) {
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, absl::ToChronoNanoseconds(kDeadline * 2), [this] { return open_; })) {
        return absl::DeadlineExceededError("the test never opened the gate");
      }
    }
    auto v = ctx.store().Get(kApplied, ev.event.event_id());
    if (!v.ok()) return v.status();
    int64_t n = 0;
    if (v->has_value() && !absl::SimpleAtoi(**v, &n)) return absl::DataLossError("bad count");
    ctx.batch().Put(ctx.store().Family(kApplied), ev.event.event_id(), absl::StrCat(n + 1));
    return absl::OkStatus();
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// What the broker holds, as an operator's tools see it.
class BrokerView {
 public:
  explicit BrokerView(std::string bootstrap) : bootstrap_(std::move(bootstrap)) {}
  // [low, high) of a partition; {-1, -1} when unreadable.
  std::pair<int64_t, int64_t> Watermarks(absl::string_view topic, int32_t partition) {
    KafkaHandle rk = Client("flow-test-observer");
    int64_t low = -1, high = -1;
    if (rd_kafka_query_watermark_offsets(rk.get(), std::string(topic).c_str(), partition, &low, &high, 5000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return {-1, -1};
    }
    return {low, high};
  }
  // A group's committed offset on each of `partitions` partitions (-1001: none).
  std::vector<int64_t> Committed(const std::string& group, absl::string_view topic, int partitions) {
    KafkaHandle rk = Client(group);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, std::string(topic).c_str(), p);
    std::vector<int64_t> out(partitions, RD_KAFKA_OFFSET_INVALID);
    if (rd_kafka_committed(rk.get(), list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return out;
  }

 private:
  KafkaHandle Client(const std::string& group) {
    KafkaSettings s;
    s.bootstrap = bootstrap_;
    auto conf = BaseKafkaConf(s);
    EXPECT_TRUE(SetKafkaProperty(conf->get(), "group.id", group).ok());
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err);
    EXPECT_NE(rk, nullptr) << err;
    conf->release();
    return KafkaHandle(rk);
  }
  std::string bootstrap_;
};

class FlowControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = EmbeddedBroker::Start(1, "");  // one partition: the whole load on one log
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = *std::move(b);
  }
  const std::string topic_ = std::string(topic::kAssessmentRecorded);
  std::unique_ptr<EmbeddedBroker> broker_;
  ManualClock clock_{absl::Now()};
};

TEST_F(FlowControlTest, ABulkLoadWaitsForTheSlowestGroupAndNothingIsLost) {
  BrokerView view(broker_->bootstrap());
  Side producer(broker_->bootstrap(), "producer", {"readers"});
  Side reader(broker_->bootstrap(), "readers");
  GatedHandler gate;
  Consumer consumer(*reader.store, *reader.outbox, reader.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, [&](const ConsumedEvent& ev, ApplyContext& ctx) { return gate(ev, ctx); });
  absl::Status fatal;
  std::atomic<bool> stopped{false};
  ASSERT_TRUE(consumer.Start([&](const absl::Status& s) {
    fatal = s;
    stopped = true;
  }).ok());
  // The group shows where it stands as soon as it is assigned the partition.
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return view.Committed("readers", topic_, 1)[0] == 0; }, kDeadline));

  producer.Publish(0, kBulkEvents);
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return producer.outbox->held_back(); }, kDeadline));
  // Held within the bound: never more of the log ahead of the group than 4 MiB, nothing deleted.
  const int64_t bound = (int64_t{4} << 20) / static_cast<int64_t>(kPadding);
  auto over_bound = [&] { return view.Watermarks(topic_, 0).second > bound; };
  EXPECT_FALSE(pbr::testing::WaitUntil(over_bound, absl::Seconds(1)));
  const auto [low, high] = view.Watermarks(topic_, 0);
  EXPECT_EQ(low, 0);
  EXPECT_GT(high, 0);
  EXPECT_LT(high, kBulkEvents);
  EXPECT_TRUE(producer.outbox->held_back());
  EXPECT_GT(producer.outbox->depth(), 0);

  // The group catches up; the relay follows it by itself, and every event arrives once.
  gate.Open();
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() >= kBulkEvents || stopped.load(); },
                                      absl::Seconds(60)))
      << "handled " << consumer.handled() << " of " << kBulkEvents;
  ASSERT_FALSE(stopped.load()) << fatal;
  EXPECT_EQ(consumer.handled(), kBulkEvents);
  EXPECT_TRUE(producer.outbox->WaitUntilEmpty(kDeadline));
  EXPECT_TRUE(pbr::testing::WaitUntil([&] { return !producer.outbox->held_back(); }, kDeadline));
  reader.ExpectAppliedOnce(kBulkEvents);
  EXPECT_TRUE(pbr::testing::WaitUntil([&] { return view.Committed("readers", topic_, 1)[0] == kBulkEvents; },
                                      kDeadline));
  consumer.Stop();
}

// A group listed with its topics holds the producer before it has joined or committed anything: a
// load that starts while the consumers are still starting up waits for them (listed by name alone,
// the group would be ignored until its first commit, and the broker would drop the load's start
// before the group ever read it, unnoticed, since the group had no position to miss).
TEST_F(FlowControlTest, AGroupListedWithItsTopicsHoldsTheProducerBeforeItHasJoined) {
  BrokerView view(broker_->bootstrap());
  Side producer(broker_->bootstrap(), "producer", {"late"}, absl::Seconds(10), {{"late", {topic_}}});
  producer.Publish(0, kBulkEvents);
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return producer.outbox->held_back(); }, kDeadline));
  const int64_t bound = (int64_t{4} << 20) / static_cast<int64_t>(kPadding);
  EXPECT_FALSE(pbr::testing::WaitUntil([&] { return view.Watermarks(topic_, 0).second > bound; }, absl::Seconds(1)));
  EXPECT_EQ(view.Watermarks(topic_, 0).first, 0);

  // The group starts late, from the log's start, and gets every event once.
  Side reader(broker_->bootstrap(), "late");
  GatedHandler gate;
  gate.Open();
  Consumer consumer(*reader.store, *reader.outbox, reader.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, [&](const ConsumedEvent& ev, ApplyContext& ctx) { return gate(ev, ctx); });
  absl::Status fatal;
  std::atomic<bool> stopped{false};
  ASSERT_TRUE(consumer.Start([&](const absl::Status& s) {
    fatal = s;
    stopped = true;
  }).ok());
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() >= kBulkEvents || stopped.load(); },
                                      absl::Seconds(60)))
      << "handled " << consumer.handled() << " of " << kBulkEvents;
  ASSERT_FALSE(stopped.load()) << fatal;
  // (The broker may drop the log's start now: the group has read past it.)
  reader.ExpectAppliedOnce(kBulkEvents);
  EXPECT_TRUE(producer.outbox->WaitUntilEmpty(kDeadline));
  consumer.Stop();
}

TEST_F(FlowControlTest, WithoutFlowControlTheSameLoadOutrunsTheBrokersRetention) {
  // What the test above guards against: the broker deletes the oldest data a slow group never read.
  BrokerView view(broker_->bootstrap());
  Side producer(broker_->bootstrap(), "producer");
  producer.Publish(0, kBulkEvents);
  // (WaitUntilEmpty alone could see the depth before the relay's first pass.)
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return view.Watermarks(topic_, 0).second == kBulkEvents; }, kDeadline));
  EXPECT_TRUE(producer.outbox->WaitUntilEmpty(kDeadline));
  EXPECT_FALSE(producer.outbox->held_back());
  const auto [low, high] = view.Watermarks(topic_, 0);
  EXPECT_GT(low, 0) << "the broker kept everything: the flow-control test proves nothing";
}

TEST_F(FlowControlTest, AGroupThatDoesNotReadATopicDoesNotHoldItBack) {
  BrokerView view(broker_->bootstrap());
  // "readers" reads assessment-recorded (and is stuck on it); nobody listed reads the dead-letter
  // topic, and "never-started" reads nothing at all.
  Side reader(broker_->bootstrap(), "readers");
  GatedHandler gate;
  Consumer consumer(*reader.store, *reader.outbox, reader.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, [&](const ConsumedEvent& ev, ApplyContext& ctx) { return gate(ev, ctx); });
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return view.Committed("readers", topic_, 1)[0] == 0; }, kDeadline));

  Side producer(broker_->bootstrap(), "producer", {"readers", "never-started"});
  constexpr int kEvents = 3000;  // about 4.8 MB: more than the bound, were it counted
  producer.Publish(0, kEvents, topic::kDeadLetter);
  EXPECT_TRUE(pbr::testing::WaitUntil([&] { return view.Watermarks(topic::kDeadLetter, 0).second == kEvents; }, kDeadline))
      << "depth " << producer.outbox->depth();
  EXPECT_TRUE(producer.outbox->WaitUntilEmpty(kDeadline));
  EXPECT_FALSE(producer.outbox->held_back());
  // The topic "readers" does read is bounded all the same.
  producer.Publish(kEvents, kEvents);
  EXPECT_TRUE(pbr::testing::WaitUntil([&] { return producer.outbox->held_back(); }, kDeadline));
  gate.Open();
  EXPECT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() == kEvents; }, kDeadline))
      << "handled " << consumer.handled() << ", depth " << producer.outbox->depth();
  EXPECT_TRUE(producer.outbox->WaitUntilEmpty(kDeadline));
  consumer.Stop();
}

TEST_F(FlowControlTest, UnreadableOffsetsHoldEverythingBack) {
  // Nothing listens on port 1: neither the offsets nor the broker's answer can be had.
  Side producer("127.0.0.1:1", "producer", {"readers"}, absl::Milliseconds(300));
  producer.Publish(0, 10);
  EXPECT_TRUE(pbr::testing::WaitUntil([&] { return producer.outbox->held_back(); }, kDeadline));
  EXPECT_EQ(producer.outbox->depth(), 10);
}

TEST(ConsumerCommitTest, AGroupCommitsEveryPartitionItReadsAndWhatItApplied) {
  auto b = EmbeddedBroker::Start(6, "");
  ASSERT_TRUE(b.ok()) << b.status();
  auto broker = *std::move(b);
  BrokerView view(broker->bootstrap());
  const std::string topic(topic::kAssessmentRecorded);
  Side producer(broker->bootstrap(), "producer");
  Side reader(broker->bootstrap(), "appliers");
  ManualClock clock(absl::Now());
  GatedHandler gate;
  gate.Open();
  Consumer consumer(*reader.store, *reader.outbox, reader.kafka, nullptr, clock);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, [&](const ConsumedEvent& ev, ApplyContext& ctx) { return gate(ev, ctx); });
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  // On assignment: an offset on every partition, none applied yet.
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return view.Committed("appliers", topic, 6) == std::vector<int64_t>(6, 0); },
                                      kDeadline));
  constexpr int kEvents = 120;
  producer.Publish(0, kEvents);
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() == kEvents; }, kDeadline));
  // After each write: the next offset of every partition it moved, which is the log's end.
  ASSERT_TRUE(pbr::testing::WaitUntil(
      [&] {
        const auto committed = view.Committed("appliers", topic, 6);
        for (int p = 0; p < 6; ++p) {
          if (committed[p] != view.Watermarks(topic, p).second) return false;
        }
        return true;
      },
      kDeadline));
  consumer.Stop();
}

}  // namespace
}  // namespace pbr::platform
