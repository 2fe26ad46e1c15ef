// The loaded TLS configuration of the peer channel: an Asio SSL context holding this node's key
// and certificate (in memory only: the files are read once, at PeerChannel::start()) and the
// policy that decides whether a peer certificate is accepted. Shared by every TlsTransport of a
// run; immutable after load(), used on the io_context's thread.
#pragma once

#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "syncd/core/result.h"
#include "syncd/net/tls_error.h"
#include "syncd/net/tls_options.h"

namespace gwsync::syncd {

class TlsContext {
 public:
  // Reads and checks every file: errors name the option, the file and OpenSSL's reason. Refuses
  // a key file that others may read, an encrypted key (a daemon cannot prompt), a key that does
  // not match the certificate, fingerprints that do not parse, and options without any way to
  // authenticate the peer.
  static Result<std::shared_ptr<TlsContext>, std::string> load(const TlsOptions& options);

  boost::asio::ssl::context& asio() { return ctx_; }
  const TlsIdentity& identity() const { return identity_; }
  std::chrono::milliseconds handshakeTimeout() const { return handshake_timeout_; }

  // The verdict on one certificate of the peer's chain, given OpenSSL's own verdict on it (see
  // TlsTransport's verify callback). `error` empty means accepted.
  struct Verdict {
    std::optional<TlsError> error;
    std::string detail;  // for the log: which check, the certificate's fingerprint or dates
    // For a refusal by our own checks: the X509_V_ERR_* that picks the alert the peer receives
    // (OpenSSL's error for the certificate would say e.g. "self-signed", which is not why).
    int x509_error = 0;
  };
  Verdict check(bool preverified, X509_STORE_CTX* store) const;

 private:
  explicit TlsContext(boost::asio::ssl::context ctx);
  Verdict checkLeaf(X509* cert) const;

  boost::asio::ssl::context ctx_;
  std::vector<Fingerprint> pins_;
  bool use_ca_ = false;
  std::optional<std::string> peer_name_;
  std::chrono::milliseconds handshake_timeout_{5000};
  TlsIdentity identity_;
};

}  // namespace gwsync::syncd
