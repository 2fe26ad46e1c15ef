// PeerRateLimit: bounds how many of the peer's upserts per second this node applies, without
// losing any. A token bucket (rate, burst) pays for the upserts of each Items frame; a frame that
// finds the bucket empty waits in a FIFO, whose length is bounded, until the bucket refills.
//
// Why delay rather than drop: a frame the receiver has not applied is not acknowledged, so the
// peer's window fills and the peer stops sending and coalesces its changes: the sync protocol's
// own backpressure. A peer that respects its window never overflows the queue (peer_queue_items
// defaults to the window); one that does not has the overflowing frames dropped, counted, and,
// since they were never acknowledged, resent by its go-back-N once the queue drains. Nothing is
// dropped that the protocol does not resend; memory stays bounded.
//
// Only Items frames pass through here: Hello (the heartbeat), Ack and resync requests are never
// delayed, so a throttled peer is not declared dead. The queue holds frames of one connection and
// is cleared when it goes down (they were not acknowledged: the peer sends them again).
//
// Pure: the time is a parameter; the daemon owns one on its io thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "syncd/core/sync_messages.h"

namespace gwsync::syncd {

using Millis = std::chrono::milliseconds;  // as in syncd/core/sync_sender.h

struct PeerRateStats {
  uint64_t frames_delayed = 0;     // frames that waited for tokens
  uint64_t upserts_delayed = 0;    // upserts in them
  uint64_t frames_overflowed = 0;  // frames dropped unacknowledged: the queue was full
  uint64_t frames_cleared = 0;     // queued frames dropped with their connection
  uint64_t queued_items = 0;       // items waiting now (a gauge)
};

class PeerRateLimit {
 public:
  struct Options {
    uint64_t per_second = 250000;
    uint64_t burst = 262144;
    size_t max_queued_items = 65536;  // beyond this (and one frame), frames are dropped
  };
  enum class Verdict : uint8_t { kNow, kQueued, kOverflow };

  PeerRateLimit(Options options, Millis now);

  // A frame from the peer. kNow: apply it now (it is in `ready`, after any frames queued earlier
  // that became due); kQueued: it waits; kOverflow: dropped (counted).
  Verdict offer(ItemsMsg&& m, Millis now, std::vector<ItemsMsg>& ready);
  // Moves the queued frames whose turn has come to `ready`, oldest first.
  void release(Millis now, std::vector<ItemsMsg>& ready);
  // The connection went down: its queued frames are dropped (counted).
  void clear();

  bool empty() const { return queue_.empty(); }
  const PeerRateStats& stats() const { return stats_; }

 private:
  void refill(Millis now);
  // Takes the head of the queue while tokens last (a frame may leave the bucket in debt: a frame
  // larger than the burst must still pass, and the debt is paid before the next one).
  void drain(std::vector<ItemsMsg>& ready);
  static uint64_t upserts(const ItemsMsg& m);

  Options options_;
  // Tokens in thousandths, so a 20 ms tick at any rate adds an exact amount.
  int64_t milli_tokens_;
  Millis last_refill_;
  std::deque<ItemsMsg> queue_;
  PeerRateStats stats_;
};

}  // namespace gwsync::syncd
