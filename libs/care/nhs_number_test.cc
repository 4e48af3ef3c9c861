#include "care/nhs_number.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace care {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Msg;

class CareNhsNumberValid : public ::testing::TestWithParam<const char*> {};
TEST_P(CareNhsNumberValid, Accepted) { EXPECT_TRUE(ValidateNhsNumber(GetParam()).ok()) << GetParam(); }
INSTANTIATE_TEST_SUITE_P(Numbers, CareNhsNumberValid,
                         ::testing::Values("9434765919", "4010232137", "3982597919", "9074833780", "8762328603",
                                           "1290404798", "6669725108", "2734646862"));

struct Invalid {
  const char* number;
  const char* why;
};
class CareNhsNumberInvalid : public ::testing::TestWithParam<Invalid> {};
TEST_P(CareNhsNumberInvalid, RejectedWithReason) {
  absl::Status s = ValidateNhsNumber(GetParam().number);
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << GetParam().number;
  EXPECT_THAT(Msg(s), StartsWith("nhs_number: "));
  EXPECT_THAT(Msg(s), HasSubstr(GetParam().why));
}
INSTANTIATE_TEST_SUITE_P(
    Numbers, CareNhsNumberInvalid,
    ::testing::Values(Invalid{"", "is empty"}, Invalid{"943476591", "exactly 10 digits"},
                      Invalid{"94347659190", "exactly 10 digits"}, Invalid{"943 476 5919", "exactly 10 digits"},
                      Invalid{"943476591X", "character 10 is not a digit"},
                      Invalid{"A434765919", "character 1 is not a digit"},
                      Invalid{"9434765918", "check digit is 8 but the modulus-11 check gives 9"},
                      Invalid{"4010232138", "check digit"},
                      Invalid{"3040119800", "check value 10"}, Invalid{"1984634641", "check value 10"},
                      Invalid{"8531941309", "check value 10"},
                      // Their check digits are right (0000000000: check 11 -> 0), but no one has them.
                      Invalid{"0000000000", "ten equal digits"}, Invalid{"1111111111", "ten equal digits"},
                      Invalid{"9999999999", "ten equal digits"}));

// For any nine-digit prefix exactly one check digit is valid, unless the check value is 10 (then none is).
TEST(CareNhsNumberProperty, AtMostOneCheckDigitPerPrefix) {
  for (int prefix = 100000000; prefix < 100000000 + 2000 * 4999; prefix += 4999) {
    std::string p = std::to_string(prefix);
    int valid = 0;
    for (char d = '0'; d <= '9'; ++d) valid += ValidateNhsNumber(p + d).ok() ? 1 : 0;
    EXPECT_LE(valid, 1) << p;
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (p[i] - '0') * (10 - i);
    EXPECT_EQ(valid, (11 - sum % 11) == 10 ? 0 : 1) << p;
  }
}

TEST(CareNhsNumber, NormalizeRemovesSpacesAndHyphens) {
  EXPECT_EQ(NormalizeNhsNumber("943 476 5919"), "9434765919");
  EXPECT_EQ(NormalizeNhsNumber("943-476-5919"), "9434765919");
  EXPECT_TRUE(ValidateNhsNumber(NormalizeNhsNumber("943 476 5919")).ok());
}

}  // namespace
}  // namespace care
