// Prefix: an address prefix (192.0.2.0/24, 2001:db8::/32), used by the sync filter, NAT and
// mobility configuration. Pure value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncd/core/result.h"
#include "syncd/core/session.h"

namespace gwsync::syncd {

// An address prefix such as 192.0.2.0/24 or 2001:db8::/32.
struct Prefix {
  IpAddress addr;  // host bits are always zero (see parsePrefix)
  uint8_t len = 0;

  // False for an address of the other family: 192.0.2.1 is not in ::/0.
  bool contains(const IpAddress& ip) const;
  bool overlaps(const Prefix& o) const { return contains(o.addr) || o.contains(addr); }
  std::string toString() const;
  auto operator<=>(const Prefix&) const = default;
};

// Reads "ADDR/LEN", or a bare address as a host prefix (/32, /128). Host bits are accepted and
// cleared: "192.0.2.7/24" means 192.0.2.0/24, as `ip route` reads it, because a gateway operator
// often pastes an interface address with its prefix length and means that interface's network.
// Rejects a length beyond 32 (IPv4) or 128 (IPv6) and anything that is not an address.
Result<Prefix, std::string> parsePrefix(std::string_view text);

}  // namespace gwsync::syncd
