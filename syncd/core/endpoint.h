// Endpoint: an IP address and a port, as written in gwsync.toml ("192.0.2.1:7400",
// "[2001:db8::1]:7400"). Parsed once at start-up by the config and handed unchanged to the net
// adapters, which build their socket addresses from it. Pure: no Asio, no name resolution.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncd/core/result.h"
#include "syncd/core/session.h"

namespace gwsync::syncd {

struct Endpoint {
  IpAddress addr;
  uint16_t port = 0;

  // "192.0.2.1:7400" or "[2001:db8::1]:7400": the form parseEndpoint() reads back.
  std::string toString() const;
  auto operator<=>(const Endpoint&) const = default;
};

// Reads "IP:PORT" or "[IPv6]:PORT": brackets for IPv6 and only for IPv6, a port of one to five
// decimal digits in 1..65535. Host names are not accepted: the daemon must not depend on DNS at
// start-up. Port 0 is rejected (an ephemeral port cannot be configured on the other node).
// The error says what is wrong without repeating the text; the caller names key and value.
Result<Endpoint, std::string> parseEndpoint(std::string_view text);

}  // namespace gwsync::syncd
