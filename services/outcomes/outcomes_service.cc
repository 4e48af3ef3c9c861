#include "outcomes_service.h"

#include "field_rules.h"

#include "absl/strings/str_cat.h"
#include "care_bridge.h"
#include "pbr/state/v1/state.pb.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "platform/service_host.h"

namespace pbr::outcomes {
namespace {
namespace topic = platform::topic;
using pbr::state::v1::OutcomeAssessment;

// Ordered by clinical time within the person, so History is one prefix scan in time order.
std::string OutcomeKey(absl::string_view person_id, const google::protobuf::Timestamp& assessed_at,
                       absl::string_view assessment_id) {
  const int64_t nanos = absl::ToUnixNanos(platform::FromProto(assessed_at));
  return absl::StrCat(person_id, "/", platform::EncodeOrderedU64(static_cast<uint64_t>(nanos) ^ (1ull << 63)), "/",
                      assessment_id);
}
}  // namespace

absl::Status OutcomeRecorder::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");

  const std::string index_key = absl::StrCat(person_id, "/", a.assessment_id());
  auto stored = ctx.store().Get(kAssessmentsFamily, index_key);
  if (!stored.ok()) return stored.status();
  OutcomeAssessment held;
  if (stored->has_value()) {
    if (!held.ParseFromString(**stored)) return absl::DataLossError("stored assessment is unreadable");
    if (a.revision() <= held.revision()) return absl::OkStatus();  // stale or repeated
  }

  // One id per revision: an amended outcome is a new fact, not a duplicate to be dropped.
  auto out = platform::MakeEnvelope(
      topic::kOutcomeRecorded,
      platform::DeterministicId(topic::kOutcomeRecorded, {a.assessment_id(), absl::StrCat(a.revision())}), person_id,
      platform::FromProto(a.assessed_at()), ctx.now(), event.event.source_system(), event.event.trace_id());
  auto* o = out.mutable_outcome_recorded();
  o->set_assessment_id(a.assessment_id());
  o->set_team_id(a.team_id());
  o->set_cluster(a.cluster());
  *o->mutable_assessed_at() = a.assessed_at();
  o->set_rule_version(rules_->version());

  // A withdrawal's ratings may be anything as last recorded: they are neither checked nor used.
  if (a.withdrawn()) {
    if (!held.outcome_key().empty()) ctx.batch().Delete(ctx.store().Family(kOutcomesFamily), held.outcome_key());
    OutcomeAssessment next;
    next.set_revision(a.revision());
    next.set_withdrawn(true);
    ctx.batch().Put(ctx.store().Family(kAssessmentsFamily), index_key, next.SerializeAsString());
    o->set_withdrawn(true);
    ctx.Emit(topic::kOutcomeRecorded, out);
    return absl::OkStatus();
  }

  auto ratings = services::RatingsFromProto(a.ratings());
  if (!ratings.ok()) return ratings.status();
  const care::HonosTotal total = rules_->HonosTotalOf(*ratings);
  pbr::v1::OutcomeEntry entry;
  entry.set_assessment_id(a.assessment_id());
  *entry.mutable_assessed_at() = a.assessed_at();
  entry.set_cluster(a.cluster());
  entry.set_honos_total(total.total);
  entry.set_missing_items(total.missing_items);
  entry.set_total_valid(total.valid);
  // An amendment may move assessed_at, and with it the key: the earlier entry must go.
  const std::string key = OutcomeKey(person_id, a.assessed_at(), a.assessment_id());
  if (!held.outcome_key().empty() && held.outcome_key() != key) {
    ctx.batch().Delete(ctx.store().Family(kOutcomesFamily), held.outcome_key());
  }
  ctx.batch().Put(ctx.store().Family(kOutcomesFamily), key, entry.SerializeAsString());
  OutcomeAssessment next;
  next.set_revision(a.revision());
  next.set_outcome_key(key);
  ctx.batch().Put(ctx.store().Family(kAssessmentsFamily), index_key, next.SerializeAsString());

  o->set_honos_total(total.total);
  o->set_missing_items(total.missing_items);
  o->set_total_valid(total.valid);
  ctx.Emit(topic::kOutcomeRecorded, out);
  return absl::OkStatus();
}

absl::StatusOr<pbr::v1::PersonOutcomes> OutcomeRecorder::History(const platform::Store& store,
                                                                absl::string_view person_id) {
  pbr::v1::PersonOutcomes out;
  out.set_person_id(std::string(person_id));
  bool corrupt = false;
  auto st = store.Scan(kOutcomesFamily, absl::StrCat(person_id, "/"), [&](absl::string_view, absl::string_view value) {
    corrupt = !out.add_outcomes()->ParseFromArray(value.data(), static_cast<int>(value.size()));
    return !corrupt;
  });
  if (!st.ok()) return st;
  if (corrupt) return absl::DataLossError("stored outcome is unreadable");
  if (out.outcomes().empty()) {
    return absl::NotFoundError(absl::StrCat("person_id: no outcomes for ", platform::Quote(person_id)));
  }
  return out;
}

grpc::Status OutcomesApi::GetOutcomes(grpc::ServerContext*, const pbr::v1::GetOutcomesRequest* request,
                                      pbr::v1::PersonOutcomes* reply) {
  services::Problems p;  // bounded like every identifier, so nothing oversized reaches the store
  p.Identifier("person_id", request->person_id(), services::Need::kRequired);
  if (!p.ok()) return platform::ToGrpc(p.Result());
  auto history = OutcomeRecorder::History(store_, request->person_id());
  if (!history.ok()) return platform::ToGrpc(history.status());
  *reply = *std::move(history);
  return grpc::Status::OK;
}

}  // namespace pbr::outcomes
