#include "syncd/app/peer_rate_limit.h"

#include <gtest/gtest.h>

#include <vector>

namespace gwsync::syncd {
namespace {

using Verdict = PeerRateLimit::Verdict;

uint64_t next_seq = 1;

// A frame of `upserts` upserts and `removes` removes, numbered on from the last one.
ItemsMsg frame(size_t upserts, size_t removes = 0) {
  ItemsMsg m{.epoch = 1, .first_seq = next_seq};
  for (size_t i = 0; i < upserts; ++i) m.items.push_back({.kind = Item::Kind::kUpsert});
  for (size_t i = 0; i < removes; ++i) m.items.push_back({.kind = Item::Kind::kRemove});
  next_seq += m.items.size();
  return m;
}

std::vector<uint64_t> firstSeqs(const std::vector<ItemsMsg>& frames) {
  std::vector<uint64_t> out;
  for (const auto& f : frames) out.push_back(f.first_seq);
  return out;
}

TEST(PeerRateLimitTest, BurstPassesAtOnceThenFramesWait) {
  PeerRateLimit rl({.per_second = 1000, .burst = 100, .max_queued_items = 1000}, Millis{0});
  std::vector<ItemsMsg> ready;
  EXPECT_EQ(rl.offer(frame(60), Millis{0}, ready), Verdict::kNow);
  EXPECT_EQ(rl.offer(frame(60), Millis{0}, ready), Verdict::kNow);  // 40 left: goes into debt
  EXPECT_EQ(ready.size(), 2u);
  EXPECT_EQ(rl.offer(frame(10), Millis{0}, ready), Verdict::kQueued);  // -20 tokens
  EXPECT_EQ(rl.stats().frames_delayed, 1u);
  EXPECT_EQ(rl.stats().upserts_delayed, 10u);
  EXPECT_EQ(rl.stats().queued_items, 10u);
  ready.clear();
  rl.release(Millis{20}, ready);  // +20 tokens: back to 0, still nothing to spend
  EXPECT_TRUE(ready.empty());
  rl.release(Millis{21}, ready);  // +1
  EXPECT_EQ(ready.size(), 1u);
  EXPECT_TRUE(rl.empty());
  EXPECT_EQ(rl.stats().queued_items, 0u);
}

TEST(PeerRateLimitTest, LongRunRateIsBoundedByTheConfiguredRate) {
  PeerRateLimit rl({.per_second = 5000, .burst = 1000, .max_queued_items = 1000000}, Millis{0});
  std::vector<ItemsMsg> ready;
  uint64_t applied = 0;
  // The peer offers 100 upserts every millisecond (100k/s) for two seconds.
  for (int ms = 0; ms < 2000; ++ms) {
    if (rl.offer(frame(100), Millis{ms}, ready) == Verdict::kOverflow) {
      // a queue of 1M items holds everything offered here
      ADD_FAILURE() << "overflow at " << ms;
    }
    for (const auto& f : ready) applied += f.items.size();
    ready.clear();
  }
  // burst + 2 s at 5000/s, plus at most one frame of debt.
  EXPECT_LE(applied, 1000u + 10000u + 100u);
  EXPECT_GE(applied, 1000u + 10000u - 100u);
  EXPECT_EQ(rl.stats().frames_overflowed, 0u);
  EXPECT_EQ(rl.stats().queued_items, 200000u - applied);  // delayed, not lost
}

TEST(PeerRateLimitTest, OrderIsKeptAcrossQueuedAndNewFrames) {
  PeerRateLimit rl({.per_second = 1000, .burst = 10, .max_queued_items = 1000}, Millis{0});
  std::vector<ItemsMsg> ready;
  const ItemsMsg a = frame(10), b = frame(10), c = frame(0, 5), d = frame(10);
  rl.offer(ItemsMsg(a), Millis{0}, ready);
  EXPECT_EQ(rl.offer(ItemsMsg(b), Millis{0}, ready), Verdict::kQueued);
  // Removes cost nothing but must not overtake the upserts queued before them.
  EXPECT_EQ(rl.offer(ItemsMsg(c), Millis{0}, ready), Verdict::kQueued);
  EXPECT_EQ(rl.offer(ItemsMsg(d), Millis{0}, ready), Verdict::kQueued);
  rl.release(Millis{1}, ready);  // b passes (debt), then c (free); d waits for the debt
  EXPECT_EQ(firstSeqs(ready), (std::vector<uint64_t>{a.first_seq, b.first_seq, c.first_seq}));
  rl.release(Millis{11}, ready);
  EXPECT_EQ(firstSeqs(ready),
            (std::vector<uint64_t>{a.first_seq, b.first_seq, c.first_seq, d.first_seq}));
}

TEST(PeerRateLimitTest, FullQueueDropsTheFrameAndCountsIt) {
  PeerRateLimit rl({.per_second = 1, .burst = 1, .max_queued_items = 600}, Millis{0});
  std::vector<ItemsMsg> ready;
  EXPECT_EQ(rl.offer(frame(1), Millis{0}, ready), Verdict::kNow);
  EXPECT_EQ(rl.offer(frame(500), Millis{0}, ready), Verdict::kQueued);
  EXPECT_EQ(rl.offer(frame(100), Millis{0}, ready), Verdict::kQueued);  // 600: at the bound
  EXPECT_EQ(rl.offer(frame(1), Millis{0}, ready), Verdict::kOverflow);
  EXPECT_EQ(rl.stats().frames_overflowed, 1u);
  EXPECT_EQ(rl.stats().queued_items, 600u);
}

TEST(PeerRateLimitTest, FrameLargerThanTheQueueStillPassesAlone) {
  PeerRateLimit rl({.per_second = 1000, .burst = 1, .max_queued_items = 512}, Millis{0});
  std::vector<ItemsMsg> ready;
  EXPECT_EQ(rl.offer(frame(1), Millis{0}, ready), Verdict::kNow);
  EXPECT_EQ(rl.offer(frame(2000), Millis{0}, ready), Verdict::kQueued);  // empty queue takes it
  ready.clear();
  rl.release(Millis{1}, ready);
  EXPECT_EQ(ready.size(), 1u);
}

TEST(PeerRateLimitTest, ClearDropsQueuedFramesWithTheirConnection) {
  PeerRateLimit rl({.per_second = 1, .burst = 1, .max_queued_items = 1000}, Millis{0});
  std::vector<ItemsMsg> ready;
  rl.offer(frame(1), Millis{0}, ready);
  rl.offer(frame(5), Millis{0}, ready);
  rl.offer(frame(5), Millis{0}, ready);
  rl.clear();
  EXPECT_TRUE(rl.empty());
  EXPECT_EQ(rl.stats().frames_cleared, 2u);
  EXPECT_EQ(rl.stats().queued_items, 0u);
}

TEST(PeerRateLimitTest, LongIdleRefillsToTheBurstWithoutOverflow) {
  PeerRateLimit rl({.per_second = 100000000, .burst = 100000000, .max_queued_items = 512},
                   Millis{0});
  std::vector<ItemsMsg> ready;
  rl.offer(frame(100), Millis{0}, ready);
  rl.release(Millis{int64_t{1} << 50}, ready);  // centuries later: no arithmetic overflow
  EXPECT_EQ(rl.offer(frame(100), Millis{(int64_t{1} << 50) + 1}, ready), Verdict::kNow);
}

}  // namespace
}  // namespace gwsync::syncd
