#include "audit_trail.h"

#include <unistd.h>

#include <limits>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "event_rules.h"
#include "field_rules.h"
#include "platform/events.h"

namespace pbr::allocation {
namespace {

namespace topic = platform::topic;
using services::Need;

// Newest (largest) first in key order: counted down from the largest 64-bit value, 20 digits.
std::string Inverted(uint64_t n) { return absl::StrFormat("%020u", std::numeric_limits<uint64_t>::max() - n); }

// A subject is free text: the caller index holds a digest of it, so no character can end the key
// part early.
std::string CallerKey(absl::string_view subject) { return platform::DeterministicId("caller", {subject}); }

std::string PersonPrefix(absl::string_view person_id) { return absl::StrCat(person_id, "\x1f"); }
std::string CallerPrefix(absl::string_view subject) { return absl::StrCat(CallerKey(subject), "\x1f"); }

// At most `max_bytes` of `text`, cut before a UTF-8 continuation byte.
std::string Cut(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

std::string Instance() {
  std::random_device random;
  return absl::StrCat(getpid(), "-", random(), "-", absl::ToUnixNanos(absl::Now()));
}

}  // namespace

AuditTrail::AuditTrail(platform::Store& store, platform::Outbox& outbox, const platform::Clock& clock,
                       const care::RuleSet& rules)
    : store_(store), outbox_(outbox), clock_(clock), rules_(rules), instance_(Instance()) {}

absl::Status AuditTrail::Stage(const AuditContext& who, absl::string_view call, absl::string_view person_id,
                               absl::string_view looked_up_by, absl::StatusCode outcome, rocksdb::WriteBatchBase& batch) {
  const absl::Time at = clock_.Now();
  pbr::v1::AuditEntry entry;
  const uint64_t sequence = sequence_++;
  entry.set_audit_id(platform::DeterministicId("audit", {instance_, absl::StrCat(sequence)}));
  entry.set_call(std::string(call));
  entry.set_caller_subject(Cut(who.caller.subject, services::limits::kCallerSubjectBytes));
  entry.set_caller_role(who.caller.role);
  entry.set_caller_source_system(who.caller.source_system);
  entry.set_peer(Cut(who.peer, services::limits::kPeerBytes));
  *entry.mutable_at() = platform::ToProto(at);
  entry.set_person_id(std::string(person_id));
  entry.set_looked_up_by(std::string(looked_up_by));
  entry.set_outcome(absl::StatusCodeToString(outcome));

  auto event = platform::MakeEnvelope(topic::kAuditRecorded, entry.audit_id(), entry.person_id(), at, at,
                                      entry.caller_source_system(), "");
  *event.mutable_audit_recorded() = entry;
  if (auto st = services::StageChecked(outbox_, rules_, batch, topic::kAuditRecorded, event); !st.ok()) return st;
  // Entries of one clock tick stay newest first by this process's sequence.
  const std::string key = absl::StrCat(Inverted(static_cast<uint64_t>(absl::ToUnixNanos(at))), "/",
                                       Inverted(sequence), "/", entry.audit_id());
  batch.Put(store_.Family(kAuditFamily), key, entry.SerializeAsString());
  batch.Put(store_.Family(kAuditByPersonFamily), absl::StrCat(PersonPrefix(person_id), key), key);
  batch.Put(store_.Family(kAuditByCallerFamily), absl::StrCat(CallerPrefix(entry.caller_subject()), key), key);
  return absl::OkStatus();
}

absl::Status AuditTrail::Record(const AuditContext& who, absl::string_view call, absl::string_view person_id,
                                absl::string_view looked_up_by, absl::StatusCode outcome) {
  rocksdb::WriteBatch batch;
  if (auto st = Stage(who, call, person_id, looked_up_by, outcome, batch); !st.ok()) return st;
  if (auto st = store_.Write(batch, /*sync=*/true); !st.ok()) return st;
  outbox_.Wake();
  return absl::OkStatus();
}

absl::StatusOr<pbr::v1::ListAuditReply> AuditTrail::List(const pbr::v1::ListAuditRequest& r) const {
  services::Problems p;
  std::string index, prefix;
  if (r.who_case() == pbr::v1::ListAuditRequest::kPersonId) {
    p.Identifier("person_id", r.person_id(), Need::kRequired);
    index = std::string(kAuditByPersonFamily);
    prefix = PersonPrefix(r.person_id());
  } else if (r.who_case() == pbr::v1::ListAuditRequest::kCallerSubject) {
    p.Text("caller_subject", r.caller_subject(), services::limits::kCallerSubjectBytes);
    index = std::string(kAuditByCallerFamily);
    prefix = CallerPrefix(r.caller_subject());
  } else {
    p.Add("person_id or caller_subject", "one is required");
  }
  if (r.page_size() < 0 || r.page_size() > services::limits::kMaxAuditPageSize) {
    p.Add("page_size", absl::StrCat(r.page_size(), " is not 0-", services::limits::kMaxAuditPageSize));
  }
  p.Identifier("page_token", r.page_token(), Need::kOptional, services::limits::kAuditPageTokenBytes);
  if (!p.ok()) return p.Result();

  const int size = r.page_size() == 0 ? 100 : r.page_size();
  pbr::v1::ListAuditReply reply;
  absl::Status failure;
  // The token is the key of the first entry of the next page.
  auto st = store_.ScanFrom(index, absl::StrCat(prefix, r.page_token()), [&](absl::string_view key,
                                                                              absl::string_view entry_key) {
    if (!absl::StartsWith(key, prefix)) return false;
    if (reply.entries_size() == size) {
      reply.set_next_page_token(std::string(key.substr(prefix.size())));
      return false;
    }
    auto raw = store_.Get(kAuditFamily, entry_key);
    if (!raw.ok()) {
      failure = raw.status();
      return false;
    }
    if (!raw->has_value() || !reply.add_entries()->ParseFromString(**raw)) {
      failure = absl::DataLossError(absl::StrCat("audit entry ", entry_key, " is missing or unreadable"));
      return false;
    }
    return true;
  });
  if (!st.ok()) return st;
  if (!failure.ok()) return failure;
  return reply;
}

}  // namespace pbr::allocation
