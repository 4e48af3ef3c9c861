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
// "<person>/<assessment_id>" -> pbr.state.v1.OutcomeAssessment: the revision last applied and the
// key of its outcome, so an amendment (which may move assessed_at) replaces rather than adds.
inline constexpr absl::string_view kAssessmentsFamily = "assessments";

class OutcomeRecorder {
 public:
  explicit OutcomeRecorder(std::shared_ptr<const care::RuleSet> rules) : rules_(std::move(rules)) {}
  // Records (or, for a higher revision, replaces) the assessment's outcome and announces it on
  // outcome-recorded; a withdrawal removes the outcome. Stale revisions are skipped.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // The person's live outcomes, oldest first; NOT_FOUND if none.
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
