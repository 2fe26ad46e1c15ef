#include "lb/nft_render.h"

#include <cstdio>

namespace gwsync::lb {

using syncd::Family;

namespace {

std::string familyWord(Family f) { return f == Family::kIpv4 ? "ip" : "ip6"; }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

void renderMap(const Service& s, std::string& out) {
  const std::string fam = familyWord(s.family());
  const std::string proto = protoName(s.proto);
  out += "\tmap svc_" + s.name + " {\n\t\ttypeof numgen inc mod 1 : " + fam + " daddr . " + proto +
         " dport\n\t\tcomment \"" + s.describe() + "\"\n\t\telements = {";
  std::vector<std::string> targets;
  for (const Backend& b : s.backends) targets.push_back(b.addr.toString() + " . " + std::to_string(b.port));
  for (size_t i = 0; i < s.table.size(); ++i) {
    out += (i % 4 == 0 ? "\n\t\t\t" : " ") + std::to_string(i) + " : " + targets[s.table[i]] +
           (i + 1 < s.table.size() ? "," : "");
  }
  out += "\n\t\t}\n\t}\n";
}

void renderRule(const LbConfig& config, const Service& s, std::string& out) {
  const std::string fam = familyWord(s.family());
  const std::string proto = protoName(s.proto);
  out += "\t\t" + fam + " daddr " + s.vip.toString() + " " + proto + " dport " +
         std::to_string(s.port) + " counter dnat " + fam + " addr . port to jhash " + fam +
         " saddr . " + proto + " sport mod " + std::to_string(s.table_size) + " seed " +
         hex32(config.seed) + " map @svc_" + s.name + " comment \"service " + s.name + "\"\n";
}

}  // namespace

std::string renderTable(const LbConfig& config) {
  std::string out = "table " + std::string(kLbTableFamily) + " " + std::string(kLbTableName) + " {\n";
  for (const Service& s : config.services) renderMap(s, out);
  if (!config.empty()) {
    out += "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n";
    for (const Service& s : config.services) renderRule(config, s, out);
    out += "\t}\n";
  }
  return out + "}\n";
}

std::string replaceTableCommands(std::string_view table_text) {
  const std::string name = std::string(kLbTableFamily) + " " + std::string(kLbTableName);
  return "add table " + name + "\ndelete table " + name + "\n" + std::string(table_text);
}

std::string removeTableCommands() {
  const std::string name = std::string(kLbTableFamily) + " " + std::string(kLbTableName);
  return "add table " + name + "\ndelete table " + name + "\n";
}

}  // namespace gwsync::lb
