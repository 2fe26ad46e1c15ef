#include "syncd/app/peer_validation.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test/unit/nat/test_util.h"

namespace gwsync::syncd {
namespace {

constexpr uint32_t kPeer = 2;

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

// An established TCP session from the inside network, as the peer's kernel reports it.
Session tcp(const char* src = "192.0.2.10", const char* dst = "203.0.113.10") {
  Session s;
  s.orig = {.src = ip(src), .dst = ip(dst), .proto = l4::kTcp, .src_port = 40000, .dst_port = 443};
  s.reply = invert(s.orig);
  s.status = status::kConfirmed | status::kSeenReply | status::kAssured;
  s.timeout = 431999;
  s.tcp = TcpInfo{.state = 3};
  s.owner = kPeer;
  s.version = 7;
  return s;
}

Session udp(uint32_t timeout = 120) {
  Session s = tcp();
  s.orig.proto = s.reply.proto = l4::kUdp;
  s.tcp.reset();
  s.timeout = timeout;
  return s;
}

class PeerValidationTest : public ::testing::Test {
 protected:
  PeerValidationTest() {
    filter_.include = {parsePrefix("192.0.2.0/24").value()};
    filter_.exclude = {parsePrefix("192.0.2.128/25").value()};
  }
  PeerVerdict check(Session& s) { return checkPeerSession(policy_, s); }
  std::optional<PeerReject> reason(Session s) { return check(s).reject; }

  SessionFilter filter_;
  PeerPolicy policy_{.peer_id = kPeer, .filter = &filter_};
};

TEST_F(PeerValidationTest, SessionInsideTheFilterIsAcceptedUnchanged) {
  Session s = tcp();
  const Session before = s;
  const PeerVerdict v = check(s);
  EXPECT_FALSE(v.reject.has_value());
  EXPECT_FALSE(v.timeout_capped);
  EXPECT_EQ(s, before);
}

TEST_F(PeerValidationTest, OwnerMustBeThePeer) {
  Session s = tcp();
  s.owner = 1;  // this node: a peer naming us the owner could borrow our NAT partition
  EXPECT_EQ(reason(s), PeerReject::kWrongOwner);
  s.owner = 0;
  EXPECT_EQ(reason(s), PeerReject::kWrongOwner);
}

TEST_F(PeerValidationTest, AddressesOutsideTheIncludePrefixesAreRefused) {
  EXPECT_EQ(reason(tcp("198.51.100.7", "203.0.113.10")), PeerReject::kAddressNotSynced);
  // Either end inside is enough, as for our own sessions.
  EXPECT_FALSE(reason(tcp("203.0.113.10", "192.0.2.10")).has_value());
}

TEST_F(PeerValidationTest, ExcludedAddressesAreRefused) {
  EXPECT_EQ(reason(tcp("192.0.2.200")), PeerReject::kAddressNotSynced);
}

TEST_F(PeerValidationTest, ProtocolNotSyncedIsRefused) {
  filter_.protocols.reset();
  filter_.protocols.set(l4::kTcp);
  EXPECT_FALSE(reason(tcp()).has_value());
  EXPECT_EQ(reason(udp()), PeerReject::kProtocolNotSynced);
}

TEST_F(PeerValidationTest, TcpStateNotSyncedIsRefused) {
  filter_.tcp_states.reset();
  filter_.tcp_states.set(3);  // established only
  Session s = tcp();
  EXPECT_FALSE(reason(s).has_value());
  s.tcp->state = 1;  // syn_sent
  EXPECT_EQ(reason(s), PeerReject::kTcpStateNotSynced);
}

TEST_F(PeerValidationTest, ZoneNotSyncedIsRefused) {
  filter_.zones = {0, 7};
  Session s = tcp();
  EXPECT_FALSE(reason(s).has_value());
  s.zone = 7;
  EXPECT_FALSE(reason(s).has_value());
  s.zone = 8;
  EXPECT_EQ(reason(s), PeerReject::kZoneNotSynced);
}

TEST_F(PeerValidationTest, EveryFilterRefusalMatchesSessionFilterAccepts) {
  // The receiver must refuse exactly what this node would not sync itself.
  filter_.protocols.reset(l4::kGre);
  filter_.tcp_states.reset(1);
  filter_.zones = {0, 1};
  for (const char* src : {"192.0.2.10", "192.0.2.200", "198.51.100.1"}) {
    for (uint8_t proto : {l4::kTcp, l4::kUdp, l4::kGre}) {
      for (uint8_t state : {1, 3, 7}) {
        for (uint16_t zone : {0, 2}) {
          Session s = tcp(src);
          s.orig.proto = s.reply.proto = proto;
          if (proto == l4::kTcp)
            s.tcp->state = state;
          else
            s.tcp.reset();
          s.zone = zone;
          const bool refused = reason(s).has_value();
          EXPECT_EQ(refused, !filter_.accepts(s)) << describe(s);
        }
      }
    }
  }
}

TEST_F(PeerValidationTest, DyingTemplateUntrackedAndUnknownStatusBitsAreRefused) {
  for (uint32_t bit : {status::kDying, status::kTemplate, 1u << 12, 1u << 16, 1u << 31}) {
    Session s = tcp();
    s.status |= bit;
    EXPECT_EQ(reason(s), PeerReject::kBadStatus) << std::hex << bit;
  }
  Session nat = tcp();
  nat.status |= status::kSrcNat | status::kSrcNatDone | status::kDstNatDone | status::kHelper |
                status::kOffload | status::kExpected | status::kSeqAdjust;
  EXPECT_FALSE(reason(nat).has_value());
}

TEST_F(PeerValidationTest, TcpAndSctpNeedARealState) {
  Session s = tcp();
  s.tcp->state = 0;  // NONE
  EXPECT_EQ(reason(s), PeerReject::kBadState);
  s.tcp.reset();
  EXPECT_EQ(reason(s), PeerReject::kBadState);
  Session sctp = udp();
  sctp.orig.proto = sctp.reply.proto = l4::kSctp;
  EXPECT_EQ(reason(sctp), PeerReject::kBadState);
  sctp.sctp = SctpInfo{.state = 4};  // ESTABLISHED
  EXPECT_FALSE(reason(sctp).has_value());
  sctp.sctp->state = 0;
  EXPECT_EQ(reason(sctp), PeerReject::kBadState);
  EXPECT_FALSE(reason(udp()).has_value());  // no state to check
}

TEST_F(PeerValidationTest, ZeroTimeoutIsRefused) {
  EXPECT_EQ(reason(udp(0)), PeerReject::kZeroTimeout);
  EXPECT_FALSE(reason(udp(1)).has_value());
}

TEST_F(PeerValidationTest, TimeoutsAboveTheCeilingAreLoweredNotRefused) {
  Session s = tcp();
  s.timeout = 4000000000u;
  PeerVerdict v = check(s);
  EXPECT_FALSE(v.reject.has_value());
  EXPECT_TRUE(v.timeout_capped);
  EXPECT_EQ(s.timeout, 432000u);
  s.timeout = 432000;  // at the ceiling: unchanged
  EXPECT_FALSE(check(s).timeout_capped);
  Session u = udp(86401);
  v = check(u);
  EXPECT_TRUE(v.timeout_capped);
  EXPECT_EQ(u.timeout, 86400u);
  policy_.timeout_max_s = 300;
  u = udp(301);
  EXPECT_TRUE(check(u).timeout_capped);
  EXPECT_EQ(u.timeout, 300u);
}

TEST_F(PeerValidationTest, RefusedSessionIsNotModified) {
  Session s = tcp("198.51.100.7");
  s.timeout = 4000000000u;
  const Session before = s;
  EXPECT_TRUE(check(s).reject.has_value());
  EXPECT_EQ(s, before);
}

TEST_F(PeerValidationTest, FirstFailingCheckWins) {
  Session s = tcp("198.51.100.7");  // outside the filter ...
  s.timeout = 0;                    // ... and dead on arrival ...
  s.owner = 9;                      // ... and not the peer's
  EXPECT_EQ(reason(s), PeerReject::kWrongOwner);
  s.owner = kPeer;
  EXPECT_EQ(reason(s), PeerReject::kZeroTimeout);
  s.timeout = 10;
  EXPECT_EQ(reason(s), PeerReject::kAddressNotSynced);
}

TEST_F(PeerValidationTest, NatBindingIsCheckedAgainstThePeersPartition) {
  // nat test_util's pair {1, 2}: v4 pool 198.51.100.100, node 1 1024-33279, node 2 33280-65535.
  const nat::NatConfig nat = nat::testing::build(nat::testing::validSpec());
  policy_.nat = &nat;
  auto bound = [](uint16_t port) {
    Session s = nat::testing::snat(l4::kTcp, "192.0.2.10", 40000, "203.0.113.10", 443,
                                   "198.51.100.100", port);
    s.status = status::kConfirmed | status::kSrcNat;
    s.timeout = 100;
    s.tcp = TcpInfo{.state = 3};
    s.owner = kPeer;
    return s;
  };
  Session in = bound(40000);
  EXPECT_FALSE(check(in).reject.has_value());
  Session ours = bound(2000);  // in node 1's partition: ours, not the peer's
  const PeerVerdict v = check(ours);
  EXPECT_EQ(v.reject, PeerReject::kNatBinding);
  EXPECT_EQ(v.nat, nat::BindingVerdict::kOutsidePartition);
  // A binding a [nat] before a reload accepted still passes (the session kept its port).
  policy_.nat_accepted_before = [](const Session& s) { return s.reply.dst_port == 2000; };
  EXPECT_FALSE(check(ours).reject.has_value());
  Session other = bound(2001);
  EXPECT_EQ(check(other).reject, PeerReject::kNatBinding);
  ours.owner = 1;  // claiming to be ours does not help
  EXPECT_EQ(check(ours).reject, PeerReject::kWrongOwner);
}

TEST(PeerRejectTest, NamesAreDistinctSnakeCase) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kPeerRejectCount; ++i) {
    const std::string_view n = peerRejectName(static_cast<PeerReject>(i));
    EXPECT_NE(n, "unknown");
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos) << n;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), kPeerRejectCount);
}

}  // namespace
}  // namespace gwsync::syncd
