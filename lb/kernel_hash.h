// The bucket the kernel picks for a flow: a copy of what nftables' `jhash ip saddr . th sport
// mod M seed S` computes (net/netfilter/nft_hash.c: reciprocal_scale(jhash(data, len, seed),
// M)), so gwsync-lb can tell which backend a client IP:port lands on, and the namespace test can
// check every connection against the table. The hashed data is the register image nftables
// builds for the concatenation: the source address (4 or 16 bytes), then the source port in
// network order padded with zeros to 4 bytes (8 or 20 bytes in all). Jenkins' lookup3 reads
// whole 12-byte blocks in the CPU's byte order: this copy assumes a little-endian gateway
// (x86-64, arm64), which the namespace test checks against the real kernel.
#pragma once

#include <cstdint>
#include <span>

#include "syncd/core/session.h"

namespace gwsync::lb {

// The kernel's jhash() (include/linux/jhash.h) on a little-endian CPU.
uint32_t jhash(std::span<const uint8_t> data, uint32_t initval);

// reciprocal_scale(hash, size): the kernel's "mod" for nft hash expressions.
inline uint32_t reciprocalScale(uint32_t hash, uint32_t size) {
  return static_cast<uint32_t>((static_cast<uint64_t>(hash) * size) >> 32);
}

// The bucket of a new connection from `client`:`client_port` in a table of `size` buckets.
uint32_t kernelBucket(const syncd::IpAddress& client, uint16_t client_port, uint32_t seed,
                      uint32_t size);

}  // namespace gwsync::lb
