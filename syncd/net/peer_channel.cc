#include "syncd/net/peer_channel.h"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <random>

#include "syncd/net/tcp_transport.h"
#include "syncd/net/tls_context.h"
#include "syncd/net/tls_transport.h"

namespace gwsync::syncd {

namespace {

namespace ip = boost::asio::ip;
using boost::system::error_code;

// Wraps a completion handler so it does nothing once the run it belongs to has ended.
template <class F>
auto guarded(const std::shared_ptr<char>& token, F f) {
  return [weak = std::weak_ptr<char>(token), f = std::move(f)](auto&&... args) mutable {
    if (weak.expired()) return;
    f(std::forward<decltype(args)>(args)...);
  };
}

// Built from the bytes: the address was checked when the config was parsed, so this cannot fail.
ip::address toAsio(const IpAddress& a) {
  if (a.family == Family::kIpv4) {
    ip::address_v4::bytes_type b{};
    std::copy_n(a.bytes.begin(), b.size(), b.begin());
    return ip::address_v4(b);
  }
  ip::address_v6::bytes_type b{};
  std::copy_n(a.bytes.begin(), b.size(), b.begin());
  return ip::address_v6(b);
}

// A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; compare them as IPv4.
ip::address normalized(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

// Daemon handlers are outside code: an exception from one must not unwind through Asio.
template <class F, class... Args>
bool invokeHandler(uint64_t& errors, F& handler, Args&&... args) noexcept {
  if (!handler) return true;
  try {
    handler(std::forward<Args>(args)...);
    return true;
  } catch (...) {
    ++errors;
    return false;
  }
}

// TLS handshakes a listener runs side by side. An unauthenticated connection from the peer's
// address must not displace the peer's own handshake, so the oldest gives way only when this
// many are pending; each also has TlsOptions::handshake_timeout.
constexpr size_t kMaxTlsHandshakes = 4;

uint64_t randomSeed() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

}  // namespace

PeerChannel::PeerChannel(boost::asio::io_context& io, PeerChannelOptions options,
                         PeerChannelHandlers handlers)
    : io_(io),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      backoff_(options_.backoff_min, options_.backoff_max, randomSeed()),
      connect_timer_(io),
      retry_timer_(io) {
  // A queue smaller than two frames would refuse a valid frame forever.
  options_.max_queued_bytes =
      std::max(options_.max_queued_bytes, 2 * (options_.max_frame_bytes + kFrameHeaderBytes));
}

PeerChannel::~PeerChannel() { stop(); }

Result<Ok, std::string> PeerChannel::start() {
  if (running()) return fail(std::string("peer channel already started"));
  peer_address_ = normalized(toAsio(options_.peer.addr));
  if (options_.dial && options_.peer.port == 0) {
    return fail("peer " + options_.peer.toString() + ": port 0 cannot be dialed");
  }
  if (!options_.dial && !options_.listen) {
    return fail(std::string("peer channel: no listen endpoint to accept on"));
  }
  std::shared_ptr<TlsContext> tls;
  if (options_.tls) {
    auto loaded = TlsContext::load(*options_.tls);
    if (!loaded) return fail(loaded.error());
    tls = std::move(loaded.value());
  }
  if (!options_.dial) {
    auto opened = openAcceptor();
    if (!opened) return opened;
  }
  tls_ = std::move(tls);
  run_token_ = std::make_shared<char>();
  if (options_.dial) {
    dialNow();
  } else {
    acceptNext();
  }
  return Ok{};
}

void PeerChannel::stop() {
  run_token_.reset();
  error_code ignored;  // closing is best effort; the handles are released either way
  if (acceptor_) acceptor_->close(ignored);
  acceptor_.reset();
  if (dial_socket_) dial_socket_->close(ignored);
  dial_socket_.reset();
  connect_timer_.cancel();
  retry_timer_.cancel();
  for (auto& c : starting_) c->detach();
  starting_.clear();
  if (live_) live_->detach();
  live_.reset();
}

bool PeerChannel::send(const SyncMessage& m) {
  if (!live_) return false;
  switch (live_->send(m)) {
    case PeerConnection::SendResult::kQueued:
      ++stats_.frames_out;
      return true;
    case PeerConnection::SendResult::kFull:
      ++stats_.send_refused;
      return false;
    case PeerConnection::SendResult::kTooLarge:
      ++stats_.oversized_sends;
      return false;
    case PeerConnection::SendResult::kClosed:
      return false;
  }
  return false;
}

void PeerChannel::disconnect(std::string_view reason) {
  if (!live_) return;
  dropLive(DisconnectReason::kLocal, reason, "disconnect: " + std::string(reason));
}

std::optional<TlsIdentity> PeerChannel::tlsIdentity() const {
  if (!tls_) return std::nullopt;
  return tls_->identity();
}

uint16_t PeerChannel::listenPort() const {
  if (!acceptor_) return 0;
  error_code ec;
  const auto ep = acceptor_->local_endpoint(ec);
  return ec ? 0 : ep.port();
}

Result<Ok, std::string> PeerChannel::openAcceptor() {
  const std::string where = "listen on " + options_.listen->toString();
  const ip::tcp::endpoint ep(toAsio(options_.listen->addr), options_.listen->port);
  ip::tcp::acceptor acceptor(io_);
  error_code ec;
  if (acceptor.open(ep.protocol(), ec); ec) return fail(where + ": " + ec.message());
  // A restarted daemon must rebind while the old connection sits in TIME_WAIT.
  acceptor.set_option(ip::tcp::acceptor::reuse_address(true), ec);
  if (acceptor.bind(ep, ec); ec) return fail(where + ": " + ec.message());
  if (acceptor.listen(ip::tcp::socket::max_listen_connections, ec); ec) {
    return fail(where + ": " + ec.message());
  }
  acceptor_.emplace(std::move(acceptor));
  return Ok{};
}

void PeerChannel::acceptNext() {
  acceptor_->async_accept(guarded(
      run_token_, [this](const error_code& ec, ip::tcp::socket s) { onAccept(ec, std::move(s)); }));
}

void PeerChannel::onAccept(const error_code& ec, ip::tcp::socket socket) {
  if (ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors and similar: retrying at once would spin, so back off.
    ++stats_.accept_errors;
    last_down_detail_ = "accept: " + ec.message();
    retry_timer_.expires_after(backoff_.next());
    retry_timer_.async_wait(guarded(run_token_, [this](const error_code& wait_ec) {
      if (!wait_ec) acceptNext();
    }));
    return;
  }
  error_code remote_ec;
  const auto remote = socket.remote_endpoint(remote_ec);
  acceptNext();
  if (remote_ec || normalized(remote.address()) != peer_address_) {
    ++stats_.rejected;
    error_code ignored;
    socket.close(ignored);
    return;
  }
  adopt(std::move(socket));
}

void PeerChannel::dialNow() {
  const uint64_t attempt = ++dial_attempt_;
  dial_timed_out_ = false;
  dial_socket_.emplace(io_);
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait(guarded(run_token_, [this, attempt](const error_code& ec) {
    if (ec || attempt != dial_attempt_ || !dial_socket_) return;  // the connect finished first
    dial_timed_out_ = true;
    error_code ignored;
    dial_socket_->close(ignored);  // completes the connect with operation_aborted
  }));
  const ip::tcp::endpoint target(peer_address_, options_.peer.port);
  dial_socket_->async_connect(target, guarded(run_token_, [this, attempt](const error_code& ec) {
                                onConnect(ec, attempt);
                              }));
}

void PeerChannel::onConnect(const error_code& ec, uint64_t attempt) {
  if (attempt != dial_attempt_ || !dial_socket_) return;
  connect_timer_.cancel();
  ip::tcp::socket socket = std::move(*dial_socket_);
  dial_socket_.reset();
  if (ec || dial_timed_out_) {
    ++stats_.connect_failures;
    last_down_detail_ = "connect to " + options_.peer.toString() + ": " +
                        (dial_timed_out_ ? std::string("timed out") : ec.message());
    scheduleDial(!dial_timed_out_ && ec == boost::asio::error::connection_refused);
    return;
  }
  refused_since_.reset();
  adopt(std::move(socket));
}

void PeerChannel::scheduleDial(bool refused) {
  if (!running() || !options_.dial || live_ || !starting_.empty() || dial_socket_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!refused) refused_since_.reset();
  if (refused && !refused_since_) refused_since_ = now;
  const bool fast = refused && now - *refused_since_ < kFastRedialWindow;
  retry_timer_.expires_after(fast ? std::min(options_.backoff_min, kRefusedRedial)
                                  : backoff_.next());
  retry_timer_.async_wait(guarded(run_token_, [this](const error_code& ec) {
    if (!ec) dialNow();
  }));
}

void PeerChannel::adopt(ip::tcp::socket socket) {
  // Plain TCP: of two connections still in their handshake, the newer one wins, as for live
  // ones. TLS: see kMaxTlsHandshakes.
  const size_t max_starting = tls_ ? kMaxTlsHandshakes : 1;
  while (starting_.size() >= max_starting) {
    starting_.front()->detach();
    starting_.erase(starting_.begin());
  }
  PeerConnection::Owner& owner = *this;  // the base is private: convert here, not in make_shared
  auto c =
      std::make_shared<PeerConnection>(makeTransport(std::move(socket)), limits(), owner, stats_);
  starting_.push_back(c);
  c->start();
}

std::unique_ptr<Transport> PeerChannel::makeTransport(ip::tcp::socket socket) {
  if (!tls_) return std::make_unique<TcpTransport>(std::move(socket));
  return std::make_unique<TlsTransport>(std::move(socket), tls_,
                                        options_.dial ? TlsRole::kClient : TlsRole::kServer);
}

std::vector<std::shared_ptr<PeerConnection>>::iterator PeerChannel::findStarting(
    const PeerConnection& c) {
  return std::find_if(starting_.begin(), starting_.end(),
                      [&c](const auto& s) { return s.get() == &c; });
}

void PeerChannel::dropLive(DisconnectReason r, std::string_view reason, std::string detail) {
  auto old = std::move(live_);
  old->detach();
  ++stats_.disconnects[static_cast<size_t>(r)];
  last_down_detail_ = std::move(detail);
  invokeHandler(stats_.handler_errors, handlers_.on_down, reason);
  scheduleDial();
}

PeerConnection::Limits PeerChannel::limits() const {
  return PeerConnection::Limits{.max_frame_bytes = options_.max_frame_bytes,
                                .max_items = options_.max_items,
                                .max_queued_bytes = options_.max_queued_bytes};
}

void PeerChannel::connectionReady(PeerConnection& c) {
  auto it = findStarting(c);
  if (it == starting_.end()) return;
  if (live_) {
    dropLive(DisconnectReason::kReplaced, disconnectReasonName(DisconnectReason::kReplaced),
             "replaced by a new connection from the peer");
    // on_down may have called stop(), which detached the new connection too.
    it = findStarting(c);
    if (it == starting_.end()) return;
  }
  live_ = std::move(*it);
  starting_.erase(it);
  ++stats_.connects;
  invokeHandler(stats_.handler_errors, handlers_.on_up);
}

void PeerChannel::connectionMessage(PeerConnection& c, SyncMessage&& m) {
  if (&c != live_.get()) return;
  // Only a peer that talks resets the delay: one that accepts and drops us at once (wrong
  // peer address configured on its side) is then retried ever more slowly, not ten times a second.
  backoff_.reset();
  if (!invokeHandler(stats_.handler_errors, handlers_.on_message, std::move(m)) &&
      live_.get() == &c) {
    dropLive(DisconnectReason::kHandlerError, disconnectReasonName(DisconnectReason::kHandlerError),
             "on_message threw");
  }
}

void PeerChannel::connectionDrained(PeerConnection& c) {
  if (&c != live_.get()) return;
  invokeHandler(stats_.handler_errors, handlers_.on_writable);
}

void PeerChannel::connectionLost(PeerConnection& c, DisconnectReason r, std::string detail) {
  if (auto it = findStarting(c); it != starting_.end()) {
    starting_.erase(it);
    ++stats_.connect_failures;
    last_down_detail_ = std::move(detail);
    invokeHandler(stats_.handler_errors, handlers_.on_refused, last_down_detail_);
    scheduleDial();
    return;
  }
  if (&c != live_.get()) return;
  // lose() already closed the stream; dropLive's detach is then a harmless no-op.
  dropLive(r, disconnectReasonName(r), std::move(detail));
}

}  // namespace gwsync::syncd
