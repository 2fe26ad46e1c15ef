#include "syncd/app/peer_validation.h"

#include <algorithm>

namespace gwsync::syncd {

namespace {

// enum tcp_conntrack's and enum sctp_conntrack's NONE: a transient state of an entry that is not
// confirmed yet; the kernel never dumps or reports a live entry in it.
constexpr uint8_t kStateNone = 0;

bool stateSane(const Session& s) {
  if (s.orig.proto == l4::kTcp) return s.tcp && s.tcp->state != kStateNone;
  if (s.orig.proto == l4::kSctp) return s.sctp && s.sctp->state != kStateNone;
  return true;
}

// Which part of the filter refused `s` (only asked once accepts() said no), in the order of
// SessionFilter::accepts.
PeerReject filterReason(const SessionFilter& f, const Session& s) {
  if (!f.zones.empty() && std::find(f.zones.begin(), f.zones.end(), s.zone) == f.zones.end()) {
    return PeerReject::kZoneNotSynced;
  }
  if (!f.protocols.test(s.orig.proto)) return PeerReject::kProtocolNotSynced;
  if (s.orig.proto == l4::kTcp && f.tcp_states != allTcpStates()) {
    if (!s.tcp || s.tcp->state >= f.tcp_states.size() || !f.tcp_states.test(s.tcp->state)) {
      return PeerReject::kTcpStateNotSynced;
    }
  }
  return PeerReject::kAddressNotSynced;
}

}  // namespace

std::string_view peerRejectName(PeerReject r) {
  switch (r) {
    case PeerReject::kWrongOwner:
      return "wrong_owner";
    case PeerReject::kBadStatus:
      return "bad_status";
    case PeerReject::kBadState:
      return "bad_state";
    case PeerReject::kZeroTimeout:
      return "zero_timeout";
    case PeerReject::kZoneNotSynced:
      return "zone_not_synced";
    case PeerReject::kProtocolNotSynced:
      return "protocol_not_synced";
    case PeerReject::kTcpStateNotSynced:
      return "tcp_state_not_synced";
    case PeerReject::kAddressNotSynced:
      return "address_not_synced";
    case PeerReject::kNatBinding:
      return "nat_binding";
    case PeerReject::kQuota:
      return "quota";
  }
  return "unknown";
}

PeerVerdict checkPeerSession(const PeerPolicy& policy, Session& s) {
  PeerVerdict v;
  if (s.owner != policy.peer_id) {
    v.reject = PeerReject::kWrongOwner;
  } else if ((s.status & ~kPeerStatusAllowed) != 0) {
    v.reject = PeerReject::kBadStatus;
  } else if (!stateSane(s)) {
    v.reject = PeerReject::kBadState;
  } else if (s.timeout == 0) {
    v.reject = PeerReject::kZeroTimeout;
  } else if (!policy.filter->accepts(s)) {
    v.reject = filterReason(*policy.filter, s);
  } else if (policy.nat != nullptr) {
    // The owner was checked above, so the partition is the peer's own: a peer cannot borrow
    // ours by naming us as the owner.
    v.nat = nat::checkBinding(*policy.nat, policy.peer_id, s,
                              policy.mobile_host && policy.mobile_host(s));
    if (!nat::accepted(v.nat) && !(policy.nat_accepted_before && policy.nat_accepted_before(s))) {
      v.reject = PeerReject::kNatBinding;
    }
  }
  if (v.reject) return v;
  const uint32_t ceiling =
      s.orig.proto == l4::kTcp ? policy.timeout_max_tcp_s : policy.timeout_max_s;
  if (s.timeout > ceiling) {
    s.timeout = ceiling;
    v.timeout_capped = true;
  }
  return v;
}

}  // namespace gwsync::syncd
