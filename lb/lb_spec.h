// LbSpec: the [lb] table of gwsync.toml as written (typed by TOML, not yet checked), and
// buildLbConfig(), which turns it into an LbConfig with every service's Maglev table, or into
// every error at once, each naming the key, the value and the service. Pure: the TOML reading is
// lb_config_toml.h's job, so tests drive this with plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lb/service.h"
#include "syncd/core/result.h"

namespace gwsync::lb {

struct BackendSpec {
  std::string address{};
  std::optional<int64_t> port{};    // absent: the service's port
  std::optional<int64_t> weight{};  // absent: 1
};

struct ServiceSpec {
  std::string name{};
  std::string vip{};
  std::string protocol{};  // "tcp" or "udp"
  int64_t port = 0;
  std::optional<int64_t> table_size{};  // absent: nextPrime(kBucketsPerBackend x backends)
  std::vector<BackendSpec> backends{};
};

struct LbSpec {
  std::optional<int64_t> seed{};  // absent: kDefaultSeed
  std::vector<ServiceSpec> services{};
};

struct LbError {
  std::string key;    // "lb.service[1].backend[0].weight"
  std::string value;  // as TOML ("-3", "\"web\""); empty when the key is missing
  std::string message;
  bool operator==(const LbError&) const = default;
};

// `lb.service[0].table_size = 300: service "web": not a prime (...)`; just the message when
// there is no key (file errors).
std::string format(const LbError& e);

using LbResult = syncd::Result<LbConfig, std::vector<LbError>>;

LbResult buildLbConfig(const LbSpec& spec);

}  // namespace gwsync::lb
