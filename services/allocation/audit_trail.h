#pragma once
// The audit trail: every identifiable read and every correction of a person's record, who made it
// (the client certificate's subject and role), which call, when and whose record (by pseudonym),
// kept in allocation's store and published on the audit-recorded topic. A correction's entry is
// written in the correction's own WriteBatch; a read's entry is written (synced) before the read is
// answered, so a read the trail could not record is not answered.
#include <atomic>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "care/rules.h"
#include "pbr/v1/allocation.pb.h"
#include "pbr/v1/common.pb.h"
#include "platform/caller.h"
#include "platform/clock.h"
#include "platform/outbox.h"
#include "platform/store.h"

namespace pbr::allocation {

// Column families: entries newest first, and the same entries by person and by caller.
inline constexpr absl::string_view kAuditFamily = "audit";  // "<inverted time>/<inverted sequence>/<audit id>" -> AuditEntry
inline constexpr absl::string_view kAuditByPersonFamily = "audit_by_person";  // "<person>\x1f<entry key>" -> entry key
inline constexpr absl::string_view kAuditByCallerFamily = "audit_by_caller";  // "<subject>\x1f<entry key>" -> entry key

// Who made a call, as the gRPC handler saw it. Empty for in-process callers (tests, tools), whose
// corrections are still recorded, with no subject.
struct AuditContext {
  platform::Caller caller;
  std::string peer;  // gRPC's peer string, e.g. "ipv4:127.0.0.1:50422"
};

// What the caller gave to find the person.
inline constexpr absl::string_view kByNhsNumber = "nhs_number";
inline constexpr absl::string_view kByPersonId = "person_id";
inline constexpr absl::string_view kBySourceRecord = "source_record";

class AuditTrail {
 public:
  AuditTrail(platform::Store& store, platform::Outbox& outbox, const platform::Clock& clock,
             const care::RuleSet& rules);

  // Stages the entry for `call` on `person_id` into `batch` (with its audit-recorded event), to be
  // written with the change it records.
  absl::Status Stage(const AuditContext& who, absl::string_view call, absl::string_view person_id,
                     absl::string_view looked_up_by, absl::StatusCode outcome, rocksdb::WriteBatchBase& batch);
  // Writes the entry in a batch of its own, synced; an error means nothing was recorded.
  absl::Status Record(const AuditContext& who, absl::string_view call, absl::string_view person_id,
                      absl::string_view looked_up_by, absl::StatusCode outcome);

  // The entries for one person or one caller, newest first; INVALID_ARGUMENT naming the field for
  // a bad request.
  absl::StatusOr<pbr::v1::ListAuditReply> List(const pbr::v1::ListAuditRequest& request) const;

 private:
  platform::Store& store_;
  platform::Outbox& outbox_;
  const platform::Clock& clock_;
  const care::RuleSet& rules_;
  const std::string instance_;  // tells this process's ids from another's
  std::atomic<uint64_t> sequence_{0};
};

}  // namespace pbr::allocation
