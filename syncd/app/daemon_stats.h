// DaemonStats: the daemon's own counters (what the engine, the channel and the event source do
// not count themselves). Read by gwsyncctl stats and by the metrics exporter, on the io thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string_view>
#include <variant>

#include "nat/binding_check.h"
#include "syncd/app/peer_rate_limit.h"
#include "syncd/app/peer_screen.h"
#include "syncd/core/sync_messages.h"

namespace gwsync::syncd {

// Names of SyncMessage's alternatives, by variant index (the `type` label of the metrics).
inline constexpr std::array<std::string_view, 6> kMessageTypeNames = {
    "hello", "items", "ack", "resync_request", "host_claim", "host_release"};
static_assert(kMessageTypeNames.size() == std::variant_size_v<SyncMessage>);

// Outcomes of a SIGHUP reload (daemon_reload.cc), by index: the `result` label of
// gwsync_config_reloads_total. ok: every change was applied; invalid: the file did not parse or
// validate, nothing changed; restart_needed: keys that cannot change at run time differ (they
// keep their running values; the reloadable sections were applied); failed: a valid change the
// kernel refused (the running state is kept).
inline constexpr std::array<std::string_view, 4> kReloadResultNames = {"ok", "invalid",
                                                                       "restart_needed", "failed"};

struct DaemonStats {
  uint64_t events_filtered = 0;  // not synced by [filter]
  uint64_t snapshots = 0;        // kernel dumps taken
  uint64_t dump_failures = 0;
  uint64_t overruns = 0;       // lost kernel events, repaired by a dump and a bulk
  uint64_t send_refused = 0;   // frames the channel refused (backpressure, disconnected)
  uint64_t local_resyncs = 0;  // gwsyncctl resync
  uint64_t kernel_writes = 0;
  std::map<int, uint64_t> kernel_write_errors;  // by errno
  uint64_t write_retries = 0;  // peer copies written again after the kernel had no room
  uint64_t commits = 0;
  // Messages accepted by the channel (out) and delivered by it (in), by kMessageTypeNames index.
  std::array<uint64_t, kMessageTypeNames.size()> messages_out{};
  std::array<uint64_t, kMessageTypeNames.size()> messages_in{};
  // Peer sessions not written because their NAT binding failed nat::checkBinding, by verdict
  // (only the rejecting verdicts advance); one per rejected create or update.
  std::array<uint64_t, nat::kBindingVerdicts> nat_rejected{};
  // The peer guard's counts (PeerScreen, PeerRateLimit), copied at every metrics update.
  PeerScreenStats peer_screen{};
  PeerRateStats peer_rate{};
  // SIGHUP reloads, by kReloadResultNames index.
  std::array<uint64_t, kReloadResultNames.size()> config_reloads{};
};

}  // namespace gwsync::syncd
