#include "syncd/app/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace gwsync::syncd {
namespace {

constexpr const char* kMinimal = R"(
[node]
id = 1
[sync]
peer = "192.0.2.2:7400"
peer_id = 2
insecure_plaintext = true
)";

// Every key set to a value other than its default.
constexpr const char* kFull = R"(
[node]
id = 11
site = "fra1"
state_dir = "/srv/gwsync"
mode = "cold"

[sync]
listen = "[2001:db8::1]:7401"
peer = "[2001:db8::2]:7401"
peer_id = 12
heartbeat_ms = 200
dead_after_ms = 900
retransmit_ms = 300
window = 1024
max_frame_bytes = 65536
max_queued_bytes = 1048576
reconnect_min_ms = 50
reconnect_max_ms = 2000
ready_wait_ms = 0

[filter]
include = ["10.0.0.0/8", "2001:db8:100::/48"]
exclude = ["10.99.0.0/16"]
protocols = ["tcp", "udp"]
tcp_states = ["established", "syn_recv"]

[kernel]
event_buffer_bytes = 8388608
batch_bytes = 65536
refresh_interval_ms = 30000

[control]
socket = "/run/gwsync-test/ctl.sock"

[metrics]
listen = "127.0.0.1:9465"

[tls]
key = "/etc/gwsync/fra1.key"
cert = "/etc/gwsync/fra1.crt"
ca = "/etc/gwsync/ca.crt"
peer_fingerprints = ["E1:73:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"]
peer_name = "ams1"
handshake_timeout_ms = 2000
)";

std::vector<std::string> errorsOf(const std::string& text) {
  auto r = parseConfig(text, "gwsync.toml");
  if (r.ok()) return {};
  std::vector<std::string> out;
  for (const auto& e : r.error()) out.push_back(format(e));
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

// The single error the text must produce.
std::string onlyError(const std::string& text) {
  const auto errors = errorsOf(text);
  EXPECT_EQ(errors.size(), 1u) << joined(errors);
  return errors.empty() ? "" : errors.front();
}

// The minimal config with one more line in its last table, [sync].
std::string withSync(const std::string& line) { return std::string(kMinimal) + line + "\n"; }

TEST(ConfigTest, MinimalConfigTakesDefaults) {
  auto r = parseConfig(kMinimal, "gwsync.toml");
  ASSERT_TRUE(r.ok()) << joined(errorsOf(kMinimal));
  const Config& c = *r;
  EXPECT_EQ(c.node.id, 1);
  EXPECT_EQ(c.node.site, "");
  EXPECT_EQ(c.node.state_dir, "/var/lib/gwsync");
  EXPECT_EQ(c.node.mode, NodeMode::kHot);
  EXPECT_FALSE(c.sync.listen.has_value());
  EXPECT_EQ(c.sync.peer.toString(), "192.0.2.2:7400");
  EXPECT_EQ(c.sync.peer_id, 2);
  EXPECT_EQ(c.sync.heartbeat_ms, 1000u);
  EXPECT_EQ(c.sync.dead_after_ms, 4000u);
  EXPECT_EQ(c.sync.retransmit_ms, 1000u);
  EXPECT_EQ(c.sync.window, 65536u);
  EXPECT_EQ(c.sync.max_frame_bytes, 1048576u);
  EXPECT_EQ(c.sync.max_queued_bytes, 33554432u);
  EXPECT_EQ(c.sync.reconnect_min_ms, 20u);
  EXPECT_EQ(c.sync.reconnect_max_ms, 250u);
  EXPECT_EQ(c.sync.ready_wait_ms, 5000u);
  EXPECT_TRUE(c.filter.include.empty());
  EXPECT_TRUE(c.filter.exclude.empty());
  EXPECT_EQ(c.filter.protocols, allProtocols());
  EXPECT_EQ(c.filter.tcp_states, allTcpStates());
  EXPECT_EQ(c.kernel.event_buffer_bytes, 67108864u);
  EXPECT_EQ(c.kernel.batch_bytes, 262144u);
  EXPECT_EQ(c.kernel.refresh_interval_ms, 10000u);
  EXPECT_EQ(c.control.socket, "/run/gwsync/gwsyncd.sock");
  EXPECT_FALSE(c.metrics.listen.has_value());
}

TEST(ConfigTest, FullConfigSetsEveryKey) {
  auto r = parseConfig(kFull, "gwsync.toml");
  ASSERT_TRUE(r.ok()) << joined(errorsOf(kFull));
  const Config& c = *r;
  EXPECT_EQ(c.node.id, 11);
  EXPECT_EQ(c.node.site, "fra1");
  EXPECT_EQ(c.node.state_dir, "/srv/gwsync");
  EXPECT_EQ(c.node.mode, NodeMode::kCold);
  ASSERT_TRUE(c.sync.listen.has_value());
  EXPECT_EQ(c.sync.listen->toString(), "[2001:db8::1]:7401");
  EXPECT_EQ(c.sync.peer.toString(), "[2001:db8::2]:7401");
  EXPECT_EQ(c.sync.peer_id, 12);
  EXPECT_EQ(c.sync.heartbeat_ms, 200u);
  EXPECT_EQ(c.sync.dead_after_ms, 900u);
  EXPECT_EQ(c.sync.retransmit_ms, 300u);
  EXPECT_EQ(c.sync.window, 1024u);
  EXPECT_EQ(c.sync.max_frame_bytes, 65536u);
  EXPECT_EQ(c.sync.max_queued_bytes, 1048576u);
  EXPECT_EQ(c.sync.reconnect_min_ms, 50u);
  EXPECT_EQ(c.sync.reconnect_max_ms, 2000u);
  EXPECT_EQ(c.sync.ready_wait_ms, 0u);
  ASSERT_EQ(c.filter.include.size(), 2u);
  EXPECT_EQ(c.filter.include[0].toString(), "10.0.0.0/8");
  EXPECT_EQ(c.filter.include[1].toString(), "2001:db8:100::/48");
  ASSERT_EQ(c.filter.exclude.size(), 1u);
  EXPECT_EQ(c.filter.exclude[0].toString(), "10.99.0.0/16");
  EXPECT_EQ(c.filter.protocols.count(), 2u);
  EXPECT_TRUE(c.filter.protocols.test(l4::kTcp));
  EXPECT_TRUE(c.filter.protocols.test(l4::kUdp));
  EXPECT_EQ(c.filter.tcp_states.count(), 2u);
  EXPECT_TRUE(c.filter.tcp_states.test(*tcpStateByName("established")));
  EXPECT_TRUE(c.filter.tcp_states.test(*tcpStateByName("syn_recv")));
  EXPECT_EQ(c.kernel.event_buffer_bytes, 8388608u);
  EXPECT_EQ(c.kernel.batch_bytes, 65536u);
  EXPECT_EQ(c.kernel.refresh_interval_ms, 30000u);
  EXPECT_EQ(c.control.socket, "/run/gwsync-test/ctl.sock");
  ASSERT_TRUE(c.metrics.listen.has_value());
  EXPECT_EQ(c.metrics.listen->toString(), "127.0.0.1:9465");
}

TEST(ConfigTest, TlsTableIsRead) {
  auto c = parseConfig(kFull, "gwsync.toml");
  ASSERT_TRUE(c.ok()) << joined(errorsOf(kFull));
  ASSERT_TRUE(c->tls.has_value());
  EXPECT_EQ(c->tls->key_file, "/etc/gwsync/fra1.key");
  EXPECT_EQ(c->tls->cert_file, "/etc/gwsync/fra1.crt");
  EXPECT_EQ(c->tls->ca_file, "/etc/gwsync/ca.crt");
  ASSERT_EQ(c->tls->peer_fingerprints.size(), 1u);
  EXPECT_EQ(c->tls->peer_name, "ams1");
  EXPECT_EQ(c->tls->handshake_timeout, std::chrono::milliseconds(2000));
  EXPECT_FALSE(c->sync.insecure_plaintext);
}

TEST(ConfigTest, ASyncChannelWithoutTlsMustBeDeclaredInsecure) {
  const std::string text = "[node]\nid = 1\n[sync]\npeer = \"192.0.2.2:7400\"\npeer_id = 2\n";
  EXPECT_EQ(onlyError(text),
            "gwsync.toml: tls: missing: the sync channel needs [tls] with key, cert and "
            "peer_fingerprints or ca (see docs/security.md), or sync.insecure_plaintext = true on "
            "a dedicated link");
  auto c = parseConfig(kMinimal, "gwsync.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->sync.insecure_plaintext);
  EXPECT_FALSE(c->tls.has_value());
}

TEST(ConfigTest, TlsAndInsecurePlaintextContradict) {
  EXPECT_EQ(onlyError(std::string(kMinimal) +
                      "[tls]\nkey = \"/k\"\ncert = \"/c\"\nca = \"/ca\"\n"),
            "gwsync.toml: sync.insecure_plaintext = true: contradicts the [tls] table: remove one "
            "of them");
}

TEST(ConfigTest, TlsNeedsSomethingToAuthenticateThePeer) {
  const std::string base = "[node]\nid = 1\n[sync]\npeer = \"192.0.2.2:7400\"\npeer_id = 2\n";
  EXPECT_EQ(onlyError(base + "[tls]\nkey = \"/k\"\ncert = \"/c\"\n"),
            "gwsync.toml: tls: needs peer_fingerprints or ca: nothing would authenticate the peer");
  const auto errors = errorsOf(base + "[tls]\ncert = \"c\"\npeer_fingerprints = [\"zz\", 5]\n");
  ASSERT_EQ(errors.size(), 5u) << joined(errors);
  EXPECT_NE(errors[0].find("tls.key: required key is missing"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("tls.cert = \"c\": must be an absolute path"), std::string::npos);
  EXPECT_NE(errors[2].find("tls.peer_fingerprints[0] = \"zz\""), std::string::npos);
  EXPECT_NE(errors[3].find("tls.peer_fingerprints[1] = 5: expected a string"), std::string::npos);
}

TEST(ConfigTest, ErrorNamesKeyAndValueInTheDocumentedForm) {
  const std::string text = "[node]\nid = 1\n[sync]\npeer = \"1.2.3\"\npeer_id = 2\ninsecure_plaintext = true\n";
  EXPECT_EQ(onlyError(text),
            "gwsync.toml: sync.peer = \"1.2.3\": not an address:port "
            "(expected IP:PORT or [IPv6]:PORT)");
}

TEST(ConfigTest, WrongTypeIsNamed) {
  EXPECT_EQ(onlyError(withSync("window = \"8192\"")),
            "gwsync.toml: sync.window = \"8192\": expected an integer, got a string");
  EXPECT_EQ(onlyError(withSync("heartbeat_ms = 1.5")),
            "gwsync.toml: sync.heartbeat_ms = 1.5: expected an integer, got a floating-point "
            "number");
  EXPECT_EQ(onlyError(std::string(kMinimal) + "[filter]\ninclude = \"10.0.0.0/8\"\n"),
            "gwsync.toml: filter.include = \"10.0.0.0/8\": expected an array, got a string");
  EXPECT_EQ(onlyError("metrics = 3\n" + std::string(kMinimal)),
            "gwsync.toml: metrics = 3: expected a table, got an integer");
}

struct RangeCase {
  std::string table;  // the table the line goes into
  std::string line;
  std::string expected;  // the whole formatted error
};

class ConfigRangeTest : public ::testing::TestWithParam<RangeCase> {};

TEST_P(ConfigRangeTest, ReportsKeyValueAndRange) {
  const RangeCase& c = GetParam();
  std::string text;
  if (c.table == "node") {
    text = "[sync]\npeer = \"192.0.2.2:7400\"\npeer_id = 2\ninsecure_plaintext = true\n[node]\n" +
           c.line + "\n";
    if (c.line.rfind("id ", 0) != 0) text += "id = 1\n";
  } else if (c.table == "sync") {
    text = withSync(c.line);
  } else {
    text = std::string(kMinimal) + "[" + c.table + "]\n" + c.line + "\n";
  }
  EXPECT_EQ(onlyError(text), "gwsync.toml: " + c.expected) << text;
}

INSTANTIATE_TEST_SUITE_P(
    EveryKey, ConfigRangeTest,
    ::testing::Values(
        RangeCase{"node", "id = 0", "node.id = 0: out of range (1..65535)"},
        RangeCase{"node", "id = 65536", "node.id = 65536: out of range (1..65535)"},
        RangeCase{"node", "site = \"" + std::string(65, 's') + "\"",
                  "node.site = \"" + std::string(65, 's') + "\": longer than 64 characters"},
        RangeCase{"node", "site = \"a\\nb\"",
                  "node.site = \"a\\u000ab\": contains control characters"},
        RangeCase{"node", "state_dir = \"var/lib\"",
                  "node.state_dir = \"var/lib\": must be an absolute path"},
        RangeCase{"node", "mode = \"warm\"", "node.mode = \"warm\": expected \"hot\" or \"cold\""},
        RangeCase{"sync", "listen = \"2001:db8::1:80\"",
                  "sync.listen = \"2001:db8::1:80\": an IPv6 address needs brackets "
                  "(expected IP:PORT or [IPv6]:PORT)"},
        RangeCase{"sync", "listen = \"192.0.2.1:0\"",
                  "sync.listen = \"192.0.2.1:0\": port 0 is out of range (1..65535)"},
        RangeCase{"sync", "listen = \"gw1.example:7400\"",
                  "sync.listen = \"gw1.example:7400\": not an address:port "
                  "(expected IP:PORT or [IPv6]:PORT)"},
        RangeCase{"sync", "heartbeat_ms = 49", "sync.heartbeat_ms = 49: out of range (50..60000)"},
        RangeCase{"sync", "heartbeat_ms = 60001",
                  "sync.heartbeat_ms = 60001: out of range (50..60000)"},
        RangeCase{"sync", "dead_after_ms = 2000",
                  "sync.dead_after_ms = 2000: must be greater than twice sync.heartbeat_ms (1000), "
                  "or one late heartbeat declares the peer dead"},
        RangeCase{"sync", "retransmit_ms = 10",
                  "sync.retransmit_ms = 10: out of range (50..60000)"},
        RangeCase{"sync", "window = 15", "sync.window = 15: out of range (16..1048576)"},
        RangeCase{"sync", "window = 1048577", "sync.window = 1048577: out of range (16..1048576)"},
        RangeCase{"sync", "max_frame_bytes = 4095",
                  "sync.max_frame_bytes = 4095: out of range (4096..67108864)"},
        RangeCase{"sync", "max_queued_bytes = 65536",
                  "sync.max_queued_bytes = 65536: must be at least 2 * (sync.max_frame_bytes + 4) "
                  "= 2097160, to hold two maximal frames with their headers"},
        RangeCase{"sync", "reconnect_max_ms = 15",
                  "sync.reconnect_max_ms = 15: must be at least sync.reconnect_min_ms (20)"},
        RangeCase{"sync", "ready_wait_ms = -1",
                  "sync.ready_wait_ms = -1: out of range (0..600000)"},
        RangeCase{"sync", "ready_wait_ms = 600001",
                  "sync.ready_wait_ms = 600001: out of range (0..600000)"},
        RangeCase{"filter", "include = [\"10.0.0.0/33\"]",
                  "filter.include[0] = \"10.0.0.0/33\": prefix length 33 is longer than 32 for an "
                  "IPv4 address"},
        RangeCase{"filter", "exclude = [\"10.0.0.0/8\", 7]",
                  "filter.exclude[1] = 7: expected a string, got an integer"},
        RangeCase{"filter", "protocols = [\"tcp\", \"icmp6\"]",
                  "filter.protocols[1] = \"icmp6\": expected one of tcp, udp, udplite, icmp, "
                  "icmpv6, sctp, gre, dccp"},
        RangeCase{"filter", "protocols = []",
                  "filter.protocols = []: empty list would sync nothing (leave the key out to "
                  "sync all)"},
        RangeCase{"filter", "tcp_states = [\"listen\"]",
                  "filter.tcp_states[0] = \"listen\": expected one of syn_sent, syn_recv, "
                  "established, fin_wait, close_wait, last_ack, time_wait, close, syn_sent2"},
        RangeCase{"kernel", "event_buffer_bytes = 1048575",
                  "kernel.event_buffer_bytes = 1048575: out of range (1048576..1073741824)"},
        RangeCase{"kernel", "batch_bytes = 4194305",
                  "kernel.batch_bytes = 4194305: out of range (4096..4194304)"},
        RangeCase{"kernel", "refresh_interval_ms = 999",
                  "kernel.refresh_interval_ms = 999: out of range (1000..3600000)"},
        RangeCase{"control", "socket = \"/run/" + std::string(120, 'x') + "\"",
                  "control.socket = \"/run/" + std::string(120, 'x').substr(0, 71) +
                      "...: longer than 107 bytes"},
        RangeCase{"metrics", "listen = \"[192.0.2.1]:9465\"",
                  "metrics.listen = \"[192.0.2.1]:9465\": brackets are for IPv6 addresses only "
                  "(expected IP:PORT or [IPv6]:PORT)"}));

TEST(ConfigTest, RequiredKeysAreReported) {
  const auto errors = errorsOf("");
  ASSERT_EQ(errors.size(), 4u) << joined(errors);
  EXPECT_EQ(errors[0], "gwsync.toml: node.id: required key is missing");
  EXPECT_EQ(errors[1], "gwsync.toml: sync.peer: required key is missing");
  EXPECT_EQ(errors[2], "gwsync.toml: sync.peer_id: required key is missing");
  EXPECT_EQ(errors[3].rfind("gwsync.toml: tls: missing", 0), 0u) << errors[3];
}

// The peer channel raises a smaller queue to two maximal frames plus their 4-byte length prefixes;
// the config accepts exactly the values the channel would keep.
TEST(ConfigTest, QueueMustHoldTwoMaximalFrames) {
  EXPECT_EQ(onlyError(withSync("max_frame_bytes = 4096\nmax_queued_bytes = 8199")),
            "gwsync.toml: sync.max_queued_bytes = 8199: must be at least 2 * (sync.max_frame_bytes "
            "+ 4) = 8200, to hold two maximal frames with their headers");
  EXPECT_TRUE(errorsOf(withSync("max_frame_bytes = 4096\nmax_queued_bytes = 8200")).empty());
  EXPECT_TRUE(errorsOf(withSync("max_queued_bytes = 2097160")).empty());
  // A bad max_frame_bytes is reported alone, not also as a queue too small for it.
  EXPECT_EQ(onlyError(withSync("max_frame_bytes = 1\nmax_queued_bytes = 4096")),
            "gwsync.toml: sync.max_frame_bytes = 1: out of range (4096..67108864)");
}

TEST(ConfigTest, PeerIdMustDifferFromNodeId) {
  EXPECT_EQ(onlyError("[node]\nid = 5\n[sync]\npeer = \"192.0.2.2:7400\"\npeer_id = 5\n"
                      "insecure_plaintext = true\n"),
            "gwsync.toml: sync.peer_id = 5: must differ from node.id");
}

TEST(ConfigTest, PeerMustNotBeOwnListenAddress) {
  EXPECT_EQ(onlyError(withSync("listen = \"192.0.2.2:7400\"")),
            "gwsync.toml: sync.peer = \"192.0.2.2:7400\": same as sync.listen: this node would "
            "sync with itself");
}

TEST(ConfigTest, UnknownKeyIsRejectedWithSuggestion) {
  EXPECT_EQ(onlyError(withSync("windw = 100")),
            "gwsync.toml: sync.windw = 100: unknown key (did you mean sync.window?)");
  EXPECT_EQ(onlyError(std::string(kMinimal) + "[control]\nfoo = 1\n"),
            "gwsync.toml: control.foo = 1: unknown key (known: socket)");
}

TEST(ConfigTest, UnknownTableIsRejected) {
  EXPECT_EQ(onlyError(std::string(kMinimal) + "[kernal]\nbatch_bytes = 4096\n"),
            "gwsync.toml: kernal: unknown table (did you mean kernel?)");
}

TEST(ConfigTest, CollectsEveryErrorAtOnce) {
  const auto errors = errorsOf(R"(
[node]
id = 0
mode = "lukewarm"
[sync]
peer = "nowhere"
peer_id = 2
window = 1
insecure_plaintext = true
[filter]
protocols = ["tcp", "ipx"]
[metrix]
listen = "127.0.0.1:9465"
)");
  ASSERT_EQ(errors.size(), 6u) << joined(errors);
  EXPECT_NE(errors[0].find("node.id = 0"), std::string::npos);
  EXPECT_NE(errors[1].find("node.mode = \"lukewarm\""), std::string::npos);
  EXPECT_NE(errors[2].find("sync.peer = \"nowhere\""), std::string::npos);
  EXPECT_NE(errors[3].find("sync.window = 1"), std::string::npos);
  EXPECT_NE(errors[4].find("filter.protocols[1] = \"ipx\""), std::string::npos);
  EXPECT_NE(errors[5].find("metrix: unknown table"), std::string::npos);
}

constexpr const char* kNat = R"(
[nat]
inside = ["192.0.2.0/24"]
outside_interface = "wan"

[[nat.pool]]
name = "shared"
addresses = ["198.51.100.100"]
ports = "1024-65535"
partitions = { 1 = "1024-32767", 2 = "32768-65535" }

[[nat.static]]
inside = "192.0.2.20"
public = "198.51.100.20"
)";

TEST(ConfigTest, NatAbsentMeansDisabled) {
  auto r = parseConfig(kMinimal, "gwsync.toml");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->nat.has_value());
}

TEST(ConfigTest, NatTableParsesForThePair) {
  const std::string text = std::string(kMinimal) + kNat;
  auto r = parseConfig(text, "gwsync.toml");
  ASSERT_TRUE(r.ok()) << joined(errorsOf(text));
  ASSERT_TRUE(r->nat.has_value());
  const nat::NatConfig& n = *r->nat;
  EXPECT_EQ(n.nodes, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(n.outside_interface, "wan");
  ASSERT_EQ(n.pools.size(), 1u);
  EXPECT_EQ(n.pools[0].name, "shared");
  ASSERT_EQ(n.pools[0].partitions.size(), 2u);
  EXPECT_EQ(n.pools[0].partitions[0].node, 1u);
  EXPECT_EQ(n.pools[0].partitions[0].ports.lo, 1024);
  EXPECT_EQ(n.pools[0].partitions[0].ports.hi, 32767);
  EXPECT_EQ(n.pools[0].partitions[1].node, 2u);
  EXPECT_EQ(n.pools[0].partitions[1].ports.lo, 32768);
  EXPECT_EQ(n.pools[0].partitions[1].ports.hi, 65535);
  ASSERT_EQ(n.statics.size(), 1u);
}

TEST(ConfigTest, NatErrorsAreConfigErrors) {
  const std::string text = std::string(kMinimal) + R"(
[nat]
inside = ["192.0.2.0/24"]
outside_interface = "wan"
[[nat.pool]]
name = "shared"
addresses = ["198.51.100.100"]
partitions = { 1 = "1024-40000", 2 = "30000-65535" }
)";
  EXPECT_EQ(onlyError(text),
            "gwsync.toml: nat.pool[0].partitions.2 = \"30000-65535\": pool \"shared\": partition "
            "of node 2 (30000-65535) overlaps the partition of node 1 (1024-40000): both could "
            "pick the same public port");
}

TEST(ConfigTest, NatIsNotJudgedWithoutAValidPair) {
  // node.id is wrong: that is the one error, [nat] waits until the pair is known.
  const std::string text = "[node]\nid = 0\n[sync]\npeer = \"192.0.2.2:7400\"\npeer_id = 2\n"
                           "insecure_plaintext = true\n" +
                           std::string(kNat);
  const std::string error = onlyError(text);
  EXPECT_NE(error.find("node.id = 0"), std::string::npos) << error;
}

TEST(ConfigTest, SyntaxErrorGivesLineAndColumn) {
  auto r = parseConfig("[node]\nid = 1\nsite = = \"x\"\n", "gwsync.toml");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 1u);
  const ConfigError& e = r.error().front();
  EXPECT_EQ(e.line, 3u);
  EXPECT_GT(e.column, 0u);
  const std::string text = format(e);
  EXPECT_EQ(text.rfind("gwsync.toml:3:", 0), 0u) << text;
  EXPECT_NE(text.find("syntax error"), std::string::npos) << text;
}

TEST(ConfigTest, DuplicateKeyIsASyntaxError) {
  auto r = parseConfig("[node]\nid = 1\nid = 2\n", "gwsync.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().front().line, 3u) << format(r.error().front());
}

TEST(ConfigTest, LoadsFileAndNamesItInErrors) {
  char dir_template[] = "/tmp/gwsync-config-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/gwsync.toml";
  {
    std::ofstream out(path);
    out << kFull;
  }
  auto good = loadConfig(path);
  EXPECT_TRUE(good.ok());
  {
    std::ofstream out(path);
    out << "[node]\nid = 70000\n";
  }
  auto bad = loadConfig(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(format(bad.error().front()), path + ": node.id = 70000: out of range (1..65535)");
  std::remove(path.c_str());
  auto missing = loadConfig(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(format(missing.error().front()), path + ": cannot open: No such file or directory");
  ::rmdir(dir_template);
}

std::string readFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConfigTest, ShippedExampleLoads) {
  auto r = loadConfig(GWSYNC_EXAMPLE_CONFIG);
  ASSERT_TRUE(r.ok()) << format(r.error().front());
  EXPECT_EQ(r->node.id, 1);
  EXPECT_EQ(r->sync.peer_id, 2);
  // The example spells out the defaults of every numeric key.
  const Config defaults;
  EXPECT_EQ(r->sync.window, defaults.sync.window);
  EXPECT_EQ(r->kernel.refresh_interval_ms, defaults.kernel.refresh_interval_ms);
  EXPECT_EQ(r->filter.protocols, allProtocols());
  EXPECT_EQ(r->filter.tcp_states, allTcpStates());
}

TEST(ConfigTest, DocumentationShowsTheShippedExample) {
  const std::string doc = readFile(GWSYNC_CONFIG_DOC);
  const std::string heading = "## Complete example";
  const size_t section = doc.find(heading);
  ASSERT_NE(section, std::string::npos);
  const size_t begin = doc.find("```toml\n", section);
  ASSERT_NE(begin, std::string::npos);
  const size_t body = begin + 8;
  const size_t end = doc.find("```", body);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(doc.substr(body, end - body), readFile(GWSYNC_EXAMPLE_CONFIG))
      << "docs/configuration.md and systemd/gwsync.toml.example differ";
}

}  // namespace
}  // namespace gwsync::syncd
