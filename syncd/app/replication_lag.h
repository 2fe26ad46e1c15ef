// ReplicationLag: measures, from what the sender already exposes, how long local changes take to
// be acknowledged by the peer, without adding timestamps to the sync protocol. Pure: time is a
// parameter. Owned by the daemon and run on its io thread.
//
// Lag of an event batch: from the daemon reading a batch of local conntrack events to the peer's
// cumulative ack covering the last item that carried them. A batch is *assigned* once the
// sender's set of waiting changes has drained (every change it made has a sequence number, so
// the highest number used so far covers it); it is *observed* once the peer acknowledges that
// number. A batch whose changes were folded into a bulk (the waiting set was cleared) or a new
// stream is not observed: it is carried by the bulk, whose duration is measured separately.
//
// Oldest unacked age: the time since the oldest item still unacknowledged was first sent.
//
// Both need bounded memory: at most kMaxTracked batches and send marks are kept; beyond that
// new batches are not sampled and sends are attributed to the previous mark (an overestimate).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace gwsync::syncd {

class ReplicationLag {
 public:
  using Micros = std::chrono::microseconds;
  static constexpr size_t kMaxTracked = 4096;

  // What the sender shows after a poll (SyncSender accessors and stats).
  struct SenderView {
    uint64_t next_seq = 1;  // nextSeq(): the number the next item gets
    size_t window = 0;      // windowSize(): sent and not acknowledged
    size_t pending = 0;     // pendingSize(): changed sessions waiting to be sent
    uint64_t bulks_started = 0;
    uint64_t streams_started = 0;
  };

  // Local events changed what this node sends (the engine queued changes for the peer).
  void onLocalChanges(Micros now);
  // After every poll of the sender (and after acks): assigns, observes and prunes. Appends the
  // lag of each batch the peer's ack now covers to `observed`.
  void update(const SenderView& v, Micros now, std::vector<Micros>& observed);
  // Zero when nothing is unacknowledged.
  Micros oldestUnackedAge(const SenderView& v, Micros now) const;

  size_t waiting() const { return waiting_.size(); }
  size_t assigned() const { return assigned_.size(); }

 private:
  std::deque<Micros> waiting_;                        // batches whose changes are not all sent
  std::deque<std::pair<uint64_t, Micros>> assigned_;  // (last seq carrying it, event time)
  std::deque<std::pair<uint64_t, Micros>> sends_;     // (first seq of a send, when)
  uint64_t last_next_seq_ = 1;
  uint64_t bulks_started_ = 0;
  uint64_t streams_started_ = 0;
};

}  // namespace gwsync::syncd
