// Daemon: gwsyncd's wiring. Owns the kernel adapters (event source, writer), the sync engine,
// the peer channel and the control socket, and moves data between them:
//   kernel events and dumps -> filter -> engine -> channel -> peer
//   peer -> channel -> engine -> writer -> kernel (hot mode; cold mode keeps them until commit)
// Everything runs on one io_context thread (the metrics exposer answers scrapes from its own
// threads, reading only prometheus-cpp's thread-safe copies); nothing throws out of a handler.
#pragma once

// clang-format off: include sorting would move this below the Asio headers.
#include <utility>  // before Asio: Boost 1.74's Asio uses std::exchange without including it
// clang-format on

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "syncd/app/config.h"
#include "syncd/app/control_server.h"
#include "syncd/app/daemon_stats.h"
#include "syncd/app/log.h"
#include "syncd/app/metrics.h"
#include "syncd/app/replication_lag.h"
#include "syncd/core/sync_engine.h"
#include "syncd/kernel/ct_events.h"
#include "syncd/kernel/ct_writer.h"
#include "syncd/net/peer_channel.h"

namespace gwsync::syncd {

// A RateLimit whose next line let through says how many were held back before it.
struct LimitedLog {
  RateLimit limit;
  unsigned long long reported = 0;
  // nullopt: hold the line back; otherwise a suffix for it ("" or " (N similar suppressed)").
  std::optional<std::string> allow();
};

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>, std::string> create(boost::asio::io_context& io,
                                                             Config config, uint64_t epoch);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Takes the initial dump, opens the channel and the control socket, starts the timers.
  Result<Ok, std::string> start();
  // Cancels everything so that io_context::run() returns.
  void stop();
  // True when the daemon stopped because a part of it failed (exit non-zero).
  bool failed() const { return failed_; }
  // SIGHUP (systemctl reload). Nothing is reloaded yet: it says so.
  void reload();

 private:
  Daemon(boost::asio::io_context& io, Config config, uint64_t epoch, ConntrackWriter writer);
  Millis now() const;

  void onEvents(std::span<const CtEvent> events);
  void onMessage(SyncMessage&& m);
  void snapshot(bool bulk);
  void pump();
  void applyChanges();
  void write(std::vector<KernelChange> changes);
  // Drops the peer's creates and updates whose NAT binding nat::checkBinding rejects (counted,
  // logged rate-limited); a no-op without [nat].
  void checkNatBindings(std::vector<KernelChange>& changes);
  // Renders this node's table inet gwsync_nat and replaces it in one transaction (start-up).
  Result<Ok, std::string> applyNat();
  // Sends through the channel, counting by type; false (counted) when the channel refuses.
  bool send(const SyncMessage& m);
  ReplicationLag::SenderView senderView() const;
  void tick();
  // Feeds the systemd watchdog while the loop turns and the event reader is healthy.
  void feedWatchdog();
  void trackLag();
  void updateMetrics();
  static std::chrono::microseconds steadyMicros();
  void checkReady();
  void scheduleTick();
  void scheduleRefresh();

  // Control commands (daemon_control.cc).
  std::map<std::string, ControlServer::Handler, std::less<>> commands();
  std::string cmdStatus() const;
  std::string cmdPeers() const;
  std::string cmdSessions(std::string_view args) const;
  std::string cmdCommit();
  std::string cmdResync();
  std::string cmdFlush();
  std::string cmdStats() const;
  std::string cmdNat() const;

  boost::asio::io_context& io_;
  Config config_;
  uint64_t epoch_;
  ConntrackWriter writer_;
  std::unique_ptr<ConntrackEventSource> events_;
  SyncEngine engine_;
  std::unique_ptr<PeerChannel> channel_;
  std::unique_ptr<ControlServer> control_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer refresh_timer_;
  std::chrono::steady_clock::time_point started_;
  Millis last_heard_log_{0};
  bool ready_ = false;
  bool stopping_ = false;
  bool failed_ = false;
  bool snapshot_pending_ = false;
  DaemonStats stats_;
  // Watchdog: the interval systemd expects a ping in (0: no watchdog), and the last ping.
  std::chrono::microseconds watchdog_interval_{0};
  std::chrono::steady_clock::time_point last_watchdog_{};
  std::unique_ptr<Metrics> metrics_;  // null without metrics.listen
  ReplicationLag lag_;
  // Per-flow and per-attempt problems are logged at most this often; the rest is counted.
  LimitedLog write_errors_log_{{10, std::chrono::seconds(10)}};
  LimitedLog overrun_log_{{5, std::chrono::seconds(60)}};
  LimitedLog wrong_peer_log_{{5, std::chrono::seconds(60)}};
  LimitedLog nat_rejected_log_{{10, std::chrono::seconds(60)}};
};

}  // namespace gwsync::syncd
