#include "ledger_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "platform/events.h"

namespace pbr::services {
namespace {

using pbr::state::v1::LedgerAssessment;
using pbr::state::v1::LedgerCareEvent;
using platform::FromProto;
using platform::ToProto;

template <typename Fact>
absl::StatusOr<Folded> FoldOne(platform::ApplyContext& ctx, absl::string_view family, absl::string_view person_id,
                               Fact fact, const std::map<std::string, Fact>& (ledger::PersonFacts::*held)() const) {
  auto facts = LoadPersonFacts(ctx.store(), family, person_id);
  if (!facts.ok()) return facts.status();
  Folded out{*std::move(facts), false};
  const std::string id = fact.id;
  out.changed = out.facts.Fold(std::move(fact));
  if (out.changed) StageFact(ctx, family, person_id, (out.facts.*held)().at(id));
  return out;
}

}  // namespace

ledger::Assessment AssessmentFromEvent(const pbr::v1::AssessmentRecorded& a) {
  ledger::Assessment out;
  out.id = a.assessment_id();
  out.revision = a.revision();
  out.withdrawn = a.withdrawn();
  if (out.withdrawn) return out;
  out.assessed_at = FromProto(a.assessed_at());
  out.effective_at = a.has_effective_at() ? FromProto(a.effective_at()) : out.assessed_at;
  out.cluster = a.cluster();
  out.kind = AssessmentKindOf(a.reason());
  out.team_id = a.team_id();
  out.commissioner_id = a.commissioner_id();
  out.service_area = a.service_area();
  return out;
}

ledger::CareEvent CareEventFromEvent(const pbr::v1::CareEventRecorded& e) {
  ledger::CareEvent out;
  out.id = e.care_event_id();
  out.revision = e.revision();
  out.withdrawn = e.withdrawn();
  if (out.withdrawn) return out;
  out.kind = CareEventKindOf(e.type());
  out.occurred_at = FromProto(e.occurred_at());
  out.team_id = e.team_id();
  out.out_of_hours = e.out_of_hours();
  return out;
}

LedgerAssessment ToRecord(const ledger::Assessment& a) {
  LedgerAssessment r;
  r.set_assessment_id(a.id);
  r.set_revision(a.revision);
  r.set_withdrawn(a.withdrawn);
  if (a.withdrawn) return r;
  *r.mutable_assessed_at() = ToProto(a.assessed_at);
  *r.mutable_effective_at() = ToProto(a.effective_at);
  r.set_cluster(a.cluster);
  r.set_reason(AssessmentReasonOf(a.kind));
  r.set_team_id(a.team_id);
  r.set_commissioner_id(a.commissioner_id);
  r.set_service_area(a.service_area);
  return r;
}

LedgerCareEvent ToRecord(const ledger::CareEvent& e) {
  LedgerCareEvent r;
  r.set_care_event_id(e.id);
  r.set_revision(e.revision);
  r.set_withdrawn(e.withdrawn);
  if (e.withdrawn) return r;
  r.set_type(CareEventTypeOf(e.kind));
  *r.mutable_occurred_at() = ToProto(e.occurred_at);
  r.set_team_id(e.team_id);
  r.set_out_of_hours(e.out_of_hours);
  return r;
}

ledger::Assessment FromRecord(const LedgerAssessment& r) {
  ledger::Assessment a;
  a.id = r.assessment_id();
  a.revision = r.revision();
  a.withdrawn = r.withdrawn();
  if (a.withdrawn) return a;
  a.assessed_at = FromProto(r.assessed_at());
  a.effective_at = r.has_effective_at() ? FromProto(r.effective_at()) : a.assessed_at;
  a.cluster = r.cluster();
  a.kind = AssessmentKindOf(r.reason());
  a.team_id = r.team_id();
  a.commissioner_id = r.commissioner_id();
  a.service_area = r.service_area();
  return a;
}

ledger::CareEvent FromRecord(const LedgerCareEvent& r) {
  ledger::CareEvent e;
  e.id = r.care_event_id();
  e.revision = r.revision();
  e.withdrawn = r.withdrawn();
  if (e.withdrawn) return e;
  e.kind = CareEventKindOf(r.type());
  e.occurred_at = FromProto(r.occurred_at());
  e.team_id = r.team_id();
  e.out_of_hours = r.out_of_hours();
  return e;
}

std::string LedgerAssessmentKey(absl::string_view person_id, absl::string_view assessment_id) {
  return absl::StrCat(person_id, "/a/", assessment_id);
}

std::string LedgerCareEventKey(absl::string_view person_id, absl::string_view care_event_id) {
  return absl::StrCat(person_id, "/e/", care_event_id);
}

absl::StatusOr<ledger::PersonFacts> LoadPersonFacts(const platform::StoreReader& store, absl::string_view family,
                                                   absl::string_view person_id) {
  ledger::PersonFacts facts;
  const std::string prefix = absl::StrCat(person_id, "/");
  absl::Status failure;
  auto st = store.Scan(family, prefix, [&](absl::string_view key, absl::string_view value) {
    const absl::string_view rest = key.substr(prefix.size());
    if (absl::StartsWith(rest, "a/")) {
      LedgerAssessment r;
      if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        failure = absl::DataLossError(absl::StrCat("stored ledger assessment is unreadable (family ", family, ")"));
        return false;
      }
      if (key == LedgerAssessmentKey(person_id, r.assessment_id())) facts.Fold(FromRecord(r));
    } else if (absl::StartsWith(rest, "e/")) {
      LedgerCareEvent r;
      if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        failure = absl::DataLossError(absl::StrCat("stored ledger care event is unreadable (family ", family, ")"));
        return false;
      }
      if (key == LedgerCareEventKey(person_id, r.care_event_id())) facts.Fold(FromRecord(r));
    }
    // Anything else under the prefix is another person's ("<person>/<more>/..."): not this one's.
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  return facts;
}

absl::StatusOr<std::optional<ledger::Assessment>> LoadLedgerAssessment(const platform::StoreReader& store,
                                                                      absl::string_view family,
                                                                      absl::string_view person_id,
                                                                      absl::string_view assessment_id) {
  auto stored = store.Get(family, LedgerAssessmentKey(person_id, assessment_id));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<ledger::Assessment>();
  LedgerAssessment r;
  if (!r.ParseFromString(**stored)) {
    return absl::DataLossError(absl::StrCat("stored ledger assessment is unreadable (family ", family, ")"));
  }
  return std::optional<ledger::Assessment>(FromRecord(r));
}

void StageFact(platform::ApplyContext& ctx, absl::string_view family, absl::string_view person_id,
               const ledger::Assessment& a) {
  ctx.batch().Put(ctx.store().Family(family), LedgerAssessmentKey(person_id, a.id), ToRecord(a).SerializeAsString());
}

void StageFact(platform::ApplyContext& ctx, absl::string_view family, absl::string_view person_id,
               const ledger::CareEvent& e) {
  ctx.batch().Put(ctx.store().Family(family), LedgerCareEventKey(person_id, e.id), ToRecord(e).SerializeAsString());
}

absl::StatusOr<Folded> FoldIntoLedger(platform::ApplyContext& ctx, absl::string_view family,
                                      absl::string_view person_id, ledger::Assessment fact) {
  return FoldOne(ctx, family, person_id, std::move(fact), &ledger::PersonFacts::assessments);
}

absl::StatusOr<Folded> FoldIntoLedger(platform::ApplyContext& ctx, absl::string_view family,
                                      absl::string_view person_id, ledger::CareEvent fact) {
  return FoldOne(ctx, family, person_id, std::move(fact), &ledger::PersonFacts::care_events);
}

absl::StatusOr<Folded> FoldCareEventRecorded(const platform::ConsumedEvent& event, platform::ApplyContext& ctx,
                                             absl::string_view family) {
  const auto& e = event.event.care_event_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (e.care_event_id().empty()) return absl::InvalidArgumentError("care_event_id: empty");
  if (!e.withdrawn() && !e.has_occurred_at()) return absl::InvalidArgumentError("occurred_at: missing");
  return FoldIntoLedger(ctx, family, person_id, CareEventFromEvent(e));
}

}  // namespace pbr::services
