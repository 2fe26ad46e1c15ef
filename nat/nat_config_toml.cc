#include "nat/nat_config_toml.h"

#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string_view>

namespace gwsync::nat {

namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

std::string typeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

std::string render(const toml::node& n) {
  if (const auto* s = n.as_string()) return quoted(s->get());
  std::ostringstream out;
  n.visit([&out](const auto& v) { out << v; });
  std::string text = out.str();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

// Reads one table: typed accessors that record errors; unknown keys reported at the end.
class Reader {
 public:
  Reader(const toml::table& table, std::string path, std::vector<NatError>& errors)
      : table_(table), path_(std::move(path)), errors_(errors) {}

  std::string key(std::string_view k) const { return path_ + "." + std::string(k); }
  void error(const std::string& k, const toml::node* n, std::string message) {
    errors_.push_back({k, n == nullptr ? "" : render(*n), std::move(message)});
  }

  std::optional<std::string> string(std::string_view k, bool required) {
    const toml::node* n = table_.get(k);
    if (n == nullptr) {
      if (required) error(key(k), nullptr, "required");
      return std::nullopt;
    }
    if (!n->is_string()) return typeError(key(k), *n, "a string"), std::nullopt;
    return n->as_string()->get();
  }

  std::optional<std::vector<std::string>> strings(std::string_view k, bool required) {
    const toml::node* n = table_.get(k);
    if (n == nullptr) {
      if (required) error(key(k), nullptr, "required");
      return std::nullopt;
    }
    if (!n->is_array()) return typeError(key(k), *n, "an array of strings"), std::nullopt;
    std::vector<std::string> out;
    bool good = true;
    const toml::array& list = *n->as_array();
    for (size_t i = 0; i < list.size(); ++i) {
      const toml::node& item = *list.get(i);
      if (item.is_string()) {
        out.push_back(item.as_string()->get());
      } else {
        typeError(key(k) + "[" + std::to_string(i) + "]", item, "a string");
        good = false;
      }
    }
    if (!good) return std::nullopt;
    return out;
  }

  void typeError(const std::string& k, const toml::node& n, std::string_view want) {
    error(k, &n, "expected " + std::string(want) + ", got " + typeName(n));
  }

  void rejectUnknown(std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : table_) {
      bool ok = false;
      for (const std::string_view name : known) ok = ok || k.str() == name;
      if (!ok) error(key(k.str()), &v, "unknown key");
    }
  }

  const toml::table& table() const { return table_; }

 private:
  const toml::table& table_;
  std::string path_;
  std::vector<NatError>& errors_;
};

// Each entry of an array of tables ([[nat.pool]]), with its index; other entries are errors.
template <class Fn>
void forEachTable(Reader& r, std::string_view k, Fn&& fn) {
  const toml::node* n = r.table().get(k);
  if (n == nullptr) return;
  if (!n->is_array()) return r.typeError(r.key(k), *n, "an array of tables ([[" + r.key(k) + "]])");
  const toml::array& list = *n->as_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = r.key(k) + "[" + std::to_string(i) + "]";
    if (!list.get(i)->is_table()) {
      r.typeError(path, *list.get(i), "a table");
      continue;
    }
    fn(i, path, *list.get(i)->as_table());
  }
}

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
  std::vector<NatError> errors;
  if (nat != nullptr) {
    Reader r(*nat, "nat", errors);
    spec.inside = r.strings("inside", false).value_or(std::vector<std::string>{});
    spec.outside_interface = r.string("outside_interface", false).value_or("");
    forEachTable(r, "pool", [&](size_t, const std::string& path, const toml::table& t) {
      Reader pr(t, path, errors);
      spec.pools.push_back(readPool(pr));
    });
    forEachTable(r, "static", [&](size_t, const std::string& path, const toml::table& t) {
      Reader sr(t, path, errors);
      StaticSpec s;
      s.inside = sr.string("inside", true).value_or("");
      s.public_addr = sr.string("public", true).value_or("");
      sr.rejectUnknown({"inside", "public"});
      spec.statics.push_back(std::move(s));
    });
    r.rejectUnknown({"inside", "outside_interface", "pool", "static"});
  }
  // Reading errors first: a value of the wrong type would only cause follow-up errors below.
  if (!errors.empty()) return syncd::fail(std::move(errors));
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
    errors.push_back({path, render(*n), "expected a node id 1..65535"});
    return std::nullopt;
  }
  return static_cast<uint32_t>(*v);
}

}  // namespace

syncd::Result<NatFile, std::vector<NatError>> loadNatFile(const std::string& path) {
  const auto fileError = [&path](std::string message, const std::string& where = "") {
    return syncd::fail(std::vector<NatError>{{"", "", path + where + ": " + std::move(message)}});
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fileError("cannot open");
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return fileError("cannot read");
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) return fileError("larger than 1 MiB; not a config");
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return fileError("syntax error: " + std::string(e.description()),
                     ":" + std::to_string(e.source().begin.line) + ":" +
                         std::to_string(e.source().begin.column));
  }
  std::vector<NatError> errors;
  const auto self = readNodeId(root, "node", "id", true, errors);
  const auto peer = readNodeId(root, "sync", "peer_id", false, errors);
  if (!errors.empty()) return syncd::fail(std::move(errors));
  std::vector<uint32_t> nodes{*self};
  if (peer) nodes.push_back(*peer);
  const toml::node* nat = root.get("nat");
  if (nat != nullptr && !nat->is_table()) {
    return syncd::fail(std::vector<NatError>{{"nat", render(*nat), "expected a table"}});
  }
  auto config = readNatConfig(nat == nullptr ? nullptr : nat->as_table(), nodes);
  if (!config) return syncd::fail(config.error());
  return NatFile{*self, std::move(*config)};
}

}  // namespace gwsync::nat
