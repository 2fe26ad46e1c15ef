// Reads the [nat] table of gwsync.toml with toml++ into a NatSpec and validates it
// (buildNatConfig). Its own small library (gwsync_nat_config) so the pure model stays free of
// toml++; gwsyncd's config reader calls readNatConfig() with the parsed [nat] table, gwsync-nat
// calls loadNatFile(). Unknown keys are rejected, every error names its key and value.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nat/nat_spec.h"
#include "syncd/core/result.h"

namespace gwsync::nat {

// nat: the [nat] table, or null when the file has none (an empty NatConfig). nodes: node.id and
// sync.peer_id.
NatResult readNatConfig(const toml::table* nat, std::span<const uint32_t> nodes);

// A whole gwsync.toml for gwsync-nat: node.id (this node), sync.peer_id and [nat]. The other
// tables are not read here (gwsyncd --check-config judges them). File and syntax errors come as
// one NatError with an empty key.
struct NatFile {
  uint32_t self = 0;
  NatConfig config;
};
syncd::Result<NatFile, std::vector<NatError>> loadNatFile(const std::string& path);

}  // namespace gwsync::nat
