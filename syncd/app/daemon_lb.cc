// The daemon's load balancer (docs/lb.md): applies table inet gwsync_lb at start and on reload,
// compares the LB table checksum the peer announced in Hello with ours (a mismatch means the two
// gateways would send the same new flow to different backends: a warning and
// gwsync_lb_checksum_mismatch), counts the synced sessions of each service for /metrics, and
// names the service of a session for gwsyncctl sessions. Same thread and class as daemon.cc.
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "lb/describe.h"
#include "lb/nft_render.h"
#include "nat/nft_apply.h"
#include "syncd/app/daemon.h"

namespace gwsync::syncd {

namespace {

// Counting every session per service is a walk over both tables: once a second is plenty for a
// gauge that is scraped every few seconds.
constexpr auto kCountInterval = std::chrono::seconds(1);

}  // namespace

// Gauges for the configured services: labels come from the config only (bounded).
struct Daemon::LbState {
  using Gauges = prometheus::Family<prometheus::Gauge>;
  Gauges* sessions = nullptr;          // gwsync_lb_sessions{service}
  Gauges* backend_sessions = nullptr;  // gwsync_lb_backend_sessions{service,backend}
  Gauges* weight = nullptr;            // gwsync_lb_backend_weight{service,backend}
  prometheus::Gauge* mismatch = nullptr;
  std::vector<prometheus::Gauge*> service_gauges;               // parallel to services
  std::vector<std::vector<prometheus::Gauge*>> backend_gauges;  // [service][backend]
  std::vector<prometheus::Gauge*> weight_gauges;
  uint64_t announced = 0;   // the checksum our Hello carries (from start-up or the last reload)
  uint64_t peer_seen = 0;   // the peer checksum last judged
  uint64_t ours_seen = 0;   // the checksum of ours it was judged against
  bool mismatch_now = false;
  std::chrono::steady_clock::time_point last_count{};

  void bind(const std::optional<lb::LbConfig>& lc);
};

// Not the registry's business: the metrics object (and its registry) may already be gone when
// the daemon is destroyed, so the gauges are only dropped with it.
void Daemon::LbStateDeleter::operator()(LbState* p) const { delete p; }

// Replaces the per-service and per-backend gauges with those of `lc` (start, reload).
void Daemon::LbState::bind(const std::optional<lb::LbConfig>& lc) {
  for (auto* g : service_gauges) sessions->Remove(g);
  for (auto& per : backend_gauges) {
    for (auto* g : per) backend_sessions->Remove(g);
  }
  for (auto* g : weight_gauges) weight->Remove(g);
  service_gauges.clear();
  backend_gauges.clear();
  weight_gauges.clear();
  if (!lc) return;
  for (const lb::Service& s : lc->services) {
    service_gauges.push_back(&sessions->Add({{"service", s.name}}));
    auto& per = backend_gauges.emplace_back();
    for (const lb::Backend& b : s.backends) {
      const std::map<std::string, std::string> labels = {{"service", s.name},
                                                         {"backend", b.name()}};
      per.push_back(&backend_sessions->Add(labels));
      weight_gauges.push_back(&weight->Add(labels));
      weight_gauges.back()->Set(b.weight);
    }
  }
}

Result<Ok, std::string> Daemon::applyLb(const lb::LbConfig& lc) {
  const std::string table =
      std::string(lb::kLbTableFamily) + " " + std::string(lb::kLbTableName);
  auto nft = nat::NftApplier::open();
  if (!nft) return fail("lb: cannot open libnftables: " + nft.error());
  if (auto r = nft->run(lb::replaceTableCommands(lb::renderTable(lc))); !r) {
    return fail("lb: applying table " + table + " failed: " + r.error().toString());
  }
  logLine(Prio::kInfo, "lb: table %s applied (%zu services, checksum %s)", table.c_str(),
          lc.services.size(), lb::hex64(lc.checksum).c_str());
  return Ok{};
}

Daemon::SectionReload Daemon::reloadLb(const Config& next) {
  const auto text = [](const std::optional<lb::LbConfig>& lc) {
    return lc ? lb::renderTable(*lc) : std::string();
  };
  if (text(config_.lb) == text(next.lb)) return SectionReload::kUnchanged;
  // One transaction replaces (or removes) the table. Established connections keep the DNAT
  // their conntrack entries carry: draining or removing a backend only steers new flows away.
  auto nft = nat::NftApplier::open();
  if (!nft) {
    logLine(Prio::kErr, "reload: lb: cannot open libnftables: %s", nft.error().c_str());
    return SectionReload::kFailed;
  }
  const std::string commands = next.lb ? lb::replaceTableCommands(lb::renderTable(*next.lb))
                                       : lb::removeTableCommands();
  if (auto r = nft->run(commands); !r) {
    logLine(Prio::kErr, "reload: lb: %s; keeping the running table", r.error().toString().c_str());
    return SectionReload::kFailed;
  }
  logLine(Prio::kInfo, "reload: lb: %s (checksum %s, announced to the peer in our next Hello)",
          next.lb ? "table replaced" : "[lb] removed, table deleted",
          lb::hex64(next.lb ? next.lb->checksum : 0).c_str());
  config_.lb = next.lb;
  engine_.setLbChecksum(config_.lb ? config_.lb->checksum : 0);
  if (lb_state_) lb_state_->announced = config_.lb ? config_.lb->checksum : 0;
  if (lb_state_ && metrics_) lb_state_->bind(config_.lb);
  return SectionReload::kApplied;
}

void Daemon::checkLb() {
  if (!lb_state_) {
    lb_state_.reset(new LbState);
    lb_state_->announced = config_.lb ? config_.lb->checksum : 0;
    if (metrics_) {
      auto& reg = metrics_->registry();
      LbState& st = *lb_state_;
      st.sessions = &prometheus::BuildGauge()
                         .Name("gwsync_lb_sessions")
                         .Help("Sessions (ours and the peer's copies) opened to a virtual "
                               "service's VIP:port")
                         .Register(reg);
      st.backend_sessions = &prometheus::BuildGauge()
                                 .Name("gwsync_lb_backend_sessions")
                                 .Help("Sessions of a virtual service translated to a backend")
                                 .Register(reg);
      st.weight = &prometheus::BuildGauge()
                       .Name("gwsync_lb_backend_weight")
                       .Help("Configured weight of a backend (0: draining)")
                       .Register(reg);
      st.mismatch = &prometheus::BuildGauge()
                         .Name("gwsync_lb_checksum_mismatch")
                         .Help("1 when the peer announced another LB table checksum than ours")
                         .Register(reg)
                         .Add({});
      st.bind(config_.lb);
    }
  }
  LbState& st = *lb_state_;
  // 0 from the peer: not known yet, or a peer without [lb] (or too old to say).
  const uint64_t peer = engine_.peerLbChecksum();
  // Judged again when either side changes: a reload here can end (or start) a mismatch while
  // the peer keeps announcing the same checksum.
  if (peer != st.peer_seen || st.announced != st.ours_seen) {
    st.peer_seen = peer;
    st.ours_seen = st.announced;
    st.mismatch_now = peer != 0 && peer != st.announced;
    if (st.mismatch_now) {
      logLine(Prio::kWarning,
              "lb: peer %u announced LB table checksum %s, ours is %s: the gateways would send "
              "new connections to different backends (compare gwsync-lb check on both)",
              config_.sync.peer_id, lb::hex64(peer).c_str(), lb::hex64(st.announced).c_str());
    } else if (peer != 0) {
      logLine(Prio::kInfo, "lb: peer %u has the same LB table (checksum %s)", config_.sync.peer_id,
              lb::hex64(peer).c_str());
    }
  }
  if (!metrics_) return;
  st.mismatch->Set(st.mismatch_now ? 1 : 0);
  const auto t = std::chrono::steady_clock::now();
  if (!config_.lb || t - st.last_count < kCountInterval) return;
  st.last_count = t;
  const lb::LbConfig& lc = *config_.lb;
  std::vector<uint64_t> per_service(lc.services.size(), 0);
  std::vector<std::vector<uint64_t>> per_backend;
  for (const lb::Service& s : lc.services) per_backend.emplace_back(s.backends.size(), 0);
  const auto count = [&](const Session& s) {
    const lb::Service* svc = lc.serviceOf(s.orig);
    if (svc == nullptr) return;
    const auto i = static_cast<size_t>(svc - lc.services.data());
    ++per_service[i];
    const auto dnat = destinationNat(s);
    for (size_t b = 0; dnat && b < svc->backends.size(); ++b) {
      if (svc->backends[b].addr == dnat->addr && svc->backends[b].port == dnat->port) {
        ++per_backend[i][b];
      }
    }
  };
  for (const auto& [k, o] : engine_.owned()) count(o.session);
  for (const auto& [k, e] : engine_.peerSessions()) count(e.session);
  for (size_t i = 0; i < per_service.size() && i < st.service_gauges.size(); ++i) {
    st.service_gauges[i]->Set(static_cast<double>(per_service[i]));
    for (size_t b = 0; b < per_backend[i].size() && b < st.backend_gauges[i].size(); ++b) {
      st.backend_gauges[i][b]->Set(static_cast<double>(per_backend[i][b]));
    }
  }
}

std::string Daemon::lbServiceNote(const Session& s) const {
  if (!config_.lb) return {};
  const lb::Service* svc = config_.lb->serviceOf(s.orig);
  return svc == nullptr ? std::string() : " service=" + svc->name;
}

}  // namespace gwsync::syncd
