#include "projections/kpis/kpis.h"

#include "absl/strings/str_cat.h"
#include "ledger_store.h"
#include "platform/events.h"
#include "platform/quote.h"

namespace pbr::reporting {
namespace {

using pbr::state::v1::KpiAssessment;
using pbr::state::v1::KpiPerson;

std::string AssessmentKey(absl::string_view person_id, absl::string_view assessment_id) {
  return absl::StrCat(person_id, "/", assessment_id);
}

pbr::state::v1::KpiCheck ToRecord(care::CheckOutcome c) {
  switch (c) {
    case care::CheckOutcome::kPassed: return pbr::state::v1::KPI_CHECK_PASSED;
    case care::CheckOutcome::kFailed: return pbr::state::v1::KPI_CHECK_FAILED;
    case care::CheckOutcome::kAbsent: break;
  }
  return pbr::state::v1::KPI_CHECK_ABSENT;
}

care::CheckOutcome FromRecord(pbr::state::v1::KpiCheck c) {
  switch (c) {
    case pbr::state::v1::KPI_CHECK_PASSED: return care::CheckOutcome::kPassed;
    case pbr::state::v1::KPI_CHECK_FAILED: return care::CheckOutcome::kFailed;
    default: return care::CheckOutcome::kAbsent;
  }
}

KpiAssessment ToRecord(const std::string& id, int revision, const kpis::AssessmentExtras& x) {
  KpiAssessment r;
  r.set_assessment_id(id);
  r.set_revision(revision);
  r.set_red_rules(ToRecord(x.red_rules));
  r.set_transition_protocol(ToRecord(x.transition_protocol));
  r.set_face_to_face_contacts(x.face_to_face_contacts);
  if (x.first_contact_at.has_value()) *r.mutable_first_contact_at() = platform::ToProto(*x.first_contact_at);
  if (x.admitted_at.has_value()) *r.mutable_admitted_at() = platform::ToProto(*x.admitted_at);
  return r;
}

kpis::AssessmentExtras FromRecord(const KpiAssessment& r) {
  kpis::AssessmentExtras x;
  x.red_rules = FromRecord(r.red_rules());
  x.transition_protocol = FromRecord(r.transition_protocol());
  x.face_to_face_contacts = r.face_to_face_contacts();
  if (r.has_first_contact_at()) x.first_contact_at = platform::FromProto(r.first_contact_at());
  if (r.has_admitted_at()) x.admitted_at = platform::FromProto(r.admitted_at());
  return x;
}

// The person's live assessments' extras, as stored (the batch being built is not seen). A key under the
// person's prefix that is not this person's (another id starting with theirs and "/") is skipped.
absl::StatusOr<kpis::ExtrasById> LoadExtras(const platform::StoreReader& store, absl::string_view person_id) {
  kpis::ExtrasById out;
  const std::string prefix = absl::StrCat(person_id, "/");
  absl::Status problem;
  auto st = store.Scan(kKpisAssessmentsFamily, prefix, [&](absl::string_view key, absl::string_view value) {
    KpiAssessment r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      problem = absl::DataLossError(absl::StrCat("stored KPI assessment ", platform::Quote(key), " is unreadable"));
      return false;
    }
    if (key != AssessmentKey(person_id, r.assessment_id())) return true;
    out.emplace(r.assessment_id(), FromRecord(r));
    return true;
  });
  if (!st.ok()) return st;
  if (!problem.ok()) return problem;
  return out;
}

absl::StatusOr<KpiPerson> LoadPerson(const platform::StoreReader& store, absl::string_view person_id) {
  KpiPerson p;
  auto stored = store.Get(kKpisPeopleFamily, person_id);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && !p.ParseFromString(**stored)) {
    return absl::DataLossError(absl::StrCat("stored KPI contributions of ", platform::Quote(person_id), " are unreadable"));
  }
  return p;
}

pbr::state::v1::KpiScope ToRecord(const kpis::Scope& s) {
  pbr::state::v1::KpiScope r;
  r.set_team_id(s.team_id);
  r.set_service_area(s.service_area);
  r.set_commissioner_id(s.commissioner_id);
  return r;
}

kpis::Scope FromRecord(const pbr::state::v1::KpiScope& r) { return {r.team_id(), r.service_area(), r.commissioner_id()}; }

}  // namespace

namespace kpis {

AssessmentExtras ExtrasOfEvent(const pbr::v1::AssessmentRecorded& a) {
  AssessmentExtras x;
  for (const pbr::v1::RuleCheck& c : a.checks()) {
    const care::CheckOutcome outcome = c.passed() ? care::CheckOutcome::kPassed : care::CheckOutcome::kFailed;
    if (c.rule() == "red-rules") x.red_rules = outcome;
    if (c.rule() == "transition-protocol") x.transition_protocol = outcome;
  }
  x.face_to_face_contacts = a.face_to_face_contacts();
  if (a.has_first_contact_at()) x.first_contact_at = platform::FromProto(a.first_contact_at());
  if (a.has_admitted_at()) x.admitted_at = platform::FromProto(a.admitted_at());
  return x;
}

KpiPerson ToRecord(const Contributions& c) {
  KpiPerson r;
  for (const StockSegment& s : c.stock) {
    auto* o = r.add_stock();
    *o->mutable_scope() = pbr::reporting::ToRecord(s.scope);
    *o->mutable_first_day() = platform::ToProto(s.first);
    if (s.last.has_value()) *o->mutable_last_day() = platform::ToProto(*s.last);
    o->set_with_cluster(s.with_cluster);
    o->set_secondary_care(s.secondary_care);
    o->set_within_review_period(s.within_review_period);
    o->set_fits_service_area(s.fits_service_area);
  }
  for (const FlowRecord& f : c.flow) {
    auto* o = r.add_flow();
    o->set_kpi(f.kpi);
    *o->mutable_scope() = pbr::reporting::ToRecord(f.scope);
    *o->mutable_reference_day() = platform::ToProto(f.reference_day);
    *o->mutable_decided_on() = platform::ToProto(f.decided_on);
    o->set_met(f.met);
  }
  return r;
}

absl::StatusOr<Contributions> FromRecord(const KpiPerson& r) {
  Contributions c;
  for (const auto& s : r.stock()) {
    if (!s.has_first_day()) return absl::DataLossError("stored KPI stock segment has no first day");
    StockSegment& o = c.stock.emplace_back();
    o.scope = pbr::reporting::FromRecord(s.scope());
    o.first = platform::FromProto(s.first_day());
    if (s.has_last_day()) o.last = platform::FromProto(s.last_day());
    o.with_cluster = s.with_cluster();
    o.secondary_care = s.secondary_care();
    o.within_review_period = s.within_review_period();
    o.fits_service_area = s.fits_service_area();
  }
  for (const auto& f : r.flow()) {
    if (!f.has_reference_day() || !f.has_decided_on()) return absl::DataLossError("stored KPI flow record has no days");
    FlowRecord& o = c.flow.emplace_back();
    o.kpi = f.kpi();
    o.scope = pbr::reporting::FromRecord(f.scope());
    o.reference_day = platform::FromProto(f.reference_day());
    o.decided_on = platform::FromProto(f.decided_on());
    o.met = f.met();
  }
  return c;
}

}  // namespace kpis

std::string KpisProjection::derivation() const {
  return absl::StrCat("rules ", rules_->care_version(), "; review-policy ", std::string(care::ReviewPolicyName(policy_)));
}

std::vector<std::string> KpisProjection::topics() const {
  return {std::string(platform::topic::kAssessmentRecorded), std::string(platform::topic::kCareEventRecorded)};
}

std::vector<std::string> KpisProjection::families() const {
  return {std::begin(kKpisFamilies), std::end(kKpisFamilies)};
}

absl::Status KpisProjection::Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  if (event.topic_name == platform::topic::kAssessmentRecorded) return OnAssessment(event, ctx);
  if (event.topic_name == platform::topic::kCareEventRecorded) return OnCareEvent(event, ctx);
  return absl::OkStatus();
}

absl::Status KpisProjection::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  if (!a.withdrawn() && !a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");
  auto folded = services::FoldIntoLedger(ctx, kKpisLedgerFamily, person_id, services::AssessmentFromEvent(a));
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  auto extras = LoadExtras(ctx.store(), person_id);
  if (!extras.ok()) return extras.status();
  const std::string key = AssessmentKey(person_id, a.assessment_id());
  if (a.withdrawn()) {
    ctx.batch().Delete(ctx.store().Family(kKpisAssessmentsFamily), key);
    extras->erase(a.assessment_id());
  } else {
    const kpis::AssessmentExtras x = kpis::ExtrasOfEvent(a);
    ctx.batch().Put(ctx.store().Family(kKpisAssessmentsFamily), key,
                    ToRecord(a.assessment_id(), a.revision(), x).SerializeAsString());
    (*extras)[a.assessment_id()] = x;
  }
  return Recompute(ctx, person_id, folded->facts, *extras);
}

absl::Status KpisProjection::OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  auto folded = services::FoldCareEventRecorded(event, ctx, kKpisLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();
  auto extras = LoadExtras(ctx.store(), event.event.person_id());
  if (!extras.ok()) return extras.status();
  return Recompute(ctx, event.event.person_id(), folded->facts, *extras);
}

absl::Status KpisProjection::Recompute(platform::ApplyContext& ctx, const std::string& person_id,
                                       const ledger::PersonFacts& facts, const kpis::ExtrasById& extras) const {
  auto now = kpis::ContributionsOf(*rules_, policy_, person_id, facts, extras);
  if (!now.ok()) return now.status();
  auto stored = LoadPerson(ctx.store(), person_id);
  if (!stored.ok()) return stored.status();
  auto before = kpis::FromRecord(*stored);
  if (!before.ok()) return before.status();
  // Most messages (a contact, a repeat) leave what the person contributes as it was.
  if (before->stock == now->stock && before->flow == now->flow && stored->rule_version() == rules_->version()) {
    return absl::OkStatus();
  }
  kpis::TotalChanges changes;
  kpis::AddDifference(*before, *now, changes);
  if (auto st = kpis::ApplyTotalChanges(ctx, changes); !st.ok()) return st;
  if (now->empty()) {
    ctx.batch().Delete(ctx.store().Family(kKpisPeopleFamily), person_id);
  } else {
    KpiPerson next = kpis::ToRecord(*now);
    next.set_rule_version(rules_->version());
    ctx.batch().Put(ctx.store().Family(kKpisPeopleFamily), person_id, next.SerializeAsString());
  }
  return absl::OkStatus();
}

}  // namespace pbr::reporting
