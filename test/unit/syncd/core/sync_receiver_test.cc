// SyncReceiver on its own: frames built by hand, one rule per test.
#include "syncd/core/sync_receiver.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <set>
#include <vector>

#include "syncd/core/session.h"
#include "syncd/core/sync_messages.h"

namespace gwsync::syncd {

// Readable failure messages; static so other test files may define their own.
static void PrintTo(const Session& s, std::ostream* os) {
  *os << "zone=" << s.zone << " orig={" << toString(s.orig) << "} mark=" << s.mark
      << " owner=" << s.owner << " version=" << s.version;
}

namespace {

using Kind = Item::Kind;
using Change = KernelChange::Kind;

constexpr uint64_t kEpoch = 3;
constexpr uint32_t kPeer = 2;
constexpr Millis kT0{100000};

Session udp(uint16_t sport, uint64_t version = 1, uint32_t owner = kPeer) {
  Session s;
  s.orig.src = IpAddress::v4(10, 0, 0, 2);
  s.orig.dst = IpAddress::v4(198, 51, 100, 7);
  s.orig.proto = l4::kUdp;
  s.orig.src_port = sport;
  s.orig.dst_port = 53;
  s.reply = invert(s.orig);
  s.timeout = 30;
  s.owner = owner;
  s.version = version;
  return s;
}

Item upsert(const Session& s) { return Item{.kind = Kind::kUpsert, .session = s}; }
Item remove(const Session& s) {
  Item item{.kind = Kind::kRemove};
  item.session.zone = s.zone;
  item.session.orig = s.orig;
  return item;
}
Item bulkBegin(uint64_t id) { return Item{.kind = Kind::kBulkBegin, .bulk_id = id}; }
Item bulkEnd(uint64_t id, uint64_t sessions) {
  return Item{.kind = Kind::kBulkEnd, .bulk_id = id, .bulk_sessions = sessions};
}
Item started(Item item) {
  item.stream_start = true;
  return item;
}

ItemsMsg frame(uint64_t first_seq, std::vector<Item> items, uint64_t epoch = kEpoch) {
  return ItemsMsg{epoch, first_seq, std::move(items)};
}

std::set<SessionKey> keysOf(const SyncReceiver::Table& t) {
  std::set<SessionKey> out;
  for (const auto& [k, e] : t) out.insert(k);
  return out;
}

class SyncReceiverTest : public ::testing::Test {
 protected:
  std::vector<KernelChange> feed(const ItemsMsg& msg, Millis now = kT0) {
    std::vector<KernelChange> out;
    receiver_.onItems(msg, now, out);
    return out;
  }

  SyncReceiver receiver_{nullptr};
};

TEST_F(SyncReceiverTest, ItemsBeforeAnyStreamStartAreNotApplied) {
  const auto out = feed(frame(5, {upsert(udp(1000)), upsert(udp(1001))}));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(receiver_.table().empty());
  EXPECT_EQ(receiver_.stats().no_stream, 2u);
  EXPECT_EQ(receiver_.stats().items_applied, 0u);
  EXPECT_EQ(receiver_.nextExpected(), 0u);
  EXPECT_FALSE(receiver_.takeAck().has_value());  // nothing to acknowledge yet
}

TEST_F(SyncReceiverTest, InOrderItemsAreApplied) {
  feed(frame(10, {started(upsert(udp(1000))), upsert(udp(1001))}));
  feed(frame(12, {upsert(udp(1002))}));
  EXPECT_EQ(keysOf(receiver_.table()),
            (std::set{keyOf(udp(1000)), keyOf(udp(1001)), keyOf(udp(1002))}));
  EXPECT_EQ(receiver_.stats().items_applied, 3u);
  EXPECT_EQ(receiver_.nextExpected(), 13u);
}

TEST_F(SyncReceiverTest, DuplicateItemsAreSkipped) {
  feed(frame(1, {started(upsert(udp(1000))), upsert(udp(1001))}));
  // A retransmission of seq 2 with content that must not be taken, plus the new seq 3.
  const auto out = feed(frame(2, {upsert(udp(1001, 99)), upsert(udp(1002))}));
  EXPECT_EQ(receiver_.stats().duplicates, 1u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].session, udp(1002));
  EXPECT_EQ(receiver_.table().at(keyOf(udp(1001))).session.version, 1u);
  EXPECT_EQ(receiver_.nextExpected(), 4u);
}

TEST_F(SyncReceiverTest, AGapStopsTheFrameAndTheAckStaysAtTheLastApplied) {
  feed(frame(1, {started(upsert(udp(1000))), upsert(udp(1001))}));
  ASSERT_EQ(receiver_.takeAck(), (AckMsg{kEpoch, 2}));

  const auto out = feed(frame(4, {upsert(udp(1003)), upsert(udp(1004))}));  // seq 3 is missing
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(receiver_.stats().gaps, 1u);
  EXPECT_EQ(receiver_.table().size(), 2u);
  EXPECT_EQ(receiver_.nextExpected(), 3u);
  EXPECT_EQ(receiver_.takeAck(), (AckMsg{kEpoch, 2}));  // tells the sender where to go back to
}

TEST_F(SyncReceiverTest, TakeAckReturnsTheCumulativeAckOncePerBatchOfFrames) {
  feed(frame(1, {started(upsert(udp(1000)))}));
  feed(frame(2, {upsert(udp(1001)), upsert(udp(1002))}));
  EXPECT_EQ(receiver_.takeAck(), (AckMsg{kEpoch, 3}));
  EXPECT_FALSE(receiver_.takeAck().has_value());

  feed(frame(4, {upsert(udp(1003))}));
  EXPECT_EQ(receiver_.takeAck(), (AckMsg{kEpoch, 4}));
  EXPECT_FALSE(receiver_.takeAck().has_value());
}

TEST_F(SyncReceiverTest, AHelloOfTheCurrentEpochKeepsTheStream) {
  receiver_.onHello(HelloMsg{.node_id = kPeer, .epoch = kEpoch});
  feed(frame(1, {started(upsert(udp(1000)))}));
  receiver_.onHello(HelloMsg{.node_id = kPeer, .epoch = kEpoch});
  EXPECT_EQ(receiver_.peerEpoch(), kEpoch);
  EXPECT_EQ(receiver_.nextExpected(), 2u);
  EXPECT_EQ(receiver_.stats().peer_restarts, 0u);
}

TEST_F(SyncReceiverTest, ANewerEpochInAHelloResetsTheStreamAndMarksEverythingForPurge) {
  receiver_.onHello(HelloMsg{.node_id = kPeer, .epoch = kEpoch});
  feed(frame(1, {started(bulkBegin(1)), upsert(udp(1000)), upsert(udp(1001)), bulkEnd(1, 2),
                 upsert(udp(1002))}));
  ASSERT_EQ(receiver_.table().size(), 3u);

  receiver_.onHello(HelloMsg{.node_id = kPeer, .epoch = kEpoch + 1});
  EXPECT_EQ(receiver_.peerEpoch(), kEpoch + 1);
  EXPECT_EQ(receiver_.nextExpected(), 0u);
  EXPECT_EQ(receiver_.stats().peer_restarts, 1u);
  EXPECT_EQ(receiver_.table().size(), 3u);  // kept until the new stream's bulk ends

  // The restarted peer's stream begins at 1 again and its bulk names only one session.
  const auto out =
      feed(frame(1, {started(bulkBegin(1)), upsert(udp(1001, 1)), bulkEnd(1, 1)}, kEpoch + 1));
  EXPECT_EQ(keysOf(receiver_.table()), std::set{keyOf(udp(1001))});
  std::set<SessionKey> removed;
  for (const KernelChange& c : out) {
    if (c.kind == Change::kRemove) removed.insert(keyOf(c.session));
  }
  EXPECT_EQ(removed, (std::set{keyOf(udp(1000)), keyOf(udp(1002))}));
}

TEST_F(SyncReceiverTest, FramesOfAnOlderEpochAreIgnored) {
  receiver_.onHello(HelloMsg{.node_id = kPeer, .epoch = kEpoch});
  feed(frame(1, {started(upsert(udp(1000)))}));
  ASSERT_TRUE(receiver_.takeAck().has_value());

  const auto out = feed(frame(2, {upsert(udp(1001))}, kEpoch - 1));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(receiver_.stats().stale_epoch, 1u);
  EXPECT_EQ(receiver_.table().size(), 1u);
  EXPECT_EQ(receiver_.nextExpected(), 2u);
  EXPECT_FALSE(receiver_.takeAck().has_value());
}

TEST_F(SyncReceiverTest, BulkEndPurgesExactlyTheEntriesTheBulkDidNotMention) {
  feed(frame(
      1, {started(upsert(udp(1000))), upsert(udp(1001)), upsert(udp(1002)), upsert(udp(1003))}));
  const auto out =
      feed(frame(5, {bulkBegin(7), upsert(udp(1000, 2)), upsert(udp(1002, 2)), bulkEnd(7, 2)}));

  EXPECT_EQ(keysOf(receiver_.table()), (std::set{keyOf(udp(1000)), keyOf(udp(1002))}));
  std::set<SessionKey> removed;
  for (const KernelChange& c : out) {
    if (c.kind == Change::kRemove) removed.insert(keyOf(c.session));
  }
  EXPECT_EQ(removed, (std::set{keyOf(udp(1001)), keyOf(udp(1003))}));
  EXPECT_EQ(receiver_.stats().purged, 2u);
  EXPECT_EQ(receiver_.stats().bulks_received, 1u);
}

TEST_F(SyncReceiverTest, AStaleUpsertInsideABulkStillCountsAsMentioned) {
  feed(frame(1, {started(upsert(udp(1000, 5)))}));
  const auto out = feed(frame(2, {bulkBegin(1), upsert(udp(1000, 4)), bulkEnd(1, 1)}));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(receiver_.table().size(), 1u);
  EXPECT_EQ(receiver_.stats().purged, 0u);
}

TEST_F(SyncReceiverTest, ABulkEndWithoutItsBulkBeginIsCountedAndPurgesNothing) {
  feed(frame(1, {started(upsert(udp(1000))), upsert(udp(1001))}));
  const auto out = feed(frame(3, {bulkEnd(4, 0)}));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(receiver_.stats().bulk_mismatches, 1u);
  EXPECT_EQ(receiver_.stats().bulks_received, 0u);
  EXPECT_EQ(receiver_.table().size(), 2u);
}

TEST_F(SyncReceiverTest, ABulkEndOfAnotherBulkIsCountedAndPurgesNothing) {
  feed(frame(1, {started(upsert(udp(1000))), bulkBegin(4)}));
  const auto out = feed(frame(3, {bulkEnd(3, 0)}));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(receiver_.stats().bulk_mismatches, 1u);
  EXPECT_EQ(receiver_.table().size(), 1u);
}

TEST_F(SyncReceiverTest, AnUpsertOfAnUnknownKeyYieldsACreate) {
  const auto out = feed(frame(1, {started(upsert(udp(1000)))}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Change::kCreate);
  EXPECT_EQ(out[0].origin, KernelChange::Origin::kPeer);
  EXPECT_EQ(out[0].session, udp(1000));
  EXPECT_EQ(receiver_.table().at(keyOf(udp(1000))).received_at, kT0);
}

TEST_F(SyncReceiverTest, AnUpsertOfAKnownKeyYieldsAnUpdate) {
  feed(frame(1, {started(upsert(udp(1000, 1)))}));
  Session newer = udp(1000, 2);
  newer.mark = 42;
  const auto out = feed(frame(2, {upsert(newer)}), kT0 + Millis{500});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Change::kUpdate);
  EXPECT_EQ(out[0].session, newer);
  EXPECT_EQ(receiver_.table().at(keyOf(newer)).session, newer);
  EXPECT_EQ(receiver_.table().at(keyOf(newer)).received_at, kT0 + Millis{500});
}

TEST_F(SyncReceiverTest, ARemoveYieldsARemoveOnlyWhenTheKeyIsKnown) {
  const auto unknown = feed(frame(1, {started(remove(udp(1000)))}));
  EXPECT_TRUE(unknown.empty());

  feed(frame(2, {upsert(udp(1001))}));
  const auto known = feed(frame(3, {remove(udp(1001))}));
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known[0].kind, Change::kRemove);
  EXPECT_EQ(keyOf(known[0].session), keyOf(udp(1001)));
  EXPECT_TRUE(receiver_.table().empty());
}

TEST_F(SyncReceiverTest, AnUpsertWithALowerVersionFromTheSameOwnerIsStaleAndNotApplied) {
  feed(frame(1, {started(upsert(udp(1000, 5)))}));
  Session older = udp(1000, 4);
  older.mark = 9;
  const auto out = feed(frame(2, {upsert(older)}));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(receiver_.stats().stale_versions, 1u);
  EXPECT_EQ(receiver_.table().at(keyOf(older)).session, udp(1000, 5));
  EXPECT_EQ(receiver_.nextExpected(), 3u);  // consumed all the same: it is not resent
}

TEST_F(SyncReceiverTest, AnUpsertWithALowerVersionFromAnotherOwnerIsApplied) {
  // Versions of different owners are not comparable: the flow moved.
  feed(frame(1, {started(upsert(udp(1000, 5, kPeer)))}));
  const auto out = feed(frame(2, {upsert(udp(1000, 1, kPeer + 1))}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Change::kUpdate);
  EXPECT_EQ(receiver_.table().at(keyOf(udp(1000))).session.owner, kPeer + 1);
}

TEST(SyncReceiverClaimTest, AClaimReturningFalseIgnoresTheUpsert) {
  std::vector<SessionKey> asked;
  SyncReceiver receiver([&](const SessionKey& k) {
    asked.push_back(k);
    return false;
  });
  std::vector<KernelChange> out;
  receiver.onItems(frame(1, {started(upsert(udp(1000)))}), kT0, out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(receiver.table().empty());
  EXPECT_EQ(receiver.stats().claims_refused, 1u);
  EXPECT_EQ(asked, std::vector{keyOf(udp(1000))});
  EXPECT_EQ(receiver.nextExpected(), 2u);  // the item was consumed, only not taken
}

}  // namespace
}  // namespace gwsync::syncd
