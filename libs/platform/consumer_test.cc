// Integration tests of the consumer and the outbox relay against the embedded broker on loopback.
#include "platform/consumer.h"

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/embedded_broker.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/topic_admin.h"
#include "testing/process.h"

namespace pbr::platform {
namespace {

using ::testing::HasSubstr;
constexpr absl::Duration kDeadline = absl::Seconds(30);
constexpr absl::string_view kCounts = "counts";

// One side of the test: a store with an outbox, optionally consuming.
struct Node {
  pbr::testing::TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<Outbox> outbox;
  KafkaSettings kafka;

  Node(const EmbeddedBroker& broker, std::string group, StoreOptions options = {}, bool journal = false) {
    kafka.bootstrap = broker.bootstrap();
    kafka.group_id = std::move(group);
    std::vector<std::string> families = {std::string(kCounts)};
    if (journal) families.emplace_back(kJournalFamily);
    store = *Store::Open(dir.path(), families, std::move(options));
    outbox = *Outbox::Open(*store, kafka, nullptr);
    if (journal) outbox->KeepJournal();
    auto st = outbox->Start();
    EXPECT_TRUE(st.ok()) << st;
  }
  ~Node() { outbox->Stop(absl::Seconds(5)); }

  void Publish(const pbr::v1::EventEnvelope& e, absl::string_view topic = topic::kAssessmentRecorded) {
    rocksdb::WriteBatch batch;
    outbox->Stage(batch, topic, e);
    ASSERT_TRUE(store->Write(batch, false).ok());
    outbox->Wake();
  }
  int64_t Count(const std::string& person) const {
    auto v = store->Get(kCounts, person);
    int64_t n = 0;
    if (v.ok() && v->has_value()) {
      EXPECT_TRUE(absl::SimpleAtoi(**v, &n));
    }
    return n;
  }
  int64_t Total() const {
    int64_t total = 0;
    EXPECT_TRUE(store->Scan(kCounts, "", [&](absl::string_view, absl::string_view v) {
      int64_t n = 0;
      EXPECT_TRUE(absl::SimpleAtoi(v, &n));
      total += n;
      return true;
    }).ok());
    return total;
  }
};

pbr::v1::EventEnvelope Assessment(int i) {
  auto e = MakeEnvelope(topic::kAssessmentRecorded, DeterministicId("test", {absl::StrCat(i)}),
                        absl::StrCat("person-", i % 7), absl::Now(), absl::Now(), "test-epr", "");
  e.mutable_assessment_recorded()->set_assessment_id(absl::StrCat("a", i));
  return e;
}

// Counts assessments per person: read, add one, write into the message's batch.
absl::Status CountPerPerson(const ConsumedEvent& ev, ApplyContext& ctx) {
  auto v = ctx.store().Get(kCounts, ev.event.person_id());
  if (!v.ok()) return v.status();
  int64_t n = 0;
  if (v->has_value() && !absl::SimpleAtoi(**v, &n)) return absl::DataLossError("bad count");
  if (ev.event.assessment_recorded().assessment_id() == "reject-me") {
    return absl::InvalidArgumentError("assessment_id: reject-me is not acceptable");
  }
  ctx.batch().Put(ctx.store().Family(kCounts), ev.event.person_id(), absl::StrCat(n + 1));
  return absl::OkStatus();
}

// These tests are about delivery, not content: every payload passes (services use the shared rules).
absl::Status AnyPayload(absl::string_view, const pbr::v1::EventEnvelope&) { return absl::OkStatus(); }

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = EmbeddedBroker::Start(6, "");
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = *std::move(b);
  }
  std::unique_ptr<EmbeddedBroker> broker_;
  ManualClock clock_{absl::Now()};
};

// Assessment(i) for i < events, each counted once under its person (person-<i mod 7>).
void ExpectCountsPerPerson(Node& service, int events) {
  for (int p = 0; p < 7; ++p) {
    int expected = 0;
    for (int i = 0; i < events; ++i) expected += (i % 7 == p);
    EXPECT_EQ(service.Count(absl::StrCat("person-", p)), expected) << p;
  }
}

TEST_F(ConsumerTest, AppliesEveryEventExactlyOnceEvenWhenResent) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "counting");
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());

  constexpr int kEvents = 200;
  for (int i = 0; i < kEvents; ++i) upstream.Publish(Assessment(i));
  // A restarted producer re-sends what it had not seen acknowledged: same ids, new messages.
  for (int i = 0; i < kEvents; i += 3) upstream.Publish(Assessment(i));
  const int64_t messages = kEvents + (kEvents + 2) / 3;
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() == messages; }, kDeadline))
      << "handled " << consumer.handled() << " of " << messages;
  EXPECT_EQ(service.Total(), kEvents);
  ExpectCountsPerPerson(service, kEvents);
  EXPECT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline));
}

TEST_F(ConsumerTest, ABacklogIsAppliedInRunsEachMessageSeeingTheOnesBeforeIt) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "backlog");
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) {
    if (i == 150) {
      auto refused = Assessment(1000);
      refused.mutable_assessment_recorded()->set_assessment_id("a-refused");
      upstream.Publish(refused);
    }
    upstream.Publish(Assessment(i));
    if (i % 50 == 0) upstream.Publish(Assessment(i));  // a re-send inside the same run
  }
  const int64_t messages = kEvents + 1 + (kEvents + 49) / 50;
  // All of it is on the broker before the consumer starts: a restart's backlog.
  ASSERT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline));
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, [](const ConsumedEvent& ev, ApplyContext& ctx) -> absl::Status {
    if (ev.event.assessment_recorded().assessment_id() == "a-refused") {
      // Counted, then refused: nothing of it may stay in the run.
      if (auto st = CountPerPerson(ev, ctx); !st.ok()) return st;
      return absl::InvalidArgumentError("assessment_id: refused");
    }
    return CountPerPerson(ev, ctx);
  });
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() == messages; }, kDeadline))
      << "handled " << consumer.handled() << " of " << messages;
  // Each count read what the messages before it in its run had added: exact, not one per run.
  EXPECT_EQ(service.Total(), kEvents);
  ExpectCountsPerPerson(service, kEvents);
  EXPECT_LT(consumer.writes(), messages / 4) << "the backlog was not applied in runs";
  EXPECT_GE(consumer.writes(), 1);
}

TEST_F(ConsumerTest, StateAndOffsetCommitTogetherSoARestartResumesExactly) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "resuming");
  constexpr int kEvents = 120;
  for (int i = 0; i < kEvents; ++i) upstream.Publish(Assessment(i));

  // First life: a storage failure on the 50th distinct event stops the consumer mid-stream.
  std::atomic<int> applied{0};
  absl::Status fatal;
  std::atomic<bool> stopped{false};
  {
    Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
    consumer.ValidateWith(AnyPayload);
    consumer.On(topic::kAssessmentRecorded, [&](const ConsumedEvent& ev, ApplyContext& ctx) {
      if (applied.load() == 50) return absl::UnavailableError("disk went away");
      ++applied;
      return CountPerPerson(ev, ctx);
    });
    ASSERT_TRUE(consumer.Start([&](const absl::Status& s) {
      fatal = s;
      stopped = true;
    }).ok());
    ASSERT_TRUE(pbr::testing::WaitUntil([&] { return stopped.load(); }, kDeadline));
  }
  EXPECT_THAT(fatal.ToString(), HasSubstr("disk went away"));
  const int64_t before = service.Total();
  EXPECT_EQ(before, 50);  // nothing of the failed message was kept

  // Second life: it seeks to the stored offsets, so it reads only what was not applied.
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return service.Total() == kEvents; }, kDeadline))
      << service.Total();
  EXPECT_EQ(consumer.handled(), kEvents - before);
}

// The dashboard's "figures are behind" warning reads progress(): after a restart with nothing new on the
// topics, the lag is what is left to apply (none), not each partition's whole log.
TEST_F(ConsumerTest, ARestartedConsumerWithNothingNewReportsNoLag) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "lagging");
  constexpr int kEvents = 60;
  for (int i = 0; i < kEvents; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline));
  {
    Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
    consumer.ValidateWith(AnyPayload);
    consumer.On(topic::kAssessmentRecorded, CountPerPerson);
    ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
    ASSERT_TRUE(pbr::testing::WaitUntil([&] { return service.Total() == kEvents; }, kDeadline)) << service.Total();
  }
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  Consumer::Progress p;
  ASSERT_TRUE(pbr::testing::WaitUntil([&] {
    p = consumer.progress();
    return p.caught_up && p.lag.has_value() && *p.lag == 0;
  }, kDeadline)) << "caught up " << p.caught_up << ", lag " << (p.lag.has_value() ? absl::StrCat(*p.lag) : "unmeasured");
  EXPECT_EQ(consumer.handled(), 0);
  // A new message is lag until applied, then none again.
  upstream.Publish(Assessment(kEvents));
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() == 1; }, kDeadline));
  ASSERT_TRUE(pbr::testing::WaitUntil([&] {
    p = consumer.progress();
    return p.lag.has_value() && *p.lag == 0 && p.lag_measured_at > p.last_write_at;
  }, kDeadline)) << "lag " << (p.lag.has_value() ? absl::StrCat(*p.lag) : "unmeasured");
}

TEST_F(ConsumerTest, BadMessagesGoToTheDeadLetterTopicWithTheirReason) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "strict");
  Node watcher(*broker_, "dead-letter-watcher");
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());

  std::mutex mu;
  std::vector<std::string> reasons;
  Consumer dead_letters(*watcher.store, *watcher.outbox, watcher.kafka, nullptr, clock_);
  dead_letters.ValidateWith(AnyPayload);
  dead_letters.On(topic::kDeadLetter, [&](const ConsumedEvent& ev, ApplyContext&) {
    std::lock_guard lock(mu);
    reasons.push_back(ev.event.dead_letter().reason() + " @" + ev.event.dead_letter().topic());
    if (ev.event.dead_letter().original_value_size() > 900'000) {
      EXPECT_TRUE(ev.event.dead_letter().original_value_truncated());
      EXPECT_LE(ev.event.dead_letter().original_value().size(), 256u << 10);
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(dead_letters.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());

  {
    rocksdb::WriteBatch batch;
    // Near the broker's message limit: its dead letter must still fit, so it carries a prefix.
    upstream.outbox->StageRaw(batch, topic::kAssessmentRecorded, "person-x", "\xff\xff not protobuf" + std::string(999'000, 'x'));
    ASSERT_TRUE(upstream.store->Write(batch, false).ok());
  }
  auto rejected = Assessment(1);
  rejected.mutable_assessment_recorded()->set_assessment_id("reject-me");
  rejected.set_event_id("reject-me-id");
  upstream.Publish(rejected);
  auto wrong_topic = Assessment(2);
  wrong_topic.mutable_outcome_recorded();  // an outcome payload on the assessment topic
  upstream.Publish(wrong_topic);
  auto future = Assessment(3);
  future.set_schema_version(kSchemaVersion + 1);
  upstream.Publish(future);
  upstream.Publish(Assessment(4));

  ASSERT_TRUE(pbr::testing::WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return reasons.size() == 4;
      },
      kDeadline));
  EXPECT_EQ(service.Total(), 1);
  std::lock_guard lock(mu);
  EXPECT_THAT(reasons, ::testing::UnorderedElementsAre(
                           HasSubstr("undecodable"), HasSubstr("rejected: assessment_id: reject-me"),
                           HasSubstr("unknown-type: payload 'outcome-recorded'"), HasSubstr("unsupported: schema_version 2")));
}

// A handler about to publish what the shared rules refuse applies nothing: its input is
// dead-lettered with the reason, and a periodic task's pass is dropped, so nothing invalid leaves.
TEST_F(ConsumerTest, AnEventTheRulesRefuseIsNeverPublished) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "publishing");
  Node watcher(*broker_, "dead-letter-watcher-2");
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  // The rules refuse outcome events for "bad" people.
  consumer.ValidateWith([](absl::string_view topic_name, const pbr::v1::EventEnvelope& e) {
    if (topic_name == topic::kOutcomeRecorded && e.person_id() == "bad") {
      return absl::InvalidArgumentError("outcome_recorded.assessment_id: bad");
    }
    return absl::OkStatus();
  });
  auto emit_outcome = [](const std::string& person, ApplyContext& ctx) {
    auto out = MakeEnvelope(topic::kOutcomeRecorded, DeterministicId("outcome", {person, absl::StrCat(absl::ToUnixNanos(ctx.now()))}),
                            person, ctx.now(), ctx.now(), "", "");
    out.mutable_outcome_recorded()->set_assessment_id("a");
    ctx.Emit(topic::kOutcomeRecorded, out);
  };
  consumer.On(topic::kAssessmentRecorded, [&](const ConsumedEvent& ev, ApplyContext& ctx) {
    if (auto st = CountPerPerson(ev, ctx); !st.ok()) return st;
    emit_outcome(ev.event.assessment_recorded().assessment_id() == "a-bad" ? "bad" : "good", ctx);
    return absl::OkStatus();
  });
  std::atomic<int> passes{0};
  consumer.Every(absl::Milliseconds(1), [&](ApplyContext& ctx) {
    ++passes;
    ctx.batch().Put(ctx.store().Family(kCounts), "task", "1");
    emit_outcome("bad", ctx);
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  std::mutex mu;
  std::vector<std::string> reasons;
  Consumer dead_letters(*watcher.store, *watcher.outbox, watcher.kafka, nullptr, clock_);
  dead_letters.ValidateWith(AnyPayload);
  dead_letters.On(topic::kDeadLetter, [&](const ConsumedEvent& ev, ApplyContext&) {
    std::lock_guard lock(mu);
    reasons.push_back(ev.event.dead_letter().reason());
    return absl::OkStatus();
  });
  ASSERT_TRUE(dead_letters.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());

  auto bad = Assessment(1);
  bad.mutable_assessment_recorded()->set_assessment_id("a-bad");
  upstream.Publish(bad);
  upstream.Publish(Assessment(2));
  ASSERT_TRUE(pbr::testing::WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return reasons.size() == 1 && consumer.handled() == 2 && passes > 2;
      },
      kDeadline));
  EXPECT_EQ(service.Total(), 1);  // the good one; neither the bad one nor any task pass
  EXPECT_EQ(service.Count("task"), 0);
  std::lock_guard lock(mu);
  EXPECT_THAT(reasons, ::testing::ElementsAre(HasSubstr(
                           "rejected: would publish an invalid outcome-recorded event: outcome_recorded.assessment_id: bad")));
}

// Two read models on one topic: every message reaches both, in one batch with the offset; one that
// refuses a message dead-letters it with its name, and the other keeps nothing of it either.
TEST_F(ConsumerTest, EachMessageFansOutToEveryHandlerInOneBatch) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "fan-out");
  Node watcher(*broker_, "dead-letter-watcher-3");
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson, "first");
  // The second model counts under its own keys and refuses one assessment.
  consumer.On(
      topic::kAssessmentRecorded,
      [](const ConsumedEvent& ev, ApplyContext& ctx) -> absl::Status {
        if (ev.event.assessment_recorded().assessment_id() == "a-refused") {
          return absl::InvalidArgumentError("assessment_id: refused by the second model");
        }
        auto v = ctx.store().Get(kCounts, "second");
        if (!v.ok()) return v.status();
        int64_t n = 0;
        if (v->has_value() && !absl::SimpleAtoi(**v, &n)) return absl::DataLossError("unreadable");
        ctx.batch().Put(ctx.store().Family(kCounts), "second", absl::StrCat(n + 1));
        return absl::OkStatus();
      },
      "second");
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  std::mutex mu;
  std::vector<std::string> reasons;
  Consumer dead_letters(*watcher.store, *watcher.outbox, watcher.kafka, nullptr, clock_);
  dead_letters.ValidateWith(AnyPayload);
  dead_letters.On(topic::kDeadLetter, [&](const ConsumedEvent& ev, ApplyContext&) {
    std::lock_guard lock(mu);
    reasons.push_back(ev.event.dead_letter().reason());
    return absl::OkStatus();
  });
  ASSERT_TRUE(dead_letters.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());

  for (int i = 0; i < 5; ++i) upstream.Publish(Assessment(i * 7));  // all for person-0
  auto refused = Assessment(100);
  refused.mutable_assessment_recorded()->set_assessment_id("a-refused");
  upstream.Publish(refused);
  ASSERT_TRUE(pbr::testing::WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return reasons.size() == 1 && consumer.handled() == 6;
      },
      kDeadline));
  EXPECT_EQ(service.Count("person-0"), 5);  // the first model: every message but the refused one
  EXPECT_EQ(service.Count("second"), 5);    // the second model: the same messages
  EXPECT_EQ(service.Count("person-2"), 0);  // the refused one's person: the first model kept nothing
  std::lock_guard lock(mu);
  EXPECT_THAT(reasons, ::testing::ElementsAre(HasSubstr("rejected: second: assessment_id: refused by the second model")));
}

TEST_F(ConsumerTest, AValidatorDecidesBeforeTheHandlerAndIsRequired) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "validated");
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  auto refused = consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("no event validator"));

  consumer.ValidateWith([](absl::string_view, const pbr::v1::EventEnvelope& e) {
    return e.person_id() == "person-1" ? absl::InvalidArgumentError("person_id: not this one") : absl::OkStatus();
  });
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  for (int i = 0; i < 14; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() == 14; }, kDeadline)) << consumer.handled();
  EXPECT_EQ(service.Count("person-1"), 0) << "refused by the validator, never applied";
  EXPECT_EQ(service.Total(), 12);
}

TEST_F(ConsumerTest, AStoredOffsetTheBrokerNoLongerHasStopsLoudly) {
  Node service(*broker_, "lost");
  {
    // As after the embedded broker restarted empty: the service remembers offsets it no longer has.
    rocksdb::WriteBatch batch;
    for (int p = 0; p < 6; ++p) {
      batch.Put(service.store->Family(kOffsetsFamily), absl::StrCat(topic::kAssessmentRecorded, "/", p), "1000");
    }
    ASSERT_TRUE(service.store->Write(batch, false).ok());
  }
  absl::Status fatal;
  std::atomic<bool> stopped{false};
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([&](const absl::Status& s) {
    fatal = s;
    stopped = true;
  }).ok());
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return stopped.load(); }, kDeadline));
  EXPECT_EQ(fatal.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(fatal.ToString(), HasSubstr("assessment-recorded partition"));
  EXPECT_THAT(fatal.ToString(), HasSubstr("refusing to reset"));
}

// How many of Assessment(0..39) belong to person-p.
int64_t i_count(int p) {
  int64_t n = 0;
  for (int i = 0; i < 40; ++i) n += (i % 7 == p);
  return n;
}

// Runs a counting consumer on `node` until `done` holds; returns the fatal status, if any.
absl::Status ConsumeUntil(Node& node, const Clock& clock, const std::function<bool()>& done) {
  absl::Status fatal;
  std::atomic<bool> stopped{false};
  Consumer consumer(*node.store, *node.outbox, node.kafka, nullptr, clock);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  EXPECT_TRUE(consumer.Start([&](const absl::Status& s) {
    fatal = s;
    stopped = true;
  }).ok());
  EXPECT_TRUE(pbr::testing::WaitUntil([&] { return stopped.load() || done(); }, kDeadline));
  consumer.Stop();
  return fatal;
}

// The broker is replaced by an empty one that then receives other events: its log under the
// consumer's stored offsets is not the log the consumer applied.
TEST_F(ConsumerTest, ABrokerReplacedByOneWithALongerLogStopsWithDataLossAndSkipsNothing) {
  Node service(*broker_, "replaced-longer");
  {
    Node upstream(*broker_, "unused");
    for (int i = 0; i < 30; ++i) upstream.Publish(Assessment(i));
    ASSERT_TRUE(ConsumeUntil(service, clock_, [&] { return service.Total() == 30; }).ok());
  }
  auto replacement = EmbeddedBroker::Start(6, "");
  ASSERT_TRUE(replacement.ok());
  service.kafka.bootstrap = (*replacement)->bootstrap();
  Node upstream(**replacement, "unused");
  for (int i = 100; i < 190; ++i) upstream.Publish(Assessment(i));  // more than before, in every partition
  ASSERT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline));
  absl::Status fatal = ConsumeUntil(service, clock_, [] { return false; });
  EXPECT_EQ(fatal.code(), absl::StatusCode::kDataLoss) << fatal;
  EXPECT_THAT(fatal.ToString(), HasSubstr("not the log this service consumed"));
  EXPECT_THAT(fatal.ToString(), HasSubstr("assessment-recorded partition"));
  EXPECT_EQ(service.Total(), 30) << "nothing from the other log was applied";
}

// The same, where the cluster id cannot tell (positions stored without one): the message under the
// stored offset is read again and is not the one applied there.
TEST_F(ConsumerTest, ALogThatIsNotTheOneConsumedIsRecognisedByItsLastAppliedMessage) {
  Node service(*broker_, "replaced-same-id");
  {
    Node upstream(*broker_, "unused");
    for (int i = 0; i < 30; ++i) upstream.Publish(Assessment(i));
    ASSERT_TRUE(ConsumeUntil(service, clock_, [&] { return service.Total() == 30; }).ok());
  }
  rocksdb::WriteBatch forget_cluster;
  ASSERT_TRUE(service.store->Scan(kOffsetsFamily, "", [&](absl::string_view k, absl::string_view v) {
    if (k == kAssignedPartitionsKey) return true;
    pbr::state::v1::ConsumedPosition p;
    EXPECT_TRUE(p.ParseFromArray(v.data(), static_cast<int>(v.size())));
    EXPECT_FALSE(p.last_digest().empty());
    p.clear_cluster_id();
    forget_cluster.Put(service.store->Family(kOffsetsFamily), std::string(k), p.SerializeAsString());
    return true;
  }).ok());
  ASSERT_TRUE(service.store->Write(forget_cluster, false).ok());
  auto replacement = EmbeddedBroker::Start(6, "");
  ASSERT_TRUE(replacement.ok());
  service.kafka.bootstrap = (*replacement)->bootstrap();
  Node upstream(**replacement, "unused");
  for (int i = 100; i < 190; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline));
  absl::Status fatal = ConsumeUntil(service, clock_, [] { return false; });
  EXPECT_EQ(fatal.code(), absl::StatusCode::kDataLoss) << fatal;
  EXPECT_THAT(fatal.ToString(), HasSubstr("is not the one this service applied there"));
  EXPECT_EQ(service.Total(), 30);
}

TEST_F(ConsumerTest, ABrokerReplacedByOneWithAShorterLogStopsWithDataLoss) {
  Node service(*broker_, "replaced-shorter");
  {
    Node upstream(*broker_, "unused");
    for (int i = 0; i < 60; ++i) upstream.Publish(Assessment(i));
    ASSERT_TRUE(ConsumeUntil(service, clock_, [&] { return service.Total() == 60; }).ok());
  }
  auto replacement = EmbeddedBroker::Start(6, "");
  ASSERT_TRUE(replacement.ok());
  service.kafka.bootstrap = (*replacement)->bootstrap();
  Node upstream(**replacement, "unused");
  for (int i = 100; i < 103; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline));
  absl::Status fatal = ConsumeUntil(service, clock_, [] { return false; });
  EXPECT_EQ(fatal.code(), absl::StatusCode::kDataLoss) << fatal;
  EXPECT_THAT(fatal.ToString(), HasSubstr("not the log this service consumed"));
  EXPECT_EQ(service.Total(), 60);
}

TEST_F(ConsumerTest, ARestartOnTheSameBrokerChecksItsResumePointAndContinues) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "restarting");
  for (int i = 0; i < 20; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(ConsumeUntil(service, clock_, [&] { return service.Total() == 20; }).ok());
  for (int i = 20; i < 50; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(ConsumeUntil(service, clock_, [&] { return service.Total() == 50; }).ok());
  EXPECT_EQ(service.Total(), 50);
}

// A full disk under a consumer: it pauses at the message it cannot apply, commits nothing, and
// carries on by itself, exactly once, when space returns.
TEST_F(ConsumerTest, AConsumerPausesWhileItsStoreCannotWriteAndResumesByItself) {
  auto free = std::make_shared<std::atomic<uint64_t>>(1ull << 30);
  StoreOptions options;
  options.free_bytes = [free](const std::string&) -> absl::StatusOr<uint64_t> { return free->load(); };
  Node service(*broker_, "full-disk", options);
  Node upstream(*broker_, "unused");
  absl::Status fatal;
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([&](const absl::Status& s) { fatal = s; }).ok());
  for (int i = 0; i < 10; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return service.Total() == 10; }, kDeadline));

  *free = 1ull << 20;  // the disk fills up
  for (int i = 10; i < 40; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.paused(); }, kDeadline));
  EXPECT_EQ(service.Total(), 10) << "nothing is applied while the store cannot write";
  EXPECT_TRUE(fatal.ok()) << "the consumer pauses, it does not stop: " << fatal;

  *free = 1ull << 30;  // space returns
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return service.Total() == 40 && !consumer.paused(); }, kDeadline))
      << service.Total();
  consumer.Stop();
  EXPECT_EQ(service.Total(), 40);
  EXPECT_TRUE(fatal.ok()) << fatal;
}

// A backlog met by a full disk: the run's write is refused, every partition it read from goes back to
// the run's first message there, and once space returns the whole backlog is applied exactly once.
TEST_F(ConsumerTest, ARunTheStoreRefusesIsReadAgainWholeWhenSpaceReturns) {
  auto free = std::make_shared<std::atomic<uint64_t>>(1ull << 30);
  StoreOptions options;
  options.free_bytes = [free](const std::string&) -> absl::StatusOr<uint64_t> { return free->load(); };
  Node service(*broker_, "full-disk-backlog", options);
  Node upstream(*broker_, "unused");
  constexpr int kEvents = 200;
  for (int i = 0; i < kEvents; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline));
  *free = 1ull << 20;  // the service's disk is full before it reads the backlog
  absl::Status fatal;
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([&](const absl::Status& s) { fatal = s; }).ok());
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.paused(); }, kDeadline));
  EXPECT_EQ(service.Total(), 0) << "nothing of a refused run is kept";
  EXPECT_EQ(consumer.handled(), 0);

  *free = 1ull << 30;
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return consumer.handled() == kEvents && !consumer.paused(); }, kDeadline))
      << consumer.handled();
  consumer.Stop();
  EXPECT_EQ(service.Total(), kEvents);
  ExpectCountsPerPerson(service, kEvents);
  EXPECT_TRUE(fatal.ok()) << fatal;
}

// An event over the broker's message limit can never be delivered: it is set aside loudly, and
// neither blocks what comes after it nor is retried for ever.
TEST_F(ConsumerTest, AnEventTheBrokerRefusesForGoodIsSetAsideAndTheRestIsDelivered) {
  Node upstream(*broker_, "unused");
  Node service(*broker_, "after-refusal");
  Consumer consumer(*service.store, *service.outbox, service.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  upstream.Publish(Assessment(1));
  pbr::v1::EventEnvelope huge = Assessment(2);
  huge.mutable_assessment_recorded()->mutable_ratings()->set_item8_other_text(std::string(1'100'000, 'x'));
  upstream.Publish(huge);
  upstream.Publish(Assessment(3));
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return service.Total() == 2; }, kDeadline)) << service.Total();
  ASSERT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline)) << "a refused event must not stay in the outbox";
  EXPECT_EQ(upstream.outbox->undeliverable(), 1);
  int kept = 0;
  ASSERT_TRUE(upstream.store->Scan(kUndeliverableFamily, "", [&](absl::string_view, absl::string_view v) {
    EXPECT_GT(v.size(), 1'100'000u);
    return ++kept, true;
  }).ok());
  EXPECT_EQ(kept, 1);
  // Still reported after a restart, until an operator deals with it.
  upstream.outbox->Stop(absl::Seconds(5));
  auto reopened = Outbox::Open(*upstream.store, upstream.kafka, nullptr);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->undeliverable(), 1);
}

// allocation's recovery path: its journal re-published to an empty broker reproduces every event,
// with the same ids, for a consumer rebuilding from nothing.
TEST_F(ConsumerTest, AJournalRepublishedToANewBrokerRebuildsAConsumerExactly) {
  auto journal_dir = std::make_unique<Node>(*broker_, "unused", StoreOptions{}, /*journal=*/true);
  Node& upstream = *journal_dir;
  for (int i = 0; i < 40; ++i) upstream.Publish(Assessment(i));
  ASSERT_TRUE(upstream.outbox->WaitUntilEmpty(kDeadline));
  upstream.outbox->Stop(absl::Seconds(5));

  auto replacement = EmbeddedBroker::Start(6, "");
  ASSERT_TRUE(replacement.ok());
  upstream.kafka.bootstrap = (*replacement)->bootstrap();
  auto outbox = Outbox::Open(*upstream.store, upstream.kafka, nullptr);
  ASSERT_TRUE(outbox.ok());
  (*outbox)->KeepJournal();
  int64_t reported = 0;
  auto republished = (*outbox)->RepublishJournal([&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 40);
    reported = done;
  });
  ASSERT_TRUE(republished.ok()) << republished.status();
  EXPECT_EQ(*republished, 40);
  EXPECT_EQ(reported, 40);
  ASSERT_TRUE((*outbox)->Start().ok());

  Node rebuilt(**replacement, "rebuilt");
  std::mutex mu;
  std::set<std::string> ids;
  Consumer consumer(*rebuilt.store, *rebuilt.outbox, rebuilt.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, [&](const ConsumedEvent& ev, ApplyContext& ctx) {
    std::lock_guard lock(mu);
    ids.insert(ev.event.event_id());
    return CountPerPerson(ev, ctx);
  });
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return rebuilt.Total() == 40; }, kDeadline)) << rebuilt.Total();
  EXPECT_TRUE((*outbox)->WaitUntilEmpty(kDeadline));
  consumer.Stop();
  (*outbox)->Stop(absl::Seconds(5));
  std::lock_guard lock(mu);
  EXPECT_EQ(ids.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(ids.contains(Assessment(i).event_id())) << i;
  for (int p = 0; p < 7; ++p) EXPECT_EQ(rebuilt.Count(absl::StrCat("person-", p)), i_count(p));
}

TEST_F(ConsumerTest, OutboxKeepsEventsWhileTheBrokerIsAwayAndSendsThemLater) {
  Node service(*broker_, "unused");
  service.outbox->Stop(absl::ZeroDuration());  // as if the broker were unreachable: nothing relays
  for (int i = 0; i < 10; ++i) service.Publish(Assessment(i));
  Node reader(*broker_, "late-reader");
  Consumer consumer(*reader.store, *reader.outbox, reader.kafka, nullptr, clock_);
  consumer.ValidateWith(AnyPayload);
  consumer.On(topic::kAssessmentRecorded, CountPerPerson);
  ASSERT_TRUE(consumer.Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  // Reopening the outbox (a restart) sends what was stored.
  auto reopened = Outbox::Open(*service.store, service.kafka, nullptr);
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE((*reopened)->Start().ok());
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return reader.Total() == 10; }, kDeadline)) << reader.Total();
  EXPECT_TRUE((*reopened)->WaitUntilEmpty(kDeadline));
  (*reopened)->Stop(absl::Seconds(5));
}

// Two consumers with stores of their own in one group split the partitions: each applies and answers
// for its own, a partition that moves is applied by its new owner from that owner's own position (from
// the log's start when it never held it), and each keeps its last assignment in its store.
TEST_F(ConsumerTest, TwoMembersOfAGroupEachApplyAndAnswerForTheirOwnPartitions) {
  Node upstream(*broker_, "unused");
  const std::string topic_name(topic::kAssessmentRecorded);
  absl::StatusOr<std::map<std::pair<std::string, int32_t>, int64_t>> ends;
  // Publishes Assessment(from..to-1) and waits until the log ends hold them all.
  auto publish = [&](int from, int to) {
    for (int i = from; i < to; ++i) upstream.Publish(Assessment(i));
    return pbr::testing::WaitUntil(
        [&] {
          ends = ReadLogEnds(upstream.kafka, {topic_name});
          int64_t n = 0;
          for (const auto& [_, end] : ends.value_or(std::map<std::pair<std::string, int32_t>, int64_t>{})) n += end;
          return n == to;
        },
        kDeadline);
  };
  ASSERT_TRUE(publish(0, 40));

  Node a(*broker_, "shared"), b(*broker_, "shared");
  auto start = [&](Node& n) {
    auto c = std::make_unique<Consumer>(*n.store, *n.outbox, n.kafka, nullptr, clock_);
    c->ValidateWith(AnyPayload);
    c->On(topic::kAssessmentRecorded, CountPerPerson);
    EXPECT_TRUE(c->Start([](const absl::Status& st) { ADD_FAILURE() << st; }).ok());
    return c;
  };
  // The partitions a consumer answers for, once it has applied each to the log's end; empty until then.
  auto settled_share = [&](const Consumer& c) -> std::set<int32_t> {
    auto share = c.Share();
    if (!share.ok() || !share->partitions.has_value()) return {};
    std::map<int32_t, int64_t> applied;
    for (const auto& x : share->applied) {
      EXPECT_EQ(x.topic, topic_name);
      EXPECT_TRUE(share->Answers(x.partition)) << "a position outside the share: " << x.partition;
      applied[x.partition] = x.next_offset;
    }
    for (int32_t p : *share->partitions) {
      if (applied[p] != (*ends)[{topic_name, p}]) return {};
    }
    return *share->partitions;
  };
  auto messages_in = [&](const std::set<int32_t>& partitions) {
    int64_t n = 0;
    for (int32_t p : partitions) n += (*ends)[{topic_name, p}];
    return n;
  };
  const std::set<int32_t> all = {0, 1, 2, 3, 4, 5};

  auto first = start(a);
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return settled_share(*first) == all; }, kDeadline));
  EXPECT_EQ(a.Total(), 40);

  // A second member: the group moves some partitions to it, which it applies from their start.
  auto second = start(b);
  std::set<int32_t> mine, theirs;
  ASSERT_TRUE(pbr::testing::WaitUntil(
      [&] {
        mine = settled_share(*first);
        theirs = settled_share(*second);
        std::set<int32_t> both = mine;
        both.insert(theirs.begin(), theirs.end());
        return !mine.empty() && !theirs.empty() && both == all && mine.size() + theirs.size() == all.size();
      },
      kDeadline));
  EXPECT_EQ(b.Total(), messages_in(theirs)) << "the second member applied exactly its partitions' messages";
  EXPECT_EQ(a.Total(), 40) << "the first keeps what it applied; it no longer answers for the moved partitions";
  auto stored = a.store->Get(kOffsetsFamily, kAssignedPartitionsKey);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  pbr::state::v1::AssignedPartitions kept;
  ASSERT_TRUE(kept.ParseFromString(**stored));
  EXPECT_EQ(std::set<int32_t>(kept.partitions().begin(), kept.partitions().end()), mine);

  // The second leaves; the first takes its partitions back and goes on from its own positions there:
  // the new events once each, nothing the second applied meanwhile counted twice.
  second->Stop();
  ASSERT_TRUE(publish(40, 60));
  auto show = [&](const Consumer& c) {
    auto share = c.Share();
    if (!share.ok()) return std::string(share.status().message());
    std::string out = "assigned:";
    if (share->partitions.has_value()) {
      for (int32_t p : *share->partitions) absl::StrAppend(&out, " ", p);
    }
    for (const auto& x : share->applied) {
      absl::StrAppend(&out, "; ", x.partition, " at ", x.next_offset, " of ", (*ends)[{topic_name, x.partition}]);
    }
    return out;
  };
  ASSERT_TRUE(pbr::testing::WaitUntil([&] { return settled_share(*first) == all; }, kDeadline)) << show(*first);
  ExpectCountsPerPerson(a, 60);
  first->Stop();

  // Restarted, it answers for its last assignment before it has joined the group, never for all it holds;
  // the second, for the half it last had.
  Consumer restarted(*a.store, *a.outbox, a.kafka, nullptr, clock_);
  auto share = restarted.Share();
  ASSERT_TRUE(share.ok()) << share.status();
  EXPECT_EQ(share->partitions, std::optional<std::set<int32_t>>(all));
  Consumer second_restarted(*b.store, *b.outbox, b.kafka, nullptr, clock_);
  share = second_restarted.Share();
  ASSERT_TRUE(share.ok()) << share.status();
  EXPECT_EQ(share->partitions, std::optional<std::set<int32_t>>(theirs));
}

}  // namespace
}  // namespace pbr::platform
