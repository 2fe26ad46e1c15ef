// The sync channel to the one configured peer gateway: at most one live TCP connection carrying
// length-prefixed frames (syncd/wire/frame_codec.h).
//
// Exactly one node of a pair dials (the daemon passes dial = own node id < peer node id); the
// other listens and accepts only connections from the peer's address. A dialer reconnects with
// backoff whenever the connection is lost (the delay resets once the peer has sent a valid
// frame); a listener waits for the peer to dial again, and a new connection from the peer
// replaces the live one (the peer restarted and is redialing). A refused connect (the peer's
// host answered, its daemon is not listening: a restart in progress) is retried every
// kRefusedRedial (or backoff_min if shorter) for kFastRedialWindow instead of backing off: the
// restarted peer's bulk starts when we reach it, and a backoff grown to its maximum while the
// peer was down would add up to that maximum to every restart. Refusals cost the peer one RST
// each (at most 1000 in those 5 s).
//
// With PeerChannelOptions::tls the stream is TLS 1.3 with mutual authentication (tls_options.h):
// a connection counts as up only once both sides accepted each other's certificate. A failed
// handshake closes that connection and is counted by reason (PeerChannelStats::tls_errors); a
// listener runs a few handshakes side by side, each with a deadline, so connections that never
// authenticate cannot crowd out the peer's.
//
// Threading: everything runs on the io_context's thread; methods must be called on that thread
// too. Handlers are called from completion handlers, except on_down, which disconnect() calls
// before it returns. A handler may call any method, including stop() and disconnect(), but must
// not destroy the channel (stop() it and destroy it later, e.g. from a posted handler). Nothing
// throws out of a completion handler: handler exceptions are caught and counted, and a throwing
// on_message drops the connection (its state can no longer be trusted).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "syncd/core/endpoint.h"
#include "syncd/core/result.h"
#include "syncd/core/sync_messages.h"
#include "syncd/net/backoff.h"
#include "syncd/net/peer_channel_stats.h"
#include "syncd/net/peer_connection.h"
#include "syncd/net/tls_options.h"
#include "syncd/wire/frame_codec.h"

namespace gwsync::syncd {

class TlsContext;

struct PeerChannelOptions {
  std::optional<Endpoint> listen{};  // required when dial is false; ignored when dial is true
  Endpoint peer{};                   // dial target, or the only source address accepted
  bool dial = false;
  size_t max_frame_bytes = kDefaultMaxFrameBytes;  // both directions
  size_t max_items = kDefaultMaxItemsPerFrame;
  // Backpressure: send() refuses frames beyond this. Raised to two maximal frames if smaller.
  size_t max_queued_bytes = size_t{32} << 20;
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds connect_timeout{3000};
  // TLS on the channel; plain TCP when absent. The files are read at every start().
  std::optional<TlsOptions> tls{};
};

struct PeerChannelHandlers {
  std::function<void()> on_up{};
  std::function<void(SyncMessage&&)> on_message{};
  // Once per on_up. The reason is disconnectReasonName() of the cause, or for disconnect() the
  // daemon's own reason; PeerChannel::lastDownDetail() has the detail for the log.
  std::function<void(std::string_view reason)> on_down{};
  // After send() refused a frame: the queue drained below half of max_queued_bytes.
  std::function<void()> on_writable{};
  // A connection failed its handshake (TLS refusal, counted in tls_errors): the detail for the
  // log (which check, the certificate, OpenSSL's reason). Never followed by on_up or on_down.
  std::function<void(const std::string& detail)> on_refused{};
};

class PeerChannel final : private PeerConnection::Owner {
 public:
  PeerChannel(boost::asio::io_context& io, PeerChannelOptions options,
              PeerChannelHandlers handlers);
  ~PeerChannel();
  PeerChannel(const PeerChannel&) = delete;
  PeerChannel& operator=(const PeerChannel&) = delete;

  // Binds the listener or starts dialing. Fails on a missing listen endpoint, a dial target with
  // port 0, a listener that cannot bind, with a message naming the endpoint, or on TLS files and
  // options that do not load (naming the option, the file and OpenSSL's reason). A stopped channel
  // may be started again (and then re-reads the TLS files: that is how a new key is taken up).
  [[nodiscard]] Result<Ok, std::string> start();
  // Cancels all work and closes every socket without calling a handler, so io_context::run()
  // returns once the cancelled operations have completed.
  void stop();

  // Queues one frame on the live connection. False when not connected, when the queue is full
  // (writable() turns false; wait for on_writable), or when the frame exceeds max_frame_bytes
  // (writable() stays true; counted as oversized_sends: a bug in the sender's batching).
  bool send(const SyncMessage& m);
  bool connected() const { return live_ != nullptr; }
  bool writable() const { return live_ != nullptr && live_->writable(); }
  size_t queuedBytes() const { return live_ != nullptr ? live_->queuedBytes() : 0; }
  // Drops the live connection (e.g. the peer stopped answering heartbeats). on_down(reason) runs
  // before this returns; a dialer then reconnects with backoff.
  void disconnect(std::string_view reason);

  const PeerChannelStats& stats() const { return stats_; }
  // What ended the last connection or dial attempt, for the log: an OS error, a frame error name.
  const std::string& lastDownDetail() const { return last_down_detail_; }
  // The bound listening port (useful with port 0); 0 when not listening.
  uint16_t listenPort() const;
  // This node's TLS certificate once start() loaded it (for the log and an expiry metric).
  std::optional<TlsIdentity> tlsIdentity() const;

 private:
  bool running() const { return run_token_ != nullptr; }
  Result<Ok, std::string> openAcceptor();
  void acceptNext();
  void onAccept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
  void dialNow();
  void onConnect(const boost::system::error_code& ec, uint64_t attempt);
  // refused: the connect was refused (see the fast redial above).
  void scheduleDial(bool refused = false);
  void adopt(boost::asio::ip::tcp::socket socket);
  std::unique_ptr<Transport> makeTransport(boost::asio::ip::tcp::socket socket);
  // starting_.end() when `c` is not (or no longer) one of the connections in their handshake.
  std::vector<std::shared_ptr<PeerConnection>>::iterator findStarting(const PeerConnection& c);
  // Ends the live connection, counts it and runs on_down; a dialer then schedules a redial.
  void dropLive(DisconnectReason r, std::string_view reason, std::string detail);
  PeerConnection::Limits limits() const;

  void connectionReady(PeerConnection& c) override;
  void connectionMessage(PeerConnection& c, SyncMessage&& m) override;
  void connectionDrained(PeerConnection& c) override;
  void connectionLost(PeerConnection& c, DisconnectReason r, std::string detail) override;

  boost::asio::io_context& io_;
  PeerChannelOptions options_;
  PeerChannelHandlers handlers_;
  PeerChannelStats stats_;
  Backoff backoff_;
  boost::asio::ip::address peer_address_;
  // Alive from start() to stop(): completion handlers hold a weak reference and do nothing once
  // it expired, so a stopped (or destroyed) channel is never touched by a late completion.
  std::shared_ptr<char> run_token_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::ip::tcp::socket> dial_socket_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer retry_timer_;
  uint64_t dial_attempt_ = 0;
  bool dial_timed_out_ = false;
  static constexpr std::chrono::seconds kFastRedialWindow{5};
  static constexpr std::chrono::milliseconds kRefusedRedial{5};
  // Since when connects have been refused without a break (fast redial), if they are.
  std::optional<std::chrono::steady_clock::time_point> refused_since_;
  std::shared_ptr<TlsContext> tls_;  // loaded by start() when options_.tls is set
  // Connected, handshake not yet done, oldest first: one for plain TCP, a few for TLS.
  std::vector<std::shared_ptr<PeerConnection>> starting_;
  std::shared_ptr<PeerConnection> live_;
  std::string last_down_detail_;
};

}  // namespace gwsync::syncd
