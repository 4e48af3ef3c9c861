#include "care/mhct.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace care {
namespace {

using ::testing::HasSubstr;
using testing::Msg;

MhctRatings AllZero() { return MhctRatings{}; }

TEST(CareMhct, AllZeroIsValid) { EXPECT_TRUE(ValidateMhct(AllZero()).ok()); }

TEST(CareMhct, AllNotKnownIsValid) {
  MhctRatings r;
  r.items.fill(kNotKnown);
  EXPECT_TRUE(ValidateMhct(r).ok());
}

// Every item accepts 0-4 and 9.
TEST(CareMhct, EveryItemAcceptsEveryValidRating) {
  for (int i = 0; i < kMhctItemCount; ++i) {
    for (int v : {0, 1, 2, 3, 4, 9}) {
      MhctRatings r = AllZero();
      r.items[i] = v;
      if (i == kItem8Index && v >= 1 && v <= 4) r.item8_problem_type = 'B';
      EXPECT_TRUE(ValidateMhct(r).ok()) << "item index " << i << " rating " << v << ": " << ValidateMhct(r);
    }
  }
}

// Every item rejects anything else, naming the field.
TEST(CareMhct, EveryItemRejectsOutOfRangeRatings) {
  for (int i = 0; i < kMhctItemCount; ++i) {
    for (int v : {-1, 5, 6, 7, 8, 10, 99}) {
      MhctRatings r = AllZero();
      r.items[i] = v;
      absl::Status s = ValidateMhct(r);
      ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << i << " " << v;
      EXPECT_THAT(Msg(s), HasSubstr("ratings.item[" + std::to_string(i) + "]"));
      EXPECT_THAT(Msg(s), HasSubstr("rating " + std::to_string(v) + " is not 0-4 or 9"));
    }
  }
}

TEST(CareMhct, MessageMatchesTheContractFormat) {
  MhctRatings r = AllZero();
  r.items[6] = 5;
  EXPECT_THAT(Msg(ValidateMhct(r)), HasSubstr("ratings.item[6] (item 7): rating 5 is not 0-4 or 9"));
}

TEST(CareMhct, Item8RatedOneToFourNeedsAProblemType) {
  for (int v = 1; v <= 4; ++v) {
    MhctRatings r = AllZero();
    r.items[kItem8Index] = v;
    absl::Status s = ValidateMhct(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(s), HasSubstr("ratings.item8_problem_type: required"));
  }
}

TEST(CareMhct, EveryProblemTypeAToJIsAccepted) {
  for (char t = 'A'; t <= 'J'; ++t) {
    MhctRatings r = AllZero();
    r.items[kItem8Index] = 3;
    r.item8_problem_type = t;
    if (t == 'J') r.item8_other_text = "hoarding";
    EXPECT_TRUE(ValidateMhct(r).ok()) << t;
    EXPECT_FALSE(Item8ProblemTypeLabel(t).empty());
  }
}

TEST(CareMhct, UnknownProblemTypesAreRejected) {
  for (char t : {'K', 'Z', 'a', 'j', '1', '\x01'}) {
    MhctRatings r = AllZero();
    r.items[kItem8Index] = 2;
    r.item8_problem_type = t;
    absl::Status s = ValidateMhct(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << static_cast<int>(t);
    EXPECT_THAT(Msg(s), HasSubstr("is not a problem type A-J"));
  }
}

TEST(CareMhct, ProblemTypeWithoutAProblemIsRejected) {
  for (int v : {0, 9}) {
    MhctRatings r = AllZero();
    r.items[kItem8Index] = v;
    r.item8_problem_type = 'A';
    EXPECT_THAT(Msg(ValidateMhct(r)), HasSubstr("ratings.item8_problem_type: must be empty"));
  }
}

TEST(CareMhct, TypeJNeedsFreeText) {
  MhctRatings r = AllZero();
  r.items[kItem8Index] = 2;
  r.item8_problem_type = 'J';
  EXPECT_THAT(Msg(ValidateMhct(r)), HasSubstr("ratings.item8_other_text: required"));
  r.item8_other_text = "   ";
  EXPECT_THAT(Msg(ValidateMhct(r)), HasSubstr("ratings.item8_other_text: required"));
  r.item8_other_text = "trichotillomania";
  EXPECT_TRUE(ValidateMhct(r).ok());
}

TEST(CareMhct, FreeTextOnlyWithTypeJ) {
  MhctRatings r = AllZero();
  r.items[kItem8Index] = 2;
  r.item8_problem_type = 'B';
  r.item8_other_text = "something";
  EXPECT_THAT(Msg(ValidateMhct(r)), HasSubstr("ratings.item8_other_text: only allowed"));
}

TEST(CareMhct, ReportsEveryProblemAtOnce) {
  MhctRatings r = AllZero();
  r.items[0] = 7;
  r.items[17] = -2;
  r.items[kItem8Index] = 4;
  const std::string m = Msg(ValidateMhct(r));
  EXPECT_THAT(m, HasSubstr("ratings.item[0]"));
  EXPECT_THAT(m, HasSubstr("ratings.item[17]"));
  EXPECT_THAT(m, HasSubstr("item8_problem_type"));
}

TEST(CareMhctItems, CodesLabelsAndLookups) {
  EXPECT_EQ(MhctItemCode(0), "1");
  EXPECT_EQ(MhctItemCode(12), "13");
  EXPECT_EQ(MhctItemCode(13), "A");
  EXPECT_EQ(MhctItemCode(17), "E");
  EXPECT_EQ(MhctItemCode(18), "");
  EXPECT_EQ(MhctItemCode(-1), "");
  EXPECT_EQ(MhctItemLabel(6), "Depressed mood");
  EXPECT_EQ(MhctItemName(5), "item 6 (Hallucinations and delusions)");
  for (int i = 0; i < kMhctItemCount; ++i) {
    EXPECT_EQ(MhctItemIndexFromCode(MhctItemCode(i)), i);
    EXPECT_FALSE(MhctItemLabel(i).empty());
  }
  EXPECT_EQ(MhctItemIndexFromCode("e"), 17);
  EXPECT_EQ(MhctItemIndexFromCode(" 7 "), 6);
  EXPECT_EQ(MhctItemIndexFromCode("0"), std::nullopt);
  EXPECT_EQ(MhctItemIndexFromCode("14"), std::nullopt);
  EXPECT_EQ(MhctItemIndexFromCode("F"), std::nullopt);
  EXPECT_EQ(Item8ProblemTypeLabel('B'), "Anxiety");
  EXPECT_EQ(Item8ProblemTypeLabel('K'), "");
}

}  // namespace
}  // namespace care
