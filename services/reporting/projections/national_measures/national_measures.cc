// Reporting's national read model: facts in, the person's runs restated, the deltas moved by the difference.
#include "projections/national_measures/national_measures.h"

#include "absl/strings/str_cat.h"
#include "ledger_store.h"
#include "pbr/state/v1/national_state.pb.h"
#include "platform/events.h"
#include "projections/national_measures/contributions.h"

namespace pbr::reporting {
namespace {

using pbr::state::v1::NationalPerson;

absl::StatusOr<std::vector<national::Contribution>> StoredRuns(const platform::StoreReader& store,
                                                               const std::string& person_id) {
  auto stored = store.Get(kNationalPersonsFamily, person_id);
  if (!stored.ok()) return stored.status();
  std::vector<national::Contribution> runs;
  if (!stored->has_value()) return runs;
  NationalPerson p;
  if (!p.ParseFromString(**stored)) {
    return absl::DataLossError(absl::StrCat("stored national record of person ", person_id, " is unreadable"));
  }
  for (const auto& record : p.contributions()) {
    auto run = national::FromRecord(record);
    if (!run.ok()) return run.status();
    runs.push_back(*std::move(run));
  }
  return runs;
}

}  // namespace

std::string NationalMeasuresProjection::derivation() const { return absl::StrCat("rules ", rules_->care_version()); }

std::vector<std::string> NationalMeasuresProjection::topics() const {
  namespace topic = platform::topic;
  return {std::string(topic::kAssessmentRecorded), std::string(topic::kCareEventRecorded)};
}

std::vector<std::string> NationalMeasuresProjection::families() const {
  return {std::begin(kNationalFamilies), std::end(kNationalFamilies)};
}

absl::Status NationalMeasuresProjection::Apply(const platform::ConsumedEvent& event,
                                               platform::ApplyContext& ctx) const {
  namespace topic = platform::topic;
  if (event.topic_name == topic::kAssessmentRecorded) return OnAssessment(event, ctx);
  if (event.topic_name == topic::kCareEventRecorded) return OnCareEvent(event, ctx);
  return absl::OkStatus();
}

absl::Status NationalMeasuresProjection::OnAssessment(const platform::ConsumedEvent& event,
                                                      platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  if (!a.withdrawn() && !a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");
  auto folded = services::FoldIntoLedger(ctx, kNationalLedgerFamily, person_id, services::AssessmentFromEvent(a));
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Restate(ctx, person_id, folded->facts);
}

absl::Status NationalMeasuresProjection::OnCareEvent(const platform::ConsumedEvent& event,
                                                     platform::ApplyContext& ctx) const {
  auto folded = services::FoldCareEventRecorded(event, ctx, kNationalLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();
  return Restate(ctx, event.event.person_id(), folded->facts);
}

absl::Status NationalMeasuresProjection::Restate(platform::ApplyContext& ctx, const std::string& person_id,
                                                 const ledger::PersonFacts& facts) const {
  auto before = StoredRuns(ctx.store(), person_id);
  if (!before.ok()) return before.status();
  const std::vector<national::Contribution> now =
      national::ContributionsOf(national::NationalViewOf(person_id, facts, *rules_));
  if (now == *before) return absl::OkStatus();  // e.g. a contact: the measures do not read it

  national::DeltaChanges changes;
  for (const auto& run : *before) changes.Add(run, -1);
  for (const auto& run : now) changes.Add(run, +1);
  if (auto st = changes.Apply(ctx); !st.ok()) return st;

  auto* family = ctx.store().Family(kNationalPersonsFamily);
  if (now.empty()) {
    ctx.batch().Delete(family, person_id);
    return absl::OkStatus();
  }
  NationalPerson p;
  p.set_rule_version(rules_->review_periods().version);
  for (const auto& run : now) *p.add_contributions() = national::ToRecord(run);
  ctx.batch().Put(family, person_id, p.SerializeAsString());
  return absl::OkStatus();
}

}  // namespace pbr::reporting
