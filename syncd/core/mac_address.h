// MacAddress: a 48-bit Ethernet address as a value ("02:00:5e:00:01:01"). Exists so the host
// detection code (frame parser, probe builder, neighbour adapter, config) shares one spelling and
// one comparison instead of passing byte arrays around. Pure.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gwsync::syncd {

struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  // Six two-digit hex groups separated by ':' (or all by '-'), either case. Anything else,
  // including one-digit groups and trailing text, is rejected.
  static std::optional<MacAddress> parse(std::string_view text);
  static constexpr MacAddress broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  // Reads six bytes; the caller checks the length.
  static MacAddress fromBytes(const uint8_t* p);

  // Lower-case, colon-separated: the form `ip link` prints.
  std::string toString() const;
  bool isZero() const;
  bool isBroadcast() const { return *this == broadcast(); }
  // The group bit: broadcast and multicast addresses never name one host.
  bool isMulticast() const { return (bytes[0] & 0x01) != 0; }

  auto operator<=>(const MacAddress&) const = default;
};

}  // namespace gwsync::syncd
