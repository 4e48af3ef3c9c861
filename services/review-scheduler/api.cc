#include "api.h"

#include "field_rules.h"
#include "platform/events.h"
#include "platform/service_host.h"
#include "scheduler.h"

namespace pbr::scheduler {
namespace {

template <typename Reply>
grpc::Status Answer(absl::StatusOr<Reply> result, Reply* reply) {
  if (!result.ok()) return platform::ToGrpc(result.status());
  *reply = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ReviewSchedulerApi::GetSchedule(grpc::ServerContext*, const pbr::v1::GetScheduleRequest* request,
                                             pbr::v1::Schedule* reply) {
  services::Problems p;
  p.Identifier("person_id", request->person_id(), services::Need::kRequired);
  if (!p.ok()) return platform::ToGrpc(p.Result());
  return Answer(Scheduler::Lookup(store_, request->person_id(), platform::ClinicalDay(clock_.Now())), reply);
}

grpc::Status ReviewSchedulerApi::ListOverdue(grpc::ServerContext*, const pbr::v1::ListOverdueRequest* request,
                                             pbr::v1::ListOverdueReply* reply) {
  return Answer(queries_.ListOverdue(*request, platform::ClinicalDay(clock_.Now())), reply);
}

grpc::Status ReviewSchedulerApi::ListDue(grpc::ServerContext*, const pbr::v1::ListDueRequest* request,
                                         pbr::v1::ListDueReply* reply) {
  return Answer(queries_.ListDue(*request, platform::ClinicalDay(clock_.Now())), reply);
}

grpc::Status ReviewSchedulerApi::CountOverdue(grpc::ServerContext*, const pbr::v1::CountOverdueRequest* request,
                                              pbr::v1::CountOverdueReply* reply) {
  return Answer(queries_.CountOverdue(*request), reply);
}

}  // namespace pbr::scheduler
