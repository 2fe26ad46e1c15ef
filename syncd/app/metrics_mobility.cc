// Metrics: sessions by kind and the mobility figures (docs/mobility.md, docs/operations.md), read
// from the SlowSample the daemon refreshes about once a second.
#include "syncd/app/metrics.h"

namespace gwsync::syncd {

namespace {

template <typename F>
auto slow(F f) {
  return [f](const MetricsSample& s) { return s.slow == nullptr ? decltype(f(*s.slow)){} : f(*s.slow); };
}

}  // namespace

void Metrics::registerMobility() {
  auto& by_kind = gauges("gwsync_sessions_by_kind",
                         "Synced sessions by table (owned: ours, peer: the peer's copies) and kind "
                         "(ct: no NAT, nat: source NAT, lb: destination NAT: VIPs, inbound 1:1)");
  const char* tables[] = {"owned", "peer"};
  const char* kinds[] = {"ct", "nat", "lb"};
  for (size_t t = 0; t < 2; ++t) {
    for (size_t k = 0; k < 3; ++k) {
      bind(by_kind, {{"table", tables[t]}, {"kind", kinds[k]}},
           slow([t, k](const SlowSample& m) { return double(m.sessions[t][k]); }));
    }
  }

  auto& hosts = gauges("gwsync_mobility_hosts", "Mobile hosts known, by owner (local, peer)");
  bind(hosts, {{"owner", "local"}}, slow([](const SlowSample& m) { return double(m.hosts_local); }));
  bind(hosts, {{"owner", "peer"}}, slow([](const SlowSample& m) { return double(m.hosts_peer); }));
  auto& moves = counters("gwsync_mobility_moves_total",
                         "Hosts that moved here from the peer (in) or to the peer (out)");
  bind(moves, {{"direction", "in"}}, slow([](const SlowSample& m) { return m.moves_in; }));
  bind(moves, {{"direction", "out"}}, slow([](const SlowSample& m) { return m.moves_out; }));
  auto& probes = counters("gwsync_mobility_probes_total",
                          "Locality probes by result: local (answered here), remote (timed out)");
  bind(probes, {{"result", "local"}}, slow([](const SlowSample& m) { return m.probes_local; }));
  bind(probes, {{"result", "remote"}}, slow([](const SlowSample& m) { return m.probes_remote; }));
  auto& claims = counters("gwsync_mobility_claims_total",
                          "Host claims sent, received, ours that lost a contest, and the peer's refused (outside mobile_prefixes or beyond max_hosts)");
  bind(claims, {{"event", "sent"}}, slow([](const SlowSample& m) { return m.claims_sent; }));
  bind(claims, {{"event", "received"}},
       slow([](const SlowSample& m) { return m.claims_received; }));
  bind(claims, {{"event", "lost"}}, slow([](const SlowSample& m) { return m.claims_lost; }));
  bind(claims, {{"event", "refused"}}, slow([](const SlowSample& m) { return m.claims_refused; }));
  bind(counters("gwsync_mobility_route_errors_total",
                "Host route installs or withdrawals the kernel refused"),
       {}, slow([](const SlowSample& m) { return m.route_errors; }));
  bind(gauges("gwsync_mobility_last_handoff_seconds",
              "The last host won: from its sighting (RARP, GARP, ...) to its routes installed"),
       {}, slow([](const SlowSample& m) { return m.last_handoff_ms / 1000.0; }));
  bind(gauges("gwsync_redirect_flows",
              "Flows of moved hosts in the redirect set (steered to the peer, the owner)"),
       {}, slow([](const SlowSample& m) { return double(m.redirect_flows); }));
  bind(counters("gwsync_redirect_packets_total", "Packets the redirect rules sent to the peer"),
       {}, slow([](const SlowSample& m) { return m.redirect_packets; }));
  bind(counters("gwsync_redirect_bytes_total", "Bytes the redirect rules sent to the peer"), {},
       slow([](const SlowSample& m) { return m.redirect_bytes; }));
  bind(counters("gwsync_liberal_entries_total",
                "Conntrack entries of moved hosts marked TCP be-liberal (return_path = liberal)"),
       {}, slow([](const SlowSample& m) { return m.liberal_marked; }));
}

}  // namespace gwsync::syncd
