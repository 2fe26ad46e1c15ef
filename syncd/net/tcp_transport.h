// Plain TCP under a peer connection (see transport.h). Owns the connected socket.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <utility>

#include "syncd/net/transport.h"

namespace gwsync::syncd {

class TcpTransport final : public Transport {
 public:
  // Turns TCP_NODELAY on: frames are small and latency-bound (acks, heartbeats); the channel
  // already coalesces queued frames into one write.
  explicit TcpTransport(boost::asio::ip::tcp::socket socket);

  void asyncHandshake(Handler done) override;
  void asyncReadSome(boost::asio::mutable_buffer into, IoHandler done) override;
  void asyncWrite(boost::asio::const_buffer from, IoHandler done) override;
  void close() override;

 private:
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace gwsync::syncd
