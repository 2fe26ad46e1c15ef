#include "syncd/net/tcp_transport.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace gwsync::syncd {

TcpTransport::TcpTransport(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ignored;  // a socket that refuses the option still works
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
}

void TcpTransport::asyncHandshake(Handler done) {
  // Nothing to negotiate; posted so that completion never runs inside the caller.
  boost::asio::post(socket_.get_executor(),
                    [done = std::move(done)] { done(boost::system::error_code{}); });
}

void TcpTransport::asyncReadSome(boost::asio::mutable_buffer into, IoHandler done) {
  socket_.async_read_some(into, std::move(done));
}

void TcpTransport::asyncWrite(boost::asio::const_buffer from, IoHandler done) {
  boost::asio::async_write(socket_, from, std::move(done));
}

void TcpTransport::close() {
  boost::system::error_code ignored;  // closing is best effort; the fd is released either way
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace gwsync::syncd
