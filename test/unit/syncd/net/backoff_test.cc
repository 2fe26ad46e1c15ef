#include "syncd/net/backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace gwsync::syncd {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, GrowsFromMinToMaxWithinBounds) {
  Backoff b(milliseconds(100), milliseconds(5000), 1);
  milliseconds prev_base(100);
  for (int i = 0; i < 20; ++i) {
    const auto d = b.next();
    EXPECT_GE(d, milliseconds(100));
    EXPECT_LE(d, milliseconds(5000));
    // Within +-25% of the base, which doubles each time up to the maximum.
    EXPECT_GE(d.count(), prev_base.count() * 3 / 4) << i;
    EXPECT_LE(d.count(), prev_base.count() * 5 / 4) << i;
    prev_base = std::min(prev_base * 2, milliseconds(5000));
  }
}

TEST(BackoffTest, ReachesTheMaximum) {
  Backoff b(milliseconds(100), milliseconds(5000), 2);
  for (int i = 0; i < 10; ++i) (void)b.next();
  EXPECT_GE(b.next(), milliseconds(3750));
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff b(milliseconds(100), milliseconds(5000), 3);
  for (int i = 0; i < 10; ++i) (void)b.next();
  b.reset();
  EXPECT_LE(b.next(), milliseconds(125));
}

TEST(BackoffTest, JittersAndIsDeterministicPerSeed) {
  Backoff a(milliseconds(1000), milliseconds(1000000), 7);
  Backoff same(milliseconds(1000), milliseconds(1000000), 7);
  std::set<long> seen;
  for (int i = 0; i < 8; ++i) {
    a.reset();
    same.reset();
    const auto d = a.next();
    EXPECT_EQ(d, same.next());
    seen.insert(static_cast<long>(d.count()));
  }
  EXPECT_GT(seen.size(), 1u);
}

}  // namespace
}  // namespace gwsync::syncd
