// Per-entry TCP be-liberal (issue 10's fallback) against the real kernel:
// - the flag set by markBeLiberal() and written by ConntrackWriter is in the kernel's entry;
// - the claim itself, with real TCP: a gateway with strict tracking (tcp_loose=0,
//   be_liberal=0, `ct state invalid drop`) that tracked a VM's connections and then sees only
//   their reply direction (the VM's packets now leave by the other site) kills them, except the
//   one whose entry carries the flag; flagging the dead one later brings it back.
//
//   cl (server) --wan0-- gw-a --sync0-- gw-b --lan0-- vm
//     \_______________________wan0_____/
#include "syncd/core/tcp_liberal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "syncd/kernel/ct_dump.h"
#include "syncd/kernel/ct_writer.h"
#include "syncd/kernel/netns.h"
#include "test/netns/lab.h"

namespace gwsync::syncd {
namespace {

using test::Lab;
using namespace std::chrono_literals;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

sockaddr_in v4(const char* addr, uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  std::memcpy(&in.sin_addr, ip(addr).bytes.data(), 4);
  return in;
}

// The gateway's entries (read in its namespace) with original source port `sport`.
std::vector<Session> entries(const std::string& ns, uint16_t sport) {
  auto guard = NetnsGuard::enter(ns);
  std::vector<Session> out;
  ParseStats st;
  auto r = dumpConntrack(
      [&](Session&& s) {
        if (s.orig.src_port == sport) out.push_back(std::move(s));
      },
      st);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return out;
}

// Marks the entries liberal and writes them back through the writer, in ns.
void markInKernel(const std::string& ns, std::vector<Session> sessions) {
  ASSERT_EQ(markBeLiberal(std::span(sessions)), sessions.size());
  auto guard = NetnsGuard::enter(ns);
  auto writer = ConntrackWriter::open({});
  ASSERT_TRUE(writer.ok()) << writer.error();
  std::vector<CtWrite> writes;
  for (const Session& s : sessions) writes.push_back({CtOp::kUpdate, &s});
  for (const CtWriteResult& r : writer->apply(writes)) {
    EXPECT_EQ(r.error, 0) << std::strerror(r.error);
  }
}

TEST(TcpLiberalKernel, AnUpdateWithTheFlagSetsItInTheKernelInBothDirections) {
  if (!test::isRoot()) GTEST_SKIP() << "needs root";
  Lab lab;
  const std::string gw = lab.add("gw");
  Session s;
  s.orig = {.src = ip("192.0.2.10"), .dst = ip("203.0.113.10"), .proto = l4::kTcp,
            .src_port = 44001, .dst_port = 443};
  s.reply = invert(s.orig);
  s.status = status::kSeenReply | status::kAssured;
  s.timeout = 600;
  s.tcp = TcpInfo{.state = 3, .flags_orig = 0x01, .flags_reply = 0x01};  // + window scale
  {
    auto guard = NetnsGuard::enter(gw);
    auto writer = ConntrackWriter::open({});
    ASSERT_TRUE(writer.ok()) << writer.error();
    const std::vector<CtWrite> create{{CtOp::kCreate, &s}};
    ASSERT_EQ(writer->apply(create)[0].error, 0);
  }
  auto before = entries(gw, 44001);
  ASSERT_EQ(before.size(), 1u);
  ASSERT_TRUE(before[0].tcp.has_value());
  EXPECT_FALSE(isBeLiberal(before[0]));
  markInKernel(gw, before);
  auto after = entries(gw, 44001);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_TRUE(isBeLiberal(after[0]));
  EXPECT_EQ(after[0].tcp->flags_orig, 0x01 | kTcpFlagBeLiberal);  // the other bits stay
  EXPECT_EQ(after[0].tcp->flags_reply, 0x01 | kTcpFlagBeLiberal);
  EXPECT_EQ(after[0].tcp->state, 3);
}

// One TCP connection from the VM to the server and an echo exchange over it: the VM sends
// `total` bytes, the server sends back whatever it reads. run() carries on where it stopped.
struct Echo {
  int vm = -1;
  int srv = -1;
  size_t total = 0;
  size_t sent = 0, pending = 0, back = 0;  // pending: read by the server, not yet echoed
  std::vector<char> data = std::vector<char>(64 * 1024, 'x');
  std::vector<char> buf = std::vector<char>(64 * 1024);

  ~Echo() {
    if (vm >= 0) close(vm);
    if (srv >= 0) close(srv);
  }
  void start(size_t bytes) {
    total = bytes;
    sent = pending = back = 0;
  }
  // True when everything came back before the deadline.
  bool run(std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (back < total && std::chrono::steady_clock::now() < end) {
      if (sent < total) {
        const ssize_t n = send(vm, data.data(), std::min(total - sent, data.size()), MSG_DONTWAIT);
        if (n > 0) sent += static_cast<size_t>(n);
      }
      ssize_t n = recv(srv, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) pending += static_cast<size_t>(n);
      while (pending > 0) {
        n = send(srv, data.data(), std::min(pending, data.size()), MSG_DONTWAIT);
        if (n <= 0) break;
        pending -= static_cast<size_t>(n);
      }
      n = recv(vm, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) back += static_cast<size_t>(n);
      pollfd fds[2] = {{vm, POLLIN, 0}, {srv, POLLIN, 0}};
      poll(fds, 2, 5);
    }
    return back == total;
  }
};

class AsymmetricReturn : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::isRoot()) GTEST_SKIP() << "needs root";
    cl_ = lab_.add("cl");
    a_ = lab_.add("gw-a");
    b_ = lab_.add("gw-b");
    vm_ = lab_.add("vm");
    for (const auto& ns : {cl_, a_, b_, vm_}) {
      lab_.run(Lab::in(ns) + "sysctl -qw net.ipv4.conf.all.rp_filter=0 "
                             "net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=1");
    }
    link(cl_, "c-a", "198.51.100.2/26", a_, "wan0", "198.51.100.1/26");
    link(cl_, "c-b", "198.51.100.66/26", b_, "wan0", "198.51.100.65/26");
    link(a_, "sync0", "192.0.2.1/26", b_, "sync0", "192.0.2.2/26");
    link(b_, "lan0", "203.0.113.1/24", vm_, "eth0", "203.0.113.10/24");
    lab_.run("ip -n " + cl_ + " route add 203.0.113.0/24 via 198.51.100.1");
    lab_.run("ip -n " + a_ + " route add 203.0.113.0/24 via 192.0.2.2");
    // Before the move the VM's traffic leaves through site A: gw-a sees both directions.
    lab_.run("ip -n " + b_ + " route add 198.51.100.0/26 via 192.0.2.1");
    lab_.run("ip -n " + vm_ + " route add default via 203.0.113.1");
    // gw-a: a strict firewall. The ct rule also makes the namespace track connections.
    lab_.run(Lab::in(a_) + "nft -f - <<'EOF'\n"
             "table inet fw {\n  counter invalid { }\n"
             "  chain fw { type filter hook forward priority 0;\n"
             "    ct state invalid counter name invalid drop\n  }\n}\nEOF");
    lab_.run(Lab::in(a_) + "sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 "
                           "net.netfilter.nf_conntrack_tcp_be_liberal=0");
    listener_ = test::socketIn(cl_, AF_INET, SOCK_STREAM);
    const sockaddr_in srv = v4("198.51.100.2", 5000);
    ASSERT_EQ(bind(listener_, reinterpret_cast<const sockaddr*>(&srv), sizeof(srv)), 0);
    ASSERT_EQ(listen(listener_, 8), 0);
  }
  void TearDown() override {
    if (listener_ >= 0) close(listener_);
  }

  void link(const std::string& ns1, const std::string& dev1, const std::string& a1,
            const std::string& ns2, const std::string& dev2, const std::string& a2) {
    lab_.run("ip -n " + ns1 + " link add " + dev1 + " type veth peer name " + dev2 + " netns " +
             ns2);
    lab_.run("ip -n " + ns1 + " addr add " + a1 + " dev " + dev1);
    lab_.run("ip -n " + ns2 + " addr add " + a2 + " dev " + dev2);
    lab_.run("ip -n " + ns1 + " link set " + dev1 + " up");
    lab_.run("ip -n " + ns2 + " link set " + dev2 + " up");
  }

  void connectFrom(uint16_t sport, Echo& c) {
    c.vm = test::socketIn(vm_, AF_INET, SOCK_STREAM);
    const sockaddr_in src = v4("203.0.113.10", sport);
    const sockaddr_in dst = v4("198.51.100.2", 5000);
    ASSERT_EQ(bind(c.vm, reinterpret_cast<const sockaddr*>(&src), sizeof(src)), 0);
    ASSERT_EQ(connect(c.vm, reinterpret_cast<const sockaddr*>(&dst), sizeof(dst)), 0)
        << std::strerror(errno);
    c.srv = accept(listener_, nullptr, nullptr);
    ASSERT_GE(c.srv, 0);
  }

  uint64_t invalidDrops() {
    const std::string out = lab_.output(Lab::in(a_) + "nft list counter inet fw invalid");
    const size_t at = out.find("packets ");
    return at == std::string::npos ? ~0ull : std::stoull(out.substr(at + 8));
  }

  Lab lab_;
  std::string cl_, a_, b_, vm_;
  int listener_ = -1;
};

TEST_F(AsymmetricReturn, OnlyTheFlaggedEntrySurvivesStrictTrackingOfTheReplyDirection) {
  Echo flagged, plain;
  ASSERT_NO_FATAL_FAILURE(connectFrom(43001, flagged));
  ASSERT_NO_FATAL_FAILURE(connectFrom(43002, plain));
  constexpr size_t kBytes = 256 * 1024;
  // Both fine while gw-a sees both directions.
  flagged.start(kBytes);
  ASSERT_TRUE(flagged.run(5s));
  plain.start(kBytes);
  ASSERT_TRUE(plain.run(5s));
  EXPECT_EQ(invalidDrops(), 0u);

  // The VM moves: its packets now leave by gw-b's own WAN link, replies still come via gw-a.
  lab_.run("ip -n " + b_ + " route replace 198.51.100.0/26 via 198.51.100.66");
  ASSERT_NO_FATAL_FAILURE(markInKernel(a_, entries(a_, 43001)));

  flagged.start(kBytes);
  EXPECT_TRUE(flagged.run(5s));
  EXPECT_EQ(invalidDrops(), 0u);
  // The unflagged one stalls: gw-a drops the server's ACKs and data as INVALID.
  plain.start(kBytes);
  EXPECT_FALSE(plain.run(1500ms));
  const uint64_t drops = invalidDrops();
  EXPECT_GT(drops, 0u);
  std::printf("unflagged: %zu of %zu bytes echoed in 1.5 s, %llu packets dropped as INVALID\n",
              plain.back, kBytes, static_cast<unsigned long long>(drops));

  // Flagging it afterwards revives it: the peers retransmit what gw-a dropped.
  ASSERT_NO_FATAL_FAILURE(markInKernel(a_, entries(a_, 43002)));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(plain.run(15s));
  std::printf("revived after flagging in %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count()));
  // The server's and the VM's view of the other stays consistent: one more round trip.
  flagged.start(kBytes);
  EXPECT_TRUE(flagged.run(5s));
}

}  // namespace
}  // namespace gwsync::syncd
