#include "syncd/app/daemon.h"

#include <systemd/sd-daemon.h>

#include <boost/asio/post.hpp>
#include <cstring>

#include "nat/binding_check.h"
#include "nat/nft_apply.h"
#include "nat/nft_render.h"
#include "syncd/kernel/ct_dump.h"

namespace gwsync::syncd {

namespace {

constexpr Millis kTick{20};

SyncEngine::Options engineOptions(const Config& c, uint64_t epoch) {
  return SyncEngine::Options{.node_id = c.node.id,
                             .peer_id = c.sync.peer_id,
                             .site = c.node.site,
                             .epoch = epoch,
                             .window = c.sync.window,
                             .max_items_per_frame = 512,
                             .max_items_per_poll = 4096,
                             .heartbeat = Millis{c.sync.heartbeat_ms},
                             .dead_after = Millis{c.sync.dead_after_ms},
                             .retransmit = Millis{c.sync.retransmit_ms},
                             .refresh = Millis{c.kernel.refresh_interval_ms},
                             .peer_mark = kPeerMark,
                             .mobility = c.mobility.has_value(),
                             .mobility_debounce =
                                 Millis{c.mobility ? c.mobility->debounce_ms : 200},
                             .lb_checksum = c.lb ? c.lb->checksum : 0};
}

CtOp opFor(KernelChange::Kind k) {
  switch (k) {
    case KernelChange::Kind::kCreate:
      return CtOp::kCreate;
    case KernelChange::Kind::kUpdate:
      return CtOp::kUpdate;
    case KernelChange::Kind::kRemove:
      return CtOp::kDelete;
  }
  return CtOp::kUpdate;
}

}  // namespace

Result<std::unique_ptr<Daemon>, std::string> Daemon::create(boost::asio::io_context& io,
                                                            Config config, uint64_t epoch,
                                                            std::string config_path) {
  auto writer = ConntrackWriter::open({.batch_bytes = config.kernel.batch_bytes});
  if (!writer) return fail(writer.error());
  std::unique_ptr<Daemon> d(new Daemon(io, std::move(config), epoch, std::move(*writer)));
  d->config_path_ = std::move(config_path);
  ConntrackEventSource::Options eo;
  eo.receive_buffer = static_cast<int>(d->config_.kernel.event_buffer_bytes);
  eo.ignore_port_ids = {d->writer_.portId()};
  Daemon* self = d.get();
  auto events = ConntrackEventSource::open(
      io, eo,
      {.on_events = [self](std::span<const CtEvent> ev) { self->onEvents(ev); },
       .on_overrun =
           [self] {
             ++self->stats_.overruns;
             if (auto note = self->overrun_log_.allow()) {
               logLine(Prio::kWarning, "conntrack events lost (ENOBUFS): resyncing from a dump%s",
                       note->c_str());
             }
             self->snapshot_pending_ = true;
           },
       .on_failure =
           [self](const std::string& why) {
             logLine(Prio::kErr, "%s: stopping (the service manager restarts us)", why.c_str());
             self->failed_ = true;
             self->stop();
             self->io_.stop();  // main's signal wait would keep run() going
           }});
  if (!events) return fail(events.error());
  d->events_ = std::move(*events);
  const auto& sync = d->config_.sync;
  const bool dial = d->config_.node.id < sync.peer_id;
  if (!dial && !sync.listen) {
    return fail("sync.listen is required on the node with the higher id (node.id " +
                std::to_string(d->config_.node.id) + " > sync.peer_id " +
                std::to_string(sync.peer_id) + "): the lower id dials, the higher listens");
  }
  PeerChannelOptions po;
  po.listen = sync.listen;
  po.peer = sync.peer;
  po.dial = dial;
  po.max_frame_bytes = sync.max_frame_bytes;
  po.max_queued_bytes = sync.max_queued_bytes;
  po.backoff_min = Millis{sync.reconnect_min_ms};
  po.backoff_max = Millis{sync.reconnect_max_ms};
  po.tls = d->config_.tls;
  if (sync.insecure_plaintext) {
    logLine(Prio::kWarning,
            "sync.insecure_plaintext: the sync channel is neither authenticated nor encrypted; "
            "anyone who can reach %s can write sessions into this firewall",
            sync.listen ? sync.listen->toString().c_str() : "this node");
  }
  if (d->config_.metrics.listen) {
    d->metrics_ = std::make_unique<Metrics>(MetricsInfo{
        .node_id = d->config_.node.id,
        .peer_id = sync.peer_id,
        .site = d->config_.node.site,
        .mode = d->config_.node.mode == NodeMode::kHot ? "hot" : "cold",
        .version = GWSYNC_VERSION,
        .window = sync.window,
        .insecure_plaintext = sync.insecure_plaintext,
    });
  }
  d->channel_ = std::make_unique<PeerChannel>(
      io, po,
      PeerChannelHandlers{
          .on_up =
              [self] {
                if (auto id = self->channel_->tlsIdentity()) {
                  logLine(Prio::kInfo, "peer %u connected over TLS 1.3: %s, sha256 %s",
                          self->config_.sync.peer_id, id->subject.c_str(),
                          id->fingerprint.c_str());
                } else {
                  logLine(Prio::kInfo, "peer %u connected", self->config_.sync.peer_id);
                }
                self->engine_.onConnected(self->now());
                self->pump();
              },
          .on_message = [self](SyncMessage&& m) { self->onMessage(std::move(m)); },
          .on_down =
              [self](std::string_view reason) {
                logLine(Prio::kWarning, "peer %u disconnected: %.*s (%s)",
                        self->config_.sync.peer_id, static_cast<int>(reason.size()), reason.data(),
                        self->channel_->lastDownDetail().c_str());
                self->engine_.onDisconnected();
                self->peer_rate_.clear();  // unacknowledged: the peer sends them again
              },
          .on_writable = [self] { self->pump(); },
          .on_refused = [self](const std::string& detail) { self->onTlsRefused(detail); },
      });
  return d;
}

Daemon::Daemon(boost::asio::io_context& io, Config config, uint64_t epoch, ConntrackWriter writer)
    : io_(io),
      config_(std::move(config)),
      epoch_(epoch),
      writer_(std::move(writer)),
      engine_(engineOptions(config_, epoch)),
      tick_timer_(io),
      refresh_timer_(io),
      started_(std::chrono::steady_clock::now()),
      peer_screen_({.max_sessions = config_.limits.peer_sessions_max}),
      peer_rate_({.per_second = config_.limits.peer_upserts_per_second,
                  .burst = config_.limits.peer_upsert_burst,
                  .max_queued_items = config_.limits.peer_queue_items},
                 now()) {}

Daemon::~Daemon() { stop(); }

Millis Daemon::now() const {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch());
}

Result<Ok, std::string> Daemon::applyNat(const nat::NatConfig& nc) {
  const std::string table =
      std::string(nat::kNatTableFamily) + " " + std::string(nat::kNatTableName);
  auto text = nat::renderTable(nc, config_.node.id);
  if (!text) return fail("nat: cannot render table " + table + ": " + text.error());
  auto nft = nat::NftApplier::open();
  if (!nft) return fail("nat: cannot open libnftables: " + nft.error());
  if (auto r = nft->replaceTable(*text); !r) {
    return fail("nat: applying table " + table + " failed: " + r.error().toString());
  }
  logLine(Prio::kInfo, "nat: table %s applied for node %u (%zu pools, %zu 1:1 mappings)",
          table.c_str(), config_.node.id, nc.pools.size(), nc.statics.size());
  return Ok{};
}

Result<Ok, std::string> Daemon::start() {
  // NAT first: a table the kernel refuses fails the start before anything else is touched. The
  // table is kept on stop: removing it would stop established translated sessions.
  if (config_.nat) {
    if (auto r = applyNat(*config_.nat); !r) return r;
  }
  if (config_.lb) {
    if (auto r = applyLb(*config_.lb); !r) return r;
  }
  // Events first, so nothing that happens during the dump is missed; they are read after it.
  events_->start();
  snapshot(false);
  if (stats_.dump_failures > 0) return fail(std::string("initial conntrack dump failed"));
  logLine(Prio::kInfo,
          "node %u epoch %llu: %zu sessions of ours, %zu copies to settle with peer %u",
          config_.node.id, static_cast<unsigned long long>(epoch_), engine_.owned().size(),
          engine_.unresolvedSize(), config_.sync.peer_id);
  // Mobility before the channel: the peer's claims need the routes and the redirect set.
  if (auto r = startMobility(); !r) return r;
  // Metrics before the channel: an unusable address fails the start before the peer sees us.
  if (metrics_) {
    updateMetrics();
    if (auto r = metrics_->listen(*config_.metrics.listen); !r) return fail(r.error());
    logLine(Prio::kInfo, "metrics: http://%s/metrics", config_.metrics.listen->toString().c_str());
  }
  if (auto r = channel_->start(); !r) return fail(r.error());
  watchCertificates();
  auto control =
      ControlServer::start(io_, {.path = config_.control.socket, .commands = commands()});
  if (!control) return fail(control.error());
  control_ = std::move(*control);
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0) {
    watchdog_interval_ = std::chrono::microseconds(watchdog_usec);
    logLine(Prio::kInfo, "watchdog: %llu ms, pinged every %llu ms while healthy",
            static_cast<unsigned long long>(watchdog_usec / 1000),
            static_cast<unsigned long long>(watchdog_usec / 2000));
  }
  scheduleTick();
  scheduleRefresh();
  return Ok{};
}

void Daemon::stop() {
  if (stopping_) return;
  stopping_ = true;
  sd_notify(0, "STOPPING=1");
  boost::system::error_code ec;
  tick_timer_.cancel(ec);
  refresh_timer_.cancel(ec);
  if (events_) events_->stop();
  stopMobility();
  if (channel_) channel_->stop();
  if (control_) control_->stop();
}

void Daemon::onEvents(std::span<const CtEvent> events) {
  const SyncSender& snd = engine_.sender();
  const size_t pending_before = snd.pendingSize();
  const uint64_t coalesced_before = snd.stats().coalesced;
  for (const CtEvent& e : events) {
    if (!config_.filter.accepts(e.session)) {
      ++stats_.events_filtered;
      continue;
    }
    const LocalEvent type = e.type == CtEventType::kNew      ? LocalEvent::kNew
                            : e.type == CtEventType::kUpdate ? LocalEvent::kUpdate
                                                             : LocalEvent::kDestroy;
    engine_.onLocalEvent(type, e.session);
  }
  if (metrics_ &&
      (snd.pendingSize() > pending_before || snd.stats().coalesced > coalesced_before)) {
    lag_.onLocalChanges(steadyMicros());  // the batch changed what goes to the peer
  }
  applyChanges();
  pump();
}

void Daemon::onMessage(SyncMessage&& m) {
  ++stats_.messages_in[m.index()];
  if (auto* items = std::get_if<ItemsMsg>(&m)) return onPeerItems(std::move(*items));
  if (!acceptClaim(m)) return;
  if (!engine_.onMessage(m, now())) {
    if (auto note = wrong_peer_log_.allow()) {
      logLine(Prio::kErr, "a node other than peer %u answered: dropping the connection%s",
              config_.sync.peer_id, note->c_str());
    }
    channel_->disconnect("wrong_peer");
    return;
  }
  if (config_.mobility) runHostActions();  // the peer's claims and releases
  applyChanges();
  pump();
  checkReady();
}

void Daemon::snapshot(bool bulk) {
  // The time the dump starts, not ends: every timeout it reads was taken at or after this
  // moment. A dump of a full table (262144 entries) takes seconds on a loaded machine; compared
  // with the time at its end, every peer copy's kernel timeout looked seconds longer than the
  // copy the peer sent, so the engine took the copies for traffic here and claimed them (seen
  // in netns_sync_table_full under load: gw-b claimed 32-1359 of gw-a's sessions, and gw-a then
  // never sent their deletes).
  const Millis started = now();
  std::vector<Session> dump;
  ParseStats st;
  auto r = dumpConntrack(
      [&](Session&& s) {
        // The peer's copies always count: a restarted daemon must find the stale ones.
        if ((s.mark & kPeerMark) != 0 || config_.filter.accepts(s)) dump.push_back(std::move(s));
      },
      st);
  ++stats_.snapshots;
  if (!r) {
    ++stats_.dump_failures;
    logLine(Prio::kErr, "%s", r.error().c_str());
    snapshot_pending_ = true;  // try again at the next tick
    return;
  }
  engine_.onLocalSnapshot(dump, started);
  if (bulk) engine_.requestBulk();
  applyChanges();
  pump();
}

void Daemon::pump() {
  if (stopping_ || !channel_) return;
  if (channel_->writable()) {
    for (const SyncMessage& m : engine_.poll(now())) send(m);
    // A bulk goes out 4096 items per turn of the loop: the first frames are on the wire (and
    // being written into the peer's kernel) while we encode the next ones.
    if (engine_.sender().morePending() && !pump_posted_) {
      pump_posted_ = true;
      boost::asio::post(io_, [this] {
        pump_posted_ = false;
        pump();
      });
    }
  }
  trackLag();
}

bool Daemon::send(const SyncMessage& m) {
  if (!channel_->send(m)) {
    ++stats_.send_refused;
    return false;
  }
  ++stats_.messages_out[m.index()];
  return true;
}

void Daemon::applyChanges() {
  std::vector<KernelChange> changes = engine_.takeKernelChanges();
  if (changes.empty()) return;
  trackRedirects(changes);  // before the cold filter: the set matters in both modes
  if (config_.node.mode == NodeMode::kCold) {
    // Cold standby: the peer's sessions stay in memory until a commit; only corrections of our
    // own kernel are written.
    std::erase_if(changes,
                  [](const KernelChange& c) { return c.origin == KernelChange::Origin::kPeer; });
  }
  write(std::move(changes));
}

void Daemon::checkNatBindings(std::vector<KernelChange>& changes) {
  if (!config_.nat) return;
  const nat::NatConfig& nc = *config_.nat;
  std::erase_if(changes, [&](const KernelChange& c) {
    if (c.origin != KernelChange::Origin::kPeer || c.kind == KernelChange::Kind::kRemove) {
      return false;
    }
    const nat::BindingVerdict v = nat::checkBinding(
        nc, c.session.owner, c.session, config_.mobility && isMobile(c.session.orig.src));
    if (nat::accepted(v) || natAcceptedBefore(c.session)) return false;
    ++stats_.nat_rejected[static_cast<size_t>(v)];
    if (auto note = nat_rejected_log_.allow()) {
      logLine(Prio::kWarning, "nat: dropping peer session with binding %s (owner %u): %s%s",
              std::string(nat::verdictName(v)).c_str(), c.session.owner,
              describe(c.session).c_str(), note->c_str());
    }
    return true;
  });
}

void Daemon::write(std::vector<KernelChange> changes) {
  checkNatBindings(changes);
  std::vector<CtWrite> writes;
  writes.reserve(changes.size());
  for (const KernelChange& c : changes) writes.push_back({opFor(c.kind), &c.session});
  const auto results = writer_.apply(writes);
  stats_.kernel_writes += results.size();
  for (size_t i = 0; i < results.size(); ++i) {
    const int err = results[i].error;
    if (err == 0 || (err == ENOENT && writes[i].op == CtOp::kDelete)) continue;
    ++stats_.kernel_write_errors[err];
    noteFailedWrite(changes[i], err);
    if (auto note = write_errors_log_.allow()) {
      logLine(Prio::kWarning, "kernel %s failed: %s: %s%s",
              std::string(opName(results[i].done)).c_str(), std::strerror(err),
              describe(changes[i].session).c_str(), note->c_str());
    }
  }
}

void Daemon::tick() {
  const Millis t = now();
  if (snapshot_pending_) {
    snapshot_pending_ = false;
    snapshot(true);
  }
  releasePeerItems();
  if (engine_.peerDead(t)) {
    logLine(Prio::kWarning, "peer %u silent for %u ms: reconnecting", config_.sync.peer_id,
            config_.sync.dead_after_ms);
    channel_->disconnect("dead_peer");
  }
  pump();
  checkReady();
  feedWatchdog();
  updateMetrics();
  checkLb();
}

void Daemon::checkReady() {
  if (ready_) return;
  const auto waited = std::chrono::steady_clock::now() - started_;
  const bool exchanged = engine_.receiver().stats().bulks_received > 0 &&
                         engine_.sender().stats().bulks_completed > 0 &&
                         engine_.sender().windowSize() == 0;
  const bool gave_up = waited >= Millis{config_.sync.ready_wait_ms};
  if (!exchanged && !gave_up) return;
  if (engine_.resolving()) {
    logLine(Prio::kWarning, "peer %u did not answer within %u ms: keeping %zu copies from before",
            config_.sync.peer_id, config_.sync.ready_wait_ms, engine_.unresolvedSize());
    engine_.claimUnresolved(now());
  }
  ready_ = true;
  logLine(Prio::kInfo, "ready: %zu sessions of ours, %zu of peer %u (%s)", engine_.owned().size(),
          engine_.peerSessions().size(), config_.sync.peer_id,
          exchanged ? "first bulk exchange done" : "peer absent");
  sd_notify(0, "READY=1");
}

void Daemon::scheduleTick() {
  tick_timer_.expires_after(kTick);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    tick();
    scheduleTick();
  });
}

void Daemon::scheduleRefresh() {
  refresh_timer_.expires_after(Millis{config_.kernel.refresh_interval_ms});
  refresh_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    snapshot(false);  // refreshes idle sessions' timeouts at the peer, catches missed events
    retryFailedWrites();
    scheduleRefresh();
  });
}

}  // namespace gwsync::syncd
