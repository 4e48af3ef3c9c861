#pragma once
// The caseload projection: who is on each team's caseload, with their cluster, their review state (as
// the review scheduler announced it, with its due dates), their latest HoNOS, and what a team
// manager's supervision looks at (caseload profiling): the care co-ordinator, the time in the cluster
// against its indicative period, face-to-face contacts, the cases to discuss, and the team's and each
// clinician's clustering quality. Who is on a caseload, and with which team and cluster, comes from the
// shared ledger (libs/ledger): a person is on their team's caseload while they have an open referral
// period with a current cluster episode, so a discharge from service removes them from every caseload
// and a later referral's assessment puts them back.
//
// Events of one person arrive in order per topic but not across topics, so each fact carries the
// clinical time or the assessment it belongs to. Whenever an assessment, a care event or an outcome
// changes, the person is derived afresh from their ledger facts (the ledger's review basis, current
// episode, referral periods and completed reviews), so amendments, withdrawals, discharges and
// re-referrals are followed exactly whatever order they arrive in.
//
// Read side: everything of a person the caseload shows is the value of their team index entry, so a
// team's caseload is one scan of its index; per-team figures that do not depend on today (people,
// reviews and HoNOS per care co-ordinator and cluster, clustering quality per clinician) are counts kept
// in the same write as the person. Figures that depend on today are worked out when asked (queries.h).
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "care/rules.h"
#include "platform/projection.h"

namespace pbr::reporting {

// person -> pbr.state.v1.ReportingPerson (caseload_state.proto)
inline constexpr absl::string_view kCaseloadPersonsFamily = "caseload_persons";
// "<team>\x1f<person>" -> pbr.state.v1.CaseloadRow: the team index a caseload is read from
inline constexpr absl::string_view kCaseloadTeamIndexFamily = "caseload_teams";
// team -> live assessments recorded for it, whatever the person's care (decimal)
inline constexpr absl::string_view kCaseloadTeamCountsFamily = "caseload_team_counts";
// "<person>/<assessment_id>" -> pbr.state.v1.ReportingAssessment: the HoNOS last received for the
// assessment (outcomes arrive on their own topic, perhaps before the assessment); none once it is
// withdrawn.
inline constexpr absl::string_view kCaseloadAssessmentsFamily = "caseload_assessments";
// The person's ledger facts, "<person>/a/<assessment id>" and "<person>/e/<care event id>"
// (services/common/ledger_store.h): every assessment and care event as last received.
inline constexpr absl::string_view kCaseloadLedgerFamily = "caseload_ledger";
// "<person>/<assessment id>" -> pbr.state.v1.CaseloadAssessmentDetails: the clinician, care co-ordinator
// and rule checks of each live assessment as last received.
inline constexpr absl::string_view kCaseloadDetailsFamily = "caseload_assessment_details";
// "<team>\x1f<care co-ordinator>\x1f<cluster>" -> pbr.state.v1.ClusterCounts
inline constexpr absl::string_view kCaseloadClustersFamily = "caseload_clusters";
// "<team>\x1f<clinician>" -> pbr.state.v1.QualityCounts
inline constexpr absl::string_view kCaseloadQualityFamily = "caseload_quality";

// "<due day, 8 digits><sep><person>" -> pbr.state.v1.CaseloadReviewEntry: the reviews announced DUE or
// OVERDUE of the people on a caseload, by due date (ReviewIndexKey).
inline constexpr absl::string_view kCaseloadReviewsFamily = "caseload_reviews";

inline constexpr absl::string_view kCaseloadFamilies[] = {
    kCaseloadPersonsFamily,  kCaseloadTeamIndexFamily, kCaseloadTeamCountsFamily, kCaseloadAssessmentsFamily,
    kCaseloadLedgerFamily,   kCaseloadDetailsFamily,   kCaseloadClustersFamily,   kCaseloadQualityFamily,
    kCaseloadReviewsFamily};

class CaseloadProjection final : public platform::Projection {
 public:
  CaseloadProjection() = default;
  // `rules`: the rule set its caseload figures are read with (clusters' super classes and indicative
  // periods), which is what its state is derived with.
  explicit CaseloadProjection(std::shared_ptr<const care::RuleSet> rules) : rules_(std::move(rules)) {}

  absl::string_view name() const override { return "caseload"; }
  std::vector<std::string> topics() const override;
  std::vector<std::string> families() const override;
  absl::Status Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const override;
  // "rules <version>; review index" ("review index" alone without rules): a store written before the review
  // index existed is refused rather than shown with reviews missing.
  std::string derivation() const override;

  // Folds the assessment into the ledger facts (a stale or repeated revision changes nothing), keeps
  // its clinician, care co-ordinator and rule checks, and keeps the team's recorded count: live
  // assessments recorded for it, whatever the person's care.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Folds the care event (a referral, a discharge from service, a face-to-face contact, or one the
  // caseload ignores).
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Keeps the assessment's HoNOS and whether its episode's pair reliably deteriorated, as last received.
  absl::Status OnOutcome(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Keeps the scheduler's last announcement for each of the person's most recently announced
  // reviews (by basis, MHCT date and cluster); the caseload shows the one for the current review
  // basis, UPCOMING when there is none. A trigger announcement (missed event-triggered review, or
  // its retraction) is ignored. INVALID_ARGUMENT: a formal announcement without its basis or date.
  absl::Status OnReviewDue(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;

 private:
  std::shared_ptr<const care::RuleSet> rules_;
};

}  // namespace pbr::reporting
