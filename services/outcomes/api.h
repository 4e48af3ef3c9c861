#pragma once
// The Outcomes gRPC service: parses each request, asks the outcomes projection, answers.
#include <functional>

#include "absl/status/statusor.h"
#include "care/rules.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "platform/store.h"

namespace pbr::outcomes {

class OutcomesApi final : public pbr::v1::Outcomes::Service {
 public:
  // `share`: what this replica answers for in its consumer group (ServiceHost::consumed_share).
  using ShareSource = std::function<absl::StatusOr<pbr::v1::ConsumedShare>()>;
  OutcomesApi(const platform::StoreReader& store, std::shared_ptr<const care::RuleSet> rules, ShareSource share)
      : store_(store), rules_(std::move(rules)), share_(std::move(share)) {}
  grpc::Status GetOutcomes(grpc::ServerContext*, const pbr::v1::GetOutcomesRequest* request,
                           pbr::v1::PersonOutcomes* reply) override;
  grpc::Status SummariseOutcomes(grpc::ServerContext*, const pbr::v1::SummariseOutcomesRequest* request,
                                 pbr::v1::OutcomesSummary* reply) override;

 private:
  const platform::StoreReader& store_;
  std::shared_ptr<const care::RuleSet> rules_;
  ShareSource share_;
};

}  // namespace pbr::outcomes
