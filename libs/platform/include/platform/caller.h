#pragma once
// Who is calling: the role and, for an EPR feed, the source system, as the client certificate names
// them in a subject alternative name URI, and the certificate's subject for the audit trail.
//   urn:pbr:role:epr-feed:<SOURCE_SYSTEM>   an EPR's feed, for its own records only
//   urn:pbr:role:clinician | operations | finance | admin
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace grpc {
class ServerContext;
class AuthContext;
}  // namespace grpc

namespace pbr::platform {

inline constexpr absl::string_view kRoleUriPrefix = "urn:pbr:role:";

struct Caller {
  std::string role;           // "epr-feed", "clinician", "operations", "finance", "admin"
  std::string source_system;  // epr-feed only
  std::string subject;        // the certificate's subject; "" on a plaintext (loopback) server
  bool authenticated = false; // false: a plaintext server, where nobody has a role
};

// The caller a certificate's URIs and subject describe. UNAUTHENTICATED saying what is missing
// when no URI, or more than one, names a role, or the role or source system is malformed.
absl::StatusOr<Caller> CallerFromCertificate(const std::vector<std::string>& uris, const std::string& subject);

// The caller a TLS connection's peer certificate names (its URI SANs and subject), as
// CallerFromCertificate reads them.
absl::StatusOr<Caller> CallerFromAuthContext(const grpc::AuthContext& auth);

// The caller of a call a TLS server admitted (ServiceHost checked the certificate and the access
// policy before the handler runs); not authenticated on a plaintext server.
Caller CallerOf(const grpc::ServerContext& context);

// Whether `caller` may make the call `method` ("/pbr.v1.Allocation/GetPerson"): OK, or
// PERMISSION_DENIED naming the role and the call.
using AccessPolicy = std::function<absl::Status(const Caller& caller, absl::string_view method)>;

}  // namespace pbr::platform
