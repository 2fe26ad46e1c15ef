// Hashes that give the same value on every machine, compiler and build: the two gateways must
// build byte-identical Maglev tables without talking, so nothing here may depend on std::hash,
// pointer values, endianness or the standard library's implementation. FNV-1a 64 over the bytes
// (its published test vectors pin it), finished with the splitmix64 mixer so that neighbouring
// inputs ("192.0.2.20:8080", "192.0.2.21:8080") land far apart; the seed changes the whole chain.
#pragma once

#include <cstdint>
#include <string_view>

namespace gwsync::lb {

inline constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnvPrime = 0x100000001b3ull;

// Plain FNV-1a 64 from a given start state (kFnvOffsetBasis for the standard function).
constexpr uint64_t fnv1a64(std::string_view bytes, uint64_t state = kFnvOffsetBasis) {
  for (const char c : bytes) {
    state ^= static_cast<uint8_t>(c);
    state *= kFnvPrime;
  }
  return state;
}

// splitmix64's finaliser: a bijection on 64 bits with full avalanche.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// The hash of `bytes` under `seed`: different seeds give independent-looking functions, which
// is what Maglev's two hashes (offset and skip) need.
constexpr uint64_t stableHash(std::string_view bytes, uint64_t seed) {
  return mix64(fnv1a64(bytes, kFnvOffsetBasis ^ mix64(seed)));
}

}  // namespace gwsync::lb
