// The one integer parser: what it takes as a number and what it refuses, since every reader relies on both.
#include "util/parse_number.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

namespace sigdrain {
namespace {

TEST(ParseInteger, TakesAWholeDecimalNumber) {
  EXPECT_EQ(parse_integer<int>("0"), 0);
  EXPECT_EQ(parse_integer<int>("4242"), 4242);
  EXPECT_EQ(parse_integer<int>("007"), 7);
  EXPECT_EQ(parse_integer<uint64_t>("18446744073709551615"), UINT64_MAX);
}

TEST(ParseInteger, RefusesEmptyTextAndBlanks) {
  EXPECT_EQ(parse_integer<int>(""), std::nullopt);
  EXPECT_EQ(parse_integer<int>(" 1"), std::nullopt);
  EXPECT_EQ(parse_integer<int>("1 "), std::nullopt);
  EXPECT_EQ(parse_integer<int>("1\n"), std::nullopt);
}

TEST(ParseInteger, AMinusOnlyForASignedTypeAndNeverAPlus) {
  EXPECT_EQ(parse_integer<int>("-5"), -5);
  EXPECT_EQ(parse_integer<unsigned>("-5"), std::nullopt);
  EXPECT_EQ(parse_integer<int>("+5"), std::nullopt);
  EXPECT_EQ(parse_integer<int>("-"), std::nullopt);
}

TEST(ParseInteger, RefusesWhatOverflowsTheType) {
  EXPECT_EQ(parse_integer<int32_t>("2147483647"), INT32_MAX);
  EXPECT_EQ(parse_integer<int32_t>("2147483648"), std::nullopt);
  EXPECT_EQ(parse_integer<int32_t>("-2147483648"), INT32_MIN);
  EXPECT_EQ(parse_integer<int32_t>("-2147483649"), std::nullopt);
  EXPECT_EQ(parse_integer<uint8_t>("256"), std::nullopt);
  EXPECT_EQ(parse_integer<uint64_t>("18446744073709551616"), std::nullopt);
}

TEST(ParseInteger, RefusesTrailingBytes) {
  EXPECT_EQ(parse_integer<int>("12x"), std::nullopt);
  EXPECT_EQ(parse_integer<int>("1.5"), std::nullopt);
  EXPECT_EQ(parse_integer<int>("500ms"), std::nullopt);
  EXPECT_EQ(parse_integer<int>("x12"), std::nullopt);
}

TEST(ParseInteger, Base16TakesEitherCaseButNoPrefix) {
  EXPECT_EQ(parse_integer<unsigned>("1F90", 16), 0x1f90u);
  EXPECT_EQ(parse_integer<unsigned>("1f90", 16), 0x1f90u);
  EXPECT_EQ(parse_integer<uint64_t>("0000000000004a02", 16), 0x4a02u);
  EXPECT_EQ(parse_integer<unsigned>("0x1f", 16), std::nullopt);
  EXPECT_EQ(parse_integer<unsigned>("1g", 16), std::nullopt);
  EXPECT_EQ(parse_integer<uint8_t>("100", 16), std::nullopt);
  EXPECT_EQ(parse_integer<int>("1f"), std::nullopt) << "base 10 unless asked";
}

TEST(ParseLeadingInteger, TakesTheNumberTextBeginsWithWhateverFollows) {
  EXPECT_EQ(parse_leading_integer<int>("3\n"), 3);
  EXPECT_EQ(parse_leading_integer<int>("12 drains"), 12);
  EXPECT_EQ(parse_leading_integer<int>("12"), 12);
  EXPECT_EQ(parse_leading_integer<int>("-4x"), -4);
  EXPECT_EQ(parse_leading_integer<unsigned>("ffz", 16), 0xffu);
}

TEST(ParseLeadingInteger, RefusesTextThatBeginsWithNoNumberOrOverflows) {
  EXPECT_EQ(parse_leading_integer<int>(""), std::nullopt);
  EXPECT_EQ(parse_leading_integer<int>(" 3"), std::nullopt);
  EXPECT_EQ(parse_leading_integer<int>("+3"), std::nullopt);
  EXPECT_EQ(parse_leading_integer<int>("x3"), std::nullopt);
  EXPECT_EQ(parse_leading_integer<int32_t>("99999999999 drains"), std::nullopt);
}

}  // namespace
}  // namespace sigdrain
