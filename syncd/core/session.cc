#include "syncd/core/session.h"

#include <arpa/inet.h>

#include <cstring>
#include <functional>

namespace gwsync::syncd {

IpAddress IpAddress::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.family = Family::kIpv4;
  ip.bytes = {a, b, c, d};
  return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short.
  char buf[INET6_ADDRSTRLEN] = {};
  if (text.empty() || text.size() >= sizeof(buf) || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::memcpy(buf, text.data(), text.size());
  IpAddress ip;
  if (inet_pton(AF_INET, buf, ip.bytes.data()) == 1) {
    ip.family = Family::kIpv4;
    return ip;
  }
  if (inet_pton(AF_INET6, buf, ip.bytes.data()) == 1) {
    ip.family = Family::kIpv6;
    return ip;
  }
  return std::nullopt;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == Family::kIpv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

bool isSupportedL4(uint8_t proto) {
  switch (proto) {
    case l4::kTcp:
    case l4::kUdp:
    case l4::kUdpLite:
    case l4::kIcmp:
    case l4::kIcmpv6:
    case l4::kSctp:
    case l4::kGre:
    case l4::kDccp:
      return true;
    default:
      return false;
  }
}

bool hasPorts(uint8_t proto) {
  return proto == l4::kTcp || proto == l4::kUdp || proto == l4::kUdpLite || proto == l4::kSctp ||
         proto == l4::kGre || proto == l4::kDccp;
}

bool isIcmp(uint8_t proto) { return proto == l4::kIcmp || proto == l4::kIcmpv6; }

namespace {

// The other direction's type of an ICMP query, as nf_conntrack_proto_icmp{,v6}.c maps it.
uint8_t invertIcmpType(uint8_t proto, uint8_t type) {
  if (proto == l4::kIcmp) {
    switch (type) {
      case 8: return 0;  // echo <-> echo reply
      case 0: return 8;
      case 13: return 14;  // timestamp
      case 14: return 13;
      case 15: return 16;  // information
      case 16: return 15;
      case 17: return 18;  // address mask
      case 18: return 17;
      default: return type;
    }
  }
  switch (type) {
    case 128: return 129;  // echo <-> echo reply
    case 129: return 128;
    case 139: return 140;  // node information
    case 140: return 139;
    default: return type;
  }
}

}  // namespace

Tuple invert(const Tuple& t) {
  Tuple r = t;
  r.src = t.dst;
  r.dst = t.src;
  r.src_port = t.dst_port;
  r.dst_port = t.src_port;
  if (isIcmp(t.proto)) r.icmp_type = invertIcmpType(t.proto, t.icmp_type);
  return r;
}

std::optional<NatBinding> sourceNat(const Session& s) {
  // The reply goes back to the translated source: reply.dst is where orig.src was mapped to.
  if (isIcmp(s.orig.proto)) {
    if (s.reply.dst == s.orig.src && s.reply.icmp_id == s.orig.icmp_id) return std::nullopt;
    return NatBinding{s.reply.dst, s.reply.icmp_id};
  }
  const uint16_t port = hasPorts(s.orig.proto) ? s.reply.dst_port : 0;
  if (s.reply.dst == s.orig.src && port == (hasPorts(s.orig.proto) ? s.orig.src_port : 0)) {
    return std::nullopt;
  }
  return NatBinding{s.reply.dst, port};
}

std::optional<NatBinding> destinationNat(const Session& s) {
  if (isIcmp(s.orig.proto)) {
    if (s.reply.src == s.orig.dst) return std::nullopt;
    return NatBinding{s.reply.src, 0};
  }
  const uint16_t port = hasPorts(s.orig.proto) ? s.reply.src_port : 0;
  if (s.reply.src == s.orig.dst && port == (hasPorts(s.orig.proto) ? s.orig.dst_port : 0)) {
    return std::nullopt;
  }
  return NatBinding{s.reply.src, port};
}

bool hasLabels(const Session& s) {
  for (uint8_t b : s.labels) {
    if (b != 0) return true;
  }
  return false;
}

std::string toString(const Tuple& t) {
  std::string out = "proto=" + std::to_string(t.proto) + " src=" + t.src.toString() +
                    " dst=" + t.dst.toString();
  if (isIcmp(t.proto)) {
    out += " type=" + std::to_string(t.icmp_type) + " code=" + std::to_string(t.icmp_code) +
           " id=" + std::to_string(t.icmp_id);
  } else if (hasPorts(t.proto)) {
    out += " sport=" + std::to_string(t.src_port) + " dport=" + std::to_string(t.dst_port);
  }
  return out;
}

std::string describe(const Session& s) {
  std::string out = "zone=" + std::to_string(s.zone) + " orig[" + toString(s.orig) + "] reply[" +
                    toString(s.reply) + "]";
  const uint32_t kept = s.status & (status::kSeenReply | status::kAssured | status::kSrcNat |
                                    status::kDstNat | status::kSeqAdjust);
  out += " status=" + std::to_string(kept) + " mark=" + std::to_string(s.mark);
  if (s.tcp) {
    out += " tcp=" + std::to_string(s.tcp->state) + "/" + std::to_string(s.tcp->wscale_orig) + "/" +
           std::to_string(s.tcp->wscale_reply) + "/" +
           std::to_string(s.tcp->flags_orig & kTcpFlagsSynced) + "/" +
           std::to_string(s.tcp->flags_reply & kTcpFlagsSynced);
  }
  if (s.sctp) out += " sctp=" + std::to_string(s.sctp->state);
  if (hasLabels(s)) {
    static const char* kHex = "0123456789abcdef";
    out += " labels=";
    for (uint8_t b : s.labels) {
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  if (!s.helper.empty()) out += " helper=" + s.helper;
  return out;
}

namespace {

inline void mix(size_t& h, uint64_t v) {
  // 64-bit mixing step (from splitmix64); good enough spread for std::unordered_map buckets.
  v += 0x9e3779b97f4a7c15ull + h;
  v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
  v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
  h = v ^ (v >> 31);
}

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

size_t SessionKeyHash::operator()(const SessionKey& k) const noexcept {
  size_t h = k.zone;
  const Tuple& t = k.orig;
  mix(h, load64(t.src.bytes.data()) ^ (load64(t.src.bytes.data() + 8) * 31));
  mix(h, load64(t.dst.bytes.data()) ^ (load64(t.dst.bytes.data() + 8) * 31));
  mix(h, (uint64_t{t.proto} << 56) | (uint64_t{t.src_port} << 40) | (uint64_t{t.dst_port} << 24) |
             (uint64_t{t.icmp_id} << 8) | t.icmp_type);
  mix(h, (uint64_t{t.icmp_code} << 8) | static_cast<uint8_t>(t.src.family));
  return h;
}

}  // namespace gwsync::syncd
