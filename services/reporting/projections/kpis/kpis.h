#pragma once
// The KPI projection: SOP KPIs 1-13 per team, service area, commissioner and trust, kept as aggregates a
// query reads without visiting people. It reads assessment-recorded and care-event-recorded, folds each
// fact into the person's ledger facts, derives what the person now contributes (contributions.h: no
// clock, so nothing here waits on time), and moves the totals by the difference from what the person
// last contributed (aggregates.h), all in the message's one batch. Corrections, back-filled records and
// withdrawals restate every month they touch.
//
// Families:
//  "kpis_ledger"      the person's ledger facts (services/common/ledger_store.h)
//  "kpis_assessments" "<person>/<assessment id>" -> pbr.state.v1.KpiAssessment: checks, contacts, the
//                     first contact and the admission of each live assessment
//  "kpis_people"      person -> pbr.state.v1.KpiPerson: the person's last contributions
//  "kpis_totals"      the aggregates (pbr.state.v1.KpiTotal; aggregates.h)
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "care/rules.h"
#include "pbr/state/v1/kpis_state.pb.h"
#include "pbr/v1/events.pb.h"
#include "platform/projection.h"
#include "projections/kpis/aggregates.h"
#include "projections/kpis/contributions.h"

namespace pbr::reporting {

inline constexpr absl::string_view kKpisLedgerFamily = "kpis_ledger";
inline constexpr absl::string_view kKpisAssessmentsFamily = "kpis_assessments";
inline constexpr absl::string_view kKpisPeopleFamily = "kpis_people";
inline constexpr absl::string_view kKpisFamilies[] = {kKpisLedgerFamily, kKpisAssessmentsFamily, kKpisPeopleFamily,
                                                      kpis::kKpisTotalsFamily};

namespace kpis {
// What the KPIs keep of an assessment event (a live one's).
AssessmentExtras ExtrasOfEvent(const pbr::v1::AssessmentRecorded& a);
pbr::state::v1::KpiPerson ToRecord(const Contributions& c);
absl::StatusOr<Contributions> FromRecord(const pbr::state::v1::KpiPerson& r);
}  // namespace kpis

class KpisProjection final : public platform::Projection {
 public:
  // `policy`: the review periods KPI 2 and KPI 7 time reviews by (the service's review-policy setting,
  // the scheduler's).
  KpisProjection(std::shared_ptr<const care::RuleSet> rules, care::ReviewPolicy policy)
      : rules_(std::move(rules)), policy_(policy) {}

  absl::string_view name() const override { return "kpis"; }
  std::vector<std::string> topics() const override;
  std::vector<std::string> families() const override;
  absl::Status Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const override;
  // "rules <version>; review-policy <sop|national>": every figure is judged by the rules, KPIs 2 and 7 by the
  // policy too, so either changing needs the state rebuilt.
  std::string derivation() const override;

  const care::RuleSet& rules() const { return *rules_; }
  care::ReviewPolicy policy() const { return policy_; }

 private:
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  absl::Status Recompute(platform::ApplyContext& ctx, const std::string& person_id, const ledger::PersonFacts& facts,
                         const kpis::ExtrasById& extras) const;

  std::shared_ptr<const care::RuleSet> rules_;
  care::ReviewPolicy policy_;
};

}  // namespace pbr::reporting
