// The Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI 2016, section 3.4): each backend walks its own permutation of the M buckets,
//   offset = h1(name) mod M,  skip = h2(name) mod (M - 1) + 1,  permutation[j] = (offset + j *
//   skip) mod M,
// and the backends take turns claiming their next free bucket until all M are taken. M is prime,
// so every permutation visits every bucket. Weights vary how often a backend takes a turn
// (the paper's suggestion; the cumulative-weight round of Katran's MaglevHashV2): a backend of
// the largest weight takes every round, one of weight w takes w/max of them, weight 0 none
// (draining). Pure and deterministic: the result depends only on the names, weights and M.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace gwsync::lb {

struct MaglevBackend {
  std::string name;  // what h1 and h2 hash; unique in the list
  uint32_t weight = 1;
};

// Seeds of h1 (offset) and h2 (skip); part of the wire-visible behaviour (both nodes and every
// version must agree), so never change them.
inline constexpr uint64_t kOffsetSeed = 0x6f66667365745f31ull;  // "offset_1"
inline constexpr uint64_t kSkipSeed = 0x736b69705f5f5f32ull;    // "skip___2"

bool isPrime(uint64_t n);
// The smallest prime >= n (n <= 2^32).
uint64_t nextPrime(uint64_t n);

// The table: entry i is the index (into `backends`) of bucket i's backend. `size` must be a
// prime >= 2 and at least one backend must have a positive weight; both are the caller's
// invariants (the config builder checks them), violations abort.
std::vector<uint32_t> maglevTable(std::span<const MaglevBackend> backends, uint32_t size);

}  // namespace gwsync::lb
