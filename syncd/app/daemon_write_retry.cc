// Peer copies the kernel refused for want of room. A full conntrack table (nf_conntrack_max)
// makes creates fail with ENOMEM; the peer does not send those sessions again until they
// change or need a refresh (an established TCP session: an hour), so without a retry they
// would stay missing here after room returns, and a failover would lose them. Same class and
// thread as daemon.cc; a separate file to keep each file short.
#include <cerrno>
#include <utility>

#include "syncd/app/daemon.h"

namespace gwsync::syncd {

namespace {

// Errors that say "not now" rather than "never": the same write can succeed later.
bool transient(int err) {
  return err == ENOMEM || err == ENOSPC || err == ENOBUFS || err == EAGAIN || err == EBUSY ||
         err == EINTR;
}

}  // namespace

void Daemon::noteFailedWrite(const KernelChange& c, int err) {
  if (c.origin != KernelChange::Origin::kPeer || c.kind == KernelChange::Kind::kRemove ||
      !transient(err)) {
    return;
  }
  write_retry_.insert(keyOf(c.session));
}

void Daemon::retryFailedWrites() {
  if (write_retry_.empty()) return;
  // Once per refresh interval: a table that stays full costs one batch per interval, and the
  // rate-limited log, not a loop.
  const auto keys = std::exchange(write_retry_, {});
  const Millis t = now();
  std::vector<KernelChange> again;
  again.reserve(keys.size());
  for (const SessionKey& key : keys) {
    const auto it = engine_.peerSessions().find(key);
    if (it == engine_.peerSessions().end()) continue;  // removed or taken over meanwhile
    const PeerEntry entry = (*it).second;  // decoded from the peer table
    // Its timeout counts from when it arrived; an expired one would be gone here anyway.
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(t - entry.received_at);
    if (age.count() >= static_cast<int64_t>(entry.session.timeout)) continue;
    Session s = entry.session;
    s.timeout -= static_cast<uint32_t>(age.count());
    s.mark |= kPeerMark;
    again.push_back({KernelChange::Kind::kCreate, std::move(s), KernelChange::Origin::kPeer});
  }
  stats_.write_retries += again.size();
  // Cold mode: only a commit writes peer copies, so only a commit's failures come back here.
  write(std::move(again));  // what fails again is noted again
}

}  // namespace gwsync::syncd
