#include "syncd/app/replication_lag.h"

namespace gwsync::syncd {

void ReplicationLag::onLocalChanges(Micros now) {
  if (waiting_.size() < kMaxTracked) waiting_.push_back(now);
}

void ReplicationLag::update(const SenderView& v, Micros now, std::vector<Micros>& observed) {
  if (v.streams_started != streams_started_) {
    // A new stream dropped the window; everything goes out again in its bulk.
    streams_started_ = v.streams_started;
    bulks_started_ = v.bulks_started;
    waiting_.clear();
    assigned_.clear();
    sends_.clear();
  } else if (v.bulks_started != bulks_started_) {
    // A bulk replaced the waiting changes: the bulk carries them, at its own pace.
    bulks_started_ = v.bulks_started;
    waiting_.clear();
  }
  if (v.next_seq > last_next_seq_ && sends_.size() < kMaxTracked) {
    sends_.emplace_back(last_next_seq_, now);
  }
  last_next_seq_ = v.next_seq;

  if (v.pending == 0 && !waiting_.empty()) {
    // Every change these batches made has a number now; the highest one used covers them.
    const uint64_t mark = v.next_seq - 1;
    for (const Micros t : waiting_) {
      if (assigned_.size() < kMaxTracked) assigned_.emplace_back(mark, t);
    }
    waiting_.clear();
  }

  // Go-back-N keeps the window contiguous: everything below its first item is acknowledged.
  const uint64_t first_unacked = v.next_seq - v.window;
  while (!assigned_.empty() && assigned_.front().first < first_unacked) {
    observed.push_back(now - assigned_.front().second);
    assigned_.pop_front();
  }
  while (sends_.size() >= 2 && sends_[1].first <= first_unacked) sends_.pop_front();
}

ReplicationLag::Micros ReplicationLag::oldestUnackedAge(const SenderView& v, Micros now) const {
  if (v.window == 0 || sends_.empty()) return Micros{0};
  return now - sends_.front().second;
}

}  // namespace gwsync::syncd
