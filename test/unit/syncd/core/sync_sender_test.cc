// SyncSender on its own: the local table is a map the test edits, the peer is played by hand
// (Hellos and acks), and time is passed explicitly.
#include "syncd/core/sync_sender.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <vector>

#include "syncd/core/session.h"
#include "syncd/core/sync_messages.h"

namespace gwsync::syncd {

// Readable failure messages; static so other test files may define their own.
static void PrintTo(const Session& s, std::ostream* os) {
  *os << "zone=" << s.zone << " orig={" << toString(s.orig) << "} mark=" << s.mark
      << " version=" << s.version;
}

namespace {

using Kind = Item::Kind;

Session udp(uint16_t sport, uint32_t mark = 0) {
  Session s;
  s.orig.src = IpAddress::v4(10, 0, 0, 2);
  s.orig.dst = IpAddress::v4(198, 51, 100, 7);
  s.orig.proto = l4::kUdp;
  s.orig.src_port = sport;
  s.orig.dst_port = 53;
  s.reply = invert(s.orig);
  s.timeout = 30;
  s.mark = mark;
  s.owner = 1;
  return s;
}

constexpr uint64_t kEpoch = 5;
constexpr Millis kT0{100000};

// Every item of the frames, in order, with the sequence number the frames give it.
struct Sent {
  uint64_t seq;
  Item item;
};

std::vector<Sent> flatten(const std::vector<ItemsMsg>& frames) {
  std::vector<Sent> out;
  for (const ItemsMsg& f : frames) {
    for (size_t i = 0; i < f.items.size(); ++i) out.push_back({f.first_seq + i, f.items[i]});
  }
  return out;
}

std::vector<Kind> kinds(const std::vector<Sent>& sent) {
  std::vector<Kind> out;
  for (const Sent& s : sent) out.push_back(s.item.kind);
  return out;
}

class SyncSenderTest : public ::testing::Test {
 protected:
  SyncSender make(SyncSender::Options o = {}) {
    o.epoch = kEpoch;
    return SyncSender(
        o,
        [this](const SessionKey& k) -> const Session* {
          auto it = local_.find(k);
          return it == local_.end() ? nullptr : &it->second;
        },
        [this] {
          std::vector<SessionKey> keys;
          for (const auto& [k, s] : local_) keys.push_back(k);
          return keys;
        });
  }

  void put(const Session& s) { local_[keyOf(s)] = s; }
  void erase(const Session& s) { local_.erase(keyOf(s)); }

  // Starts a new stream, sends its bulk and has the peer acknowledge all of it.
  void startAndDrain(SyncSender& sender, Millis now = kT0) {
    sender.onPeerHello(0, 0, now);
    const auto sent = flatten(sender.poll(now));
    ASSERT_FALSE(sent.empty());
    sender.onAck(AckMsg{kEpoch, sent.back().seq}, now);
    ASSERT_TRUE(sender.idle());
  }

  std::map<SessionKey, Session> local_;
};

TEST_F(SyncSenderTest, NothingIsSentBeforeThePeersHelloDecidesTheStream) {
  put(udp(1000));
  SyncSender sender = make();
  sender.markChanged(keyOf(udp(1000)));
  sender.startBulk();
  EXPECT_TRUE(sender.poll(kT0).empty());
  EXPECT_TRUE(sender.poll(kT0 + Millis{10000}).empty());
  EXPECT_EQ(sender.windowSize(), 0u);
  EXPECT_EQ(sender.stats().items_sent, 0u);
}

TEST_F(SyncSenderTest, FirstHelloStartsANewStreamWithABulkOfEveryOwnedSession) {
  put(udp(1000));
  put(udp(1001));
  put(udp(1002));
  SyncSender sender = make();
  sender.onPeerHello(/*peer_knows_epoch=*/0, /*next_expected=*/0, kT0);
  const auto frames = sender.poll(kT0);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.front().epoch, kEpoch);
  EXPECT_EQ(frames.front().first_seq, 1u);

  const auto sent = flatten(frames);
  ASSERT_EQ(kinds(sent), (std::vector<Kind>{Kind::kBulkBegin, Kind::kUpsert, Kind::kUpsert,
                                            Kind::kUpsert, Kind::kBulkEnd}));
  EXPECT_TRUE(sent[0].item.stream_start);
  for (size_t i = 1; i < sent.size(); ++i) EXPECT_FALSE(sent[i].item.stream_start) << i;
  std::map<SessionKey, Session> upserted;
  for (size_t i = 1; i <= 3; ++i) upserted[keyOf(sent[i].item.session)] = sent[i].item.session;
  EXPECT_EQ(upserted, local_);
  EXPECT_EQ(sent[4].item.bulk_id, sent[0].item.bulk_id);
  EXPECT_EQ(sent[4].item.bulk_sessions, 3u);
  EXPECT_EQ(sender.stats().streams_started, 1u);
  EXPECT_EQ(sender.stats().bulks_completed, 1u);
  EXPECT_FALSE(sender.bulkInProgress());
}

TEST_F(SyncSenderTest, LaterHellosOnTheSameConnectionAreHeartbeatsOnly) {
  SyncSender sender = make();
  startAndDrain(sender);
  sender.onPeerHello(0, 0, kT0 + Millis{1000});
  EXPECT_TRUE(sender.poll(kT0 + Millis{1000}).empty());
  EXPECT_EQ(sender.stats().streams_started, 1u);
  EXPECT_EQ(sender.stats().bulks_started, 1u);
}

TEST_F(SyncSenderTest, ChangesToAWaitingSessionAreCoalescedIntoOneItemWithTheNewestState) {
  SyncSender sender = make();
  startAndDrain(sender);
  put(udp(1000, 1));
  sender.markChanged(keyOf(udp(1000)));
  put(udp(1000, 2));
  sender.markChanged(keyOf(udp(1000)));
  put(udp(1000, 3));
  sender.markChanged(keyOf(udp(1000)));
  EXPECT_EQ(sender.pendingSize(), 1u);
  EXPECT_EQ(sender.stats().coalesced, 2u);

  const auto sent = flatten(sender.poll(kT0));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].item.kind, Kind::kUpsert);
  EXPECT_EQ(sent[0].item.session, udp(1000, 3));
}

TEST_F(SyncSenderTest, AChangedSessionThatDisappearedGoesOutAsARemove) {
  SyncSender sender = make();
  startAndDrain(sender);
  Session s = udp(1000);
  s.zone = 7;
  put(s);
  sender.markChanged(keyOf(s));
  erase(s);

  const auto sent = flatten(sender.poll(kT0));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].item.kind, Kind::kRemove);
  EXPECT_EQ(keyOf(sent[0].item.session), keyOf(s));
}

TEST_F(SyncSenderTest, TheWindowNeverExceedsItsBoundAndNewItemsFlowAfterAnAck) {
  for (uint16_t p = 1000; p < 1010; ++p) put(udp(p));
  SyncSender sender = make({.window = 4});
  sender.onPeerHello(0, 0, kT0);

  auto sent = flatten(sender.poll(kT0));
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent.back().seq, 4u);
  EXPECT_EQ(sender.windowSize(), 4u);
  EXPECT_TRUE(sender.poll(kT0 + Millis{10}).empty());  // full: nothing new, nothing due yet
  EXPECT_EQ(sender.windowSize(), 4u);

  sender.onAck(AckMsg{kEpoch, 2}, kT0 + Millis{20});
  EXPECT_EQ(sender.windowSize(), 2u);
  sent = flatten(sender.poll(kT0 + Millis{20}));
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].seq, 5u);
  EXPECT_EQ(sent[1].seq, 6u);
  EXPECT_EQ(sender.windowSize(), 4u);
}

TEST_F(SyncSenderTest, AcksOfAnotherEpochOrBeyondTheNextSequenceAreStaleAndIgnored) {
  put(udp(1000));
  SyncSender sender = make();
  sender.onPeerHello(0, 0, kT0);
  ASSERT_EQ(flatten(sender.poll(kT0)).size(), 3u);  // BulkBegin, upsert, BulkEnd: seq 1..3
  ASSERT_EQ(sender.nextSeq(), 4u);

  sender.onAck(AckMsg{kEpoch + 1, 3}, kT0);
  sender.onAck(AckMsg{kEpoch - 1, 3}, kT0);
  sender.onAck(AckMsg{kEpoch, 4}, kT0);
  EXPECT_EQ(sender.stats().stale_acks, 3u);
  EXPECT_EQ(sender.stats().acked, 0u);
  EXPECT_EQ(sender.windowSize(), 3u);

  sender.onAck(AckMsg{kEpoch, 3}, kT0);
  EXPECT_EQ(sender.stats().stale_acks, 3u);
  EXPECT_EQ(sender.stats().acked, 3u);
  EXPECT_EQ(sender.windowSize(), 0u);
}

TEST_F(SyncSenderTest, RetransmitsExactlyTheUnackedItemsWithTheirSequenceNumbersAfterTheTimeout) {
  for (uint16_t p = 1000; p < 1003; ++p) put(udp(p));
  SyncSender sender = make({.retransmit = Millis{1000}});
  sender.onPeerHello(0, 0, kT0);
  const auto first = flatten(sender.poll(kT0));
  ASSERT_EQ(first.size(), 5u);  // seq 1..5

  sender.onAck(AckMsg{kEpoch, 2}, kT0 + Millis{500});
  EXPECT_TRUE(sender.poll(kT0 + Millis{1499}).empty());  // progress at 500 restarted the timer

  const auto again = flatten(sender.poll(kT0 + Millis{1500}));
  ASSERT_EQ(again.size(), 3u);
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].seq, first[i + 2].seq);
    EXPECT_EQ(again[i].item, first[i + 2].item);
  }
  EXPECT_EQ(sender.stats().items_resent, 3u);
  EXPECT_EQ(sender.nextSeq(), 6u);  // nothing new was numbered

  EXPECT_TRUE(sender.poll(kT0 + Millis{1500}).empty());  // and the timer restarted
}

TEST_F(SyncSenderTest, ResumesFromNextExpectedAfterAReconnectWithoutANewBulk) {
  for (uint16_t p = 1000; p < 1003; ++p) put(udp(p));
  SyncSender sender = make();
  sender.onPeerHello(0, 0, kT0);
  const auto first = flatten(sender.poll(kT0));
  ASSERT_EQ(first.size(), 5u);
  sender.onAck(AckMsg{kEpoch, 2}, kT0);

  sender.onDisconnected();
  EXPECT_TRUE(sender.poll(kT0 + Millis{5000}).empty());
  // The peer got up to seq 3 before the connection broke, though its ack never arrived.
  sender.onPeerHello(kEpoch, 4, kT0 + Millis{6000});
  const auto resent = flatten(sender.poll(kT0 + Millis{6000}));
  ASSERT_EQ(resent.size(), 2u);
  EXPECT_EQ(resent[0].seq, 4u);
  EXPECT_EQ(resent[0].item, first[3].item);
  EXPECT_EQ(resent[1].seq, 5u);
  EXPECT_EQ(resent[1].item, first[4].item);
  EXPECT_EQ(sender.windowSize(), 2u);
  EXPECT_EQ(sender.stats().resumes, 1u);
  EXPECT_EQ(sender.stats().streams_started, 1u);
  EXPECT_EQ(sender.stats().bulks_started, 1u);
  EXPECT_FALSE(sender.bulkInProgress());
}

TEST_F(SyncSenderTest, AHelloOlderThanTheWindowStartsANewStreamWithABulk) {
  for (uint16_t p = 1000; p < 1003; ++p) put(udp(p));
  SyncSender sender = make();
  sender.onPeerHello(0, 0, kT0);
  ASSERT_EQ(flatten(sender.poll(kT0)).size(), 5u);
  sender.onAck(AckMsg{kEpoch, 3}, kT0);  // the window now starts at seq 4

  sender.onDisconnected();
  sender.onPeerHello(kEpoch, 2, kT0 + Millis{1000});
  const auto sent = flatten(sender.poll(kT0 + Millis{1000}));
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[0].seq, 6u);  // numbering goes on; the stream_start flag marks the restart
  EXPECT_EQ(sent[0].item.kind, Kind::kBulkBegin);
  EXPECT_TRUE(sent[0].item.stream_start);
  EXPECT_EQ(sent[4].item.kind, Kind::kBulkEnd);
  EXPECT_EQ(sent[4].item.bulk_sessions, 3u);
  EXPECT_EQ(sender.windowSize(), 5u);  // the old stream's items are gone
  EXPECT_EQ(sender.stats().streams_started, 2u);
  EXPECT_EQ(sender.stats().resumes, 0u);
}

TEST_F(SyncSenderTest, PendingOverflowClearsThePendingSetAndStartsABulk) {
  SyncSender sender = make({.max_pending = 3});
  startAndDrain(sender);
  for (uint16_t p = 1000; p < 1004; ++p) {
    put(udp(p));
    sender.markChanged(keyOf(udp(p)));
  }
  EXPECT_EQ(sender.stats().overflow_resyncs, 1u);
  EXPECT_EQ(sender.pendingSize(), 0u);
  EXPECT_TRUE(sender.bulkInProgress());

  // Nothing was dropped: the bulk carries every session.
  const auto sent = flatten(sender.poll(kT0));
  ASSERT_EQ(kinds(sent), (std::vector<Kind>{Kind::kBulkBegin, Kind::kUpsert, Kind::kUpsert,
                                            Kind::kUpsert, Kind::kUpsert, Kind::kBulkEnd}));
  std::map<SessionKey, Session> upserted;
  for (size_t i = 1; i <= 4; ++i) upserted[keyOf(sent[i].item.session)] = sent[i].item.session;
  EXPECT_EQ(upserted, local_);
  EXPECT_EQ(sent[5].item.bulk_sessions, 4u);
  EXPECT_FALSE(sent[0].item.stream_start);  // same stream, only a bulk
}

TEST_F(SyncSenderTest, FramesNeverHoldMoreThanMaxItemsPerFrame) {
  for (uint16_t p = 1000; p < 1010; ++p) put(udp(p));
  SyncSender sender = make({.max_items_per_frame = 3, .retransmit = Millis{1000}});
  sender.onPeerHello(0, 0, kT0);

  for (const Millis now : {kT0, kT0 + Millis{1000}}) {  // first transmission, then retransmission
    const auto frames = sender.poll(now);
    ASSERT_EQ(frames.size(), 4u) << now.count();  // 12 items
    uint64_t next = 1;
    for (const ItemsMsg& f : frames) {
      EXPECT_LE(f.items.size(), 3u);
      EXPECT_EQ(f.first_seq, next);
      next += f.items.size();
    }
    EXPECT_EQ(next, 13u);
  }
}

TEST_F(SyncSenderTest, MaxItemsPerPollSendsABulkInTurnsWithoutGapsOrRepeats) {
  for (uint16_t p = 1000; p < 1010; ++p) put(udp(p));
  SyncSender sender = make({.max_items_per_frame = 3, .max_items_per_poll = 4});
  sender.onPeerHello(0, 0, kT0);
  std::vector<Sent> all;
  int polls = 0;
  do {
    const auto sent = flatten(sender.poll(kT0));
    EXPECT_LE(sent.size(), 4u);
    all.insert(all.end(), sent.begin(), sent.end());
    ++polls;
  } while (sender.morePending() && polls < 100);
  // BulkBegin + 10 upserts + BulkEnd = 12 items, 4 per poll; the poll that reached the limit
  // with the last item cannot tell, so one more finds nothing.
  EXPECT_EQ(polls, 4);
  ASSERT_EQ(all.size(), 12u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].seq, i + 1);
  EXPECT_EQ(all.front().item.kind, Kind::kBulkBegin);
  EXPECT_EQ(all.back().item.kind, Kind::kBulkEnd);
  EXPECT_FALSE(sender.morePending());
  EXPECT_TRUE(flatten(sender.poll(kT0)).empty());
}

TEST_F(SyncSenderTest, BulkEndIsNotSentWhileChangedSessionsArePending) {
  put(udp(1000));
  put(udp(1001));
  SyncSender sender = make({.window = 3});
  sender.onPeerHello(0, 0, kT0);
  ASSERT_EQ(kinds(flatten(sender.poll(kT0))),
            (std::vector<Kind>{Kind::kBulkBegin, Kind::kUpsert, Kind::kUpsert}));
  for (uint16_t p = 1002; p < 1005; ++p) {
    put(udp(p));
    sender.markChanged(keyOf(udp(p)));
  }

  sender.onAck(AckMsg{kEpoch, 3}, kT0);
  EXPECT_EQ(kinds(flatten(sender.poll(kT0))),
            (std::vector<Kind>{Kind::kUpsert, Kind::kUpsert, Kind::kUpsert}));
  EXPECT_TRUE(sender.bulkInProgress());

  sender.onAck(AckMsg{kEpoch, 6}, kT0);
  const auto sent = flatten(sender.poll(kT0));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].item.kind, Kind::kBulkEnd);
  EXPECT_EQ(sent[0].item.bulk_sessions, 5u);  // the changes after BulkBegin count as the bulk's
}

TEST_F(SyncSenderTest, ForgetDropsAPendingChange) {
  SyncSender sender = make();
  startAndDrain(sender);
  put(udp(1000));
  put(udp(1001));
  sender.markChanged(keyOf(udp(1000)));
  sender.markChanged(keyOf(udp(1001)));
  sender.forget(keyOf(udp(1000)));
  EXPECT_EQ(sender.pendingSize(), 1u);

  const auto sent = flatten(sender.poll(kT0));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].item.session, udp(1001));
}

}  // namespace
}  // namespace gwsync::syncd
