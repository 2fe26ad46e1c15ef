// ctnetlink messages <-> sessions. Builds create/update/delete requests into a caller's buffer
// and parses the kernel's conntrack messages (events and dump entries) into Sessions.
//
// Written on libmnl rather than libnetfilter_conntrack's nfct_nlmsg_build/parse: 1.0.9 builds
// NAT port ranges for TCP and UDP only (not SCTP, UDP-Lite, DCCP or ICMP ids) and has no getter
// for the reply direction's ICMP id, so a NATed ICMP or SCTP session could not be recreated
// exactly. The netns tests check this codec against `conntrack -L`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "syncd/core/result.h"
#include "syncd/core/session.h"

struct nlmsghdr;

namespace gwsync::syncd {

enum class CtOp : uint8_t {
  kCreate,  // new entry, with NAT; fails with EEXIST when it is there
  kUpdate,  // existing entry: status, timeout, mark, protocol state, labels; ENOENT when gone
  kDelete,  // by zone and original tuple
};

std::string_view opName(CtOp op);

// Largest request buildRequest() writes; callers keep this much room free per message.
inline constexpr size_t kMaxRequestSize = 1024;

// Appends one request to buf (at least kMaxRequestSize bytes) and returns its length.
// NLM_F_ACK is set when `ack` is true; the kernel reports a failing request either way.
size_t buildRequest(CtOp op, const Session& s, uint32_t seq, bool ack, std::span<uint8_t> buf);

enum class ParseError : uint8_t {
  kNotConntrack,         // not an IPCTNL_MSG_CT_NEW/DELETE message
  kTruncated,            // lengths do not add up
  kBadAttribute,         // an attribute of the wrong size
  kMissingTuple,         // no original or reply tuple
  kUnsupportedFamily,    // neither IPv4 nor IPv6
  kUnsupportedProtocol,  // a layer-4 protocol gwsync does not sync
  kCount
};
std::string_view parseErrorName(ParseError e);

struct ParseStats {
  uint64_t unknown_attributes = 0;  // skipped: newer kernel than our headers
  std::array<uint64_t, static_cast<size_t>(ParseError::kCount)> errors{};
  void count(ParseError e) { ++errors[static_cast<size_t>(e)]; }
};

enum class CtEventType : uint8_t { kNew, kUpdate, kDestroy };

// Parses a ctnetlink conntrack message. Unknown attributes are skipped and counted in stats.
Result<Session, ParseError> parseConntrack(const nlmsghdr* nlh, ParseStats& stats);
// The event an IPCTNL_MSG_CT_NEW/DELETE message reports.
CtEventType eventType(const nlmsghdr* nlh);

}  // namespace gwsync::syncd
