#pragma once
// A read model: the unit a consuming service grows by. A projection names the topics it reads and
// the column families it owns (each "<name>_..."), applies each event it subscribes to into the
// consumer's batch, and answers its own queries. It reads and writes only its own families and
// never another projection's, so read models can be added, rebuilt and tested one at a time.
//
// The consumer fans each message out to every projection that subscribes to its topic, in the
// order they were registered, and commits all their changes, the offset and any outgoing events in
// one WriteBatch: either every projection has applied a message or none has. A projection's
// INVALID_ARGUMENT dead-letters the whole message (no projection keeps any of it), with the
// projection's name and reason; any other error stops the consumer like a handler's.
//
// A projection's stored state is derived with something besides the events (a rule set, a policy), and
// totals derived with two of them cannot be told apart; so a projection says what it derives with
// (derivation()), and the host refuses to start on a store derived with another (ServiceHost::AddProjection).
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "platform/consumer.h"

namespace pbr::platform {

class Projection {
 public:
  virtual ~Projection() = default;
  // Short, lower case, used as the prefix of its families and in dead-letter reasons.
  virtual absl::string_view name() const = 0;
  // Unprefixed topic names it reads.
  virtual std::vector<std::string> topics() const = 0;
  // The families it owns; every one starts with "<name>_" and is in the service's family list.
  virtual std::vector<std::string> families() const = 0;
  // Applies one event of a subscribed topic (event.topic_name says which) into ctx.batch().
  virtual absl::Status Apply(const ConsumedEvent& event, ApplyContext& ctx) const = 0;
  // What its stored state is derived with besides the events, as a short text that changes whenever the
  // state would come out different (e.g. "rules <version>; review-policy sop"). Empty: the events alone.
  virtual std::string derivation() const { return ""; }
};

// Every family of the projections, for RunService's family list (the store is opened with them
// before any projection is built, so a service lists its projections' families up front).
template <typename... Lists>
std::vector<std::string> FamiliesOf(const Lists&... lists) {
  std::vector<std::string> out;
  auto add = [&out](const auto& list) {
    for (const auto& family : list) out.emplace_back(family);
  };
  (add(lists), ...);
  return out;
}

}  // namespace pbr::platform
