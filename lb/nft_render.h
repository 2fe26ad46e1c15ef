// Renders the LB configuration as nftables text: gwsync's own table `inet gwsync_lb` and nothing
// else, so the operator's tables (and gwsync_nat) are never touched. Deterministic: the same
// config gives the same bytes on both nodes (the table has no per-node part).
//
//   map svc_NAME { typeof numgen inc mod 1 : ip daddr . tcp dport;       bucket -> backend
//                  elements = { 0 : 192.0.2.20 . 8080, 1 : ... } }       (table_size entries)
//   chain prerouting (nat, dstnat):
//     ip daddr VIP tcp dport PORT counter
//       dnat ip addr . port to jhash ip saddr . tcp sport mod SIZE seed SEED map @svc_NAME
//
// The hash covers the client's address and port: the VIP, port and protocol are fixed by the
// rule, so they would add nothing. Only a connection's first packet passes a nat chain; later
// ones follow the conntrack entry's DNAT, so replacing the table (drain, removal) changes where
// new connections go and never moves an established one. `typeof numgen ... mod 1` is how nft
// 1.0.6 spells a 32-bit integer key (what jhash produces); the rendered value is unused.
#pragma once

#include <string>
#include <string_view>

#include "lb/service.h"

namespace gwsync::lb {

inline constexpr std::string_view kLbTableFamily = "inet";
inline constexpr std::string_view kLbTableName = "gwsync_lb";

// The table definition ("table inet gwsync_lb { ... }"); an empty table for an empty config.
std::string renderTable(const LbConfig& config);

// One nft transaction that creates or replaces the table atomically ("add table", "delete
// table", the new definition): the kernel applies all of it or none.
std::string replaceTableCommands(std::string_view table_text);

// Removes the table, and succeeds when it is already gone.
std::string removeTableCommands();

}  // namespace gwsync::lb
