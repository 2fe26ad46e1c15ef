#include "syncd/app/endpoint.h"

#include <charconv>

namespace gwsync::syncd {

namespace {

constexpr std::string_view kExpected = "(expected IP:PORT or [IPv6]:PORT)";

std::string notAnEndpoint() { return "not an address:port " + std::string(kExpected); }

Result<uint16_t, std::string> parsePort(std::string_view text) {
  // from_chars accepts no sign and no spaces, which is the strictness wanted; five digits at most
  // keeps "000000080" from passing as 80.
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || text.size() > 5 || ec != std::errc() || ptr != end) {
    return fail(notAnEndpoint());
  }
  if (value == 0 || value > 65535) {
    return fail("port " + std::string(text) + " is out of range (1..65535)");
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string ConfigEndpoint::toString() const {
  const std::string host =
      addr.family == Family::kIpv6 ? "[" + addr.toString() + "]" : addr.toString();
  return host + ":" + std::to_string(port);
}

Result<ConfigEndpoint, std::string> parseConfigEndpoint(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return fail(notAnEndpoint());
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(notAnEndpoint());
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    // Without brackets "2001:db8::1:80" is ambiguous: is 80 the port or the last group?
    if (host.find(':') != std::string_view::npos) {
      return fail("an IPv6 address needs brackets " + std::string(kExpected));
    }
  }
  const auto addr = IpAddress::parse(host);
  if (!addr) return fail(notAnEndpoint());
  const bool bracketed = text.front() == '[';
  if (bracketed != (addr->family == Family::kIpv6)) {
    return fail("brackets are for IPv6 addresses only " + std::string(kExpected));
  }
  auto p = parsePort(port);
  if (!p) return fail(p.error());
  return ConfigEndpoint{*addr, *p};
}

}  // namespace gwsync::syncd
