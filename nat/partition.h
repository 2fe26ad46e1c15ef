// Port partitions: each node of the pair allocates SNAT ports from its own disjoint block of a
// pool's port range, so both gateways can translate to the same public address at once and never
// pick the same public IP:port (no per-flow coordination, no reply-tuple clash when their
// conntrack entries are synced). Pure functions of the configuration: both nodes compute the same
// split from the same config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nat/port_range.h"
#include "syncd/core/result.h"

namespace gwsync::nat {

struct NodePartition {
  uint32_t node = 0;  // node id ([node] id of that gateway)
  PortRange ports;
  auto operator<=>(const NodePartition&) const = default;
};

// Contiguous equal blocks in node order: the node with the i-th smallest id gets block i, the
// last node also gets the remainder (64512 ports among 3 nodes: 21504 each; 64513: the last one
// gets 21505). `nodes` must be sorted ascending without duplicates. Fails when the range has
// fewer ports than there are nodes.
syncd::Result<std::vector<NodePartition>, std::string> derivePartitions(
    PortRange pool, std::span<const uint32_t> nodes);

// One problem with explicitly given partitions, attributed to the entry at fault (the later one
// of an overlapping pair) so the caller can name the config key.
struct PartitionProblem {
  static constexpr size_t kNoEntry = static_cast<size_t>(-1);
  size_t entry = kNoEntry;  // index into the partitions; kNoEntry for a node without one
  uint32_t node = 0;
  std::string message;
};

// Explicit partitions: every entry names a node of `nodes` (sorted), at most once, lies within
// the pool's range and overlaps no other entry; every node has one. Gaps are allowed (ports kept
// back from both nodes). Returns every problem, in entry order; empty means valid.
std::vector<PartitionProblem> checkPartitions(PortRange pool,
                                              std::span<const NodePartition> partitions,
                                              std::span<const uint32_t> nodes);

// "1, 2": node ids for messages.
std::string joinNodes(std::span<const uint32_t> nodes);

}  // namespace gwsync::nat
