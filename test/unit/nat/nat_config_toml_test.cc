#include "nat/nat_config_toml.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "test/unit/nat/test_util.h"

namespace gwsync::nat {
namespace {

using testing::ip;
using testing::kPair;
using V = std::vector<std::string>;

NatResult read(std::string_view text) {
  toml::table root = toml::parse(text);
  const toml::node* nat = root.get("nat");
  return readNatConfig(nat == nullptr ? nullptr : nat->as_table(), kPair);
}

V errorsOf(std::string_view text) {
  auto r = read(text);
  EXPECT_FALSE(r.ok()) << text;
  V out;
  if (!r.ok()) {
    for (const auto& e : r.error()) out.push_back(format(e));
  }
  return out;
}

// The example of docs/nat.md.
constexpr const char* kExample = R"(
[nat]
inside = ["192.0.2.0/24", "2001:db8:1::/64"]
outside_interface = "wan"

[[nat.pool]]
name = "shared"
addresses = ["198.51.100.100"]
ports = "1024-65535"
partitions = { 1 = "1024-32767", 2 = "32768-65535" }

[[nat.pool]]
name = "shared6"
addresses = ["2001:db8:ffff::100", "2001:db8:ffff::101"]

[[nat.static]]
inside = "192.0.2.20"
public = "198.51.100.20"
)";

TEST(NatConfigTomlTest, ReadsTheDocumentedExample) {
  auto r = read(kExample);
  ASSERT_TRUE(r.ok()) << format(r.error().front());
  const NatConfig& c = *r;
  EXPECT_EQ(c.outside_interface, "wan");
  ASSERT_EQ(c.pools.size(), 2u);
  EXPECT_TRUE(c.pools[0].explicit_partitions);
  EXPECT_EQ(*c.pools[0].partitionOf(1), (PortRange{1024, 32767}));
  EXPECT_EQ(*c.pools[0].partitionOf(2), (PortRange{32768, 65535}));
  EXPECT_EQ(c.pools[1].addresses.size(), 2u);
  EXPECT_EQ(*c.pools[1].partitionOf(2), (PortRange{33280, 65535}));
  ASSERT_EQ(c.statics.size(), 1u);
  EXPECT_EQ(c.statics[0].inside, ip("192.0.2.20"));
}

TEST(NatConfigTomlTest, NoNatTableIsAnEmptyConfig) {
  auto r = read("[node]\nid = 1\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(NatConfigTomlTest, RejectsUnknownKeys) {
  EXPECT_EQ(errorsOf("[nat]\noutside_interfaces = \"wan\"\n"),
            V{"nat.outside_interfaces = \"wan\": unknown key"});
  EXPECT_EQ(errorsOf("[nat]\ninside=[\"192.0.2.0/24\"]\noutside_interface=\"wan\"\n"
                     "[[nat.pool]]\nname=\"a\"\naddresses=[\"198.51.100.1\"]\nport=\"1-2\"\n"),
            V{"nat.pool[0].port = \"1-2\": unknown key"});
  EXPECT_EQ(errorsOf("[nat]\noutside_interface=\"wan\"\n[[nat.static]]\ninside=\"192.0.2.5\"\n"
                     "public=\"198.51.100.5\"\noutside=\"x\"\n"),
            V{"nat.static[0].outside = \"x\": unknown key"});
}

TEST(NatConfigTomlTest, TypeErrorsNameKeyAndValue) {
  EXPECT_EQ(errorsOf("[nat]\ninside = \"192.0.2.0/24\"\n"),
            V{"nat.inside = \"192.0.2.0/24\": expected an array of strings, got a string"});
  EXPECT_EQ(errorsOf("[nat]\ninside = [\"192.0.2.0/24\", 7]\n"),
            V{"nat.inside[1] = 7: expected a string, got an integer"});
  EXPECT_EQ(errorsOf("[nat]\npool = 3\n"),
            V{"nat.pool = 3: expected an array of tables ([[nat.pool]]), got an integer"});
  EXPECT_EQ(errorsOf("[nat]\noutside_interface=\"wan\"\ninside=[\"192.0.2.0/24\"]\n"
                     "[[nat.pool]]\nname=\"a\"\naddresses=[\"198.51.100.1\"]\n"
                     "partitions = { 1 = 1024 }\n"),
            V{"nat.pool[0].partitions.1 = 1024: expected a string \"LO-HI\", got an integer"});
}

TEST(NatConfigTomlTest, MissingRequiredKeys) {
  EXPECT_EQ(errorsOf("[nat]\noutside_interface=\"wan\"\n[[nat.pool]]\nports=\"1-2\"\n"),
            (V{"nat.pool[0].name: required", "nat.pool[0].addresses: required"}));
  EXPECT_EQ(errorsOf("[nat]\noutside_interface=\"wan\"\n[[nat.static]]\ninside=\"192.0.2.5\"\n"),
            V{"nat.static[0].public: required"});
}

TEST(NatConfigTomlTest, ValidationErrorsComeThrough) {
  EXPECT_EQ(errorsOf("[nat]\noutside_interface=\"wan\"\ninside=[\"192.0.2.0/24\"]\n"
                     "[[nat.pool]]\nname=\"a\"\naddresses=[\"198.51.100.1\"]\n"
                     "partitions = { 1 = \"1024-40000\", 2 = \"30000-65535\" }\n"),
            V{"nat.pool[0].partitions.2 = \"30000-65535\": pool \"a\": partition of node 2 "
              "(30000-65535) overlaps the partition of node 1 (1024-40000): both could pick the "
              "same public port"});
}

class TempFile {
 public:
  explicit TempFile(std::string_view text) {
    char name[] = "/tmp/gwsync-nat-test-XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    if (fd >= 0) ::close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(NatConfigTomlTest, LoadsNodesFromTheFile) {
  TempFile f(std::string("[node]\nid = 2\n[sync]\npeer_id = 1\npeer = \"192.0.2.1:7801\"\n") +
             kExample);
  auto r = loadNatFile(f.path());
  ASSERT_TRUE(r.ok()) << format(r.error().front());
  EXPECT_EQ(r->self, 2u);
  EXPECT_EQ(r->config.nodes, (std::vector<uint32_t>{1, 2}));
}

TEST(NatConfigTomlTest, FileErrors) {
  auto missing = loadNatFile("/nonexistent/gwsync.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(format(missing.error().front()), "/nonexistent/gwsync.toml: cannot open");
  TempFile bad("[node\nid = 1\n");
  auto syntax = loadNatFile(bad.path());
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.error().front().message.find(":1:"), std::string::npos);
  TempFile no_id("[sync]\npeer_id = 0\n");
  auto ids = loadNatFile(no_id.path());
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(format(ids.error()[0]), "node.id: required");
  EXPECT_EQ(format(ids.error()[1]), "sync.peer_id = 0: expected a node id 1..65535");
}

// The first ```toml block of docs/nat.md is a valid configuration and means what the text says.
TEST(NatConfigTomlTest, DocumentedExampleIsValid) {
  std::ifstream doc(GWSYNC_NAT_DOC);
  ASSERT_TRUE(doc) << GWSYNC_NAT_DOC;
  std::stringstream text;
  text << doc.rdbuf();
  const std::string all = text.str();
  const size_t begin = all.find("```toml\n");
  ASSERT_NE(begin, std::string::npos);
  const size_t end = all.find("```", begin + 8);
  ASSERT_NE(end, std::string::npos);
  TempFile f(all.substr(begin + 8, end - begin - 8));
  auto r = loadNatFile(f.path());
  ASSERT_TRUE(r.ok()) << format(r.error().front());
  const NatConfig& c = r->config;
  ASSERT_EQ(c.pools.size(), 2u);
  EXPECT_EQ(*c.pools[0].partitionOf(2), (PortRange{32768, 65535}));
  EXPECT_EQ(*c.pools[1].partitionOf(1), (PortRange{1024, 33279}));
  EXPECT_EQ(*c.pools[1].partitionOf(2), (PortRange{33280, 65535}));
  EXPECT_EQ(c.statics.size(), 1u);
}

}  // namespace
}  // namespace gwsync::nat
