// Shared fixtures for the lb unit tests: specs of N backends and error collection.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lb/lb_spec.h"
#include "lb/maglev.h"

namespace gwsync::lb::testing {

inline syncd::IpAddress ip(const char* text) { return syncd::IpAddress::parse(text).value(); }

// One TCP service "web" on 198.51.100.80:80 with backends 192.0.2.(20+i):8080, weight 1.
inline ServiceSpec webService(size_t backends) {
  ServiceSpec s{.name = "web", .vip = "198.51.100.80", .protocol = "tcp", .port = 80};
  for (size_t i = 0; i < backends; ++i) {
    s.backends.push_back(
        {.address = "192.0.2." + std::to_string(20 + i), .port = 8080, .weight = std::nullopt});
  }
  return s;
}

inline LbConfig build(const LbSpec& spec) {
  auto r = buildLbConfig(spec);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : format(r.error().front()));
  return r.ok() ? std::move(r).value() : LbConfig{};
}

inline std::vector<std::string> errorsOf(const LbSpec& spec) {
  std::vector<std::string> out;
  auto r = buildLbConfig(spec);
  EXPECT_FALSE(r.ok()) << "expected errors";
  if (!r.ok()) {
    for (const LbError& e : r.error()) out.push_back(format(e));
  }
  return out;
}

// Backends "b0".."b(n-1)" of weight 1, for the algorithm alone.
inline std::vector<MaglevBackend> named(size_t n, const std::string& prefix = "b") {
  std::vector<MaglevBackend> out;
  for (size_t i = 0; i < n; ++i) out.push_back({prefix + std::to_string(i), 1});
  return out;
}

}  // namespace gwsync::lb::testing
