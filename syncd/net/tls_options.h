// What the daemon configures for TLS on the peer channel, and the fingerprint format the config
// and gwsync-keygen share. No OpenSSL here, so the config and daemon code that fill these in do
// not need its headers; loading happens in TlsContext (tls_context.h) at PeerChannel::start().
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncd/core/result.h"

namespace gwsync::syncd {

// TLS 1.3 only, both sides present certificates. The peer is authenticated by every check that is
// configured, and at least one of peer_fingerprints and ca_file must be:
//  - peer_fingerprints: the SHA-256 of the peer's certificate (DER) must be one of these; no chain
//    is needed, a self-signed certificate is fine. Two entries while a key is rotated.
//  - ca_file: the peer's chain must verify against these CA certificates (a private CA).
//  - peer_name: the certificate's DNS subjectAltName (or, without any, its CN) must match. Set it
//    when a CA signs certificates for more than the two nodes of this pair.
// In every case the peer certificate must be inside its validity period (clocks must agree).
struct TlsOptions {
  std::string key_file;   // PEM private key (EC, Ed25519, RSA); not encrypted
  std::string cert_file;  // PEM certificate, optionally followed by its intermediate CAs
  std::optional<std::string> ca_file{};
  // Hex, upper or lower case, ':' separators allowed: "ab:cd:..." or "abcd...", 64 digits.
  std::vector<std::string> peer_fingerprints{};
  std::optional<std::string> peer_name{};
  // A connection that has not completed the handshake by then is closed (a silent client must
  // not hold a handshake slot).
  std::chrono::milliseconds handshake_timeout{5000};
};

using Fingerprint = std::array<uint8_t, 32>;

// Reads a SHA-256 fingerprint as TlsOptions::peer_fingerprints holds it. The error says what is
// wrong without repeating the text (the caller names the key and value).
Result<Fingerprint, std::string> parseFingerprint(std::string_view text);
// "AB:CD:...": the form gwsync-keygen and `openssl x509 -fingerprint -sha256` print.
std::string formatFingerprint(const Fingerprint& f);

// This node's certificate, for the start-up log and an expiry metric.
struct TlsIdentity {
  std::string fingerprint;  // formatFingerprint() of the certificate
  std::string subject;      // e.g. "CN=gw-a"
  std::chrono::system_clock::time_point not_after;
  // The earliest notAfter among the certificates of ca_file; absent without ca_file. When it
  // passes, the peer's certificate no longer verifies.
  std::optional<std::chrono::system_clock::time_point> ca_not_after{};
};

}  // namespace gwsync::syncd
