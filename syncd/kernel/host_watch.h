// HostWatch: tells the daemon "host X is here" for VM mobility (issue 6). Owns one packet socket
// per LAN interface (gratuitous ARP, RARP, unsolicited NA; see HostWatchSocket) and, optionally,
// a NeighbourWatch (the kernel's neighbour events). Handlers run on the thread that runs the
// io_context; probe() must be called on that thread too.
//
// Why the probe: GARP and RARP are broadcast and cross the DCI, so both sites see every one of
// them. probe() sends a unicast ARP request (IPv6: NS) to the host's MAC from the anycast virtual
// MAC and address. The DCI drops frames from and to the virtual MAC, so only the gateway at the
// host's own site receives the answer: on_probe_result(host, true) there, (host, false) after
// the timeout at the other site.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "syncd/core/host_frame.h"
#include "syncd/core/mac_address.h"
#include "syncd/core/result.h"
#include "syncd/core/session.h"
#include "syncd/kernel/host_watch_socket.h"
#include "syncd/kernel/neigh_watch.h"

namespace gwsync::syncd {

struct HostSighting {
  enum class Kind : uint8_t { kNeighbour, kGratuitousArp, kRarp, kUnsolicitedNa, kProbeReply };
  static constexpr size_t kKinds = 5;
  Kind kind = Kind::kNeighbour;
  std::optional<IpAddress> ip;  // absent for RARP
  MacAddress mac;
  std::string interface;
};
const char* toString(HostSighting::Kind kind);

struct HostWatchStats {
  uint64_t frames = 0;         // frames received (after the kernel filter)
  uint64_t outgoing = 0;       // frames this host sent, seen on the way out: skipped
  uint64_t ignored = 0;        // valid ARP/ND that is no sighting (ordinary requests, replies)
  std::array<uint64_t, HostSighting::kKinds> sightings{};  // by Kind
  uint64_t probes_sent = 0;    // probe() calls that went out (on every interface)
  uint64_t probes_coalesced = 0;  // probe() for a host already being probed
  uint64_t probe_send_errors = 0;
  uint64_t probe_replies = 0;  // answered: the host is at this site
  uint64_t probe_timeouts = 0;
  uint64_t unmatched_replies = 0;  // replies to the virtual MAC with no probe pending
  uint64_t probe_rtt_us_last = 0;
  uint64_t probe_rtt_us_max = 0;
  uint64_t probe_rtt_us_total = 0;  // over probe_replies, for the mean
  uint64_t read_errors = 0;
  FrameParseStats parse;
};

class HostWatch {
 public:
  struct Options {
    std::vector<std::string> interfaces{}; // the LAN interfaces (not the macvlan)
    IpAddress anycast_ipv4{};              // the shared first-hop gateway address
    MacAddress anycast_mac{};              // its virtual MAC, filtered on the DCI
    std::optional<IpAddress> anycast_ipv6{};  // source of IPv6 probes; none: IPv6 is not probed
    std::chrono::milliseconds probe_timeout{100};
    bool neighbour_events = true;
  };
  struct Handlers {
    std::function<void(const HostSighting&)> on_sighting{};
    std::function<void(const IpAddress& host, bool local)> on_probe_result{};
    std::function<void(const std::string& why)> on_failure{};  // a socket stopped for good
  };

  // Opens every socket in the calling thread's namespace. Errors name the interface and call.
  static Result<std::unique_ptr<HostWatch>, std::string> open(boost::asio::io_context& io,
                                                              Options options, Handlers handlers);
  ~HostWatch();
  HostWatch(const HostWatch&) = delete;
  HostWatch& operator=(const HostWatch&) = delete;

  void start();
  void stop();  // cancels reads and pending probes; no result is reported for those

  // Asks whether `host` (at `mac`) is at this site; the answer comes through on_probe_result
  // within probe_timeout. A second probe for a host already pending joins the first. Errors
  // (no anycast IPv6 configured, every send failed) are returned and no result follows.
  Result<Ok, std::string> probe(const IpAddress& host, const MacAddress& mac);
  size_t pendingProbes() const { return pending_.size(); }

  const HostWatchStats& stats() const { return stats_; }
  const NeighbourWatchStats* neighbourStats() const;

 private:
  struct Port {
    Port(boost::asio::io_context& io, HostWatchSocket s) : sock(std::move(s)), fd(io, sock.fd()) {}
    ~Port();  // releases fd first: the socket, not Asio, closes it
    Port(const Port&) = delete;
    Port& operator=(const Port&) = delete;
    HostWatchSocket sock;
    boost::asio::posix::stream_descriptor fd;
  };
  struct Pending {
    uint64_t id = 0;
    std::chrono::steady_clock::time_point sent;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  HostWatch(boost::asio::io_context& io, Options options, Handlers handlers);
  void arm(Port& port);
  bool drain(Port& port);
  void handleFrame(const Port& port, const HostFrame& frame);
  bool isProbeReply(const HostFrame& frame) const;
  void report(HostSighting::Kind kind, const HostFrame& frame, const std::string& interface);
  void expire(const IpAddress& host, uint64_t id);

  boost::asio::io_context& io_;
  Options options_;
  Handlers handlers_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::unique_ptr<NeighbourWatch> neighbours_;
  std::map<IpAddress, Pending> pending_;
  uint64_t next_probe_id_ = 1;
  HostWatchStats stats_;
  std::vector<uint8_t> rx_;
  bool stopped_ = true;
  // Handlers hold a weak reference: a wait that completed just before destruction must not
  // touch a destroyed object when the io_context runs it afterwards.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace gwsync::syncd
