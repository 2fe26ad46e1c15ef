// Why a TLS handshake on the peer channel failed: a bounded reason, so each one can be a `reason`
// label (PeerChannelStats::tls_errors). TlsTransport completes asyncHandshake with an error_code
// of this category; PeerConnection counts it. No OpenSSL here: the daemon's metrics include this.
#pragma once

#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace gwsync::syncd {

enum class TlsError : uint8_t {
  kHandshakeFailed,         // any other failure, e.g. the peer closed mid-handshake
  kHandshakeTimeout,        // no complete handshake within TlsOptions::handshake_timeout
  kNotTls,                  // the peer does not speak TLS (plaintext peer, garbage)
  kProtocolVersion,         // the peer offered only TLS < 1.3
  kNoPeerCertificate,       // the client presented no certificate
  kFingerprintMismatch,     // the certificate's SHA-256 is not in peer_fingerprints
  kUntrustedCertificate,    // the chain does not verify against ca_file
  kCertificateExpired,      // a certificate of the chain is past its notAfter
  kCertificateNotYetValid,  // a certificate of the chain is before its notBefore
  kPeerNameMismatch,        // neither CN nor DNS SAN is peer_name
  kRejectedByPeer,          // the peer refused us with an alert (most often: our certificate)
};

inline constexpr size_t kTlsErrorCount = static_cast<size_t>(TlsError::kRejectedByPeer) + 1;

// Stable snake_case name, e.g. "fingerprint_mismatch".
std::string_view tlsErrorName(TlsError e);

// True for the reasons that mean "this peer did not prove who it is".
bool isAuthenticationFailure(TlsError e);

// The error_code a TlsTransport's handshake completes with (never a success: values start at 1),
// and the reason back from one; nullopt for any error_code that is not a TlsError.
boost::system::error_code make_error_code(TlsError e);  // NOLINT: found by ADL, Boost's name
std::optional<TlsError> tlsErrorOf(const boost::system::error_code& ec);

}  // namespace gwsync::syncd

template <>
struct boost::system::is_error_code_enum<gwsync::syncd::TlsError> : std::true_type {};
