#include "nat/port_range.h"

#include <algorithm>

namespace gwsync::nat {

using syncd::fail;

namespace {

constexpr std::string_view kForm = " (expected LO-HI or PORT, ports 1..65535)";

syncd::Result<uint16_t, std::string> parsePort(std::string_view text) {
  if (text.empty()) return fail("missing port" + std::string(kForm));
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  // Digits only and five at most, so neither "+80", " 80" nor "000080" pass as 80.
  if (!std::all_of(text.begin(), text.end(), digit) || text.size() > 5) {
    return fail("'" + std::string(text) + "' is not a port" + std::string(kForm));
  }
  unsigned value = 0;
  for (const char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value == 0 || value > 65535) {
    return fail("port " + std::string(text) + " is outside 1..65535");
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string PortRange::toString() const {
  if (lo == hi) return std::to_string(lo);
  return std::to_string(lo) + "-" + std::to_string(hi);
}

syncd::Result<PortRange, std::string> parsePortRange(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto port = parsePort(text);
    if (!port) return fail(port.error());
    return PortRange{*port, *port};
  }
  auto lo = parsePort(text.substr(0, dash));
  if (!lo) return fail(lo.error());
  auto hi = parsePort(text.substr(dash + 1));
  if (!hi) return fail(hi.error());
  if (*lo > *hi) {
    return fail("empty range: " + std::to_string(*lo) + " is above " + std::to_string(*hi));
  }
  return PortRange{*lo, *hi};
}

}  // namespace gwsync::nat
