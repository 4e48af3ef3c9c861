#pragma once
// The role matrix: which role may make which gRPC call, for every service, in one table. A service's
// host checks every call against it before the handler runs (mutual TLS: the role is the client
// certificate's, platform/caller.h); a call the table does not give the caller's role is
// PERMISSION_DENIED naming the role and the call. Handlers add what the table cannot know: an EPR
// feed records and corrects only its own source system's records (CheckOwnSource).
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "platform/caller.h"

namespace pbr::services {

struct CallAccess {
  std::string method;              // "/pbr.v1.Allocation/GetPerson"
  std::vector<std::string> roles;  // who may call it
  bool identifiable = false;       // takes or returns an NHS number or an EPR id: audited
};

// Every call of every service, health and reflection included.
const std::vector<CallAccess>& AccessMatrix();

// The access policy every service's host uses (platform::AccessPolicy).
absl::Status AuthorizeCall(const platform::Caller& caller, absl::string_view method);

// For an EPR feed: OK when `source_system` (the record's, as the request names it) is the feed's own;
// PERMISSION_DENIED naming both otherwise. Other roles never get here (the matrix gives them no
// writes); a plaintext (loopback) server has no caller to check; an empty source system is left to the
// request's validation, which names the field.
absl::Status CheckOwnSource(const platform::Caller& caller, absl::string_view source_system);

}  // namespace pbr::services
