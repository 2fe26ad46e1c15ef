#include "syncd/core/host_frame_builder.h"

namespace gwsync::syncd {

namespace {

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}

void putMac(std::vector<uint8_t>& out, const MacAddress& mac) {
  out.insert(out.end(), mac.bytes.begin(), mac.bytes.end());
}

// ARP carries IPv4 only: the first four bytes, which is all an IPv4 IpAddress holds.
void putIpv4(std::vector<uint8_t>& out, const IpAddress& ip) {
  out.insert(out.end(), ip.bytes.begin(), ip.bytes.begin() + 4);
}

void putEthernet(std::vector<uint8_t>& out, const MacAddress& dst, const MacAddress& src,
                 uint16_t type) {
  putMac(out, dst);
  putMac(out, src);
  put16(out, type);
}

// Short frames are padded by most drivers but not by veth: pad here so what we send is what a
// real NIC would put on the wire.
void pad(std::vector<uint8_t>& out) {
  if (out.size() < kEthernetMinFrame) out.resize(kEthernetMinFrame, 0);
}

// ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX (RFC 4291 2.7.1, RFC 2464 7).
IpAddress allNodes() { return *IpAddress::parse("ff02::1"); }

MacAddress multicastMac(const IpAddress& group) {
  return {{0x33, 0x33, group.bytes[12], group.bytes[13], group.bytes[14], group.bytes[15]}};
}

}  // namespace

std::vector<uint8_t> buildArp(const ArpFields& f) {
  std::vector<uint8_t> out;
  out.reserve(kEthernetMinFrame);
  putEthernet(out, f.eth_dst, f.eth_src, f.ethertype);
  put16(out, 1);  // Ethernet
  put16(out, ethertype::kIpv4);
  out.push_back(6);
  out.push_back(4);
  put16(out, f.operation);
  putMac(out, f.sender_mac);
  putIpv4(out, f.sender_ip);
  putMac(out, f.target_mac);
  putIpv4(out, f.target_ip);
  pad(out);
  return out;
}

std::vector<uint8_t> buildNd(const NdFields& f) {
  std::vector<uint8_t> msg;
  msg.push_back(f.advertisement ? 136 : 135);
  msg.push_back(0);  // code
  put16(msg, 0);     // checksum, filled in below
  uint8_t flags = 0;
  if (f.advertisement) {
    flags = static_cast<uint8_t>((f.router ? 0x80 : 0) | (f.solicited ? 0x40 : 0) |
                                 (f.override_flag ? 0x20 : 0));
  }
  msg.push_back(flags);
  msg.insert(msg.end(), 3, 0);
  msg.insert(msg.end(), f.target.bytes.begin(), f.target.bytes.end());
  if (f.lla) {
    msg.push_back(f.advertisement ? 2 : 1);
    msg.push_back(1);  // 8 bytes
    putMac(msg, *f.lla);
  }
  const uint16_t sum = icmpv6Checksum(f.src, f.dst, msg);
  msg[2] = static_cast<uint8_t>(sum >> 8);
  msg[3] = static_cast<uint8_t>(sum & 0xff);

  std::vector<uint8_t> out;
  putEthernet(out, f.eth_dst, f.eth_src, ethertype::kIpv6);
  out.push_back(0x60);  // version 6, traffic class and flow label 0
  out.insert(out.end(), 3, 0);
  put16(out, static_cast<uint16_t>(msg.size()));
  out.push_back(l4::kIcmpv6);
  out.push_back(255);  // hop limit: receivers drop ND that may have been routed
  out.insert(out.end(), f.src.bytes.begin(), f.src.bytes.end());
  out.insert(out.end(), f.dst.bytes.begin(), f.dst.bytes.end());
  out.insert(out.end(), msg.begin(), msg.end());
  pad(out);
  return out;
}

std::vector<uint8_t> buildArpProbe(const MacAddress& from_mac, const IpAddress& from_ip,
                                   const MacAddress& host_mac, const IpAddress& host_ip) {
  // Target HW zero, as Linux's own unicast probes (arp_create with target_hw NULL).
  return buildArp({.operation = 1,
                   .eth_dst = host_mac,
                   .eth_src = from_mac,
                   .sender_mac = from_mac,
                   .sender_ip = from_ip,
                   .target_mac = MacAddress{},
                   .target_ip = host_ip});
}

std::vector<uint8_t> buildNsProbe(const MacAddress& from_mac, const IpAddress& from_ip,
                                  const MacAddress& host_mac, const IpAddress& host_ip) {
  return buildNd({.advertisement = false,
                  .eth_dst = host_mac,
                  .eth_src = from_mac,
                  .src = from_ip,
                  .dst = host_ip,
                  .target = host_ip,
                  .lla = from_mac});
}

std::vector<uint8_t> buildGratuitousArp(const MacAddress& mac, const IpAddress& ip) {
  return buildArp({.operation = 1,
                   .eth_dst = MacAddress::broadcast(),
                   .eth_src = mac,
                   .sender_mac = mac,
                   .sender_ip = ip,
                   .target_mac = MacAddress{},
                   .target_ip = ip});
}

std::vector<uint8_t> buildRarpAnnouncement(const MacAddress& mac) {
  return buildArp({.ethertype = ethertype::kRarp,
                   .operation = 3,
                   .eth_dst = MacAddress::broadcast(),
                   .eth_src = mac,
                   .sender_mac = mac,
                   .sender_ip = IpAddress::v4(0, 0, 0, 0),
                   .target_mac = mac,
                   .target_ip = IpAddress::v4(0, 0, 0, 0)});
}

std::vector<uint8_t> buildUnsolicitedNa(const MacAddress& mac, const IpAddress& ip) {
  const IpAddress dst = allNodes();
  return buildNd({.advertisement = true,
                  .eth_dst = multicastMac(dst),
                  .eth_src = mac,
                  .src = ip,
                  .dst = dst,
                  .target = ip,
                  .lla = mac,
                  .override_flag = true});
}

}  // namespace gwsync::syncd
