// libFuzzer target: the event envelope decoder with the shared payload validation every consumer
// applies before its handlers (services/common/event_rules.h). The first byte picks the topic the
// event arrived on (an index into the platform's topics; past the end: the topic its event_type
// names); the rest is the serialized pbr.v1.EventEnvelope.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "care/rules.h"
#include "care_bridge.h"
#include "shipped_rules.h"
#include "event_rules.h"
#include "pbr/v1/events.pb.h"
#include "platform/events.h"

namespace {

const care::RuleSet& Rules() { return ShippedRules(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const care::RuleSet& rules = Rules();
  const size_t pick = data[0];
  pbr::v1::EventEnvelope event;
  if (!event.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
  constexpr size_t kTopics = sizeof(pbr::platform::topic::kAll) / sizeof(pbr::platform::topic::kAll[0]);
  const std::string topic = pick < kTopics ? std::string(pbr::platform::topic::kAll[pick]) : event.event_type();
  (void)pbr::services::ValidateEvent(rules, topic, event);
  return 0;
}
