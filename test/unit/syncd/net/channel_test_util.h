// Helpers shared by the peer channel tests (plain TCP and TLS): running the io_context until a
// condition holds, recording what a channel's handlers saw, sample messages, channel options
// and raw sockets for sending what a well-behaved peer would not.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "syncd/net/peer_channel.h"

namespace gwsync::syncd::test_util {

namespace ip = boost::asio::ip;
using namespace std::chrono_literals;

// Runs the io_context until `done` holds or the deadline passes; never sleeps on a condition.
inline bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(5ms);
  }
  return true;
}

// Runs the io_context for a while, whatever happens (to show that something does not).
inline void runFor(boost::asio::io_context& io, std::chrono::milliseconds d) {
  io.restart();
  io.run_for(d);
}

// What one channel's handlers saw.
struct Events {
  int ups = 0;
  int writables = 0;
  std::vector<std::string> downs;
  std::vector<SyncMessage> messages;
  std::function<void(const SyncMessage&)> on_message;  // extra behaviour for a test

  PeerChannelHandlers handlers() {
    return PeerChannelHandlers{
        .on_up = [this] { ++ups; },
        .on_message =
            [this](SyncMessage&& m) {
              messages.push_back(m);
              if (on_message) on_message(messages.back());
            },
        .on_down = [this](std::string_view reason) { downs.emplace_back(reason); },
        .on_writable = [this] { ++writables; },
    };
  }
};

inline SyncMessage ack(uint64_t seq) { return AckMsg{.epoch = 1, .seq = seq}; }

inline SyncMessage hello(uint32_t node) {
  return HelloMsg{.node_id = node, .site = "lab", .epoch = 100 + node};
}

// A batch of upserts of roughly `n` * 60 bytes on the wire.
inline SyncMessage items(uint64_t first_seq, size_t n) {
  ItemsMsg m{.epoch = 1, .first_seq = first_seq, .items = {}};
  for (size_t i = 0; i < n; ++i) {
    Item item;
    auto& s = item.session;
    s.orig.src = IpAddress::v4(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
    s.orig.dst = IpAddress::v4(192, 0, 2, 1);
    s.orig.proto = l4::kUdp;
    s.orig.src_port = static_cast<uint16_t>(1024 + i);
    s.orig.dst_port = 53;
    s.reply = invert(s.orig);
    s.timeout = 30;
    m.items.push_back(std::move(item));
  }
  return m;
}

// Throws on a bad literal, which fails the test.
inline Endpoint at(const char* address, uint16_t port) {
  return Endpoint{.addr = IpAddress::parse(address).value(), .port = port};
}

inline Endpoint loopback(uint16_t port = 0) { return at("127.0.0.1", port); }

inline PeerChannelOptions listenerOptions(Endpoint peer = loopback(),
                                          Endpoint listen = loopback()) {
  return PeerChannelOptions{
      .listen = listen, .peer = peer, .dial = false, .backoff_min = 10ms, .backoff_max = 50ms};
}

inline PeerChannelOptions dialerOptions(uint16_t port, const char* address = "127.0.0.1") {
  return PeerChannelOptions{.peer = at(address, port),
                            .dial = true,
                            .backoff_min = 10ms,
                            .backoff_max = 50ms,
                            .connect_timeout = 2000ms};
}

// A raw client for sending what a well-behaved peer would not, from a chosen source address.
inline ip::tcp::socket rawConnect(boost::asio::io_context& io, uint16_t port,
                                  const std::string& source = "127.0.0.1") {
  ip::tcp::socket s(io);
  s.open(ip::tcp::v4());
  s.bind(ip::tcp::endpoint(ip::make_address(source), 0));
  s.connect(ip::tcp::endpoint(ip::make_address("127.0.0.1"), port));
  return s;
}

// Reads and discards from a stream until its peer closes it (EOF, reset, TLS alert). The pending
// read holds the state, so it may outlive the test's handle; the stream must outlive the reads.
template <class Stream>
struct Drain : std::enable_shared_from_this<Drain<Stream>> {
  Stream* stream = nullptr;
  std::array<char, 64 * 1024> buf{};
  bool closed = false;
  boost::system::error_code error;

  void read() {
    stream->async_read_some(
        boost::asio::buffer(buf),
        [self = this->shared_from_this()](const boost::system::error_code& ec, size_t) {
          if (ec) {
            self->closed = true;
            self->error = ec;
          } else {
            self->read();
          }
        });
  }
};

template <class Stream>
std::shared_ptr<Drain<Stream>> drain(Stream& s) {
  auto d = std::make_shared<Drain<Stream>>();
  d->stream = &s;
  d->read();
  return d;
}

}  // namespace gwsync::syncd::test_util
