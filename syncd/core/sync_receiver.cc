#include "syncd/core/sync_receiver.h"

namespace gwsync::syncd {

void SyncReceiver::onHello(const HelloMsg& hello) {
  if (hello.epoch <= peer_epoch_) return;
  // The peer restarted (or we meet it for the first time): its new stream starts wherever its
  // first item says, and everything it told us before is only good until its bulk ends.
  if (peer_epoch_ != 0) ++stats_.peer_restarts;
  peer_epoch_ = hello.epoch;
  expected_ = 0;
  bulk_id_.reset();
  table_.resetGenerations();
}

void SyncReceiver::onItems(const ItemsMsg& msg, Millis now, std::vector<KernelChange>& out) {
  if (msg.epoch < peer_epoch_) {
    ++stats_.stale_epoch;
    return;
  }
  if (msg.epoch > peer_epoch_) {
    HelloMsg implied;
    implied.epoch = msg.epoch;
    onHello(implied);
  }
  ack_due_ = true;
  for (size_t i = 0; i < msg.items.size(); ++i) {
    const Item& item = msg.items[i];
    const uint64_t seq = msg.first_seq + i;
    if (item.stream_start && (expected_ == 0 || seq > expected_)) expected_ = seq;
    if (expected_ == 0) {
      ++stats_.no_stream;
      continue;
    }
    if (seq < expected_) {
      ++stats_.duplicates;
      continue;
    }
    if (seq > expected_) {
      ++stats_.gaps;
      return;
    }
    apply(item, now, out);
    ++expected_;
    ++stats_.items_applied;
  }
}

std::optional<AckMsg> SyncReceiver::takeAck() {
  if (!ack_due_ || expected_ == 0) return std::nullopt;
  ack_due_ = false;
  return AckMsg{peer_epoch_, expected_ - 1};
}

void SyncReceiver::apply(const Item& item, Millis now, std::vector<KernelChange>& out) {
  switch (item.kind) {
    case Item::Kind::kUpsert:
      upsert(item.session, now, out);
      return;
    case Item::Kind::kRemove: {
      const SessionKey key = keyOf(item.session);
      if (table_.erase(key) > 0) out.push_back({KernelChange::Kind::kRemove, item.session});
      return;
    }
    case Item::Kind::kBulkBegin:
      ++generation_;
      bulk_id_ = item.bulk_id;
      return;
    case Item::Kind::kBulkEnd:
      if (bulk_id_ != item.bulk_id) {
        ++stats_.bulk_mismatches;
        return;
      }
      bulk_id_.reset();
      ++stats_.bulks_received;
      purge(out);
      return;
  }
}

void SyncReceiver::upsert(const Session& s, Millis now, std::vector<KernelChange>& out) {
  const SessionKey key = keyOf(s);
  if (claim_ && !claim_(key)) {
    ++stats_.claims_refused;
    return;
  }
  auto [it, inserted] = table_.tryInsert(s, generation_, now);
  if (!inserted) {
    if (s.owner == it.owner() && s.version < it.version()) {
      ++stats_.stale_versions;
      table_.setGeneration(it, generation_);  // still mentioned by this bulk
      return;
    }
    table_.replace(it, s, generation_, now);
  }
  out.push_back({inserted ? KernelChange::Kind::kCreate : KernelChange::Kind::kUpdate, s});
}

void SyncReceiver::purge(std::vector<KernelChange>& out) {
  const auto current = static_cast<uint32_t>(generation_);  // the table keeps 32 bits
  stats_.purged += table_.eraseIf([&](PeerTable::const_iterator it) {
    if (it.generation() == current) return false;
    const SessionKey key = it.key();
    Session gone;
    gone.zone = key.zone;
    gone.orig = key.orig;
    out.push_back({KernelChange::Kind::kRemove, std::move(gone)});
    return true;
  });
}

}  // namespace gwsync::syncd
