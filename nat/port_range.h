// PortRange: an inclusive range of layer-4 ports ("1024-65535", or "5000" for one port), as a
// pool's port range and as one node's partition of it. Pure value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncd/core/result.h"

namespace gwsync::nat {

struct PortRange {
  uint16_t lo = 1;
  uint16_t hi = 65535;

  uint32_t size() const { return uint32_t{hi} - lo + 1; }
  bool contains(uint16_t port) const { return port >= lo && port <= hi; }
  bool overlaps(const PortRange& o) const { return lo <= o.hi && o.lo <= hi; }
  bool within(const PortRange& o) const { return lo >= o.lo && hi <= o.hi; }
  // "1024-65535", or "5000" when lo == hi: the form parsePortRange() reads back.
  std::string toString() const;

  auto operator<=>(const PortRange&) const = default;
};

// Reads "LO-HI" or "PORT": decimal digits only, each port in 1..65535, LO <= HI. Port 0 is not a
// port the kernel can allocate. The error says what is wrong with the text; the caller names the
// key and the value.
syncd::Result<PortRange, std::string> parsePortRange(std::string_view text);

}  // namespace gwsync::nat
