// Mobility: who owns each mobile host (a VM that may live-migrate between the two sites), and
// the claim / release handoff with the peer. Pure: the daemon feeds it sightings from the LAN
// (neighbour events, gratuitous ARP, RARP, unsolicited NA), the answers of locality probes, the
// peer's messages and the time; it returns messages to send and actions to carry out (probe a
// host, we won a host, we lost a host).
//
// Why probes: GARP and RARP are broadcasts and cross the stretched LAN, so both gateways see
// them. The DCI drops every frame from or to the anycast gateway's virtual MAC, so an ARP request
// sent from that MAC is answered only at the host's own site: a sighting of a host we do not own
// makes us probe it, and only a probe answer (proof that the host is here) makes us claim it.
//
// Ordering: every ownership change carries a move sequence number. A claim with a higher number
// wins; for equal numbers (both sides claimed during a partition) the lower node id wins. Both
// nodes apply the same rule, so once they talk again they agree. The loser of a contest probes
// the host once more, so a wrong outcome corrects itself through the next probe answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "syncd/core/session.h"
#include "syncd/core/sync_messages.h"
#include "syncd/core/sync_sender.h"  // Millis

namespace gwsync::syncd {

struct MobilityStats {
  uint64_t sightings = 0;
  uint64_t sightings_unknown_mac = 0;  // a RARP for a MAC no known host has
  uint64_t probes = 0;
  uint64_t probe_local = 0;
  uint64_t probe_remote = 0;
  uint64_t claims_sent = 0;
  uint64_t claims_received = 0;
  uint64_t claims_won = 0;
  uint64_t claims_lost = 0;  // our claim lost a contest
  uint64_t releases_sent = 0;
  uint64_t releases_received = 0;
  uint64_t moves_in = 0;   // hosts that became ours while the peer held them
  uint64_t moves_out = 0;  // hosts the peer took from us
  uint64_t wrong_node = 0;  // a claim or release naming neither the peer nor us
};

class Mobility {
 public:
  struct Options {
    uint32_t node_id = 1;
    uint32_t peer_id = 2;
    // A host is probed at most once per debounce interval: a move sends bursts of RARP and GARP.
    Millis debounce{200};
  };

  struct Host {
    IpAddress addr{};
    std::optional<MacBytes> mac{};
    uint32_t owner = 0;       // 0: nobody claimed it yet
    uint64_t move_seq = 0;
    Millis owned_since{0};    // our clock: when `owner` last changed
    Millis last_probe{-1};    // debounce; -1: never
    bool released = false;    // the peer acknowledged our claim (our hosts only)
    uint64_t moves = 0;
  };

  struct Action {
    enum class Kind : uint8_t { kProbe, kWon, kLost };
    Kind kind = Kind::kProbe;
    IpAddress host{};
    std::optional<MacBytes> mac{};
    uint64_t move_seq = 0;
    bool from_peer = false;  // kWon: the peer held the host before (a move in)
  };

  explicit Mobility(Options options) : options_(options) {}

  // The host was seen on our LAN (not yet proven local). A RARP has no address: `ip` empty and
  // the host is found by its MAC.
  void onSighting(const std::optional<IpAddress>& ip, const std::optional<MacBytes>& mac,
                  Millis now);
  // The answer to a probe: the host is at our site (`local`) or it did not answer here.
  void onProbeResult(const IpAddress& host, bool local, const std::optional<MacBytes>& mac,
                     Millis now);

  void onClaim(const HostClaimMsg& m, Millis now);
  void onRelease(const HostReleaseMsg& m, Millis now);
  // Claims for every host we own go out again, so the peer's view converges after a reconnect.
  void onConnected();

  std::vector<SyncMessage> takeMessages();
  std::vector<Action> takeActions();

  // Owner of `addr` if it is a known host (0: unowned).
  std::optional<uint32_t> ownerOf(const IpAddress& addr) const;
  bool ownedByPeer(const IpAddress& addr) const;
  bool ownedByUs(const IpAddress& addr) const;
  const std::map<IpAddress, Host>& hosts() const { return hosts_; }
  const MobilityStats& stats() const { return stats_; }
  uint32_t nodeId() const { return options_.node_id; }

 private:
  void sighted(Host& h, Millis now);
  void claim(Host& h, Millis now);
  // Whether a claim (seq, node) beats the current holder's (seq, node).
  static bool beats(uint64_t seq, uint32_t node, uint64_t held_seq, uint32_t held_node);

  Options options_;
  std::map<IpAddress, Host> hosts_;
  std::vector<SyncMessage> out_;
  std::vector<Action> actions_;
  MobilityStats stats_;
};

}  // namespace gwsync::syncd
