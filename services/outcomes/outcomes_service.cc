#include "outcomes_service.h"

#include "absl/strings/str_cat.h"
#include "care_bridge.h"
#include "platform/events.h"
#include "platform/service_host.h"

namespace pbr::outcomes {
namespace {
namespace topic = platform::topic;
}  // namespace

absl::Status OutcomeRecorder::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
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
  const int64_t nanos = absl::ToUnixNanos(platform::FromProto(a.assessed_at()));
  ctx.batch().Put(ctx.store().Family(kOutcomesFamily),
                  absl::StrCat(person_id, "/", platform::EncodeOrderedU64(static_cast<uint64_t>(nanos) ^ (1ull << 63)),
                               "/", a.assessment_id()),
                  entry.SerializeAsString());

  auto out = platform::MakeEnvelope(topic::kOutcomeRecorded,
                                    platform::DeterministicId(topic::kOutcomeRecorded, {a.assessment_id()}), person_id,
                                    platform::FromProto(a.assessed_at()), ctx.now(), event.event.source_system(),
                                    event.event.trace_id());
  auto* o = out.mutable_outcome_recorded();
  o->set_assessment_id(a.assessment_id());
  o->set_team_id(a.team_id());
  o->set_cluster(a.cluster());
  *o->mutable_assessed_at() = a.assessed_at();
  o->set_honos_total(total.total);
  o->set_missing_items(total.missing_items);
  o->set_total_valid(total.valid);
  o->set_rule_version(rules_->version());
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
    return absl::NotFoundError(absl::StrCat("person_id: no outcomes for '", person_id, "'"));
  }
  return out;
}

grpc::Status OutcomesApi::GetOutcomes(grpc::ServerContext*, const pbr::v1::GetOutcomesRequest* request,
                                      pbr::v1::PersonOutcomes* reply) {
  if (request->person_id().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "person_id: required");
  auto history = OutcomeRecorder::History(store_, request->person_id());
  if (!history.ok()) return platform::ToGrpc(history.status());
  *reply = *std::move(history);
  return grpc::Status::OK;
}

}  // namespace pbr::outcomes
