#pragma once
// Reporting: read models built from every topic. This first one is the team caseload: people per
// cluster, reviews due and overdue (as the review scheduler announced them, with its due dates), and
// the latest HoNOS totals. Who is on a caseload, and with which team and cluster, comes from the
// shared ledger (libs/ledger): a person is on their team's caseload while they have an open referral
// period with a current cluster episode, so a discharge from service removes them from every
// caseload and a later referral's assessment puts them back.
#include <memory>

#include "care/rules.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "platform/consumer.h"
#include "platform/store.h"

namespace pbr::reporting {

inline constexpr absl::string_view kPersonsFamily = "persons";   // person -> pbr.state.v1.ReportingPerson
inline constexpr absl::string_view kTeamIndexFamily = "teams";   // "<team>/<person>" -> ""
inline constexpr absl::string_view kTeamCountsFamily = "team_counts";  // team -> live assessments recorded
// "<person>/<assessment_id>" -> pbr.state.v1.ReportingAssessment: the HoNOS last received for the
// assessment (outcomes arrive on their own topic, perhaps before the assessment); none once it is
// withdrawn.
inline constexpr absl::string_view kAssessmentsFamily = "assessments";
// The person's ledger facts, "<person>/a/<assessment id>" and "<person>/e/<care event id>"
// (services/common/ledger_store.h): every assessment and care event as last received.
inline constexpr absl::string_view kLedgerFamily = "ledger";

// Each handler folds one event into the person's read-model record. Events of one person arrive
// in order per topic but not across topics, so each fact carries the clinical time or the
// assessment it belongs to. Whenever an assessment, a care event or the basis's HoNOS changes, the
// person's team, cluster and HoNOS are derived afresh from their ledger facts (the ledger's review
// basis and current episode), so amendments, withdrawals, discharges and re-referrals are followed
// exactly whatever order they arrive in.
class CaseloadModel {
 public:
  // Folds the assessment into the ledger facts (a stale or repeated revision changes nothing) and
  // keeps the team's recorded count: live assessments recorded for it, whatever the person's care.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Folds the care event (a referral, a discharge from service, or one the caseload ignores).
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Ignored: the current cluster is derived from the ledger's facts, which cluster-changed only
  // repeats.
  absl::Status OnClusterChanged(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  absl::Status OnOutcome(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Keeps the scheduler's last announcement for each of the person's most recently announced
  // reviews (by basis, MHCT date and cluster); the caseload shows the one for the current review
  // basis, UPCOMING when there is none. A trigger announcement (missed event-triggered review, or
  // its retraction) is ignored. INVALID_ARGUMENT: a formal announcement without its basis or date.
  absl::Status OnReviewDue(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;

  static absl::StatusOr<pbr::v1::Caseload> Caseload(const platform::Store& store, absl::string_view team_id);
};

class ReportingApi final : public pbr::v1::Reporting::Service {
 public:
  // `rules` supplies the team registry: a caseload is answered for registered teams only.
  ReportingApi(const platform::Store& store, std::shared_ptr<const care::RuleSet> rules)
      : store_(store), rules_(std::move(rules)) {}
  // NOT_FOUND naming team_id for a team the registry does not list; a registered team with nobody on
  // its caseload is an empty caseload.
  absl::StatusOr<pbr::v1::Caseload> GetCaseload(const pbr::v1::GetCaseloadRequest& request) const;
  grpc::Status GetCaseload(grpc::ServerContext*, const pbr::v1::GetCaseloadRequest* request,
                           pbr::v1::Caseload* reply) override;

 private:
  const platform::Store& store_;
  std::shared_ptr<const care::RuleSet> rules_;
};

}  // namespace pbr::reporting
