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
                              .retransmit = options_.retransmit,
                              .max_items_per_poll = options_.max_items_per_poll},
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
      receiver_([this](const SessionKey& k) { return peerClaims(k); }),
      mobility_(Mobility::Options{.node_id = options_.node_id,
                                  .peer_id = options_.peer_id,
                                  .debounce = options_.mobility_debounce}) {
  owned_.reserve(options_.expected_sessions);
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
    if (peerHostCopy(s)) {
      ++stats_.suppressed_activity;
      return;
    }
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
        const PeerEntry entry = (*copy).second;
        if (activeHere(entry.session, entry.received_at, s, now)) {
          if (peerHostCopy(s)) {
            ++stats_.suppressed_activity;
          } else {
            own(s);
          }
        }
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
  if (options_.mobility) mobility_.onConnected();
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
    peer_lb_checksum_ = h->lb_checksum;
    receiver_.onHello(*h);
    sender_.onPeerHello(h->peer_epoch, h->next_expected, now);
  } else if (const auto* items = std::get_if<ItemsMsg>(&m)) {
    const uint64_t bulks = receiver_.stats().bulks_received;
    const size_t first = changes_.size();
    // takeKernelChanges() leaves no capacity behind: grow once per frame, not log2(512) times.
    changes_.reserve(first + items->items.size());
    receiver_.onItems(*items, now, changes_);
    for (size_t i = first; i < changes_.size(); ++i) changes_[i].session.mark |= options_.peer_mark;
    if (receiver_.stats().bulks_received > bulks) resolve();
    if (options_.mobility && !mobility_.hosts().empty()) {
      // A session of a host we own that the peer still sent (it started there before the
      // handoff reached it): ours, like the rest of the host's sessions.
      const size_t end = changes_.size();
      for (size_t i = first; i < end; ++i) {
        const KernelChange& c = changes_[i];
        if (c.kind == KernelChange::Kind::kRemove) continue;
        const auto host = hostOf(c.session);
        if (!host || !mobility_.ownedByUs(*host)) continue;
        auto copy = receiver_.table().find(keyOf(c.session));
        if (copy == receiver_.table().end()) continue;
        ++stats_.adopted;
        const Session taken = copy->second.session;
        own(taken);
        Session local = taken;
        local.mark &= ~options_.peer_mark;
        changes_.push_back({KernelChange::Kind::kUpdate, local, KernelChange::Origin::kLocal});
      }
    }
  } else if (const auto* claim = std::get_if<HostClaimMsg>(&m)) {
    if (options_.mobility) {
      mobility_.onClaim(*claim, now);
      runMobility(now);
    }
  } else if (const auto* release = std::get_if<HostReleaseMsg>(&m)) {
    if (options_.mobility) mobility_.onRelease(*release, now);
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
                  .next_expected = receiver_.nextExpected(),
                  .lb_checksum = options_.lb_checksum};
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
  for (auto& m : mobility_.takeMessages()) out.push_back(std::move(m));
  auto frames = sender_.poll(now);
  noteSent(frames, now);
  for (auto& f : frames) out.emplace_back(std::move(f));
  return out;
}

void SyncEngine::onHostSighting(const std::optional<IpAddress>& ip,
                                const std::optional<MacBytes>& mac, Millis now) {
  if (!options_.mobility) return;
  mobility_.onSighting(ip, mac, now);
  runMobility(now);
}

void SyncEngine::onProbeResult(const IpAddress& host, bool local,
                               const std::optional<MacBytes>& mac, Millis now) {
  if (!options_.mobility) return;
  mobility_.onProbeResult(host, local, mac, now);
  runMobility(now);
}

void SyncEngine::runMobility(Millis /*now*/) {
  for (Mobility::Action& a : mobility_.takeActions()) {
    if (a.kind == Mobility::Action::Kind::kWon) handOver(a.host);
    host_actions_.push_back(std::move(a));
  }
}

void SyncEngine::handOver(const IpAddress& host) {
  // Every copy of the host's sessions becomes ours: the peer hears it through the upserts (and
  // stops claiming them), and our kernel's copies lose the peer bit (written in cold mode).
  std::vector<Session> taken;
  const PeerTable& table = receiver_.table();
  for (auto it = table.begin(); it != table.end(); ++it) {
    // Two addresses per record, not the whole session: this walks every peer session.
    if (it.origSource() == host || it.replySource() == host) taken.push_back((*it).second.session);
  }
  // A TCP copy is re-created rather than updated: an entry that carried the flow here before the
  // host left still holds the TCP window it saw then, and the sequence numbers have moved on
  // (strict tracking would mark the next packets INVALID). A new entry picks the window up from
  // the next packet, as after a failover; a mid-stream TCP packet that slips in between the
  // delete and the create makes no entry of its own with strict tracking. Other protocols have
  // no window to reset and are updated in place: a UDP packet in that gap would make a new
  // entry, with a new NAT port, and the create would then only update it (EEXIST), leaving the
  // flow on the wrong port for good (seen in the redirect benchmark's smoke run under load).
  // Cold mode: the delete and the update find nothing; the create, or the update turned into
  // a create (ENOENT), writes.
  for (const Session& s : taken) {
    own(s);
    Session local = s;
    local.mark &= ~options_.peer_mark;
    if (s.orig.proto == l4::kTcp) {
      changes_.push_back({KernelChange::Kind::kRemove, local, KernelChange::Origin::kLocal});
      changes_.push_back(
          {KernelChange::Kind::kCreate, std::move(local), KernelChange::Origin::kLocal});
    } else {
      changes_.push_back(
          {KernelChange::Kind::kUpdate, std::move(local), KernelChange::Origin::kLocal});
    }
  }
  stats_.handed_over += taken.size();
}

std::optional<IpAddress> SyncEngine::hostOf(const Session& s) const {
  const auto& hosts = mobility_.hosts();
  if (hosts.empty()) return std::nullopt;
  if (hosts.count(s.orig.src) != 0) return s.orig.src;
  if (hosts.count(s.reply.src) != 0) return s.reply.src;
  return std::nullopt;
}

bool SyncEngine::peerHostCopy(const Session& s) const {
  if (!options_.mobility) return false;
  const auto host = hostOf(s);
  if (!host || !mobility_.ownedByPeer(*host)) return false;
  return receiver_.table().count(keyOf(s)) != 0;
}

}  // namespace gwsync::syncd
