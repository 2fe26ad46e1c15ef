// Prefix: the inside networks whose traffic the SNAT rules translate (nat.inside).
//
// Interim copy: syncd::Prefix / parsePrefix live in syncd/app (session_filter.h), which nat must
// not depend on. Same semantics (host bits accepted and cleared, a bare address is a host
// prefix), so when they move to syncd/core this file becomes `using Prefix = syncd::Prefix;`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncd/core/result.h"
#include "syncd/core/session.h"

namespace gwsync::nat {

struct Prefix {
  syncd::IpAddress addr;  // host bits are zero
  uint8_t len = 0;

  bool contains(const syncd::IpAddress& ip) const;  // false for the other family
  bool overlaps(const Prefix& o) const { return contains(o.addr) || o.contains(addr); }
  std::string toString() const;
  auto operator<=>(const Prefix&) const = default;
};

syncd::Result<Prefix, std::string> parsePrefix(std::string_view text);

}  // namespace gwsync::nat
