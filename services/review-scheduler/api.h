#pragma once
// The scheduler's gRPC API: each handler parses, asks the store side or the queries, and answers.
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/clock.h"
#include "platform/store.h"
#include "queries.h"

namespace pbr::scheduler {

class ReviewSchedulerApi final : public pbr::v1::ReviewScheduler::Service {
 public:
  ReviewSchedulerApi(const platform::StoreReader& store, const platform::Clock& clock, const ReviewQueries& queries)
      : store_(store), clock_(clock), queries_(queries) {}
  grpc::Status GetSchedule(grpc::ServerContext*, const pbr::v1::GetScheduleRequest* request,
                           pbr::v1::Schedule* reply) override;
  grpc::Status ListOverdue(grpc::ServerContext*, const pbr::v1::ListOverdueRequest* request,
                           pbr::v1::ListOverdueReply* reply) override;
  grpc::Status ListDue(grpc::ServerContext*, const pbr::v1::ListDueRequest* request,
                       pbr::v1::ListDueReply* reply) override;
  grpc::Status CountOverdue(grpc::ServerContext*, const pbr::v1::CountOverdueRequest* request,
                            pbr::v1::CountOverdueReply* reply) override;

 private:
  const platform::StoreReader& store_;
  const platform::Clock& clock_;
  const ReviewQueries& queries_;
};

}  // namespace pbr::scheduler
