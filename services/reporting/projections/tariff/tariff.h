#pragma once
// The tariff projection: reporting's ledger of what the trust bills each commissioner (rules/README.md "Tariff
// lines"). It folds each assessment and care event into the person's ledger facts, as the other projections
// do; when a month closes (CloseMonths, on the service clock) every person's activity in it is issued as
// original lines, one per person, commissioner, team and cluster; after that, a fact that changes a closed
// month issues a reversal of what was billed and a restatement, in the same batch as the fact. Lines are
// never edited; each has the next ledger sequence, is stored under it (the stream's cursor) and is published
// on tariff-activity keyed by its commissioner.
//
// Families:
//  "tariff_ledger"           the person's ledger facts (services/common/ledger_store.h)
//  "tariff_people"           person -> pbr.state.v1.TariffPerson: what the person is billed for closed months
//  "tariff_lines"            EncodeOrderedU64(sequence) -> pbr.v1.TariffActivity, as issued
//  "tariff_by_commissioner"  "<commissioner>\0" EncodeOrderedU64(sequence) -> "" (a commissioner's stream)
//  "tariff_months"           "<commissioner>\0<YYYYMM>\0" EncodeOrderedU64(sequence) -> "" (an export)
//  "tariff_meta"             "ledger" -> pbr.state.v1.TariffMeta: the last sequence and the month close
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "care/rules.h"
#include "pbr/state/v1/tariff_state.pb.h"
#include "platform/projection.h"
#include "projections/tariff/activity.h"

namespace pbr::reporting {

inline constexpr absl::string_view kTariffLedgerFamily = "tariff_ledger";
inline constexpr absl::string_view kTariffPeopleFamily = "tariff_people";
inline constexpr absl::string_view kTariffLinesFamily = "tariff_lines";
inline constexpr absl::string_view kTariffByCommissionerFamily = "tariff_by_commissioner";
inline constexpr absl::string_view kTariffMonthsFamily = "tariff_months";
inline constexpr absl::string_view kTariffMetaFamily = "tariff_meta";
inline constexpr absl::string_view kTariffFamilies[] = {kTariffLedgerFamily,         kTariffPeopleFamily,
                                                        kTariffLinesFamily,          kTariffByCommissionerFamily,
                                                        kTariffMonthsFamily,         kTariffMetaFamily};

namespace tariff {
// The month a day's lines may be issued for: the last month that ended `close_days` or more days before `today`.
absl::CivilMonth LastClosableMonth(absl::CivilDay today, int close_days);
// The ledger's state (an empty one before the first line).
absl::StatusOr<pbr::state::v1::TariffMeta> LoadMeta(const platform::StoreReader& store);
std::string CommissionerKey(absl::string_view commissioner_id, uint64_t sequence);
std::string CommissionerPrefix(absl::string_view commissioner_id);
std::string MonthKey(absl::string_view commissioner_id, int yyyymm, uint64_t sequence);
std::string MonthPrefix(absl::string_view commissioner_id, int yyyymm);
}  // namespace tariff

class TariffProjection final : public platform::Projection {
 public:
  // People a month-close pass bills at most (a pass is one write), and lines it issues at most.
  static constexpr size_t kSweepPeople = 1000;
  static constexpr size_t kSweepLines = 20000;

  // `close_days`: how many days into the next month a month closes (0: as soon as it has ended).
  TariffProjection(std::shared_ptr<const care::RuleSet> rules, int close_days = 0)
      : rules_(std::move(rules)), close_days_(close_days) {}

  absl::string_view name() const override { return "tariff"; }
  std::vector<std::string> topics() const override;
  std::vector<std::string> families() const override;
  absl::Status Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const override;
  // Empty: every line says the price list and rules it was priced with, and a new rule set is not a reason to
  // rebuild (that would issue every line again) but one to restate: CloseMonths bills everyone again with it.
  std::string derivation() const override { return ""; }

  // The month close, run by the service's timer on the consumer's thread: when a month has closed (or the
  // rule set is not the one the closed months were billed with), bills the next people (at most kSweepPeople,
  // from where the last pass stopped) through it, issuing their lines; the last pass marks the month closed.
  // OK with nothing written when there is nothing to close.
  absl::Status CloseMonths(platform::ApplyContext& ctx) const;

  // INVALID_ARGUMENT (dead-lettered): no person, no assessment id, a live assessment without assessed_at.
  absl::Status OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;
  // INVALID_ARGUMENT: no person, no care event id, a live care event without occurred_at.
  absl::Status OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const;

 private:
  struct Cause {
    std::string text;
    std::string event_id;
  };
  // After a fact changed: bills the person's closed months afresh, correcting what differs.
  absl::Status Restate(platform::ApplyContext& ctx, const std::string& person_id, const ledger::PersonFacts& facts,
                       const Cause& cause) const;
  // Brings what `person` is billed through `through` (YYYYMM) to what the facts now say, staging the lines
  // (numbered from meta.last_sequence); returns how many.
  absl::StatusOr<size_t> Settle(platform::ApplyContext& ctx, pbr::state::v1::TariffMeta& meta,
                                const std::string& person_id, pbr::state::v1::TariffPerson& person,
                                const ledger::PersonFacts& facts, int through, const Cause& cause) const;

  std::shared_ptr<const care::RuleSet> rules_;
  int close_days_;
};

}  // namespace pbr::reporting
