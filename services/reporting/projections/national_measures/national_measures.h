#pragma once
// The national projection: NHS Digital's ACC33/36/37 per cluster at any month end, for the trust, a team,
// a service area or a commissioner (rules/README.md "National measures"). Each assessment and care event
// is folded into the person's ledger facts; the person's runs of month ends (contributions.h) are derived
// afresh from them, and the monthly deltas (aggregates.h) move by the difference from the runs the person
// added before. So an amendment, a withdrawal, a back-dated allocation or a discharge restates every past
// month it touches, in whatever order the facts arrive, and a query never reads a person.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "care/rules.h"
#include "platform/projection.h"
#include "projections/national_measures/aggregates.h"

namespace pbr::reporting {

// The person's ledger facts, "<person>/a/<assessment id>" and "<person>/e/<care event id>"
// (services/common/ledger_store.h).
inline constexpr absl::string_view kNationalLedgerFamily = "national_ledger";
// person -> pbr.state.v1.NationalPerson: the runs the person last added to the deltas.
inline constexpr absl::string_view kNationalPersonsFamily = "national_persons";
// The monthly deltas per scope and cluster (aggregates.h).
inline constexpr absl::string_view kNationalDeltasFamily = national::kNationalDeltasFamily;

inline constexpr absl::string_view kNationalFamilies[] = {kNationalLedgerFamily, kNationalPersonsFamily,
                                                          kNationalDeltasFamily};

class NationalMeasuresProjection final : public platform::Projection {
 public:
  // `rules` gives the national review periods the due dates are computed with.
  explicit NationalMeasuresProjection(std::shared_ptr<const care::RuleSet> rules) : rules_(std::move(rules)) {}
  absl::string_view name() const override { return "national"; }
  std::vector<std::string> topics() const override;
  std::vector<std::string> families() const override;
  absl::Status Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const override;
  // "rules <version>": the national review periods and cluster codes the runs are derived with.
  std::string derivation() const override;

  // INVALID_ARGUMENT (dead-lettered): no person, no assessment id, a live assessment without assessed_at.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // INVALID_ARGUMENT: no person, no care event id, a live care event without occurred_at.
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;

 private:
  // Derives the person's runs from their facts and moves the deltas by the difference from the stored ones.
  absl::Status Restate(platform::ApplyContext& ctx, const std::string& person_id,
                       const ledger::PersonFacts& facts) const;
  std::shared_ptr<const care::RuleSet> rules_;
};

}  // namespace pbr::reporting
