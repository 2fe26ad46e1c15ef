#include "nat/usage.h"

#include <gtest/gtest.h>

#include "test/unit/nat/test_util.h"

namespace gwsync::nat {
namespace {

using testing::build;
using testing::ip;
using testing::snat;
using testing::validSpec;
namespace l4 = syncd::l4;

TEST(NatUsageTest, CountsBindingsPerPartitionMappingAndOthers) {
  const NatConfig c = build(validSpec());
  NatUsage u = emptyUsage(c);
  const auto v4 = [](uint16_t port) {
    return snat(l4::kTcp, "192.0.2.10", 40000, "203.0.113.10", 443, "198.51.100.100", port);
  };
  countBinding(c, v4(1024), u);
  countBinding(c, v4(2000), u);
  countBinding(c, v4(40000), u);
  countBinding(c, v4(80), u);  // in no partition
  countBinding(c, snat(l4::kGre, "192.0.2.10", 0, "203.0.113.10", 0, "198.51.100.100", 0), u);
  countBinding(c, snat(l4::kTcp, "192.0.2.20", 1, "203.0.113.10", 443, "198.51.100.20", 1), u);
  countBinding(c, snat(l4::kTcp, "192.0.2.9", 1, "203.0.113.10", 443, "203.0.113.2", 1), u);
  syncd::Session plain;
  plain.orig = {.src = ip("192.0.2.10"),
                .dst = ip("203.0.113.10"),
                .proto = l4::kUdp,
                .src_port = 1,
                .dst_port = 2};
  plain.reply = syncd::invert(plain.orig);
  countBinding(c, plain, u);
  syncd::Session inbound;
  inbound.orig = {.src = ip("203.0.113.10"),
                  .dst = ip("198.51.100.20"),
                  .proto = l4::kTcp,
                  .src_port = 5,
                  .dst_port = 22};
  inbound.reply = syncd::invert(inbound.orig);
  inbound.reply.src = ip("192.0.2.20");
  countBinding(c, inbound, u);

  EXPECT_EQ(u.pools[0].per_partition, (std::vector<uint64_t>{2, 1}));
  EXPECT_EQ(u.pools[0].outside_partitions, 1u);
  EXPECT_EQ(u.pools[0].address_only, 1u);
  EXPECT_EQ(u.statics, (std::vector<uint64_t>{2, 0}));
  EXPECT_EQ(u.foreign, 1u);
  EXPECT_EQ(u.not_translated, 1u);

  EXPECT_EQ(describeNat(c, 1, &u),
            "nodes=1,2 self=1 outside_interface=wan\n"
            "pool name=v4 family=ipv4 addresses=198.51.100.100 ports=1024-65535 "
            "partitions=derived\n"
            "partition pool=v4 node=1 ports=1024-33279 self=yes bindings=2\n"
            "partition pool=v4 node=2 ports=33280-65535 self=no bindings=1\n"
            "pool_extra pool=v4 outside_partitions=1 address_only=1\n"
            "pool name=v6 family=ipv6 addresses=2001:db8:ffff::100 ports=10000-19999 "
            "partitions=explicit\n"
            "partition pool=v6 node=1 ports=10000-14999 self=yes bindings=0\n"
            "partition pool=v6 node=2 ports=15000-19999 self=no bindings=0\n"
            "pool_extra pool=v6 outside_partitions=0 address_only=0\n"
            "static inside=192.0.2.20 public=198.51.100.20 bindings=2\n"
            "static inside=2001:db8:1::20 public=2001:db8:ffff::20 bindings=0\n"
            "sessions not_translated=1 foreign=1\n");
}

TEST(NatUsageTest, DescribesTheConfigWithoutUsage) {
  const NatConfig c = build(validSpec());
  const std::string text = describeNat(c, 2, nullptr);
  EXPECT_NE(text.find("partition pool=v4 node=2 ports=33280-65535 self=yes\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("bindings"), std::string::npos);
  EXPECT_EQ(text.find("sessions"), std::string::npos);
}

}  // namespace
}  // namespace gwsync::nat
