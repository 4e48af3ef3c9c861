#pragma once
// The Outcomes gRPC service: parses each request, asks the outcomes projection, answers.
#include "care/rules.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "platform/store.h"

namespace pbr::outcomes {

class OutcomesApi final : public pbr::v1::Outcomes::Service {
 public:
  OutcomesApi(const platform::StoreReader& store, std::shared_ptr<const care::RuleSet> rules)
      : store_(store), rules_(std::move(rules)) {}
  grpc::Status GetOutcomes(grpc::ServerContext*, const pbr::v1::GetOutcomesRequest* request,
                           pbr::v1::PersonOutcomes* reply) override;
  grpc::Status SummariseOutcomes(grpc::ServerContext*, const pbr::v1::SummariseOutcomesRequest* request,
                                 pbr::v1::OutcomesSummary* reply) override;

 private:
  const platform::StoreReader& store_;
  std::shared_ptr<const care::RuleSet> rules_;
};

}  // namespace pbr::outcomes
