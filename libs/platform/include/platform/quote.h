#pragma once
// Quoting what a caller sent in an error message. Every error that shows input goes through
// Quote, so a message never grows with the input: a 1 MB value quoted whole would become 1 MB of
// gRPC status metadata, which a client with default limits refuses (RESOURCE_EXHAUSTED).
#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace pbr::platform {

// The most of a value an error message shows.
inline constexpr size_t kQuotedPrefixBytes = 40;

// 'value' in single quotes with anything but printable ASCII escaped (\n, \xff, ...); a longer
// value shows only its first kQuotedPrefixBytes bytes: 'abc...' (1048576 bytes).
std::string Quote(absl::string_view value);

}  // namespace pbr::platform
