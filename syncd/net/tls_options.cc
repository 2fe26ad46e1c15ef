#include "syncd/net/tls_options.h"

namespace gwsync::syncd {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Fingerprint, std::string> parseFingerprint(std::string_view text) {
  std::string digits;
  for (const char c : text) {
    if (c == ':') continue;
    if (hexValue(c) < 0)
      return fail(std::string("not a hex digit or ':' in a SHA-256 fingerprint"));
    digits += c;
  }
  Fingerprint f{};
  if (digits.size() != 2 * f.size()) {
    return fail("a SHA-256 fingerprint has 64 hex digits, this has " +
                std::to_string(digits.size()));
  }
  for (size_t i = 0; i < f.size(); ++i) {
    f[i] = static_cast<uint8_t>(hexValue(digits[2 * i]) << 4 | hexValue(digits[2 * i + 1]));
  }
  return f;
}

std::string formatFingerprint(const Fingerprint& f) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(f.size() * 3);
  for (const uint8_t b : f) {
    if (!out.empty()) out += ':';
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

}  // namespace gwsync::syncd
