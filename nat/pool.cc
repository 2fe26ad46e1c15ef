#include "nat/pool.h"

#include <algorithm>

namespace gwsync::nat {

const PortRange* Pool::partitionOf(uint32_t node) const {
  for (const auto& p : partitions) {
    if (p.node == node) return &p.ports;
  }
  return nullptr;
}

std::optional<uint32_t> Pool::nodeOfPort(uint16_t port) const {
  for (const auto& p : partitions) {
    if (p.ports.contains(port)) return p.node;
  }
  return std::nullopt;
}

bool Pool::hasAddress(const syncd::IpAddress& ip) const {
  return std::find(addresses.begin(), addresses.end(), ip) != addresses.end();
}

bool NatConfig::hasNode(uint32_t node) const {
  return std::binary_search(nodes.begin(), nodes.end(), node);
}

const Pool* NatConfig::poolWithAddress(const syncd::IpAddress& ip) const {
  for (const auto& p : pools) {
    if (p.hasAddress(ip)) return &p;
  }
  return nullptr;
}

const StaticMapping* NatConfig::staticByPublic(const syncd::IpAddress& ip) const {
  for (const auto& s : statics) {
    if (s.public_addr == ip) return &s;
  }
  return nullptr;
}

const StaticMapping* NatConfig::staticByInside(const syncd::IpAddress& ip) const {
  for (const auto& s : statics) {
    if (s.inside == ip) return &s;
  }
  return nullptr;
}

}  // namespace gwsync::nat
