// The metrics of what this node refuses or holds back from its peer (issue 7) and of its TLS
// certificates' expiry. Same class as metrics.cc; a separate file to keep each file short.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include "syncd/app/metrics.h"

namespace gwsync::syncd {

void Metrics::registerPeerGuard() {
  using Sample = MetricsSample;
  auto& rejected = counters("gwsync_peer_sessions_rejected_total",
                            "Sessions from the peer refused before the kernel, by reason "
                            "(docs/security.md); each refused upsert counts once");
  for (size_t i = 0; i < kPeerRejectCount; ++i) {
    bind(rejected, {{"reason", std::string(peerRejectName(static_cast<PeerReject>(i)))}},
         [i](const Sample& s) { return s.daemon.peer_screen.rejected[i]; });
  }
  bind(counters("gwsync_peer_session_timeouts_capped_total",
                "Peer sessions accepted with their timeout lowered to limits.peer_timeout_max_*"),
       {}, [](const Sample& s) { return s.daemon.peer_screen.timeouts_capped; });
  bind(counters("gwsync_peer_quota_resyncs_total",
                "Bulks asked of the peer after quota refusals, once the table had room again"),
       {}, [](const Sample& s) { return s.daemon.peer_screen.quota_resyncs; });
  bind(counters("gwsync_peer_upserts_delayed_total",
                "Peer upserts that waited for the rate limit (limits.peer_upserts_per_second)"),
       {}, [](const Sample& s) { return s.daemon.peer_rate.upserts_delayed; });
  auto& dropped = counters("gwsync_peer_frames_dropped_total",
                           "Peer frames dropped unacknowledged (the peer resends them): "
                           "queue_full (limits.peer_queue_items), disconnected");
  bind(dropped, {{"reason", "queue_full"}},
       [](const Sample& s) { return s.daemon.peer_rate.frames_overflowed; });
  bind(dropped, {{"reason", "disconnected"}},
       [](const Sample& s) { return s.daemon.peer_rate.frames_cleared; });
  bind(gauges("gwsync_peer_rate_queue_items", "Peer items waiting for the rate limit"), {},
       [](const Sample& s) { return static_cast<double>(s.daemon.peer_rate.queued_items); });
}

void Metrics::watchCertificates(std::chrono::system_clock::time_point local,
                                std::optional<std::chrono::system_clock::time_point> ca) {
  auto& expiry = gauges("gwsync_tls_certificate_expiry_seconds",
                        "Seconds until the notAfter of this node's certificate (local) and of "
                        "the earliest CA certificate in tls.ca (ca); negative once expired");
  auto left = [](std::chrono::system_clock::time_point t) {
    return [t](const MetricsSample&) {
      return std::chrono::duration<double>(t - std::chrono::system_clock::now()).count();
    };
  };
  bind(expiry, {{"cert", "local"}}, left(local));
  if (ca) bind(expiry, {{"cert", "ca"}}, left(*ca));
}

}  // namespace gwsync::syncd
