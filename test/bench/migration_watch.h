// Observation points of the mobility benchmarks (gwsync-bench-stream): a packet tap on one
// interface of a namespace, with the kernel's receive timestamp of every frame, and a route tap
// that sees IPv4 host routes appear in a namespace's kernel. Both die with a message on setup
// errors: they only serve benchmark runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace gwsync::bench {

int64_t realtimeNs();
[[noreturn]] void die(const std::string& msg);

// One frame as the tap saw it: its kernel timestamp (CLOCK_REALTIME ns), its direction and the
// fields the benchmarks match on. IPv4 fields are zero for other frames.
struct Frame {
  int64_t t_ns = 0;
  bool outgoing = false;  // sent by this namespace on the interface (PACKET_OUTGOING)
  uint16_t ethertype = 0;
  uint8_t proto = 0;
  uint32_t src = 0, dst = 0;  // network byte order
  uint16_t sport = 0, dport = 0;
};

class PacketTap {
 public:
  // Opens an AF_PACKET socket for every ethertype, bound to DEV in namespace NS.
  PacketTap(const std::string& ns, const std::string& dev);
  PacketTap(const PacketTap&) = delete;
  PacketTap& operator=(const PacketTap&) = delete;
  ~PacketTap();
  int fd() const { return fd_; }
  // Reads every queued frame.
  void drain(const std::function<void(const Frame&)>& f);

 private:
  int fd_ = -1;
};

class RouteTap {
 public:
  // Listens to IPv4 route notifications in namespace NS (every table).
  explicit RouteTap(const std::string& ns);
  RouteTap(const RouteTap&) = delete;
  RouteTap& operator=(const RouteTap&) = delete;
  ~RouteTap();
  int fd() const { return fd_; }
  // Reads every queued notification; calls f for each new /32 route: its destination and
  // gateway (network byte order, 0 without one) and the time it was read.
  void drain(const std::function<void(uint32_t dst, uint32_t gateway, int64_t t_ns)>& f);

 private:
  int fd_ = -1;
};

}  // namespace gwsync::bench
