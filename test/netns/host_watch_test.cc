// Host detection against the real kernel: two sites, each a bridge with its gateway, joined by a
// DCI veth whose nftables bridge filter drops the anycast gateway's virtual MAC and its ARP (as
// DCI overlays do for first-hop localisation). Every gateway has lan0 (unique MAC and address) and
// a macvlan carrying the anycast address and virtual MAC. A VM starts at site A and moves to B.
// Shows: announcements (GARP, RARP, unsolicited NA) reach both gateways, the locality probe is
// answered only at the VM's own site, neighbour events report new and changed MACs only, and
// garbage on the LAN is counted, not fatal.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "syncd/core/host_frame_builder.h"
#include "syncd/kernel/host_watch.h"
#include "syncd/kernel/netns.h"
#include "test/netns/lab.h"

namespace gwsync::syncd {
namespace {

using namespace std::chrono_literals;
using test::Lab;
using Kind = HostSighting::Kind;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
MacAddress mac(const char* s) { return *MacAddress::parse(s); }

const IpAddress kAnycast = ip("192.0.2.1");
const IpAddress kAnycast6 = ip("2001:db8::1");
const MacAddress kVirtual = mac("02:00:5e:00:01:01");
const IpAddress kVmIp = ip("192.0.2.10");
const IpAddress kVmIp6 = ip("2001:db8::10");
const MacAddress kVmMac = mac("02:00:00:00:00:10");

// What one gateway's HostWatch reported.
struct Seen {
  std::vector<HostSighting> sightings;
  std::vector<std::pair<IpAddress, bool>> results;
  std::vector<std::string> failures;

  size_t count(Kind kind, const std::optional<IpAddress>& addr, const MacAddress& m) const {
    return static_cast<size_t>(std::count_if(sightings.begin(), sightings.end(), [&](const auto& s) {
      return s.kind == kind && s.ip == addr && s.mac == m && s.interface == "lan0";
    }));
  }
};

class HostWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::isRoot()) GTEST_SKIP() << "needs root";
    sw_ = lab_.add("sw");
    gw_[0] = lab_.add("gwa");
    gw_[1] = lab_.add("gwb");
    vm_ = lab_.add("vm");
    const std::string sw = Lab::in(sw_);
    ASSERT_TRUE(lab_.run(sw + "ip link add bra type bridge && " + sw + "ip link add brb type bridge"));
    ASSERT_TRUE(lab_.run(sw + "ip link add dci-a type veth peer name dci-b"));
    ASSERT_TRUE(lab_.run(sw + "ip link set dci-a master bra up && " + sw + "ip link set dci-b master brb up"));
    ASSERT_TRUE(lab_.run(sw + "ip link set bra up && " + sw + "ip link set brb up"));
    const std::string dci = "oifname { \"dci-a\", \"dci-b\" } ";
    ASSERT_TRUE(lab_.run(sw + "nft -f - <<'EOF'\n"
                         "table bridge dci {\n"
                         "  counter probe {}\n"
                         "  counter vmac {}\n"
                         "  counter anycast_arp {}\n"
                         "  chain dci_filter {\n"
                         "    type filter hook forward priority 0; policy accept;\n"
                         "    " + dci + "ether saddr " + kVirtual.toString() + " ether daddr " +
                         kVmMac.toString() + " counter name probe drop\n"
                         "    " + dci + "ether saddr " + kVirtual.toString() + " counter name vmac drop\n"
                         "    " + dci + "ether daddr " + kVirtual.toString() + " counter name vmac drop\n"
                         "    " + dci + "arp saddr ip " + kAnycast.toString() + " counter name anycast_arp drop\n"
                         "    " + dci + "arp daddr ip " + kAnycast.toString() + " counter name anycast_arp drop\n"
                         "  }\n"
                         "}\nEOF"));
    for (int i = 0; i < 2; ++i) addGateway(i);
    // The VM: a veth whose switch end starts in site A's bridge.
    const std::string vm = Lab::in(vm_);
    ASSERT_TRUE(lab_.run(sw + "ip link add p-vm type veth peer name eth0 netns " + vm_));
    ASSERT_TRUE(lab_.run(sw + "ip link set p-vm master bra up"));
    ASSERT_TRUE(lab_.run(vm + "ip link set eth0 address " + kVmMac.toString()));
    ASSERT_TRUE(lab_.run(vm + "ip addr add 192.0.2.10/24 dev eth0"));
    ASSERT_TRUE(lab_.run(vm + "ip addr add 2001:db8::10/64 dev eth0 nodad"));
    ASSERT_TRUE(lab_.run(vm + "ip link set eth0 up"));
    waitForLinks();
    for (int i = 0; i < 2; ++i) openWatch(i);
  }

  // Carrier changes reach the bridge and the qdisc through linkwatch, up to a second later:
  // until then the first frames are dropped. Wait until every port forwards and every end is up.
  void waitForLinks() {
    auto up = [this](const std::string& ns, const std::string& dev) {
      return lab_.output("ip -n " + ns + " -br link show dev " + dev).find(" UP ") != std::string::npos;
    };
    ASSERT_TRUE(test::pollUntil([&] {
      const std::string ports = lab_.output("bridge -n " + sw_ + " link show");
      size_t forwarding = 0;
      for (size_t at = 0; (at = ports.find("state forwarding", at)) != std::string::npos; ++at) ++forwarding;
      return forwarding == 5 && up(vm_, "eth0") && up(gw_[0], "lan0") && up(gw_[1], "lan0") &&
             up(gw_[0], "anyc") && up(gw_[1], "anyc");
    }, nullptr, 5s)) << lab_.output("bridge -n " + sw_ + " link show");
  }

  void addGateway(int i) {
    const std::string g = Lab::in(gw_[i]);
    const std::string site = i == 0 ? "a" : "b";
    ASSERT_TRUE(lab_.run(Lab::in(sw_) + "ip link add p-" + site + " type veth peer name lan0 netns " + gw_[i]));
    ASSERT_TRUE(lab_.run(Lab::in(sw_) + "ip link set p-" + site + " master br" + site + " up"));
    ASSERT_TRUE(lab_.run(g + "ip link set lan0 address 02:00:00:00:0" + std::to_string(i + 1) + ":02"));
    ASSERT_TRUE(lab_.run(g + "ip addr add 192.0.2." + std::to_string(2 + i) + "/24 dev lan0"));
    ASSERT_TRUE(lab_.run(g + "ip link set lan0 up"));
    ASSERT_TRUE(lab_.run(g + "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2"));
    ASSERT_TRUE(lab_.run(g + "ip link add anyc link lan0 address " + kVirtual.toString() +
                         " type macvlan mode bridge"));
    ASSERT_TRUE(lab_.run(g + "ip addr add 192.0.2.1/24 dev anyc noprefixroute"));
    ASSERT_TRUE(lab_.run(g + "ip addr add 2001:db8::1/64 dev anyc noprefixroute nodad"));
    ASSERT_TRUE(lab_.run(g + "ip link set anyc up"));
  }

  void openWatch(int i) {
    auto guard = NetnsGuard::enter(gw_[i]);
    ASSERT_TRUE(guard.ok()) << guard.error();
    Seen& seen = seen_[i];
    auto w = HostWatch::open(
        io_,
        {.interfaces = {"lan0"}, .anycast_ipv4 = kAnycast, .anycast_mac = kVirtual,
         .anycast_ipv6 = kAnycast6, .probe_timeout = 100ms},
        {.on_sighting = [&seen](const HostSighting& s) { seen.sightings.push_back(s); },
         .on_probe_result = [&seen](const IpAddress& h, bool local) { seen.results.emplace_back(h, local); },
         .on_failure = [&seen](const std::string& why) { seen.failures.push_back(why); }});
    ASSERT_TRUE(w.ok()) << w.error();
    watch_[i] = std::move(*w);
    watch_[i]->start();
  }

  void TearDown() override {
    for (int i = 0; i < 2; ++i) {
      if (watch_[i]) {
        EXPECT_TRUE(seen_[i].failures.empty()) << seen_[i].failures.front();
      }
    }
  }

  // Sends a frame from the VM's eth0 through our own packet socket class.
  void sendFromVm(const std::vector<uint8_t>& frame) {
    auto guard = NetnsGuard::enter(vm_);
    ASSERT_TRUE(guard.ok()) << guard.error();
    if (!vm_sock_) {
      auto s = HostWatchSocket::open("eth0");
      ASSERT_TRUE(s.ok()) << s.error();
      vm_sock_.emplace(std::move(*s));
    }
    auto r = vm_sock_->send(frame);
    ASSERT_TRUE(r.ok()) << r.error();
  }

  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline = 3s) {
    return test::pollUntil(done, [this] {
      io_.restart();
      io_.run_for(5ms);
    }, deadline);
  }

  // Probes the VM from both gateways; returns each one's answer (local or not).
  std::array<bool, 2> probeBoth(const IpAddress& host) {
    const size_t before[2] = {seen_[0].results.size(), seen_[1].results.size()};
    for (int i = 0; i < 2; ++i) {
      auto r = watch_[i]->probe(host, kVmMac);
      EXPECT_TRUE(r.ok()) << r.error();
    }
    EXPECT_TRUE(runUntil([&] {
      return seen_[0].results.size() > before[0] && seen_[1].results.size() > before[1];
    })) << "no probe result within 3 s";
    std::array<bool, 2> local{};
    for (int i = 0; i < 2; ++i) {
      if (seen_[i].results.size() == before[i] + 1) {
        EXPECT_EQ(seen_[i].results.back().first, host);
        local[i] = seen_[i].results.back().second;
      }
    }
    return local;
  }

  // What each gateway got, for failure messages.
  std::string describeSeen() const {
    std::string out;
    for (int i = 0; i < 2; ++i) {
      const auto& st = watch_[i]->stats();
      out += "gw" + std::to_string(i) + ": frames " + std::to_string(st.frames) + " ignored " +
             std::to_string(st.ignored) + " rejected " + std::to_string(st.parse.rejectedTotal()) +
             " sightings:";
      for (const auto& s : seen_[i].sightings) {
        out += std::string(" ") + toString(s.kind) + "/" + (s.ip ? s.ip->toString() : "-") + "/" +
               s.mac.toString();
      }
      out += "\n";
    }
    return out;
  }

  uint64_t nftCounter(const std::string& name) {
    const std::string out = lab_.output(Lab::in(sw_) + "nft list counter bridge dci " + name);
    const auto at = out.find("packets ");
    return at == std::string::npos ? 0 : std::stoull(out.substr(at + 8));
  }

  void moveVmToB() {
    ASSERT_TRUE(lab_.run(Lab::in(sw_) + "ip link set p-vm master brb"));
    waitForLinks();
  }

  Lab lab_;
  std::string sw_, vm_;
  std::array<std::string, 2> gw_;
  boost::asio::io_context io_;
  std::array<Seen, 2> seen_;
  std::array<std::unique_ptr<HostWatch>, 2> watch_;
  std::optional<HostWatchSocket> vm_sock_;
};

TEST_F(HostWatchTest, GratuitousArpIsSeenAtBothSitesButOnlySiteAAnswersTheProbe) {
  sendFromVm(buildGratuitousArp(kVmMac, kVmIp));
  ASSERT_TRUE(runUntil([&] {
    return seen_[0].count(Kind::kGratuitousArp, kVmIp, kVmMac) == 1 &&
           seen_[1].count(Kind::kGratuitousArp, kVmIp, kVmMac) == 1;
  })) << "GARP not seen at both gateways";

  const uint64_t dropped_before = nftCounter("probe");
  const auto local = probeBoth(kVmIp);
  EXPECT_TRUE(local[0]) << "site A, where the VM is, must get the answer";
  EXPECT_FALSE(local[1]) << "site B must time out: the DCI drops the virtual MAC";
  EXPECT_EQ(seen_[0].count(Kind::kProbeReply, kVmIp, kVmMac), 1u);
  EXPECT_EQ(seen_[1].count(Kind::kProbeReply, kVmIp, kVmMac), 0u);
  EXPECT_EQ(watch_[0]->stats().probe_replies, 1u);
  EXPECT_EQ(watch_[0]->stats().probe_timeouts, 0u);
  EXPECT_EQ(watch_[1]->stats().probe_replies, 0u);
  EXPECT_EQ(watch_[1]->stats().probe_timeouts, 1u);
  // B's probe died at the DCI (A's did not reach it: the VM's port is in A's bridge).
  EXPECT_EQ(nftCounter("probe"), dropped_before + 1);
  // The probe request itself is not a sighting of anything.
  EXPECT_EQ(seen_[0].sightings.size(), 2u);  // the GARP and the probe reply
  EXPECT_EQ(seen_[1].sightings.size(), 1u);  // the GARP
  EXPECT_EQ(watch_[0]->pendingProbes(), 0u);
  EXPECT_EQ(watch_[1]->pendingProbes(), 0u);
}

TEST_F(HostWatchTest, AfterTheMoveRarpIsSeenAtBothAndOnlySiteBAnswers) {
  ASSERT_EQ(probeBoth(kVmIp), (std::array<bool, 2>{true, false}));
  moveVmToB();
  sendFromVm(buildRarpAnnouncement(kVmMac));
  ASSERT_TRUE(runUntil([&] {
    return seen_[0].count(Kind::kRarp, std::nullopt, kVmMac) == 1 &&
           seen_[1].count(Kind::kRarp, std::nullopt, kVmMac) == 1;
  })) << "RARP not seen at both gateways";
  EXPECT_EQ(probeBoth(kVmIp), (std::array<bool, 2>{false, true}));
  EXPECT_EQ(seen_[1].count(Kind::kProbeReply, kVmIp, kVmMac), 1u);
  // And back: the answer follows the VM.
  ASSERT_TRUE(lab_.run(Lab::in(sw_) + "ip link set p-vm master bra"));
  waitForLinks();
  sendFromVm(buildRarpAnnouncement(kVmMac));
  ASSERT_TRUE(runUntil([&] { return seen_[1].count(Kind::kRarp, std::nullopt, kVmMac) == 2; }));
  EXPECT_EQ(probeBoth(kVmIp), (std::array<bool, 2>{true, false}));
}

TEST_F(HostWatchTest, Ipv6UnsolicitedAdvertisementAndNeighbourSolicitationProbe) {
  sendFromVm(buildUnsolicitedNa(kVmMac, kVmIp6));
  ASSERT_TRUE(runUntil([&] {
    return seen_[0].count(Kind::kUnsolicitedNa, kVmIp6, kVmMac) == 1 &&
           seen_[1].count(Kind::kUnsolicitedNa, kVmIp6, kVmMac) == 1;
  })) << "unsolicited NA not seen at both gateways\n" << describeSeen();
  // The VM's kernel answers our NS with a solicited NA to the virtual MAC.
  EXPECT_EQ(probeBoth(kVmIp6), (std::array<bool, 2>{true, false}));
  EXPECT_EQ(seen_[0].count(Kind::kProbeReply, kVmIp6, kVmMac), 1u);
  moveVmToB();
  sendFromVm(buildUnsolicitedNa(kVmMac, kVmIp6));
  ASSERT_TRUE(runUntil([&] { return seen_[1].count(Kind::kUnsolicitedNa, kVmIp6, kVmMac) == 2; }));
  EXPECT_EQ(probeBoth(kVmIp6), (std::array<bool, 2>{false, true}));
}

TEST_F(HostWatchTest, ProbeLatencyAtTheLocalSite) {
  constexpr int kProbes = 50;
  std::vector<uint64_t> rtt;
  for (int i = 0; i < kProbes; ++i) {
    const size_t before = seen_[0].results.size();
    ASSERT_TRUE(watch_[0]->probe(kVmIp, kVmMac).ok());
    ASSERT_TRUE(runUntil([&] { return seen_[0].results.size() > before; }));
    ASSERT_TRUE(seen_[0].results.back().second);
    rtt.push_back(watch_[0]->stats().probe_rtt_us_last);
  }
  std::sort(rtt.begin(), rtt.end());
  std::printf("probe request -> reply over %d probes: min %llu us, median %llu us, p90 %llu us, "
              "max %llu us\n",
              kProbes, static_cast<unsigned long long>(rtt.front()),
              static_cast<unsigned long long>(rtt[rtt.size() / 2]),
              static_cast<unsigned long long>(rtt[rtt.size() * 9 / 10]),
              static_cast<unsigned long long>(rtt.back()));
  EXPECT_EQ(watch_[0]->stats().probe_replies, static_cast<uint64_t>(kProbes));
  // Far under the timeout: the local answer never races the 100 ms default.
  EXPECT_LT(rtt[rtt.size() / 2], 50'000u);
}

TEST_F(HostWatchTest, ProbesForOneHostCoalesceAndAllTimeOutWhenNobodyAnswers) {
  const IpAddress absent = ip("192.0.2.99");
  const MacAddress absent_mac = mac("02:00:00:00:00:99");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(watch_[0]->probe(absent, absent_mac).ok());
  ASSERT_TRUE(watch_[0]->probe(absent, absent_mac).ok());
  EXPECT_EQ(watch_[0]->stats().probes_coalesced, 1u);
  ASSERT_TRUE(runUntil([&] { return !seen_[0].results.empty(); }));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 100ms);
  EXPECT_LT(waited, 1s);
  ASSERT_EQ(seen_[0].results.size(), 1u);
  EXPECT_EQ(seen_[0].results[0], std::make_pair(absent, false));
  // IPv6 without an anycast IPv6 address is an error, not a silent "remote".
  auto guard = NetnsGuard::enter(gw_[0]);
  auto v4only = HostWatch::open(io_, {.interfaces = {"lan0"}, .anycast_ipv4 = kAnycast,
                                      .anycast_mac = kVirtual, .neighbour_events = false}, {});
  ASSERT_TRUE(v4only.ok()) << v4only.error();
  auto r = (*v4only)->probe(kVmIp6, kVmMac);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no anycast IPv6"), std::string::npos) << r.error();
}

TEST_F(HostWatchTest, NeighbourEventsReportNewAndChangedMacsOnly) {
  const std::string g = Lab::in(gw_[0]);
  auto count = [&](const char* addr, const char* m) {
    return seen_[0].count(Kind::kNeighbour, ip(addr), mac(m));
  };
  ASSERT_TRUE(lab_.run(g + "ip neigh replace 192.0.2.77 lladdr 02:00:00:00:00:77 dev lan0 nud reachable"));
  ASSERT_TRUE(runUntil([&] { return count("192.0.2.77", "02:00:00:00:00:77") == 1; }));
  // State churn with the same MAC: counted, not reported.
  const uint64_t unchanged = watch_[0]->neighbourStats()->unchanged;
  ASSERT_TRUE(lab_.run(g + "ip neigh change 192.0.2.77 lladdr 02:00:00:00:00:77 dev lan0 nud stale"));
  ASSERT_TRUE(runUntil([&] { return watch_[0]->neighbourStats()->unchanged > unchanged; }));
  EXPECT_EQ(count("192.0.2.77", "02:00:00:00:00:77"), 1u);
  ASSERT_TRUE(lab_.run(g + "ip neigh replace 192.0.2.77 lladdr 02:00:00:00:00:78 dev lan0 nud reachable"));
  ASSERT_TRUE(runUntil([&] { return count("192.0.2.77", "02:00:00:00:00:78") == 1; }));
  // A real resolution: gw-a reaches the VM at site B from its unique address, across the DCI.
  moveVmToB();
  ASSERT_TRUE(lab_.run(g + "bash -c 'echo x > /dev/udp/192.0.2.10/9'"));
  ASSERT_TRUE(runUntil([&] { return count("192.0.2.10", "02:00:00:00:00:10") == 1; }))
      << "no neighbour event for the VM";
  // gw-a's own ARP request went out of lan0: seen on the way out, skipped, never a sighting.
  EXPECT_GE(watch_[0]->stats().outgoing, 1u);
  EXPECT_EQ(seen_[0].count(Kind::kGratuitousArp, ip("192.0.2.2"), mac("02:00:00:00:01:02")), 0u);
  // Neighbours of other interfaces (the macvlan) are not ours.
  ASSERT_TRUE(lab_.run(g + "ip neigh replace 192.0.2.88 lladdr 02:00:00:00:00:88 dev anyc"));
  ASSERT_TRUE(runUntil([&] { return watch_[0]->neighbourStats()->other_interface > 0; }));
  EXPECT_EQ(count("192.0.2.88", "02:00:00:00:00:88"), 0u);
}

TEST_F(HostWatchTest, GarbageOnTheLanIsCountedNotFatal) {
  auto garp = buildGratuitousArp(kVmMac, kVmIp);
  // ARP header complete, addresses cut off. (A frame shorter than the ARP header does not make
  // it through the bridge on this kernel, so it cannot be the test.)
  std::vector<uint8_t> truncated(garp.begin(), garp.begin() + 30);
  auto bad_htype = garp;
  bad_htype[15] = 6;
  auto bad_checksum = buildUnsolicitedNa(kVmMac, kVmIp6);
  bad_checksum[57] ^= 0xff;
  // IPv4 data: the kernel filter drops it, user space never sees it.
  std::vector<uint8_t> ipv4(garp.begin(), garp.end());
  ipv4[12] = 0x08;
  ipv4[13] = 0x00;
  for (const auto* f : {&truncated, &bad_htype, &bad_checksum, &ipv4}) sendFromVm(*f);
  sendFromVm(garp);
  ASSERT_TRUE(runUntil([&] {
    return seen_[0].count(Kind::kGratuitousArp, kVmIp, kVmMac) == 1 &&
           seen_[1].count(Kind::kGratuitousArp, kVmIp, kVmMac) == 1;
  }));
  for (int i = 0; i < 2; ++i) {
    const auto& st = watch_[i]->stats();
    EXPECT_EQ(st.parse[FrameReject::kTruncated], 1u) << i;
    EXPECT_EQ(st.parse[FrameReject::kArpFormat], 1u) << i;
    EXPECT_EQ(st.parse[FrameReject::kChecksum], 1u) << i;
    EXPECT_EQ(st.parse[FrameReject::kEthertype], 0u) << "the BPF filter let IPv4 through";
    EXPECT_EQ(st.parse.rejectedTotal(), 3u) << i;
    EXPECT_EQ(st.sightings[static_cast<size_t>(Kind::kGratuitousArp)], 1u) << i;
  }
  // Still working afterwards.
  EXPECT_EQ(probeBoth(kVmIp), (std::array<bool, 2>{true, false}));
}

TEST_F(HostWatchTest, OpenNamesTheMissingInterface) {
  auto guard = NetnsGuard::enter(gw_[0]);
  auto w = HostWatch::open(io_, {.interfaces = {"lan0", "lan9"}, .anycast_ipv4 = kAnycast,
                                 .anycast_mac = kVirtual}, {});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().find("interface lan9: no such interface"), std::string::npos) << w.error();
  auto bad_mac = HostWatch::open(io_, {.interfaces = {"lan0"}, .anycast_ipv4 = kAnycast,
                                       .anycast_mac = MacAddress::broadcast()}, {});
  ASSERT_FALSE(bad_mac.ok());
  EXPECT_NE(bad_mac.error().find("not a unicast address"), std::string::npos) << bad_mac.error();
  auto not_ether = HostWatch::open(io_, {.interfaces = {"lo"}, .anycast_ipv4 = kAnycast,
                                         .anycast_mac = kVirtual}, {});
  ASSERT_FALSE(not_ether.ok());
  EXPECT_NE(not_ether.error().find("interface lo: not an Ethernet interface"), std::string::npos)
      << not_ether.error();
}

}  // namespace
}  // namespace gwsync::syncd
