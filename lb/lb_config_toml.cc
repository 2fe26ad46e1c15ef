#include "lb/lb_config_toml.h"

#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string_view>

namespace gwsync::lb {

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
  if (const auto* s = n.as_string()) {
    std::string out = "\"";
    for (const char c : s->get()) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return out + "\"";
  }
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
  Reader(const toml::table& table, std::string path, std::vector<LbError>& errors)
      : table_(table), path_(std::move(path)), errors_(errors) {}

  std::string key(std::string_view k) const { return path_ + "." + std::string(k); }

  void typeError(const std::string& k, const toml::node& n, std::string_view want) {
    errors_.push_back({k, render(n), "expected " + std::string(want) + ", got " + typeName(n)});
  }

  std::optional<std::string> string(std::string_view k) {
    const toml::node* n = table_.get(k);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) return typeError(key(k), *n, "a string"), std::nullopt;
    return n->as_string()->get();
  }

  std::optional<int64_t> integer(std::string_view k) {
    const toml::node* n = table_.get(k);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) return typeError(key(k), *n, "an integer"), std::nullopt;
    return n->as_integer()->get();
  }

  // Each entry of an array of tables ([[lb.service]]), with its path; other entries are errors.
  template <class Fn>
  void forEachTable(std::string_view k, Fn&& fn) {
    const toml::node* n = table_.get(k);
    if (n == nullptr) return;
    if (!n->is_array()) return typeError(key(k), *n, "an array of tables ([[" + key(k) + "]])");
    const toml::array& list = *n->as_array();
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = key(k) + "[" + std::to_string(i) + "]";
      if (!list.get(i)->is_table()) {
        typeError(path, *list.get(i), "a table");
        continue;
      }
      Reader sub(*list.get(i)->as_table(), path, errors_);
      fn(sub);
    }
  }

  void rejectUnknown(std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : table_) {
      bool ok = false;
      for (const std::string_view name : known) ok = ok || k.str() == name;
      if (!ok) errors_.push_back({key(k.str()), render(v), "unknown key"});
    }
  }

 private:
  const toml::table& table_;
  std::string path_;
  std::vector<LbError>& errors_;
};

ServiceSpec readService(Reader& r) {
  ServiceSpec s;
  s.name = r.string("name").value_or("");
  s.vip = r.string("vip").value_or("");
  s.protocol = r.string("protocol").value_or("");
  s.port = r.integer("port").value_or(0);
  s.table_size = r.integer("table_size");
  r.forEachTable("backend", [&](Reader& br) {
    BackendSpec b;
    b.address = br.string("address").value_or("");
    b.port = br.integer("port");
    b.weight = br.integer("weight");
    br.rejectUnknown({"address", "port", "weight"});
    s.backends.push_back(std::move(b));
  });
  r.rejectUnknown({"name", "vip", "protocol", "port", "table_size", "backend"});
  return s;
}

}  // namespace

LbResult readLbConfig(const toml::table* lb) {
  LbSpec spec;
  std::vector<LbError> errors;
  if (lb != nullptr) {
    Reader r(*lb, "lb", errors);
    spec.seed = r.integer("seed");
    r.forEachTable("service", [&](Reader& sr) { spec.services.push_back(readService(sr)); });
    r.rejectUnknown({"seed", "service"});
  }
  // Reading errors first: a value of the wrong type would only cause follow-up errors below.
  if (!errors.empty()) return syncd::fail(std::move(errors));
  return buildLbConfig(spec);
}

LbResult loadLbFile(const std::string& path) {
  const auto fileError = [&path](std::string message, const std::string& where = "") {
    return syncd::fail(std::vector<LbError>{{"", "", path + where + ": " + std::move(message)}});
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
  const toml::node* lb = root.get("lb");
  if (lb != nullptr && !lb->is_table()) {
    return syncd::fail(std::vector<LbError>{{"lb", render(*lb), "expected a table"}});
  }
  return readLbConfig(lb == nullptr ? nullptr : lb->as_table());
}

}  // namespace gwsync::lb
