// The daemon's guard on what its peer sends (issue 7, docs/security.md): every Items frame passes
// the rate limit (PeerRateLimit), then the screen (PeerScreen: policy check and quota), and only
// then reaches the engine, so a refused session never enters the engine's table or the kernel.
// Also the certificate-expiry watch and the log of refused handshakes. Same thread and class as
// daemon.cc; a separate file to keep each file short.
#include <chrono>

#include "syncd/app/daemon.h"

namespace gwsync::syncd {

namespace {

// ResyncRequestMsg reasons this file sends (1: gwsyncctl resync, 2: gwsyncctl flush).
constexpr uint32_t kResyncAfterQuota = 3;
// A certificate closer than this to its notAfter is warned about at start.
constexpr auto kExpiryWarning = std::chrono::hours(24 * 30);

}  // namespace

PeerPolicy Daemon::peerPolicy() const {
  PeerPolicy p{.peer_id = config_.sync.peer_id,
               .filter = &config_.filter,
               .nat = config_.nat ? &*config_.nat : nullptr,
               .timeout_max_tcp_s = config_.limits.peer_timeout_max_tcp_s,
               .timeout_max_s = config_.limits.peer_timeout_max_s};
  if (!nat_before_.empty()) {
    p.nat_accepted_before = [this](const Session& s) { return natAcceptedBefore(s); };
  }
  if (config_.mobility) {
    p.mobile_host = [this](const Session& s) { return isMobile(s.orig.src); };
  }
  return p;
}

void Daemon::onPeerItems(ItemsMsg&& m) {
  std::vector<ItemsMsg> ready;
  if (peer_rate_.offer(std::move(m), now(), ready) == PeerRateLimit::Verdict::kOverflow) {
    if (auto note = peer_rate_log_.allow()) {
      logLine(Prio::kWarning,
              "peer %u sends faster than limits.peer_upserts_per_second (%u) and beyond "
              "limits.peer_queue_items (%u): frame dropped unacknowledged, the peer resends it%s",
              config_.sync.peer_id, config_.limits.peer_upserts_per_second,
              config_.limits.peer_queue_items, note->c_str());
    }
  }
  deliverPeerItems(ready);
}

void Daemon::releasePeerItems() {
  if (!peer_rate_.empty()) {
    std::vector<ItemsMsg> ready;
    peer_rate_.release(now(), ready);
    deliverPeerItems(ready);
  }
  if (channel_->connected() && peer_screen_.resyncDue(engine_.peerSessions().size(), now())) {
    logLine(Prio::kNotice,
            "peer sessions below 90%% of limits.peer_sessions_max (%u) after refusals: asking "
            "peer %u for a resync",
            config_.limits.peer_sessions_max, config_.sync.peer_id);
    send(ResyncRequestMsg{kResyncAfterQuota});
  }
}

void Daemon::deliverPeerItems(std::vector<ItemsMsg>& frames) {
  if (frames.empty()) return;
  const PeerPolicy policy = peerPolicy();
  const auto on_reject = [this](PeerReject r, const PeerVerdict& v, const Session& s) {
    // The NAT verdicts keep their own counter, `gwsyncctl nat` lines and log (docs/nat.md).
    if (r == PeerReject::kNatBinding) {
      ++stats_.nat_rejected[static_cast<size_t>(v.nat)];
      if (auto note = nat_rejected_log_.allow()) {
        logLine(Prio::kWarning, "nat: dropping peer session with binding %s (owner %u): %s%s",
                std::string(nat::verdictName(v.nat)).c_str(), s.owner, describe(s).c_str(),
                note->c_str());
      }
      return;
    }
    if (auto note = peer_rejected_log_.allow()) {
      logLine(Prio::kWarning, "refusing peer session (%s): %s%s",
              std::string(peerRejectName(r)).c_str(), describe(s).c_str(), note->c_str());
    }
  };
  for (ItemsMsg& f : frames) {
    const SyncReceiver& rcv = engine_.receiver();
    peer_screen_.screen(f, policy,
                        {.peer_epoch = rcv.peerEpoch(),
                         .next_expected = rcv.nextExpected(),
                         .table = &engine_.peerSessions()},
                        on_reject);
    engine_.onMessage(SyncMessage(std::move(f)), now());
  }
  applyChanges();
  pump();
  checkReady();
}

void Daemon::watchCertificates() {
  const std::optional<TlsIdentity> id = channel_->tlsIdentity();
  if (!id) return;
  const auto now = std::chrono::system_clock::now();
  auto warn = [now](const char* what, std::chrono::system_clock::time_point not_after) {
    const auto left = not_after - now;
    if (left >= kExpiryWarning) return;
    const long long days = std::chrono::duration_cast<std::chrono::hours>(left).count() / 24;
    logLine(Prio::kWarning,
            "tls: %s expires in %lld days: renew it (docs/security.md, rotating a key); the "
            "sync channel stops authenticating when it does",
            what, days);
  };
  warn(("certificate " + id->subject).c_str(), id->not_after);
  if (id->ca_not_after) warn("a certificate of tls.ca", *id->ca_not_after);
  if (metrics_) metrics_->watchCertificates(id->not_after, id->ca_not_after);
}

void Daemon::onTlsRefused(const std::string& detail) {
  if (auto note = tls_refused_log_.allow()) {
    logLine(Prio::kWarning, "sync connection with %s refused in the handshake: %s%s",
            config_.sync.peer.toString().c_str(), detail.c_str(), note->c_str());
  }
}

}  // namespace gwsync::syncd
