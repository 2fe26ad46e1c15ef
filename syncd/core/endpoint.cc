#include "syncd/core/endpoint.h"

#include <algorithm>

namespace gwsync::syncd {

namespace {

constexpr std::string_view kExpected = " (expected IP:PORT or [IPv6]:PORT)";

std::string wrong(std::string_view what) { return std::string(what) + std::string(kExpected); }

Result<uint16_t, std::string> parsePort(std::string_view text) {
  if (text.empty()) return fail(wrong("no port"));
  // Digits only: no sign, no spaces. Five at most, so "000080" does not pass as 80.
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!std::all_of(text.begin(), text.end(), digit)) {
    return fail("port '" + std::string(text) + "' is not a decimal number (1..65535)");
  }
  if (text.size() > 5) {
    return fail("port '" + std::string(text) + "' has more than 5 digits (1..65535)");
  }
  unsigned value = 0;
  for (const char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value == 0 || value > 65535) {
    return fail("port " + std::string(text) + " is out of range (1..65535)");
  }
  return static_cast<uint16_t>(value);
}

struct Parts {
  std::string_view host;
  std::string_view port;
};

// Splits "[v6]:port" or "v4:port" into host and port text, checking only the punctuation.
Result<Parts, std::string> split(std::string_view text) {
  if (text.empty()) return fail(wrong("empty"));
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return fail(wrong("no closing ']'"));
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(wrong("no :PORT after ']'"));
    }
    return Parts{text.substr(1, close - 1), text.substr(close + 2)};
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    // "192.0.2.1" is an address that lacks its port; "1.2.3" is not an address at all.
    return fail(wrong(IpAddress::parse(text) ? "no port" : "not an address:port"));
  }
  // Without brackets "2001:db8::1:80" is ambiguous: is 80 the port or the last group?
  if (text.find(':') != colon) return fail(wrong("an IPv6 address needs brackets"));
  return Parts{text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

std::string Endpoint::toString() const {
  const std::string host =
      addr.family == Family::kIpv6 ? "[" + addr.toString() + "]" : addr.toString();
  return host + ":" + std::to_string(port);
}

Result<Endpoint, std::string> parseEndpoint(std::string_view text) {
  auto parts = split(text);
  if (!parts) return fail(parts.error());
  // Host names fail here too: the daemon must not depend on DNS at start-up.
  const auto addr = IpAddress::parse(parts->host);
  if (!addr) return fail(wrong("not an address:port"));
  const bool bracketed = text.front() == '[';
  if (bracketed != (addr->family == Family::kIpv6)) {
    return fail(wrong("brackets are for IPv6 addresses only"));
  }
  auto port = parsePort(parts->port);
  if (!port) return fail(port.error());
  return Endpoint{.addr = *addr, .port = *port};
}

}  // namespace gwsync::syncd
