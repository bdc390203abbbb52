#include <gtest/gtest.h>

#include "proc/net_tcp.hpp"

namespace sigdrain {
namespace {

// Real lines: a listener on 0.0.0.0:8080, one inbound connection to it, one outbound to :5432, a TIME_WAIT.
constexpr std::string_view kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41187 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0258580A:1F90 0158580A:B3C6 01 00000000:00000000 00:00000000 00000000     0        0 41201 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0258580A:9C40 0158580A:1538 01 00000000:00000000 00:00000000 00000000     0        0 41202 1 0000000000000000 20 4 30 10 -1\n"
    "   3: 0258580A:1F90 0158580A:B3C8 06 00000000:00000000 03:00001234 00000000     0        0 0 3 0000000000000000\n"
    "   4: 0258580A:1F9";  // truncated

constexpr std::string_view kTcp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0\n"
    "   1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 6 1 0\n";

TEST(ProcNetTcp, ParsesIpv4AndIpv6AndSkipsBrokenLines) {
  auto v4 = parse_proc_net_tcp(kTcp);
  ASSERT_EQ(v4.size(), 4u);
  EXPECT_EQ(v4[0].local_port, 8080);
  EXPECT_EQ(v4[0].state, 10);
  EXPECT_EQ(v4[1].remote_port, 0xB3C6);
  auto v6 = parse_proc_net_tcp(kTcp6);
  ASSERT_EQ(v6.size(), 2u);
  EXPECT_EQ(v6[1].local_port, 80);
  EXPECT_EQ(v6[1].local_address.size(), 32u);
  EXPECT_TRUE(parse_proc_net_tcp("garbage\n1: zz:zz yy:yy 01\n").empty());
}

TEST(ProcNetTcp, InboundConnectionsAreEstablishedToAListeningPort) {
  auto in = inbound_connections(parse_proc_net_tcp(kTcp));
  ASSERT_EQ(in.size(), 1u) << "not the outbound one, not the TIME_WAIT";
  EXPECT_EQ(*in.begin(), 41201u);
  EXPECT_EQ(inbound_connections(parse_proc_net_tcp(kTcp6)).size(), 1u);
}

TEST(ProcNetTcp, ReadsTheInode) {
  auto v4 = parse_proc_net_tcp(kTcp);
  ASSERT_EQ(v4.size(), 4u);
  EXPECT_EQ(v4[0].inode, 41187u);
  EXPECT_EQ(v4[1].inode, 41201u);
  EXPECT_EQ(v4[3].inode, 0u) << "TIME_WAIT has no socket";
}

TEST(ProcNetTcp, OwnedSocketsOnlyOnTheHostsNetwork) {
  // A container on the host's network sees the host's listener and connection (inodes 41187, 41201) next to
  // its own; only its own count.
  constexpr std::string_view host_and_container =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41187 1 0\n"
      "   1: 0258580A:1F90 0158580A:B3C6 01 00000000:00000000 00:00000000 00000000     0        0 41201 1 0\n"
      "   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 900 1 0\n"
      "   3: 0100007F:0050 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 901 1 0\n";
  auto entries = parse_proc_net_tcp(host_and_container);
  EXPECT_EQ(inbound_connections(entries).size(), 2u) << "without owners: every inbound connection";
  std::set<uint64_t> container{900, 901};
  auto in = inbound_connections(entries, &container);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(*in.begin(), 901u);
  std::set<uint64_t> only_the_connection{901};
  EXPECT_TRUE(inbound_connections(entries, &only_the_connection).empty()) << "its port must be one it listens on";
}

TEST(ProcNetTcp, SocketLinks) {
  EXPECT_EQ(parse_socket_link("socket:[41201]"), 41201u);
  EXPECT_EQ(parse_socket_link("socket:[]"), std::nullopt);
  EXPECT_EQ(parse_socket_link("socket:[12x]"), std::nullopt);
  EXPECT_EQ(parse_socket_link("pipe:[41201]"), std::nullopt);
  EXPECT_EQ(parse_socket_link("/dev/null"), std::nullopt);
}

}  // namespace
}  // namespace sigdrain
