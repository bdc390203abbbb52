// /proc/<pid>/net/tcp and tcp6: the TCP sockets of a network namespace. Used to find the inbound connections
// that were open before sigdrain started, which BPF only sees at their next data. Pure parsing.
#pragma once

#include <cstdint>
#include <optional>
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
  uint64_t inode = 0;  // the socket's inode, as /proc/<pid>/fd links name it ("socket:[inode]")
};

// Lines that do not parse are skipped (the header, a truncated last line).
std::vector<TcpSocketEntry> parse_proc_net_tcp(std::string_view text);

// Established connections to a port that something listens on, by socket inode (those not accept()ed yet, inode
// 0, are left out). With `owned`, only sockets of those inodes count, listeners and connections alike: a container
// on the host's network (Kubernetes' hostNetwork, `ctr run --net-host`) sees every connection of the host in its
// /proc/<pid>/net/tcp.
std::set<uint64_t> inbound_connections(const std::vector<TcpSocketEntry>& entries,
                                          const std::set<uint64_t>* owned = nullptr);

// "socket:[12345]" (a /proc/<pid>/fd link) -> 12345; nullopt for any other link.
std::optional<uint64_t> parse_socket_link(std::string_view link);

}  // namespace sigdrain
