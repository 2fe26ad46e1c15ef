#include "syncd/core/mobility.h"

#include <utility>

namespace gwsync::syncd {

bool Mobility::beats(uint64_t seq, uint32_t node, uint64_t held_seq, uint32_t held_node) {
  if (seq != held_seq) return seq > held_seq;
  return held_node == 0 || node < held_node;
}

void Mobility::onSighting(const std::optional<IpAddress>& ip, const std::optional<MacBytes>& mac,
                          Millis now) {
  ++stats_.sightings;
  if (ip) {
    Host& h = hosts_[*ip];
    h.addr = *ip;
    if (mac) h.mac = mac;
    sighted(h, now);
    return;
  }
  if (!mac) return;
  bool found = false;
  for (auto& [addr, h] : hosts_) {
    if (h.mac != mac) continue;
    found = true;
    sighted(h, now);
  }
  if (!found) ++stats_.sightings_unknown_mac;
}

void Mobility::sighted(Host& h, Millis now) {
  if (h.owner == options_.node_id) return;  // ours already: nothing moved
  if (h.last_probe.count() >= 0 && now - h.last_probe < options_.debounce) return;
  h.last_probe = now;
  ++stats_.probes;
  actions_.push_back({.kind = Action::Kind::kProbe, .host = h.addr, .mac = h.mac});
}

void Mobility::onProbeResult(const IpAddress& host, bool local, const std::optional<MacBytes>& mac,
                             Millis now) {
  if (!local) {
    ++stats_.probe_remote;
    return;
  }
  ++stats_.probe_local;
  Host& h = hosts_[host];
  h.addr = host;
  if (mac) h.mac = mac;
  if (h.owner == options_.node_id) return;
  claim(h, now);
}

void Mobility::claim(Host& h, Millis now) {
  const bool from_peer = h.owner == options_.peer_id;
  h.move_seq += 1;
  h.owner = options_.node_id;
  h.owned_since = now;
  h.released = false;
  ++h.moves;
  if (from_peer) ++stats_.moves_in;
  ++stats_.claims_sent;
  out_.emplace_back(HostClaimMsg{
      .host = h.addr, .mac = h.mac, .move_seq = h.move_seq, .node_id = options_.node_id});
  actions_.push_back({.kind = Action::Kind::kWon,
                      .host = h.addr,
                      .mac = h.mac,
                      .move_seq = h.move_seq,
                      .from_peer = from_peer});
}

void Mobility::onClaim(const HostClaimMsg& m, Millis now) {
  ++stats_.claims_received;
  if (m.node_id != options_.peer_id) {
    ++stats_.wrong_node;
    return;
  }
  Host& h = hosts_[m.host];
  h.addr = m.host;
  if (m.mac) h.mac = m.mac;
  if (h.owner == options_.peer_id && h.move_seq >= m.move_seq) {
    // A repeat (reconnect) of what we know: acknowledge again, the first answer may be lost.
    out_.emplace_back(HostReleaseMsg{
        .host = h.addr, .move_seq = h.move_seq, .node_id = options_.node_id});
    ++stats_.releases_sent;
    return;
  }
  if (!beats(m.move_seq, m.node_id, h.move_seq, h.owner)) {
    // Ours is newer, or won the tie: say so again; the peer applies the same rule and yields.
    if (h.owner == options_.node_id) {
      ++stats_.claims_sent;
      out_.emplace_back(HostClaimMsg{
          .host = h.addr, .mac = h.mac, .move_seq = h.move_seq, .node_id = options_.node_id});
    }
    return;
  }
  const bool was_ours = h.owner == options_.node_id;
  h.owner = m.node_id;
  h.move_seq = m.move_seq;
  h.owned_since = now;
  ++h.moves;
  out_.emplace_back(
      HostReleaseMsg{.host = h.addr, .move_seq = h.move_seq, .node_id = options_.node_id});
  ++stats_.releases_sent;
  if (!was_ours) return;
  ++stats_.moves_out;
  if (!h.released) ++stats_.claims_lost;  // our claim was still open: a contest we lost
  actions_.push_back(
      {.kind = Action::Kind::kLost, .host = h.addr, .mac = h.mac, .move_seq = h.move_seq});
  // Check that the host really left: if it still answers here, the next probe claims it back.
  h.last_probe = now;
  ++stats_.probes;
  actions_.push_back({.kind = Action::Kind::kProbe, .host = h.addr, .mac = h.mac});
}

void Mobility::onRelease(const HostReleaseMsg& m, Millis /*now*/) {
  ++stats_.releases_received;
  if (m.node_id != options_.peer_id) {
    ++stats_.wrong_node;
    return;
  }
  auto it = hosts_.find(m.host);
  if (it == hosts_.end()) return;
  Host& h = it->second;
  if (h.owner == options_.node_id && h.move_seq <= m.move_seq) {
    // A higher number than ours: we restarted and claimed afresh; the peer had counted on.
    h.move_seq = m.move_seq;
    if (!h.released) ++stats_.claims_won;
    h.released = true;
  }
}

void Mobility::onConnected() {
  for (const auto& [addr, h] : hosts_) {
    if (h.owner != options_.node_id) continue;
    ++stats_.claims_sent;
    out_.emplace_back(HostClaimMsg{
        .host = h.addr, .mac = h.mac, .move_seq = h.move_seq, .node_id = options_.node_id});
  }
}

std::vector<SyncMessage> Mobility::takeMessages() { return std::exchange(out_, {}); }
std::vector<Mobility::Action> Mobility::takeActions() { return std::exchange(actions_, {}); }

std::optional<uint32_t> Mobility::ownerOf(const IpAddress& addr) const {
  auto it = hosts_.find(addr);
  if (it == hosts_.end()) return std::nullopt;
  return it->second.owner;
}

bool Mobility::ownedByPeer(const IpAddress& addr) const {
  auto it = hosts_.find(addr);
  return it != hosts_.end() && it->second.owner == options_.peer_id;
}

bool Mobility::ownedByUs(const IpAddress& addr) const {
  auto it = hosts_.find(addr);
  return it != hosts_.end() && it->second.owner == options_.node_id;
}

}  // namespace gwsync::syncd
