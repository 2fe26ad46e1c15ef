// SyncReceiver: the incoming half of the sync protocol for one peer. Owns the peer's sessions
// as we last heard them, the position in the peer's stream, and the bulk purge bookkeeping.
// Items are applied strictly in sequence order; duplicates and items after a gap are dropped
// (the sender resends from the last acknowledged one). Pure: it returns what changed and the
// daemon applies that to the kernel (hot mode) or keeps it until commit (cold mode).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "syncd/core/peer_table.h"
#include "syncd/core/session.h"
#include "syncd/core/sync_messages.h"
#include "syncd/core/sync_sender.h"

namespace gwsync::syncd {

// A write the daemon carries out on its kernel: a peer session to create, update or delete, or
// one of our own entries to correct.
struct KernelChange {
  enum class Kind : uint8_t { kCreate, kUpdate, kRemove };
  // kPeer: the peer's session (cold mode keeps these until a commit); kLocal: a correction of our
  // own kernel (a copy that became ours, a stale copy to delete), applied in either mode.
  enum class Origin : uint8_t { kPeer, kLocal };
  Kind kind;
  Session session;  // kRemove: zone and orig
  Origin origin = Origin::kPeer;
};

struct ReceiverStats {
  uint64_t items_applied = 0;
  uint64_t duplicates = 0;
  uint64_t gaps = 0;             // frames cut short: an item was missing
  uint64_t no_stream = 0;        // items before any stream start
  uint64_t stale_epoch = 0;      // frames of an older epoch of the peer
  uint64_t stale_versions = 0;   // upserts older than what we hold
  uint64_t peer_restarts = 0;    // a newer epoch appeared
  uint64_t bulks_received = 0;
  uint64_t bulk_mismatches = 0;  // BulkEnd without its BulkBegin
  uint64_t purged = 0;           // removed at BulkEnd: the peer no longer has them
  uint64_t claims_refused = 0;   // upserts ignored: the session stays ours
};

class SyncReceiver {
 public:
  using PeerEntry = syncd::PeerEntry;
  using Table = PeerTable;
  // Asked before an upsert is taken: the peer claims the session. Returns false when we keep
  // it as ours; the upsert is then ignored.
  using Claim = std::function<bool(const SessionKey&)>;

  explicit SyncReceiver(Claim claim) : claim_(std::move(claim)) {}

  // A Hello from the peer: a newer epoch means it restarted and its old state is suspect.
  void onHello(const HelloMsg& hello);
  // Applies what it can of the frame; changes are appended to `out`.
  void onItems(const ItemsMsg& msg, Millis now, std::vector<KernelChange>& out);

  // For our Hello and acks: the peer stream we follow and the next item we expect (0: none).
  uint64_t peerEpoch() const { return peer_epoch_; }
  uint64_t nextExpected() const { return expected_; }
  // An ack is due after frames were processed; cleared by takeAck().
  std::optional<AckMsg> takeAck();

  const Table& table() const { return table_; }
  Table& table() { return table_; }
  const ReceiverStats& stats() const { return stats_; }

 private:
  void apply(const Item& item, Millis now, std::vector<KernelChange>& out);
  void upsert(const Session& s, Millis now, std::vector<KernelChange>& out);
  void purge(std::vector<KernelChange>& out);

  Claim claim_;
  uint64_t peer_epoch_ = 0;
  uint64_t expected_ = 0;
  bool ack_due_ = false;
  uint64_t generation_ = 0;  // bumped by every BulkBegin
  std::optional<uint64_t> bulk_id_;
  Table table_;
  ReceiverStats stats_;
};

}  // namespace gwsync::syncd
