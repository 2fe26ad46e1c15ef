// Two SyncEngines over an in-memory link that drops, duplicates, delays and reorders frames,
// partitions, and restarts either daemon (the kernel tables survive a daemon restart, as they
// do on a gateway). Both nodes carry traffic (active/active) and lose conntrack events now and
// then. After the load stops and the link heals, both sides must agree exactly, over many seeds:
// each owns what its traffic runs through, holds the peer's sessions as the peer holds them, and
// its kernel has no stale copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "syncd/core/sync_engine.h"

namespace gwsync::syncd {

void PrintTo(const Session& s, std::ostream* os) {
  *os << describe(s) << " timeout=" << s.timeout << " owner=" << s.owner << " version=" << s.version;
}

namespace {

constexpr Millis kTick{10};
constexpr uint32_t kPeerMark = 0x80000000u;

struct SimParams {
  double drop = 0.05;
  double dup = 0.03;
  Millis max_delay{40};    // uniform delay per frame: frames overtake each other
  double op_rate = 0.5;    // traffic operations per node and tick
  double lost_event = 0.01;
  double partition = 0.002;  // per tick
  double restart = 0.001;    // per node and tick
  double blackhole = 0.0;    // per tick: the connection stays up but carries nothing for a while
  Millis load{20000};
};

struct SimNode {
  uint32_t id = 0;
  uint32_t peer = 0;
  uint64_t epoch = 0;
  std::unique_ptr<SyncEngine> engine;  // null while the daemon is down
  Millis down_until{0};
  Millis started_at{0};
  Millis next_refresh{0};
  bool overrun = false;
  // The conntrack table, our traffic and peer copies, each with the time it expires: dumps
  // report the time left, as the kernel does.
  std::map<SessionKey, std::pair<Session, Millis>> kernel;
  std::map<SessionKey, Session> traffic;  // flows whose packets run through this node
  uint16_t next_port = 1024;
};

struct InFlight {
  Millis at;
  int to;
  uint64_t conn;
  SyncMessage msg;
};

class Sim {
 public:
  Sim(uint64_t seed, SimParams p) : rng_(seed), p_(p) {
    for (int i = 0; i < 2; ++i) {
      nodes_[i].id = static_cast<uint32_t>(i + 1);
      nodes_[i].peer = static_cast<uint32_t>(2 - i);
      start(nodes_[i]);
    }
    setConnected(false);  // the link comes up with both daemons running
  }

  void run(Millis duration, bool load) {
    for (const Millis end = now_ + duration; now_ < end; now_ += kTick) tick(load);
  }

  // Runs without faults until nothing is left to send; false if that never happens.
  bool settle(Millis limit) {
    p_.drop = p_.dup = p_.partition = p_.restart = p_.lost_event = p_.blackhole = 0;
    blackhole_until_ = Millis{0};
    for (const Millis end = now_ + limit; now_ < end; now_ += kTick) {
      tick(false);
      if (quiet()) return true;
    }
    return false;
  }

  SimNode& node(int i) { return nodes_[i]; }

  // How much of each fault a run went through, so the tests can show they exercised it.
  struct Faults {
    uint64_t dropped = 0, duplicated = 0, partitions = 0, restarts = 0, lost_events = 0,
             dead_peers = 0;
  };
  const Faults& faultCounts() const { return faults_; }

 private:
  bool chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng_) < p; }
  int pick(int n) { return std::uniform_int_distribution<>(0, n - 1)(rng_); }

  void start(SimNode& n) {
    ++n.epoch;
    n.engine = std::make_unique<SyncEngine>(SyncEngine::Options{
        .node_id = n.id, .peer_id = n.peer, .site = "", .epoch = n.epoch, .window = 64,
        .max_items_per_frame = 16, .heartbeat = Millis{200}, .dead_after = Millis{1000},
        .retransmit = Millis{300}, .refresh = Millis{2000}, .peer_mark = kPeerMark,
        .expected_sessions = 1024});
    n.started_at = now_;
    n.overrun = false;
    n.engine->onLocalSnapshot(dump(n), now_);
    n.next_refresh = now_ + Millis{1000};
  }

  std::vector<Session> dump(const SimNode& n) const {
    std::vector<Session> out;
    for (const auto& [k, entry] : n.kernel) {
      out.push_back(entry.first);
      out.back().timeout = static_cast<uint32_t>(std::max<int64_t>(0, (entry.second - now_).count() / 1000));
    }
    return out;
  }
  void write(SimNode& n, const Session& s) { n.kernel[keyOf(s)] = {s, now_ + std::chrono::seconds(s.timeout)}; }

  void traffic(SimNode& n) {
    const int op = pick(10);
    Session s;
    LocalEvent ev;
    if (op < 4 || n.traffic.empty()) {  // a new flow
      s.orig = {.src = IpAddress::v4(192, 0, 2, static_cast<uint8_t>(n.id)),
                .dst = IpAddress::v4(203, 0, 113, 10), .proto = l4::kTcp,
                .src_port = n.next_port++, .dst_port = 443};
      s.reply = invert(s.orig);
      s.timeout = 600;
      s.tcp = TcpInfo{.state = 1};
      ev = LocalEvent::kNew;
    } else {
      auto it = std::next(n.traffic.begin(), pick(static_cast<int>(n.traffic.size())));
      s = it->second;
      if (op < 8) {  // a state change
        s.mark = static_cast<uint32_t>(pick(1000));
        s.tcp->state = static_cast<uint8_t>(1 + pick(8));
        ev = LocalEvent::kUpdate;
      } else {
        ev = LocalEvent::kDestroy;
      }
    }
    const SessionKey key = keyOf(s);
    if (ev == LocalEvent::kDestroy) {
      n.traffic.erase(key);
      n.kernel.erase(key);
    } else {
      n.traffic[key] = s;
      write(n, s);
    }
    if (!n.engine) return;  // the daemon is down: the kernel changes all the same
    if (chance(p_.lost_event)) {
      ++faults_.lost_events;
      n.overrun = true;  // ENOBUFS: the daemon will dump and start a bulk
    } else {
      n.engine->onLocalEvent(ev, s);
    }
  }

  void apply(SimNode& n) {
    for (KernelChange& c : n.engine->takeKernelChanges()) {
      const SessionKey key = keyOf(c.session);
      if (c.kind == KernelChange::Kind::kRemove) {
        n.kernel.erase(key);
      } else {
        write(n, c.session);
      }
    }
  }

  bool connected() const { return link_up_ && nodes_[0].engine && nodes_[1].engine; }

  void setConnected(bool was) {
    const bool is = connected();
    if (was == is) return;
    flight_.clear();
    ++conn_;
    for (auto& n : nodes_) {
      if (!n.engine) continue;
      if (is) {
        n.engine->onConnected(now_);
      } else {
        n.engine->onDisconnected();
      }
    }
  }

  void faults() {
    const bool was = connected();
    if (link_up_ && chance(p_.partition)) {
      ++faults_.partitions;
      link_up_ = false;
      link_back_ = now_ + Millis{100 + pick(3000)};
    } else if (!link_up_ && now_ >= link_back_) {
      link_up_ = true;
    }
    for (auto& n : nodes_) {
      if (n.engine && chance(p_.restart)) {
        ++faults_.restarts;
        n.engine.reset();
        n.down_until = now_ + Millis{50 + pick(2000)};
      } else if (!n.engine && now_ >= n.down_until) {
        start(n);
      }
    }
    setConnected(was);
  }

  void daemons() {
    for (auto& n : nodes_) {
      if (!n.engine) continue;
      if (n.overrun || now_ >= n.next_refresh) {
        if (n.overrun) n.engine->requestBulk();
        n.engine->onLocalSnapshot(dump(n), now_);
        n.overrun = false;
        n.next_refresh = now_ + Millis{1000};
      }
      if (n.engine->resolving() && now_ - n.started_at > Millis{5000}) {
        n.engine->claimUnresolved(now_);
      }
      apply(n);
    }
  }

  void send() {
    if (!connected()) return;
    if (now_ >= blackhole_until_ && chance(p_.blackhole)) {
      blackhole_until_ = now_ + Millis{500 + pick(3000)};  // a half-open connection
    }
    for (int i = 0; i < 2; ++i) {
      if (nodes_[i].engine->peerDead(now_)) {
        // The daemon drops a silent connection and dials again.
        ++faults_.dead_peers;
        link_up_ = false;
        setConnected(true);
        link_up_ = true;
        setConnected(false);
        return;
      }
      for (auto& m : nodes_[i].engine->poll(now_)) {
        if (now_ < blackhole_until_ || chance(p_.drop)) {
          ++faults_.dropped;
          continue;
        }
        const int copies = chance(p_.dup) ? 2 : 1;
        faults_.duplicated += copies - 1;
        for (int c = 0; c < copies; ++c) {
          const Millis delay{1 + pick(static_cast<int>(p_.max_delay.count()))};
          flight_.push_back({now_ + delay, 1 - i, conn_, m});
        }
      }
    }
  }

  void deliver() {
    std::stable_sort(flight_.begin(), flight_.end(),
                     [](const InFlight& a, const InFlight& b) { return a.at < b.at; });
    size_t done = 0;
    for (; done < flight_.size() && flight_[done].at <= now_; ++done) {
      InFlight& f = flight_[done];
      if (f.conn != conn_ || !connected()) continue;
      ASSERT_TRUE(nodes_[f.to].engine->onMessage(f.msg, now_));
    }
    flight_.erase(flight_.begin(), flight_.begin() + static_cast<std::ptrdiff_t>(done));
  }

  void tick(bool load) {
    faults();
    if (load) {
      for (auto& n : nodes_) {
        if (chance(p_.op_rate)) traffic(n);
      }
    }
    daemons();
    send();
    deliver();
    for (auto& n : nodes_) {
      if (n.engine) apply(n);
    }
  }

  bool quiet() const {
    if (!connected() || !flight_.empty()) return false;
    for (const auto& n : nodes_) {
      if (!n.engine->sender().idle() || n.engine->resolving()) return false;
    }
    return true;
  }

  std::mt19937_64 rng_;
  SimParams p_;
  SimNode nodes_[2];
  Millis now_{1000};
  bool link_up_ = true;
  Millis link_back_{0};
  Millis blackhole_until_{0};
  uint64_t conn_ = 1;
  std::vector<InFlight> flight_;
  Faults faults_;
};

// What must agree between copies: not the peer bit, not who stamped it, not the countdown.
Session unmarked(Session s) {
  s.mark &= ~kPeerMark;
  s.timeout = 0;
  s.owner = 0;
  s.version = 0;
  return s;
}

std::string summary(SimNode& n) {
  size_t by_default = 0, foreign = 0;
  for (const auto& [k, o] : n.engine->owned()) {
    by_default += o.by_default;
    foreign += n.traffic.count(k) == 0;
  }
  const auto& es = n.engine->stats();
  const auto& rs = n.engine->receiver().stats();
  const auto& ss = n.engine->sender().stats();
  return "node " + std::to_string(n.id) + " epoch " + std::to_string(n.epoch) + ": owned " +
         std::to_string(n.engine->owned().size()) + " (by default " + std::to_string(by_default) +
         ", not its traffic " + std::to_string(foreign) + "), traffic " +
         std::to_string(n.traffic.size()) + ", copies " + std::to_string(n.engine->peerSessions().size()) +
         ", lost " + std::to_string(es.ownership_lost) + " gained " + std::to_string(es.ownership_gained) +
         " claimed " + std::to_string(es.claimed_unresolved) + " stale-deleted " +
         std::to_string(es.stale_copies_deleted) + " purged " + std::to_string(rs.purged) +
         " bulks sent " + std::to_string(ss.bulks_completed) + " recv " + std::to_string(rs.bulks_received) +
         " streams " + std::to_string(ss.streams_started) + " resumes " + std::to_string(ss.resumes);
}

void expectConverged(Sim& sim, uint64_t seed) {
  SCOPED_TRACE(summary(sim.node(0)));
  SCOPED_TRACE(summary(sim.node(1)));
  for (int i = 0; i < 2; ++i) {
    SimNode& n = sim.node(i);
    SimNode& peer = sim.node(1 - i);
    const auto& owned = n.engine->owned();
    // It owns exactly the flows running through it, in their current state.
    ASSERT_EQ(owned.size(), n.traffic.size()) << "seed " << seed << " node " << n.id;
    for (const auto& [key, s] : n.traffic) {
      auto it = owned.find(key);
      ASSERT_NE(it, owned.end()) << "seed " << seed << " node " << n.id << " lost " << describe(s);
      EXPECT_EQ(unmarked(it->second.session), unmarked(s)) << "seed " << seed;
    }
    // It holds the peer's sessions exactly as the peer owns them.
    const auto& copies = n.engine->peerSessions();
    ASSERT_EQ(copies.size(), peer.engine->owned().size()) << "seed " << seed << " node " << n.id;
    for (const auto& [key, o] : peer.engine->owned()) {
      auto it = copies.find(key);
      ASSERT_NE(it, copies.end()) << "seed " << seed << " node " << n.id << " misses "
                                  << describe(o.session);
      EXPECT_EQ(it->second.session, o.session) << "seed " << seed;  // version and owner too
    }
    // Its kernel holds its traffic and the peer's (marked), nothing stale (hot mode).
    std::map<SessionKey, Session> want = n.traffic;
    for (const auto& [key, s] : peer.traffic) want[key] = s;
    ASSERT_EQ(n.kernel.size(), want.size()) << "seed " << seed << " node " << n.id;
    for (const auto& [key, entry] : n.kernel) {
      const Session& s = entry.first;
      ASSERT_TRUE(want.count(key)) << "seed " << seed << " stale " << describe(s);
      EXPECT_EQ(unmarked(s), unmarked(want[key])) << "seed " << seed;
      EXPECT_EQ((s.mark & kPeerMark) != 0, peer.traffic.count(key) != 0) << "seed " << seed;
    }
  }
}

TEST(SyncSimulation, ConvergesOnACleanLink) {
  SimParams p;
  p.drop = p.dup = p.partition = p.restart = p.lost_event = 0;
  Sim sim(1, p);
  sim.run(Millis{5000}, true);
  ASSERT_TRUE(sim.settle(Millis{30000}));
  expectConverged(sim, 1);
  EXPECT_GT(sim.node(0).traffic.size(), 20u);
  EXPECT_GT(sim.node(0).engine->sender().stats().items_sent, 200u);
}

// Runs `seeds` simulations and checks each converged; returns the faults they went through.
Sim::Faults runSeeds(uint64_t first, uint64_t seeds, const SimParams& p, Millis settle) {
  Sim::Faults total;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    Sim sim(seed, p);
    sim.run(p.load, true);
    EXPECT_TRUE(sim.settle(settle)) << "seed " << seed << " never settled";
    expectConverged(sim, seed);
    if (::testing::Test::HasFailure()) break;
    const auto& f = sim.faultCounts();
    total.dropped += f.dropped;
    total.duplicated += f.duplicated;
    total.partitions += f.partitions;
    total.restarts += f.restarts;
    total.lost_events += f.lost_events;
    total.dead_peers += f.dead_peers;
  }
  return total;
}

TEST(SyncSimulation, ConvergesUnderLossDuplicationReorderPartitionsAndRestarts) {
  const auto f = runSeeds(1, 200, SimParams{}, Millis{60000});
  EXPECT_GT(f.dropped, 0u);
  EXPECT_GT(f.duplicated, 0u);
  EXPECT_GT(f.partitions, 50u);
  EXPECT_GT(f.restarts, 50u);
  EXPECT_GT(f.lost_events, 50u);
}

TEST(SyncSimulation, ConvergesWithHeavyLossAndLongDelays) {
  SimParams p;
  p.drop = 0.3;
  p.dup = 0.1;
  p.max_delay = Millis{200};
  p.blackhole = 0.002;
  const auto f = runSeeds(1000, 20, p, Millis{120000});
  EXPECT_GT(f.dropped, 1000u);
  EXPECT_GT(f.dead_peers, 0u);
}

// Restarts without partitions: each daemon comes back to a kernel full of the peer's copies,
// some of them deleted at the peer meanwhile.
TEST(SyncSimulation, ConvergesAcrossFrequentRestarts) {
  SimParams p;
  p.partition = 0;
  p.restart = 0.01;
  const auto f = runSeeds(2000, 30, p, Millis{60000});
  EXPECT_GT(f.restarts, 100u);
}

}  // namespace
}  // namespace gwsync::syncd
