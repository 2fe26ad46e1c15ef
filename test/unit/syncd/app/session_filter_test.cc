#include "syncd/app/session_filter.h"

#include <gtest/gtest.h>

namespace gwsync::syncd {
namespace {

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

Prefix prefix(const char* text) {
  auto p = parsePrefix(text);
  EXPECT_TRUE(p.ok()) << text << ": " << (p.ok() ? "" : p.error());
  return p.ok() ? *p : Prefix{};
}

Session session(const char* src, const char* dst, uint8_t proto = l4::kUdp) {
  Session s;
  s.orig.src = ip(src);
  s.orig.dst = ip(dst);
  s.orig.proto = proto;
  s.orig.src_port = 40000;
  s.orig.dst_port = 53;
  s.reply = invert(s.orig);
  return s;
}

Session tcpSession(const char* src, const char* dst, uint8_t state) {
  Session s = session(src, dst, l4::kTcp);
  s.tcp = TcpInfo{.state = state};
  return s;
}

TEST(PrefixTest, ParsesIpv4AndIpv6) {
  EXPECT_EQ(prefix("192.0.2.0/24").toString(), "192.0.2.0/24");
  EXPECT_EQ(prefix("0.0.0.0/0").toString(), "0.0.0.0/0");
  EXPECT_EQ(prefix("2001:db8::/32").toString(), "2001:db8::/32");
  EXPECT_EQ(prefix("::/0").toString(), "::/0");
}

TEST(PrefixTest, BareAddressIsAHostPrefix) {
  EXPECT_EQ(prefix("192.0.2.7").toString(), "192.0.2.7/32");
  EXPECT_EQ(prefix("2001:db8::7").toString(), "2001:db8::7/128");
}

TEST(PrefixTest, HostBitsAreCleared) {
  EXPECT_EQ(prefix("192.0.2.77/24").toString(), "192.0.2.0/24");
  EXPECT_EQ(prefix("192.0.2.77/26").toString(), "192.0.2.64/26");
  EXPECT_EQ(prefix("2001:db8:1:2::5/33").toString(), "2001:db8::/33");
  EXPECT_EQ(prefix("10.1.2.3/0").toString(), "0.0.0.0/0");
}

TEST(PrefixTest, RejectsGarbageAndLongLengths) {
  for (const char* bad :
       {"", "/24", "192.0.2.0/", "192.0.2.0/x", "192.0.2.0/-1", "192.0.2.0/+8", "192.0.2.0/24/8",
        "192.0.2/24", "host.example/24", " 192.0.2.0/24", "192.0.2.0/0008", "192.0.2.0 /24"}) {
    EXPECT_FALSE(parsePrefix(bad).ok()) << bad;
  }
  auto v4 = parsePrefix("192.0.2.0/33");
  ASSERT_FALSE(v4.ok());
  EXPECT_EQ(v4.error(), "prefix length 33 is longer than 32 for an IPv4 address");
  auto v6 = parsePrefix("2001:db8::/129");
  ASSERT_FALSE(v6.ok());
  EXPECT_EQ(v6.error(), "prefix length 129 is longer than 128 for an IPv6 address");
}

TEST(PrefixTest, ContainsIpv4) {
  const Prefix p = prefix("192.0.2.64/26");
  EXPECT_TRUE(p.contains(ip("192.0.2.64")));
  EXPECT_TRUE(p.contains(ip("192.0.2.127")));
  EXPECT_FALSE(p.contains(ip("192.0.2.63")));
  EXPECT_FALSE(p.contains(ip("192.0.2.128")));
  EXPECT_TRUE(prefix("0.0.0.0/0").contains(ip("203.0.113.9")));
  EXPECT_TRUE(prefix("192.0.2.7/32").contains(ip("192.0.2.7")));
  EXPECT_FALSE(prefix("192.0.2.7/32").contains(ip("192.0.2.6")));
}

TEST(PrefixTest, ContainsIpv6) {
  const Prefix p = prefix("2001:db8:8000::/33");
  EXPECT_TRUE(p.contains(ip("2001:db8:8000::1")));
  EXPECT_TRUE(p.contains(ip("2001:db8:ffff:ffff::1")));
  EXPECT_FALSE(p.contains(ip("2001:db8:7fff::1")));
  EXPECT_TRUE(prefix("::/0").contains(ip("2001:db8::1")));
  EXPECT_TRUE(prefix("2001:db8::1/128").contains(ip("2001:db8::1")));
  EXPECT_FALSE(prefix("2001:db8::1/128").contains(ip("2001:db8::2")));
}

TEST(PrefixTest, FamiliesNeverMatchEachOther) {
  EXPECT_FALSE(prefix("::/0").contains(ip("192.0.2.1")));
  EXPECT_FALSE(prefix("0.0.0.0/0").contains(ip("2001:db8::1")));
  // ::ffff:192.0.2.1 is an IPv6 address to conntrack; it is not in an IPv4 prefix.
  EXPECT_FALSE(prefix("192.0.2.0/24").contains(ip("::ffff:192.0.2.1")));
}

TEST(SessionFilterTest, DefaultAcceptsEverything) {
  const SessionFilter f;
  EXPECT_TRUE(f.accepts(session("192.0.2.1", "198.51.100.1")));
  EXPECT_TRUE(f.accepts(session("2001:db8::1", "2001:db8::2", l4::kIcmpv6)));
  EXPECT_TRUE(f.accepts(tcpSession("192.0.2.1", "198.51.100.1", 3)));
}

TEST(SessionFilterTest, IncludeMatchesEitherEndOfTheOriginalTuple) {
  SessionFilter f;
  f.include = {prefix("10.0.0.0/8"), prefix("2001:db8:100::/48")};
  EXPECT_TRUE(f.accepts(session("10.1.1.1", "198.51.100.1")));
  EXPECT_TRUE(f.accepts(session("198.51.100.1", "10.1.1.1")));
  EXPECT_FALSE(f.accepts(session("192.0.2.1", "198.51.100.1")));
  EXPECT_TRUE(f.accepts(session("2001:db8:100::5", "2001:db8:200::5")));
  EXPECT_FALSE(f.accepts(session("2001:db8:300::5", "2001:db8:200::5")));
}

TEST(SessionFilterTest, IncludeCoversTheInsideHostOfADestinationNatedFlow) {
  // An inbound flow to a VIP or a 1:1 public address goes to a LAN host: the reply's source.
  SessionFilter f;
  f.include = {prefix("10.0.0.0/8")};
  Session s = session("192.0.2.1", "198.51.100.1");
  s.reply.src = ip("10.0.0.5");
  EXPECT_TRUE(f.accepts(s));
  s.reply.src = ip("203.0.113.5");  // the reply's destination (a SNAT binding) does not count
  s.reply.dst = ip("10.0.0.6");
  EXPECT_FALSE(f.accepts(s));
}

TEST(SessionFilterTest, ExcludeWinsOverInclude) {
  SessionFilter f;
  f.include = {prefix("10.0.0.0/8")};
  f.exclude = {prefix("10.99.0.0/16")};
  EXPECT_TRUE(f.accepts(session("10.1.1.1", "198.51.100.1")));
  EXPECT_FALSE(f.accepts(session("10.99.1.1", "198.51.100.1")));
  // Either end in an excluded prefix drops it, even when the other end is included.
  EXPECT_FALSE(f.accepts(session("10.1.1.1", "10.99.0.1")));
}

TEST(SessionFilterTest, ExcludeAloneDropsOnlyItsPrefixes) {
  SessionFilter f;
  f.exclude = {prefix("192.0.2.0/24")};
  EXPECT_FALSE(f.accepts(session("192.0.2.9", "198.51.100.1")));
  EXPECT_TRUE(f.accepts(session("203.0.113.9", "198.51.100.1")));
}

TEST(SessionFilterTest, ProtocolsRestrict) {
  SessionFilter f;
  f.protocols.reset();
  f.protocols.set(l4::kTcp);
  EXPECT_TRUE(f.accepts(tcpSession("192.0.2.1", "198.51.100.1", 3)));
  EXPECT_FALSE(f.accepts(session("192.0.2.1", "198.51.100.1", l4::kUdp)));
  EXPECT_FALSE(f.accepts(session("192.0.2.1", "198.51.100.1", l4::kIcmp)));
}

TEST(SessionFilterTest, TcpStatesRestrictTcpOnly) {
  SessionFilter f;
  f.tcp_states.reset();
  f.tcp_states.set(*tcpStateByName("established"));
  EXPECT_TRUE(f.accepts(tcpSession("192.0.2.1", "198.51.100.1", 3)));
  EXPECT_FALSE(f.accepts(tcpSession("192.0.2.1", "198.51.100.1", *tcpStateByName("syn_sent"))));
  EXPECT_FALSE(f.accepts(tcpSession("192.0.2.1", "198.51.100.1", *tcpStateByName("time_wait"))));
  EXPECT_TRUE(f.accepts(session("192.0.2.1", "198.51.100.1", l4::kUdp)));
  // With states restricted, TCP without state information cannot be shown to qualify.
  EXPECT_FALSE(f.accepts(session("192.0.2.1", "198.51.100.1", l4::kTcp)));
  EXPECT_FALSE(f.accepts(tcpSession("192.0.2.1", "198.51.100.1", 200)));
}

TEST(SessionFilterTest, AllStatesAcceptTcpWithoutStateInformation) {
  const SessionFilter f;
  EXPECT_TRUE(f.accepts(session("192.0.2.1", "198.51.100.1", l4::kTcp)));
}

TEST(SessionFilterTest, NameTables) {
  EXPECT_EQ(protocolByName("udplite"), l4::kUdpLite);
  EXPECT_EQ(protocolByName("icmpv6"), l4::kIcmpv6);
  EXPECT_FALSE(protocolByName("TCP").has_value());  // names are lower case, as documented
  EXPECT_EQ(tcpStateByName("syn_sent2"), 9);
  EXPECT_EQ(tcpStateByName("close"), 8);
  EXPECT_FALSE(tcpStateByName("none").has_value());
  EXPECT_EQ(allProtocols().count(), 8u);
  EXPECT_EQ(allTcpStates().count(), 9u);
}

}  // namespace
}  // namespace gwsync::syncd
