// Private helpers. Debian's abseil is built with its own absl::string_view (not std::string_view), so the
// library's std::string_view values go through these wrappers on their way into absl string functions.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace care::internal {

// FNV-1a, for the rule set's content digest (a change detector, not a security measure).
inline uint64_t Fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

template <typename T>
decltype(auto) Fix(const T& v) {
  if constexpr (std::is_convertible_v<const T&, std::string_view> &&
                !std::is_convertible_v<const T&, absl::string_view>) {
    return AV(std::string_view(v));
  } else {
    return (v);
  }
}

template <typename... Args>
std::string Cat(const Args&... args) {
  return absl::StrCat(Fix(args)...);
}
template <typename... Args>
void Append(std::string* out, const Args&... args) {
  absl::StrAppend(out, Fix(args)...);
}

inline std::string_view Strip(std::string_view s) { return SV(absl::StripAsciiWhitespace(AV(s))); }
inline std::string Lower(std::string_view s) { return absl::AsciiStrToLower(AV(s)); }
inline std::string Upper(std::string_view s) { return absl::AsciiStrToUpper(AV(s)); }
template <typename T>
bool Atoi(std::string_view s, T* out) {
  return absl::SimpleAtoi(AV(s), out);
}
inline std::vector<std::string_view> Split(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string_view> out;
  if (skip_empty) {
    for (absl::string_view p : absl::StrSplit(AV(s), sep, absl::SkipEmpty())) out.push_back(SV(p));
  } else {
    for (absl::string_view p : absl::StrSplit(AV(s), sep)) out.push_back(SV(p));
  }
  return out;
}

}  // namespace care::internal
