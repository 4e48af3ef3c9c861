#include "care/teams.h"

#include "internal.h"

namespace care {

std::string TeamIdProblem(std::string_view id) {
  if (id.empty()) return "must not be empty";
  if (id.size() > kMaxTeamIdBytes) return internal::Cat("is ", id.size(), " bytes, longer than ", kMaxTeamIdBytes);
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) {
      const std::string shown = c == ' '              ? std::string("a space")
                                : c > ' ' && c < 0x7f ? internal::Cat("'", std::string(1, c), "'")
                                                      : internal::Cat("byte ", static_cast<int>(static_cast<unsigned char>(c)));
      return internal::Cat("contains ", shown, "; use letters, digits, '-', '_' and '.' only");
    }
  }
  return "";
}

std::string CommissionerOrUnknown(std::string_view commissioner_id) {
  return std::string(commissioner_id.empty() ? kUnknownCommissioner : commissioner_id);
}

const Team* Teams::Find(std::string_view id) const {
  auto it = teams.find(id);
  return it == teams.end() ? nullptr : &it->second;
}

}  // namespace care
