// Per-entry TCP be-liberal (issue 10's fallback for the asymmetric return path). When a host's
// sessions move to the peer gateway, replies to its shared PAT address may keep arriving here
// while the host's own packets leave through the peer: this gateway's conntrack then sees one
// direction only and, with strict tracking (nf_conntrack_tcp_loose=0, tcp_be_liberal=0), marks
// the replies INVALID because they acknowledge data it never saw. Setting conntrack's
// IP_CT_TCP_FLAG_BE_LIBERAL on just those entries skips the window check for them (state
// tracking stays), which is what conntrackd does for the entries it commits, instead of relaxing
// the global sysctl for every connection. Pure: the caller writes the result with
// ConntrackWriter (CtOp::kUpdate), whose flag mask (kTcpFlagsSynced) includes this bit.
#pragma once

#include <cstdint>
#include <span>

#include "syncd/core/session.h"

namespace gwsync::syncd {

// IP_CT_TCP_FLAG_BE_LIBERAL in include/uapi/linux/netfilter/nf_conntrack_tcp.h.
inline constexpr uint8_t kTcpFlagBeLiberal = 0x08;
static_assert((kTcpFlagsSynced & kTcpFlagBeLiberal) != 0,
              "the conntrack writer must carry the be-liberal bit");

// Sets the flag in both directions of a TCP session; the kernel checks the sender's direction,
// and a reply-only path needs it on the reply side. Returns false, changing nothing, for a
// session without TCP state, and false when the flag was already set on both sides.
bool markBeLiberal(Session& s);

// Both directions carry the flag.
bool isBeLiberal(const Session& s);

// Marks every TCP session of sessions; returns how many changed (the ones to write).
size_t markBeLiberal(std::span<Session> sessions);

}  // namespace gwsync::syncd
