#pragma once
// Signed, expiring tokens that carry a caller (role and certificate subject) to pages a browser
// reads, where a client certificate is not always at hand: "<payload>.<mac>", both base64url, the
// MAC an HMAC-SHA256 under a key only the service (and its replicas) hold. Each token names its
// purpose, so a token issued for one use is refused for another.
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "platform/caller.h"

namespace pbr::platform {

class SessionTokens {
 public:
  // A key the service keeps (a secret setting, config.h, which checks its strength), so tokens
  // survive a restart and every replica accepts them.
  static SessionTokens WithKey(std::string key) { return SessionTokens(std::move(key)); }
  // A key made now, for this process only: its tokens end with it.
  static SessionTokens WithRandomKey();

  std::string Issue(const Caller& caller, absl::string_view purpose, absl::Time expires) const;
  // The caller a token names, if this key signed it for `purpose` and it has not expired at `now`;
  // UNAUTHENTICATED saying which check failed.
  absl::StatusOr<Caller> Verify(absl::string_view token, absl::string_view purpose, absl::Time now) const;

 private:
  explicit SessionTokens(std::string key) : key_(std::move(key)) {}
  std::string Mac(absl::string_view payload) const;
  std::string key_;
};

}  // namespace pbr::platform
