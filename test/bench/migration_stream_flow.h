// The flow of gwsync-bench-stream (migration_stream.cc): an echo server in one namespace, a
// client in another sending a timestamped record every interval from its own thread, round trips
// and pauses as the client sees them, and a UDP flood from the server back to the client.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "test/bench/migration_watch.h"

namespace gwsync::bench {

struct FlowConfig {
  std::string client_ns, server_ns;
  uint32_t server_ip = 0;  // network byte order
  uint16_t server_port = 0;
  bool tcp = false;
  int interval_us = 1000;
};

struct GapStats {
  int64_t max_gap_ns = 0;              // longest pause between echoes since arm (or until now)
  int64_t first_echo_sent_after = 0;   // receive time of the first echo of a record sent after zero
  uint64_t sent = 0, echoed = 0;       // records since arm
};

class Flow {
 public:
  explicit Flow(FlowConfig c) : c_(std::move(c)) {}
  Flow(const Flow&) = delete;
  Flow& operator=(const Flow&) = delete;
  ~Flow();

  // Opens both ends, learns the public address the server sees, starts the sender thread.
  void start();
  std::vector<int> fds() const { return {server_rx_fd_, client_fd_}; }
  bool handle(int fd);  // reads fd if it is one of ours
  void arm(int64_t t_ns);
  GapStats gapSince(int64_t armed, int64_t zero) const;
  std::string takeRtt();
  std::string flood(double seconds);

  bool isOriginal(const Frame& f) const;
  bool isPublicSource(const Frame& f) const;
  bool isReply(const Frame& f) const;
  uint32_t publicIp() const { return public_ip_; }
  uint16_t publicPort() const { return public_port_; }
  uint32_t clientIp() const { return client_ip_; }
  uint16_t clientPort() const { return client_port_; }

 private:
  struct Record {
    uint64_t seq;
    int64_t t_ns;
  };
  void sendLoop();
  void onEcho(const Record& r, int64_t now);
  void serverRead();
  void clientRead();

  FlowConfig c_;
  int listen_fd_ = -1, server_rx_fd_ = -1, client_fd_ = -1;
  uint32_t public_ip_ = 0, client_ip_ = 0;
  uint16_t public_port_ = 0, client_port_ = 0;
  std::string server_buf_, client_buf_;
  std::thread sender_;
  std::atomic<bool> stop_{false}, paused_{false};
  std::atomic<uint64_t> sent_{0};
  uint64_t sent_at_arm_ = 0;
  int64_t armed_ = 0;
  std::vector<std::pair<int64_t, int64_t>> echoes_;  // since arm: (send time, receive time)
  std::vector<int64_t> rtt_ns_;                     // since the last takeRtt
  uint64_t flood_rx_ = 0;
  int64_t flood_first_ = 0, flood_last_ = 0;
};

}  // namespace gwsync::bench
