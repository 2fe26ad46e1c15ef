// SyncEngine: ownership, snapshots, refresh, start-up resolution and the connection-level
// protocol. The peer is played by hand (messages built here) or, where that is simpler, by a
// second engine wired back to back with this one. Time is always passed explicitly.
#include "syncd/core/sync_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <set>
#include <variant>
#include <vector>

#include "syncd/core/session.h"
#include "syncd/core/sync_messages.h"

namespace gwsync::syncd {

// Readable failure messages; static so other test files may define their own.
static void PrintTo(const Session& s, std::ostream* os) {
  *os << "zone=" << s.zone << " orig={" << toString(s.orig) << "} mark=" << s.mark
      << " timeout=" << s.timeout << " owner=" << s.owner << " version=" << s.version;
}

namespace {

using std::chrono::seconds;
using Kind = Item::Kind;
using Change = KernelChange::Kind;
using Origin = KernelChange::Origin;

constexpr uint32_t kMe = 1;
constexpr uint32_t kPeerId = 2;
constexpr uint64_t kMyEpoch = 1;
constexpr uint64_t kPeerEpoch = 7;
constexpr Millis kT0{100000};

SyncEngine::Options options(uint32_t node = kMe, uint32_t peer = kPeerId,
                            uint64_t epoch = kMyEpoch) {
  return SyncEngine::Options{.node_id = node,
                             .peer_id = peer,
                             .site = "test",
                             .epoch = epoch,
                             .window = 64,
                             .max_items_per_frame = 16,
                             .heartbeat = Millis{1000},
                             .dead_after = Millis{4000},
                             .retransmit = Millis{1000},
                             .refresh = Millis{10000},
                             .peer_mark = kPeerMark};
}

// A kernel entry as our dumps and events report it: no owner, no version.
Session udp(uint16_t sport, uint32_t timeout = 60, uint32_t mark = 0) {
  Session s;
  s.orig.src = IpAddress::v4(10, 0, 0, 2);
  s.orig.dst = IpAddress::v4(198, 51, 100, 7);
  s.orig.proto = l4::kUdp;
  s.orig.src_port = sport;
  s.orig.dst_port = 53;
  s.reply = invert(s.orig);
  s.timeout = timeout;
  s.mark = mark;
  return s;
}

// A session as the peer sends it.
Session peerSession(uint16_t sport, uint32_t mark = 0) {
  Session s = udp(sport, 60, mark);
  s.owner = kPeerId;
  s.version = (kPeerEpoch << 32) | sport;
  return s;
}

HelloMsg peerHello(uint64_t peer_epoch = 0, uint64_t next_expected = 0) {
  return HelloMsg{.node_id = kPeerId,
                  .site = "test",
                  .epoch = kPeerEpoch,
                  .peer_epoch = peer_epoch,
                  .next_expected = next_expected};
}

Item upsert(const Session& s) { return Item{.kind = Kind::kUpsert, .session = s}; }

// A frame of the peer's stream, which starts at seq 1.
ItemsMsg peerFrame(uint64_t first_seq, std::vector<Item> items) {
  if (first_seq == 1 && !items.empty()) items.front().stream_start = true;
  return ItemsMsg{kPeerEpoch, first_seq, std::move(items)};
}

template <typename T>
std::vector<T> ofType(const std::vector<SyncMessage>& msgs) {
  std::vector<T> out;
  for (const SyncMessage& m : msgs) {
    if (const auto* t = std::get_if<T>(&m)) out.push_back(*t);
  }
  return out;
}

std::vector<Item> itemsIn(const std::vector<SyncMessage>& msgs) {
  std::vector<Item> out;
  for (const ItemsMsg& f : ofType<ItemsMsg>(msgs))
    out.insert(out.end(), f.items.begin(), f.items.end());
  return out;
}

std::vector<Kind> kinds(const std::vector<Item>& items) {
  std::vector<Kind> out;
  for (const Item& i : items) out.push_back(i.kind);
  return out;
}

// Sends what the engine has and has the peer acknowledge all of it.
std::vector<Item> drain(SyncEngine& e, Millis now) {
  auto items = itemsIn(e.poll(now));
  EXPECT_TRUE(e.onMessage(AckMsg{e.options().epoch, e.sender().nextSeq() - 1}, now));
  return items;
}

// Connects, takes the peer's first Hello, sends the new stream and has it acknowledged.
std::vector<Item> connectAndDrain(SyncEngine& e, Millis now) {
  e.onConnected(now);
  EXPECT_TRUE(e.onMessage(peerHello(), now));
  return drain(e, now);
}

// Two engines back to back: node 1 (epoch 1) and node 2 (epoch 7) over a perfect link.
struct Pair {
  SyncEngine a{options(kMe, kPeerId, kMyEpoch)};
  SyncEngine b{options(kPeerId, kMe, kPeerEpoch)};

  void connect(Millis now) {
    a.onConnected(now);
    b.onConnected(now);
  }
  // Moves each side's poll() output into the other until neither has anything to send.
  void pump(Millis now) {
    for (int round = 0; round < 20; ++round) {
      const auto from_a = a.poll(now);
      const auto from_b = b.poll(now);
      if (from_a.empty() && from_b.empty()) return;
      for (const SyncMessage& m : from_a) ASSERT_TRUE(b.onMessage(m, now));
      for (const SyncMessage& m : from_b) ASSERT_TRUE(a.onMessage(m, now));
    }
    FAIL() << "the engines never fell quiet";
  }
};

// --- ownership from our kernel

TEST(SyncEngineTest, ALocalNewEventOwnsTheSessionAndQueuesIt) {
  SyncEngine e(options());
  e.onLocalEvent(LocalEvent::kNew, udp(1000));
  ASSERT_EQ(e.owned().count(keyOf(udp(1000))), 1u);
  const Session& s = e.owned().at(keyOf(udp(1000))).session;
  EXPECT_EQ(s.owner, kMe);
  EXPECT_NE(s.version, 0u);
  EXPECT_EQ(e.sender().pendingSize(), 1u);
  EXPECT_EQ(e.stats().local_changes, 1u);
}

TEST(SyncEngineTest, ALocalUpdateEventGrowsTheVersionAndSendsTheNewState) {
  SyncEngine e(options());
  e.onLocalEvent(LocalEvent::kNew, udp(1000));
  const uint64_t first = e.owned().at(keyOf(udp(1000))).session.version;
  e.onLocalEvent(LocalEvent::kUpdate, udp(1000, 60, 0x5));
  const Session& s = e.owned().at(keyOf(udp(1000))).session;
  EXPECT_GT(s.version, first);
  EXPECT_EQ(s.owner, kMe);
  EXPECT_EQ(s.mark, 0x5u);

  std::vector<Session> upserts;
  for (const Item& i : connectAndDrain(e, kT0)) {
    if (i.kind == Kind::kUpsert) upserts.push_back(i.session);
  }
  ASSERT_FALSE(upserts.empty());
  for (const Session& u : upserts) EXPECT_EQ(u, s);
}

TEST(SyncEngineTest, ALocalEventOnAPeerCopyTakesTheSessionOverAndThePeerLetsGo) {
  Pair p;
  p.b.onLocalEvent(LocalEvent::kNew, udp(1000));
  p.connect(kT0);
  p.pump(kT0);
  ASSERT_EQ(p.a.peerSessions().count(keyOf(udp(1000))), 1u);

  // The flow's packets now cross node 1.
  p.a.onLocalEvent(LocalEvent::kUpdate, udp(1000, 60, kPeerMark | 0x5));
  EXPECT_EQ(p.a.stats().ownership_gained, 1u);
  EXPECT_TRUE(p.a.peerSessions().empty());
  p.pump(kT0 + Millis{10});

  EXPECT_EQ(p.b.stats().ownership_lost, 1u);
  EXPECT_TRUE(p.b.owned().empty());
  ASSERT_EQ(p.b.peerSessions().count(keyOf(udp(1000))), 1u);
  EXPECT_EQ(p.b.peerSessions().at(keyOf(udp(1000))).session.owner, kMe);
  EXPECT_EQ(p.b.peerSessions().at(keyOf(udp(1000))).session.mark, 0x5u);
}

TEST(SyncEngineTest, DestroyOfAnOwnedSessionQueuesARemove) {
  SyncEngine e(options());
  e.onLocalEvent(LocalEvent::kNew, udp(1000));
  connectAndDrain(e, kT0);  // the peer has it

  e.onLocalEvent(LocalEvent::kDestroy, udp(1000));
  EXPECT_TRUE(e.owned().empty());
  EXPECT_EQ(e.stats().local_removes, 1u);
  EXPECT_EQ(e.sender().pendingSize(), 1u);
  const auto items = drain(e, kT0 + Millis{10});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kRemove);
  EXPECT_EQ(keyOf(items[0].session), keyOf(udp(1000)));
}

TEST(SyncEngineTest, DestroyOfANonOwnedSessionIsOnlyCounted) {
  SyncEngine e(options());
  e.onLocalEvent(LocalEvent::kDestroy, udp(1000));
  EXPECT_EQ(e.stats().destroy_not_owned, 1u);
  EXPECT_EQ(e.stats().local_removes, 0u);
  EXPECT_EQ(e.sender().pendingSize(), 0u);
}

// --- snapshots

TEST(SyncEngineTest, ASnapshotOwnsEntriesItDidNotKnow) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000), udp(1001)}, kT0);
  EXPECT_EQ(e.owned().size(), 2u);
  EXPECT_EQ(e.owned().at(keyOf(udp(1001))).session.owner, kMe);
  EXPECT_EQ(e.sender().pendingSize(), 2u);
}

TEST(SyncEngineTest, ASnapshotRemovesOwnedSessionsItNoLongerLists) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000), udp(1001)}, kT0);
  connectAndDrain(e, kT0);

  e.onLocalSnapshot({udp(1000, 55)}, kT0 + seconds(5));
  EXPECT_EQ(e.owned().size(), 1u);
  EXPECT_EQ(e.stats().local_removes, 1u);
  const auto items = drain(e, kT0 + seconds(5));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kRemove);
  EXPECT_EQ(keyOf(items[0].session), keyOf(udp(1001)));
}

TEST(SyncEngineTest, ASnapshotDoesNotResendUnchangedSessions) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000)}, kT0);
  connectAndDrain(e, kT0);
  const uint64_t version = e.owned().at(keyOf(udp(1000))).session.version;

  e.onLocalSnapshot({udp(1000, 55)}, kT0 + seconds(5));  // only counted down
  EXPECT_EQ(e.sender().pendingSize(), 0u);
  EXPECT_TRUE(drain(e, kT0 + seconds(5)).empty());
  EXPECT_EQ(e.owned().at(keyOf(udp(1000))).session.version, version);
}

TEST(SyncEngineTest, ASnapshotResendsChangedSessions) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000)}, kT0);
  connectAndDrain(e, kT0);
  const uint64_t version = e.owned().at(keyOf(udp(1000))).session.version;

  e.onLocalSnapshot({udp(1000, 55, 0x9)}, kT0 + seconds(5));  // an event we missed
  const auto items = drain(e, kT0 + seconds(5));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kUpsert);
  EXPECT_EQ(items[0].session.mark, 0x9u);
  EXPECT_GT(items[0].session.version, version);
}

// --- refresh of idle sessions (refresh = 10 s; the peer got the session with 60 s at kT0)

TEST(SyncEngineTest, AnIdleSessionIsResentWhenThePeersCopyWouldExpireFirst) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000, 60)}, kT0);
  connectAndDrain(e, kT0);
  ASSERT_EQ(e.owned().at(keyOf(udp(1000))).sent_at, kT0);

  // 45 s on the peer's copy has 15 s left (< 2 x refresh); ours, kept alive by traffic, 50 s.
  const Millis now = kT0 + seconds(45);
  e.onLocalSnapshot({udp(1000, 50)}, now);
  EXPECT_EQ(e.stats().refreshes, 1u);
  const auto items = drain(e, now);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kUpsert);
  EXPECT_EQ(items[0].session.timeout, 50u);
  EXPECT_EQ(e.owned().at(keyOf(udp(1000))).sent_at, now);
}

TEST(SyncEngineTest, NoRefreshWhileThePeersCopyOutlivesTwiceTheRefreshInterval) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000, 60)}, kT0);
  connectAndDrain(e, kT0);

  const Millis now = kT0 + seconds(35);  // the peer's copy has 25 s left
  e.onLocalSnapshot({udp(1000, 50)}, now);
  EXPECT_EQ(e.stats().refreshes, 0u);
  EXPECT_TRUE(drain(e, now).empty());
}

TEST(SyncEngineTest, NoRefreshWhenOurEntryExpiresNoLaterThanThePeersCopy) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000, 60)}, kT0);
  connectAndDrain(e, kT0);

  const Millis now = kT0 + seconds(45);
  e.onLocalSnapshot({udp(1000, 15)}, now);  // truly idle: both copies run out together
  EXPECT_EQ(e.stats().refreshes, 0u);
  EXPECT_TRUE(drain(e, now).empty());
}

TEST(SyncEngineTest, NoRefreshForASessionThePeerWasNeverSent) {
  SyncEngine e(options());  // never connected: the session waits to be sent
  e.onLocalSnapshot({udp(1000, 60)}, kT0);
  e.onLocalSnapshot({udp(1000, 50)}, kT0 + seconds(45));
  EXPECT_EQ(e.stats().refreshes, 0u);
  EXPECT_EQ(e.sender().pendingSize(), 1u);
}

// --- the peer's copies in our kernel

TEST(SyncEngineTest, ReceivedPeerSessionsComeOutWithThePeerMarkSet) {
  Pair p;
  p.b.onLocalEvent(LocalEvent::kNew, udp(1000, 60, 0x5));
  p.connect(kT0);
  p.pump(kT0);

  const auto changes = p.a.takeKernelChanges();
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes.front().kind, Change::kCreate);
  for (const KernelChange& c : changes) {
    EXPECT_EQ(keyOf(c.session), keyOf(udp(1000)));
    EXPECT_EQ(c.origin, Origin::kPeer);
    EXPECT_EQ(c.session.mark, 0x5u | kPeerMark);
    EXPECT_EQ(c.session.owner, kPeerId);
  }
  EXPECT_EQ(p.a.peerSessions().at(keyOf(udp(1000))).session.mark, 0x5u);  // as the peer has it
  EXPECT_TRUE(p.a.owned().empty());
}

TEST(SyncEngineTest, APeerCopyThatOutlivesWhatThePeerSentBecomesOursWithoutThePeerMark) {
  SyncEngine e(options());
  e.onLocalSnapshot({}, kT0);  // start-up: an empty kernel
  e.onConnected(kT0);
  ASSERT_TRUE(e.onMessage(peerHello(), kT0));
  ASSERT_TRUE(e.onMessage(peerFrame(1, {upsert(peerSession(1000, 0x5))}), kT0));  // 60 s
  e.takeKernelChanges();

  // 10 s later the peer's copy should have 50 s left; ours has 120: traffic runs here now.
  e.onLocalSnapshot({udp(1000, 120, 0x5 | kPeerMark)}, kT0 + seconds(10));
  ASSERT_EQ(e.owned().count(keyOf(udp(1000))), 1u);
  EXPECT_EQ(e.owned().at(keyOf(udp(1000))).session.owner, kMe);
  EXPECT_TRUE(e.peerSessions().empty());
  EXPECT_EQ(e.stats().ownership_gained, 1u);
  const auto changes = e.takeKernelChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Change::kUpdate);
  EXPECT_EQ(changes[0].origin, Origin::kLocal);
  EXPECT_EQ(changes[0].session.mark, 0x5u);
  EXPECT_EQ(e.sender().pendingSize(), 1u);  // and the peer hears it is ours
}

TEST(SyncEngineTest, APeerCopyThatOnlyCountsDownStaysThePeers) {
  SyncEngine e(options());
  e.onLocalSnapshot({}, kT0);
  e.onConnected(kT0);
  ASSERT_TRUE(e.onMessage(peerHello(), kT0));
  ASSERT_TRUE(e.onMessage(peerFrame(1, {upsert(peerSession(1000, 0x5))}), kT0));
  e.takeKernelChanges();

  e.onLocalSnapshot({udp(1000, 50, 0x5 | kPeerMark)}, kT0 + seconds(10));
  EXPECT_TRUE(e.owned().empty());
  EXPECT_EQ(e.peerSessions().size(), 1u);
  EXPECT_TRUE(e.takeKernelChanges().empty());
  EXPECT_EQ(e.sender().pendingSize(), 0u);
}

TEST(SyncEngineTest, FlushPeerSessionsRemovesEveryPeerSessionAndEmptiesTheTable) {
  SyncEngine e(options());
  e.onConnected(kT0);
  ASSERT_TRUE(e.onMessage(peerHello(), kT0));
  ASSERT_TRUE(
      e.onMessage(peerFrame(1, {upsert(peerSession(1000)), upsert(peerSession(1001))}), kT0));
  e.takeKernelChanges();

  e.flushPeerSessions();
  EXPECT_TRUE(e.peerSessions().empty());
  std::set<SessionKey> removed;
  for (const KernelChange& c : e.takeKernelChanges()) {
    EXPECT_EQ(c.kind, Change::kRemove);
    EXPECT_EQ(c.origin, Origin::kLocal);
    removed.insert(keyOf(c.session));
  }
  EXPECT_EQ(removed, (std::set{keyOf(udp(1000)), keyOf(udp(1001))}));
}

// --- start-up: copies left in our kernel from before a restart

TEST(SyncEngineTest, StartUpEntriesWithThePeerMarkAreUnresolved) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000, 60, kPeerMark), udp(1001)}, kT0);
  EXPECT_TRUE(e.resolving());
  EXPECT_EQ(e.unresolvedSize(), 1u);
  EXPECT_EQ(e.owned().size(), 1u);
  EXPECT_EQ(e.owned().count(keyOf(udp(1001))), 1u);
  EXPECT_EQ(e.sender().pendingSize(), 1u);  // the unresolved copy is not sent
  EXPECT_TRUE(e.takeKernelChanges().empty());
}

TEST(SyncEngineTest, ThePeersBulkDeletesStartUpCopiesItDidNotNameAndAdoptsTheOthers) {
  Pair p;
  p.b.onLocalSnapshot({udp(1000)}, kT0);  // the peer still has 1000, not 1001
  p.a.onLocalSnapshot({udp(1000, 60, kPeerMark), udp(1001, 60, kPeerMark), udp(1002)}, kT0);
  ASSERT_TRUE(p.a.resolving());
  p.connect(kT0);
  p.pump(kT0);

  EXPECT_FALSE(p.a.resolving());
  EXPECT_EQ(p.a.unresolvedSize(), 0u);
  EXPECT_EQ(p.a.peerSessions().count(keyOf(udp(1000))), 1u);
  EXPECT_EQ(p.a.peerSessions().size(), 1u);
  EXPECT_EQ(p.a.owned().count(keyOf(udp(1002))), 1u);
  EXPECT_EQ(p.a.owned().size(), 1u);
  std::set<SessionKey> local_removes;
  for (const KernelChange& c : p.a.takeKernelChanges()) {
    if (c.kind == Change::kRemove) {
      EXPECT_EQ(c.origin, Origin::kLocal);
      local_removes.insert(keyOf(c.session));
    }
  }
  EXPECT_EQ(local_removes, std::set{keyOf(udp(1001))});
  EXPECT_EQ(p.a.stats().resolved_by_peer, 1u);
  EXPECT_EQ(p.a.stats().stale_copies_deleted, 1u);
}

TEST(SyncEngineTest, ClaimUnresolvedKeepsStartUpCopiesWithoutSendingThem) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000, 60, kPeerMark)}, kT0);
  e.claimUnresolved(kT0 + seconds(5));
  EXPECT_FALSE(e.resolving());
  EXPECT_EQ(e.unresolvedSize(), 0u);
  ASSERT_EQ(e.owned().count(keyOf(udp(1000))), 1u);
  EXPECT_TRUE(e.owned().at(keyOf(udp(1000))).by_default);
  EXPECT_EQ(e.stats().claimed_unresolved, 1u);
  EXPECT_TRUE(e.takeKernelChanges().empty());  // the kernel's copy keeps its mark

  const auto items = connectAndDrain(e, kT0 + seconds(6));
  ASSERT_EQ(kinds(items), (std::vector<Kind>{Kind::kBulkBegin, Kind::kBulkEnd}));
  EXPECT_EQ(items[1].bulk_sessions, 0u);
}

TEST(SyncEngineTest, ALaterPeerBulkDeletesClaimedCopiesThatTrafficDidNotConfirm) {
  SyncEngine e(options());
  e.onLocalSnapshot({udp(1000, 60, kPeerMark), udp(1001, 60, kPeerMark)}, kT0);
  e.claimUnresolved(kT0 + seconds(5));

  // 5 s after the claim 1000 only counted down; 1001 carries traffic here.
  e.onLocalSnapshot({udp(1000, 50, kPeerMark), udp(1001, 300, kPeerMark)}, kT0 + seconds(10));
  EXPECT_TRUE(e.owned().at(keyOf(udp(1000))).by_default);
  EXPECT_FALSE(e.owned().at(keyOf(udp(1001))).by_default);
  e.takeKernelChanges();

  // The peer comes back; its bulk names neither session.
  e.onConnected(kT0 + seconds(20));
  ASSERT_TRUE(e.onMessage(peerHello(), kT0 + seconds(20)));
  ASSERT_TRUE(e.onMessage(peerFrame(1, {Item{.kind = Kind::kBulkBegin, .bulk_id = 1},
                                        Item{.kind = Kind::kBulkEnd, .bulk_id = 1}}),
                          kT0 + seconds(20)));
  const auto changes = e.takeKernelChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Change::kRemove);
  EXPECT_EQ(changes[0].origin, Origin::kLocal);
  EXPECT_EQ(keyOf(changes[0].session), keyOf(udp(1000)));
  EXPECT_EQ(e.owned().size(), 1u);
  EXPECT_EQ(e.owned().count(keyOf(udp(1001))), 1u);
  EXPECT_EQ(e.stats().stale_copies_deleted, 1u);
}

// --- the connection

TEST(SyncEngineTest, AHelloFromAnotherNodeIdIsRefused) {
  SyncEngine e(options());
  e.onLocalEvent(LocalEvent::kNew, udp(1000));
  e.onConnected(kT0);
  HelloMsg stranger = peerHello();
  stranger.node_id = 3;
  EXPECT_FALSE(e.onMessage(stranger, kT0));
  EXPECT_EQ(e.stats().wrong_peer, 1u);
  EXPECT_EQ(e.receiver().peerEpoch(), 0u);
  EXPECT_TRUE(itemsIn(e.poll(kT0)).empty());  // no stream for a stranger
}

TEST(SyncEngineTest, ThePeerIsDeadOnlyAfterDeadAfterWithoutAnyFrame) {
  SyncEngine e(options());  // dead_after = 4 s

  EXPECT_FALSE(e.peerDead(kT0 + seconds(60)));  // not connected
  e.onConnected(kT0);
  EXPECT_FALSE(e.peerDead(kT0 + seconds(4)));
  EXPECT_TRUE(e.peerDead(kT0 + seconds(4) + Millis{1}));

  ASSERT_TRUE(e.onMessage(AckMsg{kMyEpoch, 0}, kT0 + seconds(3)));  // any frame counts
  EXPECT_FALSE(e.peerDead(kT0 + seconds(7)));
  EXPECT_TRUE(e.peerDead(kT0 + seconds(7) + Millis{1}));
}

TEST(SyncEngineTest, PollSendsAHelloOnConnectAndThenEveryHeartbeat) {
  SyncEngine e(options());  // heartbeat = 1 s

  EXPECT_TRUE(e.poll(kT0).empty());  // not connected

  e.onConnected(kT0);
  const auto first = e.poll(kT0);
  ASSERT_EQ(first.size(), 1u);
  const HelloMsg want{.protocol_version = kProtocolVersion,
                      .node_id = kMe,
                      .site = "test",
                      .epoch = kMyEpoch,
                      .peer_epoch = 0,
                      .next_expected = 0};
  EXPECT_EQ(std::get<HelloMsg>(first[0]), want);
  EXPECT_TRUE(e.poll(kT0 + Millis{999}).empty());
  EXPECT_EQ(ofType<HelloMsg>(e.poll(kT0 + Millis{1000})).size(), 1u);
  EXPECT_TRUE(e.poll(kT0 + Millis{1500}).empty());
  EXPECT_EQ(ofType<HelloMsg>(e.poll(kT0 + Millis{2000})).size(), 1u);

  e.onDisconnected();
  EXPECT_TRUE(e.poll(kT0 + Millis{2100}).empty());
  e.onConnected(kT0 + Millis{2200});  // a new connection greets at once
  EXPECT_EQ(ofType<HelloMsg>(e.poll(kT0 + Millis{2200})).size(), 1u);
}

TEST(SyncEngineTest, PollSendsAnAckAfterItemsWereReceived) {
  SyncEngine e(options());
  connectAndDrain(e, kT0);
  EXPECT_TRUE(ofType<AckMsg>(e.poll(kT0)).empty());

  ASSERT_TRUE(
      e.onMessage(peerFrame(1, {upsert(peerSession(1000)), upsert(peerSession(1001))}), kT0));
  EXPECT_EQ(ofType<AckMsg>(e.poll(kT0)), (std::vector{AckMsg{kPeerEpoch, 2}}));
  EXPECT_TRUE(ofType<AckMsg>(e.poll(kT0)).empty());
}

TEST(SyncEngineTest, HellosCarryOurPositionInThePeersStream) {
  SyncEngine e(options());
  connectAndDrain(e, kT0);
  ASSERT_TRUE(
      e.onMessage(peerFrame(1, {upsert(peerSession(1000)), upsert(peerSession(1001))}), kT0));
  const auto hellos = ofType<HelloMsg>(e.poll(kT0 + seconds(1)));
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0].peer_epoch, kPeerEpoch);
  EXPECT_EQ(hellos[0].next_expected, 3u);
}

}  // namespace
}  // namespace gwsync::syncd
