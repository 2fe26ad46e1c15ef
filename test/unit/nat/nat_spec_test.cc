#include "nat/nat_spec.h"

#include <gtest/gtest.h>

#include "test/unit/nat/test_util.h"

namespace gwsync::nat {
namespace {

using testing::build;
using testing::errorsOf;
using testing::ip;
using testing::validSpec;
using V = std::vector<std::string>;

TEST(NatSpecTest, BuildsTheValidSpec) {
  const NatConfig c = build(validSpec());
  EXPECT_EQ(c.nodes, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(c.outside_interface, "wan");
  ASSERT_EQ(c.pools.size(), 2u);
  const Pool& v4 = c.pools[0];
  EXPECT_EQ(v4.family, syncd::Family::kIpv4);
  EXPECT_EQ(v4.addresses, std::vector<syncd::IpAddress>{ip("198.51.100.100")});
  EXPECT_FALSE(v4.explicit_partitions);
  EXPECT_EQ(*v4.partitionOf(1), (PortRange{1024, 33279}));
  EXPECT_EQ(*v4.partitionOf(2), (PortRange{33280, 65535}));
  ASSERT_EQ(v4.inside.size(), 1u);  // the pool takes nat.inside's IPv4 prefixes only
  EXPECT_EQ(v4.inside[0].toString(), "192.0.2.0/24");
  const Pool& v6 = c.pools[1];
  EXPECT_TRUE(v6.explicit_partitions);
  EXPECT_EQ(*v6.partitionOf(2), (PortRange{15000, 19999}));
  EXPECT_EQ(v6.inside[0].toString(), "2001:db8:1::/64");
  ASSERT_EQ(c.statics.size(), 2u);
  EXPECT_EQ(c.statics[0].public_addr, ip("198.51.100.20"));
}

TEST(NatSpecTest, NodesAreSortedWhateverTheOrderGiven) {
  const NatConfig a = build(validSpec(), {2, 1});
  const NatConfig b = build(validSpec(), {1, 2});
  EXPECT_EQ(a.nodes, b.nodes);
  EXPECT_EQ(a.pools[0].partitions, b.pools[0].partitions);
}

TEST(NatSpecTest, DefaultPortsLeaveThePrivilegedOnesAlone) {
  NatSpec s = validSpec();
  s.pools[0].ports.reset();
  EXPECT_EQ(build(s).pools[0].ports, (PortRange{1024, 65535}));
}

TEST(NatSpecTest, AnEmptySpecIsAnEmptyConfig) {
  const NatConfig c = build(NatSpec{});
  EXPECT_TRUE(c.empty());
}

TEST(NatSpecTest, DuplicatePoolNames) {
  NatSpec s = validSpec();
  s.pools[1].name = "v4";
  EXPECT_EQ(errorsOf(s),
            V{"nat.pool[1].name = \"v4\": duplicate pool name: nat.pool[0] is called that too"});
}

TEST(NatSpecTest, BadPoolNames) {
  NatSpec s = validSpec();
  s.pools[0].name = "has space";
  EXPECT_EQ(errorsOf(s), V{"nat.pool[0].name = \"has space\": pool names are 1..32 characters "
                           "of A-Z, a-z, 0-9, '_', '-', '.'"});
}

TEST(NatSpecTest, PortRangeOutside1To65535) {
  NatSpec s = validSpec();
  s.pools[0].ports = "0-65535";
  EXPECT_EQ(errorsOf(s), V{"nat.pool[0].ports = \"0-65535\": pool \"v4\": port 0 is outside "
                           "1..65535"});
  s.pools[0].ports = "1024-70000";
  EXPECT_EQ(errorsOf(s), V{"nat.pool[0].ports = \"1024-70000\": pool \"v4\": port 70000 is "
                           "outside 1..65535"});
}

TEST(NatSpecTest, EmptyPortRange) {
  NatSpec s = validSpec();
  s.pools[0].ports = "40000-30000";
  EXPECT_EQ(errorsOf(s), V{"nat.pool[0].ports = \"40000-30000\": pool \"v4\": empty range: "
                           "40000 is above 30000"});
}

TEST(NatSpecTest, RangeTooSmallForTheNodes) {
  NatSpec s = validSpec();
  s.pools[0].ports = "5000";
  EXPECT_EQ(errorsOf(s), V{"nat.pool[0].ports = \"5000\": pool \"v4\": port range 5000 has 1 "
                           "ports, fewer than the 2 nodes (1, 2)"});
}

TEST(NatSpecTest, OverlappingPartitions) {
  NatSpec s = validSpec();
  s.pools[1].partitions = {{"1", "10000-15000"}, {"2", "15000-19999"}};
  EXPECT_EQ(errorsOf(s),
            V{"nat.pool[1].partitions.2 = \"15000-19999\": pool \"v6\": partition of node 2 "
              "(15000-19999) overlaps the partition of node 1 (10000-15000): both could pick "
              "the same public port"});
}

TEST(NatSpecTest, UnknownNodeInPartitions) {
  NatSpec s = validSpec();
  s.pools[1].partitions.push_back({"3", "10000-10001"});
  const V errors = errorsOf(s);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0],
            "nat.pool[1].partitions.3 = \"10000-10001\": pool \"v6\": node 3 is not a "
            "node of this pair (nodes: 1, 2)");
}

TEST(NatSpecTest, PartitionNodeThatIsNoNumber) {
  NatSpec s = validSpec();
  s.pools[1].partitions[0].node = "gw-a";
  EXPECT_EQ(errorsOf(s), V{"nat.pool[1].partitions.gw-a = \"10000-14999\": pool \"v6\": 'gw-a' "
                           "is not a node id (1..65535)"});
}

TEST(NatSpecTest, PartitionOutsideThePoolAndMissingNode) {
  NatSpec s = validSpec();
  s.pools[1].partitions = {{"1", "9000-9999"}};
  EXPECT_EQ(errorsOf(s),
            (V{"nat.pool[1].partitions.1 = \"9000-9999\": pool \"v6\": partition of node 1 "
               "(9000-9999) lies outside the pool's ports 10000-19999",
               "nat.pool[1].partitions.2: pool \"v6\": node 2 has no partition: it could not "
               "translate to this pool"}));
}

TEST(NatSpecTest, MixedFamiliesInAPool) {
  NatSpec s = validSpec();
  s.pools[0].addresses.push_back("2001:db8:ffff::7");
  EXPECT_EQ(errorsOf(s),
            V{"nat.pool[0].addresses[1] = \"2001:db8:ffff::7\": pool \"v4\": mixed families: "
              "2001:db8:ffff::7 is IPv6 but 198.51.100.100 is IPv4 (one pool per family)"});
}

TEST(NatSpecTest, MixedFamiliesInAMapping) {
  NatSpec s = validSpec();
  s.statics[0].public_addr = "2001:db8:ffff::21";
  EXPECT_EQ(errorsOf(s), V{"nat.static[0].public = \"2001:db8:ffff::21\": 1:1 mapping "
                           "192.0.2.20 -> 2001:db8:ffff::21: mixed families: IPv4 inside, IPv6 "
                           "public"});
}

TEST(NatSpecTest, MixedFamiliesInAPoolsInside) {
  NatSpec s = validSpec();
  s.pools[0].inside = std::vector<std::string>{"2001:db8:1::/64"};
  EXPECT_EQ(errorsOf(s), V{"nat.pool[0].inside[0] = \"2001:db8:1::/64\": pool \"v4\": mixed "
                           "families: an IPv6 prefix for a pool of IPv4 addresses"});
}

TEST(NatSpecTest, StaticPublicAddressInsideAPool) {
  NatSpec s = validSpec();
  s.statics[0].public_addr = "198.51.100.100";
  EXPECT_EQ(errorsOf(s), V{"nat.static[0].public = \"198.51.100.100\": 1:1 mapping 192.0.2.20 "
                           "-> 198.51.100.100: the public address is in pool \"v4\", whose SNAT "
                           "would hand its ports to other hosts"});
}

TEST(NatSpecTest, StaticsMappedTwice) {
  NatSpec s = validSpec();
  s.statics.push_back({.inside = "192.0.2.21", .public_addr = "198.51.100.20"});
  s.statics.push_back({.inside = "192.0.2.20", .public_addr = "198.51.100.22"});
  EXPECT_EQ(errorsOf(s),
            (V{"nat.static[2].public = \"198.51.100.20\": 1:1 mapping 192.0.2.21 -> "
               "198.51.100.20: public address mapped twice",
               "nat.static[3].inside = \"192.0.2.20\": 1:1 mapping 192.0.2.20 -> 198.51.100.22: "
               "inside address mapped twice"}));
}

TEST(NatSpecTest, BadAddresses) {
  NatSpec s = validSpec();
  s.pools[0].addresses = {"198.51.100"};
  s.statics[0].inside = "vm1";
  EXPECT_EQ(errorsOf(s),
            (V{"nat.pool[0].addresses[0] = \"198.51.100\": pool \"v4\": not an IPv4 or IPv6 "
               "address",
               "nat.static[0].inside = \"vm1\": not an IPv4 or IPv6 address"}));
}

TEST(NatSpecTest, AddressInTwoPools) {
  NatSpec s = validSpec();
  s.pools.push_back(
      {.name = "again", .addresses = {"198.51.100.100"}, .inside = V{"192.0.2.0/30"}});
  const V errors = errorsOf(s);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0],
            "nat.pool[2].addresses[0] = \"198.51.100.100\": pool \"again\": "
            "198.51.100.100 is already in pool \"v4\"");
}

TEST(NatSpecTest, PoolWithoutAddresses) {
  NatSpec s = validSpec();
  s.pools[0].addresses.clear();
  EXPECT_EQ(errorsOf(s), V{"nat.pool[0].addresses: pool \"v4\": a pool needs at least one public "
                           "address"});
}

TEST(NatSpecTest, PoolWithNoInsideOfItsFamily) {
  NatSpec s = validSpec();
  s.inside = {"192.0.2.0/24"};
  EXPECT_EQ(errorsOf(s), V{"nat.pool[1].inside: pool \"v6\": no IPv6 prefix in nat.inside (or "
                           "the pool's own inside): it would translate nothing"});
}

TEST(NatSpecTest, PoolsOfOneFamilyWithOverlappingInside) {
  NatSpec s = validSpec();
  s.pools.push_back({.name = "second", .addresses = {"198.51.100.101"}});
  EXPECT_EQ(errorsOf(s), V{"nat.pool[2].inside: pool \"second\": inside 192.0.2.0/24 overlaps "
                           "192.0.2.0/24 of pool \"v4\": a connection from there would match "
                           "both (give each pool its own inside)"});
  s.pools[0].inside = V{"192.0.2.0/25"};
  s.pools[2].inside = V{"192.0.2.128/25"};
  EXPECT_EQ(build(s).pools.size(), 3u);
}

TEST(NatSpecTest, OutsideInterface) {
  NatSpec s = validSpec();
  s.outside_interface = "";
  EXPECT_EQ(errorsOf(s), V{"nat.outside_interface: required with nat.pool or nat.static: the "
                           "interface translated traffic leaves by"});
  s.outside_interface = "wan\";x";
  EXPECT_EQ(errorsOf(s), V{"nat.outside_interface = \"wan\\\";x\": contains a "
                           "character an interface name cannot hold (space, '/', ':', quote)"});
  s.outside_interface = "a-very-long-interface";
  EXPECT_EQ(errorsOf(s), V{"nat.outside_interface = \"a-very-long-interface\": longer than 15 "
                           "bytes (IFNAMSIZ)"});
}

TEST(NatSpecTest, BadInsidePrefix) {
  NatSpec s = validSpec();
  s.inside.push_back("192.0.2.0/33");
  EXPECT_EQ(errorsOf(s), V{"nat.inside[2] = \"192.0.2.0/33\": prefix length 33 is longer than 32 for an IPv4 address"});
}

TEST(NatSpecTest, NoNodes) {
  EXPECT_EQ(errorsOf(validSpec(), {}),
            V{"node.id: NAT needs the node ids of the pair (node.id, sync.peer_id), 1..65535"});
}

TEST(NatSpecTest, ReportsEveryErrorAtOnce) {
  NatSpec s = validSpec();
  s.pools[0].ports = "0";
  s.pools[1].name = "v4";
  s.statics[1].public_addr = "x";
  EXPECT_EQ(errorsOf(s).size(), 3u);
}

TEST(NatSpecTest, QuotedEscapesLikeToml) {
  EXPECT_EQ(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
}

}  // namespace
}  // namespace gwsync::nat
