#pragma once
// The caseload projection: who is on each team's caseload, with their cluster, their review state (as
// the review scheduler announced it, with its due dates) and their latest HoNOS total. Who is on a
// caseload, and with which team and cluster, comes from the shared ledger (libs/ledger): a person is
// on their team's caseload while they have an open referral period with a current cluster episode,
// so a discharge from service removes them from every caseload and a later referral's assessment
// puts them back.
//
// Events of one person arrive in order per topic but not across topics, so each fact carries the
// clinical time or the assessment it belongs to. Whenever an assessment, a care event or the basis's
// HoNOS changes, the person's team, cluster and HoNOS are derived afresh from their ledger facts (the
// ledger's review basis and current episode), so amendments, withdrawals, discharges and
// re-referrals are followed exactly whatever order they arrive in.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "care/rules.h"
#include "platform/projection.h"

namespace pbr::reporting {

// person -> pbr.state.v1.ReportingPerson (caseload_state.proto)
inline constexpr absl::string_view kCaseloadPersonsFamily = "caseload_persons";
// "<team>/<person>" -> "": the team index a caseload is read from
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

inline constexpr absl::string_view kCaseloadFamilies[] = {kCaseloadPersonsFamily, kCaseloadTeamIndexFamily,
                                                          kCaseloadTeamCountsFamily, kCaseloadAssessmentsFamily,
                                                          kCaseloadLedgerFamily};

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
  // "rules <version>"; empty when built without rules.
  std::string derivation() const override;

  // Folds the assessment into the ledger facts (a stale or repeated revision changes nothing) and
  // keeps the team's recorded count: live assessments recorded for it, whatever the person's care.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // Folds the care event (a referral, a discharge from service, or one the caseload ignores).
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
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
