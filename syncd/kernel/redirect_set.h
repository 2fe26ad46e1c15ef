// RedirectSet: the "owner redirect" of moved flows (issue 10). Owns the nftables table
// `netdev gwsync_redirect` and one libnftables context, whose sockets live in the network
// namespace of the thread that called open(): call every method from that namespace. Used from
// one thread (the daemon's), synchronous; move-only.
//
// Why netdev ingress: packets of flows whose owner is now the peer gateway (replies to a shared
// PAT address, inbound LB flows of a VM that moved) still arrive here. An ingress hook sees them
// before the IP layer, so `fwd ip to <peer> device <dev>` (nft_fwd_neigh) sends them out again
// with a new L2 header and nothing else changed (TTL included) before this gateway's conntrack,
// firewall or routing look at them; the owner handles them with its full state as if they had
// arrived there. Everything not in the sets passes untouched.
//
// The table, per configured ingress device, is a base chain at priority -500 whose rules match
// `ip saddr . ip daddr . meta l4proto . th sport . th dport` against set moved4 (IPv6: moved6),
// count in the named counter redirected4/6 and forward. A flow is keyed as it ARRIVES at the
// ingress device: for a SNATed VM session that is its reply tuple.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "syncd/core/result.h"
#include "syncd/core/session.h"

struct nft_ctx;  // libnftables; its header stays in redirect_set.cc

namespace gwsync::syncd {

inline constexpr const char* kRedirectTable = "gwsync_redirect";  // family netdev

struct RedirectOptions {
  std::vector<std::string> ingress_devices{};  // where packets of moved flows arrive (WAN side)
  std::string peer_device{};                 // L2-adjacent to the peer (sync/DCI link)
  std::optional<IpAddress> peer_v4{};        // the peer's address there; IPv4 flows need it
  std::optional<IpAddress> peer_v6{};        // IPv6 flows need it
  size_t batch_elements = 4096;              // elements per transaction in add() and remove()
};

struct RedirectCounter {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct RedirectCounters {
  RedirectCounter v4;
  RedirectCounter v6;
};

struct RedirectStats {
  uint64_t transactions = 0;  // libnftables runs that changed the sets
  uint64_t added = 0;         // elements sent in add() (already present ones included)
  uint64_t removed = 0;       // elements deleted
  uint64_t absent = 0;        // elements remove() was asked for that were not in the set
};

class RedirectSet {
 public:
  // Checks the options (devices exist here, next hops match their family) and opens the
  // libnftables context. Errors name the key and the value. Does not touch the kernel's rules.
  static Result<RedirectSet, std::string> open(RedirectOptions options);

  // Creates the table, or replaces a previous one (a previous run's), with empty sets: one
  // transaction, so on failure the old table stays as it was.
  [[nodiscard]] Result<Ok, std::string> create();
  // Deletes the table; succeeds when it does not exist.
  [[nodiscard]] Result<Ok, std::string> destroy();

  // Adds flows (TCP, UDP, UDP-Lite, SCTP, DCCP: protocols with ports); present ones stay.
  // One transaction per batch_elements flows. A flow of another protocol, or of a family
  // without a next hop, refuses the whole call before anything is sent.
  [[nodiscard]] Result<Ok, std::string> add(std::span<const Tuple> flows);
  // Removes flows; ones that are not in the set are skipped (counted in stats().absent).
  [[nodiscard]] Result<Ok, std::string> remove(std::span<const Tuple> flows);

  // The flows in the kernel's sets, IPv4 first.
  [[nodiscard]] Result<std::vector<Tuple>, std::string> elements();
  [[nodiscard]] Result<size_t, std::string> size();
  // Packets and bytes the redirect rules forwarded, summed over the ingress devices.
  [[nodiscard]] Result<RedirectCounters, std::string> counters();

  // The table as `nft list table` prints it. For tools and tests.
  [[nodiscard]] Result<std::string, std::string> listTable();
  // The text create() submits (after the delete of the old table).
  std::string tableText() const;

  const RedirectStats& stats() const { return stats_; }

 private:
  struct CtxDeleter {
    void operator()(nft_ctx* ctx) const;
  };
  RedirectSet(nft_ctx* ctx, RedirectOptions options) : ctx_(ctx), options_(std::move(options)) {}
  // Runs commands as one transaction; the error is libnftables' first error line.
  Result<Ok, std::string> run(const std::string& commands);
  Result<std::string, std::string> output(const std::string& commands);
  // One `add element` / `delete element` run per batch, per family.
  Result<Ok, std::string> change(const char* verb, std::span<const Tuple> flows);

  std::unique_ptr<nft_ctx, CtxDeleter> ctx_;
  RedirectOptions options_;
  RedirectStats stats_;
};

}  // namespace gwsync::syncd
