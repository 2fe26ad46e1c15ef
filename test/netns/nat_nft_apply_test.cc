// The nftables adapter against the real kernel, in throwaway namespaces: the rendered table is
// what `nft list` shows, a replace swaps it in one transaction, a rejected text leaves the
// previous table untouched and reports the offending line, and no other table is ever touched.
#include <gtest/gtest.h>

#include <string>

#include "nat/nft_apply.h"
#include "nat/nft_render.h"
#include "syncd/kernel/netns.h"
#include "test/netns/lab.h"

namespace gwsync::nat {
namespace {

using test::Lab;

constexpr const char* kOtherTable =
    "table ip operator_fw { chain input { type filter hook input priority 0; policy accept; "
    "ct state established counter accept; }; }";

std::string table(const std::string& ports) {
  return "table inet gwsync_nat {\n"
         "\tchain postrouting {\n"
         "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
         "\t\toifname \"wan\" ip saddr { 192.0.2.0/24 } meta l4proto { tcp, udp } counter snat ip "
         "to 198.51.100.100:" +
         ports +
         " comment \"pool shared\"\n"
         "\t}\n"
         "}\n";
}

class NftApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::isRoot()) GTEST_SKIP() << "needs root";
    ns_ = lab_.add("gw");
    ASSERT_TRUE(lab_.run(Lab::in(ns_) + "nft '" + std::string(kOtherTable) + "'"));
    other_before_ = otherTable();
    ASSERT_NE(other_before_.find("operator_fw"), std::string::npos);
  }

  // Everything runs inside the namespace: the context's socket is opened there.
  template <class Fn>
  void inNamespace(Fn&& fn) {
    auto guard = syncd::NetnsGuard::enter(ns_);
    ASSERT_TRUE(guard.ok()) << guard.error();
    auto applier = NftApplier::open();
    ASSERT_TRUE(applier.ok()) << applier.error();
    fn(*applier);
  }

  std::string otherTable() { return lab_.output(Lab::in(ns_) + "nft list table ip operator_fw"); }
  std::string ourTable() {
    return lab_.output(Lab::in(ns_) + "nft list table inet gwsync_nat 2>/dev/null || true");
  }

  Lab lab_;
  std::string ns_;
  std::string other_before_;
};

TEST_F(NftApplyTest, ReplaceCreatesThenReplacesOnlyOurTable) {
  inNamespace([&](NftApplier& nft) {
    auto first = nft.replaceTable(table("1024-33279"));
    ASSERT_TRUE(first.ok()) << first.error().toString();
    EXPECT_NE(ourTable().find("snat ip to 198.51.100.100:1024-33279"), std::string::npos)
        << ourTable();
    auto second = nft.replaceTable(table("1024-32767"));
    ASSERT_TRUE(second.ok()) << second.error().toString();
    const std::string now = ourTable();
    EXPECT_NE(now.find("snat ip to 198.51.100.100:1024-32767"), std::string::npos) << now;
    EXPECT_EQ(now.find("1024-33279"), std::string::npos) << now;
    auto listed = nft.listTable();
    ASSERT_TRUE(listed.ok()) << listed.error().toString();
    EXPECT_NE(listed->find("1024-32767"), std::string::npos);
  });
  EXPECT_EQ(otherTable(), other_before_);
  EXPECT_EQ(lab_.output(Lab::in(ns_) + "nft list tables"),
            "table ip operator_fw\ntable inet gwsync_nat\n");
}

TEST_F(NftApplyTest, RejectedTextKeepsThePreviousTableAndNamesTheLine) {
  inNamespace([&](NftApplier& nft) {
    ASSERT_TRUE(nft.replaceTable(table("1024-33279")).ok());
    // A port mapping without a transport protocol match: nftables refuses the rule.
    const std::string bad =
        "table inet gwsync_nat {\n"
        "\tchain postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        "\t\toifname \"wan\" snat ip to 198.51.100.100:2000-3000\n"
        "\t}\n"
        "}\n";
    auto r = nft.replaceTable(bad);
    ASSERT_FALSE(r.ok());
    // Line 4 of the table is line 6 of the transaction (after "add table", "delete table").
    EXPECT_EQ(r.error().line_number, 6u) << r.error().toString();
    EXPECT_EQ(r.error().line, "\t\toifname \"wan\" snat ip to 198.51.100.100:2000-3000");
    EXPECT_EQ(r.error().message,
              "Error: transport protocol mapping is only valid after transport protocol match");
    EXPECT_EQ(r.error().toString(),
              "nftables: Error: transport protocol mapping is only valid after transport "
              "protocol match (line 6: \t\toifname \"wan\" snat ip to 198.51.100.100:2000-3000)");
  });
  EXPECT_NE(ourTable().find("snat ip to 198.51.100.100:1024-33279"), std::string::npos);
  EXPECT_EQ(otherTable(), other_before_);
}

TEST_F(NftApplyTest, RemoveIsIdempotentAndSparesOtherTables) {
  inNamespace([&](NftApplier& nft) {
    ASSERT_TRUE(nft.replaceTable(table("1024-33279")).ok());
    auto removed = nft.removeTable();
    ASSERT_TRUE(removed.ok()) << removed.error().toString();
    auto again = nft.removeTable();
    EXPECT_TRUE(again.ok()) << again.error().toString();
    auto listed = nft.listTable();
    EXPECT_FALSE(listed.ok());
  });
  EXPECT_EQ(ourTable(), "");
  EXPECT_EQ(otherTable(), other_before_);
}

TEST_F(NftApplyTest, RenderedTablesOfBothNodesApply) {
  NatConfig c;
  c.nodes = {1, 2};
  c.outside_interface = "wan";
  Pool pool;
  pool.name = "shared";
  pool.addresses = {*syncd::IpAddress::parse("198.51.100.100"),
                    *syncd::IpAddress::parse("198.51.100.101")};
  pool.ports = {1024, 65535};
  pool.inside = {Prefix{*syncd::IpAddress::parse("192.0.2.0"), 24}};
  pool.partitions = {{1, {1024, 32767}}, {2, {32768, 65535}}};
  c.pools.push_back(pool);
  Pool v6 = pool;
  v6.name = "shared6";
  v6.family = syncd::Family::kIpv6;
  v6.addresses = {*syncd::IpAddress::parse("2001:db8:ffff::100")};
  v6.inside = {Prefix{*syncd::IpAddress::parse("2001:db8:1::"), 64}};
  c.pools.push_back(v6);
  c.statics.push_back(
      {*syncd::IpAddress::parse("192.0.2.20"), *syncd::IpAddress::parse("198.51.100.20")});
  c.statics.push_back(
      {*syncd::IpAddress::parse("2001:db8:1::20"), *syncd::IpAddress::parse("2001:db8:ffff::20")});
  inNamespace([&](NftApplier& nft) {
    for (const uint32_t node : {1u, 2u}) {
      auto text = renderTable(c, node);
      ASSERT_TRUE(text.ok());
      auto r = nft.replaceTable(*text);
      ASSERT_TRUE(r.ok()) << r.error().toString() << "\n" << *text;
    }
  });
  const std::string now = ourTable();
  EXPECT_NE(now.find("map { 0 : 198.51.100.100, 1 : 198.51.100.101 }:32768-65535"),
            std::string::npos)
      << now;
  EXPECT_NE(now.find("snat ip6 to [2001:db8:ffff::100]:32768-65535"), std::string::npos) << now;
  EXPECT_NE(now.find("dnat ip6 to 2001:db8:1::20"), std::string::npos) << now;
  EXPECT_EQ(otherTable(), other_before_);
}

}  // namespace
}  // namespace gwsync::nat
