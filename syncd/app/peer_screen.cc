#include "syncd/app/peer_screen.h"

namespace gwsync::syncd {

void PeerScreen::refuse(Item& item) {
  // Same sequence number, same session key: the receiver removes what it held of it, if anything.
  item.kind = Item::Kind::kRemove;
}

void PeerScreen::screen(ItemsMsg& m, const PeerPolicy& policy, const ReceiverView& receiver,
                        const OnReject& on_reject) {
  if (m.epoch < receiver.peer_epoch) return;  // the receiver ignores the whole frame
  const SyncReceiver::Table& table = *receiver.table;
  // The receiver's walk through the frame (SyncReceiver::onItems), so that exactly the items it
  // will apply are screened: a newer epoch starts over, duplicates are skipped, a gap ends it.
  uint64_t expected = m.epoch == receiver.peer_epoch ? receiver.next_expected : 0;
  // Peer sessions held once the items before this one are applied. A session removed twice in
  // one frame is subtracted twice: the overshoot is bounded by one frame, and the next frame
  // starts again from the table's real size.
  size_t held = table.size();
  // Whether the quota can bite in this frame at all: `held` grows by at most one per item, so
  // below this it never reaches the quota and the table lookup per item is skipped (a cache
  // miss in a table of 100k sessions, a good part of what a peer session costs us).
  const bool near_quota = held + m.items.size() > options_.max_sessions;
  for (size_t i = 0; i < m.items.size(); ++i) {
    Item& item = m.items[i];
    const uint64_t seq = m.first_seq + i;
    if (item.stream_start && (expected == 0 || seq > expected)) expected = seq;
    if (expected == 0 || seq < expected) continue;
    if (seq > expected) return;
    ++expected;
    if (item.kind == Item::Kind::kRemove) {
      if (near_quota && held > 0 && table.count(keyOf(item.session)) != 0) --held;
      continue;
    }
    if (item.kind != Item::Kind::kUpsert) continue;
    PeerVerdict v = checkPeerSession(policy, item.session);
    if (!v.reject && near_quota) {
      const bool is_new = table.count(keyOf(item.session)) == 0;
      if (is_new && held >= options_.max_sessions) {
        v.reject = PeerReject::kQuota;
        quota_refused_ = true;
      } else if (is_new) {
        ++held;
      }
    }
    if (!v.reject) {
      if (v.timeout_capped) ++stats_.timeouts_capped;
      continue;
    }
    ++stats_.rejected[static_cast<size_t>(*v.reject)];
    if (on_reject) on_reject(*v.reject, v, item.session);
    refuse(item);
  }
}

bool PeerScreen::resyncDue(size_t peer_sessions, Millis now) {
  if (!quota_refused_) return false;
  if (uint64_t{peer_sessions} * 10 > uint64_t{options_.max_sessions} * 9) return false;
  if (now - last_resync_ < options_.resync_interval) return false;
  quota_refused_ = false;
  last_resync_ = now;
  ++stats_.quota_resyncs;
  return true;
}

}  // namespace gwsync::syncd
