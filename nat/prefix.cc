#include "nat/prefix.h"

#include <algorithm>

namespace gwsync::nat {

using syncd::fail;
using syncd::Family;
using syncd::IpAddress;

namespace {

IpAddress masked(IpAddress ip, uint8_t len) {
  for (size_t i = 0; i < ip.bytes.size(); ++i) {
    const size_t first_bit = i * 8;
    if (first_bit >= len) {
      ip.bytes[i] = 0;
    } else if (len - first_bit < 8) {
      ip.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (len - first_bit)));
    }
  }
  return ip;
}

}  // namespace

bool Prefix::contains(const IpAddress& ip) const {
  return ip.family == addr.family && masked(ip, len).bytes == addr.bytes;
}

std::string Prefix::toString() const { return addr.toString() + "/" + std::to_string(len); }

syncd::Result<Prefix, std::string> parsePrefix(std::string_view text) {
  const size_t slash = text.find('/');
  const auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return fail(std::string("not an address or ADDR/LEN prefix"));
  const unsigned max = ip->family == Family::kIpv4 ? 32 : 128;
  if (slash == std::string_view::npos) return Prefix{*ip, static_cast<uint8_t>(max)};
  const std::string_view len_text = text.substr(slash + 1);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (len_text.empty() || len_text.size() > 3 ||
      !std::all_of(len_text.begin(), len_text.end(), digit)) {
    return fail("prefix length '" + std::string(len_text) + "' is not a number");
  }
  unsigned len = 0;
  for (const char c : len_text) len = len * 10 + static_cast<unsigned>(c - '0');
  if (len > max) {
    return fail("prefix length " + std::to_string(len) + " is beyond " + std::to_string(max));
  }
  return Prefix{masked(*ip, static_cast<uint8_t>(len)), static_cast<uint8_t>(len)};
}

}  // namespace gwsync::nat
