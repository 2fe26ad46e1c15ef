#include "syncd/net/tls_error.h"

#include <string>

namespace gwsync::syncd {

namespace {

class TlsErrorCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "gwsync.tls"; }
  std::string message(int ev) const override {
    if (ev < 1 || static_cast<size_t>(ev) > kTlsErrorCount) return "unknown tls error";
    return std::string(tlsErrorName(static_cast<TlsError>(ev - 1)));
  }
};

const boost::system::error_category& tlsErrorCategory() {
  static const TlsErrorCategory category;
  return category;
}

}  // namespace

std::string_view tlsErrorName(TlsError e) {
  switch (e) {
    case TlsError::kHandshakeFailed:
      return "handshake_failed";
    case TlsError::kHandshakeTimeout:
      return "handshake_timeout";
    case TlsError::kNotTls:
      return "not_tls";
    case TlsError::kProtocolVersion:
      return "protocol_version";
    case TlsError::kNoPeerCertificate:
      return "no_peer_certificate";
    case TlsError::kFingerprintMismatch:
      return "fingerprint_mismatch";
    case TlsError::kUntrustedCertificate:
      return "untrusted_certificate";
    case TlsError::kCertificateExpired:
      return "certificate_expired";
    case TlsError::kCertificateNotYetValid:
      return "certificate_not_yet_valid";
    case TlsError::kPeerNameMismatch:
      return "peer_name_mismatch";
    case TlsError::kRejectedByPeer:
      return "rejected_by_peer";
  }
  return "unknown";  // not reached for a valid enumerator; keeps -Wreturn-type quiet
}

bool isAuthenticationFailure(TlsError e) {
  switch (e) {
    case TlsError::kNoPeerCertificate:
    case TlsError::kFingerprintMismatch:
    case TlsError::kUntrustedCertificate:
    case TlsError::kCertificateExpired:
    case TlsError::kCertificateNotYetValid:
    case TlsError::kPeerNameMismatch:
      return true;
    default:
      return false;
  }
}

// Value 0 would be a success to error_code's operator bool, so each reason is its index + 1.
boost::system::error_code make_error_code(TlsError e) {
  return {static_cast<int>(e) + 1, tlsErrorCategory()};
}

std::optional<TlsError> tlsErrorOf(const boost::system::error_code& ec) {
  if (ec.category() != tlsErrorCategory()) return std::nullopt;
  if (ec.value() < 1 || static_cast<size_t>(ec.value()) > kTlsErrorCount) return std::nullopt;
  return static_cast<TlsError>(ec.value() - 1);
}

}  // namespace gwsync::syncd
