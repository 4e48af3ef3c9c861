// NHS number: 10 digits, the last a modulus-11 check digit.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace care {

// Accepts exactly 10 ASCII digits (no spaces). Weights 10..2 on the first nine digits; the check digit is
// 11 - (sum mod 11), 11 becomes 0, and 10 means the number is invalid.
// InvalidArgument whose message starts "nhs_number:" and says why.
absl::Status ValidateNhsNumber(std::string_view nhs_number);

// Removes spaces and hyphens ("943 476 5919" -> "9434765919"); does not validate.
std::string NormalizeNhsNumber(std::string_view nhs_number);

}  // namespace care
