// gwsync.toml, parsed once at start-up into a plain struct. Every key, its default and its range
// are documented in docs/configuration.md; field names mirror the keys so the two can be grepped
// together. The parser rejects unknown keys (typos would otherwise silently keep a default) and
// reports every error at once, each naming the key and the offending value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lb/service.h"
#include "nat/pool.h"
#include "syncd/app/session_filter.h"
#include "syncd/core/endpoint.h"
#include "syncd/core/prefix.h"
#include "syncd/core/result.h"
#include "syncd/core/sync_messages.h"
#include "syncd/net/tls_options.h"

namespace gwsync::syncd {

// hot: the standby keeps the peer's sessions in its kernel table all the time, so failover is
// instant. cold: it keeps them in memory only and writes them to the kernel on takeover.
enum class NodeMode : uint8_t { kHot, kCold };

struct NodeConfig {
  uint16_t id = 0;  // required, 1..65535; also the owner id stamped on this node's sessions
  std::string site;
  std::string state_dir = "/var/lib/gwsync";
  NodeMode mode = NodeMode::kHot;
};

struct SyncConfig {
  std::optional<Endpoint> listen;  // absent: this node only dials out
  Endpoint peer;                   // required
  uint16_t peer_id = 0;            // required, != node.id
  uint32_t heartbeat_ms = 1000;
  uint32_t dead_after_ms = 4000;
  uint32_t retransmit_ms = 1000;
  uint32_t window = 65536;  // unacknowledged items in flight
  uint32_t max_frame_bytes = 1048576;
  uint64_t max_queued_bytes = 33554432;
  uint32_t reconnect_min_ms = 20;
  uint32_t reconnect_max_ms = 250;
  uint32_t ready_wait_ms = 5000;
  // Without [tls] the daemon refuses to start unless this is set: a synced entry opens the
  // firewall, so an unauthenticated channel must be a deliberate choice (a dedicated link).
  bool insecure_plaintext = false;
};

struct KernelConfig {
  uint32_t event_buffer_bytes = 64u << 20;
  uint32_t batch_bytes = 256u << 10;
  uint32_t refresh_interval_ms = 10000;
};

// [limits]: bounds on what the peer can make this node hold and do (docs/security.md).
struct LimitsConfig {
  uint32_t peer_sessions_max = 262144;        // peer sessions kept; new ones beyond are refused
  uint32_t peer_upserts_per_second = 250000;  // token bucket rate for the peer's upserts
  uint32_t peer_upsert_burst = 262144;        // bucket size: a full bulk at the quota passes
  uint32_t peer_queue_items = 65536;          // items held back by the rate limit, at most
  uint32_t peer_timeout_max_tcp_s = 432000;   // TCP timeouts above are lowered to this (5 days)
  uint32_t peer_timeout_max_s = 86400;        // the same for every other protocol (1 day)
};

struct ControlConfig {
  std::string socket = "/run/gwsync/gwsyncd.sock";
};

struct MetricsConfig {
  std::optional<Endpoint> listen;  // absent: no metrics endpoint
};

// How the old site treats packets of a moved host's flows that still arrive there (replies to a
// shared PAT address, inbound LB flows): docs/mobility.md.
enum class ReturnPath : uint8_t {
  kNone,      // nothing: with strict TCP tracking such sessions die (the negative control)
  kRedirect,  // steer them to the owner over the peer link before our conntrack sees them
  kLiberal,   // set TCP be-liberal on just the moved host's entries (both sites)
};

// [mobility] (docs/mobility.md): hosts in mobile_prefixes that appear on lan_interfaces are
// probed from the anycast gateway's MAC and claimed when they answer here.
struct MobilityConfig {
  std::vector<std::string> lan_interfaces;  // required, non-empty
  std::vector<Prefix> mobile_prefixes;      // required, non-empty
  IpAddress anycast_ipv4;                   // required: the probes' sender address
  MacBytes anycast_mac{};                   // required: the probes' source MAC
  std::optional<IpAddress> anycast_ipv6;    // the IPv6 probes' source; absent: no IPv6 probes
  uint32_t debounce_ms = 200;
  uint32_t probe_timeout_ms = 100;
  uint32_t route_table = 100;
  uint32_t route_protocol = 200;
  std::string route_device;  // default: lan_interfaces[0]
  ReturnPath return_path = ReturnPath::kRedirect;
  std::vector<std::string> redirect_ingress;  // kRedirect: required
  std::string redirect_device;                // kRedirect: required
  std::optional<IpAddress> redirect_next_hop; // kRedirect: required, the peer on that device
  uint32_t max_hosts = 4096;                  // sightings beyond this many hosts are ignored
  bool operator==(const MobilityConfig&) const = default;
};

struct Config {
  NodeConfig node;
  SyncConfig sync;
  std::optional<TlsOptions> tls;  // [tls]: TLS 1.3, mutual authentication (docs/security.md)
  SessionFilter filter;
  KernelConfig kernel;
  LimitsConfig limits;
  ControlConfig control;
  MetricsConfig metrics;
  // [nat] (docs/nat.md), read only when node.id and sync.peer_id are valid. Absent: NAT disabled,
  // no table is applied and no synced binding is checked.
  std::optional<nat::NatConfig> nat;
  // [lb] (docs/lb.md): virtual services and their Maglev tables. Absent: no LB table is applied
  // and Hello carries no LB checksum.
  std::optional<lb::LbConfig> lb;
  std::optional<MobilityConfig> mobility;  // [mobility]; absent: no host mobility
};

struct ConfigError {
  std::string origin;  // file name, or what the text came from
  std::string key;     // dotted key ("sync.peer", "filter.include[2]"); empty for file errors
  std::string value;   // the offending value as TOML ("\"1.2.3\"", "70000"); empty if none
  std::string message;
  uint32_t line = 0;  // set for syntax errors, which have no key
  uint32_t column = 0;
};

// One line: `gwsync.toml: sync.peer = "1.2.3": not an address:port (...)`, or for a syntax
// error `gwsync.toml:3:7: syntax error: ...`.
std::string format(const ConfigError& e);

using ConfigResult = Result<Config, std::vector<ConfigError>>;

// Reads and parses the file; an unreadable file is one error naming the path and errno.
ConfigResult loadConfig(const std::string& path);
// Parses TOML text; origin is the file name used in the errors.
ConfigResult parseConfig(std::string_view toml_text, std::string_view origin);

}  // namespace gwsync::syncd
