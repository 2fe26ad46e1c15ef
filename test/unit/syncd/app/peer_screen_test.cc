#include "syncd/app/peer_screen.h"

#include <gtest/gtest.h>

#include <vector>

namespace gwsync::syncd {
namespace {

constexpr uint32_t kPeer = 2;

Session udp(uint8_t last_octet, uint16_t port = 40000) {
  Session s;
  s.orig = {.src = IpAddress::v4(192, 0, 2, last_octet),
            .dst = IpAddress::v4(203, 0, 113, 10),
            .proto = l4::kUdp,
            .src_port = port,
            .dst_port = 53};
  s.reply = invert(s.orig);
  s.status = status::kConfirmed;
  s.timeout = 30;
  s.owner = kPeer;
  return s;
}

Item upsert(Session s) { return Item{.kind = Item::Kind::kUpsert, .session = std::move(s)}; }
Item remove(Session s) { return Item{.kind = Item::Kind::kRemove, .session = std::move(s)}; }

// The screen in front of a real receiver, as the daemon runs them.
class PeerScreenTest : public ::testing::Test {
 protected:
  PeerScreenTest() { filter_.include = {parsePrefix("192.0.2.0/25").value()}; }

  PeerScreen makeScreen(size_t max_sessions) {
    return PeerScreen({.max_sessions = max_sessions, .resync_interval = Millis{60000}});
  }
  // Screens and applies one frame; returns the kernel changes.
  std::vector<KernelChange> deliver(PeerScreen& screen, ItemsMsg m) {
    screen.screen(
        m, {.peer_id = kPeer, .filter = &filter_}, view(),
        [this](PeerReject r, const PeerVerdict&, const Session&) { rejected_.push_back(r); });
    std::vector<KernelChange> out;
    receiver_.onItems(m, Millis{0}, out);
    return out;
  }
  PeerScreen::ReceiverView view() const {
    return {.peer_epoch = receiver_.peerEpoch(),
            .next_expected = receiver_.nextExpected(),
            .table = &receiver_.table()};
  }
  ItemsMsg frame(std::vector<Item> items, bool start = false) {
    ItemsMsg m{.epoch = 5, .first_seq = next_seq_, .items = std::move(items)};
    if (start && !m.items.empty()) m.items.front().stream_start = true;
    next_seq_ += m.items.size();
    return m;
  }

  SessionFilter filter_;
  SyncReceiver receiver_{nullptr};
  std::vector<PeerReject> rejected_;
  uint64_t next_seq_ = 1;
};

TEST_F(PeerScreenTest, RefusedUpsertNeverReachesTheTableOrTheKernel) {
  PeerScreen screen = makeScreen(100);
  const auto out =
      deliver(screen, frame({upsert(udp(10)), upsert(udp(200)), upsert(udp(11))}, true));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, KernelChange::Kind::kCreate);
  EXPECT_EQ(out[1].session, udp(11));
  EXPECT_EQ(receiver_.table().size(), 2u);
  EXPECT_EQ(receiver_.table().count(keyOf(udp(200))), 0u);
  EXPECT_EQ(rejected_, std::vector<PeerReject>{PeerReject::kAddressNotSynced});
  EXPECT_EQ(screen.stats().rejected[static_cast<size_t>(PeerReject::kAddressNotSynced)], 1u);
  // The sequence stayed whole: the receiver applied all three and acknowledges them.
  EXPECT_EQ(receiver_.nextExpected(), 4u);
  EXPECT_EQ(receiver_.stats().gaps, 0u);
}

TEST_F(PeerScreenTest, RefusedUpdateRemovesTheCopyHeldBefore) {
  PeerScreen screen = makeScreen(100);
  deliver(screen, frame({upsert(udp(10))}, true));
  Session dead = udp(10);
  dead.timeout = 0;
  const auto out = deliver(screen, frame({upsert(dead)}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, KernelChange::Kind::kRemove);
  EXPECT_TRUE(receiver_.table().empty());
  EXPECT_EQ(rejected_, std::vector<PeerReject>{PeerReject::kZeroTimeout});
}

TEST_F(PeerScreenTest, CappedTimeoutIsWhatTheReceiverKeeps) {
  PeerScreen screen = makeScreen(100);
  Session s = udp(10);
  s.timeout = 999999;
  const auto out = deliver(screen, frame({upsert(s)}, true));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].session.timeout, 86400u);
  EXPECT_EQ(receiver_.table().at(keyOf(s)).session.timeout, 86400u);
  EXPECT_EQ(screen.stats().timeouts_capped, 1u);
}

TEST_F(PeerScreenTest, QuotaRefusesNewSessionsButNotUpdates) {
  PeerScreen screen = makeScreen(3);
  std::vector<Item> items;
  for (uint16_t p = 1; p <= 5; ++p) items.push_back(upsert(udp(10, p)));
  deliver(screen, frame(items, true));
  EXPECT_EQ(receiver_.table().size(), 3u);
  EXPECT_EQ(rejected_, (std::vector<PeerReject>{PeerReject::kQuota, PeerReject::kQuota}));
  Session update = udp(10, 1);
  update.timeout = 20;
  update.version = 1;
  const auto out = deliver(screen, frame({upsert(update), upsert(udp(10, 9))}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, KernelChange::Kind::kUpdate);
  EXPECT_EQ(screen.stats().rejected[static_cast<size_t>(PeerReject::kQuota)], 3u);
}

// The screen looks sessions up only when a frame could reach the quota: a frame that exactly
// fills it passes whole, one item more and the last new session is refused.
TEST_F(PeerScreenTest, QuotaHoldsAtTheEdgeOfAFrame) {
  PeerScreen screen = makeScreen(4);
  deliver(screen, frame({upsert(udp(10, 1)), upsert(udp(10, 2))}, true));
  deliver(screen, frame({upsert(udp(10, 3)), upsert(udp(10, 4))}));
  EXPECT_EQ(receiver_.table().size(), 4u);
  EXPECT_TRUE(rejected_.empty());
  Session update = udp(10, 1);
  update.timeout = 20;
  update.version = 1;
  const auto out = deliver(screen, frame({upsert(update), upsert(udp(10, 5))}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, KernelChange::Kind::kUpdate);
  EXPECT_EQ(receiver_.table().size(), 4u);
  EXPECT_EQ(rejected_, std::vector<PeerReject>{PeerReject::kQuota});
}

TEST_F(PeerScreenTest, RemovesEarlierInTheFrameMakeRoom) {
  PeerScreen screen = makeScreen(2);
  deliver(screen, frame({upsert(udp(10, 1)), upsert(udp(10, 2))}, true));
  deliver(screen, frame({remove(udp(10, 1)), upsert(udp(10, 3)), upsert(udp(10, 4))}));
  EXPECT_EQ(receiver_.table().size(), 2u);
  EXPECT_EQ(receiver_.table().count(keyOf(udp(10, 3))), 1u);
  EXPECT_EQ(rejected_, std::vector<PeerReject>{PeerReject::kQuota});
}

TEST_F(PeerScreenTest, DuplicatesAndStaleEpochsAreNotCountedAgain) {
  PeerScreen screen = makeScreen(100);
  ItemsMsg m = frame({upsert(udp(200))}, true);
  ItemsMsg resent = m;
  deliver(screen, m);
  deliver(screen, resent);  // go-back-N after a reconnect: a duplicate the receiver skips
  EXPECT_EQ(rejected_.size(), 1u);
  ItemsMsg old{.epoch = 4, .first_seq = 1, .items = {upsert(udp(201))}};
  deliver(screen, old);
  EXPECT_EQ(rejected_.size(), 1u);
  EXPECT_EQ(receiver_.stats().stale_epoch, 1u);
}

TEST_F(PeerScreenTest, ItemsAfterAGapAreLeftToTheReceiver) {
  PeerScreen screen = makeScreen(100);
  deliver(screen, frame({upsert(udp(10))}, true));
  next_seq_ += 1;  // one item lost
  deliver(screen, frame({upsert(udp(200))}));
  EXPECT_TRUE(rejected_.empty());
  EXPECT_EQ(receiver_.stats().gaps, 1u);
}

TEST_F(PeerScreenTest, ResyncAfterQuotaRefusalsOnceThereIsRoom) {
  PeerScreen screen = makeScreen(10);
  EXPECT_FALSE(screen.resyncDue(0, Millis{0}));  // nothing was refused
  std::vector<Item> items;
  for (uint16_t p = 1; p <= 11; ++p) items.push_back(upsert(udp(10, p)));
  deliver(screen, frame(items, true));
  EXPECT_FALSE(screen.resyncDue(10, Millis{0}));    // still full
  EXPECT_TRUE(screen.resyncDue(9, Millis{0}));      // 90 %: room again
  EXPECT_FALSE(screen.resyncDue(5, Millis{1000}));  // once, until refused again
  deliver(screen, frame({upsert(udp(10, 100))}));   // table has 10 again: refused
  EXPECT_EQ(rejected_.size(), 2u);
  EXPECT_FALSE(screen.resyncDue(5, Millis{59999}));  // not within a minute of the last
  EXPECT_TRUE(screen.resyncDue(5, Millis{60000}));
  EXPECT_EQ(screen.stats().quota_resyncs, 2u);
}

}  // namespace
}  // namespace gwsync::syncd
