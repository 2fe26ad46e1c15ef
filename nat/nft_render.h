// Renders the NAT configuration as nftables text for one node: gwsync's own table
// `inet gwsync_nat` and nothing else, so the operator's tables (filter, their own NAT) are never
// touched. Deterministic: the same config and node give the same bytes, which is what the unit
// tests compare and what lets a reload be skipped when nothing changed.
//
//   prerouting  (nat, dstnat):  iifname OUTSIDE ip daddr PUBLIC dnat ip to INSIDE     1:1 inbound
//   postrouting (nat, srcnat):  oifname OUTSIDE ip saddr INSIDE snat ip to PUBLIC     1:1 outbound
//                               oifname OUTSIDE ip saddr { POOL INSIDE } meta l4proto { tcp, udp,
//                                 udplite, sctp, dccp, icmp } snat ip to ADDR:LO-HI   this node's
//                                                                                     partition
//                               oifname OUTSIDE ip saddr { POOL INSIDE } snat ip to ADDR
//                                                                      (other protocols: no ports)
// 1:1 rules come first, so a mapped host never takes pool ports. A pool of several addresses
// picks one per inside host with `jhash ip saddr mod N seed kPoolHashSeed map { ... }`: a fixed
// seed, so both nodes map a host to the same public address and a VM that moves keeps it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nat/pool.h"
#include "syncd/core/result.h"

namespace gwsync::nat {

inline constexpr std::string_view kNatTableFamily = "inet";
inline constexpr std::string_view kNatTableName = "gwsync_nat";
inline constexpr uint32_t kPoolHashSeed = 0x67777363;  // "gwsc"

// The table definition ("table inet gwsync_nat { ... }") with `node`'s partitions. Fails only
// for a node that is not in config.nodes.
syncd::Result<std::string, std::string> renderTable(const NatConfig& config, uint32_t node);

// One nft transaction that creates or replaces the table atomically: "add table" (so the delete
// cannot fail on a first start), "delete table", then the new definition. The kernel applies all
// of it or none; conntrack entries keep the NAT they were set up with, so established bindings
// are untouched by a reload.
std::string replaceTableCommands(std::string_view table_text);

// Removes the table, and succeeds when it is already gone.
std::string removeTableCommands();

}  // namespace gwsync::nat
