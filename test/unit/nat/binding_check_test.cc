#include "nat/binding_check.h"

#include <gtest/gtest.h>

#include <set>

#include "test/unit/nat/test_util.h"

namespace gwsync::nat {
namespace {

using syncd::Session;
using testing::build;
using testing::ip;
using testing::snat;
using testing::validSpec;
namespace l4 = syncd::l4;

// Partitions of validSpec(): v4 node 1 1024-33279, node 2 33280-65535;
// v6 node 1 10000-14999, node 2 15000-19999.
class BindingCheckTest : public ::testing::Test {
 protected:
  NatConfig config_ = build(validSpec());

  BindingVerdict verdict(uint32_t owner, const Session& s) {
    return checkBinding(config_, owner, s);
  }
};

Session v4(uint16_t pub_port, uint8_t proto = l4::kTcp) {
  return snat(proto, "192.0.2.10", 40000, "203.0.113.10", 443, "198.51.100.100", pub_port);
}

TEST_F(BindingCheckTest, PortInTheOwnersPartition) {
  EXPECT_EQ(verdict(1, v4(1024)), BindingVerdict::kInPartition);
  EXPECT_EQ(verdict(1, v4(33279)), BindingVerdict::kInPartition);
  EXPECT_EQ(verdict(2, v4(33280)), BindingVerdict::kInPartition);
  EXPECT_EQ(verdict(2, v4(65535, l4::kUdp)), BindingVerdict::kInPartition);
  EXPECT_TRUE(bindingAllowed(config_, 1, v4(2000)));
}

TEST_F(BindingCheckTest, PortInTheOtherNodesPartition) {
  EXPECT_EQ(verdict(1, v4(33280)), BindingVerdict::kOutsidePartition);
  EXPECT_EQ(verdict(2, v4(33279)), BindingVerdict::kOutsidePartition);
  EXPECT_FALSE(bindingAllowed(config_, 2, v4(1024)));
}

TEST_F(BindingCheckTest, AMobileHostsSessionMayCarryTheOtherNodesPort) {
  // The host moved: its owner is now node 2, the port came from node 1's partition.
  EXPECT_EQ(checkBinding(config_, 2, v4(1024), true), BindingVerdict::kMovedHost);
  EXPECT_EQ(checkBinding(config_, 1, v4(65535), true), BindingVerdict::kMovedHost);
  EXPECT_TRUE(accepted(checkBinding(config_, 2, v4(1024), true)));
  // Still refused: a port in nobody's partition, and any of this without [mobility].
  EXPECT_EQ(checkBinding(config_, 2, v4(80), true), BindingVerdict::kOutsidePartition);
  EXPECT_EQ(checkBinding(config_, 2, v4(1024), false), BindingVerdict::kOutsidePartition);
}

TEST_F(BindingCheckTest, PortOutsideThePoolRange) {
  EXPECT_EQ(verdict(1, v4(80)), BindingVerdict::kOutsidePartition);
}

TEST_F(BindingCheckTest, OwnerThatIsNoNodeOfThePair) {
  EXPECT_EQ(verdict(3, v4(2000)), BindingVerdict::kUnknownOwner);
  EXPECT_EQ(verdict(0, v4(2000)), BindingVerdict::kUnknownOwner);
  EXPECT_FALSE(bindingAllowed(config_, 3, v4(2000)));
}

TEST_F(BindingCheckTest, Ipv6Pool) {
  const auto s = [](uint16_t port) {
    return snat(l4::kTcp, "2001:db8:1::10", 40000, "2001:db8:5::1", 443, "2001:db8:ffff::100",
                port);
  };
  EXPECT_EQ(verdict(1, s(10000)), BindingVerdict::kInPartition);
  EXPECT_EQ(verdict(2, s(19999)), BindingVerdict::kInPartition);
  EXPECT_EQ(verdict(1, s(15000)), BindingVerdict::kOutsidePartition);
  EXPECT_EQ(verdict(2, s(20000)), BindingVerdict::kOutsidePartition);
}

TEST_F(BindingCheckTest, IcmpIdsArePartitionedToo) {
  Session s;
  s.orig = {.src = ip("192.0.2.10"),
            .dst = ip("203.0.113.10"),
            .proto = l4::kIcmp,
            .icmp_id = 7,
            .icmp_type = 8};
  s.reply = syncd::invert(s.orig);
  s.reply.dst = ip("198.51.100.100");
  s.reply.icmp_id = 40000;
  EXPECT_EQ(verdict(2, s), BindingVerdict::kInPartition);
  EXPECT_EQ(verdict(1, s), BindingVerdict::kOutsidePartition);
}

TEST_F(BindingCheckTest, ProtocolsWithoutPortsAreAddressOnly) {
  Session s = v4(0, l4::kGre);
  EXPECT_EQ(verdict(1, s), BindingVerdict::kAddressOnly);
  EXPECT_TRUE(bindingAllowed(config_, 2, s));
}

TEST_F(BindingCheckTest, StaticMappingOfItsOwnInsideAddress) {
  const Session out =
      snat(l4::kTcp, "192.0.2.20", 40000, "203.0.113.10", 443, "198.51.100.20", 40000);
  EXPECT_EQ(verdict(1, out), BindingVerdict::kStatic);
  EXPECT_EQ(verdict(2, out), BindingVerdict::kStatic);  // 1:1 belongs to no partition
  const Session v6 =
      snat(l4::kUdp, "2001:db8:1::20", 5353, "2001:db8:5::1", 53, "2001:db8:ffff::20", 5353);
  EXPECT_EQ(verdict(2, v6), BindingVerdict::kStatic);
}

TEST_F(BindingCheckTest, StaticPublicAddressOfAnotherHost) {
  const Session s =
      snat(l4::kTcp, "192.0.2.99", 40000, "203.0.113.10", 443, "198.51.100.20", 40000);
  EXPECT_EQ(verdict(1, s), BindingVerdict::kStaticMismatch);
  EXPECT_FALSE(bindingAllowed(config_, 1, s));
}

TEST_F(BindingCheckTest, InboundToAStaticAddress) {
  Session s;
  s.orig = {.src = ip("203.0.113.10"),
            .dst = ip("198.51.100.20"),
            .proto = l4::kTcp,
            .src_port = 50000,
            .dst_port = 22};
  s.reply = syncd::invert(s.orig);
  s.reply.src = ip("192.0.2.20");
  EXPECT_EQ(verdict(1, s), BindingVerdict::kNotTranslated);  // no source NAT; DNAT is right
  s.reply.src = ip("192.0.2.21");
  EXPECT_EQ(verdict(1, s), BindingVerdict::kStaticMismatch);
}

TEST_F(BindingCheckTest, UntranslatedAndForeignBindingsPass) {
  Session plain;
  plain.orig = {.src = ip("192.0.2.10"),
                .dst = ip("203.0.113.10"),
                .proto = l4::kTcp,
                .src_port = 40000,
                .dst_port = 443};
  plain.reply = syncd::invert(plain.orig);
  EXPECT_EQ(verdict(1, plain), BindingVerdict::kNotTranslated);
  // Masqueraded by the operator's own rules to an address gwsync does not manage.
  const Session foreign =
      snat(l4::kTcp, "192.0.2.10", 40000, "203.0.113.10", 443, "203.0.113.2", 40000);
  EXPECT_EQ(verdict(1, foreign), BindingVerdict::kForeign);
  EXPECT_TRUE(bindingAllowed(config_, 7, foreign));
}

TEST_F(BindingCheckTest, EmptyConfigAcceptsEverything) {
  const NatConfig empty = build(NatSpec{});
  EXPECT_EQ(checkBinding(empty, 1, v4(40000)), BindingVerdict::kForeign);
}

TEST(BindingVerdictTest, NamesAreDistinctAndAcceptanceSplitsThem) {
  std::set<std::string_view> names;
  int accepted_count = 0;
  for (size_t i = 0; i < kBindingVerdicts; ++i) {
    const auto v = static_cast<BindingVerdict>(i);
    names.insert(verdictName(v));
    accepted_count += accepted(v) ? 1 : 0;
  }
  EXPECT_EQ(names.size(), kBindingVerdicts);
  EXPECT_EQ(accepted_count, 6);
  EXPECT_EQ(verdictName(BindingVerdict::kOutsidePartition), "outside_partition");
}

}  // namespace
}  // namespace gwsync::nat
