// RedirectSet against the real kernel and real UDP/TCP, in throwaway namespaces:
//
//   cl (client) --wan0-- gw-a --sync0-- gw-b --lan0-- vm
//    \________________________wan0_____/
//
// The client reaches the VM's prefix through gw-a (BGP still points there); the VM moved behind
// gw-b, which sends its packets straight to the client. gw-a redirects the flows in its set to
// gw-b at ingress: they never reach gw-a's prerouting hook or conntrack, gw-b receives and
// forwards them; a flow not in the set is routed by gw-a normally (and reaches the VM through
// gw-b all the same). Counters, removal, IPv6, 10k elements in one batch, and the receiving
// side's rp_filter requirement.
#include "syncd/kernel/redirect_set.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

#include "syncd/kernel/netns.h"
#include "test/netns/lab.h"

namespace gwsync::syncd {
namespace {

using test::Lab;
using namespace std::chrono_literals;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

Tuple flow(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint8_t proto) {
  return {.src = ip(src), .dst = ip(dst), .proto = proto, .src_port = sport, .dst_port = dport};
}

sockaddr_storage sockaddrOf(const IpAddress& a, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (a.family == Family::kIpv4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, a.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, a.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

// A socket in ns bound to addr:port, with a receive timeout so no test can hang on it.
int boundSocket(const std::string& ns, int type, const IpAddress& addr, uint16_t port) {
  const int fd = test::socketIn(ns, addr.family == Family::kIpv4 ? AF_INET : AF_INET6, type);
  if (fd < 0) return fd;
  socklen_t len;
  const sockaddr_storage ss = sockaddrOf(addr, port, len);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    ADD_FAILURE() << "bind " << addr.toString() << ":" << port << ": " << std::strerror(errno);
  }
  return fd;
}

// Sends n datagrams along t from a socket bound to t.src:t.src_port; returns how many of them
// the receiver (bound to t.dst:t.dst_port) got.
int udpExchange(const std::string& from, const std::string& to, const Tuple& t, int n) {
  const int tx = boundSocket(from, SOCK_DGRAM, t.src, t.src_port);
  const int rx = boundSocket(to, SOCK_DGRAM, t.dst, t.dst_port);
  socklen_t len;
  const sockaddr_storage dst = sockaddrOf(t.dst, t.dst_port, len);
  for (int i = 0; i < n; ++i) {
    sendto(tx, "ping", 4, 0, reinterpret_cast<const sockaddr*>(&dst), len);
  }
  int got = 0;
  char buf[16];
  while (got < n && recv(rx, buf, sizeof(buf), 0) > 0) ++got;  // ends on the 2 s timeout
  close(tx);
  close(rx);
  return got;
}

// A real TCP connection along t: connect, one request and one answer, close.
bool tcpExchange(const std::string& from, const std::string& to, const Tuple& t) {
  const int srv = boundSocket(to, SOCK_STREAM, t.dst, t.dst_port);
  listen(srv, 1);
  const int cli = boundSocket(from, SOCK_STREAM, t.src, t.src_port);
  socklen_t len;
  const sockaddr_storage dst = sockaddrOf(t.dst, t.dst_port, len);
  bool ok = connect(cli, reinterpret_cast<const sockaddr*>(&dst), len) == 0;
  const int conn = ok ? accept(srv, nullptr, nullptr) : -1;
  char buf[8] = {};
  ok = ok && conn >= 0 && send(cli, "ping", 4, 0) == 4 && recv(conn, buf, 4, MSG_WAITALL) == 4 &&
       send(conn, "pong", 4, 0) == 4 && recv(cli, buf, 4, MSG_WAITALL) == 4 &&
       std::string(buf, 4) == "pong";
  for (const int fd : {conn, cli, srv}) {
    if (fd >= 0) close(fd);
  }
  return ok;
}

class RedirectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::isRoot()) GTEST_SKIP() << "needs root";
    cl_ = lab_.add("cl");
    a_ = lab_.add("gw-a");
    b_ = lab_.add("gw-b");
    vm_ = lab_.add("vm");
    // No DAD: a link-local address still tentative delays neighbour discovery past the
    // receivers' timeouts. rp_filter off everywhere before the links exist (the effective
    // value is the maximum of `all` and the interface's): gw-b receives the client's packets on
    // sync0 while its route back to the client leaves by wan0, and the client gets the VM's
    // answers on its other leg. IPv6 interfaces created later copy `default`, not `all`.
    for (const auto& ns : {cl_, a_, b_, vm_}) {
      lab_.run(Lab::in(ns) + "sysctl -qw net.ipv4.conf.all.rp_filter=0 "
                             "net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=1 "
                             "net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.forwarding=1 "
                             "net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
    }
    link(cl_, "c-a", "198.51.100.2/26", "2001:db8:1::2/64", a_, "wan0", "198.51.100.1/26",
         "2001:db8:1::1/64");
    link(cl_, "c-b", "198.51.100.66/26", "2001:db8:2::2/64", b_, "wan0", "198.51.100.65/26",
         "2001:db8:2::1/64");
    link(a_, "sync0", "192.0.2.1/26", "2001:db8:5::1/64", b_, "sync0", "192.0.2.2/26",
         "2001:db8:5::2/64");
    link(b_, "lan0", "203.0.113.1/24", "2001:db8:9::1/64", vm_, "eth0", "203.0.113.10/24",
         "2001:db8:9::10/64");
    lab_.run("ip -n " + cl_ + " route add 203.0.113.0/24 via 198.51.100.1");
    lab_.run("ip -n " + cl_ + " -6 route add 2001:db8:9::/64 via 2001:db8:1::1");
    lab_.run("ip -n " + a_ + " route add 203.0.113.0/24 via 192.0.2.2");
    lab_.run("ip -n " + a_ + " -6 route add 2001:db8:9::/64 via 2001:db8:5::2");
    lab_.run("ip -n " + b_ + " route add 198.51.100.0/26 via 198.51.100.66");
    lab_.run("ip -n " + b_ + " -6 route add 2001:db8:1::/64 via 2001:db8:2::2");
    lab_.run("ip -n " + vm_ + " route add default via 203.0.113.1");
    lab_.run("ip -n " + vm_ + " -6 route add default via 2001:db8:9::1");
    // Probes: what reaches gw-a's IP layer (prerouting, before conntrack at -200), what gw-b
    // receives from the peer link, by TTL.
    lab_.run(Lab::in(a_) + "nft -f - <<'EOF'\n"
             "table inet probe {\n"
             "  counter seen { }\n"
             "  chain pre { type filter hook prerouting priority -300;\n"
             "    iifname \"wan0\" meta l4proto { tcp, udp } th dport 5000-5999"
             " counter name seen\n  }\n"
             "  chain fw { type filter hook forward priority 0;\n"  // a ct rule: gw-a tracks
             "    ct state invalid counter\n  }\n"
             "}\nEOF");
    lab_.run(Lab::in(b_) + "nft -f - <<'EOF'\n"
             "table inet probe {\n"
             "  counter ttl64 { }\n  counter ttl63 { }\n  counter other { }\n"
             "  chain pre { type filter hook prerouting priority -300;\n"
             "    iifname \"sync0\" ip ttl 64 counter name ttl64 accept\n"
             "    iifname \"sync0\" ip ttl 63 counter name ttl63 accept\n"
             "    iifname \"sync0\" counter name other\n  }\n"
             "}\nEOF");
  }

  void link(const std::string& ns1, const std::string& dev1, const std::string& v4a,
            const std::string& v6a, const std::string& ns2, const std::string& dev2,
            const std::string& v4b, const std::string& v6b) {
    lab_.run("ip -n " + ns1 + " link add " + dev1 + " type veth peer name " + dev2 + " netns " +
             ns2);
    lab_.run("ip -n " + ns1 + " addr add " + v4a + " dev " + dev1);
    lab_.run("ip -n " + ns1 + " addr add " + v6a + " dev " + dev1 + " nodad");
    lab_.run("ip -n " + ns2 + " addr add " + v4b + " dev " + dev2);
    lab_.run("ip -n " + ns2 + " addr add " + v6b + " dev " + dev2 + " nodad");
    lab_.run("ip -n " + ns1 + " link set " + dev1 + " up");
    lab_.run("ip -n " + ns2 + " link set " + dev2 + " up");
  }

  // Opens the set inside gw-a and creates its table there.
  std::optional<RedirectSet> openInA() {
    auto guard = NetnsGuard::enter(a_);
    EXPECT_TRUE(guard.ok());
    auto set = RedirectSet::open({.ingress_devices = {"wan0"},
                                  .peer_device = "sync0",
                                  .peer_v4 = ip("192.0.2.2"),
                                  .peer_v6 = ip("2001:db8:5::2")});
    if (!set) {
      ADD_FAILURE() << set.error();
      return std::nullopt;
    }
    if (auto r = set->create(); !r) {
      ADD_FAILURE() << r.error();
      return std::nullopt;
    }
    return std::move(*set);
  }

  // Runs a RedirectSet call inside gw-a, where libnftables resolves device names.
  template <class F>
  auto inA(F&& f) {
    auto guard = NetnsGuard::enter(a_);
    return f();
  }

  uint64_t counter(const std::string& ns, const std::string& name) {
    const std::string out = lab_.output(Lab::in(ns) + "nft list counter inet probe " + name);
    const size_t at = out.find("packets ");
    return at == std::string::npos ? ~0ull : std::stoull(out.substr(at + 8));
  }

  // gw-a's conntrack entries whose original source port is `port`.
  std::string conntrackA(const char* proto, uint16_t port) {
    return lab_.output(Lab::in(a_) + "conntrack -L -p " + proto + " --orig-port-src " +
                       std::to_string(port) + " 2>/dev/null");
  }

  Lab lab_;
  std::string cl_, a_, b_, vm_;
};

TEST_F(RedirectTest, FlowsInTheSetBypassGatewayAAndReachTheVmThroughB) {
  auto opened = openInA();
  ASSERT_TRUE(opened.has_value());
  RedirectSet& set = *opened;
  const Tuple udp = flow("198.51.100.2", 41001, "203.0.113.10", 5001, l4::kUdp);
  const Tuple tcp = flow("198.51.100.2", 41002, "203.0.113.10", 5002, l4::kTcp);
  const Tuple udp6 = flow("2001:db8:1::2", 41003, "2001:db8:9::10", 5003, l4::kUdp);
  const Tuple normal = flow("198.51.100.2", 41004, "203.0.113.10", 5004, l4::kUdp);
  const std::vector<Tuple> moved{udp, tcp, udp6};
  ASSERT_TRUE(inA([&] { return set.add(moved); }).ok());
  EXPECT_EQ(*inA([&] { return set.size(); }), 3u);

  EXPECT_EQ(udpExchange(cl_, vm_, udp, 10), 10);
  EXPECT_TRUE(tcpExchange(cl_, vm_, tcp));
  EXPECT_EQ(udpExchange(cl_, vm_, udp6, 5), 5);
  // Nothing of them reached gw-a's IP layer, so its conntrack never saw them.
  EXPECT_EQ(counter(a_, "seen"), 0u);
  EXPECT_EQ(conntrackA("udp", 41001), "");
  EXPECT_EQ(conntrackA("tcp", 41002), "");
  // Every redirected IPv4 packet arrived at gw-b over sync0, TTL decremented once by fwd
  // (nft_fwd_neigh does that, like a router). Polled: the last FIN/ACK may still be in flight.
  RedirectCounters c;
  EXPECT_TRUE(test::pollUntil(
      [&] {
        c = *inA([&] { return set.counters(); });
        return counter(b_, "ttl63") == c.v4.packets;
      },
      nullptr, 2s));
  EXPECT_GE(c.v4.packets, 10u + 4u);  // 10 datagrams; SYN, ACK, data, FIN at least
  EXPECT_EQ(c.v6.packets, 5u);
  EXPECT_EQ(counter(b_, "ttl63"), c.v4.packets);
  EXPECT_EQ(counter(b_, "ttl64"), 0u);
  std::printf("redirected: v4 %llu packets %llu bytes, v6 %llu packets %llu bytes\n",
              static_cast<unsigned long long>(c.v4.packets),
              static_cast<unsigned long long>(c.v4.bytes),
              static_cast<unsigned long long>(c.v6.packets),
              static_cast<unsigned long long>(c.v6.bytes));

  // A flow not in the set: gw-a routes it (and tracks it) as usual.
  EXPECT_EQ(udpExchange(cl_, vm_, normal, 3), 3);
  EXPECT_EQ(counter(a_, "seen"), 3u);
  EXPECT_NE(conntrackA("udp", 41004).find("dport=5004"), std::string::npos);
  EXPECT_EQ(inA([&] { return set.counters(); })->v4.packets, c.v4.packets);

  // Removing the element ends the redirect: gw-a handles the flow itself from then on.
  const std::vector<Tuple> back{udp};
  ASSERT_TRUE(inA([&] { return set.remove(back); }).ok());
  EXPECT_EQ(udpExchange(cl_, vm_, udp, 4), 4);
  EXPECT_EQ(counter(a_, "seen"), 3u + 4u);
  EXPECT_NE(conntrackA("udp", 41001).find("dport=5001"), std::string::npos);
  EXPECT_EQ(inA([&] { return set.counters(); })->v4.packets, c.v4.packets);
  EXPECT_EQ(*inA([&] { return set.size(); }), 2u);
}

TEST_F(RedirectTest, TenThousandElementsInOneBatchAndRemovalOfAbsentOnes) {
  auto opened = openInA();
  ASSERT_TRUE(opened.has_value());
  RedirectSet& set = *opened;
  std::vector<Tuple> flows;
  for (int i = 0; i < 10000; ++i) {
    Tuple t = flow("198.51.100.2", static_cast<uint16_t>(10000 + i), "203.0.113.10", 443,
                   i % 2 == 0 ? l4::kTcp : l4::kUdp);
    t.src.bytes[3] = static_cast<uint8_t>(i % 64);
    flows.push_back(t);
  }
  using ms = std::chrono::duration<double, std::milli>;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(inA([&] { return set.add(flows); }).ok());
  const auto t1 = std::chrono::steady_clock::now();
  auto listed = inA([&] { return set.elements(); });
  const auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(listed.ok()) << listed.error();
  std::sort(listed->begin(), listed->end());
  auto want = flows;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*listed, want);
  EXPECT_EQ(set.stats().transactions, 3u);  // 4096 per batch

  // Half of them again plus some that were never there: the absent ones are skipped.
  std::vector<Tuple> gone(flows.begin(), flows.begin() + 5000);
  gone.push_back(flow("198.51.100.3", 9, "203.0.113.10", 443, l4::kTcp));
  const auto t3 = std::chrono::steady_clock::now();
  auto r = inA([&] { return set.remove(std::span(flows).first(5000)); });
  const auto t4 = std::chrono::steady_clock::now();
  ASSERT_TRUE(r.ok()) << r.error();
  auto again = inA([&] { return set.remove(gone); });
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(set.stats().absent, 5001u);
  EXPECT_EQ(*inA([&] { return set.size(); }), 5000u);
  std::printf("redirect set: add 10000 in %.1f ms, list in %.1f ms, remove 5000 in %.1f ms\n",
              ms(t1 - t0).count(), ms(t2 - t1).count(), ms(t4 - t3).count());
}

TEST_F(RedirectTest, ReceivingGatewayDropsRedirectedPacketsUnderStrictRpFilter) {
  auto opened = openInA();
  ASSERT_TRUE(opened.has_value());
  RedirectSet& set = *opened;
  const Tuple udp = flow("198.51.100.2", 42001, "203.0.113.10", 5001, l4::kUdp);
  ASSERT_TRUE(inA([&] { return set.add(std::span(&udp, 1)); }).ok());
  lab_.run(Lab::in(b_) + "sysctl -qw net.ipv4.conf.sync0.rp_filter=1");
  // The source's route at gw-b leaves by wan0, not by sync0 where the packet came in.
  EXPECT_EQ(udpExchange(cl_, vm_, udp, 3), 0);
  EXPECT_EQ(counter(b_, "ttl63"), 3u);
  lab_.run(Lab::in(b_) + "sysctl -qw net.ipv4.conf.sync0.rp_filter=2");  // loose is enough
  EXPECT_EQ(udpExchange(cl_, vm_, udp, 3), 3);
}

TEST_F(RedirectTest, BadOptionsAreClearErrors) {
  auto guard = NetnsGuard::enter(a_);
  ASSERT_TRUE(guard.ok());
  auto unknown = RedirectSet::open(
      {.ingress_devices = {"nosuch0"}, .peer_device = "sync0", .peer_v4 = ip("192.0.2.2")});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("ingress_devices = 'nosuch0': unknown device"),
            std::string::npos) << unknown.error();
  auto family = RedirectSet::open(
      {.ingress_devices = {"wan0"}, .peer_device = "sync0", .peer_v4 = ip("2001:db8:5::2")});
  ASSERT_FALSE(family.ok());
  EXPECT_EQ(family.error(), "redirect: peer_v4 = 2001:db8:5::2 is not IPv4");
  auto quote = RedirectSet::open(
      {.ingress_devices = {"wan0\""}, .peer_device = "sync0", .peer_v4 = ip("192.0.2.2")});
  ASSERT_FALSE(quote.ok());
  auto v4only = RedirectSet::open(
      {.ingress_devices = {"wan0"}, .peer_device = "sync0", .peer_v4 = ip("192.0.2.2")});
  ASSERT_TRUE(v4only.ok()) << v4only.error();
  ASSERT_TRUE(v4only->create().ok());
  const std::vector<Tuple> bad{flow("2001:db8:1::2", 1, "2001:db8:9::10", 2, l4::kUdp)};
  auto r = v4only->add(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no next hop for its family"), std::string::npos) << r.error();
  Tuple icmp = flow("198.51.100.2", 0, "203.0.113.10", 0, l4::kIcmp);
  ASSERT_FALSE(v4only->add(std::span(&icmp, 1)).ok());
  ASSERT_TRUE(v4only->destroy().ok());
  ASSERT_TRUE(v4only->destroy().ok());  // gone already: still fine
  EXPECT_FALSE(v4only->listTable().ok());
}

}  // namespace
}  // namespace gwsync::syncd
