#include "lb/kernel_hash.h"

#include <array>

namespace gwsync::lb {

namespace {

constexpr uint32_t kJhashInitval = 0xdeadbeef;

constexpr uint32_t rol32(uint32_t v, unsigned s) { return (v << s) | (v >> (32 - s)); }

void jhashMix(uint32_t& a, uint32_t& b, uint32_t& c) {
  a -= c, a ^= rol32(c, 4), c += b;
  b -= a, b ^= rol32(a, 6), a += c;
  c -= b, c ^= rol32(b, 8), b += a;
  a -= c, a ^= rol32(c, 16), c += b;
  b -= a, b ^= rol32(a, 19), a += c;
  c -= b, c ^= rol32(b, 4), b += a;
}

void jhashFinal(uint32_t& a, uint32_t& b, uint32_t& c) {
  c ^= b, c -= rol32(b, 14);
  a ^= c, a -= rol32(c, 11);
  b ^= a, b -= rol32(a, 25);
  c ^= b, c -= rol32(b, 16);
  a ^= c, a -= rol32(c, 4);
  b ^= a, b -= rol32(a, 14);
  c ^= b, c -= rol32(b, 24);
}

// __get_unaligned_cpu32 on a little-endian CPU.
uint32_t load32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

uint32_t jhash(std::span<const uint8_t> data, uint32_t initval) {
  auto length = static_cast<uint32_t>(data.size());
  uint32_t a = kJhashInitval + length + initval;
  uint32_t b = a;
  uint32_t c = a;
  const uint8_t* k = data.data();
  while (length > 12) {
    a += load32(k);
    b += load32(k + 4);
    c += load32(k + 8);
    jhashMix(a, b, c);
    length -= 12;
    k += 12;
  }
  if (length == 0) return c;
  // The kernel's fall-through switch on the last 1..12 bytes, as a loop: byte i goes into a, b
  // or c (i / 4) at bit position 8 * (i % 4), whatever the CPU's byte order.
  uint32_t* words[3] = {&a, &b, &c};
  for (uint32_t i = 0; i < length; ++i) *words[i / 4] += uint32_t{k[i]} << (8 * (i % 4));
  jhashFinal(a, b, c);
  return c;
}

uint32_t kernelBucket(const syncd::IpAddress& client, uint16_t client_port, uint32_t seed,
                      uint32_t size) {
  std::array<uint8_t, 20> data{};
  const size_t n = client.size();
  for (size_t i = 0; i < n; ++i) data[i] = client.bytes[i];
  data[n] = static_cast<uint8_t>(client_port >> 8);  // network order, then two zero bytes
  data[n + 1] = static_cast<uint8_t>(client_port);
  return reciprocalScale(jhash(std::span<const uint8_t>(data.data(), n + 4), seed), size);
}

}  // namespace gwsync::lb
