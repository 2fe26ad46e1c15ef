// The receiver's check on a synced session's NAT binding: a source translation to a pool address
// must use a port of the owner's partition, and a 1:1 public address belongs to its one inside
// address. Anything else means a misconfigured peer (different pools or partitions) or a forged
// record; the receiver drops it and counts the verdict's reason. Pure and allocation-free: the
// daemon asks once per received session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "nat/pool.h"
#include "syncd/core/session.h"

namespace gwsync::nat {

enum class BindingVerdict : uint8_t {
  // accepted
  kNotTranslated,  // no source NAT
  kForeign,        // translated to an address in no pool and no mapping: not gwsync's NAT
  kInPartition,    // a pool address with a port in the owner's partition
  kAddressOnly,    // a pool address, protocol without ports (GRE, ...): nothing to partition
  kStatic,         // the 1:1 mapping of its inside address
  kMovedHost,      // a port of the other node's partition on a session of a mobile host that
                   // changed sites: its creator allocated it, its owner is now the other node
  // dropped
  kOutsidePartition,  // a pool address with a port outside the owner's partition
  kUnknownOwner,      // a pool binding whose owner is not a node of the pair
  kStaticMismatch,    // a 1:1 public address bound to another inside address
};

inline constexpr size_t kBindingVerdicts = 9;

// Whether the kernel picks SNAT ports (or ICMP ids) for this protocol from the rule's range:
// the protocols the rendered rules give a port range (see nft_render.h).
bool portPartitioned(uint8_t proto);

// mobile_host: the session's inside host is one that may move between the sites ([mobility]);
// a port from another node's partition is then a binding that moved with it (kMovedHost).
BindingVerdict checkBinding(const NatConfig& config, uint32_t owner_node, const syncd::Session& s,
                            bool mobile_host = false);

inline bool accepted(BindingVerdict v) { return v < BindingVerdict::kOutsidePartition; }

inline bool bindingAllowed(const NatConfig& config, uint32_t owner_node, const syncd::Session& s) {
  return accepted(checkBinding(config, owner_node, s));
}

// Bounded label for counters and logs: "not_translated", "outside_partition", ...
std::string_view verdictName(BindingVerdict v);

}  // namespace gwsync::nat
