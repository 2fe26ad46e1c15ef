// NatSpec: the [nat] table of gwsync.toml as written (strings, not yet checked), and
// buildNatConfig(), which turns it into a NatConfig or into every error at once, each naming the
// key, the value and the pool or mapping. Pure: the TOML reading is nat_config_toml.h's job, so
// this can be driven by any reader (and by tests) with plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nat/pool.h"
#include "syncd/core/result.h"
#include "syncd/core/toml_quote.h"

namespace gwsync::nat {

// Ports a pool uses when it gives none: leaves the privileged ports alone.
inline constexpr std::string_view kDefaultPoolPorts = "1024-65535";

struct PartitionSpec {
  std::string node{};   // node id as written (the key of nat.pool[i].partitions)
  std::string ports{};  // "LO-HI"
};

struct PoolSpec {
  std::string name{};
  std::vector<std::string> addresses{};
  std::optional<std::string> ports{};                // absent: kDefaultPoolPorts
  std::optional<std::vector<std::string>> inside{};  // absent: nat.inside of the pool's family
  std::vector<PartitionSpec> partitions{};           // empty: derived from the node order
};

struct StaticSpec {
  std::string inside{};
  std::string public_addr{};
};

struct NatSpec {
  std::vector<std::string> inside{};
  std::string outside_interface{};
  std::vector<PoolSpec> pools{};
  std::vector<StaticSpec> statics{};
};

struct NatError {
  std::string key;    // "nat.pool[1].ports", "nat.static[0].public"
  std::string value;  // as TOML ("\"70000\""); empty when the key is missing
  std::string message;
  bool operator==(const NatError&) const = default;
};

// `nat.pool[1].ports = "0-10": pool "v4": port 0 is outside 1..65535`; just the message when
// there is no key (file errors).
std::string format(const NatError& e);

// A string as a TOML basic string, for NatError::value.
using syncd::quoted;

using NatResult = syncd::Result<NatConfig, std::vector<NatError>>;

// nodes: every node of the pair, this one included (node.id and sync.peer_id), in any order.
NatResult buildNatConfig(const NatSpec& spec, std::span<const uint32_t> nodes);

}  // namespace gwsync::nat
