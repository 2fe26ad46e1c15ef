#include "syncd/net/peer_channel_stats.h"

namespace gwsync::syncd {

std::string_view disconnectReasonName(DisconnectReason r) {
  switch (r) {
    case DisconnectReason::kPeerClosed:
      return "peer_closed";
    case DisconnectReason::kReadError:
      return "read_error";
    case DisconnectReason::kWriteError:
      return "write_error";
    case DisconnectReason::kDecodeError:
      return "decode_error";
    case DisconnectReason::kReplaced:
      return "replaced";
    case DisconnectReason::kLocal:
      return "local";
    case DisconnectReason::kHandlerError:
      return "handler_error";
  }
  return "unknown";  // not reached for a valid enumerator; keeps -Wreturn-type quiet
}

uint64_t PeerChannelStats::peerNotAuthenticated() const {
  uint64_t n = 0;
  for (size_t i = 0; i < kTlsErrorCount; ++i) {
    if (isAuthenticationFailure(static_cast<TlsError>(i))) n += tls_errors[i];
  }
  return n;
}

}  // namespace gwsync::syncd
