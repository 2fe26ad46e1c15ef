#include "nat/partition.h"

#include <algorithm>

namespace gwsync::nat {

using syncd::fail;

syncd::Result<std::vector<NodePartition>, std::string> derivePartitions(
    PortRange pool, std::span<const uint32_t> nodes) {
  if (nodes.empty()) return fail(std::string("no nodes to partition the ports among"));
  const auto count = static_cast<uint32_t>(nodes.size());
  const uint32_t block = pool.size() / count;
  if (block == 0) {
    return fail("port range " + pool.toString() + " has " + std::to_string(pool.size()) +
                " ports, fewer than the " + std::to_string(count) + " nodes (" + joinNodes(nodes) +
                ")");
  }
  std::vector<NodePartition> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t lo = pool.lo + i * block;
    const uint32_t hi = i + 1 == count ? pool.hi : lo + block - 1;
    out.push_back({nodes[i], PortRange{static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)}});
  }
  return out;
}

std::vector<PartitionProblem> checkPartitions(PortRange pool,
                                              std::span<const NodePartition> partitions,
                                              std::span<const uint32_t> nodes) {
  std::vector<PartitionProblem> problems;
  const auto known = [&nodes](uint32_t n) {
    return std::find(nodes.begin(), nodes.end(), n) != nodes.end();
  };
  for (size_t i = 0; i < partitions.size(); ++i) {
    const NodePartition& p = partitions[i];
    const std::string what =
        "partition of node " + std::to_string(p.node) + " (" + p.ports.toString() + ")";
    if (!known(p.node)) {
      problems.push_back({i, p.node,
                          "node " + std::to_string(p.node) +
                              " is not a node of this pair (nodes: " + joinNodes(nodes) + ")"});
      continue;
    }
    if (!p.ports.within(pool)) {
      problems.push_back({i, p.node, what + " lies outside the pool's ports " + pool.toString()});
      continue;
    }
    for (size_t j = 0; j < i; ++j) {
      const NodePartition& q = partitions[j];
      if (q.node == p.node) {
        problems.push_back({i, p.node, "node " + std::to_string(p.node) + " has two partitions"});
        break;
      }
      if (q.ports.overlaps(p.ports)) {
        problems.push_back({i, p.node,
                            what + " overlaps the partition of node " + std::to_string(q.node) +
                                " (" + q.ports.toString() +
                                "): both could pick the same public port"});
        break;
      }
    }
  }
  for (const uint32_t n : nodes) {
    const auto has = [n](const NodePartition& p) { return p.node == n; };
    if (std::none_of(partitions.begin(), partitions.end(), has)) {
      problems.push_back(
          {PartitionProblem::kNoEntry, n,
           "node " + std::to_string(n) + " has no partition: it could not translate to this pool"});
    }
  }
  return problems;
}

std::string joinNodes(std::span<const uint32_t> nodes) {
  std::string out;
  for (const uint32_t n : nodes) {
    if (!out.empty()) out += ", ";
    out += std::to_string(n);
  }
  return out;
}

}  // namespace gwsync::nat
