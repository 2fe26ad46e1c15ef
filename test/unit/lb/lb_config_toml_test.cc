// readLbConfig on parsed TOML: types, unknown keys, and the documented example.
#include "lb/lb_config_toml.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace gwsync::lb {
namespace {

std::vector<std::string> errors(std::string_view text) {
  const toml::table root = toml::parse(text);
  auto r = readLbConfig(root["lb"].as_table());
  std::vector<std::string> out;
  if (!r) {
    for (const LbError& e : r.error()) out.push_back(format(e));
  }
  return out;
}

constexpr std::string_view kValid = R"(
[lb]
seed = 0x12345678

[[lb.service]]
name = "web"
vip = "198.51.100.80"
protocol = "tcp"
port = 80
table_size = 307

[[lb.service.backend]]
address = "192.0.2.20"
port = 8080
weight = 2

[[lb.service.backend]]
address = "192.0.2.21"
port = 8080
weight = 0
)";

TEST(LbToml, ReadsServicesAndBackends) {
  const toml::table root = toml::parse(kValid);
  auto r = readLbConfig(root["lb"].as_table());
  ASSERT_TRUE(r.ok()) << format(r.error().front());
  EXPECT_EQ(r->seed, 0x12345678u);
  ASSERT_EQ(r->services.size(), 1u);
  EXPECT_EQ(r->services[0].table_size, 307u);
  EXPECT_EQ(r->services[0].backends[0].weight, 2u);
  EXPECT_EQ(r->services[0].backends[1].weight, 0u);
}

TEST(LbToml, NoLbTableIsAnEmptyConfig) {
  auto r = readLbConfig(nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(LbToml, TypeErrorsAndUnknownKeysNameTheKey) {
  EXPECT_EQ(errors(R"(
[lb]
seed = "x"
sead = 1
[[lb.service]]
name = "web"
vip = "198.51.100.80"
protocol = "tcp"
port = "80"
[[lb.service.backend]]
address = "192.0.2.20"
wieght = 2
)"),
            (std::vector<std::string>{
                "lb.seed = \"x\": expected an integer, got a string",
                "lb.service[0].port = \"80\": expected an integer, got a string",
                "lb.service[0].backend[0].wieght = 2: unknown key",
                "lb.sead = 1: unknown key"}));
  EXPECT_EQ(errors("[lb]\nservice = 3\n"),
            std::vector<std::string>{
                "lb.service = 3: expected an array of tables ([[lb.service]]), got an integer"});
}

TEST(LbToml, ValidationErrorsComeThrough) {
  EXPECT_EQ(errors(R"(
[[lb.service]]
name = "web"
vip = "198.51.100.80"
protocol = "tcp"
port = 80
table_size = 300
[[lb.service.backend]]
address = "192.0.2.20"
)"),
            std::vector<std::string>{"lb.service[0].table_size = 300: service \"web\": not a "
                                     "prime (Maglev needs one; the next is 307)"});
}

// The example in docs/lb.md (the first ```toml block) must stay valid.
TEST(LbToml, DocumentedExampleIsValid) {
  std::ifstream in(GWSYNC_LB_DOC);
  ASSERT_TRUE(in) << GWSYNC_LB_DOC;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const size_t start = doc.find("```toml\n");
  ASSERT_NE(start, std::string::npos);
  const size_t end = doc.find("```", start + 8);
  const toml::table root = toml::parse(doc.substr(start + 8, end - start - 8));
  auto r = readLbConfig(root["lb"].as_table());
  ASSERT_TRUE(r.ok()) << format(r.error().front());
  EXPECT_FALSE(r->empty());
}

}  // namespace
}  // namespace gwsync::lb
