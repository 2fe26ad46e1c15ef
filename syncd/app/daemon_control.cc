// gwsyncctl's commands: plain text, one fact per line ("key: value"), so that people read it and
// scripts grep it.
#include <algorithm>
#include <numeric>
#include <sstream>
#include <utility>

#include "nat/binding_check.h"
#include "nat/usage.h"
#include "syncd/app/daemon.h"

namespace gwsync::syncd {

namespace {

std::string line(std::string_view key, const auto& value) {
  std::ostringstream out;
  out << key << ": " << value << "\n";
  return out.str();
}

uint64_t natRejectedTotal(const DaemonStats& s) {
  return std::accumulate(s.nat_rejected.begin(), s.nat_rejected.end(), uint64_t{0});
}

}  // namespace

std::map<std::string, ControlServer::Handler, std::less<>> Daemon::commands() {
  return {
      {"status", [this](std::string_view, std::string_view) { return cmdStatus(); }},
      {"peers", [this](std::string_view, std::string_view) { return cmdPeers(); }},
      {"sessions", [this](std::string_view, std::string_view a) { return cmdSessions(a); }},
      {"commit", [this](std::string_view, std::string_view) { return cmdCommit(); }},
      {"resync", [this](std::string_view, std::string_view) { return cmdResync(); }},
      {"flush", [this](std::string_view, std::string_view) { return cmdFlush(); }},
      {"stats", [this](std::string_view, std::string_view) { return cmdStats(); }},
      {"nat", [this](std::string_view, std::string_view) { return cmdNat(); }},
      {"vm", [this](std::string_view, std::string_view) { return cmdVm(); }},
  };
}

std::string Daemon::cmdStatus() const {
  const auto& snd = engine_.sender();
  const auto& rcv = engine_.receiver();
  std::string out;
  out += line("node", config_.node.id);
  out += line("site", config_.node.site);
  out += line("mode", config_.node.mode == NodeMode::kHot ? "hot" : "cold");
  out += line("epoch", epoch_);
  out += line("ready", ready_ ? "yes" : "no");
  out += line("peer", std::to_string(config_.sync.peer_id) + " " +
                          (channel_->connected() ? "connected" : "disconnected"));
  out += line("peer_epoch", rcv.peerEpoch());
  out += line("next_seq", snd.nextSeq());
  out += line("unacked", snd.windowSize());
  out += line("pending", snd.pendingSize());
  out += line("bulk_in_progress", snd.bulkInProgress() ? "yes" : "no");
  out += line("sessions_owned", engine_.owned().size());
  out += line("sessions_peer", engine_.peerSessions().size());
  out += line("unresolved", engine_.unresolvedSize());
  return out;
}

std::string Daemon::cmdPeers() const {
  const auto& cs = channel_->stats();
  std::string out;
  out += line("peer", config_.sync.peer_id);
  out += line("address", config_.sync.peer.toString());
  out += line("connected", channel_->connected() ? "yes" : "no");
  out += line("peer_epoch", engine_.receiver().peerEpoch());
  out += line("next_expected", engine_.receiver().nextExpected());
  out += line("queued_bytes", channel_->queuedBytes());
  out += line("frames_in", cs.frames_in);
  out += line("frames_out", cs.frames_out);
  out += line("last_down", channel_->lastDownDetail());
  return out;
}

std::string Daemon::cmdSessions(std::string_view args) const {
  std::optional<IpAddress> filter;
  if (!args.empty()) {
    filter = IpAddress::parse(args);
    if (!filter) return "error: '" + std::string(args) + "' is not an IP address\n";
  }
  auto matches = [&](const Session& s) {
    return !filter || s.orig.src == *filter || s.orig.dst == *filter || s.reply.src == *filter ||
           s.reply.dst == *filter;
  };
  std::string out;
  size_t shown = 0, total = 0;
  constexpr size_t kMax = 1000;
  auto add = [&](const char* who, const Session& s) {
    if (!matches(s)) return;
    if (++total <= kMax) out += std::string(who) + " " + describe(s) + lbServiceNote(s) + "\n";
    shown = std::min(total, kMax);
  };
  for (const auto& [k, o] : engine_.owned()) add("own ", o.session);
  for (const auto& [k, e] : engine_.peerSessions()) add("peer", e.session);
  if (total > shown) out += "(" + std::to_string(total - shown) + " more not shown)\n";
  out += "sessions: " + std::to_string(total) + "\n";
  return out;
}

std::string Daemon::cmdCommit() {
  const uint64_t before = stats_.kernel_writes;
  const uint64_t rejected_before = natRejectedTotal(stats_);
  size_t errors_before = 0;
  for (const auto& [e, n] : stats_.kernel_write_errors) errors_before += n;
  // In chunks of a few sendmsg batches rather than one copy of the whole table: the copies
  // stay in the CPU's cache on their way into the requests, and 100k sessions do not need a
  // 24 MB vector first (write() leaves the peer table alone, so iterating it meanwhile is safe).
  constexpr size_t kChunk = 4096;
  std::vector<KernelChange> chunk;
  chunk.reserve(std::min(kChunk, engine_.peerSessions().size()));
  for (const auto& [k, e] : engine_.peerSessions()) {
    Session s = e.session;
    s.mark |= kPeerMark;
    chunk.push_back({KernelChange::Kind::kCreate, std::move(s), KernelChange::Origin::kPeer});
    if (chunk.size() == kChunk) {
      write(std::exchange(chunk, {}));  // rejected NAT bindings are skipped (and counted)
      chunk.reserve(kChunk);
    }
  }
  if (!chunk.empty()) write(std::move(chunk));
  size_t errors = 0;
  for (const auto& [e, n] : stats_.kernel_write_errors) errors += n;
  ++stats_.commits;
  std::string out = line("committed", stats_.kernel_writes - before - (errors - errors_before)) +
                    line("failed", errors - errors_before);
  if (config_.nat) out += line("nat_rejected", natRejectedTotal(stats_) - rejected_before);
  return out;
}

std::string Daemon::cmdResync() {
  ++stats_.local_resyncs;
  snapshot(true);
  if (channel_->connected()) send(ResyncRequestMsg{1});
  return "resync: local dump taken, bulk to the peer started, peer asked for its bulk\n";
}

std::string Daemon::cmdFlush() {
  const size_t n = engine_.peerSessions().size();
  engine_.flushPeerSessions();
  applyChanges();
  if (channel_->connected()) send(ResyncRequestMsg{2});
  return line("flushed", n) + "peer asked for a resync\n";
}

std::string Daemon::cmdStats() const {
  const auto& es = engine_.stats();
  const auto& ss = engine_.sender().stats();
  const auto& rs = engine_.receiver().stats();
  const auto& ev = events_->stats();
  std::string out;
  out += line("events_received", ev.received);
  out += line("events_own_skipped", ev.skipped_own);
  out += line("events_filtered", stats_.events_filtered);
  out += line("events_overruns", ev.overruns);
  out += line("snapshots", stats_.snapshots);
  out += line("items_sent", ss.items_sent);
  out += line("items_resent", ss.items_resent);
  out += line("items_applied", rs.items_applied);
  out += line("duplicates", rs.duplicates);
  out += line("gaps", rs.gaps);
  out += line("bulks_sent", ss.bulks_completed);
  out += line("bulks_received", rs.bulks_received);
  out += line("purged", rs.purged);
  out += line("resumes", ss.resumes);
  out += line("streams_started", ss.streams_started);
  out += line("refreshes", es.refreshes);
  out += line("ownership_gained", es.ownership_gained);
  out += line("ownership_lost", es.ownership_lost);
  out += line("stale_copies_deleted", es.stale_copies_deleted);
  out += line("kernel_writes", stats_.kernel_writes);
  for (const auto& [err, n] : stats_.kernel_write_errors) {
    out += line("kernel_write_errors{" + std::string(std::strerror(err)) + "}", n);
  }
  out += line("write_retries", stats_.write_retries);
  out += line("send_refused", stats_.send_refused);
  // Refusals of whoever tried the sync port: by TLS reason and by frame decoder reason.
  const auto& cs = channel_->stats();
  for (size_t i = 0; i < kTlsErrorCount; ++i) {
    if (cs.tls_errors[i] == 0) continue;
    out += line("tls_refused{" + std::string(tlsErrorName(static_cast<TlsError>(i))) + "}",
                cs.tls_errors[i]);
  }
  for (size_t i = 0; i < kFrameErrorCount; ++i) {
    if (cs.decode_errors[i] == 0) continue;
    out += line("frame_rejected{" + std::string(frameErrorName(static_cast<FrameError>(i))) + "}",
                cs.decode_errors[i]);
  }
  out += line("local_resyncs", stats_.local_resyncs);
  // The peer's sessions refused before the kernel, and the rate limit (docs/security.md).
  const PeerScreenStats& ps = peer_screen_.stats();
  for (size_t i = 0; i < kPeerRejectCount; ++i) {
    if (ps.rejected[i] == 0) continue;
    out += line("peer_rejected{" + std::string(peerRejectName(static_cast<PeerReject>(i))) + "}",
                ps.rejected[i]);
  }
  out += line("peer_timeouts_capped", ps.timeouts_capped);
  out += line("peer_quota_resyncs", ps.quota_resyncs);
  const PeerRateStats& pr = peer_rate_.stats();
  out += line("peer_upserts_delayed", pr.upserts_delayed);
  out += line("peer_frames_dropped{queue_full}", pr.frames_overflowed);
  out += line("peer_rate_queue_items", pr.queued_items);
  if (config_.nat) {
    for (size_t i = 0; i < nat::kBindingVerdicts; ++i) {
      const auto v = static_cast<nat::BindingVerdict>(i);
      if (nat::accepted(v)) continue;
      out += line("nat_binding_rejected{" + std::string(nat::verdictName(v)) + "}",
                  stats_.nat_rejected[i]);
    }
  }
  return out;
}

// describeNat over every session this node holds (its own and the peer's copies), then the
// peer sessions dropped by the binding check: "rejected reason=outside_partition count=N".
std::string Daemon::cmdNat() const {
  if (!config_.nat) return "nat: not configured\n";
  const nat::NatConfig& nc = *config_.nat;
  nat::NatUsage usage = nat::emptyUsage(nc);
  for (const auto& [k, o] : engine_.owned()) nat::countBinding(nc, o.session, usage);
  for (const auto& [k, e] : engine_.peerSessions()) {
    // Only the copies that are (or at a commit would be) in the kernel: rejected ones are not.
    if (!nat::accepted(nat::checkBinding(nc, e.session.owner, e.session,
                                         config_.mobility && isMobile(e.session.orig.src)))) {
      continue;
    }
    nat::countBinding(nc, e.session, usage);
  }
  std::string out = nat::describeNat(nc, config_.node.id, &usage);
  for (size_t i = 0; i < nat::kBindingVerdicts; ++i) {
    const auto v = static_cast<nat::BindingVerdict>(i);
    if (nat::accepted(v)) continue;
    out += "rejected reason=" + std::string(nat::verdictName(v)) +
           " count=" + std::to_string(stats_.nat_rejected[i]) + "\n";
  }
  return out;
}

}  // namespace gwsync::syncd
