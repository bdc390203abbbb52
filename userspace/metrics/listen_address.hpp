// `HOST:PORT` for the metrics server: 127.0.0.1:9464, [::1]:9464, 0.0.0.0:9464. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace sigdrain::metrics {

struct ListenAddress {
  std::string host;   // without brackets
  uint16_t port = 0;  // 0 lets the kernel choose (tests); parse_listen_address never returns it
};

// The flag and the config key `metrics-address` share this; errors are one line that names the value.
Result<ListenAddress> parse_listen_address(std::string_view text);
std::string format_listen_address(const ListenAddress& address);

}  // namespace sigdrain::metrics
