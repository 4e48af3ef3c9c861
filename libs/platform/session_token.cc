#include "platform/session_token.h"

#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pbr::platform {
namespace {
constexpr size_t kRandomKeyBytes = 32;
constexpr size_t kMaxTokenBytes = 2048;
constexpr size_t kMaxSubjectBytes = 512;
constexpr unsigned int kMacBytes = 32;  // HMAC-SHA256
}  // namespace

SessionTokens SessionTokens::WithRandomKey() {
  std::string key(kRandomKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    // No randomness: an empty key would make forgeable tokens, so no process should go on.
    std::abort();
  }
  return SessionTokens(std::move(key));
}

std::string SessionTokens::Mac(absl::string_view payload) const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(payload.data()),
           payload.size(), md, &len) == nullptr ||
      len != kMacBytes) {
    // An empty MAC would match an empty one in a forged token: no process may go on without HMAC.
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string SessionTokens::Issue(const Caller& caller, absl::string_view purpose, absl::Time expires) const {
  // Fields joined by newlines: none of them can hold one (roles and purposes are words, the subject
  // is RFC 2253, whose escaping leaves no raw newline).
  const std::string payload = absl::StrCat(purpose, "\n", caller.role, "\n", caller.source_system, "\n",
                                           caller.subject.substr(0, kMaxSubjectBytes), "\n", absl::ToUnixSeconds(expires));
  return absl::StrCat(absl::WebSafeBase64Escape(payload), ".", absl::WebSafeBase64Escape(Mac(payload)));
}

absl::StatusOr<Caller> SessionTokens::Verify(absl::string_view token, absl::string_view purpose, absl::Time now) const {
  if (token.empty()) return absl::UnauthenticatedError("no token");
  if (token.size() > kMaxTokenBytes) return absl::UnauthenticatedError("the token is too long");
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  std::string payload, mac;
  if (parts.size() != 2 || !absl::WebSafeBase64Unescape(parts[0], &payload) ||
      !absl::WebSafeBase64Unescape(parts[1], &mac)) {
    return absl::UnauthenticatedError("the token is malformed");
  }
  const std::string expected = Mac(payload);
  if (mac.size() != kMacBytes || mac.size() != expected.size() || CRYPTO_memcmp(mac.data(), expected.data(), mac.size()) != 0) {
    return absl::UnauthenticatedError("the token was not issued here (or the service's token key changed)");
  }
  const std::vector<std::string> fields = absl::StrSplit(payload, '\n');
  int64_t expires = 0;
  if (fields.size() != 5 || !absl::SimpleAtoi(fields[4], &expires)) return absl::UnauthenticatedError("the token is malformed");
  if (fields[0] != purpose) return absl::UnauthenticatedError(absl::StrCat("the token is for ", fields[0], ", not ", purpose));
  if (now >= absl::FromUnixSeconds(expires)) {
    return absl::UnauthenticatedError(absl::StrCat("the token expired at ", absl::FormatTime(absl::FromUnixSeconds(expires))));
  }
  Caller caller;
  caller.role = fields[1];
  caller.source_system = fields[2];
  caller.subject = fields[3];
  caller.authenticated = true;
  return caller;
}

}  // namespace pbr::platform
