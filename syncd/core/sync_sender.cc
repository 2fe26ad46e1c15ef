#include "syncd/core/sync_sender.h"

#include <utility>

namespace gwsync::syncd {

SyncSender::SyncSender(Options options, LocalLookup lookup, LocalKeys keys)
    : options_(options), lookup_(std::move(lookup)), keys_(std::move(keys)) {}

void SyncSender::markChanged(const SessionKey& key) {
  if (!pending_.insert(key).second) {
    ++stats_.coalesced;
    return;
  }
  if (pending_.size() > options_.max_pending) {
    // Never drop a change silently: a bulk carries every session's current state, and the
    // receiver's purge at its end covers what was removed meanwhile.
    ++stats_.overflow_resyncs;
    startBulk();
    return;
  }
  pending_order_.push_back(key);
}

void SyncSender::startBulk() {
  // The bulk carries every session's state as it is when sent, and the receiver's purge at its
  // end removes what is gone: waiting changes would only be sent twice.
  pending_.clear();
  pending_order_.clear();
  ++stats_.bulks_started;
  Bulk b;
  b.id = next_bulk_id_++;
  b.keys = keys_();
  bulk_ = std::move(b);
}

void SyncSender::startStream() {
  // The receiver has nothing we can resume from: everything goes out again in a new stream.
  window_.clear();
  need_start_flag_ = true;
  ++stats_.streams_started;
  startBulk();
}

void SyncSender::onPeerHello(uint64_t peer_knows_epoch, uint64_t next_expected, Millis now) {
  if (stream_started_) return;  // decided for this connection already
  stream_started_ = true;
  const uint64_t oldest = window_.empty() ? next_seq_ : window_.front().first;
  const bool resumable = !need_start_flag_ && next_seq_ > 1 &&
                         peer_knows_epoch == options_.epoch && next_expected >= oldest &&
                         next_expected <= next_seq_;
  if (!resumable) {
    startStream();
    return;
  }
  ++stats_.resumes;
  while (!window_.empty() && window_.front().first < next_expected) window_.pop_front();
  resend_now_ = !window_.empty();
  last_progress_ = now;
}

void SyncSender::onAck(const AckMsg& ack, Millis now) {
  if (ack.epoch != options_.epoch || ack.seq >= next_seq_) {
    ++stats_.stale_acks;
    return;
  }
  bool progress = false;
  while (!window_.empty() && window_.front().first <= ack.seq) {
    window_.pop_front();
    ++stats_.acked;
    progress = true;
  }
  if (progress) last_progress_ = now;
}

void SyncSender::onDisconnected() {
  // Keep the window: the next connection may resume from it.
  stream_started_ = false;
  resend_now_ = false;
}

Item SyncSender::itemFor(const SessionKey& key) {
  Item item;
  if (const Session* s = lookup_(key)) {
    item.kind = Item::Kind::kUpsert;
    item.session = *s;
    if (bulk_ && bulk_->begin_sent) ++bulk_->sessions;
  } else {
    item.kind = Item::Kind::kRemove;
    item.session.zone = key.zone;
    item.session.orig = key.orig;
  }
  return item;
}

std::optional<Item> SyncSender::nextItem() {
  if (bulk_ && !bulk_->begin_sent) {
    bulk_->begin_sent = true;
    Item begin;
    begin.kind = Item::Kind::kBulkBegin;
    begin.bulk_id = bulk_->id;
    return begin;
  }
  while (!pending_order_.empty()) {
    const SessionKey key = pending_order_.front();
    pending_order_.pop_front();
    if (pending_.erase(key) == 0) continue;
    return itemFor(key);
  }
  if (!bulk_) return std::nullopt;
  while (bulk_->next < bulk_->keys.size()) {
    const SessionKey& key = bulk_->keys[bulk_->next++];
    if (lookup_(key) != nullptr) return itemFor(key);
  }
  Item end;
  end.kind = Item::Kind::kBulkEnd;
  end.bulk_id = bulk_->id;
  end.bulk_sessions = bulk_->sessions;
  bulk_.reset();
  ++stats_.bulks_completed;
  return end;
}

void SyncSender::appendItem(std::vector<ItemsMsg>& out, Item item) {
  const uint64_t seq = next_seq_++;
  if (need_start_flag_) {
    item.stream_start = true;
    need_start_flag_ = false;
  }
  if (out.empty() || out.back().items.size() >= options_.max_items_per_frame ||
      out.back().first_seq + out.back().items.size() != seq) {
    out.push_back(ItemsMsg{options_.epoch, seq, {}});
    ++stats_.frames_sent;
  }
  out.back().items.push_back(item);
  window_.emplace_back(seq, std::move(item));
  ++stats_.items_sent;
}

void SyncSender::retransmit(std::vector<ItemsMsg>& out) {
  // Go-back-N: the receiver only takes the next expected item, so everything unacknowledged
  // goes again, in order.
  for (const auto& [seq, item] : window_) {
    if (out.empty() || out.back().items.size() >= options_.max_items_per_frame ||
        out.back().first_seq + out.back().items.size() != seq) {
      out.push_back(ItemsMsg{options_.epoch, seq, {}});
      ++stats_.frames_sent;
    }
    out.back().items.push_back(item);
    ++stats_.items_resent;
  }
}

std::vector<ItemsMsg> SyncSender::poll(Millis now) {
  std::vector<ItemsMsg> out;
  more_ = false;
  if (!stream_started_) return out;
  if (resend_now_ || (!window_.empty() && now - last_progress_ >= options_.retransmit)) {
    retransmit(out);
    resend_now_ = false;
    last_progress_ = now;
  }
  const bool was_empty = window_.empty();
  for (size_t n = 0; window_.size() < options_.window; ++n) {
    if (options_.max_items_per_poll != 0 && n == options_.max_items_per_poll) {
      more_ = true;
      break;
    }
    auto item = nextItem();
    if (!item) break;
    appendItem(out, std::move(*item));
  }
  if (was_empty && !window_.empty()) last_progress_ = now;
  return out;
}

}  // namespace gwsync::syncd
