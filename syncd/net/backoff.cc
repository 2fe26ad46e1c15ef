#include "syncd/net/backoff.h"

#include <algorithm>

namespace gwsync::syncd {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed)
    : min_(min), max_(std::max(min, max)), base_(min), rng_(seed) {}

std::chrono::milliseconds Backoff::next() {
  std::uniform_real_distribution<double> factor(0.75, 1.25);
  const auto jittered = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(base_.count()) * factor(rng_)));
  base_ = std::min(base_ * 2, max_);
  return std::clamp(jittered, min_, max_);
}

}  // namespace gwsync::syncd
