#include "syncd/app/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cstring>
#include <exception>
#include <sstream>

namespace gwsync::syncd {

namespace {

using Sample = MetricsSample;

double seconds(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1e6; }

// "EEXIST"; the number for an errno glibc has no name for (still a bounded set).
std::string errnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "errno_" + std::to_string(err);
}

// Replication takes milliseconds on a LAN and seconds over a lossy WAN or behind a bulk.
const std::vector<double> kLagBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,   30};
const std::vector<double> kBulkBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

}  // namespace

Metrics::Metrics(const MetricsInfo& info) : registry_(std::make_shared<prometheus::Registry>()) {
  registerState(info);
  registerSync();
  registerPeer();
  registerKernel();
  registerPeerGuard();
  registerMobility();
}

Metrics::~Metrics() = default;

Metrics::Counters& Metrics::counters(const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
}

Metrics::Gauges& Metrics::gauges(const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
}

void Metrics::bind(Counters& family, const std::map<std::string, std::string>& labels,
                   std::function<uint64_t(const Sample&)> get) {
  counter_bindings_.push_back({&family.Add(labels), std::move(get)});
}

void Metrics::bind(Gauges& family, const std::map<std::string, std::string>& labels,
                   std::function<double(const Sample&)> get) {
  gauge_bindings_.push_back({&family.Add(labels), std::move(get)});
}

void Metrics::registerState(const MetricsInfo& info) {
  gauges("gwsync_node_info", "This node: its id, its peer's id, site, mode (hot/cold), version")
      .Add({{"node_id", std::to_string(info.node_id)},
            {"peer_id", std::to_string(info.peer_id)},
            {"site", info.site},
            {"mode", info.mode},
            {"version", info.version}})
      .Set(1);
  gauges("gwsync_window_items", "sync.window: the most items unacknowledged at once")
      .Add({})
      .Set(static_cast<double>(info.window));
  gauges("gwsync_sync_insecure_plaintext",
         "1 when the sync channel runs without TLS (sync.insecure_plaintext): alert on it")
      .Add({})
      .Set(info.insecure_plaintext ? 1 : 0);
  bind(gauges("gwsync_peer_up", "1 while the sync connection to the peer is up"), {},
       [](const Sample& s) { return s.peer_up ? 1.0 : 0.0; });
  bind(gauges("gwsync_ready",
              "1 once the daemon signalled READY (first bulk exchange, or "
              "ready_wait_ms without a peer)"),
       {}, [](const Sample& s) { return s.ready ? 1.0 : 0.0; });
  bind(gauges("gwsync_epoch", "This node's stream epoch (bumped at every start)"), {},
       [](const Sample& s) { return static_cast<double>(s.epoch); });
  bind(gauges("gwsync_peer_epoch", "The peer's epoch this node follows (0: none yet)"), {},
       [](const Sample& s) { return static_cast<double>(s.peer_epoch); });
  auto& sessions = gauges("gwsync_sessions",
                          "Sessions held, by table: owned (ours, sent to the peer), peer (the "
                          "peer's copies), unresolved (start-up copies awaiting the peer's bulk)");
  bind(sessions, {{"table", "owned"}}, [](const Sample& s) { return s.sessions_owned; });
  bind(sessions, {{"table", "peer"}}, [](const Sample& s) { return s.sessions_peer; });
  bind(sessions, {{"table", "unresolved"}}, [](const Sample& s) { return s.sessions_unresolved; });
}

void Metrics::registerSync() {
  bind(gauges("gwsync_unacked_items",
              "Items sent and not yet acknowledged (the resend queue; "
              "at most gwsync_window_items)"),
       {}, [](const Sample& s) { return s.unacked; });
  bind(gauges("gwsync_pending_sessions",
              "Changed sessions waiting for room in the window (coalesced per session)"),
       {}, [](const Sample& s) { return s.pending; });
  bind(gauges("gwsync_oldest_unacked_age_seconds",
              "Time since the oldest unacknowledged item was first sent (0: none)"),
       {}, [](const Sample& s) { return seconds(s.oldest_unacked_age); });
  bind(gauges("gwsync_bulk_in_progress", "1 while a bulk resync to the peer is being sent"), {},
       [](const Sample& s) { return s.bulk_in_progress ? 1.0 : 0.0; });

  bind(counters("gwsync_items_sent_total", "Items sent to the peer for the first time"), {},
       [](const Sample& s) { return s.sender.items_sent; });
  bind(counters("gwsync_items_resent_total",
                "Items retransmitted (go-back-N after "
                "retransmit_ms without progress, or a resume)"),
       {}, [](const Sample& s) { return s.sender.items_resent; });
  bind(counters("gwsync_items_acked_total", "Items the peer acknowledged"), {},
       [](const Sample& s) { return s.sender.acked; });
  bind(counters("gwsync_items_applied_total", "Items received from the peer and applied"), {},
       [](const Sample& s) { return s.receiver.items_applied; });
  bind(counters("gwsync_sequence_gaps_total",
                "Frames from the peer cut short by a missing sequence number"),
       {}, [](const Sample& s) { return s.receiver.gaps; });
  bind(counters("gwsync_duplicate_items_total", "Items from the peer received twice (skipped)"), {},
       [](const Sample& s) { return s.receiver.duplicates; });
  auto& drops =
      counters("gwsync_receive_drops_total", "Items or frames from the peer ignored, by reason");
  bind(drops, {{"reason", "no_stream"}}, [](const Sample& s) { return s.receiver.no_stream; });
  bind(drops, {{"reason", "stale_epoch"}}, [](const Sample& s) { return s.receiver.stale_epoch; });
  bind(drops, {{"reason", "stale_version"}},
       [](const Sample& s) { return s.receiver.stale_versions; });
  bind(drops, {{"reason", "claim_refused"}},
       [](const Sample& s) { return s.receiver.claims_refused; });
  bind(drops, {{"reason", "bulk_mismatch"}},
       [](const Sample& s) { return s.receiver.bulk_mismatches; });
  bind(counters("gwsync_stale_acks_total", "Acks for another epoch or an unsent item"), {},
       [](const Sample& s) { return s.sender.stale_acks; });
  bind(counters("gwsync_coalesced_changes_total",
                "Changes that replaced a waiting change of the same session"),
       {}, [](const Sample& s) { return s.sender.coalesced; });

  bind(counters("gwsync_bulks_started_total", "Bulk resyncs started towards the peer"), {},
       [](const Sample& s) { return s.sender.bulks_started; });
  bind(counters("gwsync_bulks_sent_total", "Bulk resyncs sent to the peer completely"), {},
       [](const Sample& s) { return s.sender.bulks_completed; });
  bind(counters("gwsync_bulks_received_total", "Bulk resyncs received from the peer"), {},
       [](const Sample& s) { return s.receiver.bulks_received; });
  bind(counters("gwsync_bulk_purged_sessions_total",
                "Peer sessions removed at the end of a peer bulk that did not name them"),
       {}, [](const Sample& s) { return s.receiver.purged; });
  auto& resyncs = counters("gwsync_resyncs_total",
                           "Resyncs (bulk to the peer) by cause: overrun (kernel events lost), "
                           "peer_request, local_request (gwsyncctl resync), overflow (waiting "
                           "set outgrew its bound), new_stream (the peer could not resume)");
  bind(resyncs, {{"reason", "overrun"}}, [](const Sample& s) { return s.daemon.overruns; });
  bind(resyncs, {{"reason", "peer_request"}},
       [](const Sample& s) { return s.engine.resync_requests_received; });
  bind(resyncs, {{"reason", "local_request"}},
       [](const Sample& s) { return s.daemon.local_resyncs; });
  bind(resyncs, {{"reason", "overflow"}},
       [](const Sample& s) { return s.sender.overflow_resyncs; });
  bind(resyncs, {{"reason", "new_stream"}},
       [](const Sample& s) { return s.sender.streams_started; });
  bind(counters("gwsync_stream_resumes_total", "Reconnects that resumed the stream"), {},
       [](const Sample& s) { return s.sender.resumes; });
  bind(counters("gwsync_peer_restarts_total", "New epochs seen from the peer"), {},
       [](const Sample& s) { return s.receiver.peer_restarts; });
  auto& ownership = counters("gwsync_ownership_changes_total",
                             "Sessions that became ours (gained) or the peer's (lost)");
  bind(ownership, {{"change", "gained"}},
       [](const Sample& s) { return s.engine.ownership_gained; });
  bind(ownership, {{"change", "lost"}}, [](const Sample& s) { return s.engine.ownership_lost; });
  bind(counters("gwsync_refreshes_total", "Idle sessions re-sent so the peer's copies live on"), {},
       [](const Sample& s) { return s.engine.refreshes; });
  bind(counters("gwsync_stale_copies_deleted_total",
                "Start-up copies deleted because the peer no longer has them"),
       {}, [](const Sample& s) { return s.engine.stale_copies_deleted; });

  replication_lag_ =
      &prometheus::BuildHistogram()
           .Name("gwsync_replication_lag_seconds")
           .Help(
               "Time from gwsyncd reading a batch of local conntrack events to the peer's "
               "cumulative ack covering the last item that carried them; one observation per "
               "batch; batches folded into a bulk resync are not observed")
           .Register(*registry_)
           .Add({}, kLagBuckets);
  bulk_duration_ = &prometheus::BuildHistogram()
                        .Name("gwsync_bulk_duration_seconds")
                        .Help(
                            "Time from the start of a bulk resync to its BulkEnd being sent "
                            "(measured at the daemon's 20 ms tick)")
                        .Register(*registry_)
                        .Add({}, kBulkBuckets);
}

void Metrics::registerPeer() {
  auto& messages =
      counters("gwsync_messages_total", "Sync messages (one per frame) by direction and type");
  for (size_t i = 0; i < kMessageTypeNames.size(); ++i) {
    const std::string type(kMessageTypeNames[i]);
    bind(messages, {{"direction", "in"}, {"type", type}},
         [i](const Sample& s) { return s.daemon.messages_in[i]; });
    bind(messages, {{"direction", "out"}, {"type", type}},
         [i](const Sample& s) { return s.daemon.messages_out[i]; });
  }
  auto& bytes = counters("gwsync_peer_bytes_total", "Bytes on the sync connection by direction");
  bind(bytes, {{"direction", "in"}}, [](const Sample& s) { return s.channel.bytes_in; });
  bind(bytes, {{"direction", "out"}}, [](const Sample& s) { return s.channel.bytes_out; });
  bind(gauges("gwsync_peer_queued_bytes", "Bytes queued for the peer, not yet written"), {},
       [](const Sample& s) { return s.queued_bytes; });
  bind(counters("gwsync_peer_connects_total", "Sync connections that came up"), {},
       [](const Sample& s) { return s.channel.connects; });
  bind(counters("gwsync_peer_connect_failures_total", "Dial attempts that failed or timed out"), {},
       [](const Sample& s) { return s.channel.connect_failures; });
  auto& downs = counters("gwsync_peer_disconnects_total", "Sync connections lost, by reason");
  for (size_t i = 0; i < kDisconnectReasonCount; ++i) {
    bind(downs, {{"reason", std::string(disconnectReasonName(static_cast<DisconnectReason>(i)))}},
         [i](const Sample& s) { return s.channel.disconnects[i]; });
  }
  auto& frames = counters("gwsync_frame_rejections_total",
                          "Frames from the peer rejected by the decoder, by reason (the "
                          "connection is dropped)");
  for (size_t i = 0; i < kFrameErrorCount; ++i) {
    bind(frames, {{"reason", std::string(frameErrorName(static_cast<FrameError>(i)))}},
         [i](const Sample& s) { return s.channel.decode_errors[i]; });
  }
  auto& tls = counters("gwsync_peer_tls_refusals_total",
                       "Connections refused during the TLS handshake, by reason (no certificate, "
                       "wrong pin, untrusted, expired, not TLS, ...): someone without the peer's "
                       "key tried the sync port");
  for (size_t i = 0; i < kTlsErrorCount; ++i) {
    bind(tls, {{"reason", std::string(tlsErrorName(static_cast<TlsError>(i)))}},
         [i](const Sample& s) { return s.channel.tls_errors[i]; });
  }
  auto& records = counters("gwsync_session_rejections_total",
                           "Session records rejected by the decoder, by reason (each also "
                           "counts as a bad_session frame rejection)");
  for (size_t i = 0; i < kDecodeErrorCount; ++i) {
    bind(records, {{"reason", std::string(reasonName(static_cast<DecodeError>(i)))}},
         [i](const Sample& s) { return s.channel.session_errors[i]; });
  }
  auto& peers = counters("gwsync_peer_rejections_total",
                         "Connections refused: from an address other than the peer's "
                         "(source_address) or a Hello from another node id (node_id)");
  bind(peers, {{"reason", "source_address"}}, [](const Sample& s) { return s.channel.rejected; });
  bind(peers, {{"reason", "node_id"}}, [](const Sample& s) { return s.engine.wrong_peer; });
  auto& refused = counters("gwsync_send_refused_total",
                           "Frames the channel refused: queue_full (backpressure) or oversized");
  bind(refused, {{"reason", "queue_full"}}, [](const Sample& s) { return s.channel.send_refused; });
  bind(refused, {{"reason", "oversized"}},
       [](const Sample& s) { return s.channel.oversized_sends; });
  auto& errors = counters("gwsync_peer_errors_total",
                          "Channel errors: accept (e.g. out of file descriptors), handler");
  bind(errors, {{"reason", "accept"}}, [](const Sample& s) { return s.channel.accept_errors; });
  bind(errors, {{"reason", "handler"}}, [](const Sample& s) { return s.channel.handler_errors; });
}

void Metrics::registerKernel() {
  bind(counters("gwsync_events_received_total", "Conntrack event messages read from the kernel"),
       {}, [](const Sample& s) { return s.events.received; });
  bind(counters("gwsync_events_own_skipped_total",
                "Conntrack events caused by gwsyncd's own writes (skipped)"),
       {}, [](const Sample& s) { return s.events.skipped_own; });
  bind(counters("gwsync_events_filtered_total", "Conntrack events not synced by [filter]"), {},
       [](const Sample& s) { return s.daemon.events_filtered; });
  auto& parse = counters("gwsync_event_parse_errors_total",
                         "Conntrack event messages that did not parse, by reason");
  for (size_t i = 0; i < static_cast<size_t>(ParseError::kCount); ++i) {
    bind(parse, {{"reason", std::string(parseErrorName(static_cast<ParseError>(i)))}},
         [i](const Sample& s) { return s.events.parse.errors[i]; });
  }
  bind(counters("gwsync_netlink_overruns_total",
                "ENOBUFS on the conntrack event socket: events lost, repaired by a dump and a "
                "bulk (raise kernel.event_buffer_bytes if this grows)"),
       {}, [](const Sample& s) { return s.events.overruns; });
  bind(gauges("gwsync_event_receive_buffer_bytes",
              "Receive buffer of the conntrack event socket, as the kernel reports it"),
       {}, [](const Sample& s) { return s.events.receive_buffer; });
  bind(counters("gwsync_snapshots_total", "Full conntrack dumps taken"), {},
       [](const Sample& s) { return s.daemon.snapshots; });
  bind(counters("gwsync_snapshot_failures_total", "Conntrack dumps that failed (retried)"), {},
       [](const Sample& s) { return s.daemon.dump_failures; });
  bind(counters("gwsync_kernel_writes_total", "Conntrack create/update/delete requests sent"), {},
       [](const Sample& s) { return s.daemon.kernel_writes; });
  bind(counters("gwsync_kernel_write_retries_total",
                "Peer sessions written again after the kernel had no room for them (ENOMEM), "
                "once per refresh interval while the peer still has them"),
       {}, [](const Sample& s) { return s.daemon.write_retries; });
  bind(counters("gwsync_commits_total", "gwsyncctl commit runs"), {},
       [](const Sample& s) { return s.daemon.commits; });
  kernel_write_errors_ = &counters("gwsync_kernel_write_errors_total",
                                   "Conntrack writes the kernel refused, by errno name");
  auto& nat_rejected = counters("gwsync_nat_binding_rejected_total",
                                "Peer sessions not written because their NAT binding failed the "
                                "partition check, by reason (docs/nat.md)");
  for (size_t i = 0; i < nat::kBindingVerdicts; ++i) {
    const auto v = static_cast<nat::BindingVerdict>(i);
    if (nat::accepted(v)) continue;
    bind(nat_rejected, {{"reason", std::string(nat::verdictName(v))}},
         [i](const Sample& s) { return s.daemon.nat_rejected[i]; });
  }
  auto& reloads = counters("gwsync_config_reloads_total",
                           "SIGHUP reloads of the configuration file, by result (ok, invalid, "
                           "restart_needed, failed; docs/operations.md)");
  for (size_t i = 0; i < kReloadResultNames.size(); ++i) {
    bind(reloads, {{"result", std::string(kReloadResultNames[i])}},
         [i](const Sample& s) { return s.daemon.config_reloads[i]; });
  }
}

Result<Ok, std::string> Metrics::listen(const Endpoint& endpoint) {
  const std::string address = endpoint.toString();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
  } catch (const std::exception& e) {
    return fail("metrics.listen = \"" + address + "\": cannot listen: " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  return Ok{};
}

int Metrics::port() const {
  if (!exposer_) return 0;
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::update(const Sample& s) {
  for (CounterBinding& b : counter_bindings_) {
    const uint64_t v = b.get(s);
    if (v > b.last) b.counter->Increment(static_cast<double>(v - b.last));
    b.last = v;  // a source that went backwards (never expected) only pauses the counter
  }
  for (GaugeBinding& b : gauge_bindings_) b.gauge->Set(b.get(s));
  updateKernelWriteErrors(s);
  updateBulkDuration(s);
  last_update_ = s.now;
}

void Metrics::updateKernelWriteErrors(const Sample& s) {
  for (const auto& [err, n] : s.daemon.kernel_write_errors) {
    auto it = errno_counters_.find(err);
    if (it == errno_counters_.end()) {
      auto& c = kernel_write_errors_->Add({{"errno", errnoName(err)}});
      it = errno_counters_.emplace(err, CounterBinding{&c, nullptr}).first;
    }
    if (n > it->second.last)
      it->second.counter->Increment(static_cast<double>(n - it->second.last));
    it->second.last = n;
  }
}

void Metrics::updateBulkDuration(const Sample& s) {
  const bool started = s.sender.bulks_started != bulks_started_seen_;
  const bool completed = s.sender.bulks_completed != bulks_completed_seen_;
  if (completed) {
    // A bulk that started and ended between two updates is bounded by the interval.
    const bool within = started && !s.bulk_in_progress;
    const auto since = last_update_.count() > 0 ? last_update_ : s.now;
    const auto from = within || bulk_started_at_.count() < 0 ? since : bulk_started_at_;
    bulk_duration_->Observe(seconds(s.now - from));
    bulk_started_at_ = std::chrono::microseconds{-1};
  }
  if (started && s.bulk_in_progress) bulk_started_at_ = s.now;
  bulks_started_seen_ = s.sender.bulks_started;
  bulks_completed_seen_ = s.sender.bulks_completed;
}

void Metrics::observeReplicationLag(std::chrono::microseconds lag) {
  replication_lag_->Observe(seconds(lag));
}

std::string Metrics::render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace gwsync::syncd
