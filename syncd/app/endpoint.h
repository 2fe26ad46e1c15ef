// ConfigEndpoint: an address and port as written in gwsync.toml ("192.0.2.1:7400",
// "[2001:db8::1]:7400"). A value parsed once at start-up; the net adapters turn it into their own
// endpoint type. Named apart from syncd/net's Endpoint so config does not depend on Asio.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncd/core/result.h"
#include "syncd/core/session.h"

namespace gwsync::syncd {

struct ConfigEndpoint {
  IpAddress addr;
  uint16_t port = 0;

  // "192.0.2.1:7400" or "[2001:db8::1]:7400": the form parseConfigEndpoint() reads back.
  std::string toString() const;
  auto operator<=>(const ConfigEndpoint&) const = default;
};

// Reads "IP:PORT" or "[IPv6]:PORT". Host names are not accepted: the daemon must not depend on
// DNS at start-up. Port 0 is rejected (an ephemeral port cannot be configured on the other node).
// The error says what is wrong without repeating the text; the caller names key and value.
Result<ConfigEndpoint, std::string> parseConfigEndpoint(std::string_view text);

}  // namespace gwsync::syncd
