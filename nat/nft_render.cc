#include "nat/nft_render.h"

#include <cstdio>

namespace gwsync::nat {

using syncd::Family;
using syncd::IpAddress;

namespace {

std::string familyWord(Family f) { return f == Family::kIpv4 ? "ip" : "ip6"; }

// The protocols whose ports (ICMP: query ids) the kernel picks from the rule's range; the set
// portPartitioned() in binding_check.h checks.
std::string portProtocols(Family f) {
  return f == Family::kIpv4 ? "{ tcp, udp, udplite, sctp, dccp, icmp }"
                            : "{ tcp, udp, udplite, sctp, dccp, icmpv6 }";
}

// "{ 192.0.2.0/24, 198.51.100.0/25 }", leaving out prefixes inside another listed one: an
// anonymous interval set refuses overlapping elements.
std::string prefixSet(const std::vector<Prefix>& prefixes) {
  std::string out = "{ ";
  bool first = true;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    bool covered = false;
    for (size_t j = 0; j < prefixes.size() && !covered; ++j) {
      if (i == j) continue;
      const bool inside =
          prefixes[j].len < prefixes[i].len && prefixes[j].contains(prefixes[i].addr);
      const bool repeat = prefixes[j] == prefixes[i] && j < i;
      covered = inside || repeat;
    }
    if (covered) continue;
    out += (first ? "" : ", ") + prefixes[i].toString();
    first = false;
  }
  return out + " }";
}

// The translation target: "198.51.100.100:1024-32767", "[2001:db8::1]:1024-32767", or for several
// addresses "jhash ip saddr mod 2 seed 0x67777363 map { 0 : A, 1 : B } : 1024-32767".
std::string target(const Pool& pool, const PortRange* ports) {
  if (pool.addresses.size() == 1) {
    std::string addr = pool.addresses.front().toString();
    if (ports == nullptr) return addr;
    const bool v6 = pool.family == Family::kIpv6;
    return (v6 ? "[" + addr + "]" : addr) + ":" + ports->toString();
  }
  char seed[16];
  std::snprintf(seed, sizeof(seed), "0x%08x", kPoolHashSeed);
  std::string out = "jhash " + familyWord(pool.family) + " saddr mod " +
                    std::to_string(pool.addresses.size()) + " seed " + seed + " map { ";
  for (size_t i = 0; i < pool.addresses.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(i) + " : " + pool.addresses[i].toString();
  }
  out += " }";
  return ports == nullptr ? out : out + " : " + ports->toString();
}

void renderPool(const NatConfig& config, const Pool& pool, uint32_t node, std::string& out) {
  const std::string fam = familyWord(pool.family);
  const std::string match = "\t\toifname \"" + config.outside_interface + "\" " + fam + " saddr " +
                            prefixSet(pool.inside);
  const std::string comment = " comment \"pool " + pool.name + "\"\n";
  out += match + " meta l4proto " + portProtocols(pool.family) + " counter snat " + fam + " to " +
         target(pool, pool.partitionOf(node)) + comment;
  out += match + " counter snat " + fam + " to " + target(pool, nullptr) + comment;
}

void renderChainHead(std::string_view name, std::string_view hook, std::string_view priority,
                     std::string& out) {
  out += "\tchain " + std::string(name) + " {\n\t\ttype nat hook " + std::string(hook) +
         " priority " + std::string(priority) + "; policy accept;\n";
}

}  // namespace

syncd::Result<std::string, std::string> renderTable(const NatConfig& config, uint32_t node) {
  if (!config.hasNode(node)) {
    return syncd::fail("node " + std::to_string(node) + " is not a node of the NAT config");
  }
  std::string out =
      "table " + std::string(kNatTableFamily) + " " + std::string(kNatTableName) + " {\n";
  const std::string outside = "\"" + config.outside_interface + "\"";
  if (!config.statics.empty()) {
    renderChainHead("prerouting", "prerouting", "dstnat", out);
    for (const StaticMapping& m : config.statics) {
      const std::string fam = familyWord(m.inside.family);
      out += "\t\tiifname " + outside + " " + fam + " daddr " + m.public_addr.toString() +
             " counter dnat " + fam + " to " + m.inside.toString() + " comment \"static\"\n";
    }
    out += "\t}\n";
  }
  if (!config.empty()) {
    renderChainHead("postrouting", "postrouting", "srcnat", out);
    for (const StaticMapping& m : config.statics) {
      const std::string fam = familyWord(m.inside.family);
      out += "\t\toifname " + outside + " " + fam + " saddr " + m.inside.toString() +
             " counter snat " + fam + " to " + m.public_addr.toString() + " comment \"static\"\n";
    }
    for (const Pool& pool : config.pools) renderPool(config, pool, node, out);
    out += "\t}\n";
  }
  return out + "}\n";
}

std::string replaceTableCommands(std::string_view table_text) {
  const std::string name = std::string(kNatTableFamily) + " " + std::string(kNatTableName);
  return "add table " + name + "\ndelete table " + name + "\n" + std::string(table_text);
}

std::string removeTableCommands() {
  const std::string name = std::string(kNatTableFamily) + " " + std::string(kNatTableName);
  return "add table " + name + "\ndelete table " + name + "\n";
}

}  // namespace gwsync::nat
