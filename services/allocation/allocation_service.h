#pragma once
// Allocation: the front door for every EPR. Validates an assessment, resolves the person to a
// pseudonym, keeps the record and the person's current cluster, and publishes the facts, all in
// one synced WriteBatch before replying, so an acknowledged assessment is never lost.
#include <array>
#include <memory>
#include <mutex>
#include <string>

#include "care/rules.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "platform/clock.h"
#include "platform/outbox.h"
#include "platform/store.h"

namespace pbr::allocation {

inline constexpr absl::string_view kAssessmentsFamily = "assessments";
inline constexpr absl::string_view kPersonsFamily = "persons";

class AllocationService final : public pbr::v1::Allocation::Service {
 public:
  AllocationService(platform::Store& store, platform::Outbox& outbox, const platform::Clock& clock,
                    std::shared_ptr<const care::RuleSet> rules, std::string pseudonym_secret);

  grpc::Status RecordAssessment(grpc::ServerContext* context, const pbr::v1::RecordAssessmentRequest* request,
                                pbr::v1::RecordAssessmentReply* reply) override;

  // The same, without gRPC: what the handler and the tests call.
  absl::StatusOr<pbr::v1::RecordAssessmentReply> Record(const pbr::v1::RecordAssessmentRequest& request,
                                                        absl::string_view trace_id);

 private:
  absl::Status Validate(const pbr::v1::RecordAssessmentRequest& request) const;

  platform::Store& store_;
  platform::Outbox& outbox_;
  const platform::Clock& clock_;
  std::shared_ptr<const care::RuleSet> rules_;
  const std::string secret_;
  // Calls touching the same person or record are serialised; others run (and sync) together.
  std::array<std::mutex, 64> stripes_;
};

}  // namespace pbr::allocation
