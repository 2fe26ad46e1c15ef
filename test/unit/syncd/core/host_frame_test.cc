// The host frame parser and builder: kernel-made frames parse as what they are, our builders'
// frames parse back to their fields, and every malformation is rejected with its own reason.
#include "syncd/core/host_frame.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "syncd/core/host_frame_builder.h"

namespace gwsync::syncd {
namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }
MacAddress mac(const char* text) { return MacAddress::parse(text).value(); }

std::vector<uint8_t> hex(const std::string& h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Captured on this kernel (6.18) between two namespaces: 02:..:0a (2001:db8::a, 192.0.2.10)
// resolving 02:..:0b (2001:db8::b, 192.0.2.11).
const char* kKernelMulticastNs =
    "3333ff00000b02000000000a86dd6000000000203aff20010db800000000000000000000000aff0200000000000000"
    "000001ff00000b87001c030000000020010db800000000000000000000000b010102000000000a";
const char* kKernelSolicitedNa =
    "02000000000a02000000000b86dd6000000000203aff20010db800000000000000000000000b20010db800000000"
    "000000000000000a88008a4d6000000020010db800000000000000000000000b020102000000000b";
const char* kKernelDadNs =  // unspecified source, nonce option (type 14)
    "3333ff00000b02000000000b86dd6000000000203aff00000000000000000000000000000000ff02000000000000"
    "00000001ff00000b8700585d00000000fe80000000000000000000fffe00000b0e01665f17c49887";
const char* kKernelArpRequest =  // 42 bytes: veth does not pad
    "ffffffffffff02000000000a0806000108000604000102000000000ac000020a000000000000c000020b";

const MacAddress kVm = mac("02:00:00:00:00:10");
const MacAddress kVirtual = mac("02:00:5e:00:01:01");

std::optional<HostFrame> parse(const std::vector<uint8_t>& bytes, FrameParseStats& stats) {
  return parseHostFrame(bytes, stats);
}

TEST(HostFrameTest, KernelNeighbourSolicitationParses) {
  FrameParseStats stats;
  auto f = parse(hex(kKernelMulticastNs), stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kNeighbourSolicitation);
  EXPECT_EQ(f->ip, ip("2001:db8::a"));
  EXPECT_EQ(f->target_ip, ip("2001:db8::b"));
  EXPECT_EQ(f->mac, mac("02:00:00:00:00:0a"));
  EXPECT_EQ(f->eth_dst, mac("33:33:ff:00:00:0b"));
  EXPECT_EQ(stats.parsed, 1u);
}

TEST(HostFrameTest, KernelSolicitedAdvertisementParses) {
  FrameParseStats stats;
  auto f = parse(hex(kKernelSolicitedNa), stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kNeighbourAdvertisement);
  EXPECT_EQ(f->ip, ip("2001:db8::b"));
  EXPECT_EQ(f->mac, mac("02:00:00:00:00:0b"));
  EXPECT_TRUE(f->solicited);
  EXPECT_TRUE(f->override_flag);
  EXPECT_FALSE(f->router);
}

TEST(HostFrameTest, KernelDadSolicitationHasNoHostAddress) {
  FrameParseStats stats;
  auto f = parse(hex(kKernelDadNs), stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kNeighbourSolicitation);
  EXPECT_FALSE(f->ip);
  EXPECT_EQ(f->target_ip, ip("fe80::ff:fe00:b"));
  EXPECT_EQ(f->mac, mac("02:00:00:00:00:0b"));  // from the Ethernet header: no option
}

TEST(HostFrameTest, KernelArpRequestParsesUnpadded) {
  FrameParseStats stats;
  auto f = parse(hex(kKernelArpRequest), stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kArpRequest);
  EXPECT_EQ(f->ip, ip("192.0.2.10"));
  EXPECT_EQ(f->target_ip, ip("192.0.2.11"));
  EXPECT_EQ(f->mac, mac("02:00:00:00:00:0a"));
  EXPECT_TRUE(f->eth_dst.isBroadcast());
}

TEST(HostFrameTest, GratuitousArpRoundTrips) {
  const auto bytes = buildGratuitousArp(kVm, ip("192.0.2.10"));
  EXPECT_EQ(bytes.size(), kEthernetMinFrame);
  FrameParseStats stats;
  auto f = parse(bytes, stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kGratuitousArp);
  EXPECT_EQ(f->ip, ip("192.0.2.10"));
  EXPECT_EQ(f->mac, kVm);
  EXPECT_EQ(f->eth_src, kVm);
  EXPECT_TRUE(f->eth_dst.isBroadcast());
}

TEST(HostFrameTest, GratuitousReplyIsGratuitousToo) {
  auto bytes = buildArp({.operation = 2, .eth_dst = MacAddress::broadcast(), .eth_src = kVm,
                         .sender_mac = kVm, .sender_ip = ip("192.0.2.10"),
                         .target_mac = kVm, .target_ip = ip("192.0.2.10")});
  FrameParseStats stats;
  EXPECT_EQ(parse(bytes, stats)->kind, FrameKind::kGratuitousArp);
}

TEST(HostFrameTest, ArpProbeOfRfc5227HasNoSenderAddress) {
  auto bytes = buildArp({.operation = 1, .eth_dst = MacAddress::broadcast(), .eth_src = kVm,
                         .sender_mac = kVm, .sender_ip = ip("0.0.0.0"),
                         .target_mac = MacAddress{}, .target_ip = ip("192.0.2.10")});
  FrameParseStats stats;
  auto f = parse(bytes, stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kArpRequest);
  EXPECT_FALSE(f->ip);
}

TEST(HostFrameTest, LocalityProbeIsUnicastFromTheVirtualMac) {
  const auto bytes = buildArpProbe(kVirtual, ip("192.0.2.1"), kVm, ip("192.0.2.10"));
  FrameParseStats stats;
  auto f = parse(bytes, stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kArpRequest);
  EXPECT_EQ(f->eth_dst, kVm);
  EXPECT_EQ(f->eth_src, kVirtual);
  EXPECT_EQ(f->mac, kVirtual);
  EXPECT_EQ(f->ip, ip("192.0.2.1"));
  EXPECT_EQ(f->target_ip, ip("192.0.2.10"));
  EXPECT_TRUE(f->target_mac.isZero());
}

TEST(HostFrameTest, ProbeAnswerIsAReplyToTheVirtualMac) {
  auto bytes = buildArp({.operation = 2, .eth_dst = kVirtual, .eth_src = kVm, .sender_mac = kVm,
                         .sender_ip = ip("192.0.2.10"), .target_mac = kVirtual,
                         .target_ip = ip("192.0.2.1")});
  FrameParseStats stats;
  auto f = parse(bytes, stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kArpReply);
  EXPECT_EQ(f->ip, ip("192.0.2.10"));
  EXPECT_EQ(f->mac, kVm);
  EXPECT_EQ(f->target_mac, kVirtual);
  EXPECT_EQ(f->target_ip, ip("192.0.2.1"));
}

TEST(HostFrameTest, RarpNamesOnlyTheMac) {
  FrameParseStats stats;
  auto f = parse(buildRarpAnnouncement(kVm), stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kRarp);
  EXPECT_EQ(f->mac, kVm);
  EXPECT_FALSE(f->ip);
  EXPECT_FALSE(f->target_ip);
  // A RARP reply carries the answer.
  auto reply = buildArp({.ethertype = ethertype::kRarp, .operation = 4, .eth_dst = kVm,
                         .eth_src = kVirtual, .sender_mac = kVirtual, .sender_ip = ip("192.0.2.1"),
                         .target_mac = kVm, .target_ip = ip("192.0.2.10")});
  f = parse(reply, stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->mac, kVm);
  EXPECT_EQ(f->ip, ip("192.0.2.10"));
}

TEST(HostFrameTest, UnsolicitedAdvertisementRoundTrips) {
  const auto bytes = buildUnsolicitedNa(kVm, ip("2001:db8::10"));
  FrameParseStats stats;
  auto f = parse(bytes, stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kUnsolicitedNa);
  EXPECT_EQ(f->ip, ip("2001:db8::10"));
  EXPECT_EQ(f->mac, kVm);
  EXPECT_EQ(f->eth_dst, mac("33:33:00:00:00:01"));
  EXPECT_TRUE(f->override_flag);
  EXPECT_FALSE(f->solicited);
}

TEST(HostFrameTest, NeighbourSolicitationProbeRoundTrips) {
  const auto bytes = buildNsProbe(kVirtual, ip("2001:db8::1"), kVm, ip("2001:db8::10"));
  FrameParseStats stats;
  auto f = parse(bytes, stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FrameKind::kNeighbourSolicitation);
  EXPECT_EQ(f->eth_dst, kVm);
  EXPECT_EQ(f->mac, kVirtual);
  EXPECT_EQ(f->ip, ip("2001:db8::1"));
  EXPECT_EQ(f->target_ip, ip("2001:db8::10"));
}

TEST(HostFrameTest, ChecksumMatchesTheKernels) {
  // Rebuild the kernel's solicited NA field by field: same bytes, same checksum.
  const auto kernel = hex(kKernelSolicitedNa);
  auto ours = buildNd({.advertisement = true, .eth_dst = mac("02:00:00:00:00:0a"),
                       .eth_src = mac("02:00:00:00:00:0b"), .src = ip("2001:db8::b"),
                       .dst = ip("2001:db8::a"), .target = ip("2001:db8::b"),
                       .lla = mac("02:00:00:00:00:0b"), .solicited = true, .override_flag = true});
  ASSERT_GE(ours.size(), kernel.size());
  ours.resize(kernel.size());  // drop our padding
  EXPECT_EQ(ours, kernel);
}

// One malformation per reason; each is counted under that reason and nothing else.
struct Bad {
  const char* what;
  std::vector<uint8_t> bytes;
  FrameReject reason;
};

std::vector<Bad> badFrames() {
  std::vector<Bad> bad;
  const auto garp = buildGratuitousArp(kVm, ip("192.0.2.10"));
  const auto na = buildUnsolicitedNa(kVm, ip("2001:db8::10"));
  auto with = [](std::vector<uint8_t> b, size_t at, uint8_t v) {
    b[at] = v;
    return b;
  };
  bad.push_back({"runt", std::vector<uint8_t>(garp.begin(), garp.begin() + 13), FrameReject::kTruncated});
  bad.push_back({"short arp", std::vector<uint8_t>(garp.begin(), garp.begin() + 41), FrameReject::kTruncated});
  bad.push_back({"ipv4", with(garp, 13, 0x00), FrameReject::kEthertype});
  bad.push_back({"htype", with(garp, 15, 6), FrameReject::kArpFormat});
  bad.push_back({"hlen", with(garp, 18, 8), FrameReject::kArpFormat});
  bad.push_back({"arp op 3", with(garp, 21, 3), FrameReject::kArpOperation});
  auto rarp_op1 = with(buildRarpAnnouncement(kVm), 21, 1);
  bad.push_back({"rarp op 1", rarp_op1, FrameReject::kArpOperation});
  bad.push_back({"multicast sender", with(garp, 22, 0x01), FrameReject::kHostMac});
  // NA layout: 14 Ethernet, 40 IPv6 (payload length at 18, next header 20, hop limit 21),
  // ICMPv6 at 54 (type 54, checksum 56, flags 58, target 62), option at 78.
  bad.push_back({"ip version", with(na, 14, 0x40), FrameReject::kIpv6Header});
  bad.push_back({"udp", with(na, 20, 17), FrameReject::kIpv6Header});
  bad.push_back({"payload beyond frame", with(na, 18, 0x10), FrameReject::kTruncated});
  bad.push_back({"routed", with(na, 21, 64), FrameReject::kHopLimit});
  bad.push_back({"echo request", with(na, 54, 128), FrameReject::kIcmpType});
  bad.push_back({"code", with(na, 55, 1), FrameReject::kIcmpType});
  bad.push_back({"checksum", with(na, 57, static_cast<uint8_t>(na[57] ^ 1)), FrameReject::kChecksum});
  auto solicited_to_group = buildNd({.advertisement = true, .eth_dst = mac("33:33:00:00:00:01"),
                                     .eth_src = kVm, .src = ip("2001:db8::10"),
                                     .dst = ip("ff02::1"), .target = ip("2001:db8::10"),
                                     .lla = kVm, .solicited = true});
  bad.push_back({"solicited to group", solicited_to_group, FrameReject::kNdAddress});
  auto group_target = buildNd({.advertisement = true, .eth_dst = mac("33:33:00:00:00:01"),
                               .eth_src = kVm, .src = ip("2001:db8::10"), .dst = ip("ff02::1"),
                               .target = ip("ff02::2"), .lla = kVm});
  bad.push_back({"group target", group_target, FrameReject::kNdAddress});
  auto dad_with_lla = buildNd({.eth_dst = mac("33:33:ff:00:00:10"), .eth_src = kVm,
                               .src = ip("::"), .dst = ip("ff02::1:ff00:10"),
                               .target = ip("2001:db8::10"), .lla = kVm});
  bad.push_back({"dad with option", dad_with_lla, FrameReject::kNdAddress});
  // Option length changes need a fresh checksum: build, patch, re-sum.
  auto patched = [&](size_t at, uint8_t v) {
    auto b = na;
    b[at] = v;
    b[56] = b[57] = 0;
    const std::span<const uint8_t> msg(b.data() + 54, 32);
    const uint16_t sum = icmpv6Checksum(ip("2001:db8::10"), ip("ff02::1"), msg);
    b[56] = static_cast<uint8_t>(sum >> 8);
    b[57] = static_cast<uint8_t>(sum & 0xff);
    return b;
  };
  bad.push_back({"option length 0", patched(79, 0), FrameReject::kNdOption});
  bad.push_back({"option beyond message", patched(79, 2), FrameReject::kNdOption});
  bad.push_back({"multicast option mac", patched(80, 0x01), FrameReject::kHostMac});
  return bad;
}

TEST(HostFrameTest, EveryMalformationHasItsReason) {
  for (const auto& b : badFrames()) {
    FrameParseStats stats;
    EXPECT_FALSE(parseHostFrame(b.bytes, stats)) << b.what;
    EXPECT_EQ(stats[b.reason], 1u) << b.what << " counted as something other than "
                                   << toString(b.reason);
    EXPECT_EQ(stats.rejectedTotal(), 1u) << b.what;
    EXPECT_EQ(stats.parsed, 0u) << b.what;
  }
}

TEST(HostFrameTest, EveryPrefixOfAGoodFrameIsRejectedNotRead) {
  for (const auto& good : {buildGratuitousArp(kVm, ip("192.0.2.10")), buildRarpAnnouncement(kVm),
                           buildUnsolicitedNa(kVm, ip("2001:db8::10")), hex(kKernelDadNs)}) {
    // The ND frames are exactly as long as their headers say; ARP is padded to 60, so only
    // cuts before the end of its 28-byte body matter.
    const size_t needed = good[12] == 0x86 ? good.size() : kEthernetHeader + 28;
    for (size_t n = 0; n < needed; ++n) {
      FrameParseStats stats;
      const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
      EXPECT_FALSE(parseHostFrame(cut, stats)) << n;
      EXPECT_EQ(stats[FrameReject::kTruncated], 1u) << "cut at " << n;
    }
  }
}

TEST(HostFrameTest, ReasonsHaveDistinctNames) {
  std::set<std::string> names;
  for (size_t i = 0; i < static_cast<size_t>(FrameReject::kCount); ++i) {
    names.insert(toString(static_cast<FrameReject>(i)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(FrameReject::kCount));
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace gwsync::syncd
