#include "nat/nft_render.h"

#include <gtest/gtest.h>

#include "test/unit/nat/test_util.h"

namespace gwsync::nat {
namespace {

using testing::build;
using testing::validSpec;

std::string rendered(const NatConfig& c, uint32_t node) {
  auto r = renderTable(c, node);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return r.ok() ? *r : "";
}

constexpr const char* kNode1 = R"(table inet gwsync_nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan" ip daddr 198.51.100.20 counter dnat ip to 192.0.2.20 comment "static"
		iifname "wan" ip6 daddr 2001:db8:ffff::20 counter dnat ip6 to 2001:db8:1::20 comment "static"
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" ip saddr 192.0.2.20 counter snat ip to 198.51.100.20 comment "static"
		oifname "wan" ip6 saddr 2001:db8:1::20 counter snat ip6 to 2001:db8:ffff::20 comment "static"
		oifname "wan" ip saddr { 192.0.2.0/24 } meta l4proto { tcp, udp, udplite, sctp, dccp, icmp } counter snat ip to 198.51.100.100:1024-33279 comment "pool v4"
		oifname "wan" ip saddr { 192.0.2.0/24 } counter snat ip to 198.51.100.100 comment "pool v4"
		oifname "wan" ip6 saddr { 2001:db8:1::/64 } meta l4proto { tcp, udp, udplite, sctp, dccp, icmpv6 } counter snat ip6 to [2001:db8:ffff::100]:10000-14999 comment "pool v6"
		oifname "wan" ip6 saddr { 2001:db8:1::/64 } counter snat ip6 to 2001:db8:ffff::100 comment "pool v6"
	}
}
)";

TEST(NftRenderTest, Node1) { EXPECT_EQ(rendered(build(validSpec()), 1), kNode1); }

TEST(NftRenderTest, Node2DiffersOnlyInItsPartitions) {
  std::string want = kNode1;
  const auto swap = [&want](const std::string& from, const std::string& to) {
    const size_t at = want.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    want.replace(at, from.size(), to);
  };
  swap(":1024-33279", ":33280-65535");
  swap(":10000-14999", ":15000-19999");
  EXPECT_EQ(rendered(build(validSpec()), 2), want);
}

TEST(NftRenderTest, Deterministic) {
  const NatConfig c = build(validSpec());
  EXPECT_EQ(rendered(c, 1), rendered(build(validSpec()), 1));
}

TEST(NftRenderTest, SeveralAddressesHashTheInsideSourceWithAFixedSeed) {
  NatSpec s;
  s.inside = {"192.0.2.0/24", "192.0.2.128/25", "203.0.113.64/26"};
  s.outside_interface = "eth1";
  s.pools.push_back({.name = "multi",
                     .addresses = {"198.51.100.100", "198.51.100.101", "198.51.100.110"},
                     .ports = "20000-29999",
                     .partitions = {{"2", "25000-29999"}, {"1", "20000-24999"}}});
  EXPECT_EQ(rendered(build(s), 2), R"(table inet gwsync_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth1" ip saddr { 192.0.2.0/24, 203.0.113.64/26 } meta l4proto { tcp, udp, udplite, sctp, dccp, icmp } counter snat ip to jhash ip saddr mod 3 seed 0x67777363 map { 0 : 198.51.100.100, 1 : 198.51.100.101, 2 : 198.51.100.110 } : 25000-29999 comment "pool multi"
		oifname "eth1" ip saddr { 192.0.2.0/24, 203.0.113.64/26 } counter snat ip to jhash ip saddr mod 3 seed 0x67777363 map { 0 : 198.51.100.100, 1 : 198.51.100.101, 2 : 198.51.100.110 } comment "pool multi"
	}
}
)");
}

TEST(NftRenderTest, EmptyConfigIsAnEmptyTable) {
  EXPECT_EQ(rendered(build(NatSpec{}), 1), "table inet gwsync_nat {\n}\n");
}

TEST(NftRenderTest, UnknownNodeIsAnError) {
  auto r = renderTable(build(validSpec()), 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "node 3 is not a node of the NAT config");
}

TEST(NftRenderTest, ReplaceIsOneTransactionOnOurTableOnly) {
  EXPECT_EQ(replaceTableCommands("table inet gwsync_nat {\n}\n"),
            "add table inet gwsync_nat\ndelete table inet gwsync_nat\n"
            "table inet gwsync_nat {\n}\n");
  EXPECT_EQ(removeTableCommands(), "add table inet gwsync_nat\ndelete table inet gwsync_nat\n");
}

TEST(NftRenderTest, NamesNoOtherTable) {
  const std::string text = replaceTableCommands(rendered(build(validSpec()), 1));
  size_t pos = 0;
  int tables = 0;
  while ((pos = text.find("table ", pos)) != std::string::npos) {
    EXPECT_EQ(text.compare(pos, 21, "table inet gwsync_nat"), 0) << text.substr(pos, 40);
    pos += 6;
    ++tables;
  }
  EXPECT_EQ(tables, 3);
}

}  // namespace
}  // namespace gwsync::nat
