// /proc/<pid>/net/tcp and tcp6: the TCP sockets of a network namespace. Used to find the inbound connections
// that were open before sigdrain started, which BPF only sees at their next data. Pure parsing.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sigdrain {

struct TcpSocketEntry {
  std::string local_address;  // hex, as the kernel prints it
  uint16_t local_port = 0;
  std::string remote_address;
  uint16_t remote_port = 0;
  int state = 0;  // TCP_ESTABLISHED = 1, TCP_LISTEN = 10
};

// Lines that do not parse are skipped (the header, a truncated last line).
std::vector<TcpSocketEntry> parse_proc_net_tcp(std::string_view text);

// Established connections to a port that something listens on: "local:port>remote:port" keys.
std::set<std::string> inbound_connections(const std::vector<TcpSocketEntry>& entries);

}  // namespace sigdrain
