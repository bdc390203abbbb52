#include "metrics/listen_address.hpp"


#include <fmt/format.h>

#include "util/parse_number.hpp"

namespace sigdrain::metrics {

Result<ListenAddress> parse_listen_address(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error::msg(fmt::format("metrics address \"{}\": {}; want HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464", text, why));
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 host goes in brackets");
  }
  if (host.empty()) return bad("no host");
  auto port = parse_integer<unsigned>(port_text);
  if (!port || *port < 1 || *port > 65535) return bad("the port must be a number from 1 to 65535");
  return ListenAddress{std::string(host), static_cast<uint16_t>(*port)};
}

std::string format_listen_address(const ListenAddress& address) {
  bool v6 = address.host.find(':') != std::string::npos;
  return v6 ? fmt::format("[{}]:{}", address.host, address.port) : fmt::format("{}:{}", address.host, address.port);
}

}  // namespace sigdrain::metrics
