// PeerScreen: runs checkPeerSession (peer_validation.h) and the peer-session quota over an Items
// frame from the peer, before the sync engine sees it. Owns the policy, the quota and the counts.
//
// A refused upsert is not removed from the frame (that would leave a hole in the peer's sequence
// numbers: the receiver would stop at the gap and wait for a resend forever) but turned into a
// remove of the same session, in place. So the receiver applies and acknowledges it like any
// item, and then:
//  - a session it never had stays out of its table (no memory is spent on it, a later commit
//    or refresh never writes it, and it is counted once per upsert the peer sends);
//  - a session it held in an earlier, acceptable state is removed, from the table and from the
//    kernel: we keep no copy of a state the peer has since left;
//  - a session this node owns stays ours (a remove only touches the peer's sessions), so an
//    unacceptable upsert cannot take a flow away either.
//
// Quota: an upsert of a session not in the peer table yet, while it already holds
// peer_sessions_max, is refused (reason quota); updates of held sessions always pass. Once
// refusals happened and the table has room again (below 90 %), resyncDue() says so, at most once
// a minute, and the daemon asks the peer for a bulk: refused sessions arrive once there is room.
//
// Pure: the daemon passes the receiver's position and table; time is a parameter.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "syncd/app/peer_validation.h"
#include "syncd/core/sync_receiver.h"

namespace gwsync::syncd {

struct PeerScreenStats {
  std::array<uint64_t, kPeerRejectCount> rejected{};  // by PeerReject
  uint64_t timeouts_capped = 0;
  uint64_t quota_resyncs = 0;  // bulks asked for after quota refusals
};

class PeerScreen {
 public:
  struct Options {
    size_t max_sessions = 262144;
    Millis resync_interval{60000};
  };
  // Where the receiver stands: items it would skip as duplicates are left alone (not counted
  // twice), and frames of an older epoch, which it ignores, are not looked at.
  struct ReceiverView {
    uint64_t peer_epoch = 0;
    uint64_t next_expected = 0;  // 0: no stream yet
    const SyncReceiver::Table* table = nullptr;
  };
  using OnReject = std::function<void(PeerReject, const PeerVerdict&, const Session&)>;

  explicit PeerScreen(Options options) : options_(options) {}

  // Screens `m` in place against `policy` (passed each time: a reload may change the [nat] it
  // points to); calls on_reject (may be empty) for every refused upsert (with kNatBinding,
  // PeerVerdict::nat says which binding verdict).
  void screen(ItemsMsg& m, const PeerPolicy& policy, const ReceiverView& receiver,
              const OnReject& on_reject);
  // True when the peer should be asked for a bulk (see above); counts it.
  bool resyncDue(size_t peer_sessions, Millis now);

  const PeerScreenStats& stats() const { return stats_; }
  const Options& options() const { return options_; }

 private:
  static void refuse(Item& item);

  Options options_;
  PeerScreenStats stats_;
  bool quota_refused_ = false;  // since the last resync request
  Millis last_resync_{-1000000000};
};

}  // namespace gwsync::syncd
