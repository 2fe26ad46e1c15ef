// TLS 1.3 under a peer connection (see transport.h): an Asio SSL stream over the connected
// socket, with mutual authentication by TlsContext's policy. Owns the stream and a handshake
// deadline. Runs on the io_context's thread.
//
// asyncHandshake completes only once *both* sides have accepted each other. In TLS 1.3 the
// client finishes its handshake before the server has checked the client's certificate, so the
// server confirms with a short marker after its checks and the client waits for it: a rejected
// client never reports a connection that the server is about to drop. Failures complete with a
// TlsError (tls_error.h); handshakeDetail() has the specifics for the log.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "syncd/net/tls_context.h"
#include "syncd/net/tls_error.h"
#include "syncd/net/transport.h"

namespace gwsync::syncd {

enum class TlsRole : uint8_t { kClient, kServer };  // the dialer is the client

class TlsTransport final : public Transport {
 public:
  TlsTransport(boost::asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> context,
               TlsRole role);

  void asyncHandshake(Handler done) override;
  void asyncReadSome(boost::asio::mutable_buffer into, IoHandler done) override;
  void asyncWrite(boost::asio::const_buffer from, IoHandler done) override;
  void close() override;
  std::string handshakeDetail() const override { return detail_; }

 private:
  bool verify(bool preverified, boost::asio::ssl::verify_context& ctx) noexcept;
  void onTlsHandshake(const boost::system::error_code& ec, Handler done);
  void onMarker(const boost::system::error_code& ec, Handler done);
  // Completes the handshake with the reason behind `ec`, or with what the checks recorded.
  void failHandshake(const boost::system::error_code& ec, const Handler& done);
  void finishHandshake(const Handler& done);

  std::shared_ptr<TlsContext> context_;  // the stream's SSL_CTX and the verify policy
  TlsRole role_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  boost::asio::steady_timer deadline_;
  // Completion handlers that outlive this object (the deadline's) check it before touching it.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  std::array<char, 4> marker_{};
  std::optional<TlsError> failure_;  // set by the verify callback or the deadline
  std::string detail_;
  bool leaf_accepted_ = false;
  bool handshake_done_ = false;  // the deadline no longer applies
};

}  // namespace gwsync::syncd
