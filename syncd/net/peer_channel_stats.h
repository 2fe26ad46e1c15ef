// Counters of the peer channel, read by the metrics exporter. Reasons are bounded enums so each
// one can be a `reason` label.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "syncd/net/tls_error.h"
#include "syncd/wire/frame_codec.h"
#include "syncd/wire/session_codec.h"

namespace gwsync::syncd {

// Why a live connection ended. stop() ends it silently and is not counted.
enum class DisconnectReason : uint8_t {
  kPeerClosed,    // orderly close (EOF) from the peer
  kReadError,     // reset, or any other receive error
  kWriteError,    // a send failed
  kDecodeError,   // the peer sent a bad frame (PeerChannelStats::decode_errors says which)
  kReplaced,      // listener: a new connection from the peer took over (the peer restarted)
  kLocal,         // disconnect() by the daemon, e.g. on a heartbeat timeout
  kHandlerError,  // a handler threw; the connection's state can no longer be trusted
};

inline constexpr size_t kDisconnectReasonCount =
    static_cast<size_t>(DisconnectReason::kHandlerError) + 1;

// Stable snake_case name, e.g. "peer_closed"; on_down receives it (except for kLocal, which
// passes the daemon's own reason through).
std::string_view disconnectReasonName(DisconnectReason r);

struct PeerChannelStats {
  uint64_t frames_in = 0;         // frames decoded and delivered to on_message
  uint64_t frames_out = 0;        // frames accepted by send()
  uint64_t bytes_in = 0;          // bytes read from the socket
  uint64_t bytes_out = 0;         // bytes written to the socket
  uint64_t connects = 0;          // connections that came up (on_up)
  uint64_t connect_failures = 0;  // dial attempts that failed or timed out
  uint64_t rejected = 0;          // accepted connections from an address other than the peer's
  uint64_t accept_errors = 0;     // accept() failures (e.g. out of file descriptors)
  uint64_t send_refused = 0;      // send() returned false on a live connection: queue full
  uint64_t oversized_sends = 0;   // send() returned false: the frame exceeds max_frame_bytes
  uint64_t handler_errors = 0;    // exceptions caught from the daemon's handlers
  std::array<uint64_t, kDisconnectReasonCount> disconnects{};
  std::array<uint64_t, kFrameErrorCount> decode_errors{};
  std::array<uint64_t, kDecodeErrorCount> session_errors{};  // the cause of each kBadSession
  // TLS handshakes that failed, by reason (the connection never came up, so these are not
  // disconnects; each also counts as a connect_failure). Only with PeerChannelOptions::tls.
  std::array<uint64_t, kTlsErrorCount> tls_errors{};

  uint64_t disconnectsFor(DisconnectReason r) const { return disconnects[static_cast<size_t>(r)]; }
  uint64_t decodeErrorsFor(FrameError e) const { return decode_errors[static_cast<size_t>(e)]; }
  uint64_t tlsErrorsFor(TlsError e) const { return tls_errors[static_cast<size_t>(e)]; }
  // Handshakes refused because the peer did not prove who it is (isAuthenticationFailure).
  uint64_t peerNotAuthenticated() const;
};

}  // namespace gwsync::syncd
