#pragma once
// The review scheduler owns every person's next cluster review: the due date from the MHCT date of
// the person's review basis and the cluster's review period (under the deployment's policy), and the
// state upcoming -> due (window open) -> overdue, announced on `review-due` as each change happens.
// What a person's care is comes from the shared ledger (libs/ledger): the scheduler keeps each
// person's assessments and care events as the ledger folds them and asks it for the review basis
// (the latest live assessment of the open referral period). A discharge from service leaves no
// basis, so it closes the schedule; a later referral's first assessment opens a new one.
#include <memory>

#include "care/rules.h"
#include "ledger/ledger.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform/clock.h"
#include "platform/consumer.h"
#include "platform/store.h"

namespace pbr::scheduler {

inline constexpr absl::string_view kSchedulesFamily = "schedules";  // person -> pbr.v1.Schedule
inline constexpr absl::string_view kTimersFamily = "timers";        // "<yyyy-mm-dd>/<person>" -> ""
// The person's ledger facts, "<person>/a/<assessment id>" and "<person>/e/<care event id>"
// (services/common/ledger_store.h): every assessment and care event as last received, so an
// amendment, a withdrawal or a discharge is followed by deriving the person afresh.
inline constexpr absl::string_view kLedgerFamily = "ledger";

// The review state of a schedule on a given clinical day.
pbr::v1::ReviewState ReviewStateOn(const pbr::v1::Schedule& schedule, absl::CivilDay today);

class Scheduler {
 public:
  Scheduler(std::shared_ptr<const care::RuleSet> rules, care::ReviewPolicy policy)
      : rules_(std::move(rules)), policy_(policy) {}

  // Fold an assessment (amendment, withdrawal) or a care event into the person's ledger facts; the
  // schedule always runs from the ledger's review basis, and is removed (with its timer) when there
  // is none: discharged, or nothing live in the open referral period. A fact that changes nothing
  // (a stale or repeated revision), or a change that leaves the basis as it was (an older
  // assessment arriving late, a contact), leaves the schedule and its announcements as they are.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Moves every schedule whose next change is due by ctx.now() and announces it.
  absl::Status AdvanceDueReviews(platform::ApplyContext& ctx) const;

  // The person's schedule in its state on `today`. NOT_FOUND when there is none, saying so when
  // the person was discharged from service (and on which day).
  static absl::StatusOr<pbr::v1::Schedule> Lookup(const platform::Store& store, absl::string_view person_id,
                                                  absl::CivilDay today);

 private:
  // Derives the person from their folded facts and moves the schedule to the review basis.
  absl::Status Reschedule(platform::ApplyContext& ctx, const std::string& person_id,
                          const ledger::PersonFacts& facts, const pbr::v1::EventEnvelope& cause) const;
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
