#include "syncd/app/session_filter.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace gwsync::syncd {

namespace {

constexpr std::array<std::pair<std::string_view, uint8_t>, 8> kProtocols = {{
    {"tcp", l4::kTcp},
    {"udp", l4::kUdp},
    {"udplite", l4::kUdpLite},
    {"icmp", l4::kIcmp},
    {"icmpv6", l4::kIcmpv6},
    {"sctp", l4::kSctp},
    {"gre", l4::kGre},
    {"dccp", l4::kDccp},
}};

// enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h). NONE (0) is a transient
// state the kernel never reports for a confirmed entry, so it is not configurable.
constexpr std::array<std::pair<std::string_view, uint8_t>, 9> kTcpStates = {{
    {"syn_sent", 1},
    {"syn_recv", 2},
    {"established", 3},
    {"fin_wait", 4},
    {"close_wait", 5},
    {"last_ack", 6},
    {"time_wait", 7},
    {"close", 8},
    {"syn_sent2", 9},
}};

template <size_t N>
std::optional<uint8_t> lookup(const std::array<std::pair<std::string_view, uint8_t>, N>& table,
                              std::string_view name) {
  for (const auto& [n, v] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

template <size_t N>
std::string joinNames(const std::array<std::pair<std::string_view, uint8_t>, N>& table) {
  std::string out;
  for (const auto& [n, v] : table) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

bool inAny(const std::vector<Prefix>& prefixes, const IpAddress& ip) {
  for (const auto& p : prefixes) {
    if (p.contains(ip)) return true;
  }
  return false;
}

}  // namespace

std::optional<uint8_t> protocolByName(std::string_view name) { return lookup(kProtocols, name); }
std::optional<uint8_t> tcpStateByName(std::string_view name) { return lookup(kTcpStates, name); }
std::string protocolNames() { return joinNames(kProtocols); }
std::string tcpStateNames() { return joinNames(kTcpStates); }

ProtocolSet allProtocols() {
  ProtocolSet set;
  for (const auto& [n, v] : kProtocols) set.set(v);
  return set;
}

TcpStateSet allTcpStates() {
  TcpStateSet set;
  for (const auto& [n, v] : kTcpStates) set.set(v);
  return set;
}

bool SessionFilter::accepts(const Session& s) const {
  if (!zones.empty() && std::find(zones.begin(), zones.end(), s.zone) == zones.end()) return false;
  if (!protocols.test(s.orig.proto)) return false;
  // With every state allowed the check is skipped, so a TCP entry without protoinfo (or in a
  // state newer than our list) still syncs unless the operator asked for specific states.
  static const TcpStateSet kAll = allTcpStates();
  if (s.orig.proto == l4::kTcp && tcp_states != kAll) {
    if (!s.tcp || s.tcp->state >= tcp_states.size() || !tcp_states.test(s.tcp->state)) {
      return false;
    }
  }
  if (inAny(exclude, s.orig.src) || inAny(exclude, s.orig.dst)) return false;
  if (include.empty()) return true;
  // The reply's source is where a destination-NATed flow really goes (an LB backend, the inside
  // host of a 1:1 mapping): include = the LAN covers inbound flows to it as well.
  return inAny(include, s.orig.src) || inAny(include, s.orig.dst) ||
         inAny(include, s.reply.src);
}

}  // namespace gwsync::syncd
