// HostRoutes against the real kernel, in a throwaway namespace: installed routes are what
// `ip route show table T proto P` shows (IPv4 and IPv6, tables above 255 too), installs are
// idempotent, withdraw and flush remove only gwsync's routes, bad options and kernel refusals
// come back as clear errors.
#include "syncd/kernel/host_routes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "syncd/kernel/netns.h"
#include "test/netns/lab.h"

namespace gwsync::syncd {
namespace {

using test::Lab;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

class HostRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::isRoot()) GTEST_SKIP() << "needs root";
    gw_ = lab_.add("gw");
    lab_.run("ip -n " + gw_ + " link add lan0 type veth peer name lan0p");
    lab_.run("ip -n " + gw_ + " link set lan0 up");
    lab_.run("ip -n " + gw_ + " link set lan0p up");
  }

  Result<HostRoutes, std::string> open(HostRouteOptions o) {
    auto guard = NetnsGuard::enter(gw_);
    if (!guard) return fail(guard.error());
    return HostRoutes::open(o);
  }

  std::string show(const std::string& args) {
    return lab_.output("ip -n " + gw_ + " " + args);
  }

  Lab lab_;
  std::string gw_;
};

TEST_F(HostRoutesTest, InstalledRoutesAreListedByIpRouteAndWithdrawRemovesThem) {
  auto routes = open({.table = 100, .protocol = 200, .device = "lan0"});
  ASSERT_TRUE(routes.ok()) << routes.error();
  const std::vector<IpAddress> hosts{ip("192.0.2.10"), ip("192.0.2.11"), ip("203.0.113.7"),
                                     ip("2001:db8:a::10"), ip("2001:db8:a::11")};
  ASSERT_TRUE(routes->install(hosts).ok());
  EXPECT_EQ(show("route show table 100 proto 200"),
            "192.0.2.10 dev lan0 scope link \n192.0.2.11 dev lan0 scope link \n"
            "203.0.113.7 dev lan0 scope link \n");
  const std::string v6 = show("-6 route show table 100 proto 200");
  EXPECT_NE(v6.find("2001:db8:a::10 dev lan0 metric 1024"), std::string::npos) << v6;
  EXPECT_NE(v6.find("2001:db8:a::11 dev lan0 metric 1024"), std::string::npos) << v6;

  // Again: replaced in place, nothing doubled.
  ASSERT_TRUE(routes->install(hosts).ok());
  auto listed = routes->list();
  ASSERT_TRUE(listed.ok()) << listed.error();
  std::sort(listed->begin(), listed->end());
  auto want = hosts;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*listed, want);

  const std::vector<IpAddress> gone{ip("192.0.2.11"), ip("2001:db8:a::10")};
  ASSERT_TRUE(routes->withdraw(gone).ok());
  EXPECT_EQ(show("route show table 100 proto 200"),
            "192.0.2.10 dev lan0 scope link \n203.0.113.7 dev lan0 scope link \n");
  EXPECT_EQ(show("-6 route show table 100 proto 200").find("2001:db8:a::10 "), std::string::npos);
  // Withdrawing what is not there is fine (a release that crosses a restart).
  auto again = routes->withdraw(gone);
  EXPECT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(routes->stats().failed, 0u);
}

TEST_F(HostRoutesTest, FlushRemovesOnlyOurProtocolInOurTable) {
  // Others' routes: same table other protocol, same protocol other tables.
  lab_.run("ip -n " + gw_ + " route add 192.0.2.50 dev lan0 table 100 proto static");
  lab_.run("ip -n " + gw_ + " -6 route add 2001:db8:a::50 dev lan0 table 100 proto static");
  lab_.run("ip -n " + gw_ + " route add 192.0.2.51 dev lan0 table 101 proto 200");
  lab_.run("ip -n " + gw_ + " route add 192.0.2.52 dev lan0 proto 200");
  auto routes = open({.table = 100, .protocol = 200, .device = "lan0"});
  ASSERT_TRUE(routes.ok()) << routes.error();
  const std::vector<IpAddress> hosts{ip("192.0.2.10"), ip("2001:db8:a::10")};
  ASSERT_TRUE(routes->install(hosts).ok());
  // Withdraw names our protocol: the static route to the same kind of address stays.
  const std::vector<IpAddress> other{ip("192.0.2.50")};
  ASSERT_TRUE(routes->withdraw(other).ok());
  EXPECT_NE(show("route show table 100").find("192.0.2.50 dev lan0 proto static"),
            std::string::npos);

  auto flushed = routes->flush();
  ASSERT_TRUE(flushed.ok()) << flushed.error();
  EXPECT_EQ(*flushed, 2u);
  EXPECT_EQ(show("route show table 100 proto 200"), "");
  EXPECT_EQ(show("-6 route show table 100 proto 200"), "");
  EXPECT_EQ(show("route show table 100"), "192.0.2.50 dev lan0 proto static scope link \n");
  EXPECT_NE(show("-6 route show table 100").find("2001:db8:a::50 dev lan0 proto static"),
            std::string::npos);
  EXPECT_EQ(show("route show table 101"), "192.0.2.51 dev lan0 proto 200 scope link \n");
  EXPECT_NE(show("route show table main").find("192.0.2.52 dev lan0 proto 200"),
            std::string::npos);
  // Nothing of ours left: flushing again removes nothing.
  auto twice = routes->flush();
  ASSERT_TRUE(twice.ok()) << twice.error();
  EXPECT_EQ(*twice, 0u);
}

TEST_F(HostRoutesTest, ThousandsInBatchesAndATableAbove255) {
  auto routes = open({.table = 100000, .protocol = 201, .device = "lan0"});
  ASSERT_TRUE(routes.ok()) << routes.error();
  // Every IPv4 address the documentation ranges allow, and IPv6 for the rest.
  std::vector<IpAddress> hosts;
  for (const uint8_t net : {2, 100, 113}) {
    for (int host = 0; host < 256; ++host) {
      IpAddress a = net == 2     ? IpAddress::v4(192, 0, 2, 0)
                    : net == 100 ? IpAddress::v4(198, 51, 100, 0)
                                 : IpAddress::v4(203, 0, 113, 0);
      a.bytes[3] = static_cast<uint8_t>(host);
      hosts.push_back(a);
    }
  }
  for (int i = 0; i < 1232; ++i) {
    char text[64];
    std::snprintf(text, sizeof(text), "2001:db8:6::%x", i);
    hosts.push_back(ip(text));
  }
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(routes->install(hosts).ok());
  const auto t1 = std::chrono::steady_clock::now();
  auto listed = routes->list();
  ASSERT_TRUE(listed.ok()) << listed.error();
  EXPECT_EQ(listed->size(), hosts.size());
  auto flushed = routes->flush();
  const auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(flushed.ok()) << flushed.error();
  EXPECT_EQ(*flushed, hosts.size());
  EXPECT_EQ(show("route show table 100000"), "");
  using ms = std::chrono::duration<double, std::milli>;
  std::printf("host routes: %zu installed in %.1f ms (%llu batches), listed+flushed in %.1f ms\n",
              hosts.size(), ms(t1 - t0).count(),
              static_cast<unsigned long long>(routes->stats().batches), ms(t2 - t1).count());
}

TEST_F(HostRoutesTest, BadOptionsAndKernelRefusalsAreClearErrors) {
  auto unknown = open({.table = 100, .protocol = 200, .device = "nosuch0"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("device = 'nosuch0': unknown device"), std::string::npos)
      << unknown.error();
  for (const uint32_t table : {0u, 253u, 254u, 255u}) {
    auto bad = open({.table = table, .protocol = 200, .device = "lan0"});
    ASSERT_FALSE(bad.ok()) << table;
    EXPECT_NE(bad.error().find("table = " + std::to_string(table) + " is out of range"),
              std::string::npos) << bad.error();
  }
  auto proto = open({.table = 100, .protocol = 4, .device = "lan0"});
  ASSERT_FALSE(proto.ok());
  EXPECT_NE(proto.error().find("protocol = 4 is out of range"), std::string::npos);

  // A device that went down: the kernel refuses, the message names the route and the reason.
  auto routes = open({.table = 100, .protocol = 200, .device = "lan0"});
  ASSERT_TRUE(routes.ok()) << routes.error();
  lab_.run("ip -n " + gw_ + " link set lan0 down");
  const std::vector<IpAddress> hosts{ip("192.0.2.10"), ip("192.0.2.11")};
  auto r = routes->install(hosts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "host routes: install 192.0.2.10/32 table 100 dev lan0: Network is down "
            "(and 1 more)");
  EXPECT_EQ(routes->stats().failed, 2u);
}

}  // namespace
}  // namespace gwsync::syncd
