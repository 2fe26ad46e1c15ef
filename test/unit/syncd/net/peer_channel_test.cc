#include "syncd/net/peer_channel.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "test/unit/syncd/net/channel_test_util.h"

namespace gwsync::syncd {
namespace {

namespace ip = boost::asio::ip;
using namespace std::chrono_literals;
using namespace test_util;
using boost::system::error_code;

void startOk(PeerChannel& c) {
  auto r = c.start();
  ASSERT_TRUE(r.ok()) << r.error();
}

class PeerChannelTest : public ::testing::Test {
 protected:
  // A connected pair: `listener_` accepts from 127.0.0.1, `dialer_` dials it.
  void connectPair(PeerChannelOptions listen_opts = listenerOptions(),
                   std::chrono::milliseconds dial_backoff = 10ms) {
    listener_ = std::make_unique<PeerChannel>(io_, std::move(listen_opts), l_.handlers());
    startOk(*listener_);
    ASSERT_NE(listener_->listenPort(), 0);
    auto dial_opts = dialerOptions(listener_->listenPort());
    dial_opts.backoff_min = dial_backoff;
    dial_opts.backoff_max = dial_backoff;
    dialer_ = std::make_unique<PeerChannel>(io_, dial_opts, d_.handlers());
    startOk(*dialer_);
    ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1 && d_.ups == 1; }));
    EXPECT_TRUE(listener_->connected());
    EXPECT_TRUE(dialer_->connected());
  }

  boost::asio::io_context io_;
  Events l_, d_;
  std::unique_ptr<PeerChannel> listener_, dialer_;
};

TEST_F(PeerChannelTest, MessagesFlowBothWaysInOrder) {
  connectPair();
  std::vector<SyncMessage> to_listener, to_dialer;
  for (uint64_t i = 1; i <= 200; ++i) {
    to_listener.push_back(i % 50 == 0 ? items(i, 100) : ack(i));
    to_dialer.push_back(i == 1 ? hello(1) : ack(1000 + i));
  }
  for (const auto& m : to_listener) ASSERT_TRUE(dialer_->send(m));
  for (const auto& m : to_dialer) ASSERT_TRUE(listener_->send(m));
  ASSERT_TRUE(runUntil(io_, [&] {
    return l_.messages.size() == to_listener.size() && d_.messages.size() == to_dialer.size();
  }));
  EXPECT_EQ(l_.messages, to_listener);
  EXPECT_EQ(d_.messages, to_dialer);
  EXPECT_EQ(dialer_->stats().frames_out, 200u);
  EXPECT_EQ(listener_->stats().frames_in, 200u);
  // bytes_out counts when the write completes, which may be after the peer read the bytes.
  ASSERT_TRUE(runUntil(io_, [&] { return dialer_->queuedBytes() == 0; }));
  EXPECT_EQ(listener_->stats().bytes_in, dialer_->stats().bytes_out);
  EXPECT_TRUE(l_.downs.empty());
  EXPECT_TRUE(d_.downs.empty());
}

TEST_F(PeerChannelTest, RejectsConnectionsFromOtherAddresses) {
  listener_ =
      std::make_unique<PeerChannel>(io_, listenerOptions(at("127.0.0.2", 1)), l_.handlers());
  startOk(*listener_);
  auto stranger = rawConnect(io_, listener_->listenPort(), "127.0.0.1");
  auto reader = drain(stranger);
  ASSERT_TRUE(runUntil(io_, [&] { return reader->closed; }));
  EXPECT_EQ(listener_->stats().rejected, 1u);
  EXPECT_EQ(l_.ups, 0);
  EXPECT_FALSE(listener_->connected());

  // The configured peer's address is accepted.
  error_code ec;
  ip::tcp::socket peer(io_);
  peer.open(ip::tcp::v4());
  peer.bind(ip::tcp::endpoint(ip::make_address("127.0.0.2"), 0), ec);
  if (ec) GTEST_SKIP() << "cannot bind 127.0.0.2: " << ec.message();
  peer.connect(ip::tcp::endpoint(ip::make_address("127.0.0.1"), listener_->listenPort()));
  EXPECT_TRUE(runUntil(io_, [&] { return listener_->connected(); }));
  EXPECT_EQ(l_.ups, 1);
  EXPECT_EQ(listener_->stats().rejected, 1u);
}

TEST_F(PeerChannelTest, DialerReconnectsAfterListenerRestart) {
  connectPair();
  const uint16_t port = listener_->listenPort();
  listener_->stop();
  ASSERT_TRUE(runUntil(io_, [&] { return d_.downs.size() == 1; }));
  EXPECT_FALSE(dialer_->connected());
  EXPECT_TRUE(d_.downs[0] == "peer_closed" || d_.downs[0] == "read_error") << d_.downs[0];
  EXPECT_TRUE(l_.downs.empty());  // stop() is silent
  ASSERT_TRUE(runUntil(io_, [&] { return dialer_->stats().connect_failures >= 2; }));

  // The same port again, as a restarted daemon would bind it; destroy the old channel first.
  listener_.reset();
  listener_ = std::make_unique<PeerChannel>(io_, listenerOptions(loopback(), loopback(port)),
                                            l_.handlers());
  startOk(*listener_);
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 2 && d_.ups == 2; }));
  ASSERT_TRUE(dialer_->send(ack(7)));
  ASSERT_TRUE(runUntil(io_, [&] { return l_.messages.size() == 1; }));
  EXPECT_EQ(l_.messages[0], ack(7));
  EXPECT_EQ(dialer_->stats().connects, 2u);
}

TEST_F(PeerChannelTest, ListenerSeesDialerRestart) {
  connectPair();
  dialer_->stop();
  ASSERT_TRUE(runUntil(io_, [&] { return l_.downs.size() == 1; }));
  EXPECT_EQ(l_.downs[0], "peer_closed");
  EXPECT_EQ(listener_->stats().disconnectsFor(DisconnectReason::kPeerClosed), 1u);
  startOk(*dialer_);
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 2 && d_.ups == 2; }));
  ASSERT_TRUE(listener_->send(hello(2)));
  ASSERT_TRUE(runUntil(io_, [&] { return d_.messages.size() == 1; }));
}

TEST_F(PeerChannelTest, DisconnectCallsOnDownAndRedials) {
  connectPair();
  dialer_->disconnect("heartbeat_timeout");
  ASSERT_EQ(d_.downs.size(), 1u);  // before disconnect() returned
  EXPECT_EQ(d_.downs[0], "heartbeat_timeout");
  EXPECT_FALSE(dialer_->connected());
  EXPECT_FALSE(dialer_->send(ack(1)));
  EXPECT_EQ(dialer_->stats().disconnectsFor(DisconnectReason::kLocal), 1u);
  dialer_->disconnect("again");  // nothing live: no second on_down
  EXPECT_EQ(d_.downs.size(), 1u);
  ASSERT_TRUE(runUntil(io_, [&] { return d_.ups == 2 && l_.ups == 2; }));
  EXPECT_EQ(l_.downs.size(), 1u);
}

TEST_F(PeerChannelTest, NewConnectionFromPeerReplacesTheLiveOne) {
  connectPair(listenerOptions(), 60s);  // the old dialer must not take the connection back
  auto restarted = rawConnect(io_, listener_->listenPort());
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 2; }));
  ASSERT_EQ(l_.downs.size(), 1u);
  EXPECT_EQ(l_.downs[0], "replaced");
  EXPECT_EQ(listener_->stats().disconnectsFor(DisconnectReason::kReplaced), 1u);
  // The raw "peer" now owns the connection: a frame it sends arrives.
  std::string frame;
  encodeFrame(hello(9), frame);
  boost::asio::write(restarted, boost::asio::buffer(frame));
  ASSERT_TRUE(runUntil(io_, [&] { return !l_.messages.empty(); }));
  EXPECT_EQ(l_.messages.back(), hello(9));
  EXPECT_TRUE(runUntil(io_, [&] { return !d_.downs.empty(); }));  // the old one was closed
}

TEST_F(PeerChannelTest, OversizedFrameDropsTheConnection) {
  auto opts = listenerOptions();
  opts.max_frame_bytes = 1024;
  listener_ = std::make_unique<PeerChannel>(io_, opts, l_.handlers());
  startOk(*listener_);
  auto raw = rawConnect(io_, listener_->listenPort());
  auto reader = drain(raw);
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1; }));
  const std::string header{0, 0, 0x04, 0x01};  // 1025 bytes
  boost::asio::write(raw, boost::asio::buffer(header));
  ASSERT_TRUE(runUntil(io_, [&] { return reader->closed && l_.downs.size() == 1; }));
  EXPECT_EQ(l_.downs[0], "decode_error");
  EXPECT_EQ(listener_->lastDownDetail(), "frame_too_large");
  EXPECT_EQ(listener_->stats().decodeErrorsFor(FrameError::kFrameTooLarge), 1u);
  EXPECT_EQ(listener_->stats().disconnectsFor(DisconnectReason::kDecodeError), 1u);
  EXPECT_FALSE(listener_->connected());
}

TEST_F(PeerChannelTest, InvalidSessionIsCountedByReason) {
  listener_ = std::make_unique<PeerChannel>(io_, listenerOptions(), l_.handlers());
  startOk(*listener_);
  auto raw = rawConnect(io_, listener_->listenPort());
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1; }));
  auto bad = std::get<ItemsMsg>(items(1, 1));
  bad.items[0].session.reply.proto = l4::kTcp;  // orig is UDP
  std::string frame;
  encodeFrame(bad, frame);
  boost::asio::write(raw, boost::asio::buffer(frame));
  ASSERT_TRUE(runUntil(io_, [&] { return l_.downs.size() == 1; }));
  EXPECT_EQ(listener_->stats().decodeErrorsFor(FrameError::kBadSession), 1u);
  EXPECT_EQ(listener_->stats().session_errors[static_cast<size_t>(DecodeError::kProtocolMismatch)],
            1u);
  EXPECT_TRUE(l_.messages.empty());
}

TEST_F(PeerChannelTest, BackpressureRefusesAndRecovers) {
  // A peer that accepts and never reads: the kernel buffers fill, then our queue.
  ip::tcp::acceptor sink(io_, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  ip::tcp::socket sink_socket(io_);
  sink.async_accept(sink_socket, [](const error_code&) {});
  auto opts = dialerOptions(sink.local_endpoint().port());
  opts.max_frame_bytes = 64 * 1024;
  opts.max_queued_bytes = 256 * 1024;
  dialer_ = std::make_unique<PeerChannel>(io_, opts, d_.handlers());
  startOk(*dialer_);
  ASSERT_TRUE(runUntil(io_, [&] { return d_.ups == 1 && sink_socket.is_open(); }));

  const SyncMessage batch = items(1, 400);  // about 25 KB
  bool stuck = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!stuck && std::chrono::steady_clock::now() < deadline) {
    while (dialer_->send(batch)) ASSERT_LE(dialer_->queuedBytes(), opts.max_queued_bytes);
    EXPECT_FALSE(dialer_->writable());
    EXPECT_LE(dialer_->queuedBytes(), opts.max_queued_bytes);
    // Refused until the queue drained below half; stuck once the kernel buffers are full too.
    stuck = !runUntil(
        io_, [&] { return dialer_->writable(); }, 300ms);
  }
  ASSERT_TRUE(stuck);
  EXPECT_FALSE(dialer_->send(ack(1)));
  EXPECT_GT(dialer_->stats().send_refused, 0u);
  EXPECT_TRUE(dialer_->connected());

  const int writables = d_.writables;
  auto reader = drain(sink_socket);
  ASSERT_TRUE(runUntil(io_, [&] { return d_.writables > writables; }));
  EXPECT_TRUE(dialer_->writable());
  EXPECT_LT(dialer_->queuedBytes(), opts.max_queued_bytes / 2);
  EXPECT_TRUE(dialer_->send(ack(1)));
  EXPECT_FALSE(reader->closed);
}

TEST_F(PeerChannelTest, RefusesFramesLargerThanTheLimit) {
  auto opts = listenerOptions();
  opts.max_frame_bytes = 4096;
  connectPair(opts);
  // The dialer's own limit is the default; give the listener's side the large frame.
  EXPECT_FALSE(listener_->send(items(1, 400)));
  EXPECT_EQ(listener_->stats().oversized_sends, 1u);
  EXPECT_TRUE(listener_->writable());
  EXPECT_EQ(listener_->queuedBytes(), 0u);
  EXPECT_TRUE(listener_->send(ack(1)));
}

TEST_F(PeerChannelTest, DialerRetriesUntilThePeerListens) {
  uint16_t port = 0;
  {
    ip::tcp::acceptor probe(io_, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  dialer_ = std::make_unique<PeerChannel>(io_, dialerOptions(port), d_.handlers());
  startOk(*dialer_);
  ASSERT_TRUE(runUntil(io_, [&] { return dialer_->stats().connect_failures >= 3; }));
  EXPECT_NE(dialer_->lastDownDetail().find("connect to 127.0.0.1:"), std::string::npos);
  EXPECT_EQ(d_.ups, 0);
  listener_ = std::make_unique<PeerChannel>(io_, listenerOptions(loopback(), loopback(port)),
                                            l_.handlers());
  startOk(*listener_);
  ASSERT_TRUE(runUntil(io_, [&] { return d_.ups == 1 && l_.ups == 1; }));
}

TEST_F(PeerChannelTest, RefusedConnectsAreRetriedWithoutGrowingTheDelay) {
  // A refusal means the peer's host is up and its daemon restarting: retried every 5 ms. A
  // backoff doubling from 20 ms towards 5 s would need over 20 s for 15 attempts; the deadline
  // is 10 s.
  uint16_t port = 0;
  {
    ip::tcp::acceptor probe(io_, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  auto opts = dialerOptions(port);
  opts.backoff_min = 20ms;
  opts.backoff_max = 5000ms;
  dialer_ = std::make_unique<PeerChannel>(io_, opts, d_.handlers());
  startOk(*dialer_);
  ASSERT_TRUE(runUntil(io_, [&] { return dialer_->stats().connect_failures >= 15; }, 10s))
      << dialer_->stats().connect_failures << " attempts";
  EXPECT_NE(dialer_->lastDownDetail().find("refused"), std::string::npos)
      << dialer_->lastDownDetail();
}

TEST_F(PeerChannelTest, DialerBacksOffFromAPeerThatDropsIt) {
  // The listener expects 127.0.0.2, so it drops every connection the dialer makes from 127.0.0.1
  // right after accepting it. Without a frame from the peer the delay keeps growing.
  listener_ =
      std::make_unique<PeerChannel>(io_, listenerOptions(at("127.0.0.2", 1)), l_.handlers());
  startOk(*listener_);
  auto opts = dialerOptions(listener_->listenPort());
  opts.backoff_max = 400ms;
  dialer_ = std::make_unique<PeerChannel>(io_, opts, d_.handlers());
  startOk(*dialer_);
  ASSERT_TRUE(runUntil(io_, [&] { return listener_->stats().rejected >= 5; }));
  // The next two delays are 160 and 320 ms (+-25%): at least 0.36 s, where a delay that stayed
  // at 10 ms would have made some 30 attempts.
  const auto before = listener_->stats().rejected;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(runUntil(io_, [&] { return listener_->stats().rejected >= before + 2; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(l_.ups, 0);
}

TEST_F(PeerChannelTest, ConnectTimesOut) {
  // A listener whose accept queue is full drops SYNs, so a connect neither succeeds nor fails.
  ip::tcp::acceptor full(io_, ip::tcp::v4());
  full.bind(ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  std::vector<std::unique_ptr<ip::tcp::socket>> fillers;
  for (int i = 0; i < 3; ++i) {
    fillers.push_back(std::make_unique<ip::tcp::socket>(io_));
    fillers.back()->async_connect(full.local_endpoint(), [](const error_code&) {});
  }
  auto opts = dialerOptions(full.local_endpoint().port());
  opts.connect_timeout = 200ms;
  opts.backoff_min = 1000ms;
  opts.backoff_max = 1000ms;
  dialer_ = std::make_unique<PeerChannel>(io_, opts, d_.handlers());
  startOk(*dialer_);
  ASSERT_TRUE(runUntil(io_, [&] {
    return dialer_->lastDownDetail().find("timed out") != std::string::npos;
  })) << dialer_->lastDownDetail();
  EXPECT_GE(dialer_->stats().connect_failures, 1u);
}

TEST_F(PeerChannelTest, WorksOverIpv6Loopback) {
  const Endpoint v6 = at("::1", 0);
  listener_ = std::make_unique<PeerChannel>(io_, listenerOptions(v6, v6), l_.handlers());
  if (auto r = listener_->start(); !r) GTEST_SKIP() << "no IPv6 loopback: " << r.error();
  dialer_ = std::make_unique<PeerChannel>(io_, dialerOptions(listener_->listenPort(), "::1"),
                                          d_.handlers());
  startOk(*dialer_);
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1 && d_.ups == 1; }));
  ASSERT_TRUE(dialer_->send(hello(1)));
  ASSERT_TRUE(runUntil(io_, [&] { return l_.messages.size() == 1; }));
  EXPECT_EQ(l_.messages[0], hello(1));
}

TEST_F(PeerChannelTest, DualStackListenerAcceptsAnIpv4Peer) {
  // On [::] an IPv4 peer arrives as ::ffff:127.0.0.1; it must still match the configured address.
  listener_ =
      std::make_unique<PeerChannel>(io_, listenerOptions(loopback(), at("::", 0)), l_.handlers());
  if (auto r = listener_->start(); !r) GTEST_SKIP() << "no IPv6: " << r.error();
  dialer_ =
      std::make_unique<PeerChannel>(io_, dialerOptions(listener_->listenPort()), d_.handlers());
  startOk(*dialer_);
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1 && d_.ups == 1; }));
  EXPECT_EQ(listener_->stats().rejected, 0u);
}

TEST_F(PeerChannelTest, ThrowingHandlerDropsTheConnectionNotTheProcess) {
  connectPair();
  l_.on_message = [](const SyncMessage&) { throw std::runtime_error("bug in the daemon"); };
  ASSERT_TRUE(dialer_->send(ack(1)));
  ASSERT_TRUE(runUntil(io_, [&] { return l_.downs.size() == 1; }));
  EXPECT_EQ(l_.downs[0], "handler_error");
  EXPECT_EQ(listener_->stats().handler_errors, 1u);
  l_.on_message = nullptr;
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 2 && d_.ups == 2; }));
}

TEST_F(PeerChannelTest, HandlersMayStopTheChannel) {
  connectPair();
  l_.on_message = [&](const SyncMessage&) { listener_->stop(); };
  ASSERT_TRUE(dialer_->send(ack(1)));
  ASSERT_TRUE(dialer_->send(ack(2)));  // must not be delivered after stop()
  ASSERT_TRUE(runUntil(io_, [&] { return !d_.downs.empty(); }));
  EXPECT_EQ(l_.messages.size(), 1u);
  EXPECT_FALSE(listener_->connected());
  EXPECT_TRUE(l_.downs.empty());
}

TEST_F(PeerChannelTest, StopLetsRunReturn) {
  connectPair();
  listener_->stop();
  dialer_->stop();
  io_.restart();
  const auto start = std::chrono::steady_clock::now();
  io_.run_for(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  // A destroyed channel is not touched by completions still queued for it.
  startOk(*listener_);
  dialer_ =
      std::make_unique<PeerChannel>(io_, dialerOptions(listener_->listenPort()), d_.handlers());
  startOk(*dialer_);
  dialer_.reset();
  listener_.reset();
  io_.restart();
  io_.run_for(1s);
}

TEST_F(PeerChannelTest, StartReportsConfigurationErrors) {
  PeerChannelOptions no_listen{.peer = loopback(1), .dial = false};
  PeerChannel a(io_, no_listen, {});
  auto r = a.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no listen endpoint"), std::string::npos);

  // A host name cannot reach the channel: Endpoint holds an IpAddress, and parseEndpoint rejects
  // names (EndpointTest.ExplainsWhatIsWrong).

  PeerChannel c(io_, dialerOptions(0), {});
  r = c.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("port 0"), std::string::npos);

  PeerChannel first(io_, listenerOptions(), {});
  startOk(first);
  PeerChannel second(io_, listenerOptions(loopback(), loopback(first.listenPort())), {});
  r = second.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("listen on 127.0.0.1:" + std::to_string(first.listenPort())),
            std::string::npos)
      << r.error();
  EXPECT_FALSE(first.start().ok());  // already started
}

}  // namespace
}  // namespace gwsync::syncd
