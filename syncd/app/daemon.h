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
#include <unordered_map>
#include <unordered_set>
#include <string>
#include <vector>

#include "syncd/app/config.h"
#include "syncd/app/control_server.h"
#include "syncd/app/daemon_stats.h"
#include "syncd/app/log.h"
#include "syncd/app/metrics.h"
#include "syncd/app/peer_rate_limit.h"
#include "syncd/app/peer_screen.h"
#include "syncd/app/replication_lag.h"
#include "syncd/core/sync_engine.h"
#include "syncd/kernel/ct_events.h"
#include "syncd/kernel/host_routes.h"
#include "syncd/kernel/host_watch.h"
#include "syncd/kernel/redirect_set.h"
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
  // config_path: the file `config` was read from, read again on reload().
  static Result<std::unique_ptr<Daemon>, std::string> create(boost::asio::io_context& io,
                                                             Config config, uint64_t epoch,
                                                             std::string config_path);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Takes the initial dump, opens the channel and the control socket, starts the timers.
  Result<Ok, std::string> start();
  // Cancels everything so that io_context::run() returns.
  void stop();
  // True when the daemon stopped because a part of it failed (exit non-zero).
  bool failed() const { return failed_; }
  // SIGHUP (systemctl reload): reads the config file again and applies the sections that can
  // change at run time; the rest keep their running values (daemon_reload.cc).
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
  // Peer copies the kernel refused for want of room (a full table): written again at every
  // refresh while the peer still has them (daemon_write_retry.cc).
  void noteFailedWrite(const KernelChange& c, int err);
  void retryFailedWrites();
  // What the peer sends passes the rate limit, then the screen (policy check and quota), then
  // the engine (daemon_peer_guard.cc, docs/security.md).
  void onPeerItems(ItemsMsg&& m);
  void releasePeerItems();  // from the tick: frames whose tokens came; a quota resync
  void deliverPeerItems(std::vector<ItemsMsg>& frames);
  PeerPolicy peerPolicy() const;
  // Certificate expiry: the metric, and a warning at start when it is near.
  void watchCertificates();
  void onTlsRefused(const std::string& detail);
  // Renders this node's table inet gwsync_nat and replaces it in one transaction (start-up,
  // reload).
  Result<Ok, std::string> applyNat(const nat::NatConfig& nc);
  // Reload (daemon_reload.cc): one function per reloadable section, each comparing the running
  // section with the new one and applying the change; and whether a binding the current [nat]
  // rejects was valid under a configuration in force before a reload.
  enum class SectionReload : uint8_t { kUnchanged, kApplied, kRestartNeeded, kFailed };
  SectionReload reloadNat(const Config& next);
  // Load balancer (daemon_lb.cc, docs/lb.md): table inet gwsync_lb at start and on reload, the
  // peer's table checksum compared with ours, per-service metrics, the service of a session.
  Result<Ok, std::string> applyLb(const lb::LbConfig& lc);
  SectionReload reloadLb(const Config& next);
  void checkLb();  // from the tick
  std::string lbServiceNote(const Session& s) const;  // " service=NAME" for LB sessions
  struct LbState;
  struct LbStateDeleter {
    void operator()(LbState* p) const;
  };
  std::unique_ptr<LbState, LbStateDeleter> lb_state_;
  bool natAcceptedBefore(const Session& s) const;
  // Mobility (daemon_mobility.cc, docs/mobility.md).
  Result<Ok, std::string> startMobility();
  void stopMobility();
  bool isMobile(const IpAddress& ip) const;
  // False (counted, logged) for a peer's claim of a host outside mobile_prefixes or beyond
  // max_hosts; true for every other message.
  bool acceptClaim(const SyncMessage& m);
  void onSighting(const HostSighting& s);
  void onProbeResult(const IpAddress& host, bool local);
  void runHostActions();  // carries out the engine's probes, wins and losses
  void hostWon(const Mobility::Action& a);
  void hostLost(const Mobility::Action& a);
  std::vector<IpAddress> routesFor(const IpAddress& host) const;  // the host and its 1:1 address
  void sessionsOf(const IpAddress& host, std::vector<Session>& out) const;
  void markLiberal(const std::vector<Session>& sessions);
  // The return path for the peer's writes: new flows of peer-owned hosts into the redirect set,
  // ended ones out; or the be-liberal flag kept on them (return_path = "liberal").
  void trackRedirects(std::vector<KernelChange>& changes);
  static std::string fmtMs(double ms);
  std::string cmdVm() const;
  // Sessions by kind and mobility figures for /metrics, at most once a second.
  void refreshSlowSample();
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
  std::string config_path_;
  // [nat] configurations replaced by reloads, newest last (bounded): sessions set up before a
  // reload keep their ports, so their bindings stay valid.
  std::vector<nat::NatConfig> nat_before_;
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
  bool pump_posted_ = false;  // a pump() is queued on the loop (a bulk in progress)
  DaemonStats stats_;
  std::unordered_set<SessionKey, SessionKeyHash> write_retry_;  // see retryFailedWrites
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
  // Mobility: adapters (null/empty without [mobility]), the flows in the redirect set by
  // session, and each host's last handoff timeline (ms after the sighting that started it).
  std::unique_ptr<HostWatch> host_watch_;
  std::optional<HostRoutes> host_routes_;
  std::optional<RedirectSet> redirect_;
  std::unordered_map<SessionKey, Tuple, SessionKeyHash> redirected_;
  struct HostTimeline {
    std::chrono::steady_clock::time_point sighted{};
    std::string sighting;  // what started it: rarp, garp, neighbour, ...
    double probe_ms = 0, won_ms = 0, committed_ms = 0, routed_ms = 0;
    uint64_t move_seq = 0;
    bool moved_in = false;
    size_t sessions = 0;
  };
  std::map<IpAddress, HostTimeline> timeline_;
  struct MobilityDaemonStats {
    uint64_t not_mobile = 0, over_max_hosts = 0, probe_errors = 0, won = 0, lost = 0,
             route_errors = 0, redirect_errors = 0, liberal_marked = 0, claims_refused = 0;
  } mobility_stats_;
  double last_handoff_ms_ = 0;
  LimitedLog claim_refused_log_{{5, std::chrono::seconds(60)}};
  SlowSample slow_sample_;
  std::chrono::steady_clock::time_point slow_at_{};
  PeerScreen peer_screen_;
  PeerRateLimit peer_rate_;
  LimitedLog peer_rejected_log_{{10, std::chrono::seconds(60)}};
  LimitedLog peer_rate_log_{{5, std::chrono::seconds(60)}};
  LimitedLog tls_refused_log_{{10, std::chrono::seconds(60)}};
};

}  // namespace gwsync::syncd
