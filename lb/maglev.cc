#include "lb/maglev.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "lb/stable_hash.h"

namespace gwsync::lb {

namespace {

[[noreturn]] void invariant(const char* what) {
  std::fprintf(stderr, "maglevTable: %s\n", what);
  std::abort();
}

// One backend's walk through its permutation: offset, then offset + skip, ... (mod M).
struct Walk {
  uint64_t offset;
  uint64_t skip;
  uint64_t next = 0;  // how many of its preferences were tried

  uint32_t bucket(uint64_t size) const {
    return static_cast<uint32_t>((offset + next * skip) % size);
  }
};

}  // namespace

bool isPrime(uint64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

uint64_t nextPrime(uint64_t n) {
  while (!isPrime(n)) ++n;
  return n;
}

std::vector<uint32_t> maglevTable(std::span<const MaglevBackend> backends, uint32_t size) {
  if (!isPrime(size)) invariant("table size is not prime");
  uint32_t max_weight = 0;
  for (const MaglevBackend& b : backends) max_weight = std::max(max_weight, b.weight);
  if (max_weight == 0) invariant("no backend with a positive weight");
  std::vector<Walk> walks;
  walks.reserve(backends.size());
  for (const MaglevBackend& b : backends) {
    walks.push_back({.offset = stableHash(b.name, kOffsetSeed) % size,
                     .skip = stableHash(b.name, kSkipSeed) % (size - 1) + 1});
  }
  constexpr uint32_t kFree = UINT32_MAX;
  std::vector<uint32_t> table(size, kFree);
  // Weighted turns: every round each backend's credit grows by its weight, and it claims one
  // bucket whenever the credit reaches the largest weight. Equal weights: plain round robin.
  std::vector<uint64_t> credit(backends.size(), 0);
  uint32_t filled = 0;
  while (true) {
    for (size_t i = 0; i < backends.size(); ++i) {
      credit[i] += backends[i].weight;
      if (credit[i] < max_weight) continue;
      credit[i] -= max_weight;
      Walk& w = walks[i];
      uint32_t c = w.bucket(size);
      while (table[c] != kFree) {
        ++w.next;
        c = w.bucket(size);
      }
      table[c] = static_cast<uint32_t>(i);
      ++w.next;
      if (++filled == size) return table;
    }
  }
}

}  // namespace gwsync::lb
