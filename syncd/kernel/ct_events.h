// ConntrackEventSource: the kernel's conntrack events (NEW, UPDATE, DESTROY), parsed into
// sessions and delivered in batches on the Asio thread that runs the io_context.
//
// The socket gets a large forced receive buffer (64 MiB by default: the default loses 2-35 % of
// events under load here). Lost events are never hidden with NETLINK_NO_ENOBUFS: an ENOBUFS is
// counted and reported through onOverrun, and the owner repairs its view with a full dump.
// Events caused by our own writer (its netlink port id) are skipped and counted.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "syncd/core/result.h"
#include "syncd/core/session.h"
#include "syncd/kernel/ct_message.h"
#include "syncd/kernel/netlink_socket.h"

namespace gwsync::syncd {

struct CtEvent {
  CtEventType type;
  Session session;
};

struct CtEventStats {
  uint64_t received = 0;    // conntrack messages read from the socket
  uint64_t delivered = 0;   // parsed and handed to onEvents
  uint64_t skipped_own = 0; // caused by an ignored port id (our own writes) and read anyway
  bool own_filter_in_kernel = false;  // the socket filter drops those before they are copied
  uint64_t overruns = 0;    // ENOBUFS: events were lost
  int receive_buffer = 0;   // bytes, as the kernel reports it
  ParseStats parse;
};

class ConntrackEventSource {
 public:
  struct Options {
    int receive_buffer = 64 * 1024 * 1024;
    bool force_buffer = true;         // SO_RCVBUFFORCE, so rmem_max does not cap it
    size_t max_batch = 1024;          // events per onEvents call
    std::vector<uint32_t> ignore_port_ids;
  };
  struct Handlers {
    std::function<void(std::span<const CtEvent>)> on_events{};
    std::function<void()> on_overrun{};  // events were lost: resync
    // The socket failed for good (reading stopped): the owner cannot stay in sync without it.
    std::function<void(const std::string& why)> on_failure{};
  };

  static Result<std::unique_ptr<ConntrackEventSource>, std::string> open(
      boost::asio::io_context& io, Options options, Handlers handlers);
  ~ConntrackEventSource();
  ConntrackEventSource(const ConntrackEventSource&) = delete;
  ConntrackEventSource& operator=(const ConntrackEventSource&) = delete;

  void start();  // begins reading; handlers run on the io_context's thread
  void stop();   // cancels the pending wait; no handler runs after the io_context returns
  // Adds a port id whose events are dropped (in the kernel, by the socket filter, when it can
  // be attached; else skipped here and counted in skipped_own).
  [[nodiscard]] Result<Ok, std::string> ignorePortId(uint32_t port_id);

  // Reads whatever is queued right now, without the io_context (benchmarks, tests).
  // Returns false after an overrun.
  bool drainNow();

  const CtEventStats& stats() const { return stats_; }

 private:
  ConntrackEventSource(boost::asio::io_context& io, NetlinkSocket sock, Options options,
                       Handlers handlers);
  void arm();
  // Reads until the socket is empty; returns false on an unrecoverable socket error.
  bool drain();
  void handleDatagram(const uint8_t* data, size_t len);
  void flush();

  NetlinkSocket sock_;
  boost::asio::posix::stream_descriptor fd_;
  Options options_;
  Handlers handlers_;
  CtEventStats stats_;
  std::vector<CtEvent> batch_;
  std::vector<uint8_t> rx_;
  bool stopped_ = false;
};

}  // namespace gwsync::syncd
