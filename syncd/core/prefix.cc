#include "syncd/core/prefix.h"

#include <charconv>

namespace gwsync::syncd {

namespace {

// Clears every bit past the first `len`.
void maskHostBits(IpAddress& ip, uint8_t len) {
  for (size_t i = 0; i < ip.bytes.size(); ++i) {
    const size_t first_bit = i * 8;
    if (first_bit >= len) {
      ip.bytes[i] = 0;
    } else if (len - first_bit < 8) {
      ip.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (len - first_bit)));
    }
  }
}

}  // namespace

bool Prefix::contains(const IpAddress& ip) const {
  if (ip.family != addr.family) return false;
  IpAddress masked = ip;
  maskHostBits(masked, len);
  return masked.bytes == addr.bytes;
}

std::string Prefix::toString() const { return addr.toString() + "/" + std::to_string(len); }

Result<Prefix, std::string> parsePrefix(std::string_view text) {
  const size_t slash = text.find('/');
  const auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return fail(std::string("not an address/length prefix (expected e.g. 192.0.2.0/24)"));
  const unsigned max_len = addr->family == Family::kIpv4 ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, len);
    if (digits.empty() || digits.size() > 3 || ec != std::errc() || ptr != end) {
      return fail(std::string("not an address/length prefix (expected e.g. 192.0.2.0/24)"));
    }
    if (len > max_len) {
      return fail("prefix length " + std::to_string(len) + " is longer than " +
                  std::to_string(max_len) + " for an " +
                  (addr->family == Family::kIpv4 ? "IPv4" : "IPv6") + " address");
    }
  }
  Prefix p{*addr, static_cast<uint8_t>(len)};
  maskHostBits(p.addr, p.len);
  return p;
}

}  // namespace gwsync::syncd
