#include <gtest/gtest.h>

#include "metrics/listen_address.hpp"

namespace sigdrain::metrics {
namespace {

TEST(MetricsListenAddress, ParsesHostAndPort) {
  auto a = parse_listen_address("127.0.0.1:9464");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9464);
  auto v6 = parse_listen_address("[::1]:80");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(format_listen_address(*v6), "[::1]:80");
  EXPECT_EQ(format_listen_address(*parse_listen_address("0.0.0.0:65535")), "0.0.0.0:65535");
  EXPECT_EQ(parse_listen_address("localhost:1")->host, "localhost");
}

TEST(MetricsListenAddress, RejectsWithOneLine) {
  const char* hint = "; want HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464";
  EXPECT_EQ(parse_listen_address("9464").error().message, std::string("metrics address \"9464\": no port") + hint);
  EXPECT_EQ(parse_listen_address(":9464").error().message, std::string("metrics address \":9464\": no host") + hint);
  EXPECT_EQ(parse_listen_address("::1:9464").error().message,
            std::string("metrics address \"::1:9464\": an IPv6 host goes in brackets") + hint);
  for (const char* bad : {"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:90x", "127.0.0.1:-1"})
    EXPECT_EQ(parse_listen_address(bad).error().message,
              std::string("metrics address \"") + bad + "\": the port must be a number from 1 to 65535" + hint);
}

}  // namespace
}  // namespace sigdrain::metrics
