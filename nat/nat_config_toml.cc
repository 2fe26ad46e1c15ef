#include "nat/nat_config_toml.h"

#include <optional>
#include <string_view>
#include <utility>

#include "syncd/toml/toml_file.h"
#include "syncd/toml/toml_table_reader.h"

namespace gwsync::nat {

namespace {

using Reader = syncd::TomlTableReader;

void readPartitions(Reader& pool, PoolSpec& spec) {
  const toml::node* n = pool.table().get("partitions");
  if (n == nullptr) return;
  if (!n->is_table()) {
    return pool.typeError(pool.key("partitions"), *n,
                          "a table of node id = \"LO-HI\" ({ 1 = \"1024-32767\", ... })");
  }
  for (const auto& [node, ports] : *n->as_table()) {
    const std::string k = pool.key("partitions." + std::string(node.str()));
    if (!ports.is_string()) {
      pool.typeError(k, ports, "a string \"LO-HI\"");
      continue;
    }
    spec.partitions.push_back({std::string(node.str()), ports.as_string()->get()});
  }
}

PoolSpec readPool(Reader& r) {
  PoolSpec spec;
  spec.name = r.string("name", true).value_or("");
  spec.addresses = r.strings("addresses", true).value_or(std::vector<std::string>{});
  spec.ports = r.string("ports", false);
  spec.inside = r.strings("inside", false);
  readPartitions(r, spec);
  r.rejectUnknown({"name", "addresses", "ports", "inside", "partitions"});
  return spec;
}

}  // namespace

NatResult readNatConfig(const toml::table* nat, std::span<const uint32_t> nodes) {
  NatSpec spec;
  std::vector<syncd::TomlError> errors;
  if (nat != nullptr) {
    Reader r(*nat, "nat", errors);
    spec.inside = r.strings("inside", false).value_or(std::vector<std::string>{});
    spec.outside_interface = r.string("outside_interface", false).value_or("");
    r.forEachTable("pool", [&](Reader& pr) { spec.pools.push_back(readPool(pr)); });
    r.forEachTable("static", [&](Reader& sr) {
      StaticSpec s;
      s.inside = sr.string("inside", true).value_or("");
      s.public_addr = sr.string("public", true).value_or("");
      sr.rejectUnknown({"inside", "public"});
      spec.statics.push_back(std::move(s));
    });
    r.rejectUnknown({"inside", "outside_interface", "pool", "static"});
  }
  // Reading errors first: a value of the wrong type would only cause follow-up errors below.
  if (!errors.empty()) return syncd::fail(syncd::asErrors<NatError>(std::move(errors)));
  return buildNatConfig(spec, nodes);
}

namespace {

std::optional<uint32_t> readNodeId(const toml::table& root, std::string_view table,
                                   std::string_view key, bool required,
                                   std::vector<NatError>& errors) {
  const std::string path = std::string(table) + "." + std::string(key);
  const toml::node* n = root.at_path(path).node();
  if (n == nullptr) {
    if (required) errors.push_back({path, "", "required"});
    return std::nullopt;
  }
  const auto v = n->value<int64_t>();
  if (!n->is_integer() || !v || *v < 1 || *v > 65535) {
    errors.push_back({path, syncd::renderToml(*n), "expected a node id 1..65535"});
    return std::nullopt;
  }
  return static_cast<uint32_t>(*v);
}

}  // namespace

syncd::Result<NatFile, std::vector<NatError>> loadNatFile(const std::string& path) {
  auto parsed = syncd::parseTomlFile(path);
  if (!parsed) return syncd::fail(std::vector<NatError>{{"", "", parsed.error()}});
  const toml::table& root = *parsed;
  std::vector<NatError> errors;
  const auto self = readNodeId(root, "node", "id", true, errors);
  const auto peer = readNodeId(root, "sync", "peer_id", false, errors);
  if (!errors.empty()) return syncd::fail(std::move(errors));
  std::vector<uint32_t> nodes{*self};
  if (peer) nodes.push_back(*peer);
  const toml::node* nat = root.get("nat");
  if (nat != nullptr && !nat->is_table()) {
    return syncd::fail(std::vector<NatError>{{"nat", syncd::renderToml(*nat), "expected a table"}});
  }
  auto config = readNatConfig(nat == nullptr ? nullptr : nat->as_table(), nodes);
  if (!config) return syncd::fail(config.error());
  return NatFile{*self, std::move(*config)};
}

}  // namespace gwsync::nat
