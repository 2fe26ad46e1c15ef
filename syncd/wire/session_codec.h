// Conversion between the session model (syncd/core/session.h) and the wire messages
// (proto/gwsync.proto). Pure: values in, values out; no I/O, no logging, no clocks.
//
// Everything a peer sends passes through fromProto before it can reach the kernel, so fromProto
// validates: a malformed record is rejected with one DecodeError that the caller counts by
// reasonName() and drops. Nothing here throws or asserts on input.
//
// Canonical form. fromProto keeps only the fields that mean something for the tuple's protocol
// (ports for port protocols and GRE keys, id/type/code for ICMP and ICMPv6) and zeroes the others;
// 16 zero label bytes and empty labels both decode to "no labels". toProto writes the same
// canonical form, so:
//   fromProto(toProto(s)) == s       for every session s fromProto can produce, and
//   toProto(fromProto(x)) == x       for every valid message x already in canonical form.
// Decoding is deterministic: when a message has several defects, the checks run in a fixed order
// (family, zone, tuples, protocol agreement, labels, helper, tcp, sctp) and the first one wins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gwsync.pb.h"
#include "syncd/core/result.h"
#include "syncd/core/session.h"

namespace gwsync::syncd {

// Why a wire record was rejected. One value per reason; the values label a drop counter, so the
// set is bounded and reasonName() of each value never changes once released.
enum class DecodeError : uint8_t {
  kMissingTuple,         // orig (or, for a session, reply) tuple absent
  kBadFamily,            // family is neither IPV4 nor IPV6
  kBadAddressLength,     // an address is neither 4 nor 16 bytes
  kFamilyMismatch,       // an address length does not match the family (so orig vs reply too)
  kUnsupportedProtocol,  // l4_proto fails isSupportedL4
  kProtocolMismatch,     // orig and reply l4_proto differ, or ICMP/ICMPv6 in the other family
  kPortOutOfRange,       // a port (GRE key) above 65535
  kIcmpFieldOutOfRange,  // icmp_id above 65535, or icmp_type / icmp_code above 255
  kZoneOutOfRange,       // zone above 65535
  kBadLabelsLength,      // labels neither empty nor 16 bytes
  kTcpInfoOnNonTcp,      // tcp present on a non-TCP session
  kSctpInfoOnNonSctp,    // sctp present on a non-SCTP session
  kTcpFieldOutOfRange,   // state beyond TCP_CONNTRACK_LISTEN, wscale > 14, flags > 0xff
  kSctpStateOutOfRange,  // state beyond SCTP_CONNTRACK_HEARTBEAT_ACKED
  kHelperTooLong,        // helper longer than kMaxHelperName
  kBadHelperName,        // helper contains a NUL byte (the kernel would cut the name there)
};

inline constexpr size_t kDecodeErrorCount = static_cast<size_t>(DecodeError::kBadHelperName) + 1;

// A short, stable snake_case name for metrics labels and logs, e.g. "bad_family".
std::string_view reasonName(DecodeError e);

void toProto(const Session& s, v1::Session* out);
void toProto(const SessionKey& k, v1::SessionKey* out);

Result<Session, DecodeError> fromProto(const v1::Session& in);
Result<SessionKey, DecodeError> fromProto(const v1::SessionKey& in);

}  // namespace gwsync::syncd
