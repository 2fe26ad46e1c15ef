// Daemon::reload: SIGHUP (systemctl reload). Reads gwsync.toml again; a file that does not parse
// or validate changes nothing. Each section that can change at run time has its own function
// (reloadNat; [lb] and [mobility] add theirs to the list in reload()) that compares the running
// section with the new one and applies the change whole, or keeps the running one. Every other key
// needs a restart: it keeps its running value, and the reload says which keys those are. Same
// thread and class as daemon.cc; a separate file so each section's reload stays in one place.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "nat/binding_check.h"
#include "nat/nft_render.h"
#include "syncd/app/daemon.h"

namespace gwsync::syncd {

namespace {

// [nat] configurations remembered from before reloads: a few successive edits; the oldest goes
// first (its sessions are the likeliest to have ended).
constexpr size_t kNatConfigsKept = 4;

enum class ReloadResult : uint8_t { kOk, kInvalid, kRestartNeeded, kFailed };

// The keys whose new value differs from the running one, in file order.
class Differences {
 public:
  template <class T>
  void compare(std::string_view key, const T& running, const T& next) {
    if (!(running == next)) keys_.emplace_back(key);
  }
  bool empty() const { return keys_.empty(); }
  std::string join() const {
    std::string out;
    for (const std::string& k : keys_) out += (out.empty() ? "" : ", ") + k;
    return out;
  }

 private:
  std::vector<std::string> keys_;
};

void compareTls(Differences& d, const std::optional<TlsOptions>& a,
                const std::optional<TlsOptions>& b) {
  if (a.has_value() != b.has_value()) return d.compare("tls", a.has_value(), b.has_value());
  if (!a) return;
  d.compare("tls.key", a->key_file, b->key_file);
  d.compare("tls.cert", a->cert_file, b->cert_file);
  d.compare("tls.ca", a->ca_file, b->ca_file);
  d.compare("tls.peer_fingerprints", a->peer_fingerprints, b->peer_fingerprints);
  d.compare("tls.peer_name", a->peer_name, b->peer_name);
  d.compare("tls.handshake_timeout_ms", a->handshake_timeout, b->handshake_timeout);
}

// Keys that only a restart can change: the node's identity and the pair, the sockets and TLS
// set up at start, the engine's and kernel adapters' parameters and limits, and the filter the
// engine's tables were built through (changing it would need a bulk resync of a different set).
// Every key of Config is either here or in a section of reload()'s list: a key in neither would
// be silently ignored by a reload.
Differences restartKeys(const Config& a, const Config& b) {
  Differences d;
  d.compare("node.id", a.node.id, b.node.id);
  d.compare("node.site", a.node.site, b.node.site);
  d.compare("node.state_dir", a.node.state_dir, b.node.state_dir);
  d.compare("node.mode", a.node.mode, b.node.mode);
  const SyncConfig &s = a.sync, &t = b.sync;
  d.compare("sync.listen", s.listen, t.listen);
  d.compare("sync.peer", s.peer, t.peer);
  d.compare("sync.peer_id", s.peer_id, t.peer_id);
  d.compare("sync.heartbeat_ms", s.heartbeat_ms, t.heartbeat_ms);
  d.compare("sync.dead_after_ms", s.dead_after_ms, t.dead_after_ms);
  d.compare("sync.retransmit_ms", s.retransmit_ms, t.retransmit_ms);
  d.compare("sync.window", s.window, t.window);
  d.compare("sync.max_frame_bytes", s.max_frame_bytes, t.max_frame_bytes);
  d.compare("sync.max_queued_bytes", s.max_queued_bytes, t.max_queued_bytes);
  d.compare("sync.reconnect_min_ms", s.reconnect_min_ms, t.reconnect_min_ms);
  d.compare("sync.reconnect_max_ms", s.reconnect_max_ms, t.reconnect_max_ms);
  d.compare("sync.ready_wait_ms", s.ready_wait_ms, t.ready_wait_ms);
  d.compare("sync.insecure_plaintext", s.insecure_plaintext, t.insecure_plaintext);
  compareTls(d, a.tls, b.tls);
  d.compare("filter.include", a.filter.include, b.filter.include);
  d.compare("filter.exclude", a.filter.exclude, b.filter.exclude);
  d.compare("filter.protocols", a.filter.protocols, b.filter.protocols);
  d.compare("filter.tcp_states", a.filter.tcp_states, b.filter.tcp_states);
  d.compare("filter.zones", a.filter.zones, b.filter.zones);
  // [mobility] opens sockets and tables at start: any change needs a restart.
  d.compare("mobility", a.mobility, b.mobility);
  d.compare("kernel.event_buffer_bytes", a.kernel.event_buffer_bytes, b.kernel.event_buffer_bytes);
  d.compare("kernel.batch_bytes", a.kernel.batch_bytes, b.kernel.batch_bytes);
  d.compare("kernel.refresh_interval_ms", a.kernel.refresh_interval_ms,
            b.kernel.refresh_interval_ms);
  const LimitsConfig &l = a.limits, &m = b.limits;
  d.compare("limits.peer_sessions_max", l.peer_sessions_max, m.peer_sessions_max);
  d.compare("limits.peer_upserts_per_second", l.peer_upserts_per_second,
            m.peer_upserts_per_second);
  d.compare("limits.peer_upsert_burst", l.peer_upsert_burst, m.peer_upsert_burst);
  d.compare("limits.peer_queue_items", l.peer_queue_items, m.peer_queue_items);
  d.compare("limits.peer_timeout_max_tcp_s", l.peer_timeout_max_tcp_s, m.peer_timeout_max_tcp_s);
  d.compare("limits.peer_timeout_max_s", l.peer_timeout_max_s, m.peer_timeout_max_s);
  d.compare("control.socket", a.control.socket, b.control.socket);
  d.compare("metrics.listen", a.metrics.listen, b.metrics.listen);
  return d;
}

// [nat] as the kernel and the binding check see it: the table rendered for each node of the pair
// (deterministic, and it holds every pool address, partition and 1:1 mapping), so two
// configurations that render alike behave alike.
std::string natFingerprint(const std::optional<nat::NatConfig>& nc) {
  if (!nc) return {};
  std::string out = "nat";
  for (const uint32_t node : nc->nodes) {
    auto table = nat::renderTable(*nc, node);
    out += table ? *table : "unrenderable node " + std::to_string(node);
  }
  return out;
}

}  // namespace

void Daemon::reload() {
  const auto count = [this](ReloadResult r) { ++stats_.config_reloads[static_cast<size_t>(r)]; };
  auto loaded = loadConfig(config_path_);
  if (!loaded) {
    const std::vector<ConfigError>& errors = loaded.error();
    const std::string more =
        errors.size() < 2 ? ""
                          : " (and " + std::to_string(errors.size() - 1) +
                                " more: gwsyncd --check-config lists them)";
    logLine(Prio::kErr, "reload: invalid configuration, keeping the running one: %s%s",
            format(errors.front()).c_str(), more.c_str());
    count(ReloadResult::kInvalid);
    return;
  }
  const Config& next = *loaded;
  // The sections that can change at run time, each applied whole or not at all.
  struct Section {
    std::string_view name;
    SectionReload (Daemon::*reload)(const Config&);
  };
  const std::array sections = {Section{"nat", &Daemon::reloadNat},
                                Section{"lb", &Daemon::reloadLb}};
  std::string applied;
  bool failed = false;
  bool restart = false;
  for (const Section& section : sections) {
    switch ((this->*section.reload)(next)) {
      case SectionReload::kUnchanged:
        break;
      case SectionReload::kApplied:
        applied += (applied.empty() ? "" : ", ") + std::string(section.name);
        break;
      case SectionReload::kRestartNeeded:
        restart = true;
        break;
      case SectionReload::kFailed:
        failed = true;
        break;
    }
  }
  const Differences fixed = restartKeys(config_, next);
  if (!fixed.empty()) {
    logLine(Prio::kWarning, "reload: %s: needs a restart; keeping the running values",
            fixed.join().c_str());
    restart = true;
  }
  const ReloadResult result = failed    ? ReloadResult::kFailed
                              : restart ? ReloadResult::kRestartNeeded
                                        : ReloadResult::kOk;
  logLine(Prio::kInfo, "reload: %s (%s)", applied.empty() ? "nothing applied" : applied.c_str(),
          std::string(kReloadResultNames[static_cast<size_t>(result)]).c_str());
  count(result);
}

Daemon::SectionReload Daemon::reloadNat(const Config& next) {
  if (natFingerprint(config_.nat) == natFingerprint(next.nat)) return SectionReload::kUnchanged;
  if (!next.nat) {
    logLine(Prio::kWarning,
            "reload: nat: [nat] removed, but table %s %s stays: deleting it would stop every "
            "translated session (gwsync-nat remove, once they have ended); needs a restart",
            std::string(nat::kNatTableFamily).c_str(), std::string(nat::kNatTableName).c_str());
    return SectionReload::kRestartNeeded;
  }
  if (next.node.id != config_.node.id || next.sync.peer_id != config_.sync.peer_id) {
    // The partitions belong to the pair's node ids, which only a restart changes.
    logLine(Prio::kWarning, "reload: nat: not applied: its partitions are for another node pair");
    return SectionReload::kRestartNeeded;
  }
  // One libnftables transaction replaces the table; conntrack entries keep the NAT they were
  // set up with, so established bindings are not touched.
  if (auto r = applyNat(*next.nat); !r) {
    logLine(Prio::kErr, "reload: %s; keeping the running table", r.error().c_str());
    return SectionReload::kFailed;
  }
  if (config_.nat) {
    nat_before_.push_back(std::move(*config_.nat));
    if (nat_before_.size() > kNatConfigsKept) nat_before_.erase(nat_before_.begin());
  }
  config_.nat = next.nat;
  return SectionReload::kApplied;
}

bool Daemon::natAcceptedBefore(const Session& s) const {
  // Only a positive match counts: "foreign" under an old config (an address it did not have)
  // says nothing about a binding to an address of today's pools.
  for (const nat::NatConfig& nc : nat_before_) {
    switch (nat::checkBinding(nc, s.owner, s)) {
      case nat::BindingVerdict::kInPartition:
      case nat::BindingVerdict::kAddressOnly:
      case nat::BindingVerdict::kStatic:
        return true;
      default:
        break;
    }
  }
  return false;
}

}  // namespace gwsync::syncd
