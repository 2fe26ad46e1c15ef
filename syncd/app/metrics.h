// Metrics: gwsyncd's numbers in the Prometheus text format at http://[metrics] listen/metrics.
// Owns the prometheus-cpp registry and, once listen() is called, its HTTP exposer (civetweb),
// which answers scrapes from its own threads.
//
// Threading: update() and observe*() run on the daemon's io thread: they copy the stats structs
// (which only that thread touches) into prometheus-cpp's metric objects, which are thread-safe,
// so a scrape never reads the daemon's state. Counters advance by the delta since the last
// update, so they stay monotonic whatever the source does. Labels are bounded: reasons, errno
// names, message types, directions, tables; never anything per flow.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "syncd/app/daemon_stats.h"
#include "syncd/core/endpoint.h"
#include "syncd/core/result.h"
#include "syncd/core/sync_engine.h"
#include "syncd/kernel/ct_events.h"
#include "syncd/net/peer_channel_stats.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace gwsync::syncd {

// Constant facts about this node, exported as gwsync_node_info's labels.
struct MetricsInfo {
  uint32_t node_id = 0;
  uint32_t peer_id = 0;
  std::string site;
  std::string mode;  // "hot" or "cold"
  std::string version;
  uint64_t window = 0;  // sync.window: the ceiling of gwsync_unacked_items
  bool insecure_plaintext = false;  // the sync channel runs without TLS
};

// Slow-changing readings the daemon refreshes about once a second (they cost a table walk or a
// kernel round trip): sessions by kind and the mobility figures.
struct SlowSample {
  // Sessions by table (0: ours, 1: the peer's copies) and kind (0: ct, neither source nor
  // destination NAT; 1: nat, source NAT: PAT pools and 1:1; 2: lb, destination NAT: VIPs and
  // inbound 1:1).
  std::array<std::array<uint64_t, 3>, 2> sessions{};
  bool mobility = false;      // [mobility] configured: the rest is meaningful
  uint64_t hosts_local = 0;
  uint64_t hosts_peer = 0;
  uint64_t moves_in = 0;
  uint64_t moves_out = 0;
  uint64_t probes = 0;
  uint64_t probes_local = 0;
  uint64_t probes_remote = 0;
  uint64_t claims_sent = 0;
  uint64_t claims_received = 0;
  uint64_t claims_lost = 0;
  uint64_t claims_refused = 0;  // the peer's claims outside mobile_prefixes or beyond max_hosts
  uint64_t route_errors = 0;
  uint64_t redirect_flows = 0;
  uint64_t redirect_packets = 0;
  uint64_t redirect_bytes = 0;
  uint64_t liberal_marked = 0;
  double last_handoff_ms = 0;  // sighting -> routes installed, the last host we won
};

// One reading of the daemon's state, taken on the io thread.
struct MetricsSample {
  std::chrono::microseconds now;  // steady clock
  bool peer_up;
  bool ready;
  uint64_t epoch;
  uint64_t peer_epoch;
  uint64_t unacked;
  uint64_t pending;
  uint64_t queued_bytes;
  bool bulk_in_progress;
  uint64_t sessions_owned;
  uint64_t sessions_peer;
  uint64_t sessions_unresolved;
  std::chrono::microseconds oldest_unacked_age;
  const DaemonStats& daemon;
  const CtEventStats& events;
  const SenderStats& sender;
  const ReceiverStats& receiver;
  const EngineStats& engine;
  const PeerChannelStats& channel;
  const SlowSample* slow = nullptr;  // null: not refreshed yet
};

class Metrics {
 public:
  explicit Metrics(const MetricsInfo& info);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Starts serving /metrics on `endpoint`; the error names the address.
  [[nodiscard]] Result<Ok, std::string> listen(const Endpoint& endpoint);
  // The bound TCP port (useful with port 0 in tests); 0 before listen().
  int port() const;

  void update(const MetricsSample& s);
  // gwsync_tls_certificate_expiry_seconds{cert="local"|"ca"}: seconds until notAfter (negative
  // once past), computed at every update; call once the certificates are loaded.
  void watchCertificates(std::chrono::system_clock::time_point local,
                         std::optional<std::chrono::system_clock::time_point> ca);
  void observeReplicationLag(std::chrono::microseconds lag);
  // The exposition as a scrape would return it (tests, and gwsyncctl if it ever needs it).
  std::string render() const;
  // For parts whose metrics come and go with their configuration (daemon_lb.cc: one gauge per
  // configured service and backend), registered and removed by their owner on the io thread.
  prometheus::Registry& registry() { return *registry_; }

 private:
  using Counters = prometheus::Family<prometheus::Counter>;
  using Gauges = prometheus::Family<prometheus::Gauge>;
  struct CounterBinding {
    prometheus::Counter* counter;
    std::function<uint64_t(const MetricsSample&)> get;
    uint64_t last = 0;
  };
  struct GaugeBinding {
    prometheus::Gauge* gauge;
    std::function<double(const MetricsSample&)> get;
  };

  Counters& counters(const std::string& name, const std::string& help);
  Gauges& gauges(const std::string& name, const std::string& help);
  void bind(Counters& family, const std::map<std::string, std::string>& labels,
            std::function<uint64_t(const MetricsSample&)> get);
  void bind(Gauges& family, const std::map<std::string, std::string>& labels,
            std::function<double(const MetricsSample&)> get);
  void registerState(const MetricsInfo& info);
  void registerSync();
  void registerPeer();
  void registerKernel();
  void registerPeerGuard();  // metrics_peer_guard.cc
  void registerMobility();   // metrics_mobility.cc
  void updateKernelWriteErrors(const MetricsSample& s);
  void updateBulkDuration(const MetricsSample& s);

  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<CounterBinding> counter_bindings_;
  std::vector<GaugeBinding> gauge_bindings_;
  Counters* kernel_write_errors_ = nullptr;
  std::map<int, CounterBinding> errno_counters_;
  prometheus::Histogram* replication_lag_ = nullptr;
  prometheus::Histogram* bulk_duration_ = nullptr;
  uint64_t bulks_started_seen_ = 0;
  uint64_t bulks_completed_seen_ = 0;
  std::chrono::microseconds bulk_started_at_{-1};
  std::chrono::microseconds last_update_{0};
  // Declared last: destroyed first, so no scrape runs while the rest is torn down.
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace gwsync::syncd
