#include "proc/net_tcp.hpp"

#include <sstream>

#include <fmt/format.h>

#include "util/parse_number.hpp"

namespace sigdrain {
namespace {

constexpr int kTcpEstablished = 1;
constexpr int kTcpListen = 10;

bool parse_endpoint(std::string_view text, std::string& address, uint16_t& port) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || (colon != 8 && colon != 32)) return false;
  auto value = parse_integer<unsigned>(text.substr(colon + 1), 16);
  if (!value || *value > 0xffff) return false;
  address = std::string(text.substr(0, colon));
  port = static_cast<uint16_t>(*value);
  return true;
}

}  // namespace

std::vector<TcpSocketEntry> parse_proc_net_tcp(std::string_view text) {
  std::vector<TcpSocketEntry> out;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
    if (!(fields >> slot >> local >> remote >> state) || slot.empty() || slot.back() != ':') continue;
    uint64_t inode = 0;  // stays 0 on a line cut short, which still names its endpoints
    if (!(fields >> queues >> timer >> retransmits >> uid >> timeout >> inode)) inode = 0;
    TcpSocketEntry e;
    auto st = parse_integer<int>(state, 16);
    if (!st) continue;
    if (!parse_endpoint(local, e.local_address, e.local_port) || !parse_endpoint(remote, e.remote_address, e.remote_port)) continue;
    e.state = *st;
    e.inode = inode;
    out.push_back(std::move(e));
  }
  return out;
}

std::set<uint64_t> inbound_connections(const std::vector<TcpSocketEntry>& entries, const std::set<uint64_t>* owned) {
  auto counts = [owned](const TcpSocketEntry& e) { return !owned || owned->contains(e.inode); };
  std::set<uint16_t> listening;
  for (const auto& e : entries)
    if (e.state == kTcpListen && counts(e)) listening.insert(e.local_port);
  std::set<uint64_t> out;
  for (const auto& e : entries)
    if (e.state == kTcpEstablished && e.inode != 0 && counts(e) && listening.contains(e.local_port)) out.insert(e.inode);
  return out;
}

std::optional<uint64_t> parse_socket_link(std::string_view link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (!link.starts_with(kPrefix) || !link.ends_with(']')) return std::nullopt;
  return parse_integer<uint64_t>(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1));
}

}  // namespace sigdrain
