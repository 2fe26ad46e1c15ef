#include "syncd/core/tcp_liberal.h"

#include <gtest/gtest.h>

#include <vector>

namespace gwsync::syncd {
namespace {

Session tcpSession(uint8_t flags_orig, uint8_t flags_reply) {
  Session s;
  s.orig = {.src = IpAddress::v4(192, 0, 2, 10), .dst = IpAddress::v4(203, 0, 113, 10),
            .proto = l4::kTcp, .src_port = 40000, .dst_port = 443};
  s.reply = invert(s.orig);
  s.tcp = TcpInfo{.state = 3, .flags_orig = flags_orig, .flags_reply = flags_reply};
  return s;
}

TEST(TcpLiberal, SetsTheFlagInBothDirectionsAndKeepsTheOthers) {
  Session s = tcpSession(0x01 | 0x02, 0x04);  // window scale + SACK / close-init
  EXPECT_FALSE(isBeLiberal(s));
  EXPECT_TRUE(markBeLiberal(s));
  EXPECT_EQ(s.tcp->flags_orig, 0x01 | 0x02 | 0x08);
  EXPECT_EQ(s.tcp->flags_reply, 0x04 | 0x08);
  EXPECT_TRUE(isBeLiberal(s));
  EXPECT_EQ(s.tcp->state, 3);
}

TEST(TcpLiberal, AlreadyLiberalIsNoChange) {
  Session s = tcpSession(0x08, 0x08);
  const Session before = s;
  EXPECT_FALSE(markBeLiberal(s));
  EXPECT_EQ(s, before);
}

TEST(TcpLiberal, OneSidedFlagIsCompleted) {
  Session s = tcpSession(0x08, 0x00);
  EXPECT_FALSE(isBeLiberal(s));
  EXPECT_TRUE(markBeLiberal(s));
  EXPECT_EQ(s.tcp->flags_reply, 0x08);
}

TEST(TcpLiberal, SessionsWithoutTcpStateAreLeftAlone) {
  Session udp = tcpSession(0, 0);
  udp.orig.proto = udp.reply.proto = l4::kUdp;
  udp.tcp.reset();
  const Session before = udp;
  EXPECT_FALSE(markBeLiberal(udp));
  EXPECT_FALSE(isBeLiberal(udp));
  EXPECT_EQ(udp, before);
}

TEST(TcpLiberal, CountsTheSessionsItChanged) {
  std::vector<Session> all{tcpSession(0, 0), tcpSession(0x08, 0x08), tcpSession(0x01, 0)};
  all.push_back(all[0]);
  all.back().tcp.reset();
  EXPECT_EQ(markBeLiberal(std::span(all)), 2u);
  EXPECT_TRUE(isBeLiberal(all[0]));
  EXPECT_TRUE(isBeLiberal(all[2]));
  EXPECT_FALSE(all[3].tcp.has_value());
}

}  // namespace
}  // namespace gwsync::syncd
