// Builds the frames host detection sends (the locality probe) and the ones a migrating host sends
// (gratuitous ARP, RARP, unsolicited NA), as bytes ready for an AF_PACKET socket. The probe is the
// reason this exists: a unicast ARP request / neighbour solicitation to the host's MAC from the
// anycast gateway's virtual MAC and address. The DCI drops frames from and to that MAC, so only
// the gateway at the host's own site gets the answer. Pure; frames are padded to 60 bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "syncd/core/host_frame.h"
#include "syncd/core/mac_address.h"
#include "syncd/core/session.h"

namespace gwsync::syncd {

struct ArpFields {
  uint16_t ethertype = ethertype::kArp;  // or ethertype::kRarp
  uint16_t operation = 1;                // 1 request, 2 reply; RARP 3 request, 4 reply
  MacAddress eth_dst{};
  MacAddress eth_src{};
  MacAddress sender_mac{};
  IpAddress sender_ip{};  // IPv4
  MacAddress target_mac{};
  IpAddress target_ip{};  // IPv4
};
std::vector<uint8_t> buildArp(const ArpFields& f);

struct NdFields {
  bool advertisement = false;  // NA (136) or NS (135)
  MacAddress eth_dst{};
  MacAddress eth_src{};
  IpAddress src{};  // IPv6 header
  IpAddress dst{};
  IpAddress target{};
  std::optional<MacAddress> lla{};  // source (NS) or target (NA) link-layer address option
  bool router = false;            // NA flags
  bool solicited = false;
  bool override_flag = false;
};
std::vector<uint8_t> buildNd(const NdFields& f);

// The IPv4 locality probe: a unicast ARP request for `host_ip` to `host_mac`, from the anycast
// gateway (`from_mac`, `from_ip`), so the host's answer goes to the virtual MAC.
std::vector<uint8_t> buildArpProbe(const MacAddress& from_mac, const IpAddress& from_ip,
                                   const MacAddress& host_mac, const IpAddress& host_ip);
// The IPv6 locality probe: a unicast NS for `host_ip` (RFC 4861 7.2.2 unreachability
// detection) with the virtual MAC as source link-layer option.
std::vector<uint8_t> buildNsProbe(const MacAddress& from_mac, const IpAddress& from_ip,
                                  const MacAddress& host_mac, const IpAddress& host_ip);

// What a host announces itself with: broadcast ARP request with sender IP == target IP.
std::vector<uint8_t> buildGratuitousArp(const MacAddress& mac, const IpAddress& ip);
// What ESXi sends for a VM after vMotion: broadcast RARP request, both HW addresses the VM's.
std::vector<uint8_t> buildRarpAnnouncement(const MacAddress& mac);
// Unsolicited NA to all-nodes with the override flag and the target link-layer option.
std::vector<uint8_t> buildUnsolicitedNa(const MacAddress& mac, const IpAddress& ip);

}  // namespace gwsync::syncd
