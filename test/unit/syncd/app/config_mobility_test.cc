// [mobility] in gwsync.toml: defaults, every key, and an error naming the key for each mistake.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "syncd/app/config.h"

namespace gwsync::syncd {
namespace {

constexpr const char* kBase = R"(
[node]
id = 1
[sync]
peer = "192.0.2.2:7400"
peer_id = 2
insecure_plaintext = true
)";

ConfigResult parse(const std::string& mobility) {
  return parseConfig(std::string(kBase) + "[mobility]\n" + mobility, "gwsync.toml");
}

std::vector<std::string> errorsOf(const std::string& mobility) {
  std::vector<std::string> out;
  auto r = parse(mobility);
  if (r) return out;
  for (const auto& e : r.error()) out.push_back(format(e));
  return out;
}

constexpr const char* kMinimal = R"(
lan_interfaces = ["lan0"]
mobile_prefixes = ["192.0.2.0/24"]
anycast_ipv4 = "192.0.2.1"
anycast_mac = "02:00:5e:00:01:01"
return_path = "none"
)";

TEST(ConfigMobilityTest, AbsentMeansNoMobility) {
  auto r = parseConfig(kBase, "gwsync.toml");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->mobility.has_value());
}

TEST(ConfigMobilityTest, MinimalTakesDefaults) {
  auto r = parse(kMinimal);
  ASSERT_TRUE(r.ok()) << (r ? "" : format(r.error()[0]));
  const MobilityConfig& m = *r->mobility;
  EXPECT_EQ(m.lan_interfaces, std::vector<std::string>{"lan0"});
  EXPECT_EQ(m.mobile_prefixes.size(), 1u);
  EXPECT_EQ(m.anycast_ipv4.toString(), "192.0.2.1");
  EXPECT_EQ(m.anycast_mac, (MacBytes{0x02, 0x00, 0x5e, 0x00, 0x01, 0x01}));
  EXPECT_EQ(m.debounce_ms, 200u);
  EXPECT_EQ(m.probe_timeout_ms, 100u);
  EXPECT_EQ(m.route_table, 100u);
  EXPECT_EQ(m.route_protocol, 200u);
  EXPECT_EQ(m.route_device, "lan0");  // the first LAN interface
  EXPECT_EQ(m.return_path, ReturnPath::kNone);
  EXPECT_EQ(m.max_hosts, 4096u);
}

TEST(ConfigMobilityTest, RedirectReadsItsKeys) {
  auto r = parse(R"(
lan_interfaces = ["lan0", "lan1"]
mobile_prefixes = ["192.0.2.0/25", "2001:db8:1::/64"]
anycast_ipv4 = "192.0.2.1"
anycast_mac = "02:00:5e:00:01:01"
debounce_ms = 50
probe_timeout_ms = 30
route_table = 1000
route_protocol = 201
route_device = "lan1"
return_path = "redirect"
redirect_ingress = ["wan0"]
redirect_device = "sync0"
redirect_next_hop = "203.0.113.6"
max_hosts = 10
anycast_ipv6 = "2001:db8::1"
)");
  ASSERT_TRUE(r.ok()) << (r ? "" : format(r.error()[0]));
  const MobilityConfig& m = *r->mobility;
  EXPECT_EQ(m.route_device, "lan1");
  EXPECT_EQ(m.return_path, ReturnPath::kRedirect);
  EXPECT_EQ(m.redirect_ingress, std::vector<std::string>{"wan0"});
  EXPECT_EQ(m.redirect_device, "sync0");
  EXPECT_EQ(m.redirect_next_hop->toString(), "203.0.113.6");
  EXPECT_EQ(m.route_table, 1000u);
  EXPECT_EQ(m.route_protocol, 201u);
  EXPECT_EQ(m.debounce_ms, 50u);
  EXPECT_EQ(m.max_hosts, 10u);
  EXPECT_EQ(m.anycast_ipv6->toString(), "2001:db8::1");
}

TEST(ConfigMobilityTest, OneMistakeGivesOneError) {
  // A bad interface name is not also "required"; a bad return_path does not also ask for the
  // redirect keys.
  auto errors = errorsOf(
      "lan_interfaces = [\"a/b\"]\nmobile_prefixes = [\"192.0.2.0/24\"]\nanycast_ipv4 = "
      "\"192.0.2.1\"\nanycast_mac = \"02:00:5e:00:01:01\"\nreturn_path = \"teleport\"\n");
  ASSERT_EQ(errors.size(), 2u) << errors[0];
  EXPECT_NE(errors[0].find("mobility.lan_interfaces[0]"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("mobility.return_path"), std::string::npos) << errors[1];
}

TEST(ConfigMobilityTest, EachMistakeNamesItsKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"lan_interfaces = []\nmobile_prefixes = [\"192.0.2.0/24\"]\nanycast_ipv4 = \"192.0.2.1\"\n"
       "anycast_mac = \"02:00:5e:00:01:01\"\nreturn_path = \"none\"\n",
       "mobility.lan_interfaces"},
      {"lan_interfaces = [\"a/b\"]\nmobile_prefixes = [\"192.0.2.0/24\"]\nanycast_ipv4 = "
       "\"192.0.2.1\"\nanycast_mac = \"02:00:5e:00:01:01\"\nreturn_path = \"none\"\n",
       "mobility.lan_interfaces[0]"},
      {"lan_interfaces = [\"lan0\"]\nmobile_prefixes = [\"192.0.2.0/33\"]\nanycast_ipv4 = "
       "\"192.0.2.1\"\nanycast_mac = \"02:00:5e:00:01:01\"\nreturn_path = \"none\"\n",
       "mobility.mobile_prefixes[0]"},
      {"lan_interfaces = [\"lan0\"]\nmobile_prefixes = [\"192.0.2.0/24\"]\nanycast_ipv4 = "
       "\"2001:db8::1\"\nanycast_mac = \"02:00:5e:00:01:01\"\nreturn_path = \"none\"\n",
       "mobility.anycast_ipv4"},
      {"lan_interfaces = [\"lan0\"]\nmobile_prefixes = [\"192.0.2.0/24\"]\nanycast_ipv4 = "
       "\"192.0.2.1\"\nanycast_mac = \"01:00:5e:00:01:01\"\nreturn_path = \"none\"\n",
       "mobility.anycast_mac"},
      {std::string(kMinimal) + "route_table = 254\n", "mobility.route_table"},
      {std::string(kMinimal) + "route_protocol = 2\n", "mobility.route_protocol"},
      {std::string(kMinimal) + "colour = 1\n", "mobility.colour"},
      {"lan_interfaces = [\"lan0\"]\nmobile_prefixes = [\"192.0.2.0/24\"]\nanycast_ipv4 = "
       "\"192.0.2.1\"\nanycast_mac = \"02:00:5e:00:01:01\"\nreturn_path = \"teleport\"\n",
       "mobility.return_path"},
      {"lan_interfaces = [\"lan0\"]\nmobile_prefixes = [\"192.0.2.0/24\"]\nanycast_ipv4 = "
       "\"192.0.2.1\"\nanycast_mac = \"02:00:5e:00:01:01\"\n",  // redirect by default
       "mobility.redirect_ingress"},
  };
  for (const auto& [text, key] : cases) {
    const auto errors = errorsOf(text);
    ASSERT_FALSE(errors.empty()) << key;
    EXPECT_NE(errors[0].find(key), std::string::npos) << errors[0];
  }
}

}  // namespace
}  // namespace gwsync::syncd
