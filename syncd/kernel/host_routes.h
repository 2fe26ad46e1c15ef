// HostRoutes: installs and withdraws the host routes (/32, /128) that announce where a mobile
// host lives now. Owns one rtnetlink request socket (libmnl) in the network namespace of the
// thread that opened it; used from one thread (the daemon's), synchronous.
//
// Every route goes into one configured kernel table, tagged with gwsync's route protocol
// number, as `dev <device> scope link`: a routing daemon (BIRD) exports exactly that table and
// protocol over BGP, and gwsync can find and remove its own routes (a previous run's at start-up,
// its own on shutdown) without touching anyone else's in the same table. Writes are idempotent:
// install replaces, withdraw of a missing route succeeds. Requests go out in batches (one
// sendmsg for hundreds of routes) with one ack each, so every failure is reported.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "syncd/core/result.h"
#include "syncd/core/session.h"

struct mnl_socket;

namespace gwsync::syncd {

struct HostRouteOptions {
  uint32_t table = 100;   // 1..252 or 256..2^32-1: a table of our own, not main/local/default
  uint8_t protocol = 200; // rtm_protocol; 5..255, and no other program may use it in `table`
  std::string device{};   // the interface towards the hosts (the LAN side)
};

struct HostRouteStats {
  uint64_t installed = 0;  // routes the kernel accepted (replaced ones included)
  uint64_t withdrawn = 0;  // routes deleted, missing ones included
  uint64_t failed = 0;     // requests the kernel refused
  uint64_t batches = 0;    // sendmsg calls
};

class HostRoutes {
 public:
  // Checks the options and resolves the device in the current namespace. Errors name the key
  // ("table", "protocol", "device") and the value.
  static Result<HostRoutes, std::string> open(const HostRouteOptions& options);

  // Adds or replaces a host route for each address (IPv4 /32, IPv6 /128). On failure the
  // message names the first refused address and how many failed; the others were installed.
  [[nodiscard]] Result<Ok, std::string> install(std::span<const IpAddress> hosts);
  // Deletes our route for each address; a route that is not there counts as withdrawn.
  // Routes of other protocols for the same address stay.
  [[nodiscard]] Result<Ok, std::string> withdraw(std::span<const IpAddress> hosts);
  // Our protocol's host routes in our table, both families, whatever their device.
  [[nodiscard]] Result<std::vector<IpAddress>, std::string> list();
  // Deletes everything list() returns; returns how many routes were removed.
  [[nodiscard]] Result<size_t, std::string> flush();

  const HostRouteOptions& options() const { return options_; }
  int ifindex() const { return ifindex_; }
  const HostRouteStats& stats() const { return stats_; }

 private:
  struct Closer {
    void operator()(mnl_socket* s) const;
  };
  struct Request {
    IpAddress dst;
    int oif;  // 0: any device
  };
  HostRoutes(mnl_socket* sock, HostRouteOptions options, int ifindex);
  // Sends NEW (replace) or DEL requests in batches; returns the failures as one message.
  Result<Ok, std::string> apply(bool add, std::span<const Request> requests);
  // One batch: requests[0..n) numbered first_seq..; fills errors (0 or errno) per request.
  int sendBatch(size_t len, uint32_t first_seq, size_t n, std::vector<int>& errors);

  std::unique_ptr<mnl_socket, Closer> sock_;
  HostRouteOptions options_;
  int ifindex_ = 0;
  uint32_t seq_ = 1;
  std::vector<uint8_t> buf_;
  std::vector<uint8_t> rx_;
  HostRouteStats stats_;
};

}  // namespace gwsync::syncd
