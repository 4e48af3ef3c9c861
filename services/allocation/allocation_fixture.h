#pragma once
// What allocation's unit tests share: the service over a real store and outbox in a temporary
// directory, on a manual clock, with the shipped rules, and what it has staged to publish.
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "allocation_service.h"
#include "care_bridge.h"
#include "gtest/gtest.h"
#include "platform/clock.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/store.h"
#include "testing/process.h"

namespace pbr::allocation::testing {

inline constexpr char kSecret[] = "a-test-secret-of-some-length";
inline constexpr char kNhsNumber[] = "9434765919";  // valid modulus-11 check digit

// 10:00 UTC on a day.
inline absl::Time Day(int y, int m, int d) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, 10, 0, 0), absl::UTCTimeZone());
}

class AllocationFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), AllocationFamilies());
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
    auto rules = services::LoadRules(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
    service_ = std::make_unique<AllocationService>(*store_, *outbox_, clock_, rules_, kSecret);
  }

  // The events staged for `topic_name`, in the order staged; each keyed by its person.
  std::vector<pbr::v1::EventEnvelope> Pending(absl::string_view topic_name) const {
    std::vector<pbr::v1::EventEnvelope> out;
    const auto pending = platform::Outbox::ReadPending(*store_);
    EXPECT_TRUE(pending.ok());
    if (!pending.ok()) return out;
    for (const auto& p : *pending) {
      if (p.topic != topic_name) continue;
      EXPECT_TRUE(out.emplace_back().ParseFromString(p.value));
      EXPECT_EQ(p.key, out.back().person_id());
    }
    return out;
  }

  pbr::testing::TempDir dir_;
  platform::ManualClock clock_{Day(2026, 11, 22)};
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::shared_ptr<const care::RuleSet> rules_;
  std::unique_ptr<AllocationService> service_;
};

}  // namespace pbr::allocation::testing
