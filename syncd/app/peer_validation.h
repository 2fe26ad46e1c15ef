// The receiver's policy check on one session the peer sent, before it can reach the kernel or the
// engine's table of peer sessions. The wire codec (syncd/wire/session_codec.h) already rejects
// records that are malformed; this checks records that are well formed but that this node must
// not take: a session it would never sync itself ([filter]), one that claims another owner, a
// conntrack state or status the kernel never reports for a live entry, a zero timeout, a NAT
// binding outside the owner's partition. Timeouts above the protocol's ceiling are not refused
// but lowered to it (see docs/security.md for why).
//
// Pure and allocation-free: values in, a verdict out; the daemon counts and logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "nat/binding_check.h"
#include "nat/pool.h"
#include "syncd/app/session_filter.h"
#include "syncd/core/session.h"

namespace gwsync::syncd {

// Why a peer session was refused. One value per reason; the names label a counter, so the set is
// bounded and a name never changes once released. The checks run in this order; the first wins.
enum class PeerReject : uint8_t {
  kWrongOwner,         // owner is not the peer: a peer only sends sessions it owns
  kBadStatus,          // dying, template or untracked bit, or a bit the kernel does not define
  kBadState,           // TCP or SCTP without its state, or in state NONE
  kZeroTimeout,        // a timeout of 0: the entry would be dead on arrival
  kZoneNotSynced,      // zone not in filter.zones
  kProtocolNotSynced,  // protocol not in filter.protocols
  kTcpStateNotSynced,  // TCP state not in filter.tcp_states
  kAddressNotSynced,   // neither end in filter.include, or one in filter.exclude
  kNatBinding,         // nat::checkBinding refused it (PeerVerdict::nat says why)
  kQuota,              // a new session beyond limits.peer_sessions_max (PeerScreen)
};

inline constexpr size_t kPeerRejectCount = static_cast<size_t>(PeerReject::kQuota) + 1;

// Stable snake_case name, e.g. "address_not_synced".
std::string_view peerRejectName(PeerReject r);

struct PeerPolicy {
  uint32_t peer_id = 0;
  const SessionFilter* filter = nullptr;  // required
  const nat::NatConfig* nat = nullptr;    // null: NAT bindings are not checked
  // Optional: true for a binding that a [nat] in force before a reload accepted (sessions set up
  // then keep their ports); such a binding passes although `nat` refuses it.
  std::function<bool(const Session&)> nat_accepted_before{};
  // Optional: true for a session of a mobile host ([mobility]): its binding may come from the
  // other node's partition, because the host and its sessions changed sites.
  std::function<bool(const Session&)> mobile_host{};
  // Ceilings for a peer's timeouts, in seconds: TCP, and every other protocol.
  uint32_t timeout_max_tcp_s = 432000;  // nf_conntrack_tcp_timeout_established's default
  uint32_t timeout_max_s = 86400;
};

struct PeerVerdict {
  std::optional<PeerReject> reject;                               // nullopt: accepted
  nat::BindingVerdict nat = nat::BindingVerdict::kNotTranslated;  // with kNatBinding: which
  bool timeout_capped = false;  // accepted, with its timeout lowered to the ceiling
};

// Checks `s` and, when it is accepted, lowers a timeout above the ceiling (the only change).
PeerVerdict checkPeerSession(const PeerPolicy& policy, Session& s);

// The status bits a live, confirmed conntrack entry may carry (bits 0..15 without DYING,
// TEMPLATE and UNTRACKED).
inline constexpr uint32_t kPeerStatusAllowed =
    0xffffu & ~(status::kDying | status::kTemplate | (1u << 12));

}  // namespace gwsync::syncd
