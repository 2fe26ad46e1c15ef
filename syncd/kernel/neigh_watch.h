// NeighbourWatch: the kernel's neighbour table events (rtnetlink RTMGRP_NEIGH) on the configured
// LAN interfaces, reduced to what host detection needs: "IP X now has MAC Y here". Reports a new
// entry and a changed link-layer address; the reachability churn of an entry that keeps its MAC
// (REACHABLE -> STALE -> DELAY -> REACHABLE) is counted, not reported. Handlers run on the thread
// that runs the io_context. Owns the netlink socket.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "syncd/core/mac_address.h"
#include "syncd/core/result.h"
#include "syncd/core/session.h"

struct mnl_socket;
struct nlmsghdr;

namespace gwsync::syncd {

struct NeighbourEvent {
  std::string interface;
  IpAddress ip;
  MacAddress mac;
};

struct NeighbourWatchStats {
  uint64_t messages = 0;         // RTM_NEWNEIGH / RTM_DELNEIGH read
  uint64_t reported = 0;         // new entry or changed MAC
  uint64_t unchanged = 0;        // same MAC, only the state moved
  uint64_t other_interface = 0;  // not one of ours (or not IPv4/IPv6, or a proxy entry)
  uint64_t unresolved = 0;       // INCOMPLETE/FAILED/NOARP or no link-layer address
  uint64_t deleted = 0;
  uint64_t malformed = 0;        // short message or attribute of the wrong size
  uint64_t overruns = 0;         // ENOBUFS: events were lost (the next sighting repairs it)
  uint64_t dump_errors = 0;      // the start-up dump of existing entries could not be asked for
};

class NeighbourWatch {
 public:
  struct Handlers {
    std::function<void(const NeighbourEvent&)> on_neighbour{};
    std::function<void(const std::string& why)> on_failure{};  // reading stopped for good
  };

  // Resolves the interfaces in the calling thread's namespace; errors name the interface.
  static Result<std::unique_ptr<NeighbourWatch>, std::string> open(
      boost::asio::io_context& io, const std::vector<std::string>& interfaces, Handlers handlers);
  ~NeighbourWatch();
  NeighbourWatch(const NeighbourWatch&) = delete;
  NeighbourWatch& operator=(const NeighbourWatch&) = delete;

  // Begins reading, after asking the kernel for the entries that exist already: they are
  // reported like new ones (after a restart, the hosts this gateway held).
  void start();
  void stop();
  const NeighbourWatchStats& stats() const { return stats_; }

  // One rtnetlink message; public so tests can feed hand-made messages.
  void handleMessage(const nlmsghdr* nlh);

 private:
  struct Closer {
    void operator()(mnl_socket* s) const;
  };
  NeighbourWatch(boost::asio::io_context& io, mnl_socket* sock,
                 std::map<int, std::string> interfaces, Handlers handlers);
  void arm();
  bool drain();
  void requestDump();

  std::unique_ptr<mnl_socket, Closer> sock_;
  boost::asio::posix::stream_descriptor fd_;
  std::map<int, std::string> interfaces_;  // ifindex -> name
  std::map<std::pair<int, IpAddress>, MacAddress> known_;
  Handlers handlers_;
  NeighbourWatchStats stats_;
  std::vector<uint8_t> rx_;
  bool stopped_ = true;
};

}  // namespace gwsync::syncd
