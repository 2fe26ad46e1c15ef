#include "syncd/app/replication_lag.h"

#include <gtest/gtest.h>

namespace gwsync::syncd {
namespace {

using Micros = ReplicationLag::Micros;
using View = ReplicationLag::SenderView;

Micros ms(int64_t n) { return Micros(n * 1000); }

std::vector<Micros> update(ReplicationLag& lag, const View& v, Micros now) {
  std::vector<Micros> out;
  lag.update(v, now, out);
  return out;
}

TEST(ReplicationLagTest, BatchIsObservedWhenTheAckCoversItsLastItem) {
  ReplicationLag lag;
  lag.onLocalChanges(ms(100));
  // Three items (1..3) went out for it; nothing acknowledged yet.
  EXPECT_TRUE(update(lag, {.next_seq = 4, .window = 3}, ms(101)).empty());
  EXPECT_EQ(lag.assigned(), 1u);
  // Ack up to 2: not yet.
  EXPECT_TRUE(update(lag, {.next_seq = 4, .window = 1}, ms(110)).empty());
  const auto seen = update(lag, {.next_seq = 4, .window = 0}, ms(125));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], ms(25));
  EXPECT_EQ(lag.assigned(), 0u);
}

TEST(ReplicationLagTest, BatchWaitsWhileItsChangesAreStillPending) {
  ReplicationLag lag;
  lag.onLocalChanges(ms(0));
  // The window is full: the changes are waiting, the batch has no number yet.
  EXPECT_TRUE(update(lag, {.next_seq = 1, .window = 0, .pending = 5}, ms(1)).empty());
  EXPECT_EQ(lag.waiting(), 1u);
  EXPECT_TRUE(update(lag, {.next_seq = 6, .window = 5, .pending = 0}, ms(50)).empty());
  EXPECT_EQ(lag.assigned(), 1u);
  const auto seen = update(lag, {.next_seq = 6, .window = 0}, ms(70));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], ms(70));
}

TEST(ReplicationLagTest, EachBatchIsObservedOnceInOrder) {
  ReplicationLag lag;
  lag.onLocalChanges(ms(0));
  update(lag, {.next_seq = 3, .window = 2}, ms(1));
  lag.onLocalChanges(ms(10));
  update(lag, {.next_seq = 5, .window = 4}, ms(11));
  auto seen = update(lag, {.next_seq = 5, .window = 2}, ms(20));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], ms(20));
  seen = update(lag, {.next_seq = 5, .window = 0}, ms(30));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], ms(20));
  EXPECT_TRUE(update(lag, {.next_seq = 5, .window = 0}, ms(40)).empty());
}

TEST(ReplicationLagTest, BulkDropsWaitingBatchesButKeepsSentOnes) {
  ReplicationLag lag;
  lag.onLocalChanges(ms(0));
  update(lag, {.next_seq = 2, .window = 1}, ms(1));  // assigned to item 1
  lag.onLocalChanges(ms(5));
  update(lag, {.next_seq = 2, .window = 1, .pending = 1}, ms(6));  // waiting
  // A bulk started (the waiting set was cleared into it).
  update(lag, {.next_seq = 2, .window = 1, .bulks_started = 1}, ms(7));
  EXPECT_EQ(lag.waiting(), 0u);
  EXPECT_EQ(lag.assigned(), 1u);
  const auto seen = update(lag, {.next_seq = 9, .window = 0, .bulks_started = 1}, ms(30));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], ms(30));
}

TEST(ReplicationLagTest, NewStreamForgetsEverything) {
  ReplicationLag lag;
  lag.onLocalChanges(ms(0));
  update(lag, {.next_seq = 4, .window = 3}, ms(1));
  // The window was dropped: numbers below next_seq look acknowledged but were not.
  EXPECT_TRUE(
      update(lag, {.next_seq = 4, .window = 0, .bulks_started = 1, .streams_started = 1}, ms(2))
          .empty());
  EXPECT_EQ(lag.assigned(), 0u);
}

TEST(ReplicationLagTest, OldestUnackedAgeFollowsTheFirstUnacknowledgedItem) {
  ReplicationLag lag;
  View v{.next_seq = 1};
  std::vector<Micros> out;
  EXPECT_EQ(lag.oldestUnackedAge(v, ms(0)), ms(0));
  v = {.next_seq = 3, .window = 2};  // items 1, 2 sent at 10
  lag.update(v, ms(10), out);
  v = {.next_seq = 5, .window = 4};  // items 3, 4 sent at 20
  lag.update(v, ms(20), out);
  EXPECT_EQ(lag.oldestUnackedAge(v, ms(25)), ms(15));
  v = {.next_seq = 5, .window = 2};  // 1, 2 acknowledged
  lag.update(v, ms(30), out);
  EXPECT_EQ(lag.oldestUnackedAge(v, ms(30)), ms(10));
  v = {.next_seq = 5, .window = 0};
  lag.update(v, ms(40), out);
  EXPECT_EQ(lag.oldestUnackedAge(v, ms(40)), ms(0));
}

TEST(ReplicationLagTest, MemoryIsBounded) {
  ReplicationLag lag;
  for (size_t i = 0; i < 2 * ReplicationLag::kMaxTracked; ++i) lag.onLocalChanges(ms(1));
  EXPECT_EQ(lag.waiting(), ReplicationLag::kMaxTracked);
  std::vector<Micros> out;
  lag.update({.next_seq = 2, .window = 1}, ms(2), out);
  EXPECT_EQ(lag.assigned(), ReplicationLag::kMaxTracked);
  lag.update({.next_seq = 2, .window = 0}, ms(3), out);
  EXPECT_EQ(out.size(), ReplicationLag::kMaxTracked);
}

}  // namespace
}  // namespace gwsync::syncd
