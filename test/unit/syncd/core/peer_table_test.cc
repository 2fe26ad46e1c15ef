// PeerTable: every session reads back exactly as stored, compact or not, and the table behaves
// like a map under inserts, replacements and erases (checked against std::map).
#include "syncd/core/peer_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>

namespace gwsync::syncd {
namespace {

Session tcp(uint32_t n) {
  Session s;
  s.zone = static_cast<uint16_t>(n % 3);
  s.orig.src = IpAddress::v4(192, 0, 2, static_cast<uint8_t>(n % 250 + 1));
  s.orig.dst = IpAddress::v4(203, 0, 113, static_cast<uint8_t>(n / 250 % 250 + 1));
  s.orig.proto = l4::kTcp;
  s.orig.src_port = static_cast<uint16_t>(1024 + n % 60000);
  s.orig.dst_port = static_cast<uint16_t>(443 + n / 60000);
  s.reply = invert(s.orig);
  s.reply.dst = IpAddress::v4(198, 51, 100, 1);  // SNAT
  s.reply.dst_port = static_cast<uint16_t>(40000 + n % 20000);
  s.status = status::kSeenReply | status::kAssured | status::kSrcNat;
  s.timeout = 432000 - n;
  s.mark = 0x80000000u | n;
  s.tcp = TcpInfo{3, 0x0f, 0x07, 7, 8};
  s.owner = 2;
  s.version = (uint64_t{9} << 32) | n;
  return s;
}

Session icmp(uint16_t id) {
  Session s;
  s.orig.src = IpAddress::v4(192, 0, 2, 10);
  s.orig.dst = IpAddress::v4(203, 0, 113, 10);
  s.orig.proto = l4::kIcmp;
  s.orig.icmp_id = id;
  s.orig.icmp_type = 8;
  s.reply = s.orig;
  std::swap(s.reply.src, s.reply.dst);
  s.reply.icmp_type = 0;
  s.timeout = 30;
  s.owner = 2;
  s.version = 5;
  return s;
}

Session v6(uint16_t port) {
  Session s;
  s.orig.src = *IpAddress::parse("2001:db8::10");
  s.orig.dst = *IpAddress::parse("2001:db8:1::20");
  s.orig.proto = l4::kUdp;
  s.orig.src_port = port;
  s.orig.dst_port = 53;
  s.reply = invert(s.orig);
  s.timeout = 30;
  s.owner = 2;
  return s;
}

PeerEntry roundTrip(const Session& s) {
  PeerTable t;
  t.tryInsert(s, 7, Millis{123456});
  return t.at(keyOf(s));
}

TEST(PeerTableTest, EverySessionReadsBackExactly) {
  Session labels = tcp(1);
  labels.labels[3] = 0x40;
  Session helper = tcp(2);
  helper.helper = "ftp";
  helper.seq_adj_orig = SeqAdj{100, 5, 9};
  Session sctp = tcp(3);
  sctp.orig.proto = sctp.reply.proto = l4::kSctp;
  sctp.tcp.reset();
  sctp.sctp = SctpInfo{3, 0x1234, 0x5678};
  Session mixed = tcp(4);  // ports and ICMP fields at once: not representable compactly
  mixed.orig.icmp_code = 1;
  Session udp = tcp(5);
  udp.orig.proto = udp.reply.proto = l4::kUdp;
  udp.tcp.reset();
  Session icmp6 = icmp(0x77);
  icmp6.orig.src = *IpAddress::parse("2001:db8::10");
  icmp6.orig.dst = *IpAddress::parse("2001:db8:ffff::1");
  icmp6.orig.proto = icmp6.reply.proto = l4::kIcmpv6;
  icmp6.orig.icmp_type = 128;
  icmp6.reply.src = icmp6.orig.dst;
  icmp6.reply.dst = icmp6.orig.src;
  icmp6.reply.icmp_type = 129;
  Session tcp6 = tcp(9);
  tcp6.orig.src = *IpAddress::parse("2001:db8:a::10");
  tcp6.orig.dst = *IpAddress::parse("2001:db8:b::20");
  tcp6.reply = invert(tcp6.orig);
  tcp6.reply.dst = *IpAddress::parse("2001:db8:100::1");  // NPT/SNAT66
  for (const Session& s : {tcp(0), tcp(77777), icmp(0x4242), v6(5353), icmp6, tcp6, labels,
                           helper, sctp, mixed, udp}) {
    PeerTable t;
    t.tryInsert(s, 7, Millis{123456});
    EXPECT_EQ(t.find(keyOf(s)).origSource(), s.orig.src);
    EXPECT_EQ(t.find(keyOf(s)).replySource(), s.reply.src);
    const PeerEntry e = roundTrip(s);
    EXPECT_EQ(e.session, s) << describe(s);
    EXPECT_EQ(e.generation, 7u);
    EXPECT_EQ(e.received_at, Millis{123456});
  }
}

TEST(PeerTableTest, OnlyUnusualSessionsLeaveTheRecord) {
  PeerTable t;
  t.tryInsert(tcp(1), 1, Millis{0});
  t.tryInsert(icmp(9), 1, Millis{0});
  EXPECT_EQ(t.fullEntries(), 0u);
  t.tryInsert(v6(1), 1, Millis{0});
  EXPECT_EQ(t.fullEntries(), 0u);  // IPv6 fits too, its addresses beside the record
  Session h = tcp(2);
  h.helper = "sip";
  t.tryInsert(h, 1, Millis{0});
  Session mixed = v6(2);  // families that differ between the tuples: kept whole
  mixed.reply.dst = IpAddress::v4(198, 51, 100, 1);
  t.tryInsert(mixed, 1, Millis{0});
  EXPECT_EQ(t.fullEntries(), 2u);
  EXPECT_EQ(t.at(keyOf(mixed)).session, mixed);
  t.erase(keyOf(h));
  EXPECT_EQ(t.fullEntries(), 1u);
  // A record changes shape in place: compact IPv6 -> whole -> compact again.
  Session v6h = v6(1);
  v6h.helper = "ftp";
  t.replace(t.find(keyOf(v6(1))), v6h, 2, Millis{0});
  EXPECT_EQ(t.fullEntries(), 2u);
  EXPECT_EQ(t.at(keyOf(v6(1))).session, v6h);
  t.replace(t.find(keyOf(v6(1))), v6(1), 3, Millis{0});
  EXPECT_EQ(t.fullEntries(), 1u);
  EXPECT_EQ(t.at(keyOf(v6(1))).session, v6(1));
}

TEST(PeerTableTest, BehavesLikeAMap) {
  std::mt19937 rng(42);
  PeerTable t;
  std::map<SessionKey, PeerEntry> ref;
  for (int step = 0; step < 200000; ++step) {
    const uint32_t n = rng() % 5000;
    Session s = n % 97 == 0 ? v6(static_cast<uint16_t>(n)) : tcp(n);
    s.version = rng();
    const SessionKey key = keyOf(s);
    switch (rng() % 3) {
      case 0:
      case 1: {
        auto [it, inserted] = t.tryInsert(s, step, Millis{step});
        EXPECT_EQ(inserted, ref.count(key) == 0);
        if (inserted) {
          ref[key] = PeerEntry{s, static_cast<uint32_t>(step), Millis{step}};
        } else {
          EXPECT_EQ(it.version(), ref[key].session.version);
          t.replace(it, s, step, Millis{step});
          ref[key] = PeerEntry{s, static_cast<uint32_t>(step), Millis{step}};
        }
        break;
      }
      case 2:
        EXPECT_EQ(t.erase(key), ref.erase(key));
        break;
    }
  }
  ASSERT_EQ(t.size(), ref.size());
  size_t seen = 0;
  for (const auto& [k, e] : t) {
    ++seen;
    auto r = ref.find(k);
    ASSERT_NE(r, ref.end());
    EXPECT_EQ(e.session, r->second.session);
    EXPECT_EQ(e.generation, r->second.generation);
    EXPECT_EQ(e.received_at, r->second.received_at);
  }
  EXPECT_EQ(seen, ref.size());
  for (const auto& [k, e] : ref) EXPECT_EQ(t.count(k), 1u);
}

TEST(PeerTableTest, EraseIfWhileWalkingAndGenerations) {
  PeerTable t;
  for (uint32_t n = 0; n < 3000; ++n) t.tryInsert(tcp(n), n % 2, Millis{0});
  t.setGeneration(t.find(keyOf(tcp(1))), 0);
  EXPECT_EQ(t.eraseIf([](PeerTable::const_iterator it) { return it.generation() == 1; }), 1499u);
  EXPECT_EQ(t.size(), 1501u);
  for (uint32_t n = 0; n < 3000; ++n) {
    EXPECT_EQ(t.count(keyOf(tcp(n))), n % 2 == 0 || n == 1 ? 1u : 0u) << n;
  }
  t.resetGenerations();
  for (const auto& [k, e] : t) EXPECT_EQ(e.generation, 0u);
  EXPECT_THROW(t.at(keyOf(tcp(3))), std::out_of_range);
  t.clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.begin(), t.end());
  EXPECT_EQ(t.find(keyOf(tcp(1))), t.end());
}

TEST(PeerTableTest, ErasedRecordsAreReused) {
  PeerTable t;
  for (uint32_t n = 0; n < 10000; ++n) t.tryInsert(tcp(n), 0, Millis{0});
  const size_t used = t.bytesUsed();
  for (int round = 0; round < 5; ++round) {
    for (uint32_t n = 0; n < 10000; ++n) EXPECT_EQ(t.erase(keyOf(tcp(n + 10000u * round))), 1u);
    for (uint32_t n = 0; n < 10000; ++n) t.tryInsert(tcp(n + 10000u * (round + 1)), 0, Millis{0});
  }
  EXPECT_EQ(t.size(), 10000u);
  EXPECT_LE(t.bytesUsed(), used + 2 * 10000 * sizeof(uint32_t));  // plus the free list's capacity
}

// Issue 9's memory goal is 150 B per cached session; this is the table's own accounting (the
// benchmark measures the daemon's RSS).
TEST(PeerTableTest, HundredThousandIpv4SessionsTakeUnder150BytesEach) {
  PeerTable t;
  for (uint32_t n = 0; n < 100000; ++n) t.tryInsert(tcp(n), 0, Millis{0});
  EXPECT_EQ(t.size(), 100000u);
  EXPECT_LT(t.bytesUsed() / t.size(), 150u) << t.bytesUsed();
}

TEST(PeerTableTest, HundredThousandIpv6SessionsTakeUnder170BytesEach) {
  PeerTable t;
  for (uint32_t n = 0; n < 100000; ++n) {
    Session s = v6(static_cast<uint16_t>(n));
    s.orig.dst.bytes[15] = static_cast<uint8_t>(n >> 16);
    s.reply = invert(s.orig);
    t.tryInsert(s, 0, Millis{0});
  }
  EXPECT_EQ(t.size(), 100000u);
  EXPECT_EQ(t.fullEntries(), 0u);
  EXPECT_LT(t.bytesUsed() / t.size(), 170u) << t.bytesUsed();
}

}  // namespace
}  // namespace gwsync::syncd
