// Which kernel sessions gwsync syncs: address prefixes, layer-4 protocols and TCP states, as set
// by the [filter] table of gwsync.toml. Pure values: the daemon asks accepts() for every event,
// so it does no allocation and no I/O.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncd/core/prefix.h"
#include "syncd/core/result.h"
#include "syncd/core/session.h"

namespace gwsync::syncd {

// Layer-4 protocol by config name ("tcp", "udp", "udplite", "icmp", "icmpv6", "sctp", "gre",
// "dccp") and TCP conntrack state by name ("syn_sent" ... "syn_sent2", enum tcp_conntrack).
std::optional<uint8_t> protocolByName(std::string_view name);
std::optional<uint8_t> tcpStateByName(std::string_view name);
// The names above, comma-separated, for error messages and docs.
std::string protocolNames();
std::string tcpStateNames();

using ProtocolSet = std::bitset<256>;  // indexed by IANA protocol number
using TcpStateSet = std::bitset<16>;   // indexed by enum tcp_conntrack

ProtocolSet allProtocols();
TcpStateSet allTcpStates();

// The [filter] table. A session is synced when its zone is listed (or zones is empty), when its
// protocol is listed, when (if it is TCP) its state is listed, when neither end of its original
// tuple lies in an exclude prefix, and when one end of it, or the reply's source (the inside host
// of a destination-NATed flow), lies in an include prefix (or include is empty). The receiver applies the same filter to the peer's sessions (peer_validation.h). Exclude wins so that a broad include can
// carve out a management network. Prefix lists are scanned linearly: configs hold a handful.
struct SessionFilter {
  std::vector<Prefix> include;  // empty: every address
  std::vector<Prefix> exclude;
  ProtocolSet protocols = allProtocols();
  TcpStateSet tcp_states = allTcpStates();
  std::vector<uint16_t> zones;  // conntrack zones; empty: every zone

  bool accepts(const Session& s) const;
};

}  // namespace gwsync::syncd
