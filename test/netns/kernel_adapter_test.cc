// The conntrack adapter against the real kernel, in throwaway namespaces: entries the writer
// creates are what `conntrack -L` shows, NAT included; real traffic through an nftables SNAT
// rule produces events with the right tuples; our own writes are not echoed; a tiny receive
// buffer under a flood is detected as an overrun.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <set>

#include "syncd/kernel/ct_dump.h"
#include "syncd/kernel/ct_events.h"
#include "syncd/kernel/ct_writer.h"
#include "syncd/kernel/netns.h"
#include "test/netns/lab.h"

namespace gwsync::syncd {
namespace {

using test::Lab;
using namespace std::chrono_literals;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

Session tcp(const char* src, uint16_t sport, const char* dst, uint16_t dport) {
  Session s;
  s.orig = {.src = ip(src), .dst = ip(dst), .proto = l4::kTcp, .src_port = sport, .dst_port = dport};
  s.reply = invert(s.orig);
  s.status = status::kSeenReply | status::kAssured;
  s.timeout = 600;
  s.tcp = TcpInfo{.state = 3 /* ESTABLISHED */};
  return s;
}

// `conntrack -L` spelling of a tuple.
std::string ctText(const Tuple& t) {
  std::string s = "src=" + t.src.toString() + " dst=" + t.dst.toString();
  if (isIcmp(t.proto)) {
    return s + " type=" + std::to_string(t.icmp_type) + " code=" + std::to_string(t.icmp_code) +
           " id=" + std::to_string(t.icmp_id);
  }
  return s + " sport=" + std::to_string(t.src_port) + " dport=" + std::to_string(t.dst_port);
}

std::vector<Session> dumpAll() {
  std::vector<Session> out;
  ParseStats st;
  auto r = dumpConntrack([&](Session&& s) { out.push_back(std::move(s)); }, st);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return out;
}

// Everything but the kernel's own status bookkeeping and the countdown must survive.
void expectSame(const Session& want, const Session& got) {
  EXPECT_EQ(got.orig, want.orig);
  EXPECT_EQ(got.reply, want.reply);
  EXPECT_EQ(got.zone, want.zone);
  EXPECT_EQ(got.mark, want.mark);
  EXPECT_EQ(got.status & status::kWritable, want.status & status::kWritable);
  EXPECT_EQ(got.tcp.has_value(), want.tcp.has_value());
  if (got.tcp && want.tcp) {
    EXPECT_EQ(got.tcp->state, want.tcp->state);
  }
  EXPECT_LE(got.timeout, want.timeout);
  EXPECT_GT(got.timeout, want.timeout - 30);
}

class KernelAdapter : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::isRoot()) GTEST_SKIP() << "needs root";
    gw_ = lab_.add("gw");
    // NAT bindings can only be created where the nat hooks are in use.
    lab_.run(Lab::in(gw_) + "nft add table inet t");
    lab_.run(Lab::in(gw_) +
             "nft add chain inet t post '{ type nat hook postrouting priority 100; }'");
    auto g = NetnsGuard::enter(gw_);
    ASSERT_TRUE(g.ok()) << g.error();
    auto w = ConntrackWriter::open({});
    ASSERT_TRUE(w.ok()) << w.error();
    writer_.emplace(std::move(*w));
  }

  std::vector<CtWriteResult> write(CtOp op, const std::vector<Session>& sessions) {
    std::vector<CtWrite> writes;
    for (const auto& s : sessions) writes.push_back({op, &s});
    return writer_->apply(writes);
  }

  std::vector<Session> dump() {
    auto g = NetnsGuard::enter(gw_);
    return dumpAll();
  }

  Lab lab_;
  std::string gw_;
  std::optional<ConntrackWriter> writer_;
};

TEST_F(KernelAdapter, CreatedEntriesAppearInConntrackListWithTheirNat) {
  std::vector<Session> want;
  Session snat = tcp("192.0.2.10", 40000, "203.0.113.10", 443);
  snat.reply.dst = ip("198.51.100.100");
  snat.reply.dst_port = 61000;
  want.push_back(snat);
  Session dnat = tcp("203.0.113.20", 50000, "198.51.100.80", 80);  // LB-style DNAT to a VM
  dnat.orig.proto = dnat.reply.proto = l4::kUdp;
  dnat.tcp.reset();
  dnat.reply.src = ip("192.0.2.30");
  dnat.reply.src_port = 8080;
  want.push_back(dnat);
  Session v6 = tcp("2001:db8:a::10", 41000, "2001:db8:ffff::1", 443);
  v6.reply.dst = ip("2001:db8:100::1");
  v6.reply.dst_port = 62000;
  v6.mark = 7;
  want.push_back(v6);
  Session icmp;
  icmp.orig = {.src = ip("192.0.2.10"), .dst = ip("203.0.113.10"), .proto = l4::kIcmp,
               .icmp_id = 99, .icmp_type = 8};
  icmp.reply = invert(icmp.orig);
  icmp.reply.dst = ip("198.51.100.100");
  icmp.reply.icmp_id = 4242;  // id remapped by SNAT
  icmp.status = status::kSeenReply;
  icmp.timeout = 30;
  want.push_back(icmp);

  for (const auto& r : write(CtOp::kCreate, want)) EXPECT_EQ(r.error, 0) << std::strerror(r.error);

  const std::string list = lab_.output(Lab::in(gw_) + "conntrack -L 2>/dev/null");
  for (const auto& s : want) {
    EXPECT_NE(list.find(ctText(s.orig) + " " + ctText(s.reply)), std::string::npos)
        << "missing in conntrack -L: " << describe(s) << "\n" << list;
  }
  EXPECT_NE(list.find("mark=7"), std::string::npos);

  auto got = dump();
  ASSERT_EQ(got.size(), want.size());
  for (const auto& w : want) {
    auto it = std::find_if(got.begin(), got.end(), [&](const Session& g) { return g.orig == w.orig; });
    ASSERT_NE(it, got.end()) << describe(w);
    expectSame(w, *it);
    EXPECT_EQ(sourceNat(*it), sourceNat(w));
    EXPECT_EQ(destinationNat(*it), destinationNat(w));
  }
  // The kernel marks the entries as translated, as it does for NAT done by rules.
  auto snat_it = std::find_if(got.begin(), got.end(), [&](const Session& g) { return g.orig == snat.orig; });
  EXPECT_TRUE(snat_it->status & status::kSrcNat);
}

TEST_F(KernelAdapter, EveryTrackedProtocolCanBeWritten) {
  std::vector<Session> want;
  for (uint8_t proto : {l4::kUdp, l4::kUdpLite, l4::kSctp, l4::kGre}) {
    Session s = tcp("192.0.2.10", 1000 + proto, "203.0.113.10", 2000);
    s.orig.proto = s.reply.proto = proto;
    s.tcp.reset();
    s.status = status::kSeenReply;
    if (proto == l4::kSctp) s.sctp = SctpInfo{.state = 3, .vtag_orig = 1111, .vtag_reply = 2222};
    want.push_back(s);
  }
  Session icmp6;
  icmp6.orig = {.src = ip("2001:db8::10"), .dst = ip("2001:db8:1::10"), .proto = l4::kIcmpv6,
                .icmp_id = 5, .icmp_type = 128};
  icmp6.reply = invert(icmp6.orig);
  icmp6.timeout = 30;
  want.push_back(icmp6);
  const auto results = write(CtOp::kCreate, want);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(results[i].error, 0) << describe(want[i]) << ": " << std::strerror(results[i].error);
  }
  auto got = dump();
  EXPECT_EQ(got.size(), want.size());
  for (const auto& w : want) {
    auto it = std::find_if(got.begin(), got.end(), [&](const Session& g) { return g.orig == w.orig; });
    ASSERT_NE(it, got.end()) << describe(w);
    EXPECT_EQ(it->reply, w.reply);
    if (w.sctp) {
      ASSERT_TRUE(it->sctp);
      EXPECT_EQ(it->sctp->vtag_orig, 1111u);
      EXPECT_EQ(it->sctp->vtag_reply, 2222u);
    }
  }
}

// A dump reports timeout 0 for an entry in its last second; copying it must still work.
TEST_F(KernelAdapter, EntryInItsLastSecondCanBeCreated) {
  std::vector<Session> s{tcp("192.0.2.10", 5, "203.0.113.10", 80)};
  s[0].timeout = 0;
  EXPECT_EQ(write(CtOp::kCreate, s)[0].error, 0);
  EXPECT_EQ(dump().size(), 1u);
}

TEST_F(KernelAdapter, KernelRacesAreRepaired) {
  const std::vector<Session> first{tcp("192.0.2.10", 1, "203.0.113.10", 80)};
  ASSERT_EQ(write(CtOp::kCreate, first)[0].error, 0);
  // Create of an existing entry: EEXIST, retried as an update that applies the new state.
  std::vector<Session> again = first;
  again[0].mark = 99;
  auto r = write(CtOp::kCreate, again);
  EXPECT_EQ(r[0].error, 0);
  EXPECT_EQ(r[0].done, CtOp::kUpdate);
  EXPECT_EQ(writer_->stats().exists_to_update, 1u);
  EXPECT_EQ(dump().at(0).mark, 99u);
  // Update of a missing entry: ENOENT, retried as a create.
  const std::vector<Session> missing{tcp("192.0.2.11", 2, "203.0.113.10", 80)};
  r = write(CtOp::kUpdate, missing);
  EXPECT_EQ(r[0].error, 0);
  EXPECT_EQ(r[0].done, CtOp::kCreate);
  EXPECT_EQ(writer_->stats().missing_to_create, 1u);
  EXPECT_EQ(dump().size(), 2u);
  // Deletes: the second one reports ENOENT per entry.
  r = write(CtOp::kDelete, missing);
  EXPECT_EQ(r[0].error, 0);
  r = write(CtOp::kDelete, missing);
  EXPECT_EQ(r[0].error, ENOENT);
  EXPECT_EQ(dump().size(), 1u);
}

TEST_F(KernelAdapter, LargeBatchesDumpBackExactly) {
  std::vector<Session> want;
  for (int i = 0; i < 5000; ++i) {
    Session s = tcp("192.0.2.10", static_cast<uint16_t>(1024 + i), "203.0.113.10", 443);
    s.reply.dst = ip("198.51.100.100");
    s.reply.dst_port = static_cast<uint16_t>(20000 + i);
    want.push_back(s);
  }
  const auto results = write(CtOp::kCreate, want);
  EXPECT_TRUE(std::all_of(results.begin(), results.end(), [](auto& r) { return r.error == 0; }));
  EXPECT_GT(writer_->stats().batches, 1u) << "5000 entries must take several batches";
  std::set<std::string> a, b;
  for (const auto& s : want) a.insert(ctText(s.orig) + " " + ctText(s.reply));
  for (const auto& s : dump()) b.insert(ctText(s.orig) + " " + ctText(s.reply));
  EXPECT_EQ(a, b);
}

class EventsTest : public KernelAdapter {
 protected:
  std::unique_ptr<ConntrackEventSource> open(ConntrackEventSource::Options opt) {
    auto g = NetnsGuard::enter(gw_);
    auto src = ConntrackEventSource::open(
        io_, std::move(opt),
        {.on_events = [this](std::span<const CtEvent> ev) { events_.insert(events_.end(), ev.begin(), ev.end()); },
         .on_overrun = [this] { ++overruns_; }});
    EXPECT_TRUE(src.ok()) << (src.ok() ? "" : src.error());
    return src.ok() ? std::move(*src) : nullptr;
  }
  bool waitFor(const std::function<bool()>& cond) {
    return test::pollUntil(cond, [this] { io_.restart(); io_.run_for(10ms); }, 10s);
  }
  bool seen(const Tuple& orig, CtEventType type) const {
    return std::any_of(events_.begin(), events_.end(),
                       [&](const CtEvent& e) { return e.session.orig == orig && e.type == type; });
  }

  boost::asio::io_context io_;
  std::vector<CtEvent> events_;
  int overruns_ = 0;
};

TEST_F(EventsTest, RealTrafficThroughSnatProducesEventsWithTuplesAndNat) {
  const std::string client = lab_.add("client"), server = lab_.add("server");
  lab_.run("ip -n " + client + " link add c0 type veth peer name lan0 netns " + gw_);
  lab_.run("ip -n " + server + " link add s0 type veth peer name wan0 netns " + gw_);
  lab_.run("ip -n " + client + " addr add 192.0.2.10/24 dev c0 && ip -n " + client + " link set c0 up");
  lab_.run("ip -n " + client + " route add default via 192.0.2.1");
  lab_.run("ip -n " + gw_ + " addr add 192.0.2.1/24 dev lan0 && ip -n " + gw_ + " link set lan0 up");
  lab_.run("ip -n " + gw_ + " addr add 203.0.113.1/24 dev wan0 && ip -n " + gw_ + " link set wan0 up");
  lab_.run("ip -n " + server + " addr add 203.0.113.10/24 dev s0 && ip -n " + server + " link set s0 up");
  lab_.run("ip -n " + server + " route add 198.51.100.100/32 via 203.0.113.1");
  lab_.run(Lab::in(gw_) + "sysctl -qw net.ipv4.ip_forward=1");
  lab_.run(Lab::in(gw_) + "nft add rule inet t post oifname wan0 snat ip to 198.51.100.100");

  auto src = open({});
  ASSERT_TRUE(src);
  src->start();

  const int listener = test::socketIn(server, AF_INET, SOCK_STREAM);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(7000);
  inet_pton(AF_INET, "203.0.113.10", &addr.sin_addr);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  const int conn = test::socketIn(client, AF_INET, SOCK_STREAM);
  ASSERT_EQ(connect(conn, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  sockaddr_in local{}, peer{};
  socklen_t len = sizeof(local);
  getsockname(conn, reinterpret_cast<sockaddr*>(&local), &len);
  const int accepted = accept(listener, reinterpret_cast<sockaddr*>(&peer), &len);
  ASSERT_GE(accepted, 0);
  ASSERT_EQ(::write(conn, "x", 1), 1);
  char c;
  ASSERT_EQ(read(accepted, &c, 1), 1);
  ASSERT_EQ(::write(accepted, "y", 1), 1);
  ASSERT_EQ(read(conn, &c, 1), 1);

  Tuple orig{.src = ip("192.0.2.10"), .dst = ip("203.0.113.10"), .proto = l4::kTcp,
             .src_port = ntohs(local.sin_port), .dst_port = 7000};
  ASSERT_TRUE(waitFor([&] {
    return seen(orig, CtEventType::kNew) &&
           std::any_of(events_.begin(), events_.end(), [&](const CtEvent& e) {
             return e.session.orig == orig && e.session.tcp && e.session.tcp->state == 3;
           });
  })) << "no NEW and ESTABLISHED events for " << toString(orig);
  const auto& ev = *std::find_if(events_.begin(), events_.end(),
                                 [&](const CtEvent& e) { return e.session.orig == orig; });
  EXPECT_EQ(ev.type, CtEventType::kNew);
  auto nat = sourceNat(ev.session);
  ASSERT_TRUE(nat);
  EXPECT_EQ(nat->addr, ip("198.51.100.100"));
  // The server saw the translated source: exactly the binding the event reported.
  char seen_addr[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &peer.sin_addr, seen_addr, sizeof(seen_addr));
  EXPECT_STREQ(seen_addr, "198.51.100.100");
  EXPECT_EQ(nat->port, ntohs(peer.sin_port));
  EXPECT_EQ(ev.session.reply.src, ip("203.0.113.10"));
  EXPECT_EQ(ev.session.reply.src_port, 7000);

  close(conn);
  close(accepted);
  close(listener);
  src->stop();
}

TEST_F(EventsTest, OwnWritesAreNotEchoed) {
  ConntrackEventSource::Options opt;
  opt.ignore_port_ids = {writer_->portId()};
  auto src = open(opt);
  ASSERT_TRUE(src);
  src->start();
  std::vector<Session> ours;
  for (int i = 0; i < 100; ++i) ours.push_back(tcp("192.0.2.10", static_cast<uint16_t>(2000 + i), "203.0.113.10", 80));
  write(CtOp::kCreate, ours);
  write(CtOp::kUpdate, ours);
  write(CtOp::kDelete, {ours.begin(), ours.begin() + 10});
  // A sentinel written through another socket: once its event arrives, every event our own
  // writes caused has been read (one socket, in order).
  std::optional<ConntrackWriter> other;
  {
    auto g = NetnsGuard::enter(gw_);
    auto w = ConntrackWriter::open({});
    ASSERT_TRUE(w.ok());
    other.emplace(std::move(*w));
  }
  const Session sentinel = tcp("192.0.2.99", 9, "203.0.113.10", 80);
  std::vector<CtWrite> sw{{CtOp::kCreate, &sentinel}};
  ASSERT_EQ(other->apply(sw)[0].error, 0);
  ASSERT_TRUE(waitFor([&] { return seen(sentinel.orig, CtEventType::kNew); }));
  for (const auto& e : events_) EXPECT_EQ(e.session.orig, sentinel.orig) << describe(e.session);
  // The 100 NEW + 100 UPDATE + 10 DESTROY events of our writes never reach us: the socket
  // filter drops them in the kernel.
  EXPECT_TRUE(src->stats().own_filter_in_kernel);
  EXPECT_EQ(src->stats().skipped_own, 0u);
  EXPECT_LT(src->stats().received, 10u);
  src->stop();
}

TEST_F(EventsTest, DestroyEventsReportDeletedEntries) {
  auto src = open({});
  ASSERT_TRUE(src);
  src->start();
  const std::vector<Session> s{tcp("192.0.2.10", 3000, "203.0.113.10", 80)};
  write(CtOp::kCreate, s);
  write(CtOp::kDelete, s);
  ASSERT_TRUE(waitFor([&] { return seen(s[0].orig, CtEventType::kDestroy); }));
  EXPECT_TRUE(seen(s[0].orig, CtEventType::kNew));
  src->stop();
}

TEST_F(EventsTest, TinyReceiveBufferUnderFloodIsDetected) {
  ConntrackEventSource::Options opt;
  opt.receive_buffer = 4096;
  auto src = open(opt);
  ASSERT_TRUE(src);
  std::vector<Session> flood;
  for (int i = 0; i < 5000; ++i) flood.push_back(tcp("192.0.2.10", static_cast<uint16_t>(1024 + i), "203.0.113.10", 80));
  write(CtOp::kCreate, flood);  // nobody reads meanwhile: the socket must overflow
  EXPECT_FALSE(src->drainNow());
  EXPECT_GE(src->stats().overruns, 1u);
  EXPECT_EQ(overruns_, static_cast<int>(src->stats().overruns));
  EXPECT_LT(src->stats().received, 5000u);
}

}  // namespace
}  // namespace gwsync::syncd
