// The control protocol's wire form: a body as it is, a refusal as one "error: " line.
#include <gtest/gtest.h>

#include "daemon/control.hpp"

namespace sigdrain {
namespace {

TEST(ControlReply, ABodyGoesOutAsItIsAndComesBack) {
  const std::string body = "{\"id\":\"abc\"}\n{\"id\":\"def\"}\n";
  EXPECT_EQ(encode_reply(body), body);
  ControlReply back = decode_reply(encode_reply(body));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, body);
  ControlReply empty = decode_reply("");
  ASSERT_TRUE(empty.ok()) << "ps of a daemon that knows no container";
  EXPECT_EQ(*empty, "");
}

TEST(ControlReply, ARefusalIsOneErrorLine) {
  EXPECT_EQ(encode_reply(Error::msg("the daemon is already stopping web")), "error: the daemon is already stopping web\n");
  ControlReply back = decode_reply(encode_reply(Error::msg("the daemon is already stopping web")));
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().message, "the daemon is already stopping web");
  EXPECT_EQ(back.error().code, 0) << "the daemon's refusal, not a system error of the client's";
  EXPECT_EQ(encode_reply(Error::msg("first\nsecond")), "error: first\n") << "a reason is one line on the wire";
  ControlReply unterminated = decode_reply("error: cut short");
  ASSERT_FALSE(unterminated.ok());
  EXPECT_EQ(unterminated.error().message, "cut short");
  EXPECT_TRUE(decode_reply("errors: 2\n").ok()) << "only the exact prefix is a refusal";
}

TEST(ControlRequest, PsAndUnguardParseAnythingElseNamesTheKnownOnes) {
  auto ps = parse_control_request("ps");
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps.value().kind, ControlRequest::Kind::ps);
  auto unguard = parse_control_request("unguard 3f50258");
  ASSERT_TRUE(unguard.ok());
  EXPECT_EQ(unguard.value().kind, ControlRequest::Kind::unguard);
  EXPECT_EQ(unguard.value().container_id, "3f50258");
  for (const char* bad : {"", "ps ", "PS", "unguard", "unguard ", "stop abc"}) {
    auto r = parse_control_request(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("known: ps, unguard ID"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace sigdrain
