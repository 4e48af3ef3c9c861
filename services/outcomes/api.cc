#include "api.h"

#include "field_rules.h"
#include "platform/service_host.h"
#include "projections/episode_outcomes/queries.h"

namespace pbr::outcomes {

grpc::Status OutcomesApi::GetOutcomes(grpc::ServerContext*, const pbr::v1::GetOutcomesRequest* request,
                                      pbr::v1::PersonOutcomes* reply) {
  services::Problems p;  // bounded like every identifier, so nothing oversized reaches the store
  p.Identifier("person_id", request->person_id(), services::Need::kRequired);
  if (!p.ok()) return platform::ToGrpc(p.Result());
  auto share = share_();
  if (!share.ok()) return platform::ToGrpc(share.status());
  auto outcomes = PersonOutcomesOf(store_, *rules_, request->person_id(), *share);
  if (!outcomes.ok()) return platform::ToGrpc(outcomes.status());
  *reply = *std::move(outcomes);
  return grpc::Status::OK;
}

grpc::Status OutcomesApi::SummariseOutcomes(grpc::ServerContext*, const pbr::v1::SummariseOutcomesRequest* request,
                                            pbr::v1::OutcomesSummary* reply) {
  auto query = ParseSummaryQuery(*request);
  if (!query.ok()) return platform::ToGrpc(query.status());
  // The share first: the figures read after it reflect at least what it says was applied.
  auto share = share_();
  if (!share.ok()) return platform::ToGrpc(share.status());
  auto summary = pbr::outcomes::SummariseOutcomes(store_, *rules_, *query, *share);
  if (!summary.ok()) return platform::ToGrpc(summary.status());
  *reply = *std::move(summary);
  return grpc::Status::OK;
}

}  // namespace pbr::outcomes
