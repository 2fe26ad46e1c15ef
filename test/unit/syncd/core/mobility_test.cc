// Mobility: sightings, probes, claims and releases, contests in a partition; and the engine's
// side of a move (two engines back to back): a won host's sessions change owner, activity on
// copies of a host the peer owns is not taken for a move, late sessions are adopted.
#include "syncd/core/mobility.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <variant>
#include <vector>

#include "syncd/core/sync_engine.h"

namespace gwsync::syncd {
namespace {

using Kind = Mobility::Action::Kind;

constexpr Millis kT0{100000};
const IpAddress kVm = IpAddress::v4(192, 0, 2, 10);
const IpAddress kVm2 = IpAddress::v4(192, 0, 2, 11);
const MacBytes kVmMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x10};

Mobility node(uint32_t id, uint32_t peer) {
  return Mobility(Mobility::Options{.node_id = id, .peer_id = peer, .debounce = Millis{200}});
}

std::vector<Kind> kinds(const std::vector<Mobility::Action>& actions) {
  std::vector<Kind> out;
  for (const auto& a : actions) out.push_back(a.kind);
  return out;
}

template <typename T>
std::vector<T> ofType(const std::vector<SyncMessage>& msgs) {
  std::vector<T> out;
  for (const SyncMessage& m : msgs) {
    if (const auto* t = std::get_if<T>(&m)) out.push_back(*t);
  }
  return out;
}

// Delivers each side's messages to the other until both are quiet.
void exchange(Mobility& a, Mobility& b, Millis now) {
  for (int round = 0; round < 10; ++round) {
    const auto from_a = a.takeMessages();
    const auto from_b = b.takeMessages();
    if (from_a.empty() && from_b.empty()) return;
    for (const auto& m : from_a) {
      if (auto* c = std::get_if<HostClaimMsg>(&m)) b.onClaim(*c, now);
      if (auto* r = std::get_if<HostReleaseMsg>(&m)) b.onRelease(*r, now);
    }
    for (const auto& m : from_b) {
      if (auto* c = std::get_if<HostClaimMsg>(&m)) a.onClaim(*c, now);
      if (auto* r = std::get_if<HostReleaseMsg>(&m)) a.onRelease(*r, now);
    }
  }
  FAIL() << "the nodes never fell quiet";
}

TEST(MobilityTest, ASightingOfAnUnownedHostProbesAndOnlyAProbeAnswerClaims) {
  Mobility a = node(1, 2);
  a.onSighting(kVm, kVmMac, kT0);
  auto actions = a.takeActions();
  ASSERT_EQ(kinds(actions), std::vector<Kind>{Kind::kProbe});
  EXPECT_EQ(actions[0].host, kVm);
  EXPECT_EQ(actions[0].mac, kVmMac);
  EXPECT_TRUE(a.takeMessages().empty());
  EXPECT_FALSE(a.ownedByUs(kVm));

  a.onProbeResult(kVm, false, std::nullopt, kT0 + Millis{100});
  EXPECT_TRUE(a.takeActions().empty());
  EXPECT_FALSE(a.ownedByUs(kVm));

  a.onProbeResult(kVm, true, kVmMac, kT0 + Millis{300});
  actions = a.takeActions();
  ASSERT_EQ(kinds(actions), std::vector<Kind>{Kind::kWon});
  EXPECT_EQ(actions[0].move_seq, 1u);
  EXPECT_FALSE(actions[0].from_peer);
  const auto claims = ofType<HostClaimMsg>(a.takeMessages());
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0], (HostClaimMsg{.host = kVm, .mac = kVmMac, .move_seq = 1, .node_id = 1}));
  EXPECT_TRUE(a.ownedByUs(kVm));
}

TEST(MobilityTest, SightingsAreDebouncedAndIgnoredForOwnHosts) {
  Mobility a = node(1, 2);
  a.onSighting(kVm, kVmMac, kT0);
  a.onSighting(kVm, kVmMac, kT0 + Millis{50});
  a.onSighting(kVm, kVmMac, kT0 + Millis{199});
  EXPECT_EQ(a.takeActions().size(), 1u);
  a.onSighting(kVm, kVmMac, kT0 + Millis{200});
  EXPECT_EQ(a.takeActions().size(), 1u);
  a.onProbeResult(kVm, true, kVmMac, kT0 + Millis{201});
  a.takeActions();
  a.onSighting(kVm, kVmMac, kT0 + Millis{5000});
  EXPECT_TRUE(a.takeActions().empty());
}

TEST(MobilityTest, ARarpFindsTheHostByItsMac) {
  Mobility b = node(2, 1);
  b.onClaim(HostClaimMsg{.host = kVm, .mac = kVmMac, .move_seq = 3, .node_id = 1}, kT0);
  b.takeMessages();
  b.onSighting(std::nullopt, kVmMac, kT0 + Millis{10});
  const auto actions = b.takeActions();
  ASSERT_EQ(kinds(actions), std::vector<Kind>{Kind::kProbe});
  EXPECT_EQ(actions[0].host, kVm);

  b.onSighting(std::nullopt, MacBytes{2, 0, 0, 0, 0, 0x99}, kT0 + Millis{20});
  EXPECT_TRUE(b.takeActions().empty());
  EXPECT_EQ(b.stats().sightings_unknown_mac, 1u);
}

TEST(MobilityTest, AMoveHandsTheHostOverAndTheOldOwnerReleasesIt) {
  Mobility a = node(1, 2);
  Mobility b = node(2, 1);
  a.onProbeResult(kVm, true, kVmMac, kT0);
  exchange(a, b, kT0);
  a.takeActions();
  EXPECT_TRUE(b.ownedByPeer(kVm));
  EXPECT_EQ(b.hosts().at(kVm).mac, kVmMac);  // learnt from the claim: a RARP at B finds it

  b.onSighting(std::nullopt, kVmMac, kT0 + Millis{1000});
  ASSERT_EQ(kinds(b.takeActions()), std::vector<Kind>{Kind::kProbe});
  b.onProbeResult(kVm, true, std::nullopt, kT0 + Millis{1001});
  auto won = b.takeActions();
  ASSERT_EQ(kinds(won), std::vector<Kind>{Kind::kWon});
  EXPECT_TRUE(won[0].from_peer);
  EXPECT_EQ(won[0].move_seq, 2u);

  exchange(a, b, kT0 + Millis{1002});
  const auto lost = a.takeActions();
  ASSERT_EQ(kinds(lost), (std::vector<Kind>{Kind::kLost, Kind::kProbe}));
  EXPECT_TRUE(a.ownedByPeer(kVm));
  EXPECT_TRUE(b.ownedByUs(kVm));
  EXPECT_TRUE(b.hosts().at(kVm).released);
  EXPECT_EQ(b.stats().claims_won, 1u);
  EXPECT_EQ(a.stats().moves_out, 1u);
  EXPECT_EQ(b.stats().moves_in, 1u);
}

TEST(MobilityTest, ConcurrentClaimsInAPartitionResolveTheSameWayAtBothEnds) {
  Mobility a = node(1, 2);
  Mobility b = node(2, 1);
  a.onProbeResult(kVm, true, kVmMac, kT0);
  b.onProbeResult(kVm, true, kVmMac, kT0);  // both claim move 1 while apart
  a.takeActions();
  b.takeActions();
  exchange(a, b, kT0 + Millis{10});
  EXPECT_TRUE(a.ownedByUs(kVm));  // equal move numbers: the lower node id wins
  EXPECT_TRUE(b.ownedByPeer(kVm));
  EXPECT_EQ(kinds(b.takeActions()), (std::vector<Kind>{Kind::kLost, Kind::kProbe}));
  EXPECT_EQ(b.stats().claims_lost, 1u);

  // The loser's probe finds the host at its site after all: it claims with a newer move.
  b.onProbeResult(kVm, true, kVmMac, kT0 + Millis{20});
  exchange(a, b, kT0 + Millis{20});
  EXPECT_TRUE(b.ownedByUs(kVm));
  EXPECT_TRUE(a.ownedByPeer(kVm));
  EXPECT_EQ(a.hosts().at(kVm).move_seq, b.hosts().at(kVm).move_seq);
}

TEST(MobilityTest, AHigherMoveNumberWinsOverTheLowerNodeId) {
  Mobility a = node(1, 2);
  a.onProbeResult(kVm, true, kVmMac, kT0);  // move 1
  a.takeMessages();
  a.takeActions();
  a.onClaim(HostClaimMsg{.host = kVm, .mac = kVmMac, .move_seq = 2, .node_id = 2}, kT0);
  EXPECT_TRUE(a.ownedByPeer(kVm));
  const auto releases = ofType<HostReleaseMsg>(a.takeMessages());
  ASSERT_EQ(releases.size(), 1u);
  EXPECT_EQ(releases[0].move_seq, 2u);
}

TEST(MobilityTest, AStaleClaimIsAnsweredWithOurNewerOne) {
  Mobility a = node(1, 2);
  a.onClaim(HostClaimMsg{.host = kVm, .mac = kVmMac, .move_seq = 4, .node_id = 2}, kT0);
  a.takeMessages();
  a.onProbeResult(kVm, true, kVmMac, kT0 + Millis{1});  // move 5, ours
  a.takeMessages();
  a.onClaim(HostClaimMsg{.host = kVm, .mac = kVmMac, .move_seq = 4, .node_id = 2}, kT0);
  EXPECT_TRUE(a.ownedByUs(kVm));
  const auto claims = ofType<HostClaimMsg>(a.takeMessages());
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].move_seq, 5u);
}

TEST(MobilityTest, AReconnectSendsClaimsForEveryOwnedHostAndRepeatsAreAcknowledged) {
  Mobility a = node(1, 2);
  Mobility b = node(2, 1);
  a.onProbeResult(kVm, true, kVmMac, kT0);
  a.onProbeResult(kVm2, true, std::nullopt, kT0);
  a.takeMessages();  // lost with the connection
  a.onConnected();
  EXPECT_EQ(ofType<HostClaimMsg>(a.takeMessages()).size(), 2u);
  a.onConnected();
  exchange(a, b, kT0 + Millis{1});
  EXPECT_TRUE(b.ownedByPeer(kVm));
  EXPECT_TRUE(b.ownedByPeer(kVm2));
  a.onConnected();  // once more: b already knows, and acknowledges again
  exchange(a, b, kT0 + Millis{2});
  EXPECT_TRUE(a.hosts().at(kVm).released);
  EXPECT_TRUE(b.takeActions().empty());
}

TEST(MobilityTest, ARestartedOwnerClaimsAgainAndLearnsTheMoveNumberFromTheRelease) {
  Mobility a = node(1, 2);
  Mobility b = node(2, 1);
  a.onProbeResult(kVm, true, kVmMac, kT0);
  exchange(a, b, kT0);
  b.onProbeResult(kVm, true, kVmMac, kT0 + Millis{1});  // move 2: b holds it
  exchange(a, b, kT0 + Millis{1});
  ASSERT_TRUE(b.ownedByUs(kVm));

  Mobility b2 = node(2, 1);  // b restarts with an empty table and finds the host again
  b2.onProbeResult(kVm, true, kVmMac, kT0 + Millis{5000});  // its move 1
  exchange(a, b2, kT0 + Millis{5000});
  EXPECT_TRUE(b2.ownedByUs(kVm));
  EXPECT_TRUE(a.ownedByPeer(kVm));
  EXPECT_EQ(b2.hosts().at(kVm).move_seq, 2u);  // from a's release
  // The next move to a wins at both ends.
  a.onProbeResult(kVm, true, kVmMac, kT0 + Millis{6000});
  exchange(a, b2, kT0 + Millis{6000});
  EXPECT_TRUE(a.ownedByUs(kVm));
  EXPECT_TRUE(b2.ownedByPeer(kVm));
}

TEST(MobilityTest, MessagesFromAThirdNodeAreCountedAndIgnored) {
  Mobility a = node(1, 2);
  a.onClaim(HostClaimMsg{.host = kVm, .move_seq = 9, .node_id = 3}, kT0);
  a.onRelease(HostReleaseMsg{.host = kVm, .move_seq = 9, .node_id = 3}, kT0);
  EXPECT_EQ(a.stats().wrong_node, 2u);
  EXPECT_FALSE(a.ownerOf(kVm).has_value());
}

// --- the engine's side

SyncEngine::Options engineOptions(uint32_t node, uint32_t peer, uint64_t epoch) {
  SyncEngine::Options o;
  o.node_id = node;
  o.peer_id = peer;
  o.epoch = epoch;
  o.window = 64;
  o.max_items_per_frame = 16;
  o.mobility = true;
  o.expected_sessions = 64;
  return o;
}

// A VM flow through SNAT as a kernel reports it.
Session vmFlow(const IpAddress& vm, uint16_t sport) {
  Session s;
  s.orig.src = vm;
  s.orig.dst = IpAddress::v4(203, 0, 113, 10);
  s.orig.proto = l4::kTcp;
  s.orig.src_port = sport;
  s.orig.dst_port = 80;
  s.reply = invert(s.orig);
  s.reply.dst = IpAddress::v4(198, 51, 100, 1);
  s.status = status::kSrcNat | status::kSeenReply | status::kAssured | status::kConfirmed;
  s.tcp = TcpInfo{.state = 3};
  s.timeout = 300;
  return s;
}

struct EnginePair {
  SyncEngine a{engineOptions(1, 2, 1)};
  SyncEngine b{engineOptions(2, 1, 7)};
  void pump(Millis now) {
    for (int round = 0; round < 30; ++round) {
      const auto from_a = a.poll(now);
      const auto from_b = b.poll(now);
      if (from_a.empty() && from_b.empty()) return;
      for (const auto& m : from_a) ASSERT_TRUE(b.onMessage(m, now));
      for (const auto& m : from_b) ASSERT_TRUE(a.onMessage(m, now));
    }
  }
  // Hellos go out every second: advance time well past that between rounds.
  void settle(Millis now) {
    pump(now);
    a.takeKernelChanges();
    b.takeKernelChanges();
  }
};

TEST(MobilityEngineTest, WinningAHostTakesOverItsSessionsAndOnlyThose) {
  EnginePair p;
  p.a.onConnected(kT0);
  p.b.onConnected(kT0);
  for (uint16_t port = 1000; port < 1010; ++port) p.a.onLocalEvent(LocalEvent::kNew, vmFlow(kVm, port));
  Session udp = vmFlow(kVm, 5353);
  udp.orig.proto = udp.reply.proto = l4::kUdp;
  udp.tcp.reset();
  p.a.onLocalEvent(LocalEvent::kNew, udp);
  p.a.onLocalEvent(LocalEvent::kNew, vmFlow(kVm2, 2000));
  p.a.onProbeResult(kVm, true, kVmMac, kT0);
  p.a.onProbeResult(kVm2, true, std::nullopt, kT0);
  p.settle(kT0);
  ASSERT_EQ(p.a.takeHostActions().size(), 2u);  // won both
  ASSERT_EQ(p.b.peerSessions().size(), 12u);
  ASSERT_TRUE(p.b.mobility().ownedByPeer(kVm));

  // The VM arrives at B.
  p.b.onHostSighting(std::nullopt, kVmMac, kT0 + Millis{2000});
  auto actions = p.b.takeHostActions();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kProbe);
  p.b.onProbeResult(kVm, true, std::nullopt, kT0 + Millis{2001});
  actions = p.b.takeHostActions();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kWon);
  EXPECT_EQ(p.b.owned().size(), 11u);
  EXPECT_EQ(p.b.peerSessions().size(), 1u);  // the VM that stayed
  // Each TCP copy is re-created (a fresh TCP window), the UDP one updated in place (no moment
  // without an entry), all without the peer bit.
  const auto writes = p.b.takeKernelChanges();
  ASSERT_EQ(writes.size(), 21u);
  size_t removes = 0, creates = 0, updates = 0;
  for (const auto& w : writes) {
    const bool tcp = w.session.orig.proto == l4::kTcp;
    switch (w.kind) {
      case KernelChange::Kind::kRemove: ++removes; EXPECT_TRUE(tcp); break;
      case KernelChange::Kind::kCreate: ++creates; EXPECT_TRUE(tcp); break;
      case KernelChange::Kind::kUpdate: ++updates; EXPECT_FALSE(tcp); break;
    }
    EXPECT_EQ(w.origin, KernelChange::Origin::kLocal);
    EXPECT_EQ(w.session.mark & kPeerMark, 0u);
    EXPECT_EQ(w.session.orig.src, kVm);
  }
  EXPECT_EQ(removes, 10u);
  EXPECT_EQ(creates, 10u);
  EXPECT_EQ(updates, 1u);
  for (size_t i = 0; i + 1 < writes.size(); ++i) {  // each delete right before its create
    if (writes[i].kind == KernelChange::Kind::kRemove) {
      EXPECT_EQ(writes[i + 1].kind, KernelChange::Kind::kCreate);
      EXPECT_EQ(keyOf(writes[i + 1].session), keyOf(writes[i].session));
    }
  }

  p.pump(kT0 + Millis{2002});
  EXPECT_EQ(p.a.owned().size(), 1u);  // only the VM that stayed
  EXPECT_EQ(p.a.peerSessions().size(), 11u);
  EXPECT_TRUE(p.a.mobility().ownedByPeer(kVm));
  const auto lost = p.a.takeHostActions();
  ASSERT_FALSE(lost.empty());
  EXPECT_EQ(lost[0].kind, Kind::kLost);
  for (const auto& [key, e] : p.a.peerSessions()) EXPECT_EQ(e.session.owner, 2u);
}

TEST(MobilityEngineTest, ActivityOnCopiesOfAHostThePeerOwnsIsNotAMove) {
  EnginePair p;
  p.a.onConnected(kT0);
  p.b.onConnected(kT0);
  p.b.onProbeResult(kVm, true, kVmMac, kT0);
  p.b.onLocalEvent(LocalEvent::kNew, vmFlow(kVm, 1000));
  p.settle(kT0);
  ASSERT_EQ(p.a.peerSessions().size(), 1u);

  // Replies still reach A (asymmetric return path): its kernel reports the copy changing.
  Session seen = vmFlow(kVm, 1000);
  seen.tcp->state = 4;
  p.a.onLocalEvent(LocalEvent::kUpdate, seen);
  EXPECT_TRUE(p.a.owned().empty());
  EXPECT_EQ(p.a.stats().suppressed_activity, 1u);

  // A new flow of that host that A's kernel made is A's until B adopts it.
  p.a.onLocalEvent(LocalEvent::kNew, vmFlow(kVm, 1001));
  EXPECT_EQ(p.a.owned().size(), 1u);
  p.pump(kT0 + Millis{10});
  EXPECT_EQ(p.b.owned().size(), 2u);
  EXPECT_EQ(p.b.stats().adopted, 1u);
  EXPECT_TRUE(p.a.owned().empty());
}

TEST(MobilityEngineTest, HelloCarriesTheLoadBalancerChecksum) {
  SyncEngine::Options oa = engineOptions(1, 2, 1);
  oa.lb_checksum = 0x1234;
  SyncEngine a(oa);
  SyncEngine b(engineOptions(2, 1, 7));
  a.onConnected(kT0);
  b.onConnected(kT0);
  for (const auto& m : a.poll(kT0)) ASSERT_TRUE(b.onMessage(m, kT0));
  EXPECT_EQ(b.peerLbChecksum(), 0x1234u);
}

}  // namespace
}  // namespace gwsync::syncd
