#include "syncd/core/sync_engine.h"

#include <type_traits>

namespace gwsync::syncd {

namespace {

// How much longer than the peer's copy a kernel entry must live to count as carrying traffic
// here: covers the delay between receiving a copy and writing it into the kernel.
constexpr Millis kActivitySlack{2000};

// Equal in everything the peer's copy must reproduce; the timeout only counts down, and the
// peer-copy bit of the mark is ours alone.
bool sameState(const Session& a, const Session& b, uint32_t peer_mark) {
  constexpr uint32_t kStatus = status::kSeenReply | status::kAssured;
  auto tcp = [](const std::optional<TcpInfo>& t) {
    return t ? std::optional(TcpInfo{t->state, static_cast<uint8_t>(t->flags_orig & kTcpFlagsSynced),
                                     static_cast<uint8_t>(t->flags_reply & kTcpFlagsSynced),
                                     t->wscale_orig, t->wscale_reply})
             : std::nullopt;
  };
  return a.reply == b.reply && (a.status & kStatus) == (b.status & kStatus) &&
         (a.mark & ~peer_mark) == (b.mark & ~peer_mark) &&
         a.labels == b.labels && tcp(a.tcp) == tcp(b.tcp) && a.sctp == b.sctp &&
         a.seq_adj_orig == b.seq_adj_orig && a.seq_adj_reply == b.seq_adj_reply &&
         a.helper == b.helper;
}

}  // namespace

SyncEngine::SyncEngine(Options options)
    : options_(std::move(options)),
      sender_(
          SyncSender::Options{.epoch = options_.epoch,
                              .window = options_.window,
                              .max_items_per_frame = options_.max_items_per_frame,
                              .retransmit = options_.retransmit},
          [this](const SessionKey& k) -> const Session* {
            auto it = owned_.find(k);
            return it == owned_.end() ? nullptr : &it->second.session;
          },
          [this] {
            std::vector<SessionKey> keys;
            keys.reserve(owned_.size());
            for (const auto& [k, o] : owned_) {
              if (!o.by_default) keys.push_back(k);
            }
            return keys;
          }),
      receiver_([this](const SessionKey& k) { return peerClaims(k); }) {
  owned_.reserve(options_.expected_sessions);
  receiver_.table().reserve(options_.expected_sessions);
}

void SyncEngine::own(const Session& s, bool by_default, Millis now) {
  const SessionKey key = keyOf(s);
  Owned& o = owned_[key];
  o.session = s;
  o.session.mark &= ~options_.peer_mark;
  o.session.owner = options_.node_id;
  o.session.version = (options_.epoch << 32) | (++version_counter_ & 0xffffffffu);
  o.seen = snapshot_;
  o.by_default = by_default;
  o.claimed_at = now;
  unresolved_.erase(key);
  if (receiver_.table().erase(key) > 0) ++stats_.ownership_gained;
  if (by_default) return;
  if ((s.mark & options_.peer_mark) != 0) {
    // Our kernel still marks it as the peer's copy; after a restart we would take it for one.
    changes_.push_back({KernelChange::Kind::kUpdate, o.session, KernelChange::Origin::kLocal});
  }
  sender_.markChanged(key);
}

bool SyncEngine::peerClaims(const SessionKey& key) {
  if (unresolved_.erase(key) > 0) {
    ++stats_.resolved_by_peer;
    return true;
  }
  auto it = owned_.find(key);
  if (it == owned_.end()) return true;
  owned_.erase(it);
  ++stats_.ownership_lost;
  sender_.forget(key);
  return true;
}

void SyncEngine::resolve() {
  // The peer's bulk named all of its sessions. Start-up copies it did not name, and copies we
  // kept while it was away without seeing traffic on them, are gone there: delete them here.
  auto remove = [this](const SessionKey& key) {
    Session gone;
    gone.zone = key.zone;
    gone.orig = key.orig;
    changes_.push_back({KernelChange::Kind::kRemove, std::move(gone), KernelChange::Origin::kLocal});
    ++stats_.stale_copies_deleted;
  };
  for (const auto& [key, s] : unresolved_) remove(key);
  unresolved_.clear();
  for (auto it = owned_.begin(); it != owned_.end();) {
    if (!it->second.by_default) {
      ++it;
      continue;
    }
    remove(it->first);
    it = owned_.erase(it);
  }
  resolving_ = false;
}

void SyncEngine::flushPeerSessions() {
  for (const auto& [key, entry] : receiver_.table()) {
    Session gone;
    gone.zone = key.zone;
    gone.orig = key.orig;
    changes_.push_back({KernelChange::Kind::kRemove, std::move(gone), KernelChange::Origin::kLocal});
  }
  receiver_.table().clear();
}

void SyncEngine::claimUnresolved(Millis now) {
  if (!resolving_) return;
  const std::vector<std::pair<SessionKey, Session>> all(unresolved_.begin(), unresolved_.end());
  for (const auto& [key, s] : all) own(s, true, now);
  stats_.claimed_unresolved += all.size();
  unresolved_.clear();
  resolving_ = false;
}

void SyncEngine::onLocalEvent(LocalEvent type, const Session& s) {
  if (type != LocalEvent::kDestroy) {
    ++stats_.local_changes;
    own(s);
    return;
  }
  const SessionKey key = keyOf(s);
  if (owned_.erase(key) == 0) {
    ++stats_.destroy_not_owned;
    return;
  }
  ++stats_.local_removes;
  sender_.markChanged(key);
}

bool SyncEngine::needsRefresh(const Owned& o, const Session& now_state, Millis now) const {
  if (o.sent_at == Millis{0}) return false;  // still waiting to be sent
  const Millis peer_left = o.sent_at + std::chrono::seconds(o.sent_timeout) - now;
  const Millis ours_left = std::chrono::seconds(now_state.timeout);
  return peer_left < 2 * options_.refresh && ours_left > peer_left + std::chrono::seconds(1);
}

bool SyncEngine::activeHere(const Session& known, Millis known_at, const Session& kernel,
                            Millis now) const {
  const Millis known_left = known_at + std::chrono::seconds(known.timeout) - now;
  return std::chrono::seconds(kernel.timeout) > known_left + kActivitySlack ||
         !sameState(known, kernel, options_.peer_mark);
}

void SyncEngine::onLocalSnapshot(const std::vector<Session>& dump, Millis now) {
  ++snapshot_;
  for (const Session& s : dump) {
    const SessionKey key = keyOf(s);
    auto it = owned_.find(key);
    if (it == owned_.end()) {
      // A copy the peer sent us is the peer's; anything else our events missed, unless we are
      // still learning which start-up entries are the peer's.
      if (unresolved_.count(key) != 0) continue;  // waiting for the peer's word
      if (auto copy = receiver_.table().find(key); copy != receiver_.table().end()) {
        if (activeHere(copy->second.session, copy->second.received_at, s, now)) own(s);
        continue;
      }
      if (snapshot_ == 1 && (s.mark & options_.peer_mark) != 0) {
        unresolved_[key] = s;  // a copy from before our restart: ask the peer
        resolving_ = true;
      } else {
        own(s, false, now);
      }
      continue;
    }
    it->second.seen = snapshot_;
    if (it->second.by_default &&
        activeHere(it->second.session, it->second.claimed_at, s, now)) {
      own(s);  // confirmed by traffic: from now on the peer hears about it
    } else if (!sameState(it->second.session, s, options_.peer_mark)) {
      own(s);
    } else if (needsRefresh(it->second, s, now)) {
      ++stats_.refreshes;
      it->second.session.timeout = s.timeout;
      sender_.markChanged(key);
    }
  }
  // What the dump no longer lists is gone; a lost DESTROY event would otherwise leave it here.
  for (auto it = owned_.begin(); it != owned_.end();) {
    if (it->second.seen == snapshot_) {
      ++it;
      continue;
    }
    const SessionKey key = it->first;
    it = owned_.erase(it);
    ++stats_.local_removes;
    sender_.markChanged(key);
  }
}

void SyncEngine::onConnected(Millis now) {
  connected_ = true;
  last_heard_ = now;
  hello_due_ = true;
}

void SyncEngine::onDisconnected() {
  connected_ = false;
  sender_.onDisconnected();
}

bool SyncEngine::onMessage(const SyncMessage& m, Millis now) {
  last_heard_ = now;
  if (const auto* h = std::get_if<HelloMsg>(&m)) {
    ++stats_.hellos_received;
    if (h->node_id != options_.peer_id) {
      ++stats_.wrong_peer;
      return false;
    }
    receiver_.onHello(*h);
    sender_.onPeerHello(h->peer_epoch, h->next_expected, now);
  } else if (const auto* items = std::get_if<ItemsMsg>(&m)) {
    const uint64_t bulks = receiver_.stats().bulks_received;
    const size_t first = changes_.size();
    receiver_.onItems(*items, now, changes_);
    for (size_t i = first; i < changes_.size(); ++i) changes_[i].session.mark |= options_.peer_mark;
    if (receiver_.stats().bulks_received > bulks) resolve();
  } else if (const auto* ack = std::get_if<AckMsg>(&m)) {
    sender_.onAck(*ack, now);
  } else if (std::holds_alternative<ResyncRequestMsg>(m)) {
    ++stats_.resync_requests_received;
    sender_.startBulk();
  }
  return true;
}

HelloMsg SyncEngine::hello() const {
  return HelloMsg{.protocol_version = kProtocolVersion,
                  .node_id = options_.node_id,
                  .site = options_.site,
                  .epoch = options_.epoch,
                  .peer_epoch = receiver_.peerEpoch(),
                  .next_expected = receiver_.nextExpected()};
}

void SyncEngine::noteSent(const std::vector<ItemsMsg>& frames, Millis now) {
  for (const ItemsMsg& f : frames) {
    for (const Item& item : f.items) {
      if (item.kind != Item::Kind::kUpsert) continue;
      auto it = owned_.find(keyOf(item.session));
      if (it == owned_.end()) continue;
      it->second.sent_at = now;
      it->second.sent_timeout = item.session.timeout;
    }
  }
}

std::vector<SyncMessage> SyncEngine::poll(Millis now) {
  std::vector<SyncMessage> out;
  if (!connected_) return out;
  if (hello_due_ || now - last_hello_sent_ >= options_.heartbeat) {
    out.emplace_back(hello());
    last_hello_sent_ = now;
    hello_due_ = false;
  }
  if (auto ack = receiver_.takeAck()) out.emplace_back(*ack);
  auto frames = sender_.poll(now);
  noteSent(frames, now);
  for (auto& f : frames) out.emplace_back(std::move(f));
  return out;
}

}  // namespace gwsync::syncd
