#pragma once
// Outcomes: turns each assessment into HoNOS outcome measures and keeps each person's history.
#include <memory>

#include "care/rules.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "platform/consumer.h"
#include "platform/store.h"

namespace pbr::outcomes {

// "<person>/<assessed_at as ordered nanos>/<assessment id>" -> pbr.v1.OutcomeEntry: one person's
// history in time order, read with one prefix scan.
inline constexpr absl::string_view kOutcomesFamily = "outcomes";

class OutcomeRecorder {
 public:
  explicit OutcomeRecorder(std::shared_ptr<const care::RuleSet> rules) : rules_(std::move(rules)) {}
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  static absl::StatusOr<pbr::v1::PersonOutcomes> History(const platform::Store& store, absl::string_view person_id);

 private:
  std::shared_ptr<const care::RuleSet> rules_;
};

class OutcomesApi final : public pbr::v1::Outcomes::Service {
 public:
  explicit OutcomesApi(const platform::Store& store) : store_(store) {}
  grpc::Status GetOutcomes(grpc::ServerContext*, const pbr::v1::GetOutcomesRequest* request,
                           pbr::v1::PersonOutcomes* reply) override;

 private:
  const platform::Store& store_;
};

}  // namespace pbr::outcomes
