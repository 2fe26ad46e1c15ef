// The node's epoch: a number that grows at every start of the daemon and identifies its sync
// stream, so that the peer can tell a restarted daemon's new state from the old one. Kept in a
// file in the state directory, replaced atomically (write, fsync, rename) so that a crash never
// leaves a smaller or torn value behind.
#pragma once

#include <cstdint>
#include <string>

#include "syncd/core/result.h"

namespace gwsync::syncd {

// Session versions carry the epoch in their upper 32 bits (SyncEngine).
inline constexpr uint64_t kMaxEpoch = 0xffffffffu;

// Reads STATE_DIR/epoch (0 when absent), stores the next value and returns it: one more than
// the stored one, and at least the wall clock's Unix seconds, so that a state directory restored
// from an older copy cannot roll the epoch back (unless the clock went back too). Errors name
// the file and the reason; a file that does not hold a number is an error, not a reset to 1.
Result<uint64_t, std::string> bumpEpoch(const std::string& state_dir);

}  // namespace gwsync::syncd
