#include "nat/usage.h"

#include "nat/binding_check.h"

namespace gwsync::nat {

NatUsage emptyUsage(const NatConfig& config) {
  NatUsage u;
  for (const Pool& p : config.pools) {
    u.pools.push_back(PoolUsage{.per_partition = std::vector<uint64_t>(p.partitions.size(), 0)});
  }
  u.statics.assign(config.statics.size(), 0);
  return u;
}

namespace {

bool countStatic(const NatConfig& config, const syncd::IpAddress& public_addr, NatUsage& usage) {
  for (size_t i = 0; i < config.statics.size(); ++i) {
    if (config.statics[i].public_addr == public_addr) {
      ++usage.statics[i];
      return true;
    }
  }
  return false;
}

}  // namespace

void countBinding(const NatConfig& config, const syncd::Session& s, NatUsage& usage) {
  if (usage.pools.size() != config.pools.size() || usage.statics.size() != config.statics.size()) {
    usage = emptyUsage(config);
  }
  const auto snat = syncd::sourceNat(s);
  if (!snat) {
    if (syncd::destinationNat(s) && countStatic(config, s.orig.dst, usage)) return;
    ++usage.not_translated;
    return;
  }
  if (countStatic(config, snat->addr, usage)) return;
  for (size_t i = 0; i < config.pools.size(); ++i) {
    const Pool& pool = config.pools[i];
    if (!pool.hasAddress(snat->addr)) continue;
    PoolUsage& pu = usage.pools[i];
    if (!portPartitioned(s.orig.proto)) {
      ++pu.address_only;
      return;
    }
    for (size_t k = 0; k < pool.partitions.size(); ++k) {
      if (pool.partitions[k].ports.contains(snat->port)) {
        ++pu.per_partition[k];
        return;
      }
    }
    ++pu.outside_partitions;
    return;
  }
  ++usage.foreign;
}

std::string describeNat(const NatConfig& config, uint32_t self, const NatUsage* usage) {
  std::string out = "nodes=";
  for (size_t i = 0; i < config.nodes.size(); ++i) {
    out += (i == 0 ? "" : ",") + std::to_string(config.nodes[i]);
  }
  out += " self=" + std::to_string(self) + " outside_interface=" +
         (config.outside_interface.empty() ? "-" : config.outside_interface) + "\n";
  for (size_t i = 0; i < config.pools.size(); ++i) {
    const Pool& p = config.pools[i];
    out += "pool name=" + p.name +
           " family=" + (p.family == syncd::Family::kIpv4 ? "ipv4" : "ipv6") + " addresses=";
    for (size_t a = 0; a < p.addresses.size(); ++a) {
      out += (a == 0 ? "" : ",") + p.addresses[a].toString();
    }
    out += " ports=" + p.ports.toString() +
           " partitions=" + (p.explicit_partitions ? "explicit" : "derived") + "\n";
    for (size_t k = 0; k < p.partitions.size(); ++k) {
      const NodePartition& np = p.partitions[k];
      out += "partition pool=" + p.name + " node=" + std::to_string(np.node) +
             " ports=" + np.ports.toString() + " self=" + (np.node == self ? "yes" : "no");
      if (usage != nullptr) out += " bindings=" + std::to_string(usage->pools[i].per_partition[k]);
      out += "\n";
    }
    if (usage != nullptr) {
      out += "pool_extra pool=" + p.name +
             " outside_partitions=" + std::to_string(usage->pools[i].outside_partitions) +
             " address_only=" + std::to_string(usage->pools[i].address_only) + "\n";
    }
  }
  for (size_t i = 0; i < config.statics.size(); ++i) {
    const StaticMapping& m = config.statics[i];
    out += "static inside=" + m.inside.toString() + " public=" + m.public_addr.toString();
    if (usage != nullptr) out += " bindings=" + std::to_string(usage->statics[i]);
    out += "\n";
  }
  if (usage != nullptr) {
    out += "sessions not_translated=" + std::to_string(usage->not_translated) +
           " foreign=" + std::to_string(usage->foreign) + "\n";
  }
  return out;
}

}  // namespace gwsync::nat
