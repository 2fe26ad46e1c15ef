// Host frames: what a gateway's LAN tells it about where hosts are. Parses one Ethernet frame
// (ARP, RARP, ICMPv6 neighbour solicitation/advertisement) into a HostFrame, or rejects it with a
// reason. Exists so the detection adapter stays a thin socket loop and every byte of outside
// input is checked here, in pure code that unit tests and the fuzzer reach. Pure: bytes in,
// values out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "syncd/core/mac_address.h"
#include "syncd/core/session.h"

namespace gwsync::syncd {

namespace ethertype {
inline constexpr uint16_t kIpv4 = 0x0800;
inline constexpr uint16_t kArp = 0x0806;
inline constexpr uint16_t kRarp = 0x8035;
inline constexpr uint16_t kIpv6 = 0x86dd;
}  // namespace ethertype

inline constexpr size_t kEthernetHeader = 14;
inline constexpr size_t kEthernetMinFrame = 60;  // without FCS; shorter frames are padded

enum class FrameKind : uint8_t {
  kGratuitousArp,           // ARP request or reply whose sender IP is its target IP
  kArpRequest,              // any other request (including RFC 5227 probes, sender IP 0)
  kArpReply,                // any other reply (answers to our locality probe among them)
  kRarp,                    // RARP request/reply: a MAC and no IP (ESXi after vMotion)
  kNeighbourSolicitation,   // ICMPv6 135
  kNeighbourAdvertisement,  // ICMPv6 136 with the solicited flag (a reply)
  kUnsolicitedNa,           // ICMPv6 136 without it: a host announcing itself
};
const char* toString(FrameKind kind);

struct HostFrame {
  FrameKind kind = FrameKind::kArpRequest;
  MacAddress eth_src;
  MacAddress eth_dst;
  // The host the frame is about: ARP sender (absent when 0.0.0.0), RARP subject (no IP),
  // NA target, NS source (absent for DAD's unspecified source).
  std::optional<IpAddress> ip;
  MacAddress mac;  // ARP sender HW, RARP target HW, NA target / NS source link-layer option
  // ARP/NS target address (what is asked for); absent for RARP and NA.
  std::optional<IpAddress> target_ip;
  MacAddress target_mac;  // ARP/RARP target HW; zero for ND
  // NA flags (RFC 4861 4.4); false for everything else.
  bool router = false;
  bool solicited = false;
  bool override_flag = false;

  bool operator==(const HostFrame&) const = default;
};

// Why a frame was rejected. Bounded: these are the values of the metric's reason label.
enum class FrameReject : uint8_t {
  kTruncated,      // shorter than its headers say
  kEthertype,      // not ARP, RARP or IPv6
  kArpFormat,      // not Ethernet/IPv4 ARP (hardware/protocol type or address lengths)
  kArpOperation,   // operation not valid for the ethertype
  kHostMac,        // the host's MAC is zero or a group address
  kIpv6Header,     // not version 6, not ICMPv6 without extension headers, or bad payload length
  kHopLimit,       // ND must arrive with hop limit 255 (RFC 4861 7.1.1): off-link otherwise
  kIcmpType,       // not an NS/NA, or code not 0
  kChecksum,       // ICMPv6 checksum wrong
  kNdOption,       // zero-length or truncated option, link-layer option not 6 bytes
  kNdAddress,      // target multicast, or a source/target combination RFC 4861 forbids
  kCount,
};
const char* toString(FrameReject reason);

struct FrameParseStats {
  uint64_t parsed = 0;
  std::array<uint64_t, static_cast<size_t>(FrameReject::kCount)> rejected{};
  uint64_t rejectedTotal() const;
  uint64_t& operator[](FrameReject r) { return rejected[static_cast<size_t>(r)]; }
  uint64_t operator[](FrameReject r) const { return rejected[static_cast<size_t>(r)]; }
};

// Parses one frame as it comes off an AF_PACKET socket (Ethernet header first, no VLAN tag, no
// FCS; trailing padding is allowed). Never reads outside `frame`; counts into `stats`.
std::optional<HostFrame> parseHostFrame(std::span<const uint8_t> frame, FrameParseStats& stats);

// The ICMPv6 checksum of `message` (checksum field included as it is) between two IPv6
// addresses: 0 for a correct message, the value to store for one whose field is zero.
uint16_t icmpv6Checksum(const IpAddress& src, const IpAddress& dst,
                        std::span<const uint8_t> message);

}  // namespace gwsync::syncd
