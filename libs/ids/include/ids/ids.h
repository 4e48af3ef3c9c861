#pragma once
// Deterministic ids: a hex digest of a fact's type and the parts that identify it, so the same fact
// always gets the same id (a retried call, a replayed message, a second service deriving it).
// Pure (no I/O): the shared ledger and the platform both use it.
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace pbr::ids {

// 32 hex digits (the first 128 bits of SHA-256 over the type and the length-prefixed parts).
std::string DeterministicId(absl::string_view type, std::initializer_list<absl::string_view> parts);

}  // namespace pbr::ids
