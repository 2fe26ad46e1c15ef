// The LB configuration as people and scripts read it (gwsync-lb check, gwsyncctl lb): one fact
// per line, "key=value" fields.
//   lb seed=0x67776c62 checksum=0x0123456789abcdef services=1
//   service name=web vip=198.51.100.80 protocol=tcp port=80 table_size=307 backends=3
//   backend service=web address=192.0.2.20 port=8080 weight=1 buckets=103 share=33.55%
// Pure; sessions (optional, parallel to config.services) adds "sessions=N" to service lines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lb/service.h"

namespace gwsync::lb {

std::string describeLb(const LbConfig& config, const std::vector<uint64_t>* sessions = nullptr);

// "0x0123456789abcdef": how checksums are printed everywhere (logs, CLI, docs).
std::string hex64(uint64_t v);

}  // namespace gwsync::lb
