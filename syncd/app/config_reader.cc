#include "syncd/app/config_reader.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace gwsync::syncd::config_detail {

namespace {

constexpr size_t kMaxRendered = 80;

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      // Control characters would corrupt the one-line error (or the terminal showing it).
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string renderFull(const toml::node& node) {
  if (const auto* s = node.as_string()) return quote(s->get());
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* a = node.as_array()) {
    std::string out = "[";
    for (size_t i = 0; i < a->size() && out.size() < kMaxRendered; ++i) {
      out += (i == 0 ? "" : ", ") + renderFull(*a->get(i));
    }
    return out + "]";
  }
  std::ostringstream os;
  node.visit([&os](const auto& n) { os << n; });
  return os.str();
}

// Optimal string alignment distance, small strings only: for "did you mean".
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

void Diagnostics::add(std::string key, std::string value, std::string message) {
  errors_.push_back(ConfigError{.origin = origin_,
                                .key = std::move(key),
                                .value = std::move(value),
                                .message = std::move(message)});
}

bool Diagnostics::failed(std::string_view key) const {
  return std::any_of(errors_.begin(), errors_.end(),
                     [key](const ConfigError& e) { return e.key == key; });
}

std::string render(const toml::node& node) {
  std::string out = renderFull(node);
  std::replace(out.begin(), out.end(), '\n', ' ');
  if (out.size() > kMaxRendered) out = out.substr(0, kMaxRendered - 3) + "...";
  return out;
}

std::string_view typeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string TableReader::path(std::string_view key) const {
  return name_.empty() ? std::string(key) : name_ + "." + std::string(key);
}

const toml::node* TableReader::get(std::string_view key, toml::node_type type, Need need) {
  known_.emplace(key);
  const toml::node* node = table_ == nullptr ? nullptr : table_->get(key);
  if (node == nullptr) {
    if (need == Need::kRequired) error(key, nullptr, "required key is missing");
    return nullptr;
  }
  if (node->type() != type) {
    error(
        key, node,
        "expected " + std::string(typeName(type)) + ", got " + std::string(typeName(node->type())));
    return nullptr;
  }
  return node;
}

std::optional<int64_t> TableReader::integer(std::string_view key, int64_t lo, int64_t hi,
                                            Need need) {
  const toml::node* node = get(key, toml::node_type::integer, need);
  if (node == nullptr) return std::nullopt;
  const int64_t v = node->as_integer()->get();
  if (v < lo || v > hi) {
    error(key, node, "out of range (" + std::to_string(lo) + ".." + std::to_string(hi) + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> TableReader::string(std::string_view key, Need need) {
  const toml::node* node = get(key, toml::node_type::string, need);
  if (node == nullptr) return std::nullopt;
  return node->as_string()->get();
}

void TableReader::rejectUnknown(std::string_view what) {
  if (table_ == nullptr) return;
  for (const auto& [k, node] : *table_) {
    if (known_.count(k.str()) != 0) continue;
    std::string best;
    size_t best_distance = 3;  // more than two edits away is not a typo of it
    std::string all;
    for (const auto& candidate : known_) {
      const size_t d = editDistance(k.str(), candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
      all += (all.empty() ? "" : ", ") + candidate;
    }
    const std::string hint = best.empty() ? "known: " + all : "did you mean " + path(best) + "?";
    // A whole table as the value would only repeat the file; its name is enough.
    error(k.str(), node.is_table() ? nullptr : &node,
          "unknown " + std::string(what) + " (" + hint + ")");
  }
}

}  // namespace gwsync::syncd::config_detail
