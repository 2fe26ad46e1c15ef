// The validated LB configuration: virtual services (a VIP, a protocol and a port) with their
// backends and the Maglev table that spreads new connections over them. Built only by
// buildLbConfig() (lb_spec.h), so every LbConfig holds the invariants listed on its fields.
// Pure values, shared read-only by the renderer, the daemon's metrics and gwsync-lb.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "syncd/core/session.h"

namespace gwsync::lb {

// jhash seed when [lb] gives none. Both nodes must use the same one: it decides the bucket of
// every new flow.
inline constexpr uint32_t kDefaultSeed = 0x67776c62;  // "gwlb"
// Default table size: the smallest prime >= kBucketsPerBackend x backends (the paper's M >> N,
// which keeps every backend within about 1 % of its share).
inline constexpr uint32_t kBucketsPerBackend = 100;
inline constexpr uint32_t kMaxTableSize = 262144;  // nftables map elements per service

struct Backend {
  syncd::IpAddress addr;  // the service's family
  uint16_t port = 0;      // 1..65535
  uint32_t weight = 1;    // 0: draining, takes no bucket (established flows keep it)

  // "192.0.2.20:8080", "[2001:db8::20]:8080": the Maglev name, hashed for its permutation.
  std::string name() const;
};

struct Service {
  std::string name;  // unique; [A-Za-z0-9_-], 1..32 characters (nft map names, metric labels)
  syncd::IpAddress vip;
  uint8_t proto = syncd::l4::kTcp;  // kTcp or kUdp
  uint16_t port = 0;                // 1..65535; (vip, proto, port) unique across services
  uint32_t table_size = 0;          // prime, >= kBucketsPerBackend x backends, <= kMaxTableSize
  bool explicit_table_size = false;
  // Sorted by name(), unique: the config's order does not change the table. Same family as vip;
  // at least one with a positive weight.
  std::vector<Backend> backends;
  std::vector<uint32_t> table;  // table_size entries: index into backends, never a weight-0 one

  syncd::Family family() const { return vip.family; }
  // "web 198.51.100.80:80/tcp"-style label for logs.
  std::string describe() const;
};

struct LbConfig {
  uint32_t seed = kDefaultSeed;
  std::vector<Service> services;  // in config order
  uint64_t checksum = 0;          // tableChecksum(): never 0, so 0 can mean "no LB" on the wire

  bool empty() const { return services.empty(); }
  // The service a connection was opened to: its original destination, protocol and port.
  const Service* serviceOf(const syncd::Tuple& orig) const;
};

// A stable 64-bit digest of everything that decides where a new flow goes: the seed and, per
// service in name order, VIP, protocol, port, size and every bucket's backend address and port.
// Equal on two nodes exactly when both steer every new flow the same way. Never 0.
uint64_t tableChecksum(const LbConfig& config);

std::string protoName(uint8_t proto);  // "tcp", "udp"

// The backend a client IP:port gets for a new connection to `service` (kernel_hash.h).
const Backend& backendFor(const LbConfig& config, const Service& service,
                          const syncd::IpAddress& client, uint16_t client_port);

}  // namespace gwsync::lb
