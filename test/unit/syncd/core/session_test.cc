#include "syncd/core/session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <unordered_set>

namespace gwsync::syncd {

// Readable failure messages; static so other test files may define their own.
static void PrintTo(const IpAddress& a, std::ostream* os) { *os << a.toString(); }
static void PrintTo(const Tuple& t, std::ostream* os) { *os << toString(t); }
static void PrintTo(const NatBinding& b, std::ostream* os) {
  *os << b.addr.toString() << " port " << b.port;
}

namespace {

IpAddress ip(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

Tuple portTuple(uint8_t proto, std::string_view src, uint16_t sport, std::string_view dst,
                uint16_t dport) {
  Tuple t;
  t.src = ip(src);
  t.dst = ip(dst);
  t.proto = proto;
  t.src_port = sport;
  t.dst_port = dport;
  return t;
}

Tuple icmpTuple(uint8_t proto, std::string_view src, std::string_view dst, uint8_t type,
                uint16_t id) {
  Tuple t;
  t.src = ip(src);
  t.dst = ip(dst);
  t.proto = proto;
  t.icmp_type = type;
  t.icmp_id = id;
  return t;
}

Session sessionOf(const Tuple& orig, const Tuple& reply) {
  Session s;
  s.orig = orig;
  s.reply = reply;
  return s;
}

// --- IpAddress ---------------------------------------------------------------------------------

TEST(IpAddressTest, ParsesIpv4) {
  auto a = IpAddress::parse("192.0.2.1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->family, Family::kIpv4);
  EXPECT_EQ(a->size(), 4u);
  EXPECT_EQ(*a, IpAddress::v4(192, 0, 2, 1));
  for (size_t i = 4; i < a->bytes.size(); ++i) EXPECT_EQ(a->bytes[i], 0) << i;
  EXPECT_EQ(a->toString(), "192.0.2.1");
}

TEST(IpAddressTest, RejectsEmbeddedNul) {
  EXPECT_FALSE(IpAddress::parse(std::string_view("192.0.2.1\0junk", 14)).has_value());
}

TEST(IpAddressTest, ParsesIpv6) {
  auto a = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->family, Family::kIpv6);
  EXPECT_EQ(a->size(), 16u);
  EXPECT_EQ(a->bytes[0], 0x20);
  EXPECT_EQ(a->bytes[1], 0x01);
  EXPECT_EQ(a->bytes[2], 0x0d);
  EXPECT_EQ(a->bytes[3], 0xb8);
  EXPECT_EQ(a->bytes[15], 0x01);
  EXPECT_EQ(a->toString(), "2001:db8::1");
}

TEST(IpAddressTest, V4MappedIpv6StaysIpv6) {
  auto a = IpAddress::parse("::ffff:192.0.2.1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->family, Family::kIpv6);
  EXPECT_EQ(a->toString(), "::ffff:192.0.2.1");
}

TEST(IpAddressTest, ToStringRoundTripsCanonicalText) {
  for (std::string_view text : {"0.0.0.0", "255.255.255.255", "10.1.2.3", "::", "::1", "fe80::1:2",
                                "2001:db8:1:2:3:4:5:6"}) {
    auto a = IpAddress::parse(text);
    ASSERT_TRUE(a.has_value()) << text;
    EXPECT_EQ(a->toString(), text);
  }
}

TEST(IpAddressTest, DefaultIsIpv4Zero) { EXPECT_EQ(IpAddress{}.toString(), "0.0.0.0"); }

TEST(IpAddressTest, RejectsGarbage) {
  for (std::string_view text :
       {"", "hello", "1.2.3", "1.2.3.256", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "2001:db8:::1",
        "2001:db8::1::2", "12345::", "1.2.3.4/24", "[::1]"}) {
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << '"' << text << '"';
  }
}

TEST(IpAddressTest, HonoursViewLengthWithoutTerminator) {
  // The view stops before the final digit; parse must not read past it.
  const std::string text = "10.0.0.12";
  auto a = IpAddress::parse(std::string_view(text).substr(0, 8));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->toString(), "10.0.0.1");
}

TEST(IpAddressTest, LongestTextParsesAndLongerIsRejected) {
  const std::string longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";  // 45 chars
  ASSERT_EQ(longest.size(), 45u);
  EXPECT_TRUE(IpAddress::parse(longest).has_value());
  EXPECT_FALSE(IpAddress::parse("0" + longest).has_value());
  EXPECT_FALSE(IpAddress::parse(std::string(4096, '1')).has_value());
}

// --- protocol predicates -----------------------------------------------------------------------

TEST(ProtocolTest, SupportedL4) {
  for (uint8_t p :
       {l4::kTcp, l4::kUdp, l4::kUdpLite, l4::kIcmp, l4::kIcmpv6, l4::kSctp, l4::kGre, l4::kDccp}) {
    EXPECT_TRUE(isSupportedL4(p)) << int{p};
  }
  for (uint8_t p : {0, 2, 4, 41, 50, 51, 103, 255}) EXPECT_FALSE(isSupportedL4(p)) << int{p};
}

TEST(ProtocolTest, HasPortsAndIsIcmpPartitionSupportedProtocols) {
  for (int p = 0; p < 256; ++p) {
    const auto proto = static_cast<uint8_t>(p);
    if (isSupportedL4(proto)) {
      EXPECT_NE(hasPorts(proto), isIcmp(proto)) << p;
    } else {
      EXPECT_FALSE(hasPorts(proto)) << p;
      EXPECT_FALSE(isIcmp(proto)) << p;
    }
  }
  EXPECT_TRUE(hasPorts(l4::kGre));  // GRE keys travel as ports
  EXPECT_TRUE(isIcmp(l4::kIcmp));
  EXPECT_TRUE(isIcmp(l4::kIcmpv6));
  EXPECT_FALSE(isIcmp(l4::kTcp));
}

// --- invert ------------------------------------------------------------------------------------

TEST(InvertTest, SwapsAddressesAndPorts) {
  const Tuple t = portTuple(l4::kTcp, "10.0.0.2", 40000, "198.51.100.7", 80);
  const Tuple r = invert(t);
  EXPECT_EQ(r, portTuple(l4::kTcp, "198.51.100.7", 80, "10.0.0.2", 40000));
  EXPECT_EQ(invert(r), t);
}

TEST(InvertTest, IcmpEchoBecomesEchoReply) {
  const Tuple t = icmpTuple(l4::kIcmp, "10.0.0.2", "192.0.2.9", 8, 1234);
  const Tuple r = invert(t);
  EXPECT_EQ(r.src, t.dst);
  EXPECT_EQ(r.dst, t.src);
  EXPECT_EQ(r.icmp_type, 0);
  EXPECT_EQ(r.icmp_id, 1234);
  EXPECT_EQ(r.icmp_code, t.icmp_code);
}

TEST(InvertTest, IcmpQueryTypes) {
  EXPECT_EQ(invert(icmpTuple(l4::kIcmp, "10.0.0.1", "10.0.0.2", 13, 1)).icmp_type, 14);
  EXPECT_EQ(invert(icmpTuple(l4::kIcmp, "10.0.0.1", "10.0.0.2", 15, 1)).icmp_type, 16);
  EXPECT_EQ(invert(icmpTuple(l4::kIcmp, "10.0.0.1", "10.0.0.2", 17, 1)).icmp_type, 18);
  // Not a query: left alone.
  EXPECT_EQ(invert(icmpTuple(l4::kIcmp, "10.0.0.1", "10.0.0.2", 3, 1)).icmp_type, 3);
}

TEST(InvertTest, IcmpRepliesMapBackToQueries) {
  // The kernel's invmap is symmetric, so invert is its own inverse for every query type.
  for (uint8_t type : {0, 8, 13, 14, 15, 16, 17, 18}) {
    const Tuple t = icmpTuple(l4::kIcmp, "10.0.0.1", "10.0.0.2", type, 5);
    EXPECT_EQ(invert(invert(t)), t) << int{type};
  }
  for (uint8_t type : {128, 129, 139, 140}) {
    const Tuple t = icmpTuple(l4::kIcmpv6, "fd00::1", "fd00::2", type, 5);
    EXPECT_EQ(invert(invert(t)), t) << int{type};
  }
  EXPECT_EQ(invert(icmpTuple(l4::kIcmp, "10.0.0.1", "10.0.0.2", 0, 1)).icmp_type, 8);
  EXPECT_EQ(invert(icmpTuple(l4::kIcmpv6, "::1", "::2", 129, 1)).icmp_type, 128);
}

TEST(InvertTest, Icmpv6EchoBecomesEchoReply) {
  const Tuple t = icmpTuple(l4::kIcmpv6, "2001:db8::1", "2001:db8::2", 128, 77);
  const Tuple r = invert(t);
  EXPECT_EQ(r.icmp_type, 129);
  EXPECT_EQ(r.icmp_id, 77);
  EXPECT_EQ(r.src, t.dst);
  EXPECT_EQ(invert(icmpTuple(l4::kIcmpv6, "::1", "::2", 139, 1)).icmp_type, 140);
  // ICMP numbering does not apply to ICMPv6: type 8 is not an echo there.
  EXPECT_EQ(invert(icmpTuple(l4::kIcmpv6, "::1", "::2", 8, 1)).icmp_type, 8);
}

// --- NAT derivation ----------------------------------------------------------------------------

TEST(NatTest, NoNat) {
  const Tuple orig = portTuple(l4::kTcp, "10.0.0.2", 40000, "198.51.100.7", 80);
  const Session s = sessionOf(orig, invert(orig));
  EXPECT_EQ(sourceNat(s), std::nullopt);
  EXPECT_EQ(destinationNat(s), std::nullopt);
}

TEST(NatTest, SnatAddressOnly) {
  const Session s = sessionOf(portTuple(l4::kTcp, "10.0.0.2", 40000, "198.51.100.7", 80),
                              portTuple(l4::kTcp, "198.51.100.7", 80, "203.0.113.1", 40000));
  EXPECT_EQ(sourceNat(s), (NatBinding{ip("203.0.113.1"), 40000}));
  EXPECT_EQ(destinationNat(s), std::nullopt);
}

TEST(NatTest, SnatWithPortChange) {
  const Session s = sessionOf(portTuple(l4::kUdp, "10.0.0.2", 40000, "198.51.100.7", 53),
                              portTuple(l4::kUdp, "198.51.100.7", 53, "203.0.113.1", 61000));
  EXPECT_EQ(sourceNat(s), (NatBinding{ip("203.0.113.1"), 61000}));
  EXPECT_EQ(destinationNat(s), std::nullopt);
}

TEST(NatTest, SnatPortOnly) {
  const Session s = sessionOf(portTuple(l4::kTcp, "10.0.0.2", 40000, "198.51.100.7", 80),
                              portTuple(l4::kTcp, "198.51.100.7", 80, "10.0.0.2", 61000));
  EXPECT_EQ(sourceNat(s), (NatBinding{ip("10.0.0.2"), 61000}));
}

TEST(NatTest, DnatAddressAndPort) {
  const Session s = sessionOf(portTuple(l4::kTcp, "198.51.100.7", 50000, "203.0.113.1", 80),
                              portTuple(l4::kTcp, "10.0.0.5", 8080, "198.51.100.7", 50000));
  EXPECT_EQ(sourceNat(s), std::nullopt);
  EXPECT_EQ(destinationNat(s), (NatBinding{ip("10.0.0.5"), 8080}));
}

TEST(NatTest, SnatAndDnat) {
  const Session s = sessionOf(portTuple(l4::kTcp, "10.1.0.2", 40000, "203.0.113.1", 443),
                              portTuple(l4::kTcp, "10.2.0.5", 8443, "10.2.0.1", 62000));
  EXPECT_EQ(sourceNat(s), (NatBinding{ip("10.2.0.1"), 62000}));
  EXPECT_EQ(destinationNat(s), (NatBinding{ip("10.2.0.5"), 8443}));
}

TEST(NatTest, IcmpWithoutNat) {
  const Tuple orig = icmpTuple(l4::kIcmp, "10.0.0.2", "192.0.2.9", 8, 1234);
  const Session s = sessionOf(orig, invert(orig));
  EXPECT_EQ(sourceNat(s), std::nullopt);
  EXPECT_EQ(destinationNat(s), std::nullopt);
}

TEST(NatTest, IcmpIdRemappedUnderSnat) {
  const Session s = sessionOf(icmpTuple(l4::kIcmp, "10.0.0.2", "192.0.2.9", 8, 1234),
                              icmpTuple(l4::kIcmp, "192.0.2.9", "203.0.113.1", 0, 5555));
  EXPECT_EQ(sourceNat(s), (NatBinding{ip("203.0.113.1"), 5555}));
  EXPECT_EQ(destinationNat(s), std::nullopt);
}

TEST(NatTest, IcmpIdOnlyRemap) {
  const Session s = sessionOf(icmpTuple(l4::kIcmp, "10.0.0.2", "192.0.2.9", 8, 1234),
                              icmpTuple(l4::kIcmp, "192.0.2.9", "10.0.0.2", 0, 5555));
  EXPECT_EQ(sourceNat(s), (NatBinding{ip("10.0.0.2"), 5555}));
}

TEST(NatTest, IcmpDnatCarriesNoPort) {
  const Session s = sessionOf(icmpTuple(l4::kIcmp, "198.51.100.7", "203.0.113.1", 8, 9),
                              icmpTuple(l4::kIcmp, "10.0.0.5", "198.51.100.7", 0, 9));
  EXPECT_EQ(sourceNat(s), std::nullopt);
  EXPECT_EQ(destinationNat(s), (NatBinding{ip("10.0.0.5"), 0}));
}

TEST(NatTest, Ipv6Snat) {
  const Session s =
      sessionOf(portTuple(l4::kTcp, "fd00::2", 40000, "2001:db8:ffff::80", 443),
                portTuple(l4::kTcp, "2001:db8:ffff::80", 443, "2001:db8:1::1", 40000));
  auto snat = sourceNat(s);
  ASSERT_TRUE(snat.has_value());
  EXPECT_EQ(snat->addr, ip("2001:db8:1::1"));
  EXPECT_EQ(snat->addr.family, Family::kIpv6);
  EXPECT_EQ(snat->port, 40000);
  EXPECT_EQ(destinationNat(s), std::nullopt);
}

TEST(NatTest, ProtocolWithoutPortsComparesAddressesOnly) {
  // ESP (50) is not synced, but the derivation must still ignore leftover port fields.
  Tuple orig = portTuple(50, "10.0.0.2", 1, "198.51.100.7", 2);
  Tuple reply = portTuple(50, "198.51.100.7", 3, "10.0.0.2", 4);
  EXPECT_EQ(sourceNat(sessionOf(orig, reply)), std::nullopt);
  EXPECT_EQ(destinationNat(sessionOf(orig, reply)), std::nullopt);
  reply.dst = ip("203.0.113.1");
  EXPECT_EQ(sourceNat(sessionOf(orig, reply)), (NatBinding{ip("203.0.113.1"), 0}));
}

// --- labels, toString, hashing -----------------------------------------------------------------

TEST(SessionTest, HasLabels) {
  Session s;
  EXPECT_FALSE(hasLabels(s));
  s.labels[15] = 0x80;  // label bit 127
  EXPECT_TRUE(hasLabels(s));
  s.labels[15] = 0;
  s.labels[0] = 0x01;  // label bit 0
  EXPECT_TRUE(hasLabels(s));
}

TEST(SessionTest, TupleToString) {
  EXPECT_EQ(toString(portTuple(l4::kTcp, "10.0.0.2", 40000, "198.51.100.7", 80)),
            "proto=6 src=10.0.0.2 dst=198.51.100.7 sport=40000 dport=80");
  EXPECT_EQ(toString(icmpTuple(l4::kIcmp, "10.0.0.2", "192.0.2.9", 8, 1234)),
            "proto=1 src=10.0.0.2 dst=192.0.2.9 type=8 code=0 id=1234");
}

TEST(SessionTest, DescribeIgnoresTimeoutOwnerAndVersionOnly) {
  const Tuple orig = portTuple(l4::kTcp, "10.0.0.2", 40000, "198.51.100.7", 80);
  Session a = sessionOf(orig, invert(orig));
  a.tcp = TcpInfo{.state = 3};
  Session b = a;
  b.timeout = a.timeout + 100;
  b.owner = a.owner + 1;
  b.version = a.version + 1;
  EXPECT_EQ(describe(a), describe(b));
  b.mark = 1;
  EXPECT_NE(describe(a), describe(b));
  b = a;
  b.labels[4] = 0x10;
  EXPECT_NE(describe(a), describe(b));
  b = a;
  b.helper = "ftp";
  EXPECT_NE(describe(a), describe(b));
  b = a;
  b.reply.dst = ip("203.0.113.1");
  EXPECT_NE(describe(a), describe(b));
}

TEST(SessionTest, KeyOfTakesZoneAndOrig) {
  Session s = sessionOf(portTuple(l4::kTcp, "10.0.0.2", 1, "10.0.0.3", 2),
                        portTuple(l4::kTcp, "10.0.0.3", 2, "10.0.0.2", 1));
  s.zone = 7;
  const SessionKey k = keyOf(s);
  EXPECT_EQ(k.zone, 7);
  EXPECT_EQ(k.orig, s.orig);
}

TEST(SessionKeyHashTest, EqualKeysHashEqual) {
  const SessionKey a{3, portTuple(l4::kTcp, "2001:db8::1", 40000, "2001:db8::2", 443)};
  const SessionKey b{3, portTuple(l4::kTcp, "2001:db8::1", 40000, "2001:db8::2", 443)};
  ASSERT_EQ(a, b);
  EXPECT_EQ(SessionKeyHash{}(a), SessionKeyHash{}(b));
}

TEST(SessionKeyHashTest, DifferentPortsTypicallyDiffer) {
  std::unordered_set<size_t> hashes;
  constexpr int kKeys = 1000;
  for (int i = 0; i < kKeys; ++i) {
    const auto port = static_cast<uint16_t>(30000 + i);
    hashes.insert(
        SessionKeyHash{}(SessionKey{0, portTuple(l4::kUdp, "10.0.0.2", port, "198.51.100.7", 53)}));
  }
  EXPECT_GE(hashes.size(), size_t{kKeys - 1});
}

TEST(SessionKeyHashTest, ZoneAndAddressesTakePart) {
  const Tuple t = portTuple(l4::kUdp, "10.0.0.2", 1000, "198.51.100.7", 53);
  const SessionKeyHash h;
  EXPECT_NE(h(SessionKey{0, t}), h(SessionKey{1, t}));
  Tuple other = t;
  other.dst = ip("198.51.100.8");
  EXPECT_NE(h(SessionKey{0, t}), h(SessionKey{0, other}));
  other = t;
  other.proto = l4::kTcp;
  EXPECT_NE(h(SessionKey{0, t}), h(SessionKey{0, other}));
}

}  // namespace
}  // namespace gwsync::syncd
