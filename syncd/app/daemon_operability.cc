// The daemon's operability glue: replication lag, metrics, watchdog. Same thread and
// same class as daemon.cc; a separate file only to keep each file short.
#include <systemd/sd-daemon.h>

#include "syncd/app/daemon.h"

namespace gwsync::syncd {

std::chrono::microseconds Daemon::steadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
}

std::optional<std::string> LimitedLog::allow() {
  if (!limit.allow()) return std::nullopt;
  const unsigned long long held = limit.suppressed() - reported;
  reported = limit.suppressed();
  return held == 0 ? std::string() : " (" + std::to_string(held) + " similar suppressed)";
}

ReplicationLag::SenderView Daemon::senderView() const {
  const SyncSender& snd = engine_.sender();
  return {.next_seq = snd.nextSeq(),
          .window = snd.windowSize(),
          .pending = snd.pendingSize(),
          .bulks_started = snd.stats().bulks_started,
          .streams_started = snd.stats().streams_started};
}

void Daemon::trackLag() {
  if (!metrics_) return;
  std::vector<std::chrono::microseconds> observed;
  lag_.update(senderView(), steadyMicros(), observed);
  for (const auto lag : observed) metrics_->observeReplicationLag(lag);
}

void Daemon::feedWatchdog() {
  // Reached only from the tick, so a stuck loop stops the pings; a failed event reader stops
  // the daemon (failed_), and the pings with it.
  if (watchdog_interval_.count() == 0 || failed_ || stopping_) return;
  const auto t = std::chrono::steady_clock::now();
  if (t - last_watchdog_ < watchdog_interval_ / 2) return;
  last_watchdog_ = t;
  sd_notify(0, "WATCHDOG=1");
}

void Daemon::updateMetrics() {
  if (!metrics_) return;
  const auto t = steadyMicros();
  const ReplicationLag::SenderView v = senderView();
  refreshSlowSample();
  stats_.peer_screen = peer_screen_.stats();
  stats_.peer_rate = peer_rate_.stats();
  metrics_->update(MetricsSample{.now = t,
                                 .peer_up = channel_->connected(),
                                 .ready = ready_,
                                 .epoch = epoch_,
                                 .peer_epoch = engine_.receiver().peerEpoch(),
                                 .unacked = v.window,
                                 .pending = v.pending,
                                 .queued_bytes = channel_->queuedBytes(),
                                 .bulk_in_progress = engine_.sender().bulkInProgress(),
                                 .sessions_owned = engine_.owned().size(),
                                 .sessions_peer = engine_.peerSessions().size(),
                                 .sessions_unresolved = engine_.unresolvedSize(),
                                 .oldest_unacked_age = lag_.oldestUnackedAge(v, t),
                                 .daemon = stats_,
                                 .events = events_->stats(),
                                 .sender = engine_.sender().stats(),
                                 .receiver = engine_.receiver().stats(),
                                 .engine = engine_.stats(),
                                 .channel = channel_->stats(),
                                 .slow = &slow_sample_});
}

}  // namespace gwsync::syncd
