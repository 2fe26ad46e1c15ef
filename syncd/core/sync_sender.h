// SyncSender: the outgoing half of the sync protocol for one peer. Owns the stream of numbered
// items (one stream per epoch of ours), the window of items sent but not yet acknowledged, the
// set of sessions waiting to be sent (coalesced: one entry per session, its newest state is read
// when it goes out), and the progress of a bulk resync. Pure: time is a parameter.
//
// Order of what goes out: a pending BulkBegin, then changed sessions, then the bulk's sessions,
// then BulkEnd once the bulk is done and nothing changed is waiting. Every session that exists
// at BulkEnd has therefore been sent after BulkBegin, which is what lets the receiver purge
// whatever the bulk did not mention.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_set>
#include <vector>

#include "syncd/core/session.h"
#include "syncd/core/sync_messages.h"

namespace gwsync::syncd {

using Millis = std::chrono::milliseconds;

struct SenderStats {
  uint64_t items_sent = 0;
  uint64_t items_resent = 0;
  uint64_t frames_sent = 0;
  uint64_t acked = 0;
  uint64_t stale_acks = 0;
  uint64_t coalesced = 0;       // a change replaced one still waiting to be sent
  uint64_t bulks_started = 0;
  uint64_t bulks_completed = 0;
  uint64_t streams_started = 0;
  uint64_t resumes = 0;
  uint64_t overflow_resyncs = 0;  // the waiting set outgrew its bound: replaced by a bulk
};

class SyncSender {
 public:
  struct Options {
    uint64_t epoch = 1;
    size_t window = 65536;            // items sent and not yet acknowledged
    size_t max_items_per_frame = 512;
    size_t max_pending = 1u << 20;    // changed sessions waiting; beyond it: bulk instead
    Millis retransmit{1000};
    // New items per poll() (0: as many as the window allows). A bulk's first frames then go
    // on the wire while the rest are still being encoded, instead of after all of them.
    size_t max_items_per_poll = 0;
  };
  // Reads the current state of a session we own; nullopt when it is gone.
  using LocalLookup = std::function<const Session*(const SessionKey&)>;
  // Lists the keys of every session we own (bulk snapshot).
  using LocalKeys = std::function<std::vector<SessionKey>()>;

  SyncSender(Options options, LocalLookup lookup, LocalKeys keys);

  // The session changed or disappeared: its state at sending time goes out (a remove if it is
  // gone by then). Changes to a session still waiting are coalesced.
  void markChanged(const SessionKey& key);
  void startBulk();
  // The session is no longer ours to send (the peer took it over): drop a waiting change.
  void forget(const SessionKey& key) { pending_.erase(key); }

  // Called with the peer's Hello after a (re)connect: resume at next_expected when this stream
  // still holds every item from there on; otherwise start a new stream with a bulk.
  void onPeerHello(uint64_t peer_knows_epoch, uint64_t next_expected, Millis now);
  void onAck(const AckMsg& ack, Millis now);
  void onDisconnected();

  // Frames to send now: retransmissions first, then new items while the window has room.
  std::vector<ItemsMsg> poll(Millis now);
  // The last poll() stopped at max_items_per_poll, so there may be more to send: poll again
  // soon (when it had taken the last item, the next poll returns nothing and clears this).
  bool morePending() const { return more_; }

  bool idle() const { return window_.empty() && pending_.empty() && !bulk_; }
  size_t windowSize() const { return window_.size(); }
  size_t pendingSize() const { return pending_.size(); }
  bool bulkInProgress() const { return bulk_.has_value(); }
  uint64_t epoch() const { return options_.epoch; }
  uint64_t nextSeq() const { return next_seq_; }
  const SenderStats& stats() const { return stats_; }

 private:
  struct Bulk {
    uint64_t id = 0;
    bool begin_sent = false;
    std::vector<SessionKey> keys;
    size_t next = 0;
    uint64_t sessions = 0;
  };

  void startStream();
  std::optional<Item> nextItem();
  Item itemFor(const SessionKey& key);
  void retransmit(std::vector<ItemsMsg>& out);
  void appendItem(std::vector<ItemsMsg>& out, Item item);

  Options options_;
  LocalLookup lookup_;
  LocalKeys keys_;
  uint64_t next_seq_ = 1;
  bool stream_started_ = false;  // false until the first Hello of a connection decided
  bool need_start_flag_ = false;
  std::deque<std::pair<uint64_t, Item>> window_;  // (seq, item), ascending
  std::unordered_set<SessionKey, SessionKeyHash> pending_;
  std::deque<SessionKey> pending_order_;
  std::optional<Bulk> bulk_;
  uint64_t next_bulk_id_ = 1;
  Millis last_progress_{0};
  bool resend_now_ = false;
  bool more_ = false;
  SenderStats stats_;
};

}  // namespace gwsync::syncd
