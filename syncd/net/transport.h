// The byte stream under a peer connection. PeerConnection speaks only to this interface, so TLS
// drops in as a second implementation (an SSL stream whose asyncHandshake runs the TLS
// handshake) without touching framing, queueing or reconnect logic.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>

namespace gwsync::syncd {

// One connected stream. Completion handlers run on the io_context's thread, never inline from
// the initiating call; after close() every pending operation completes with operation_aborted.
class Transport {
 public:
  using Handler = std::function<void(const boost::system::error_code&)>;
  using IoHandler = std::function<void(const boost::system::error_code&, std::size_t)>;

  virtual ~Transport() = default;

  // Completes when the stream is ready for application data (TLS: after the handshake). A
  // TLS failure completes with a TlsError (tls_error.h), which the connection counts.
  virtual void asyncHandshake(Handler done) = 0;
  virtual void asyncReadSome(boost::asio::mutable_buffer into, IoHandler done) = 0;
  // Completes when all of `from` is written or on the first error. `from` must stay valid.
  virtual void asyncWrite(boost::asio::const_buffer from, IoHandler done) = 0;
  virtual void close() = 0;
  // After asyncHandshake failed: what exactly, for the log (TLS: which check refused which
  // certificate). Never contains secrets.
  virtual std::string handshakeDetail() const { return {}; }
};

}  // namespace gwsync::syncd
