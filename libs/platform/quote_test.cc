#include "platform/quote.h"

#include "gtest/gtest.h"

namespace pbr::platform {
namespace {

TEST(PlatformQuote, ShortValuesWholeLongOnesAsAPrefixWithTheirSize) {
  EXPECT_EQ(Quote("rio-north"), "'rio-north'");
  EXPECT_EQ(Quote(""), "''");
  EXPECT_EQ(Quote(std::string(1 << 20, 'a')), "'" + std::string(kQuotedPrefixBytes, 'a') + "...' (1048576 bytes)");
}

TEST(PlatformQuote, EscapesWhatIsNotPrintableAscii) {
  EXPECT_EQ(Quote("a\nb"), "'a\\nb'");
  EXPECT_EQ(Quote("\xff"), "'\\xff'");
}

}  // namespace
}  // namespace pbr::platform
