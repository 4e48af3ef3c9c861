#include "platform/caller.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "grpcpp/server_context.h"

namespace pbr::platform {
namespace {

const std::set<std::string, std::less<>>& Roles() {
  static const auto* roles = new std::set<std::string, std::less<>>{"epr-feed", "clinician", "operations", "finance", "admin"};
  return *roles;
}

// A source system as EPR feeds name theirs in every record: 1-128 of [A-Za-z0-9._-].
bool SourceSystemName(absl::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string PropertyOf(const grpc::AuthContext& context, const std::string& name) {
  for (const auto& v : context.FindPropertyValues(name)) return std::string(v.data(), v.size());
  return "";
}

}  // namespace

absl::StatusOr<Caller> CallerFromCertificate(const std::vector<std::string>& uris, const std::string& subject) {
  std::vector<std::string> roles;
  for (const std::string& uri : uris) {
    if (absl::StartsWith(uri, kRoleUriPrefix)) roles.push_back(uri);
  }
  const std::string who = subject.empty() ? "the client certificate" : absl::StrCat("the client certificate ", subject);
  if (roles.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(who, " names no role: it needs a subject alternative name URI ",
                                                   kRoleUriPrefix, "<role> (epr-feed:<SOURCE_SYSTEM>, clinician, ",
                                                   "operations, finance or admin)"));
  }
  if (roles.size() > 1) {
    return absl::UnauthenticatedError(absl::StrCat(who, " names more than one role (", absl::StrJoin(roles, ", "),
                                                   "): one certificate, one role"));
  }
  absl::string_view rest = absl::string_view(roles[0]).substr(kRoleUriPrefix.size());
  Caller caller;
  caller.subject = subject;
  caller.authenticated = true;
  if (absl::StartsWith(rest, "epr-feed")) {
    absl::string_view source = rest.substr(std::string_view("epr-feed").size());
    if (!absl::ConsumePrefix(&source, ":") || !SourceSystemName(source)) {
      return absl::UnauthenticatedError(absl::StrCat(who, ": '", roles[0], "' must name its source system as ",
                                                     kRoleUriPrefix, "epr-feed:<SOURCE_SYSTEM> (1-128 of A-Z a-z 0-9 . _ -)"));
    }
    caller.role = "epr-feed";
    caller.source_system = std::string(source);
    return caller;
  }
  if (!Roles().count(rest)) {
    return absl::UnauthenticatedError(absl::StrCat(who, ": '", roles[0], "' is not a role (epr-feed:<SOURCE_SYSTEM>, ",
                                                   "clinician, operations, finance, admin)"));
  }
  caller.role = std::string(rest);
  return caller;
}

absl::StatusOr<Caller> CallerFromAuthContext(const grpc::AuthContext& auth) {
  std::vector<std::string> uris;
  for (const auto& v : auth.FindPropertyValues("peer_uri")) uris.emplace_back(v.data(), v.size());
  return CallerFromCertificate(uris, PropertyOf(auth, "x509_subject"));
}

Caller CallerOf(const grpc::ServerContext& context) {
  Caller caller;
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return caller;
  if (!auth->IsPeerAuthenticated()) return caller;  // a plaintext server
  // The server admitted the call only for a certificate naming one role (tls.cc), so this parses.
  absl::StatusOr<Caller> parsed = CallerFromAuthContext(*auth);
  if (!parsed.ok()) {
    // Cannot happen after the access check; if it did, an authenticated caller with no role is
    // refused everything rather than treated as a plaintext server's.
    caller.authenticated = true;
    return caller;
  }
  parsed->authenticated = true;
  return *parsed;
}

}  // namespace pbr::platform
