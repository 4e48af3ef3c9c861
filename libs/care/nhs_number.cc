#include "care/nhs_number.h"
#include "internal.h"

#include "absl/strings/str_cat.h"

namespace care {

absl::Status ValidateNhsNumber(std::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError("nhs_number: is empty");
  if (s.size() != 10) {
    return absl::InvalidArgumentError(
        internal::Cat("nhs_number: must be exactly 10 digits, got ", s.size(), " characters"));
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return absl::InvalidArgumentError(
          internal::Cat("nhs_number: character ", i + 1, " is not a digit"));
    }
  }
  // Ten equal digits pass the check digit (0000000000, 1111111111, ...) but are never issued:
  // EPRs use them as placeholders for "not known".
  if (s.find_first_not_of(s[0]) == std::string_view::npos) {
    return absl::InvalidArgumentError(
        internal::Cat("nhs_number: ten equal digits (", s.substr(0, 3), "...) is a placeholder, never an issued number"));
  }
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (s[i] - '0') * (10 - i);
  int check = 11 - (sum % 11);
  if (check == 11) check = 0;
  if (check == 10) {
    return absl::InvalidArgumentError(
        "nhs_number: the first nine digits give check value 10, which is never issued");
  }
  const int given = s[9] - '0';
  if (given != check) {
    return absl::InvalidArgumentError(internal::Cat("nhs_number: check digit is ", given,
                                                   " but the modulus-11 check gives ", check));
  }
  return absl::OkStatus();
}

std::string NormalizeNhsNumber(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != ' ' && c != '-') out.push_back(c);
  }
  return out;
}

}  // namespace care
