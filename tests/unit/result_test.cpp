#include "util/result.hpp"

#include <gtest/gtest.h>

namespace sigdrain {
namespace {

TEST(Result, CarriesValueOrError) {
  Result<int> good = 3;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  Result<int> bad = Error::sys(ENOENT, "open /x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ENOENT);
  EXPECT_EQ(bad.error().message, "open /x: No such file or directory");
}

TEST(Result, ValueOrGivesTheFallbackOnlyForAnError) {
  Result<std::string> good = std::string("kept");
  Result<std::string> bad = Error::msg("gone");
  EXPECT_EQ(good.value_or("fallback"), "kept");
  EXPECT_EQ(bad.value_or("fallback"), "fallback");
  EXPECT_EQ(Result<std::string>(std::string("moved")).value_or("fallback"), "moved");
}

TEST(Result, ValueOrThrowRaisesUserError) {
  Result<int> bad = Error::msg("no such container: web");
  try {
    (void)value_or_throw(std::move(bad), 2);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "no such container: web");
    EXPECT_EQ(e.exit_code(), 2);
  }
}

}  // namespace
}  // namespace sigdrain
