#include "syncd/kernel/host_watch.h"

#include <cerrno>
#include <cstring>

#include "syncd/core/host_frame_builder.h"

namespace gwsync::syncd {

namespace {
constexpr size_t kFrameBuffer = 2048;  // ARP and ND are small; the filter passes nothing else
constexpr int kFramesPerWakeup = 256;  // then yield to the other interfaces and timers
}  // namespace

const char* toString(HostSighting::Kind kind) {
  switch (kind) {
    case HostSighting::Kind::kNeighbour: return "neighbour";
    case HostSighting::Kind::kGratuitousArp: return "gratuitous_arp";
    case HostSighting::Kind::kRarp: return "rarp";
    case HostSighting::Kind::kUnsolicitedNa: return "unsolicited_na";
    case HostSighting::Kind::kProbeReply: return "probe_reply";
  }
  return "unknown";
}

HostWatch::Port::~Port() {
  boost::system::error_code ec;
  fd.cancel(ec);
  fd.release();
}

Result<std::unique_ptr<HostWatch>, std::string> HostWatch::open(boost::asio::io_context& io,
                                                                Options options,
                                                                Handlers handlers) {
  if (options.interfaces.empty()) return fail(std::string("host watch: no LAN interface configured"));
  if (options.anycast_ipv4.family != Family::kIpv4) {
    return fail("host watch: anycast IPv4 address " + options.anycast_ipv4.toString() +
                " is not IPv4");
  }
  if (options.anycast_ipv6 && options.anycast_ipv6->family != Family::kIpv6) {
    return fail("host watch: anycast IPv6 address " + options.anycast_ipv6->toString() +
                " is not IPv6");
  }
  if (options.anycast_mac.isZero() || options.anycast_mac.isMulticast()) {
    return fail("host watch: anycast MAC " + options.anycast_mac.toString() +
                " is not a unicast address");
  }
  if (options.probe_timeout.count() <= 0) return fail(std::string("host watch: probe timeout must be positive"));
  std::unique_ptr<HostWatch> watch(new HostWatch(io, std::move(options), std::move(handlers)));
  for (const auto& name : watch->options_.interfaces) {
    auto sock = HostWatchSocket::open(name);
    if (!sock) return fail("host watch: " + sock.error());
    watch->ports_.push_back(std::make_unique<Port>(io, std::move(*sock)));
  }
  if (watch->options_.neighbour_events) {
    auto neighbours = NeighbourWatch::open(
        io, watch->options_.interfaces,
        {.on_neighbour =
             [w = watch.get()](const NeighbourEvent& e) {
               ++w->stats_.sightings[static_cast<size_t>(HostSighting::Kind::kNeighbour)];
               if (w->handlers_.on_sighting) {
                 w->handlers_.on_sighting({HostSighting::Kind::kNeighbour, e.ip, e.mac, e.interface});
               }
             },
         .on_failure =
             [w = watch.get()](const std::string& why) {
               if (w->handlers_.on_failure) w->handlers_.on_failure("host watch: " + why);
             }});
    if (!neighbours) return fail("host watch: " + neighbours.error());
    watch->neighbours_ = std::move(*neighbours);
  }
  return watch;
}

HostWatch::HostWatch(boost::asio::io_context& io, Options options, Handlers handlers)
    : io_(io), options_(std::move(options)), handlers_(std::move(handlers)), rx_(kFrameBuffer) {}

HostWatch::~HostWatch() { stop(); }

const NeighbourWatchStats* HostWatch::neighbourStats() const {
  return neighbours_ ? &neighbours_->stats() : nullptr;
}

void HostWatch::start() {
  stopped_ = false;
  for (auto& port : ports_) arm(*port);
  if (neighbours_) neighbours_->start();
}

void HostWatch::stop() {
  stopped_ = true;
  for (auto& port : ports_) {
    boost::system::error_code ec;
    port->fd.cancel(ec);
  }
  if (neighbours_) neighbours_->stop();
  pending_.clear();  // destroying the timers aborts their waits
}

void HostWatch::arm(Port& port) {
  port.fd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this, &port, alive = std::weak_ptr<int>(alive_)](
                         const boost::system::error_code& ec) {
                       if (alive.expired() || ec == boost::asio::error::operation_aborted ||
                           stopped_) {
                         return;
                       }
                       if (ec) {
                         if (handlers_.on_failure) {
                           handlers_.on_failure("host watch: interface " + port.sock.interface() +
                                                ": wait: " + ec.message());
                         }
                         return;
                       }
                       if (drain(port) && !stopped_) arm(port);
                     });
}

bool HostWatch::drain(Port& port) {
  for (int i = 0; i < kFramesPerWakeup && !stopped_; ++i) {
    size_t len = 0;
    switch (port.sock.read(rx_, len)) {
      case HostWatchSocket::Read::kEmpty:
        return true;
      case HostWatchSocket::Read::kOutgoing:
        ++stats_.outgoing;
        continue;
      case HostWatchSocket::Read::kError:
        // ENETDOWN while the link is down is transient; anything else is not.
        ++stats_.read_errors;
        if (errno == ENETDOWN) return true;
        if (handlers_.on_failure) {
          handlers_.on_failure("host watch: interface " + port.sock.interface() +
                               ": recvfrom: " + std::strerror(errno));
        }
        return false;
      case HostWatchSocket::Read::kFrame:
        break;
    }
    ++stats_.frames;
    if (auto frame = parseHostFrame(std::span<const uint8_t>(rx_.data(), len), stats_.parse)) {
      handleFrame(port, *frame);
    }
  }
  return true;
}

bool HostWatch::isProbeReply(const HostFrame& frame) const {
  if (frame.eth_dst != options_.anycast_mac || !frame.ip) return false;
  if (frame.kind == FrameKind::kArpReply) return frame.target_ip == options_.anycast_ipv4;
  return frame.kind == FrameKind::kNeighbourAdvertisement && options_.anycast_ipv6.has_value();
}

void HostWatch::handleFrame(const Port& port, const HostFrame& frame) {
  if (isProbeReply(frame)) {
    auto it = pending_.find(*frame.ip);
    if (it == pending_.end()) {
      ++stats_.unmatched_replies;
      return;
    }
    const auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - it->second.sent)
                         .count();
    pending_.erase(it);  // its timer's wait is aborted
    ++stats_.probe_replies;
    stats_.probe_rtt_us_last = static_cast<uint64_t>(rtt);
    stats_.probe_rtt_us_total += stats_.probe_rtt_us_last;
    if (stats_.probe_rtt_us_last > stats_.probe_rtt_us_max) stats_.probe_rtt_us_max = stats_.probe_rtt_us_last;
    report(HostSighting::Kind::kProbeReply, frame, port.sock.interface());
    if (handlers_.on_probe_result) handlers_.on_probe_result(*frame.ip, true);
    return;
  }
  switch (frame.kind) {
    case FrameKind::kGratuitousArp:
      report(HostSighting::Kind::kGratuitousArp, frame, port.sock.interface());
      return;
    case FrameKind::kRarp:
      report(HostSighting::Kind::kRarp, frame, port.sock.interface());
      return;
    case FrameKind::kUnsolicitedNa:
      report(HostSighting::Kind::kUnsolicitedNa, frame, port.sock.interface());
      return;
    default:
      ++stats_.ignored;
      return;
  }
}

void HostWatch::report(HostSighting::Kind kind, const HostFrame& frame,
                       const std::string& interface) {
  ++stats_.sightings[static_cast<size_t>(kind)];
  if (handlers_.on_sighting) handlers_.on_sighting({kind, frame.ip, frame.mac, interface});
}

Result<Ok, std::string> HostWatch::probe(const IpAddress& host, const MacAddress& mac) {
  if (pending_.count(host) != 0) {
    ++stats_.probes_coalesced;
    return Ok{};
  }
  std::vector<uint8_t> frame;
  if (host.family == Family::kIpv4) {
    frame = buildArpProbe(options_.anycast_mac, options_.anycast_ipv4, mac, host);
  } else if (options_.anycast_ipv6) {
    frame = buildNsProbe(options_.anycast_mac, *options_.anycast_ipv6, mac, host);
  } else {
    return fail("probe " + host.toString() + ": no anycast IPv6 address configured");
  }
  // The host may be behind any LAN interface: ask on all, the answer comes back on one.
  std::string errors;
  size_t sent = 0;
  for (auto& port : ports_) {
    if (auto r = port->sock.send(frame); r) {
      ++sent;
    } else {
      ++stats_.probe_send_errors;
      errors += (errors.empty() ? "" : "; ") + r.error();
    }
  }
  if (sent == 0) return fail("probe " + host.toString() + ": " + errors);
  ++stats_.probes_sent;
  const uint64_t id = next_probe_id_++;
  Pending& p = pending_[host];
  p.id = id;
  p.sent = std::chrono::steady_clock::now();
  p.timer = std::make_unique<boost::asio::steady_timer>(io_, options_.probe_timeout);
  p.timer->async_wait([this, host, id, alive = std::weak_ptr<int>(alive_)](
                          const boost::system::error_code& ec) {
    if (alive.expired() || ec == boost::asio::error::operation_aborted) return;
    expire(host, id);
  });
  return Ok{};
}

void HostWatch::expire(const IpAddress& host, uint64_t id) {
  // The reply may have won the race after the timer fired: then the entry is gone or newer.
  auto it = pending_.find(host);
  if (it == pending_.end() || it->second.id != id) return;
  pending_.erase(it);
  ++stats_.probe_timeouts;
  if (handlers_.on_probe_result) handlers_.on_probe_result(host, false);
}

}  // namespace gwsync::syncd
