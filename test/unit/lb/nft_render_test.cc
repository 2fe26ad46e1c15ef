// The rendered table: our table only, one map and one rule per service, the exact rule text nft
// 1.0.6 accepts (checked against the kernel by the namespace tests).
#include "lb/nft_render.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace gwsync::lb {
namespace {

using testing::build;
using testing::webService;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

TEST(LbRender, EmptyConfigGivesAnEmptyTable) {
  EXPECT_EQ(renderTable(LbConfig{}), "table inet gwsync_lb {\n}\n");
}

TEST(LbRender, OneMapAndOneRulePerService) {
  LbSpec spec{.seed = 0x1234, .services = {webService(3)}};
  spec.services.push_back({.name = "dns6", .vip = "2001:db8:80::53", .protocol = "udp",
                           .port = 53, .table_size = 211,
                           .backends = {{.address = "2001:db8:1::53", .port = 5353},
                                        {.address = "2001:db8:1::54", .port = 5353}}});
  const std::string t = renderTable(build(spec));
  EXPECT_EQ(t.rfind("table inet gwsync_lb {\n", 0), 0u);
  EXPECT_EQ(count(t, "table "), 1u);
  EXPECT_NE(t.find("\tmap svc_web {\n\t\ttypeof numgen inc mod 1 : ip daddr . tcp dport\n"),
            std::string::npos);
  EXPECT_NE(t.find("\tmap svc_dns6 {\n\t\ttypeof numgen inc mod 1 : ip6 daddr . udp dport\n"),
            std::string::npos);
  EXPECT_NE(t.find("\t\tip daddr 198.51.100.80 tcp dport 80 counter dnat ip addr . port to jhash "
                   "ip saddr . tcp sport mod 307 seed 0x00001234 map @svc_web comment \"service "
                   "web\"\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\t\tip6 daddr 2001:db8:80::53 udp dport 53 counter dnat ip6 addr . port to "
                   "jhash ip6 saddr . udp sport mod 211 seed 0x00001234 map @svc_dns6"),
            std::string::npos);
  EXPECT_NE(t.find("type nat hook prerouting priority dstnat; policy accept;"), std::string::npos);
  // Every bucket once per map: 307 + 211 elements.
  EXPECT_EQ(count(t, " . 8080"), 307u);
  EXPECT_EQ(count(t, " . 5353"), 211u);
  EXPECT_NE(t.find("\t0 : "), std::string::npos);
  EXPECT_NE(t.find(" 306 : 192.0.2."), std::string::npos);
  EXPECT_EQ(t.find(" 307 : "), std::string::npos);
}

TEST(LbRender, BucketsFollowTheTable) {
  const LbConfig c = build({.services = {webService(3)}});
  const Service& s = c.services[0];
  const std::string t = renderTable(c);
  for (const uint32_t i : {0u, 1u, 150u, 306u}) {
    // Four elements a line: the first of a line follows the indent.
    const std::string elem = (i % 4 == 0 ? "\t" : " ") + std::to_string(i) + " : " +
                             s.backends[s.table[i]].addr.toString() + " . 8080";
    EXPECT_NE(t.find(elem), std::string::npos) << elem;
  }
}

TEST(LbRender, ReplaceIsOneTransactionOnOurTableOnly) {
  EXPECT_EQ(replaceTableCommands("table inet gwsync_lb {\n}\n"),
            "add table inet gwsync_lb\ndelete table inet gwsync_lb\ntable inet gwsync_lb {\n}\n");
  EXPECT_EQ(removeTableCommands(), "add table inet gwsync_lb\ndelete table inet gwsync_lb\n");
}

}  // namespace
}  // namespace gwsync::lb
