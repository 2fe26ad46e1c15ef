// DaemonStats: the daemon's own counters (what the engine, the channel and the event source do
// not count themselves). Read by gwsyncctl stats and by the metrics exporter, on the io thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string_view>

#include "nat/binding_check.h"

namespace gwsync::syncd {

// Names of SyncMessage's alternatives, by variant index (the `type` label of the metrics).
inline constexpr std::array<std::string_view, 4> kMessageTypeNames = {"hello", "items", "ack",
                                                                      "resync_request"};

struct DaemonStats {
  uint64_t events_filtered = 0;  // not synced by [filter]
  uint64_t snapshots = 0;        // kernel dumps taken
  uint64_t dump_failures = 0;
  uint64_t overruns = 0;       // lost kernel events, repaired by a dump and a bulk
  uint64_t send_refused = 0;   // frames the channel refused (backpressure, disconnected)
  uint64_t local_resyncs = 0;  // gwsyncctl resync
  uint64_t kernel_writes = 0;
  std::map<int, uint64_t> kernel_write_errors;  // by errno
  uint64_t commits = 0;
  // Messages accepted by the channel (out) and delivered by it (in), by kMessageTypeNames index.
  std::array<uint64_t, kMessageTypeNames.size()> messages_out{};
  std::array<uint64_t, kMessageTypeNames.size()> messages_in{};
  // Peer sessions not written because their NAT binding failed nat::checkBinding, by verdict
  // (only the rejecting verdicts advance); one per rejected create or update.
  std::array<uint64_t, nat::kBindingVerdicts> nat_rejected{};
};

}  // namespace gwsync::syncd
