#include "syncd/toml/toml_table_reader.h"

#include <sstream>

#include "syncd/core/toml_quote.h"

namespace gwsync::syncd {

namespace {

constexpr size_t kMaxRendered = 80;

}  // namespace

std::string tomlTypeName(const toml::node& n) {
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

std::string renderToml(const toml::node& n) {
  if (const auto* s = n.as_string()) return quoted(s->get());
  std::ostringstream out;
  n.visit([&out](const auto& v) { out << v; });
  std::string text = out.str();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text.size() > kMaxRendered ? text.substr(0, kMaxRendered - 3) + "..." : text;
}

void TomlTableReader::error(const std::string& k, const toml::node* n, std::string message) {
  errors_.push_back({k, n == nullptr ? "" : renderToml(*n), std::move(message)});
}

void TomlTableReader::typeError(const std::string& k, const toml::node& n, std::string_view want) {
  error(k, &n, "expected " + std::string(want) + ", got " + tomlTypeName(n));
}

const toml::node* TomlTableReader::find(std::string_view k, bool required) {
  const toml::node* n = table_.get(k);
  if (n == nullptr && required) error(key(k), nullptr, "required");
  return n;
}

std::optional<std::string> TomlTableReader::string(std::string_view k, bool required) {
  const toml::node* n = find(k, required);
  if (n == nullptr) return std::nullopt;
  if (!n->is_string()) return typeError(key(k), *n, "a string"), std::nullopt;
  return n->as_string()->get();
}

std::optional<int64_t> TomlTableReader::integer(std::string_view k, bool required) {
  const toml::node* n = find(k, required);
  if (n == nullptr) return std::nullopt;
  if (!n->is_integer()) return typeError(key(k), *n, "an integer"), std::nullopt;
  return n->as_integer()->get();
}

std::optional<std::vector<std::string>> TomlTableReader::strings(std::string_view k,
                                                                 bool required) {
  const toml::node* n = find(k, required);
  if (n == nullptr) return std::nullopt;
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

void TomlTableReader::rejectUnknown(std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : table_) {
    bool ok = false;
    for (const std::string_view name : known) ok = ok || k.str() == name;
    if (!ok) error(key(k.str()), &v, "unknown key");
  }
}

}  // namespace gwsync::syncd
