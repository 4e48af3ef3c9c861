#pragma once
// The shared rules for an event's content. Every consumer checks each event with ValidateEvent
// before its handler sees it (ServiceHost::ValidateEventsWith), and allocation checks each event it
// builds before staging it, so an event is acceptable everywhere or dead-lettered everywhere with
// the same reason. The rules are the ones intake applies (field_rules.h, field_limits.h), minus what
// depends on "now" or on a service's own state, so every consumer decides alike.
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "care/rules.h"
#include "pbr/v1/events.pb.h"
#include "platform/consumer.h"
#include "platform/outbox.h"

namespace pbr::services {

// OK, or InvalidArgument listing every problem, each naming its field ("person_id: required",
// "assessment_recorded.cluster: 99 is not a care cluster (0-21)"). `topic_name` is without the
// environment's prefix. Checks the envelope (ids, person, times, type and payload matching the
// topic) and the payload of each type. A withdrawal (assessment_recorded.withdrawn, and likewise a
// withdrawn care event, outcome or review completion) carries the content as last recorded,
// possibly under older rules: only its identity and bounds are checked.
absl::Status ValidateEvent(const care::RuleSet& rules, absl::string_view topic_name,
                           const pbr::v1::EventEnvelope& event);

// Stages `event` on `topic_name` in `batch` once it passes ValidateEvent, so nothing a producer
// publishes is refused downstream; a failure is the producer's bug (Internal), and nothing is staged.
absl::Status StageChecked(platform::Outbox& outbox, const care::RuleSet& rules, rocksdb::WriteBatchBase& batch,
                          absl::string_view topic_name, const pbr::v1::EventEnvelope& event);

// ValidateEvent as the consumer's validator: host.ValidateEventsWith(SharedEventRules(rules)).
platform::EventValidator SharedEventRules(std::shared_ptr<const care::RuleSet> rules);

}  // namespace pbr::services
