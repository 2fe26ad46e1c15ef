#include "lb/describe.h"

#include <cstdio>

namespace gwsync::lb {

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string describeLb(const LbConfig& config, const std::vector<uint64_t>* sessions) {
  char seed[16];
  std::snprintf(seed, sizeof(seed), "0x%08x", config.seed);
  std::string out = "lb seed=" + std::string(seed) + " checksum=" + hex64(config.checksum) +
                    " services=" + std::to_string(config.services.size()) + "\n";
  for (size_t i = 0; i < config.services.size(); ++i) {
    const Service& s = config.services[i];
    out += "service name=" + s.name + " vip=" + s.vip.toString() + " protocol=" +
           protoName(s.proto) + " port=" + std::to_string(s.port) +
           " table_size=" + std::to_string(s.table_size) +
           (s.explicit_table_size ? "" : " (default)") +
           " backends=" + std::to_string(s.backends.size());
    if (sessions != nullptr && i < sessions->size()) {
      out += " sessions=" + std::to_string((*sessions)[i]);
    }
    out += "\n";
    std::vector<uint32_t> buckets(s.backends.size(), 0);
    for (const uint32_t b : s.table) ++buckets[b];
    for (size_t b = 0; b < s.backends.size(); ++b) {
      char share[16];
      std::snprintf(share, sizeof(share), "%.2f%%", 100.0 * buckets[b] / s.table_size);
      out += "backend service=" + s.name + " address=" + s.backends[b].addr.toString() +
             " port=" + std::to_string(s.backends[b].port) +
             " weight=" + std::to_string(s.backends[b].weight) +
             " buckets=" + std::to_string(buckets[b]) + " share=" + share + "\n";
    }
  }
  return out;
}

}  // namespace gwsync::lb
