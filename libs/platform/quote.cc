#include "platform/quote.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace pbr::platform {

std::string Quote(absl::string_view value) {
  if (value.size() <= kQuotedPrefixBytes) return absl::StrCat("'", absl::CHexEscape(value), "'");
  return absl::StrCat("'", absl::CHexEscape(value.substr(0, kQuotedPrefixBytes)), "...' (", value.size(), " bytes)");
}

}  // namespace pbr::platform
