#include "syncd/net/tls_transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <utility>

namespace gwsync::syncd {

namespace {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

// The server's "your certificate is accepted" (see the header). Any fixed bytes would do; these
// also catch a peer that speaks TLS but not gwsync.
constexpr std::array<char, 4> kAccepted = {'G', 'W', 'S', '1'};

// The bounded reason behind an error of the handshake, when no check of ours recorded one.
TlsError classify(const error_code& ec) {
  if (ec.category() != boost::asio::error::get_ssl_category()) return TlsError::kHandshakeFailed;
  const auto e = static_cast<unsigned long>(static_cast<unsigned int>(ec.value()));
  if (ERR_SYSTEM_ERROR(e) || ERR_GET_LIB(e) != ERR_LIB_SSL) return TlsError::kHandshakeFailed;
  switch (ERR_GET_REASON(e)) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return TlsError::kNoPeerCertificate;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return TlsError::kProtocolVersion;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return TlsError::kNotTls;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return TlsError::kUntrustedCertificate;
    default:
      break;
  }
  // OpenSSL reports an alert received from the peer as SSL_AD_REASON_OFFSET + the alert.
  if (ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET) return TlsError::kRejectedByPeer;
  return TlsError::kHandshakeFailed;
}

std::string describe(const error_code& ec) {
  if (ec == boost::asio::error::eof || ec == ssl::error::stream_truncated ||
      ec == boost::asio::error::connection_reset) {
    return "the peer closed the connection during the handshake";
  }
  return ec.message();
}

}  // namespace

TlsTransport::TlsTransport(boost::asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> context,
                           TlsRole role)
    : context_(std::move(context)),
      role_(role),
      stream_(std::move(socket), context_->asio()),
      deadline_(stream_.get_executor()) {
  error_code ignored;  // TCP_NODELAY as in TcpTransport; the stream works without it
  stream_.next_layer().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  // Only allocation can fail here, and then the handshake fails on the missing callback.
  stream_.set_verify_callback(
      [this](bool preverified, ssl::verify_context& ctx) { return verify(preverified, ctx); },
      ignored);
}

void TlsTransport::asyncHandshake(Handler done) {
  deadline_.expires_after(context_->handshakeTimeout());
  deadline_.async_wait([this, alive = std::weak_ptr<char>(alive_)](const error_code& ec) {
    if (alive.expired() || ec || handshake_done_) return;
    failure_ = TlsError::kHandshakeTimeout;
    detail_ = "no complete handshake within " +
              std::to_string(context_->handshakeTimeout().count()) + " ms";
    error_code ignored;  // completes the pending handshake operation with an error
    stream_.next_layer().close(ignored);
  });
  const auto type = role_ == TlsRole::kClient ? ssl::stream_base::client : ssl::stream_base::server;
  stream_.async_handshake(type, [this, done = std::move(done)](const error_code& ec) mutable {
    onTlsHandshake(ec, std::move(done));
  });
}

void TlsTransport::onTlsHandshake(const error_code& ec, Handler done) {
  if (ec) {
    failHandshake(ec, done);
    return;
  }
  // The verify callback runs for the leaf in every accepted handshake; this guards the policy
  // against an OpenSSL path that would skip it.
  if (!leaf_accepted_) {
    const bool none = SSL_get0_peer_certificate(stream_.native_handle()) == nullptr;
    failure_ = none ? TlsError::kNoPeerCertificate : TlsError::kHandshakeFailed;
    detail_ = "the peer certificate was not checked";
    failHandshake(ec, done);
    return;
  }
  if (role_ == TlsRole::kServer) {
    boost::asio::async_write(stream_, boost::asio::buffer(kAccepted),
                             [this, done = std::move(done)](const error_code& wec, size_t) mutable {
                               onMarker(wec, std::move(done));
                             });
    return;
  }
  boost::asio::async_read(stream_, boost::asio::buffer(marker_),
                          [this, done = std::move(done)](const error_code& rec, size_t) mutable {
                            if (!rec && marker_ != kAccepted) {
                              failure_ = TlsError::kHandshakeFailed;
                              detail_ = "the peer is not a gwsync TLS peer (no confirmation)";
                            }
                            onMarker(rec, std::move(done));
                          });
}

void TlsTransport::onMarker(const error_code& ec, Handler done) {
  if (ec || failure_) {
    failHandshake(ec, done);
    return;
  }
  finishHandshake(done);
}

void TlsTransport::failHandshake(const error_code& ec, const Handler& done) {
  handshake_done_ = true;
  deadline_.cancel();
  if (!failure_) {
    failure_ = classify(ec);
    detail_ = describe(ec);
  }
  done(make_error_code(*failure_));
}

void TlsTransport::finishHandshake(const Handler& done) {
  handshake_done_ = true;
  deadline_.cancel();
  done(error_code{});
}

void TlsTransport::asyncReadSome(boost::asio::mutable_buffer into, IoHandler done) {
  stream_.async_read_some(into, [done = std::move(done)](const error_code& ec, size_t n) {
    // A peer that closes without close_notify (every close: close() is synchronous) is an end
    // of stream like TCP's. Truncation cannot fake data: frames carry their length and every
    // item is acknowledged by the sync protocol.
    done(ec == ssl::error::stream_truncated ? error_code(boost::asio::error::eof) : ec, n);
  });
}

void TlsTransport::asyncWrite(boost::asio::const_buffer from, IoHandler done) {
  boost::asio::async_write(stream_, from, std::move(done));
}

void TlsTransport::close() {
  deadline_.cancel();
  error_code ignored;  // closing is best effort; the fd is released either way
  stream_.next_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.next_layer().close(ignored);
}

bool TlsTransport::verify(bool preverified, ssl::verify_context& ctx) noexcept {
  X509_STORE_CTX* store = ctx.native_handle();
  try {
    auto verdict = context_->check(preverified, store);
    if (X509_STORE_CTX_get_error_depth(store) == 0) leaf_accepted_ = !verdict.error;
    if (!verdict.error) return true;
    if (verdict.x509_error != 0) X509_STORE_CTX_set_error(store, verdict.x509_error);
    if (!failure_) {
      failure_ = verdict.error;
      detail_ = std::move(verdict.detail);
    }
  } catch (...) {  // called from OpenSSL's C frames: nothing may unwind through them
    leaf_accepted_ = false;
    if (!failure_) failure_ = TlsError::kHandshakeFailed;
  }
  return false;
}

}  // namespace gwsync::syncd
