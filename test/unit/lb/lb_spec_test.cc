// buildLbConfig: the table both nodes build, its checksum, and every error naming its key.
#include "lb/lb_spec.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "lb/nft_render.h"
#include "test_util.h"

namespace gwsync::lb {
namespace {

using testing::build;
using testing::errorsOf;
using testing::webService;

// tableChecksum({services = {webService(3)}}) as first computed; see ChecksumIsPinnedAcrossVersions.
constexpr uint64_t kPinnedChecksum = 0xb9c921a4f10dd487ull;

TEST(LbSpec, DefaultsSeedSizeWeightAndPort) {
  LbSpec spec{.services = {webService(3)}};
  spec.services[0].backends[1].port = std::nullopt;  // the service's port
  const LbConfig c = build(spec);
  ASSERT_EQ(c.services.size(), 1u);
  const Service& s = c.services[0];
  EXPECT_EQ(c.seed, kDefaultSeed);
  EXPECT_EQ(s.table_size, 307u);  // smallest prime >= 300
  EXPECT_FALSE(s.explicit_table_size);
  EXPECT_EQ(s.backends[1].port, 80);
  EXPECT_EQ(s.backends[0].weight, 1u);
  EXPECT_EQ(s.table.size(), 307u);
  EXPECT_NE(c.checksum, 0u);
}

TEST(LbSpec, SameConfigGivesByteIdenticalTablesAndChecksums) {
  LbSpec spec{.seed = 1234, .services = {webService(4)}};
  const LbConfig a = build(spec);
  const LbConfig b = build(spec);
  EXPECT_EQ(a.services[0].table, b.services[0].table);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(renderTable(a), renderTable(b));
}

TEST(LbSpec, BackendOrderInTheConfigDoesNotMatter) {
  LbSpec spec{.services = {webService(5)}};
  LbSpec reversed = spec;
  std::reverse(reversed.services[0].backends.begin(), reversed.services[0].backends.end());
  EXPECT_EQ(build(spec).checksum, build(reversed).checksum);
  EXPECT_EQ(renderTable(build(spec)), renderTable(build(reversed)));
}

TEST(LbSpec, ChecksumChangesWithWhatSteersFlows) {
  const LbSpec base{.services = {webService(3)}};
  const uint64_t sum = build(base).checksum;
  LbSpec seed = base;
  seed.seed = 7;
  LbSpec weight = base;
  weight.services[0].backends[0].weight = 2;
  LbSpec size = base;
  size.services[0].table_size = 311;
  LbSpec port = base;
  port.services[0].backends[2].port = 8081;
  for (const LbSpec* s : {&seed, &weight, &size, &port}) EXPECT_NE(build(*s).checksum, sum);
}

TEST(LbSpec, ChecksumIsPinnedAcrossVersions) {
  // Two nodes running different gwsync builds must agree: the checksum (and so the hashes, the
  // fill and the canonical text) may never change silently. A deliberate change bumps the
  // "gwsync-lb-v1" tag in service.cc and this value together.
  const LbConfig c = build({.services = {webService(3)}});
  EXPECT_EQ(c.checksum, kPinnedChecksum);
}

TEST(LbSpec, DrainingKeepsTableSizeAndTakesNoBucket) {
  LbSpec spec{.services = {webService(3)}};
  spec.services[0].backends[1].weight = 0;
  const Service s = build(spec).services[0];
  EXPECT_EQ(s.table_size, 307u);  // drained backends still count: M does not move
  for (const uint32_t b : s.table) EXPECT_NE(s.backends[b].weight, 0u);
}

TEST(LbSpec, ServiceOfMatchesVipPortAndProtocol) {
  LbSpec spec{.services = {webService(2)}};
  spec.services.push_back({.name = "dns6", .vip = "2001:db8:80::53", .protocol = "udp",
                           .port = 53, .backends = {{.address = "2001:db8:1::53"}}});
  const LbConfig c = build(spec);
  syncd::Tuple t{.src = testing::ip("203.0.113.9"), .dst = testing::ip("198.51.100.80"),
                 .proto = syncd::l4::kTcp, .src_port = 40000, .dst_port = 80};
  ASSERT_NE(c.serviceOf(t), nullptr);
  EXPECT_EQ(c.serviceOf(t)->name, "web");
  t.proto = syncd::l4::kUdp;
  EXPECT_EQ(c.serviceOf(t), nullptr);
  t = {.src = testing::ip("2001:db8:2::9"), .dst = testing::ip("2001:db8:80::53"),
       .proto = syncd::l4::kUdp, .src_port = 5353, .dst_port = 53};
  ASSERT_NE(c.serviceOf(t), nullptr);
  EXPECT_EQ(c.serviceOf(t)->name, "dns6");
}

TEST(LbSpecErrors, DuplicateVipPortProtocol) {
  LbSpec spec{.services = {webService(1), webService(1)}};
  spec.services[1].name = "web2";
  EXPECT_EQ(errorsOf(spec), std::vector<std::string>{
                                "lb.service[1].port = 80: service \"web2\": another service has "
                                "VIP:port:protocol 198.51.100.80:80:tcp already"});
  spec.services[1].protocol = "udp";  // same VIP and port, other protocol: fine
  EXPECT_TRUE(buildLbConfig(spec).ok());
}

TEST(LbSpecErrors, NoBackends) {
  EXPECT_EQ(errorsOf({.services = {webService(0)}}),
            std::vector<std::string>{"lb.service[0].backend: service \"web\": no backends: add at "
                                     "least one [[lb.service.backend]]"});
}

TEST(LbSpecErrors, BadWeightPortAndAddress) {
  LbSpec spec{.services = {webService(4)}};
  spec.services[0].backends[0].weight = -1;
  spec.services[0].backends[1].port = 70000;
  spec.services[0].backends[2].address = "192.0.2.300";
  spec.services[0].backends[3].address = "192.0.2.20";  // same as backend 0 with port 8080
  spec.services[0].backends[0].address = "192.0.2.99";
  EXPECT_EQ(errorsOf(spec),
            (std::vector<std::string>{
                "lb.service[0].backend[0].weight = -1: service \"web\": must be 0..10000 (0 drains "
                "the backend)",
                "lb.service[0].backend[1].port = 70000: service \"web\": must be 1..65535",
                "lb.service[0].backend[2].address = \"192.0.2.300\": service \"web\": not an IPv4 "
                "or IPv6 address"}));
  LbSpec dup{.services = {webService(2)}};
  dup.services[0].backends[1].address = "192.0.2.20";
  EXPECT_EQ(errorsOf(dup), std::vector<std::string>{
                               "lb.service[0].backend[1].address = \"192.0.2.20\": service "
                               "\"web\": backend 192.0.2.20:8080 is listed twice"});
}

TEST(LbSpecErrors, AllDrained) {
  LbSpec spec{.services = {webService(2)}};
  for (auto& b : spec.services[0].backends) b.weight = 0;
  EXPECT_EQ(errorsOf(spec), std::vector<std::string>{
                                "lb.service[0].backend: service \"web\": every backend has weight "
                                "0: the service would take no new connection (remove the service "
                                "instead)"});
}

TEST(LbSpecErrors, TableSizeNotPrimeOrTooSmallOrTooLarge) {
  LbSpec spec{.services = {webService(3)}};
  spec.services[0].table_size = 400;
  EXPECT_EQ(errorsOf(spec), std::vector<std::string>{
                                "lb.service[0].table_size = 400: service \"web\": not a prime "
                                "(Maglev needs one; the next is 401)"});
  spec.services[0].table_size = 293;
  EXPECT_EQ(errorsOf(spec),
            std::vector<std::string>{
                "lb.service[0].table_size = 293: service \"web\": too small for 3 backends: at "
                "least 100 buckets per backend keeps each within about 1 % of its share (>= 307)"});
  spec.services[0].table_size = 1000003;
  EXPECT_EQ(errorsOf(spec), std::vector<std::string>{
                                "lb.service[0].table_size = 1000003: service \"web\": must be a "
                                "prime in 300..262144"});
}

TEST(LbSpecErrors, FamilyMismatch) {
  LbSpec spec{.services = {webService(2)}};
  spec.services[0].backends[1].address = "2001:db8::21";
  EXPECT_EQ(errorsOf(spec), std::vector<std::string>{
                                "lb.service[0].backend[1].address = \"2001:db8::21\": service "
                                "\"web\": an IPv6 backend for an IPv4 VIP (one family per "
                                "service)"});
}

TEST(LbSpecErrors, HeadFieldsAndSeed) {
  LbSpec spec{.seed = int64_t{1} << 32, .services = {webService(1), webService(1)}};
  spec.services[0].name = "bad name";
  spec.services[0].protocol = "sctp";
  spec.services[0].vip = "";
  spec.services[0].port = 0;
  spec.services[1].name = "web";
  spec.services[1].vip = "2001:db8::80";
  spec.services[1].backends[0].address = "2001:db8::1";
  LbSpec dup_name = {.services = {webService(1), webService(1)}};
  dup_name.services[1].port = 81;
  EXPECT_EQ(errorsOf(spec),
            (std::vector<std::string>{
                "lb.seed = 4294967296: must be 0..4294967295 (a 32-bit jhash seed)",
                "lb.service[0].name = \"bad name\": must be 1..32 characters of [A-Za-z0-9_-]",
                "lb.service[0].vip: service \"bad name\": required",
                "lb.service[0].protocol = \"sctp\": service \"bad name\": must be \"tcp\" or "
                "\"udp\"",
                "lb.service[0].port: service \"bad name\": required (1..65535)"}));
  EXPECT_EQ(errorsOf(dup_name), std::vector<std::string>{
                                    "lb.service[1].name = \"web\": a service of this name exists "
                                    "already"});
}

}  // namespace
}  // namespace gwsync::lb
