#include "syncd/app/config.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "lb/lb_config_toml.h"
#include "nat/nat_config_toml.h"
#include "syncd/app/config_mobility.h"
#include "syncd/app/config_reader.h"
#include "syncd/core/sync_messages.h"

namespace gwsync::syncd {

using config_detail::Diagnostics;
using config_detail::Need;
using config_detail::TableReader;

namespace {

constexpr size_t kMaxPathLength = 4095;          // PATH_MAX - 1
constexpr size_t kMaxSocketPathLength = 107;     // sizeof(sockaddr_un::sun_path) - 1 on Linux
constexpr size_t kMaxFileBytes = 1 << 20;        // a config is a few KiB; this stops /dev/zero
constexpr int64_t kMaxQueuedBytes = 16LL << 30;  // far above any sane queue, below overflow

template <class T>
void readInt(TableReader& r, std::string_view key, T& out, int64_t lo, int64_t hi,
             Need need = Need::kOptional) {
  if (auto v = r.integer(key, lo, hi, need)) out = static_cast<T>(*v);
}

void readEndpoint(TableReader& r, std::string_view key, std::optional<Endpoint>& out,
                  Need need = Need::kOptional) {
  const toml::node* node = r.get(key, toml::node_type::string, need);
  if (node == nullptr) return;
  auto ep = parseEndpoint(node->as_string()->get());
  if (!ep) return r.error(key, node, ep.error());
  out = *ep;
}

bool hasControlChars(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Absolute because the daemon's working directory is not part of its configuration.
void readPath(TableReader& r, std::string_view key, std::string& out, size_t max_length,
              Need need = Need::kOptional) {
  const toml::node* node = r.get(key, toml::node_type::string, need);
  if (node == nullptr) return;
  const std::string& path = node->as_string()->get();
  if (path.empty() || path.front() != '/') return r.error(key, node, "must be an absolute path");
  if (path.size() > max_length) {
    return r.error(key, node, "longer than " + std::to_string(max_length) + " bytes");
  }
  if (hasControlChars(path)) return r.error(key, node, "contains control characters");
  out = path;
}

void readNode(TableReader& r, NodeConfig& node) {
  readInt(r, "id", node.id, 1, 65535, Need::kRequired);
  if (const toml::node* site = r.get("site", toml::node_type::string)) {
    const std::string& text = site->as_string()->get();
    // The site names this node in logs and metric labels: one short printable line.
    if (text.size() > kMaxSiteLength) {
      r.error("site", site, "longer than " + std::to_string(kMaxSiteLength) + " characters");
    } else if (hasControlChars(text)) {
      r.error("site", site, "contains control characters");
    } else {
      node.site = text;
    }
  }
  readPath(r, "state_dir", node.state_dir, kMaxPathLength);
  if (const toml::node* mode = r.get("mode", toml::node_type::string)) {
    const std::string& text = mode->as_string()->get();
    if (text == "hot") {
      node.mode = NodeMode::kHot;
    } else if (text == "cold") {
      node.mode = NodeMode::kCold;
    } else {
      r.error("mode", mode, R"(expected "hot" or "cold")");
    }
  }
  r.rejectUnknown();
}

void readSync(TableReader& r, SyncConfig& s) {
  readEndpoint(r, "listen", s.listen);
  std::optional<Endpoint> peer;
  readEndpoint(r, "peer", peer, Need::kRequired);
  if (peer) s.peer = *peer;
  readInt(r, "peer_id", s.peer_id, 1, 65535, Need::kRequired);
  readInt(r, "heartbeat_ms", s.heartbeat_ms, 50, 60000);
  readInt(r, "dead_after_ms", s.dead_after_ms, 100, 600000);
  readInt(r, "retransmit_ms", s.retransmit_ms, 50, 60000);
  readInt(r, "window", s.window, 16, 1048576);
  readInt(r, "max_frame_bytes", s.max_frame_bytes, 4096, 67108864);
  readInt(r, "max_queued_bytes", s.max_queued_bytes, 4096, kMaxQueuedBytes);
  readInt(r, "reconnect_min_ms", s.reconnect_min_ms, 10, 60000);
  readInt(r, "reconnect_max_ms", s.reconnect_max_ms, 10, 600000);
  readInt(r, "ready_wait_ms", s.ready_wait_ms, 0, 600000);
  if (const toml::node* n = r.get("insecure_plaintext", toml::node_type::boolean)) {
    s.insecure_plaintext = n->as_boolean()->get();
  }
  r.rejectUnknown();
}

// [tls]: the files are checked when the daemon starts (it loads them then); here their form.
void readTls(TableReader& r, std::optional<TlsOptions>& out) {
  TlsOptions t;
  readPath(r, "key", t.key_file, kMaxPathLength, Need::kRequired);
  readPath(r, "cert", t.cert_file, kMaxPathLength, Need::kRequired);
  std::string ca;
  readPath(r, "ca", ca, kMaxPathLength);
  if (!ca.empty()) t.ca_file = ca;
  if (const toml::array* pins = r.array("peer_fingerprints")) {
    for (size_t i = 0; i < pins->size(); ++i) {
      const std::string key = "peer_fingerprints[" + std::to_string(i) + "]";
      const toml::node& n = *pins->get(i);
      if (!n.is_string()) {
        r.error(key, &n, "expected a string, got " + std::string(config_detail::typeName(n.type())));
        continue;
      }
      if (auto fp = parseFingerprint(n.as_string()->get()); !fp) {
        r.error(key, &n, fp.error());
        continue;
      }
      t.peer_fingerprints.push_back(n.as_string()->get());
    }
  }
  if (auto name = r.string("peer_name")) {
    if (name->empty() || hasControlChars(*name)) {
      r.error("peer_name", r.get("peer_name", toml::node_type::string),
              "must be a non-empty name without control characters");
    } else {
      t.peer_name = *name;
    }
  }
  uint32_t timeout_ms = 5000;
  readInt(r, "handshake_timeout_ms", timeout_ms, 100, 60000);
  t.handshake_timeout = std::chrono::milliseconds(timeout_ms);
  r.rejectUnknown();
  out = std::move(t);
}

void readPrefixes(TableReader& r, std::string_view key, std::vector<Prefix>& out) {
  const toml::array* list = r.array(key);
  if (list == nullptr) return;
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::node& item = *list->get(i);
    const std::string item_key = std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.is_string()) {
      r.error(item_key, &item,
              "expected a string, got " + std::string(config_detail::typeName(item.type())));
      continue;
    }
    auto prefix = parsePrefix(item.as_string()->get());
    if (!prefix) {
      r.error(item_key, &item, prefix.error());
      continue;
    }
    out.push_back(*prefix);
  }
}

// A list of names mapped to bits; absent keeps the default (everything), empty is refused because
// it would silently stop all syncing.
template <size_t N>
void readNames(TableReader& r, std::string_view key, std::bitset<N>& out,
               std::optional<uint8_t> (*lookup)(std::string_view), const std::string& names) {
  const toml::array* list = r.array(key);
  if (list == nullptr) return;
  if (list->empty()) {
    return r.error(key, list, "empty list would sync nothing (leave the key out to sync all)");
  }
  std::bitset<N> set;
  bool good = true;
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::node& item = *list->get(i);
    const std::string item_key = std::string(key) + "[" + std::to_string(i) + "]";
    const auto value = item.is_string() ? lookup(item.as_string()->get()) : std::nullopt;
    if (!value) {
      r.error(item_key, &item, "expected one of " + names);
      good = false;
    } else {
      set.set(*value);
    }
  }
  if (good) out = set;
}

// Conntrack zones (0..65535); like readNames, an empty list is refused (it would sync nothing).
void readZones(TableReader& r, std::vector<uint16_t>& out) {
  const toml::array* list = r.array("zones");
  if (list == nullptr) return;
  if (list->empty()) {
    return r.error("zones", list, "empty list would sync nothing (leave the key out to sync all)");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::node& item = *list->get(i);
    const auto value = item.value<int64_t>();
    if (!item.is_integer() || !value || *value < 0 || *value > 65535) {
      r.error("zones[" + std::to_string(i) + "]", &item, "expected a zone number 0..65535");
      continue;
    }
    out.push_back(static_cast<uint16_t>(*value));
  }
}

void readFilter(TableReader& r, SessionFilter& f) {
  readPrefixes(r, "include", f.include);
  readPrefixes(r, "exclude", f.exclude);
  readNames(r, "protocols", f.protocols, &protocolByName, protocolNames());
  readNames(r, "tcp_states", f.tcp_states, &tcpStateByName, tcpStateNames());
  readZones(r, f.zones);
  r.rejectUnknown();
}

// [limits]: what this node takes from its peer (docs/security.md).
void readLimits(TableReader& r, LimitsConfig& l) {
  readInt(r, "peer_sessions_max", l.peer_sessions_max, 1, 67108864);
  readInt(r, "peer_upserts_per_second", l.peer_upserts_per_second, 1, 100000000);
  readInt(r, "peer_upsert_burst", l.peer_upsert_burst, 1, 100000000);
  readInt(r, "peer_queue_items", l.peer_queue_items, 512, 16777216);
  readInt(r, "peer_timeout_max_tcp_s", l.peer_timeout_max_tcp_s, 1, 2147483647);
  readInt(r, "peer_timeout_max_s", l.peer_timeout_max_s, 1, 2147483647);
  r.rejectUnknown();
}

void readKernel(TableReader& r, KernelConfig& k) {
  readInt(r, "event_buffer_bytes", k.event_buffer_bytes, 1 << 20, 1 << 30);
  readInt(r, "batch_bytes", k.batch_bytes, 4096, 4194304);
  readInt(r, "refresh_interval_ms", k.refresh_interval_ms, 1000, 3600000);
  r.rejectUnknown();
}

// Rules between keys, judged only when each key on its own was fine: one mistake, one error.
void checkAcrossKeys(Diagnostics& diag, const Config& c) {
  const auto ok = [&diag](std::string_view a, std::string_view b) {
    return !diag.failed(a) && !diag.failed(b);
  };
  const SyncConfig& s = c.sync;
  if (!c.tls && !s.insecure_plaintext && !diag.failed("sync.insecure_plaintext")) {
    diag.add("tls", "",
             "missing: the sync channel needs [tls] with key, cert and peer_fingerprints or ca "
             "(see docs/security.md), or sync.insecure_plaintext = true on a dedicated link");
  }
  if (c.tls && s.insecure_plaintext) {
    diag.add("sync.insecure_plaintext", "true", "contradicts the [tls] table: remove one of them");
  }
  if (c.tls && c.tls->peer_fingerprints.empty() && !c.tls->ca_file &&
      !diag.failed("tls.peer_fingerprints") && !diag.failed("tls.ca")) {
    diag.add("tls", "",
             "needs peer_fingerprints or ca: nothing would authenticate the peer");
  }
  if (ok("node.id", "sync.peer_id") && s.peer_id != 0 && s.peer_id == c.node.id) {
    diag.add("sync.peer_id", std::to_string(s.peer_id), "must differ from node.id");
  }
  if (ok("sync.heartbeat_ms", "sync.dead_after_ms") &&
      uint64_t{s.dead_after_ms} <= 2 * uint64_t{s.heartbeat_ms}) {
    diag.add("sync.dead_after_ms", std::to_string(s.dead_after_ms),
             "must be greater than twice sync.heartbeat_ms (" + std::to_string(s.heartbeat_ms) +
                 "), or one late heartbeat declares the peer dead");
  }
  // The peer channel raises a smaller queue to this (two maximal frames with their length
  // prefixes), so a smaller value would silently not be the limit in force.
  const uint64_t min_queued = 2 * (uint64_t{s.max_frame_bytes} + kFrameHeaderBytes);
  if (ok("sync.max_frame_bytes", "sync.max_queued_bytes") && s.max_queued_bytes < min_queued) {
    diag.add("sync.max_queued_bytes", std::to_string(s.max_queued_bytes),
             "must be at least 2 * (sync.max_frame_bytes + " + std::to_string(kFrameHeaderBytes) +
                 ") = " + std::to_string(min_queued) +
                 ", to hold two maximal frames with their headers");
  }
  if (ok("sync.reconnect_min_ms", "sync.reconnect_max_ms") &&
      s.reconnect_max_ms < s.reconnect_min_ms) {
    diag.add("sync.reconnect_max_ms", std::to_string(s.reconnect_max_ms),
             "must be at least sync.reconnect_min_ms (" + std::to_string(s.reconnect_min_ms) + ")");
  }
  if (ok("sync.listen", "sync.peer") && s.listen && *s.listen == s.peer) {
    diag.add("sync.peer", "\"" + s.peer.toString() + "\"",
             "same as sync.listen: this node would sync with itself");
  }
}

// [lb]: independent of the node pair (both nodes build the same tables). Each LB error keeps its
// key, value and message.
void readLb(Diagnostics& diag, const toml::table& table, Config& c) {
  auto r = lb::readLbConfig(&table);
  if (!r) {
    for (const lb::LbError& e : r.error()) diag.add(e.key, e.value, e.message);
    return;
  }
  c.lb = std::move(*r);
}

// [nat]: judged against the pair {node.id, sync.peer_id}, so only once both are valid (their own
// errors are reported already). Each NAT error keeps its key, value and message.
void readNat(Diagnostics& diag, const toml::table& table, Config& c) {
  const uint32_t self = c.node.id;
  const uint32_t peer = c.sync.peer_id;
  if (diag.failed("node.id") || diag.failed("sync.peer_id") || self == 0 || peer == 0 ||
      self == peer) {
    return;
  }
  const uint32_t nodes[] = {self, peer};
  auto r = nat::readNatConfig(&table, nodes);
  if (!r) {
    for (const nat::NatError& e : r.error()) diag.add(e.key, e.value, e.message);
    return;
  }
  c.nat = std::move(*r);
}

// An error about the file as a whole (unreadable, not TOML): no key to name.
ConfigError fileError(std::string_view origin, std::string message) {
  ConfigError e;
  e.origin = std::string(origin);
  e.message = std::move(message);
  return e;
}

}  // namespace

std::string format(const ConfigError& e) {
  std::string out = e.origin;
  if (e.key.empty()) {
    if (e.line != 0) out += ":" + std::to_string(e.line) + ":" + std::to_string(e.column);
    return out + ": " + e.message;
  }
  out += ": " + e.key;
  if (!e.value.empty()) out += " = " + e.value;
  return out + ": " + e.message;
}

ConfigResult parseConfig(std::string_view toml_text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    ConfigError error = fileError(origin, "syntax error: " + std::string(e.description()));
    error.line = e.source().begin.line;
    error.column = e.source().begin.column;
    return fail(std::vector<ConfigError>{std::move(error)});
  }
  Diagnostics diag{std::string(origin)};
  Config c;
  TableReader top(&root, "", diag);
  TableReader node(top.table("node"), "node", diag);
  readNode(node, c.node);
  TableReader sync(top.table("sync"), "sync", diag);
  readSync(sync, c.sync);
  if (const toml::table* tls = top.table("tls")) {
    TableReader reader(tls, "tls", diag);
    readTls(reader, c.tls);
  }
  TableReader filter(top.table("filter"), "filter", diag);
  readFilter(filter, c.filter);
  TableReader kernel(top.table("kernel"), "kernel", diag);
  readKernel(kernel, c.kernel);
  TableReader limits(top.table("limits"), "limits", diag);
  readLimits(limits, c.limits);
  TableReader control(top.table("control"), "control", diag);
  readPath(control, "socket", c.control.socket, kMaxSocketPathLength);
  control.rejectUnknown();
  TableReader metrics(top.table("metrics"), "metrics", diag);
  readEndpoint(metrics, "listen", c.metrics.listen);
  metrics.rejectUnknown();
  if (const toml::table* mobility = top.table("mobility")) {
    TableReader reader(mobility, "mobility", diag);
    config_detail::readMobility(reader, c.mobility);
  }
  const toml::table* nat = top.table("nat");
  const toml::table* lb = top.table("lb");
  top.rejectUnknown("table");
  checkAcrossKeys(diag, c);
  if (nat != nullptr) readNat(diag, *nat, c);
  if (lb != nullptr) readLb(diag, *lb, c);
  if (!diag.empty()) return fail(diag.take());
  return c;
}

ConfigResult loadConfig(const std::string& path) {
  const auto failWith = [&path](std::string message) {
    return fail(std::vector<ConfigError>{fileError(path, std::move(message))});
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) return failWith(std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  char buf[16384];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), file.get())) > 0) {
    text.append(buf, n);
    if (text.size() > kMaxFileBytes) {
      return failWith("larger than " + std::to_string(kMaxFileBytes) + " bytes; not a config");
    }
  }
  if (std::ferror(file.get())) return failWith(std::string("cannot read: ") + std::strerror(errno));
  return parseConfig(text, path);
}

}  // namespace gwsync::syncd
