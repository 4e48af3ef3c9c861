#include "allocation_service.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "care/nhs_number.h"
#include "care_bridge.h"
#include "pbr/state/v1/state.pb.h"
#include "platform/events.h"
#include "platform/service_host.h"

namespace pbr::allocation {
namespace {

using platform::DeterministicId;
namespace topic = platform::topic;

std::string RecordKey(absl::string_view source_system, absl::string_view source_record_id) {
  return absl::StrCat(source_system, "\x1f", source_record_id);
}

// A digest of the request's content, to tell a retry from a conflicting re-use of the same id.
std::string RequestDigest(const pbr::v1::RecordAssessmentRequest& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return DeterministicId("request", {bytes});
}

// Identifiers from EPRs become Kafka keys and RocksDB key parts: keep them printable and short.
absl::Status CheckIdentifier(absl::string_view field, absl::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (value.size() > 128) return absl::InvalidArgumentError(absl::StrCat(field, ": longer than 128 characters"));
  for (char c : value) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) && c != ' ') {
      return absl::InvalidArgumentError(absl::StrCat(field, ": contains a control or non-ASCII character"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

AllocationService::AllocationService(platform::Store& store, platform::Outbox& outbox, const platform::Clock& clock,
                                     std::shared_ptr<const care::RuleSet> rules, std::string pseudonym_secret)
    : store_(store), outbox_(outbox), clock_(clock), rules_(std::move(rules)), secret_(std::move(pseudonym_secret)) {}

absl::Status AllocationService::Validate(const pbr::v1::RecordAssessmentRequest& r) const {
  std::vector<std::string> problems;
  auto check = [&](const absl::Status& st) {
    if (!st.ok()) problems.emplace_back(st.message());
  };
  check(CheckIdentifier("source_system", r.source_system()));
  check(CheckIdentifier("source_record_id", r.source_record_id()));
  check(CheckIdentifier("team_id", r.team_id()));
  check(CheckIdentifier("clinician_id", r.clinician_id()));
  check(care::ValidateNhsNumber(r.nhs_number()));
  if (!r.has_assessed_at()) {
    problems.emplace_back("assessed_at: required");
  } else if (platform::FromProto(r.assessed_at()) > clock_.Now() + absl::Hours(24)) {
    problems.emplace_back("assessed_at: is in the future");
  } else if (platform::FromProto(r.assessed_at()) < absl::FromCivil(absl::CivilDay(2000, 1, 1), absl::UTCTimeZone())) {
    problems.emplace_back("assessed_at: is before 2000, before care clusters existed");
  }
  if (auto ratings = services::RatingsFromProto(r.ratings()); !ratings.ok()) {
    check(ratings.status());
  } else {
    check(care::ValidateMhct(*ratings));
  }
  if (!care::IsValidClusterId(r.cluster())) {
    problems.push_back(absl::StrCat("cluster: ", r.cluster(),
                                    r.cluster() == care::kBlankCluster ? " is the blank cluster, never used"
                                                                       : " is not a care cluster (0-21)"));
  }
  if (r.reason() == pbr::v1::ASSESSMENT_REASON_UNSPECIFIED || !pbr::v1::AssessmentReason_IsValid(r.reason())) {
    problems.emplace_back("reason: required (initial assessment, formal, transfer, discharge or unplanned review)");
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

absl::StatusOr<pbr::v1::RecordAssessmentReply> AllocationService::Record(const pbr::v1::RecordAssessmentRequest& r,
                                                                          absl::string_view trace_id) {
  if (auto st = Validate(r); !st.ok()) return st;
  const std::string person_id = platform::KeyedHash(secret_, r.nhs_number());
  const std::string record_key = RecordKey(r.source_system(), r.source_record_id());
  const std::string digest = RequestDigest(r);

  std::set<size_t> stripes = {std::hash<std::string>{}(person_id) % stripes_.size(),
                              std::hash<std::string>{}(record_key) % stripes_.size()};
  std::vector<std::unique_lock<std::mutex>> locks;
  for (size_t s : stripes) locks.emplace_back(stripes_[s]);

  auto existing = store_.Get(kAssessmentsFamily, record_key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    pbr::state::v1::AssessmentRecord record;
    if (!record.ParseFromString(**existing)) return absl::DataLossError("stored assessment record is unreadable");
    if (record.request_digest() != digest) {
      return absl::AlreadyExistsError(absl::StrCat("source_record_id: '", r.source_record_id(), "' from '",
                                                   r.source_system(),
                                                   "' was already recorded with different content"));
    }
    pbr::v1::RecordAssessmentReply reply = record.reply();
    reply.set_duplicate(true);
    return reply;
  }

  auto stored_person = store_.Get(kPersonsFamily, person_id);
  if (!stored_person.ok()) return stored_person.status();
  pbr::state::v1::AllocationPerson person;
  const bool known = stored_person->has_value();
  if (known && !person.ParseFromString(**stored_person)) return absl::DataLossError("stored person is unreadable");

  const absl::Time now = clock_.Now();
  const absl::Time assessed_at = platform::FromProto(r.assessed_at());
  const std::string assessment_id = DeterministicId("assessment", {r.source_system(), r.source_record_id()});
  // An assessment older than the person's latest (a late back-fill) is kept and published but
  // does not move the current cluster: the latest assessment decides it.
  const bool is_latest = !known || assessed_at >= platform::FromProto(person.assessed_at());
  const bool cluster_changed = is_latest && (!known || person.cluster() != r.cluster());

  pbr::v1::RecordAssessmentReply reply;
  reply.set_person_id(person_id);
  reply.set_assessment_id(assessment_id);
  reply.set_cluster_changed(cluster_changed);
  reply.set_rule_version(rules_->version());

  rocksdb::WriteBatch batch;
  auto assessed = platform::MakeEnvelope(topic::kAssessmentRecorded,
                                         DeterministicId(topic::kAssessmentRecorded, {assessment_id}), person_id,
                                         assessed_at, now, r.source_system(), std::string(trace_id));
  auto* a = assessed.mutable_assessment_recorded();
  a->set_assessment_id(assessment_id);
  a->set_source_record_id(r.source_record_id());
  a->set_team_id(r.team_id());
  a->set_clinician_id(r.clinician_id());
  *a->mutable_assessed_at() = r.assessed_at();
  *a->mutable_ratings() = r.ratings();
  a->set_cluster(r.cluster());
  a->set_reason(r.reason());
  a->set_rule_version(rules_->version());
  outbox_.Stage(batch, topic::kAssessmentRecorded, assessed);

  if (cluster_changed) {
    auto changed = platform::MakeEnvelope(topic::kClusterChanged,
                                          DeterministicId(topic::kClusterChanged, {assessment_id}), person_id,
                                          assessed_at, now, r.source_system(), std::string(trace_id));
    auto* c = changed.mutable_cluster_changed();
    c->set_assessment_id(assessment_id);
    c->set_team_id(r.team_id());
    c->set_has_previous_cluster(known);
    c->set_previous_cluster(known ? person.cluster() : 0);
    c->set_cluster(r.cluster());
    *c->mutable_effective_at() = r.assessed_at();
    outbox_.Stage(batch, topic::kClusterChanged, changed);
  }

  if (is_latest) {
    person.set_cluster(r.cluster());
    person.set_team_id(r.team_id());
    person.set_assessment_id(assessment_id);
    *person.mutable_assessed_at() = r.assessed_at();
  }
  person.set_assessments(person.assessments() + 1);
  batch.Put(store_.Family(kPersonsFamily), person_id, person.SerializeAsString());

  pbr::state::v1::AssessmentRecord record;
  record.set_request_digest(digest);
  *record.mutable_reply() = reply;
  record.set_person_id(person_id);
  *record.mutable_recorded_at() = platform::ToProto(now);
  batch.Put(store_.Family(kAssessmentsFamily), record_key, record.SerializeAsString());

  // Synced: the reply promises durability. Concurrent calls share one fsync (group commit).
  if (auto st = store_.Write(batch, /*sync=*/true); !st.ok()) return st;
  outbox_.Wake();
  return reply;
}

grpc::Status AllocationService::RecordAssessment(grpc::ServerContext* context,
                                                 const pbr::v1::RecordAssessmentRequest* request,
                                                 pbr::v1::RecordAssessmentReply* reply) {
  std::string trace_id;
  if (auto it = context->client_metadata().find("x-trace-id"); it != context->client_metadata().end()) {
    trace_id.assign(it->second.data(), it->second.size());
  }
  auto result = Record(*request, trace_id);
  if (!result.ok()) return platform::ToGrpc(result.status());
  *reply = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace pbr::allocation
