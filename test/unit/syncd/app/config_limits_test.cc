// [limits] and filter.zones: the keys the peer guard reads (config.cc).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "syncd/app/config.h"

namespace gwsync::syncd {
namespace {

const std::string kMinimal = R"(
[node]
id = 1
[sync]
peer = "192.0.2.2:7400"
peer_id = 2
insecure_plaintext = true
)";

std::vector<std::string> errors(const std::string& extra) {
  auto r = parseConfig(kMinimal + extra, "t.toml");
  std::vector<std::string> out;
  if (!r.ok()) {
    for (const auto& e : r.error()) out.push_back(format(e));
  }
  return out;
}

TEST(ConfigLimitsTest, DefaultsBoundThePeerAtTheUsualConntrackSize) {
  auto r = parseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->limits.peer_sessions_max, 262144u);
  EXPECT_EQ(r->limits.peer_upserts_per_second, 250000u);
  EXPECT_EQ(r->limits.peer_upsert_burst, 262144u);
  EXPECT_EQ(r->limits.peer_queue_items, 65536u);
  EXPECT_EQ(r->limits.peer_timeout_max_tcp_s, 432000u);
  EXPECT_EQ(r->limits.peer_timeout_max_s, 86400u);
  EXPECT_TRUE(r->filter.zones.empty());
}

TEST(ConfigLimitsTest, EveryKeyIsRead) {
  auto r = parseConfig(kMinimal + R"(
[filter]
zones = [0, 7, 65535]
[limits]
peer_sessions_max = 1000
peer_upserts_per_second = 500
peer_upsert_burst = 2000
peer_queue_items = 4096
peer_timeout_max_tcp_s = 7200
peer_timeout_max_s = 600
)",
                       "t.toml");
  ASSERT_TRUE(r.ok()) << format(r.error().front());
  EXPECT_EQ(r->filter.zones, (std::vector<uint16_t>{0, 7, 65535}));
  EXPECT_EQ(r->limits.peer_sessions_max, 1000u);
  EXPECT_EQ(r->limits.peer_upserts_per_second, 500u);
  EXPECT_EQ(r->limits.peer_upsert_burst, 2000u);
  EXPECT_EQ(r->limits.peer_queue_items, 4096u);
  EXPECT_EQ(r->limits.peer_timeout_max_tcp_s, 7200u);
  EXPECT_EQ(r->limits.peer_timeout_max_s, 600u);
}

TEST(ConfigLimitsTest, ErrorsNameTheKeyAndValue) {
  EXPECT_EQ(errors("[limits]\npeer_sessions_max = 0\n"),
            std::vector<std::string>{"t.toml: limits.peer_sessions_max = 0: out of range ("
                                     "1..67108864)"});
  const auto queue = errors("[limits]\npeer_queue_items = 100\n");
  ASSERT_EQ(queue.size(), 1u);
  EXPECT_NE(queue[0].find("limits.peer_queue_items = 100"), std::string::npos) << queue[0];
  const auto typo = errors("[limits]\npeer_session_max = 5\n");
  ASSERT_EQ(typo.size(), 1u);
  EXPECT_NE(typo[0].find("limits.peer_session_max"), std::string::npos) << typo[0];
  const auto zone = errors("[filter]\nzones = [1, 70000, \"x\"]\n");
  ASSERT_EQ(zone.size(), 2u);
  EXPECT_EQ(zone[0], "t.toml: filter.zones[1] = 70000: expected a zone number 0..65535");
  EXPECT_EQ(zone[1], "t.toml: filter.zones[2] = \"x\": expected a zone number 0..65535");
  const auto empty = errors("[filter]\nzones = []\n");
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_NE(empty[0].find("filter.zones = []: empty list would sync nothing"), std::string::npos)
      << empty[0];
}

}  // namespace
}  // namespace gwsync::syncd
