// Daemon: mobility wiring (docs/mobility.md). Sightings from the LAN go to the engine's Mobility;
// its actions come back here: probe a host, install the routes of a host we won, withdraw those
// of a host we lost, and keep the old site's return path working for the moved host's flows
// (redirect set or per-entry liberal).
#include <chrono>
#include <cinttypes>

#include "syncd/app/daemon.h"
#include "syncd/core/tcp_liberal.h"

namespace gwsync::syncd {

namespace {

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

MacAddress macOf(const std::optional<MacBytes>& m) {
  return m ? MacAddress{*m} : MacAddress::broadcast();
}

}  // namespace

Result<Ok, std::string> Daemon::startMobility() {
  if (!config_.mobility) return Ok{};
  const MobilityConfig& mc = *config_.mobility;
  auto routes = HostRoutes::open({.table = mc.route_table,
                                  .protocol = static_cast<uint8_t>(mc.route_protocol),
                                  .device = mc.route_device});
  if (!routes) return fail("mobility.route_device/route_table: " + routes.error());
  host_routes_.emplace(std::move(*routes));
  // A previous run's routes announce hosts we have not claimed yet: the claims put them back.
  if (auto flushed = host_routes_->flush(); !flushed) {
    return fail("mobility: cannot flush old host routes: " + flushed.error());
  } else if (*flushed > 0) {
    logLine(Prio::kInfo, "mobility: removed %zu host routes of a previous run from table %u",
            *flushed, mc.route_table);
  }
  if (mc.return_path == ReturnPath::kRedirect) {
    RedirectOptions ro;
    ro.ingress_devices = mc.redirect_ingress;
    ro.peer_device = mc.redirect_device;
    if (mc.redirect_next_hop->family == Family::kIpv4) {
      ro.peer_v4 = mc.redirect_next_hop;
    } else {
      ro.peer_v6 = mc.redirect_next_hop;
    }
    auto rs = RedirectSet::open(std::move(ro));
    if (!rs) return fail("mobility.redirect: " + rs.error());
    if (auto r = rs->create(); !r) return fail("mobility.redirect: " + r.error());
    redirect_.emplace(std::move(*rs));
  }
  HostWatch::Options wo;
  wo.interfaces = mc.lan_interfaces;
  wo.anycast_ipv4 = mc.anycast_ipv4;
  wo.anycast_mac = MacAddress{mc.anycast_mac};
  wo.anycast_ipv6 = mc.anycast_ipv6;
  wo.probe_timeout = std::chrono::milliseconds(mc.probe_timeout_ms);
  Daemon* self = this;
  auto watch = HostWatch::open(
      io_, wo,
      {.on_sighting = [self](const HostSighting& s) { self->onSighting(s); },
       .on_probe_result = [self](const IpAddress& h, bool local) { self->onProbeResult(h, local); },
       .on_failure =
           [self](const std::string& why) {
             logLine(Prio::kErr, "mobility: %s: stopping (the service manager restarts us)",
                     why.c_str());
             self->failed_ = true;
             self->stop();
             self->io_.stop();
           }});
  if (!watch) return fail("mobility.lan_interfaces: " + watch.error());
  host_watch_ = std::move(*watch);
  host_watch_->start();
  logLine(Prio::kInfo,
          "mobility: watching %zu LAN interface(s) for %zu mobile prefix(es); routes in table %u "
          "protocol %u dev %s; return path %s",
          mc.lan_interfaces.size(), mc.mobile_prefixes.size(), mc.route_table, mc.route_protocol,
          mc.route_device.c_str(),
          mc.return_path == ReturnPath::kRedirect  ? "redirect"
          : mc.return_path == ReturnPath::kLiberal ? "liberal"
                                                   : "none");
  return Ok{};
}

void Daemon::stopMobility() {
  if (host_watch_) host_watch_->stop();
}

bool Daemon::isMobile(const IpAddress& ip) const {
  for (const Prefix& p : config_.mobility->mobile_prefixes) {
    if (p.contains(ip)) return true;
  }
  return false;
}

bool Daemon::acceptClaim(const SyncMessage& m) {
  const auto* c = std::get_if<HostClaimMsg>(&m);
  if (c == nullptr) return true;
  const bool known = engine_.mobility().hosts().count(c->host) != 0;
  const char* why = !config_.mobility ? "this node has no [mobility]"
                    : !isMobile(c->host) ? "outside mobility.mobile_prefixes"
                    : (!known && engine_.mobility().hosts().size() >= config_.mobility->max_hosts)
                        ? "beyond mobility.max_hosts"
                        : nullptr;
  if (why == nullptr) return true;
  ++mobility_stats_.claims_refused;
  if (auto note = claim_refused_log_.allow()) {
    logLine(Prio::kWarning, "mobility: refusing peer %u's claim for %s: %s%s",
            config_.sync.peer_id, c->host.toString().c_str(), why, note->c_str());
  }
  return false;
}

void Daemon::onSighting(const HostSighting& s) {
  if (stopping_) return;
  // A probe's answer arrives as on_probe_result too; as a sighting it would restart the clock.
  if (s.kind == HostSighting::Kind::kProbeReply) return;
  if (s.ip && !isMobile(*s.ip)) {
    ++mobility_stats_.not_mobile;
    return;
  }
  if (s.ip && engine_.mobility().hosts().count(*s.ip) == 0 &&
      engine_.mobility().hosts().size() >= config_.mobility->max_hosts) {
    ++mobility_stats_.over_max_hosts;
    return;
  }
  if (s.ip) {
    HostTimeline& t = timeline_[*s.ip];
    t.sighted = std::chrono::steady_clock::now();
    t.sighting = toString(s.kind);
  } else {
    // A RARP names only the MAC: time every host behind it.
    for (const auto& [addr, h] : engine_.mobility().hosts()) {
      if (h.mac == s.mac.bytes && h.owner != config_.node.id) {
        HostTimeline& t = timeline_[addr];
        t.sighted = std::chrono::steady_clock::now();
        t.sighting = toString(s.kind);
      }
    }
  }
  engine_.onHostSighting(s.ip, s.mac.bytes, now());
  runHostActions();
}

void Daemon::onProbeResult(const IpAddress& host, bool local) {
  if (stopping_) return;
  if (local) {
    auto it = timeline_.find(host);
    if (it != timeline_.end()) it->second.probe_ms = msSince(it->second.sighted);
  }
  engine_.onProbeResult(host, local, std::nullopt, now());
  runHostActions();
}

void Daemon::runHostActions() {
  std::vector<Mobility::Action> actions = engine_.takeHostActions();
  // Claims and releases go out first: the old site starts steering the host's flows here while
  // we write its sessions (10k sessions take tens of milliseconds), not after.
  if (!actions.empty()) pump();
  for (const Mobility::Action& a : actions) {
    switch (a.kind) {
      case Mobility::Action::Kind::kProbe:
        if (a.host.family == Family::kIpv6 && !config_.mobility->anycast_ipv6) {
          ++mobility_stats_.probe_errors;  // no source for a neighbour solicitation
          break;
        }
        if (host_watch_) {
          if (auto r = host_watch_->probe(a.host, macOf(a.mac)); !r) {
            ++mobility_stats_.probe_errors;
            logLine(Prio::kWarning, "mobility: probe of %s failed: %s",
                    a.host.toString().c_str(), r.error().c_str());
          }
        }
        break;
      case Mobility::Action::Kind::kWon:
        hostWon(a);
        break;
      case Mobility::Action::Kind::kLost:
        hostLost(a);
        break;
    }
  }
  applyChanges();
  pump();
}

std::vector<IpAddress> Daemon::routesFor(const IpAddress& host) const {
  std::vector<IpAddress> out{host};
  if (config_.nat) {
    for (const auto& m : config_.nat->statics) {
      if (m.inside == host) out.push_back(m.public_addr);
    }
  }
  return out;
}

// The 5-tuple with which a flow's packets from outside arrive at our WAN side: the reply of a
// flow the host opened (SNAT), the original of one opened to it (DNAT, LB).
static Tuple arrivingTuple(const Session& s, const IpAddress& host) {
  return s.orig.src == host ? s.reply : s.orig;
}

void Daemon::sessionsOf(const IpAddress& host, std::vector<Session>& out) const {
  for (const auto& [k, o] : engine_.owned()) {
    if (o.session.orig.src == host || o.session.reply.src == host) out.push_back(o.session);
  }
  for (const auto& [k, e] : engine_.peerSessions()) {
    if (e.session.orig.src == host || e.session.reply.src == host) out.push_back(e.session);
  }
}

void Daemon::hostWon(const Mobility::Action& a) {
  const auto started = std::chrono::steady_clock::now();
  HostTimeline& t = timeline_[a.host];
  t.won_ms = t.sighted.time_since_epoch().count() == 0 ? 0.0 : msSince(t.sighted);
  t.move_seq = a.move_seq;
  t.moved_in = a.from_peer;
  ++mobility_stats_.won;
  std::vector<Session> sessions;
  sessionsOf(a.host, sessions);
  t.sessions = sessions.size();
  if (redirect_) {
    // Moved back: its flows are ours again, nothing to steer away.
    std::vector<Tuple> back;
    for (const Session& s : sessions) {
      if (auto it = redirected_.find(keyOf(s)); it != redirected_.end()) {
        back.push_back(it->second);
        redirected_.erase(it);
      }
    }
    if (!back.empty()) {
      if (auto r = redirect_->remove(back); !r) {
        ++mobility_stats_.redirect_errors;
        logLine(Prio::kWarning, "mobility: redirect remove failed: %s", r.error().c_str());
      }
    }
  }
  // The host's sessions are ours now (queued in the engine); write them before the routes pull
  // the return traffic here: in cold mode they are not in the kernel yet.
  applyChanges();
  // Liberal after the engine's writes, which re-create the entries: we may see one direction.
  if (config_.mobility->return_path == ReturnPath::kLiberal) markLiberal(sessions);
  t.committed_ms = msSince(t.sighted);
  const auto routes = routesFor(a.host);
  if (auto r = host_routes_->install(routes); !r) {
    ++mobility_stats_.route_errors;
    logLine(Prio::kErr, "mobility: installing routes for %s failed: %s",
            a.host.toString().c_str(), r.error().c_str());
  }
  t.routed_ms = msSince(t.sighted);
  if (t.sighting.size() > 0) last_handoff_ms_ = t.routed_ms;
  std::string names;
  for (const auto& r : routes) names += " " + r.toString();
  logLine(Prio::kInfo,
          "mobility: %s: claim won (move %" PRIu64 ", %s): %zu sessions taken over and "
          "written in %.1f ms; routes%s installed in table %u%s",
          a.host.toString().c_str(), a.move_seq, a.from_peer ? "from the peer" : "first claim",
          sessions.size(), msSince(started), names.c_str(), config_.mobility->route_table,
          t.sighting.empty()
              ? ""
              : (" (" + t.sighting + " seen, probe answered +" + fmtMs(t.probe_ms) +
                 ", claim +" + fmtMs(t.won_ms) + ", sessions +" + fmtMs(t.committed_ms) +
                 ", route +" + fmtMs(t.routed_ms) + ")")
                    .c_str());
}

void Daemon::hostLost(const Mobility::Action& a) {
  ++mobility_stats_.lost;
  HostTimeline& t = timeline_[a.host];
  t.move_seq = a.move_seq;
  t.moved_in = false;
  std::vector<Session> sessions;
  sessionsOf(a.host, sessions);
  if (redirect_) {
    std::vector<Tuple> flows;
    for (const Session& s : sessions) {
      if (!hasPorts(s.orig.proto)) continue;
      auto [it, added] = redirected_.emplace(keyOf(s), arrivingTuple(s, a.host));
      if (added) flows.push_back(it->second);
    }
    if (!flows.empty()) {
      if (auto r = redirect_->add(flows); !r) {
        ++mobility_stats_.redirect_errors;
        logLine(Prio::kWarning, "mobility: redirect add failed: %s", r.error().c_str());
      }
    }
  } else if (config_.mobility->return_path == ReturnPath::kLiberal) {
    markLiberal(sessions);
  }
  // Routes last: the redirect is in place before the return traffic starts to move.
  if (auto r = host_routes_->withdraw(routesFor(a.host)); !r) {
    ++mobility_stats_.route_errors;
    logLine(Prio::kErr, "mobility: withdrawing routes for %s failed: %s",
            a.host.toString().c_str(), r.error().c_str());
  }
  logLine(Prio::kInfo,
          "mobility: %s: released to peer %u (move %" PRIu64 "): routes withdrawn, %zu sessions "
          "%s",
          a.host.toString().c_str(), config_.sync.peer_id, a.move_seq, sessions.size(),
          redirect_ ? "redirected to the peer"
          : config_.mobility->return_path == ReturnPath::kLiberal ? "marked TCP be-liberal"
                                                                  : "left as they are");
}

void Daemon::markLiberal(const std::vector<Session>& sessions) {
  std::vector<KernelChange> writes;
  for (const Session& s : sessions) {
    if (s.orig.proto != l4::kTcp || !s.tcp) continue;
    Session l = s;
    if (!markBeLiberal(l)) continue;  // already liberal
    l.mark &= ~kPeerMark;
    if (engine_.owned().count(keyOf(s)) == 0) l.mark |= kPeerMark;
    writes.push_back({KernelChange::Kind::kUpdate, std::move(l), KernelChange::Origin::kLocal});
  }
  mobility_stats_.liberal_marked += writes.size();
  if (!writes.empty()) write(std::move(writes));
}

void Daemon::trackRedirects(std::vector<KernelChange>& changes) {
  if (!config_.mobility || engine_.mobility().hosts().empty()) return;
  if (config_.mobility->return_path == ReturnPath::kLiberal) {
    // The peer's state of a moved host's session would clear the be-liberal flag we set (the
    // TCP flags are synced, and the peer's copy may predate its own marking): keep it set.
    for (KernelChange& c : changes) {
      if (c.origin != KernelChange::Origin::kPeer || c.kind == KernelChange::Kind::kRemove ||
          c.session.orig.proto != l4::kTcp || !c.session.tcp) {
        continue;
      }
      const auto host = engine_.hostOf(c.session);
      if (host && engine_.mobility().ownedByPeer(*host)) markBeLiberal(c.session);
    }
    return;
  }
  // New flows of a host the peer owns (it opened them at the peer's site) and flows that ended.
  if (!redirect_) return;
  std::vector<Tuple> add;
  std::vector<Tuple> remove;
  for (const KernelChange& c : changes) {
    if (c.origin != KernelChange::Origin::kPeer) continue;
    const SessionKey key = keyOf(c.session);
    if (c.kind == KernelChange::Kind::kRemove) {
      if (auto it = redirected_.find(key); it != redirected_.end()) {
        remove.push_back(it->second);
        redirected_.erase(it);
      }
      continue;
    }
    if (!hasPorts(c.session.orig.proto) || redirected_.count(key) != 0) continue;
    const auto host = engine_.hostOf(c.session);
    if (!host || !engine_.mobility().ownedByPeer(*host)) continue;
    add.push_back(redirected_.emplace(key, arrivingTuple(c.session, *host)).first->second);
  }
  if (!add.empty()) {
    if (auto r = redirect_->add(add); !r) {
      ++mobility_stats_.redirect_errors;
      logLine(Prio::kWarning, "mobility: redirect add failed: %s", r.error().c_str());
    }
  }
  if (!remove.empty()) {
    if (auto r = redirect_->remove(remove); !r) {
      ++mobility_stats_.redirect_errors;
      logLine(Prio::kWarning, "mobility: redirect remove failed: %s", r.error().c_str());
    }
  }
}

void Daemon::refreshSlowSample() {
  const auto t = std::chrono::steady_clock::now();
  if (slow_at_.time_since_epoch().count() != 0 && t - slow_at_ < std::chrono::seconds(1)) return;
  slow_at_ = t;
  SlowSample m;
  auto kind = [](const Session& s) -> size_t {
    if ((s.status & status::kDstNat) != 0) return 2;
    return (s.status & status::kSrcNat) != 0 ? 1 : 0;
  };
  for (const auto& [k, o] : engine_.owned()) ++m.sessions[0][kind(o.session)];
  for (const auto& [k, e] : engine_.peerSessions()) ++m.sessions[1][kind(e.session)];
  if (config_.mobility) {
    m.mobility = true;
    for (const auto& [addr, h] : engine_.mobility().hosts()) {
      if (h.owner == config_.node.id) ++m.hosts_local;
      if (h.owner == config_.sync.peer_id) ++m.hosts_peer;
    }
    const MobilityStats& ms = engine_.mobility().stats();
    m.moves_in = ms.moves_in;
    m.moves_out = ms.moves_out;
    m.probes = ms.probes;
    m.probes_local = ms.probe_local;
    m.probes_remote = ms.probe_remote;
    m.claims_sent = ms.claims_sent;
    m.claims_received = ms.claims_received;
    m.claims_lost = ms.claims_lost;
    m.claims_refused = mobility_stats_.claims_refused;
    m.route_errors = mobility_stats_.route_errors;
    m.liberal_marked = mobility_stats_.liberal_marked;
    m.last_handoff_ms = last_handoff_ms_;
    m.redirect_flows = redirected_.size();
    if (redirect_) {
      if (auto c = redirect_->counters()) {
        m.redirect_packets = c->v4.packets + c->v6.packets;
        m.redirect_bytes = c->v4.bytes + c->v6.bytes;
      }
    }
  }
  slow_sample_ = m;
}

std::string Daemon::fmtMs(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f ms", ms);
  return buf;
}

std::string Daemon::cmdVm() const {
  if (!config_.mobility) return "mobility: not configured\n";
  // Session counts per host, in one pass over both tables.
  std::map<IpAddress, std::pair<size_t, size_t>> counts;  // owned here, held for the peer
  const auto& hosts = engine_.mobility().hosts();
  auto count = [&](const Session& s, bool ours) {
    for (const IpAddress* a : {&s.orig.src, &s.reply.src}) {
      if (hosts.count(*a) == 0) continue;
      auto& c = counts[*a];
      (ours ? c.first : c.second) += 1;
      return;
    }
  };
  for (const auto& [k, o] : engine_.owned()) count(o.session, true);
  for (const auto& [k, e] : engine_.peerSessions()) count(e.session, false);
  std::string out;
  char line[512];
  for (const auto& [addr, h] : hosts) {
    const auto& c = counts[addr];
    const auto t = timeline_.find(addr);
    const std::string owner = h.owner == 0                  ? "none"
                              : h.owner == config_.node.id ? "local(" + std::to_string(h.owner) + ")"
                                                           : "peer(" + std::to_string(h.owner) + ")";
    const double since =
        h.owner == 0 ? 0.0 : static_cast<double>((now() - h.owned_since).count()) / 1000.0;
    std::snprintf(line, sizeof(line),
                  "%s mac=%s owner=%s move=%" PRIu64 " moves=%" PRIu64
                  " owned_for=%.1fs sessions_local=%zu sessions_peer=%zu%s%s\n",
                  addr.toString().c_str(), h.mac ? MacAddress{*h.mac}.toString().c_str() : "-",
                  owner.c_str(), h.move_seq, h.moves, since, c.first, c.second,
                  h.owner == config_.node.id && h.released ? " released_by_peer=yes" : "",
                  t != timeline_.end() && t->second.won_ms > 0
                      ? (" last_handoff: " + t->second.sighting + " probe +" +
                         fmtMs(t->second.probe_ms) + " claim +" + fmtMs(t->second.won_ms) +
                         " sessions +" + fmtMs(t->second.committed_ms) + " route +" +
                         fmtMs(t->second.routed_ms))
                            .c_str()
                      : "");
    out += line;
  }
  out += "hosts: " + std::to_string(hosts.size()) + "\n";
  const EngineStats& es = engine_.stats();
  out += "sessions_handed_over: " + std::to_string(es.handed_over) + "\n";
  out += "sessions_adopted: " + std::to_string(es.adopted) + "\n";
  out += "activity_on_peer_hosts_ignored: " + std::to_string(es.suppressed_activity) + "\n";
  if (redirect_) out += "redirected_flows: " + std::to_string(redirected_.size()) + "\n";
  if (config_.mobility->return_path == ReturnPath::kLiberal) {
    out += "liberal_marked: " + std::to_string(mobility_stats_.liberal_marked) + "\n";
  }
  return out;
}

}  // namespace gwsync::syncd
