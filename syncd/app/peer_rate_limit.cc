#include "syncd/app/peer_rate_limit.h"

#include <algorithm>

namespace gwsync::syncd {

PeerRateLimit::PeerRateLimit(Options options, Millis now)
    : options_(options),
      milli_tokens_(static_cast<int64_t>(options.burst) * 1000),
      last_refill_(now) {}

uint64_t PeerRateLimit::upserts(const ItemsMsg& m) {
  return static_cast<uint64_t>(std::count_if(
      m.items.begin(), m.items.end(), [](const Item& i) { return i.kind == Item::Kind::kUpsert; }));
}

void PeerRateLimit::refill(Millis now) {
  if (now <= last_refill_) return;  // the clock is monotonic; equal means nothing to add
  const auto elapsed = static_cast<uint64_t>((now - last_refill_).count());
  last_refill_ = now;
  const int64_t cap = static_cast<int64_t>(options_.burst) * 1000;
  // per_second tokens per 1000 ms = per_second milli-tokens per ms. Saturate before multiplying
  // when a long pause would overflow: the bucket is full anyway.
  const uint64_t room = static_cast<uint64_t>(cap - std::min(milli_tokens_, cap));
  const uint64_t add = elapsed > room / std::max<uint64_t>(options_.per_second, 1)
                           ? room
                           : elapsed * options_.per_second;
  milli_tokens_ = std::min(cap, milli_tokens_ + static_cast<int64_t>(add));
}

void PeerRateLimit::drain(std::vector<ItemsMsg>& ready) {
  while (!queue_.empty()) {
    const uint64_t cost = upserts(queue_.front());
    if (cost != 0 && milli_tokens_ <= 0) return;
    milli_tokens_ -= static_cast<int64_t>(cost) * 1000;
    stats_.queued_items -= queue_.front().items.size();
    ready.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

PeerRateLimit::Verdict PeerRateLimit::offer(ItemsMsg&& m, Millis now,
                                            std::vector<ItemsMsg>& ready) {
  refill(now);
  drain(ready);
  const uint64_t cost = upserts(m);
  if (queue_.empty() && (cost == 0 || milli_tokens_ > 0)) {
    milli_tokens_ -= static_cast<int64_t>(cost) * 1000;
    ready.push_back(std::move(m));
    return Verdict::kNow;
  }
  // An empty queue takes any one frame, so a frame larger than the bound still gets through.
  if (!queue_.empty() && stats_.queued_items + m.items.size() > options_.max_queued_items) {
    ++stats_.frames_overflowed;
    return Verdict::kOverflow;
  }
  ++stats_.frames_delayed;
  stats_.upserts_delayed += cost;
  stats_.queued_items += m.items.size();
  queue_.push_back(std::move(m));
  return Verdict::kQueued;
}

void PeerRateLimit::release(Millis now, std::vector<ItemsMsg>& ready) {
  refill(now);
  drain(ready);
}

void PeerRateLimit::clear() {
  stats_.frames_cleared += queue_.size();
  stats_.queued_items = 0;
  queue_.clear();
}

}  // namespace gwsync::syncd
