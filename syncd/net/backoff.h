// Reconnect delays: exponential from a minimum to a maximum, with jitter so that many gateway
// pairs restarting together (a site power cycle) do not dial in lockstep. Pure: the random source
// is seeded by the caller, so tests are deterministic.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace gwsync::syncd {

class Backoff {
 public:
  // Each delay is the current base times a factor in [0.75, 1.25], kept within [min, max]; the
  // base starts at min and doubles with every next() up to max.
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed);

  std::chrono::milliseconds next();
  // After a connection came up: the next failure starts again from min.
  void reset() { base_ = min_; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds base_;
  std::mt19937_64 rng_;
};

}  // namespace gwsync::syncd
