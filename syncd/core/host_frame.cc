#include "syncd/core/host_frame.h"

#include <cstring>

namespace gwsync::syncd {

namespace {

constexpr size_t kArpBody = 28;  // Ethernet/IPv4 ARP: 8 bytes of header, 2 × (6 + 4) addresses
constexpr size_t kIpv6Header = 40;
constexpr size_t kNdFixed = 24;  // type, code, checksum, flags/reserved, target
constexpr uint8_t kIcmpv6Ns = 135;
constexpr uint8_t kIcmpv6Na = 136;
constexpr uint8_t kOptSourceLla = 1;
constexpr uint8_t kOptTargetLla = 2;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

IpAddress ipv4At(const uint8_t* p) { return IpAddress::v4(p[0], p[1], p[2], p[3]); }

IpAddress ipv6At(const uint8_t* p) {
  IpAddress ip;
  ip.family = Family::kIpv6;
  std::memcpy(ip.bytes.data(), p, 16);
  return ip;
}

bool isZero(const IpAddress& ip) {
  for (size_t i = 0; i < ip.size(); ++i) {
    if (ip.bytes[i] != 0) return false;
  }
  return true;
}

bool goodHostMac(const MacAddress& mac) { return !mac.isZero() && !mac.isMulticast(); }

std::optional<HostFrame> reject(FrameParseStats& stats, FrameReject why) {
  ++stats[why];
  return std::nullopt;
}

std::optional<HostFrame> parseArp(std::span<const uint8_t> f, uint16_t type, HostFrame out,
                                  FrameParseStats& stats) {
  if (f.size() < kEthernetHeader + kArpBody) return reject(stats, FrameReject::kTruncated);
  const uint8_t* a = f.data() + kEthernetHeader;
  if (be16(a) != 1 || be16(a + 2) != ethertype::kIpv4 || a[4] != 6 || a[5] != 4) {
    return reject(stats, FrameReject::kArpFormat);
  }
  const uint16_t op = be16(a + 6);
  const MacAddress sha = MacAddress::fromBytes(a + 8);
  const IpAddress spa = ipv4At(a + 14);
  const MacAddress tha = MacAddress::fromBytes(a + 18);
  const IpAddress tpa = ipv4At(a + 24);
  out.target_mac = tha;
  if (type == ethertype::kRarp) {
    // RFC 903: 3 asks for the protocol address of the target HW address, 4 answers it. ESXi
    // sends 3 with both HW addresses set to the moved VM's MAC; the target is the subject.
    if (op != 3 && op != 4) return reject(stats, FrameReject::kArpOperation);
    if (!goodHostMac(tha)) return reject(stats, FrameReject::kHostMac);
    out.kind = FrameKind::kRarp;
    out.mac = tha;
    if (op == 4 && !isZero(tpa)) out.ip = tpa;
    ++stats.parsed;
    return out;
  }
  if (op != 1 && op != 2) return reject(stats, FrameReject::kArpOperation);
  if (!goodHostMac(sha)) return reject(stats, FrameReject::kHostMac);
  out.mac = sha;
  out.target_ip = tpa;
  if (!isZero(spa)) out.ip = spa;
  if (out.ip && spa == tpa) {
    out.kind = FrameKind::kGratuitousArp;
  } else {
    out.kind = op == 1 ? FrameKind::kArpRequest : FrameKind::kArpReply;
  }
  ++stats.parsed;
  return out;
}

// Walks the ND options after the fixed part; keeps the link-layer option of `wanted` type.
bool readNdOptions(std::span<const uint8_t> opts, uint8_t wanted, std::optional<MacAddress>& lla) {
  size_t at = 0;
  while (at < opts.size()) {
    if (opts.size() - at < 2) return false;
    const size_t len = static_cast<size_t>(opts[at + 1]) * 8;
    if (len == 0 || len > opts.size() - at) return false;
    const uint8_t type = opts[at];
    if (type == kOptSourceLla || type == kOptTargetLla) {
      if (len != 8) return false;  // Ethernet: 2 + 6 bytes (RFC 2464 8)
      if (type == wanted) lla = MacAddress::fromBytes(opts.data() + at + 2);
    }
    at += len;
  }
  return true;
}

std::optional<HostFrame> parseNd(std::span<const uint8_t> f, HostFrame out, FrameParseStats& stats) {
  if (f.size() < kEthernetHeader + kIpv6Header) return reject(stats, FrameReject::kTruncated);
  const uint8_t* ip6 = f.data() + kEthernetHeader;
  const size_t payload = be16(ip6 + 4);
  if ((ip6[0] >> 4) != 6 || ip6[6] != l4::kIcmpv6) return reject(stats, FrameReject::kIpv6Header);
  if (f.size() - kEthernetHeader - kIpv6Header < payload) {
    return reject(stats, FrameReject::kTruncated);
  }
  if (ip6[7] != 255) return reject(stats, FrameReject::kHopLimit);
  if (payload < kNdFixed) return reject(stats, FrameReject::kTruncated);
  const std::span<const uint8_t> msg(ip6 + kIpv6Header, payload);
  if ((msg[0] != kIcmpv6Ns && msg[0] != kIcmpv6Na) || msg[1] != 0) {
    return reject(stats, FrameReject::kIcmpType);
  }
  const IpAddress src = ipv6At(ip6 + 8);
  const IpAddress dst = ipv6At(ip6 + 24);
  if (icmpv6Checksum(src, dst, msg) != 0) return reject(stats, FrameReject::kChecksum);
  const IpAddress target = ipv6At(msg.data() + 8);
  if (target.bytes[0] == 0xff) return reject(stats, FrameReject::kNdAddress);
  const bool is_ns = msg[0] == kIcmpv6Ns;
  std::optional<MacAddress> lla;
  if (!readNdOptions(msg.subspan(kNdFixed), is_ns ? kOptSourceLla : kOptTargetLla, lla)) {
    return reject(stats, FrameReject::kNdOption);
  }
  if (is_ns) {
    // DAD (unspecified source) must not carry a source link-layer option (RFC 4861 7.1.1).
    if (isZero(src) && lla) return reject(stats, FrameReject::kNdAddress);
    out.kind = FrameKind::kNeighbourSolicitation;
    if (!isZero(src)) out.ip = src;
    out.target_ip = target;
  } else {
    out.router = (msg[4] & 0x80) != 0;
    out.solicited = (msg[4] & 0x40) != 0;
    out.override_flag = (msg[4] & 0x20) != 0;
    // A solicited advertisement answers one node, never a group (RFC 4861 7.1.2).
    if (out.solicited && dst.bytes[0] == 0xff) return reject(stats, FrameReject::kNdAddress);
    out.kind = out.solicited ? FrameKind::kNeighbourAdvertisement : FrameKind::kUnsolicitedNa;
    out.ip = target;
  }
  // Without the option the sender's own address is the link-layer address (RFC 4861 7.2.5).
  out.mac = lla.value_or(out.eth_src);
  if (!goodHostMac(out.mac)) return reject(stats, FrameReject::kHostMac);
  ++stats.parsed;
  return out;
}

}  // namespace

const char* toString(FrameKind kind) {
  switch (kind) {
    case FrameKind::kGratuitousArp: return "gratuitous_arp";
    case FrameKind::kArpRequest: return "arp_request";
    case FrameKind::kArpReply: return "arp_reply";
    case FrameKind::kRarp: return "rarp";
    case FrameKind::kNeighbourSolicitation: return "neighbour_solicitation";
    case FrameKind::kNeighbourAdvertisement: return "neighbour_advertisement";
    case FrameKind::kUnsolicitedNa: return "unsolicited_na";
  }
  return "unknown";
}

const char* toString(FrameReject reason) {
  switch (reason) {
    case FrameReject::kTruncated: return "truncated";
    case FrameReject::kEthertype: return "ethertype";
    case FrameReject::kArpFormat: return "arp_format";
    case FrameReject::kArpOperation: return "arp_operation";
    case FrameReject::kHostMac: return "host_mac";
    case FrameReject::kIpv6Header: return "ipv6_header";
    case FrameReject::kHopLimit: return "hop_limit";
    case FrameReject::kIcmpType: return "icmp_type";
    case FrameReject::kChecksum: return "checksum";
    case FrameReject::kNdOption: return "nd_option";
    case FrameReject::kNdAddress: return "nd_address";
    case FrameReject::kCount: break;
  }
  return "unknown";
}

uint64_t FrameParseStats::rejectedTotal() const {
  uint64_t n = 0;
  for (uint64_t r : rejected) n += r;
  return n;
}

std::optional<HostFrame> parseHostFrame(std::span<const uint8_t> frame, FrameParseStats& stats) {
  if (frame.size() < kEthernetHeader) return reject(stats, FrameReject::kTruncated);
  HostFrame out;
  out.eth_dst = MacAddress::fromBytes(frame.data());
  out.eth_src = MacAddress::fromBytes(frame.data() + 6);
  const uint16_t type = be16(frame.data() + 12);
  switch (type) {
    case ethertype::kArp:
    case ethertype::kRarp:
      return parseArp(frame, type, out, stats);
    case ethertype::kIpv6:
      return parseNd(frame, out, stats);
    default:
      return reject(stats, FrameReject::kEthertype);
  }
}

uint16_t icmpv6Checksum(const IpAddress& src, const IpAddress& dst,
                        std::span<const uint8_t> message) {
  uint64_t sum = 0;
  auto add = [&sum](const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
    if (n % 2 != 0) sum += static_cast<uint32_t>(p[n - 1]) << 8;
  };
  add(src.bytes.data(), 16);
  add(dst.bytes.data(), 16);
  // Pseudo-header: upper-layer length (32 bits), three zero bytes, next header.
  sum += (message.size() >> 16) + (message.size() & 0xffff);
  sum += l4::kIcmpv6;
  add(message.data(), message.size());
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

}  // namespace gwsync::syncd
