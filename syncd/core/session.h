// The session model: one kernel conntrack entry as gwsync sees it, independent of netlink and of
// the wire format. Values only: no I/O, no clocks.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gwsync::syncd {

enum class Family : uint8_t { kIpv4 = 2, kIpv6 = 10 };  // values are AF_INET and AF_INET6

// An IPv4 or IPv6 address in network byte order; IPv4 uses the first four bytes, the rest are 0.
struct IpAddress {
  Family family = Family::kIpv4;
  std::array<uint8_t, 16> bytes{};

  static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  static std::optional<IpAddress> parse(std::string_view text);
  std::string toString() const;
  size_t size() const { return family == Family::kIpv4 ? 4 : 16; }

  auto operator<=>(const IpAddress&) const = default;
};

// IANA protocol numbers of the layer-4 protocols conntrack tracks and gwsync syncs.
namespace l4 {
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kDccp = 33;
inline constexpr uint8_t kGre = 47;
inline constexpr uint8_t kIcmpv6 = 58;
inline constexpr uint8_t kSctp = 132;
inline constexpr uint8_t kUdpLite = 136;
}  // namespace l4

bool isSupportedL4(uint8_t proto);
// Protocols whose tuple has source and destination ports (GRE: keys).
bool hasPorts(uint8_t proto);
bool isIcmp(uint8_t proto);

// One direction of a connection. Ports are in host byte order. ICMP and ICMPv6 use icmp_*
// instead of ports, as conntrack does.
struct Tuple {
  IpAddress src;
  IpAddress dst;
  uint8_t proto = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t icmp_id = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;

  auto operator<=>(const Tuple&) const = default;
};

// Conntrack status bits we read and write (include/uapi/linux/netfilter/nf_conntrack_common.h).
namespace status {
inline constexpr uint32_t kExpected = 1u << 0;
inline constexpr uint32_t kSeenReply = 1u << 1;
inline constexpr uint32_t kAssured = 1u << 2;
inline constexpr uint32_t kConfirmed = 1u << 3;
inline constexpr uint32_t kSrcNat = 1u << 4;
inline constexpr uint32_t kDstNat = 1u << 5;
inline constexpr uint32_t kSeqAdjust = 1u << 6;
inline constexpr uint32_t kSrcNatDone = 1u << 7;
inline constexpr uint32_t kDstNatDone = 1u << 8;
inline constexpr uint32_t kDying = 1u << 9;
inline constexpr uint32_t kFixedTimeout = 1u << 10;
inline constexpr uint32_t kTemplate = 1u << 11;
inline constexpr uint32_t kHelper = 1u << 13;
inline constexpr uint32_t kOffload = 1u << 14;
inline constexpr uint32_t kHwOffload = 1u << 15;
// The bits a peer may set through ctnetlink; the others are the kernel's own bookkeeping.
inline constexpr uint32_t kWritable = kSeenReply | kAssured | kFixedTimeout;
}  // namespace status

// TCP flags that describe the connection rather than one kernel's window bookkeeping
// (IP_CT_TCP_FLAG_WINDOW_SCALE, SACK_PERM, CLOSE_INIT, BE_LIBERAL). MAXACK_SET and
// DATA_UNACKNOWLEDGED refer to window data that is not synced, so they are neither written nor
// compared.
inline constexpr uint8_t kTcpFlagsSynced = 0x0f;

struct TcpInfo {
  uint8_t state = 0;  // enum tcp_conntrack
  uint8_t flags_orig = 0;
  uint8_t flags_reply = 0;
  uint8_t wscale_orig = 0;
  uint8_t wscale_reply = 0;
  auto operator<=>(const TcpInfo&) const = default;
};

struct SctpInfo {
  uint8_t state = 0;  // enum sctp_conntrack
  uint32_t vtag_orig = 0;
  uint32_t vtag_reply = 0;
  auto operator<=>(const SctpInfo&) const = default;
};

// TCP sequence adjustment left by a helper that changed payload length (e.g. FTP with NAT).
struct SeqAdj {
  uint32_t correction_pos = 0;
  uint32_t offset_before = 0;
  uint32_t offset_after = 0;
  auto operator<=>(const SeqAdj&) const = default;
};

// A NAT binding derived from the tuples: where the original direction's source (SNAT) or
// destination (DNAT) was translated to.
struct NatBinding {
  IpAddress addr;
  uint16_t port = 0;  // port, or ICMP id; 0 for protocols without either
  auto operator<=>(const NatBinding&) const = default;
};

inline constexpr size_t kMaxHelperName = 15;  // NF_CT_HELPER_NAME_LEN - 1

struct Session {
  uint16_t zone = 0;
  Tuple orig;
  Tuple reply;
  uint32_t status = 0;
  uint32_t timeout = 0;  // seconds until the kernel expires the entry
  uint32_t mark = 0;
  std::array<uint8_t, 16> labels{};  // connlabel bit i is bit (i % 8) of byte i / 8
  std::optional<TcpInfo> tcp;
  std::optional<SctpInfo> sctp;
  std::optional<SeqAdj> seq_adj_orig;
  std::optional<SeqAdj> seq_adj_reply;
  std::string helper;
  uint32_t owner = 0;    // node id of the gateway that owns the session
  uint64_t version = 0;  // grows with every change the owner makes

  bool operator==(const Session&) const = default;
};

// The translation the kernel applied, read off the difference between the two tuples.
std::optional<NatBinding> sourceNat(const Session& s);
std::optional<NatBinding> destinationNat(const Session& s);

// The reply tuple of an untranslated connection: the original with ends swapped.
Tuple invert(const Tuple& t);

bool hasLabels(const Session& s);

std::string toString(const Tuple& t);
// One line with every field that a synced copy must reproduce; leaves out the timeout, which
// counts down, and owner/version, which the kernel does not hold. Equal lines mean equal entries.
std::string describe(const Session& s);

// Key of a session in a table: the kernel identifies an entry by zone and original tuple.
struct SessionKey {
  uint16_t zone = 0;
  Tuple orig;
  auto operator<=>(const SessionKey&) const = default;
};

inline SessionKey keyOf(const Session& s) { return SessionKey{s.zone, s.orig}; }

struct SessionKeyHash {
  size_t operator()(const SessionKey& k) const noexcept;
};

}  // namespace gwsync::syncd
