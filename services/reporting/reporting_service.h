#pragma once
// Reporting: read models built from every topic. This first one is the team caseload: people per
// cluster, reviews due and overdue, and the latest HoNOS totals.
#include <memory>

#include "care/rules.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "platform/consumer.h"
#include "platform/store.h"

namespace pbr::reporting {

inline constexpr absl::string_view kPersonsFamily = "persons";   // person -> pbr.state.v1.ReportingPerson
inline constexpr absl::string_view kTeamIndexFamily = "teams";   // "<team>/<person>" -> ""
inline constexpr absl::string_view kTeamCountsFamily = "team_counts";  // team -> live assessments recorded
// "<person>/<assessment_id>" -> pbr.state.v1.ReportingAssessment: each assessment as last received
// (withdrawn ones kept, so a stale revision cannot revive them) and the HoNOS last received for it.
inline constexpr absl::string_view kAssessmentsFamily = "assessments";

// Each handler folds one event into the person's read-model record. Events of one person arrive
// in order per topic but not across topics, so each fact carries the clinical time or the
// assessment it belongs to. The person's team, cluster and HoNOS are derived afresh from their
// live assessments (the latest by assessed_at, then assessment id) whenever one of those changes,
// so amendments and withdrawals are followed exactly.
class CaseloadModel {
 public:
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Ignored: the current cluster is derived from the assessment history, which cluster-changed
  // only repeats (and cannot express a person left with no assessment at all).
  absl::Status OnClusterChanged(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  absl::Status OnOutcome(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
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
