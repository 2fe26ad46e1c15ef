#include "syncd/net/endpoint.h"

#include <charconv>
#include <system_error>

#include "syncd/core/session.h"

namespace gwsync::syncd {

namespace {

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

Result<uint16_t, std::string> parsePort(std::string_view port, std::string_view text) {
  if (port.empty()) return fail("endpoint " + quoted(text) + " has an empty port");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
    return fail("endpoint " + quoted(text) + ": port " + quoted(port) +
                " is not a number from 1 to 65535");
  }
  return static_cast<uint16_t>(value);
}

// Splits "[v6]:port" or "v4:port" into host and port text.
Result<std::pair<std::string_view, std::string_view>, std::string> split(std::string_view text) {
  const std::string expected = " (expected IP:PORT or [IPv6]:PORT)";
  if (text.empty()) return fail("empty endpoint" + expected);
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return fail("endpoint " + quoted(text) + " has no closing ']'" + expected);
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("endpoint " + quoted(text) + " has no ':PORT' after ']'" + expected);
    }
    return std::pair{text.substr(1, close - 1), text.substr(close + 2)};
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fail("endpoint " + quoted(text) + " has no port" + expected);
  }
  if (text.find(':') != colon) {
    return fail("endpoint " + quoted(text) + ": an IPv6 address needs brackets" + expected);
  }
  return std::pair{text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

std::string Endpoint::toString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Endpoint, std::string> parseEndpoint(std::string_view text) {
  auto parts = split(text);
  if (!parts) return fail(parts.error());
  const auto [host, port_text] = *parts;
  const bool bracketed = !text.empty() && text.front() == '[';
  const auto addr = IpAddress::parse(host);
  if (!addr) {
    return fail("endpoint " + quoted(text) + ": " + quoted(host) +
                " is not an IP address (host names are not accepted)");
  }
  if (bracketed != (addr->family == Family::kIpv6)) {
    return fail("endpoint " + quoted(text) + ": brackets are for IPv6 addresses only");
  }
  auto port = parsePort(port_text, text);
  if (!port) return fail(port.error());
  return Endpoint{.host = std::string(host), .port = *port};
}

}  // namespace gwsync::syncd
