// The validated NAT configuration: SNAT pools with their per-node port partitions, static 1:1
// mappings, the inside networks and the outside interface. Built only by buildNatConfig()
// (nat_spec.h), so every NatConfig holds the invariants listed on its fields. Pure values,
// shared read-only by the renderer, the binding check and the usage counter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nat/partition.h"
#include "nat/port_range.h"
#include "nat/prefix.h"
#include "syncd/core/session.h"

namespace gwsync::nat {

struct Pool {
  std::string name;  // unique; [A-Za-z0-9_.-], 1..32 characters
  syncd::Family family = syncd::Family::kIpv4;
  std::vector<syncd::IpAddress> addresses;  // at least one, all of `family`, in no other pool
  PortRange ports;
  std::vector<Prefix> inside;  // the sources translated to this pool; all of `family`, non-empty
  std::vector<NodePartition> partitions;  // one per node, ascending node id, disjoint, in `ports`
  bool explicit_partitions = false;       // given in the config rather than derived

  const PortRange* partitionOf(uint32_t node) const;
  // The node whose partition holds the port, if any.
  std::optional<uint32_t> nodeOfPort(uint16_t port) const;
  bool hasAddress(const syncd::IpAddress& ip) const;
};

// A static 1:1 mapping: the inside address always leaves as the public one (any port, kept as
// it is), and connections to the public address go to the inside one. The public address is in
// no pool; inside and public addresses are each unique among the mappings.
struct StaticMapping {
  syncd::IpAddress inside;
  syncd::IpAddress public_addr;
};

struct NatConfig {
  std::vector<uint32_t> nodes;    // the pair's node ids, ascending; partitions are indexed by them
  std::string outside_interface;  // set whenever pools or statics are
  std::vector<Prefix> inside;     // nat.inside as written (pools may narrow it)
  std::vector<Pool> pools;
  std::vector<StaticMapping> statics;

  bool empty() const { return pools.empty() && statics.empty(); }
  bool hasNode(uint32_t node) const;
  const Pool* poolWithAddress(const syncd::IpAddress& ip) const;
  const StaticMapping* staticByPublic(const syncd::IpAddress& ip) const;
  const StaticMapping* staticByInside(const syncd::IpAddress& ip) const;
};

}  // namespace gwsync::nat
