// Internal to config.cc: reading one TOML table with every problem recorded instead of thrown, so
// that a config with five mistakes is fixed in one round, not five. Keeps toml++ out of config.h.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "syncd/app/config.h"

namespace gwsync::syncd::config_detail {

// The errors of one parse, in the order found.
class Diagnostics {
 public:
  explicit Diagnostics(std::string origin) : origin_(std::move(origin)) {}

  void add(std::string key, std::string value, std::string message);
  // For cross-key checks: a key that already failed is not judged again against its neighbours.
  bool failed(std::string_view key) const;
  bool empty() const { return errors_.empty(); }
  const std::string& origin() const { return origin_; }
  std::vector<ConfigError> take() { return std::move(errors_); }

 private:
  std::string origin_;
  std::vector<ConfigError> errors_;
};

// The value as it would appear in the file, shortened to one line: errors quote it.
std::string render(const toml::node& node);
// "an integer", "a string", ...: for "expected X, got Y".
std::string_view typeName(toml::node_type type);

enum class Need : uint8_t { kOptional, kRequired };

// Reads one table of the file. Every accessor marks its key as known; rejectUnknown() then reports
// the rest, with a "did you mean" when a known key is one or two edits away.
class TableReader {
 public:
  // table may be null (the table is absent): every key then reads as absent.
  TableReader(const toml::table* table, std::string name, Diagnostics& diag)
      : table_(table), name_(std::move(name)), diag_(diag) {}

  // The node of a key if it has the expected type, else null after recording a type error (or a
  // missing required key).
  const toml::node* get(std::string_view key, toml::node_type type, Need need = Need::kOptional);
  std::optional<int64_t> integer(std::string_view key, int64_t lo, int64_t hi,
                                 Need need = Need::kOptional);
  std::optional<std::string> string(std::string_view key, Need need = Need::kOptional);
  const toml::array* array(std::string_view key) {
    const toml::node* n = get(key, toml::node_type::array);
    return n == nullptr ? nullptr : n->as_array();
  }
  const toml::table* table(std::string_view key) {
    const toml::node* n = get(key, toml::node_type::table);
    return n == nullptr ? nullptr : n->as_table();
  }

  // "sync.peer" for key "peer" of table "sync"; just the key at the top level.
  std::string path(std::string_view key) const;
  void error(std::string_view key, const toml::node* node, std::string message) {
    diag_.add(path(key), node == nullptr ? "" : render(*node), std::move(message));
  }
  Diagnostics& diag() { return diag_; }

  // what: "key" or "table", for the message.
  void rejectUnknown(std::string_view what = "key");

 private:
  const toml::table* table_;
  std::string name_;
  Diagnostics& diag_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace gwsync::syncd::config_detail
