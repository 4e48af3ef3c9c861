#include "platform/events.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "ids/ids.h"

namespace pbr::platform {

std::string DeterministicId(absl::string_view type, std::initializer_list<absl::string_view> parts) {
  return ids::DeterministicId(type, parts);
}

std::string KeyedHash(absl::string_view secret, absl::string_view value) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(value.data()),
       value.size(), md, &len);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), 16));
}

absl::string_view EventTypeOf(const pbr::v1::EventEnvelope& e) {
  using E = pbr::v1::EventEnvelope;
  switch (e.payload_case()) {
    case E::kAssessmentRecorded: return topic::kAssessmentRecorded;
    case E::kClusterChanged: return topic::kClusterChanged;
    case E::kCareEventRecorded: return topic::kCareEventRecorded;
    case E::kReviewDue: return topic::kReviewDue;
    case E::kReviewCompleted: return topic::kReviewCompleted;
    case E::kOutcomeRecorded: return topic::kOutcomeRecorded;
    case E::kTariffActivity: return topic::kTariffActivity;
    case E::kDeadLetter: return topic::kDeadLetter;
    case E::kAuditRecorded: return topic::kAuditRecorded;
    case E::PAYLOAD_NOT_SET: return "";
  }
  return "";
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t s = absl::ToUnixSeconds(t);
  ts.set_seconds(s);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(s))));
  return ts;
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

pbr::v1::CivilDate ToProto(absl::CivilDay d) {
  pbr::v1::CivilDate out;
  out.set_year(static_cast<int32_t>(d.year()));
  out.set_month(d.month());
  out.set_day(d.day());
  return out;
}

absl::CivilDay FromProto(const pbr::v1::CivilDate& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }

const absl::TimeZone& ClinicalTimeZone() {
  static const absl::TimeZone* tz = [] {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("Europe/London", z)) *z = absl::UTCTimeZone();
    return z;
  }();
  return *tz;
}

absl::CivilDay ClinicalDay(absl::Time t) { return absl::ToCivilDay(t, ClinicalTimeZone()); }

}  // namespace pbr::platform

namespace pbr::platform {

pbr::v1::EventEnvelope MakeEnvelope(absl::string_view event_type, std::string event_id, std::string person_id,
                                    absl::Time occurred_at, absl::Time recorded_at, std::string source_system,
                                    std::string trace_id) {
  pbr::v1::EventEnvelope e;
  e.set_event_id(std::move(event_id));
  e.set_event_type(std::string(event_type));
  e.set_schema_version(kSchemaVersion);
  *e.mutable_occurred_at() = ToProto(occurred_at);
  *e.mutable_recorded_at() = ToProto(recorded_at);
  e.set_source_system(std::move(source_system));
  e.set_person_id(std::move(person_id));
  e.set_trace_id(std::move(trace_id));
  return e;
}

}  // namespace pbr::platform
