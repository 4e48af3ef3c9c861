#pragma once
// The review scheduler owns every person's next cluster review: the due date from the latest
// MHCT date and the cluster's review period (under the deployment's policy), and the state
// upcoming -> due (window open) -> overdue, announced on `review-due` as each change happens.
#include <memory>

#include "care/rules.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/clock.h"
#include "platform/consumer.h"
#include "platform/store.h"

namespace pbr::scheduler {

inline constexpr absl::string_view kSchedulesFamily = "schedules";  // person -> pbr.v1.Schedule
inline constexpr absl::string_view kTimersFamily = "timers";        // "<yyyy-mm-dd>/<person>" -> ""
// "<person>/<assessment_id>" -> pbr.state.v1.ScheduledAssessment: every assessment as last received,
// so an amendment or withdrawal can fall back to the person's remaining assessments.
inline constexpr absl::string_view kAssessmentsFamily = "assessments";

// The review state of a schedule on a given clinical day.
pbr::v1::ReviewState ReviewStateOn(const pbr::v1::Schedule& schedule, absl::CivilDay today);

class Scheduler {
 public:
  Scheduler(std::shared_ptr<const care::RuleSet> rules, care::ReviewPolicy policy)
      : rules_(std::move(rules)), policy_(policy) {}

  // Folds an assessment, amendment or withdrawal into the person's assessments; the schedule
  // always runs from the latest live one (by assessed_at, then assessment id), and is removed
  // when none is left. An older assessment arriving late changes nothing.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Moves every schedule whose next change is due by ctx.now() and announces it.
  absl::Status AdvanceDueReviews(platform::ApplyContext& ctx) const;

  static absl::StatusOr<pbr::v1::Schedule> Lookup(const platform::Store& store, absl::string_view person_id,
                                                  absl::CivilDay today);

 private:
  // Writes the schedule in `state`, keeps the timer index in step, and emits review-due if the
  // state is one that is announced.
  // `basis_revision` and the cause's event id make each announcement's id unique: a basis can be
  // amended, or become the basis again after a withdrawal, and must then be announced afresh.
  void Save(platform::ApplyContext& ctx, const std::string& person_id, const pbr::v1::Schedule* previous,
            pbr::v1::Schedule schedule, int32_t basis_revision, const pbr::v1::EventEnvelope& cause) const;

  std::shared_ptr<const care::RuleSet> rules_;
  care::ReviewPolicy policy_;
};

class ReviewSchedulerApi final : public pbr::v1::ReviewScheduler::Service {
 public:
  ReviewSchedulerApi(const platform::Store& store, const platform::Clock& clock) : store_(store), clock_(clock) {}
  grpc::Status GetSchedule(grpc::ServerContext*, const pbr::v1::GetScheduleRequest* request,
                           pbr::v1::Schedule* reply) override;

 private:
  const platform::Store& store_;
  const platform::Clock& clock_;
};

}  // namespace pbr::scheduler
