// TomlTableReader: reads one table of a TOML file with typed accessors that record each mistake
// (key, value as written, message) instead of stopping at the first, so a file with five mistakes
// is fixed in one round. Shared by the [nat] and [lb] readers; each turns the TomlErrors into
// its own error type (asErrors). Values in, errors out: no I/O, one thread (the caller's).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gwsync::syncd {

struct TomlError {
  std::string key;    // "nat.pool[1].ports"; empty for file errors
  std::string value;  // as TOML ("\"70000\""); empty when the key is missing
  std::string message;
};

// "an integer", "a string", ...: for "expected X, got Y".
std::string tomlTypeName(const toml::node& n);

// The value as it stands in the file, on one line and at most 80 characters: errors quote it.
std::string renderToml(const toml::node& n);

// NatError, LbError: aggregates of key, value and message.
template <class Error>
std::vector<Error> asErrors(std::vector<TomlError> errors) {
  std::vector<Error> out;
  out.reserve(errors.size());
  for (TomlError& e : errors) {
    out.push_back(Error{std::move(e.key), std::move(e.value), std::move(e.message)});
  }
  return out;
}

class TomlTableReader {
 public:
  // path: the table's key ("nat", "lb.service[0]"), the prefix of every key in an error.
  TomlTableReader(const toml::table& table, std::string path, std::vector<TomlError>& errors)
      : table_(table), path_(std::move(path)), errors_(errors) {}

  std::string key(std::string_view k) const { return path_ + "." + std::string(k); }
  const toml::table& table() const { return table_; }

  // node: the value to quote, or null (a missing key).
  void error(const std::string& k, const toml::node* n, std::string message);
  // "expected WANT, got an integer".
  void typeError(const std::string& k, const toml::node& n, std::string_view want);

  // Absent (and recorded as "required" when it must be there) or of the wrong type: nullopt.
  std::optional<std::string> string(std::string_view k, bool required = false);
  std::optional<int64_t> integer(std::string_view k, bool required = false);
  // Every item must be a string; each one that is not is an error of its own (key[i]).
  std::optional<std::vector<std::string>> strings(std::string_view k, bool required = false);

  // fn(TomlTableReader&) for each entry of an array of tables ([[nat.pool]]), its path
  // "nat.pool[I]"; an entry that is not a table is an error.
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
      TomlTableReader sub(*list.get(i)->as_table(), path, errors_);
      fn(sub);
    }
  }

  // "unknown key" for every key of the table not in known.
  void rejectUnknown(std::initializer_list<std::string_view> known);

 private:
  // The node of k, or null after recording "required" when it must be there.
  const toml::node* find(std::string_view k, bool required);

  const toml::table& table_;
  std::string path_;
  std::vector<TomlError>& errors_;
};

}  // namespace gwsync::syncd
