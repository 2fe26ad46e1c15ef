#include "lb/service.h"

#include <algorithm>

#include "lb/kernel_hash.h"
#include "lb/stable_hash.h"

namespace gwsync::lb {

namespace {

// Field separators for the checksum text: never inside an address, a number or a name.
constexpr char kFieldSep = '\x1f';
constexpr char kRecordSep = '\x1e';

std::string endpoint(const syncd::IpAddress& addr, uint16_t port) {
  const std::string a = addr.toString();
  return (addr.family == syncd::Family::kIpv6 ? "[" + a + "]" : a) + ":" + std::to_string(port);
}

}  // namespace

std::string Backend::name() const { return endpoint(addr, port); }

std::string Service::describe() const {
  return name + " " + endpoint(vip, port) + "/" + protoName(proto);
}

std::string protoName(uint8_t proto) { return proto == syncd::l4::kUdp ? "udp" : "tcp"; }

const Service* LbConfig::serviceOf(const syncd::Tuple& orig) const {
  for (const Service& s : services) {
    if (orig.proto == s.proto && orig.dst == s.vip && orig.dst_port == s.port) return &s;
  }
  return nullptr;
}

uint64_t tableChecksum(const LbConfig& config) {
  std::vector<const Service*> order;
  for (const Service& s : config.services) order.push_back(&s);
  std::sort(order.begin(), order.end(),
            [](const Service* a, const Service* b) { return a->name < b->name; });
  // FNV-1a over one canonical text, fed piece by piece (a table may hold 262144 buckets).
  uint64_t state = fnv1a64("gwsync-lb-v1" + std::string(1, kRecordSep) + std::to_string(config.seed));
  for (const Service* s : order) {
    state = fnv1a64(kRecordSep + s->name + kFieldSep + endpoint(s->vip, s->port) + kFieldSep +
                        protoName(s->proto) + kFieldSep + std::to_string(s->table_size),
                    state);
    std::vector<std::string> names;
    for (const Backend& b : s->backends) names.push_back(kFieldSep + b.name());
    for (const uint32_t b : s->table) state = fnv1a64(names[b], state);
  }
  const uint64_t h = mix64(state);
  return h == 0 ? 1 : h;
}

const Backend& backendFor(const LbConfig& config, const Service& service,
                          const syncd::IpAddress& client, uint16_t client_port) {
  const uint32_t bucket = kernelBucket(client, client_port, config.seed, service.table_size);
  return service.backends[service.table[bucket]];
}

}  // namespace gwsync::lb
