#include "nat/binding_check.h"

namespace gwsync::nat {

using syncd::l4::kDccp;
using syncd::l4::kIcmp;
using syncd::l4::kIcmpv6;
using syncd::l4::kSctp;
using syncd::l4::kTcp;
using syncd::l4::kUdp;
using syncd::l4::kUdpLite;

bool portPartitioned(uint8_t proto) {
  switch (proto) {
    case kTcp:
    case kUdp:
    case kUdpLite:
    case kSctp:
    case kDccp:
    case kIcmp:
    case kIcmpv6:
      return true;
    default:
      return false;
  }
}

BindingVerdict checkBinding(const NatConfig& config, uint32_t owner_node, const syncd::Session& s,
                            bool mobile_host) {
  // A 1:1 address reached from outside must lead to its own inside address.
  if (const auto dnat = syncd::destinationNat(s)) {
    const StaticMapping* m = config.staticByPublic(s.orig.dst);
    if (m != nullptr && dnat->addr != m->inside) return BindingVerdict::kStaticMismatch;
  }
  const auto snat = syncd::sourceNat(s);
  if (!snat) return BindingVerdict::kNotTranslated;
  if (const StaticMapping* m = config.staticByPublic(snat->addr)) {
    return m->inside == s.orig.src ? BindingVerdict::kStatic : BindingVerdict::kStaticMismatch;
  }
  const Pool* pool = config.poolWithAddress(snat->addr);
  if (pool == nullptr) return BindingVerdict::kForeign;
  const PortRange* mine = pool->partitionOf(owner_node);
  if (mine == nullptr) return BindingVerdict::kUnknownOwner;
  if (!portPartitioned(s.orig.proto)) return BindingVerdict::kAddressOnly;
  if (mine->contains(snat->port)) return BindingVerdict::kInPartition;
  if (mobile_host && pool->nodeOfPort(snat->port)) return BindingVerdict::kMovedHost;
  return BindingVerdict::kOutsidePartition;
}

std::string_view verdictName(BindingVerdict v) {
  switch (v) {
    case BindingVerdict::kNotTranslated:
      return "not_translated";
    case BindingVerdict::kForeign:
      return "foreign";
    case BindingVerdict::kInPartition:
      return "in_partition";
    case BindingVerdict::kAddressOnly:
      return "address_only";
    case BindingVerdict::kStatic:
      return "static";
    case BindingVerdict::kMovedHost:
      return "moved_host";
    case BindingVerdict::kOutsidePartition:
      return "outside_partition";
    case BindingVerdict::kUnknownOwner:
      return "unknown_owner";
    case BindingVerdict::kStaticMismatch:
      return "static_mismatch";
  }
  return "unknown";
}

}  // namespace gwsync::nat
