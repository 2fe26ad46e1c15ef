// HostWatchSocket: one AF_PACKET socket bound to one LAN interface, filtered in the kernel (classic
// BPF) down to ARP, RARP and ICMPv6 neighbour solicitations/advertisements, so the detection
// adapter never copies the LAN's data traffic to user space. Owns the fd. Thread: its owner's;
// not shared. Exists so HostWatch handles sockets per interface without repeating the set-up.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "syncd/core/result.h"

namespace gwsync::syncd {

class HostWatchSocket {
 public:
  // Opens the socket on `interface` in the calling thread's network namespace. Errors name the
  // interface and the failing call ("interface lan9: no such interface").
  static Result<HostWatchSocket, std::string> open(const std::string& interface);
  HostWatchSocket(HostWatchSocket&& other) noexcept;
  HostWatchSocket& operator=(HostWatchSocket&&) = delete;
  HostWatchSocket(const HostWatchSocket&) = delete;
  ~HostWatchSocket();

  int fd() const { return fd_; }
  int ifindex() const { return ifindex_; }
  const std::string& interface() const { return interface_; }

  enum class Read { kFrame, kOutgoing, kEmpty, kError };
  // Reads one frame without blocking. kOutgoing: a frame this host sent (our probes, the
  // kernel's own ARP), which says nothing about where other hosts are. kError leaves errno set.
  Read read(std::span<uint8_t> buffer, size_t& length);
  // Sends one complete Ethernet frame out of the interface.
  Result<Ok, std::string> send(std::span<const uint8_t> frame);

 private:
  HostWatchSocket(int fd, int ifindex, std::string interface)
      : fd_(fd), ifindex_(ifindex), interface_(std::move(interface)) {}
  int fd_ = -1;
  int ifindex_ = 0;
  std::string interface_;
};

}  // namespace gwsync::syncd
