// SyncEngine: one gateway's side of the sync protocol with its peer. Owns the sessions this
// node owns (from its kernel's events and dumps), the sender and receiver halves, and the
// connection-level protocol: Hello on connect and as heartbeat, dead-peer detection, bulk on
// request. Pure and single-threaded: the daemon feeds it events, dumps, frames and the time,
// sends what poll() returns, and writes takeKernelChanges() into the kernel (hot mode) or keeps
// them for a commit (cold mode).
//
// Ownership: a session is ours when our kernel reports activity on it: an event our own writer
// did not cause, or a dump entry that moved on from the state the peer sent us (established TCP
// and ongoing UDP raise no events, only longer timeouts; this is how a failed-over flow comes back
// into sync). When the peer sends an upsert for a session we own, the flow has moved to the peer.
//
// The peer's copies in our kernel carry the `peer_mark` bit of the conntrack mark (never synced,
// cleared when a copy becomes ours). After a restart that bit is what tells a stale copy from a
// session of ours: copies stay unresolved until the peer's first bulk names its sessions; those it
// does not name were deleted at the peer while we were away and are deleted here. With no peer to
// ask (claimUnresolved after the ready wait) we keep them, without sending them to the peer until
// traffic confirms them, so they never take a live flow away from it; the peer's next bulk
// settles those that traffic did not confirm.
#pragma once

#include <string>
#include <utility>
#include <unordered_map>
#include <vector>

#include "syncd/core/mobility.h"
#include "syncd/core/session.h"
#include "syncd/core/sync_messages.h"
#include "syncd/core/sync_receiver.h"
#include "syncd/core/sync_sender.h"

namespace gwsync::syncd {

enum class LocalEvent : uint8_t { kNew, kUpdate, kDestroy };

// The conntrack mark bit that labels the peer's copies in our kernel, unless configured otherwise.
inline constexpr uint32_t kPeerMark = 0x80000000u;

struct EngineStats {
  uint64_t local_changes = 0;
  uint64_t local_removes = 0;
  uint64_t destroy_not_owned = 0;  // a copy of a peer session expired or was deleted here
  uint64_t ownership_gained = 0;
  uint64_t ownership_lost = 0;
  uint64_t refreshes = 0;          // idle sessions re-sent so the peer's copies do not expire
  uint64_t resync_requests_received = 0;
  uint64_t hellos_received = 0;
  uint64_t wrong_peer = 0;         // a Hello from another node id than configured
  uint64_t resolved_by_peer = 0;   // start-up copies the peer's bulk named as its own
  uint64_t stale_copies_deleted = 0;  // start-up copies the peer no longer has
  uint64_t claimed_unresolved = 0; // start-up copies kept for want of a peer
  uint64_t handed_over = 0;        // peer sessions taken over with a host we won
  uint64_t adopted = 0;            // peer sessions of a host we own, taken over on arrival
  uint64_t suppressed_activity = 0;  // activity on a copy of a host the peer owns: not claimed
};

class SyncEngine {
 public:
  struct Options {
    uint32_t node_id = 1;
    uint32_t peer_id = 2;
    std::string site{};
    uint64_t epoch = 1;
    size_t window = 65536;
    size_t max_items_per_frame = 512;
    size_t max_items_per_poll = 0;  // SyncSender::Options::max_items_per_poll
    Millis heartbeat{1000};
    Millis dead_after{4000};
    Millis retransmit{1000};
    Millis refresh{10000};
    uint32_t peer_mark = kPeerMark;  // conntrack mark bit of the peer's copies in our kernel
    // The owned table is sized for this many sessions up front: growing a node-based hash table
    // of 100k entries rehashes all of them at once, a stall of tens of milliseconds in the
    // middle of a burst. The peer table (PeerTable) grows by moving 8-byte index slots only, so
    // it is not sized up front and a standby's memory follows the sessions it holds.
    size_t expected_sessions = 262144;  // nf_conntrack_max's usual value
    // Mobility: hosts and their sessions change owner by claim (Mobility), not by activity.
    bool mobility = false;
    Millis mobility_debounce{200};
    uint64_t lb_checksum = 0;  // ours, sent in Hello (0: no load balancer configured)
  };

  explicit SyncEngine(Options options);
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  // --- our kernel
  void onLocalEvent(LocalEvent type, const Session& s);
  // A full dump of our kernel (start-up, periodic refresh, after lost events): brings the owned
  // set in line with it and queues what changed and what the peer's copies need refreshed.
  // `now` is when the dump started: its timeouts are compared with the peer's copies as of then.
  void onLocalSnapshot(const std::vector<Session>& dump, Millis now);
  void requestBulk() { sender_.startBulk(); }
  // Forgets every peer session and deletes our kernel's copies of them (gwsyncctl flush); the
  // daemon then asks the peer for a resync.
  void flushPeerSessions();
  // No peer to ask: keep every unresolved copy from the start-up dump.
  void claimUnresolved(Millis now);
  bool resolving() const { return resolving_; }
  size_t unresolvedSize() const { return unresolved_.size(); }

  // --- the channel
  void onConnected(Millis now);
  void onDisconnected();
  // Returns false when the connection must be dropped (a Hello from the wrong node).
  bool onMessage(const SyncMessage& m, Millis now);
  // What to send now (Hello/heartbeat, acks, items). Empty while disconnected.
  std::vector<SyncMessage> poll(Millis now);
  bool peerDead(Millis now) const { return connected_ && now - last_heard_ > options_.dead_after; }

  // --- mobility (no-ops unless Options::mobility)
  void onHostSighting(const std::optional<IpAddress>& ip, const std::optional<MacBytes>& mac,
                      Millis now);
  void onProbeResult(const IpAddress& host, bool local, const std::optional<MacBytes>& mac,
                     Millis now);
  // Probes to send, hosts won and lost, for the daemon to carry out (routes, redirects). A won
  // host's sessions are already ours when this returns them (their kernel writes are queued).
  std::vector<Mobility::Action> takeHostActions() { return std::exchange(host_actions_, {}); }
  const Mobility& mobility() const { return mobility_; }
  // The known host among a session's inside addresses (original source, reply source), if any.
  std::optional<IpAddress> hostOf(const Session& s) const;
  uint64_t peerLbChecksum() const { return peer_lb_checksum_; }
  // After a reload: the new checksum goes out in a Hello right away.
  void setLbChecksum(uint64_t checksum) {
    options_.lb_checksum = checksum;
    hello_due_ = true;
  }

  // --- results
  std::vector<KernelChange> takeKernelChanges() { return std::exchange(changes_, {}); }

  struct Owned {
    Session session;
    Millis sent_at{0};          // when its state last went to the peer (0: not yet)
    uint32_t sent_timeout = 0;  // the timeout it carried then
    uint32_t seen = 0;          // the last local snapshot that listed it
    bool by_default = false;    // claimed without activity, for want of an answer from the peer
    Millis claimed_at{0};       // when (by_default only)
  };
  using OwnedTable = std::unordered_map<SessionKey, Owned, SessionKeyHash>;
  const OwnedTable& owned() const { return owned_; }
  const SyncReceiver::Table& peerSessions() const { return receiver_.table(); }
  const SyncSender& sender() const { return sender_; }
  const SyncReceiver& receiver() const { return receiver_; }
  const EngineStats& stats() const { return stats_; }
  bool connected() const { return connected_; }
  const Options& options() const { return options_; }

 private:
  void own(const Session& s, bool by_default = false, Millis now = Millis{0});
  bool peerClaims(const SessionKey& key);
  void resolve();
  // Whether our kernel's entry moved on from `known` (learnt at `known_at`): traffic here.
  bool activeHere(const Session& known, Millis known_at, const Session& kernel, Millis now) const;
  void noteSent(const std::vector<ItemsMsg>& frames, Millis now);
  bool needsRefresh(const Owned& o, const Session& now_state, Millis now) const;
  HelloMsg hello() const;
  void runMobility(Millis now);
  void handOver(const IpAddress& host);
  // True when `s` is a copy of a session whose host the peer owns: activity on it here is the
  // peer's flow passing through us (asymmetric return path), not a move.
  bool peerHostCopy(const Session& s) const;

  Options options_;
  OwnedTable owned_;
  SyncSender sender_;
  SyncReceiver receiver_;
  std::vector<KernelChange> changes_;
  uint64_t version_counter_ = 0;
  uint32_t snapshot_ = 0;
  bool resolving_ = false;
  std::unordered_map<SessionKey, Session, SessionKeyHash> unresolved_;
  bool connected_ = false;
  Millis last_heard_{0};
  Millis last_hello_sent_{0};
  bool hello_due_ = false;
  EngineStats stats_;
  Mobility mobility_;
  std::vector<Mobility::Action> host_actions_;
  uint64_t peer_lb_checksum_ = 0;
};

}  // namespace gwsync::syncd
