// How a table of sessions uses the NAT configuration: bindings per pool partition, per 1:1
// mapping, and the sessions outside gwsync's NAT. The daemon (gwsyncctl nat) and gwsync-nat
// feed it every session of a dump; pure counting, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nat/pool.h"
#include "syncd/core/session.h"

namespace gwsync::nat {

struct PoolUsage {
  std::vector<uint64_t> per_partition{};  // parallel to Pool::partitions
  uint64_t outside_partitions = 0;        // a pool port in no node's partition
  uint64_t address_only = 0;              // protocols without ports
};

struct NatUsage {
  std::vector<PoolUsage> pools;   // parallel to NatConfig::pools
  std::vector<uint64_t> statics;  // parallel to NatConfig::statics: either direction
  uint64_t not_translated = 0;
  uint64_t foreign = 0;  // translated by someone else's rules
};

NatUsage emptyUsage(const NatConfig& config);

// Classifies by the port alone (a kernel entry carries no owner): the partition it falls in.
void countBinding(const NatConfig& config, const syncd::Session& s, NatUsage& usage);

// One line per fact, "key=value" fields, for people and for scripts:
//   nodes=1,2 self=1 outside_interface=wan
//   pool name=v4 family=ipv4 addresses=198.51.100.100 ports=1024-65535 partitions=derived
//   partition pool=v4 node=1 ports=1024-33279 self=yes bindings=512
//   pool_extra pool=v4 outside_partitions=0 address_only=0
//   static inside=192.0.2.20 public=198.51.100.20 bindings=3
//   sessions not_translated=10 foreign=0
// Without usage the bindings fields and the last line are left out.
std::string describeNat(const NatConfig& config, uint32_t self, const NatUsage* usage);

}  // namespace gwsync::nat
