// An IP literal and a port, as written in the config file: "192.0.2.1:7946" or
// "[2001:db8::1]:7946". Pure (standard library only), so the config code can parse and validate
// addresses without linking the Asio adapter.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncd/core/result.h"

namespace gwsync::syncd {

struct Endpoint {
  std::string host{};  // an IPv4 or IPv6 literal, IPv6 without brackets; no host names
  uint16_t port = 0;

  // "IP:PORT" or "[IPv6]:PORT": the form parseEndpoint accepts.
  std::string toString() const;
  bool operator==(const Endpoint&) const = default;
};

// Parses "IP:PORT" or "[IPv6]:PORT". Host names are rejected (a sync peer is configured by
// address: resolving at runtime would add a failure mode and a dependency on DNS), and so is
// port 0. The error says what is wrong with the text and quotes it.
Result<Endpoint, std::string> parseEndpoint(std::string_view text);

}  // namespace gwsync::syncd
