// Shared fixtures for the nat unit tests: a valid two-node spec and session builders.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nat/nat_spec.h"
#include "syncd/core/session.h"

namespace gwsync::nat::testing {

inline syncd::IpAddress ip(const char* text) { return syncd::IpAddress::parse(text).value(); }

inline const std::vector<uint32_t> kPair = {1, 2};

// One IPv4 pool (derived partitions), one IPv6 pool (explicit), one 1:1 mapping per family.
inline NatSpec validSpec() {
  NatSpec s;
  s.inside = {"192.0.2.0/24", "2001:db8:1::/64"};
  s.outside_interface = "wan";
  s.pools.push_back({.name = "v4", .addresses = {"198.51.100.100"}, .ports = "1024-65535"});
  s.pools.push_back({.name = "v6",
                     .addresses = {"2001:db8:ffff::100"},
                     .ports = "10000-19999",
                     .partitions = {{"1", "10000-14999"}, {"2", "15000-19999"}}});
  s.statics.push_back({.inside = "192.0.2.20", .public_addr = "198.51.100.20"});
  s.statics.push_back({.inside = "2001:db8:1::20", .public_addr = "2001:db8:ffff::20"});
  return s;
}

inline NatConfig build(const NatSpec& spec, const std::vector<uint32_t>& nodes = kPair) {
  auto r = buildNatConfig(spec, nodes);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : format(r.error().front()));
  return r.ok() ? std::move(r).value() : NatConfig{};
}

// Every error of a spec that must fail, formatted one per line.
inline std::vector<std::string> errorsOf(const NatSpec& spec,
                                         const std::vector<uint32_t>& nodes = kPair) {
  auto r = buildNatConfig(spec, nodes);
  EXPECT_FALSE(r.ok());
  std::vector<std::string> out;
  if (!r.ok()) {
    for (const auto& e : r.error()) out.push_back(format(e));
  }
  return out;
}

// A connection inside:sport -> server:dport whose source was translated to pub:pub_port.
inline syncd::Session snat(uint8_t proto, const char* inside, uint16_t sport, const char* server,
                           uint16_t dport, const char* pub, uint16_t pub_port) {
  syncd::Session s;
  s.orig = {
      .src = ip(inside), .dst = ip(server), .proto = proto, .src_port = sport, .dst_port = dport};
  s.reply = syncd::invert(s.orig);
  s.reply.dst = ip(pub);
  s.reply.dst_port = pub_port;
  return s;
}

}  // namespace gwsync::nat::testing
