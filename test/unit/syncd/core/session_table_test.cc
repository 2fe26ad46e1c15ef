#include "syncd/core/session_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <set>
#include <utility>

#include "syncd/core/session.h"

namespace gwsync::syncd {

// Readable failure messages; static so other test files may define their own.
static void PrintTo(const Session& s, std::ostream* os) {
  *os << "zone=" << s.zone << " orig={" << toString(s.orig) << "} reply={" << toString(s.reply)
      << "} version=" << s.version;
}

namespace {

Session udpSession(uint16_t sport, uint16_t zone = 0) {
  Session s;
  s.zone = zone;
  s.orig.src = IpAddress::v4(10, 0, 0, 2);
  s.orig.dst = IpAddress::v4(198, 51, 100, 7);
  s.orig.proto = l4::kUdp;
  s.orig.src_port = sport;
  s.orig.dst_port = 53;
  s.reply = invert(s.orig);
  s.timeout = 30;
  return s;
}

TEST(SessionTableTest, StartsEmpty) {
  SessionTable t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.find(keyOf(udpSession(1000))), nullptr);
}

TEST(SessionTableTest, UpsertInsertsThenReportsUnchanged) {
  SessionTable t;
  const Session s = udpSession(1000);
  EXPECT_EQ(t.upsert(s), UpsertOutcome::kInserted);
  EXPECT_EQ(t.upsert(s), UpsertOutcome::kUnchanged);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(t.empty());
}

TEST(SessionTableTest, UpsertUpdatesAnyFieldChange) {
  SessionTable t;
  Session s = udpSession(1000);
  ASSERT_EQ(t.upsert(s), UpsertOutcome::kInserted);

  s.timeout = 120;
  EXPECT_EQ(t.upsert(s), UpsertOutcome::kUpdated);
  s.reply.dst = IpAddress::v4(203, 0, 113, 1);  // NAT appeared: same key, new reply
  EXPECT_EQ(t.upsert(s), UpsertOutcome::kUpdated);
  s.version = 2;
  EXPECT_EQ(t.upsert(s), UpsertOutcome::kUpdated);
  EXPECT_EQ(t.upsert(s), UpsertOutcome::kUnchanged);

  EXPECT_EQ(t.size(), 1u);
  const Session* found = t.find(keyOf(s));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(*found, s);
}

TEST(SessionTableTest, FindReturnsStoredSession) {
  SessionTable t;
  const Session a = udpSession(1000);
  const Session b = udpSession(1001);
  ASSERT_EQ(t.upsert(a), UpsertOutcome::kInserted);
  ASSERT_EQ(t.upsert(b), UpsertOutcome::kInserted);
  const Session* fa = t.find(keyOf(a));
  const Session* fb = t.find(keyOf(b));
  ASSERT_NE(fa, nullptr);
  ASSERT_NE(fb, nullptr);
  EXPECT_EQ(*fa, a);
  EXPECT_EQ(*fb, b);
  EXPECT_EQ(t.find(keyOf(udpSession(1002))), nullptr);
}

TEST(SessionTableTest, EraseRemovesOnce) {
  SessionTable t;
  const Session a = udpSession(1000);
  const Session b = udpSession(1001);
  ASSERT_EQ(t.upsert(a), UpsertOutcome::kInserted);
  ASSERT_EQ(t.upsert(b), UpsertOutcome::kInserted);
  EXPECT_TRUE(t.erase(keyOf(a)));
  EXPECT_FALSE(t.erase(keyOf(a)));
  EXPECT_EQ(t.find(keyOf(a)), nullptr);
  EXPECT_NE(t.find(keyOf(b)), nullptr);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(t.erase(keyOf(udpSession(4242))));
}

TEST(SessionTableTest, ZoneIsPartOfTheKey) {
  SessionTable t;
  const Session z0 = udpSession(1000, 0);
  Session z1 = udpSession(1000, 1);
  z1.mark = 9;
  EXPECT_EQ(t.upsert(z0), UpsertOutcome::kInserted);
  EXPECT_EQ(t.upsert(z1), UpsertOutcome::kInserted);
  EXPECT_EQ(t.size(), 2u);
  ASSERT_NE(t.find(keyOf(z0)), nullptr);
  ASSERT_NE(t.find(keyOf(z1)), nullptr);
  EXPECT_EQ(t.find(keyOf(z0))->mark, 0u);
  EXPECT_EQ(t.find(keyOf(z1))->mark, 9u);
  EXPECT_TRUE(t.erase(keyOf(z0)));
  EXPECT_NE(t.find(keyOf(z1)), nullptr);
}

TEST(SessionTableTest, ForEachVisitsEverySessionOnce) {
  SessionTable t;
  std::set<std::pair<uint16_t, uint16_t>> want;  // (zone, source port)
  for (uint16_t zone = 0; zone < 3; ++zone) {
    for (uint16_t port = 1000; port < 1050; ++port) {
      ASSERT_EQ(t.upsert(udpSession(port, zone)), UpsertOutcome::kInserted);
      want.emplace(zone, port);
    }
  }
  std::set<std::pair<uint16_t, uint16_t>> seen;
  size_t visits = 0;
  t.forEach([&](const Session& s) {
    ++visits;
    seen.emplace(s.zone, s.orig.src_port);
  });
  EXPECT_EQ(visits, want.size());
  EXPECT_EQ(seen, want);
}

TEST(SessionTableTest, ForEachOnEmptyTableVisitsNothing) {
  SessionTable t;
  int visits = 0;
  t.forEach([&](const Session&) { ++visits; });
  EXPECT_EQ(visits, 0);
}

TEST(SessionTableTest, ClearEmpties) {
  SessionTable t;
  ASSERT_EQ(t.upsert(udpSession(1000)), UpsertOutcome::kInserted);
  t.clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.find(keyOf(udpSession(1000))), nullptr);
}

TEST(SessionTableTest, EqualityIgnoresInsertionOrder) {
  SessionTable a;
  SessionTable b;
  for (uint16_t port = 1000; port < 1100; ++port) {
    ASSERT_EQ(a.upsert(udpSession(port)), UpsertOutcome::kInserted);
  }
  for (uint16_t port = 1099; port >= 1000; --port) {
    ASSERT_EQ(b.upsert(udpSession(port)), UpsertOutcome::kInserted);
  }
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(SessionTable{} == SessionTable{});
}

TEST(SessionTableTest, EqualitySeesValueAndMembershipDifferences) {
  SessionTable a;
  SessionTable b;
  ASSERT_EQ(a.upsert(udpSession(1000)), UpsertOutcome::kInserted);
  ASSERT_EQ(b.upsert(udpSession(1000)), UpsertOutcome::kInserted);
  ASSERT_TRUE(a == b);

  Session changed = udpSession(1000);
  changed.version = 5;
  ASSERT_EQ(b.upsert(changed), UpsertOutcome::kUpdated);
  EXPECT_FALSE(a == b);

  ASSERT_EQ(b.upsert(udpSession(1000)), UpsertOutcome::kUpdated);
  ASSERT_TRUE(a == b);
  ASSERT_EQ(b.upsert(udpSession(1001)), UpsertOutcome::kInserted);
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(b == a);
}

}  // namespace
}  // namespace gwsync::syncd
