// The peer channel over TLS on loopback: mutual authentication by pinned fingerprint or private
// CA, and every way a handshake is refused, counted on the side that refused and on the side
// that was refused, with no connection coming up and no message delivered.
#include <gtest/gtest.h>

#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "syncd/net/peer_channel.h"
#include "test/unit/syncd/net/channel_test_util.h"
#include "test/unit/syncd/net/tls_test_pki.h"

namespace gwsync::syncd {
namespace {

namespace ssl = boost::asio::ssl;
using namespace test_util;
using boost::system::error_code;

TlsOptions pinned(const Identity& self, const Identity& peer) {
  return TlsOptions{.key_file = self.key_file,
                    .cert_file = self.cert_file,
                    .peer_fingerprints = {peer.fingerprint}};
}

TlsOptions viaCa(const Identity& self, const Identity& ca) {
  return TlsOptions{
      .key_file = self.key_file, .cert_file = self.cert_file, .ca_file = ca.cert_file};
}

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = pki_.make({.name = "gw-a"});
    b_ = pki_.make({.name = "gw-b"});
  }

  // Starts a listener with `l_tls` and a dialer with `d_tls` (backoff 10 ms), without waiting.
  void startPair(TlsOptions l_tls, TlsOptions d_tls) {
    auto lo = listenerOptions();
    lo.tls = std::move(l_tls);
    listener_ = std::make_unique<PeerChannel>(io_, std::move(lo), l_.handlers());
    auto r = listener_->start();
    ASSERT_TRUE(r.ok()) << r.error();
    auto dopts = dialerOptions(listener_->listenPort());
    dopts.backoff_max = 10ms;
    dopts.tls = std::move(d_tls);
    dialer_ = std::make_unique<PeerChannel>(io_, std::move(dopts), d_.handlers());
    r = dialer_->start();
    ASSERT_TRUE(r.ok()) << r.error();
  }

  void connectPair(TlsOptions l_tls, TlsOptions d_tls) {
    startPair(std::move(l_tls), std::move(d_tls));
    ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1 && d_.ups == 1; }))
        << "listener: " << listener_->lastDownDetail() << "\ndialer: " << dialer_->lastDownDetail();
  }

  // Both directions carry messages in order.
  void exchange() {
    const size_t l0 = l_.messages.size(), d0 = d_.messages.size();
    ASSERT_TRUE(dialer_->send(hello(1)));
    ASSERT_TRUE(dialer_->send(items(1, 300)));
    ASSERT_TRUE(listener_->send(hello(2)));
    ASSERT_TRUE(runUntil(
        io_, [&] { return l_.messages.size() == l0 + 2 && d_.messages.size() == d0 + 1; }));
    EXPECT_EQ(l_.messages[l0], hello(1));
    EXPECT_EQ(l_.messages[l0 + 1], items(1, 300));
    EXPECT_EQ(d_.messages[d0], hello(2));
  }

  // Waits until the listener counted `at_listener` and the dialer `at_dialer` at least twice
  // (the dialer retried), then checks that nothing came up on either side.
  void expectRefused(TlsError at_listener, TlsError at_dialer) {
    ASSERT_TRUE(runUntil(io_,
                         [&] {
                           return listener_->stats().tlsErrorsFor(at_listener) >= 2 &&
                                  dialer_->stats().tlsErrorsFor(at_dialer) >= 2;
                         }))
        << "listener: " << listener_->lastDownDetail() << "\ndialer: " << dialer_->lastDownDetail();
    EXPECT_EQ(l_.ups + d_.ups, 0);
    EXPECT_TRUE(l_.messages.empty());
    EXPECT_TRUE(d_.messages.empty());
    EXPECT_FALSE(listener_->connected());
    EXPECT_FALSE(dialer_->connected());
    EXPECT_EQ(listener_->stats().frames_in + dialer_->stats().frames_in, 0u);
  }

  TestPki pki_;
  Identity a_, b_;  // a_ listens, b_ dials
  boost::asio::io_context io_;
  Events l_, d_;
  std::unique_ptr<PeerChannel> listener_, dialer_;
};

TEST_F(TlsChannelTest, PinnedPeersExchangeMessagesBothWays) {
  connectPair(pinned(a_, b_), pinned(b_, a_));
  exchange();
  for (size_t i = 0; i < kTlsErrorCount; ++i) {
    EXPECT_EQ(listener_->stats().tls_errors[i], 0u) << tlsErrorName(static_cast<TlsError>(i));
    EXPECT_EQ(dialer_->stats().tls_errors[i], 0u) << tlsErrorName(static_cast<TlsError>(i));
  }
  ASSERT_TRUE(listener_->tlsIdentity().has_value());
  EXPECT_EQ(listener_->tlsIdentity()->fingerprint, a_.fingerprint);
  EXPECT_EQ(listener_->tlsIdentity()->subject, "CN=gw-a");
  EXPECT_GT(listener_->tlsIdentity()->not_after, std::chrono::system_clock::now());
}

TEST_F(TlsChannelTest, Ed25519AndP256KeysWorkInBothRoles) {
  const Identity ed_a = pki_.make({.name = "gw-a", .key = KeyType::kEd25519});
  const Identity ed_b = pki_.make({.name = "gw-b", .key = KeyType::kEd25519});
  connectPair(pinned(ed_a, b_), pinned(b_, ed_a));  // Ed25519 server, P-256 client
  exchange();
  dialer_.reset();
  listener_.reset();
  l_ = {};
  d_ = {};
  connectPair(pinned(a_, ed_b), pinned(ed_b, a_));  // P-256 server, Ed25519 client
  exchange();
}

TEST_F(TlsChannelTest, FingerprintsMayUseAnyCaseAndNoSeparators) {
  auto l_tls = pinned(a_, b_);
  std::string bare;
  for (const char c : b_.fingerprint) {
    if (c != ':') bare += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // A second pin (the peer's next key during a rotation) does not stop the first from working.
  l_tls.peer_fingerprints = {a_.fingerprint, bare};
  connectPair(l_tls, pinned(b_, a_));
  exchange();
}

TEST_F(TlsChannelTest, ListenerRefusesAnUnpinnedClientCertificate) {
  const Identity other = pki_.make({.name = "gw-b"});  // same name, different key
  startPair(pinned(a_, other), pinned(b_, a_));
  expectRefused(TlsError::kFingerprintMismatch, TlsError::kRejectedByPeer);
  EXPECT_NE(listener_->lastDownDetail().find(b_.fingerprint), std::string::npos)
      << listener_->lastDownDetail();
  EXPECT_EQ(listener_->stats().peerNotAuthenticated(),
            listener_->stats().tlsErrorsFor(TlsError::kFingerprintMismatch));
}

TEST_F(TlsChannelTest, DialerRefusesAnUnpinnedServerCertificate) {
  const Identity other = pki_.make({.name = "gw-a"});
  startPair(pinned(a_, b_), pinned(b_, other));
  expectRefused(TlsError::kRejectedByPeer, TlsError::kFingerprintMismatch);
}

TEST_F(TlsChannelTest, ListenerRefusesAClientWithoutCertificate) {
  startPair(pinned(a_, b_), pinned(b_, a_));
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1 && d_.ups == 1; }));
  ssl::context ctx(ssl::context::tlsv13_client);
  ctx.set_verify_mode(ssl::verify_none);
  ssl::stream<ip::tcp::socket> client(rawConnect(io_, listener_->listenPort()), ctx);
  std::optional<error_code> handshake;
  client.async_handshake(ssl::stream_base::client, [&](const error_code& ec) { handshake = ec; });
  ASSERT_TRUE(runUntil(io_, [&] { return handshake.has_value(); }));
  EXPECT_FALSE(*handshake) << "TLS 1.3: the server judges the client after its handshake";
  auto reader = drain(client);
  ASSERT_TRUE(runUntil(io_, [&] { return reader->closed; }));
  EXPECT_NE(reader->error.message().find("certificate required"), std::string::npos)
      << reader->error.message();
  EXPECT_EQ(listener_->stats().tlsErrorsFor(TlsError::kNoPeerCertificate), 1u);
  EXPECT_EQ(l_.ups, 1);  // the real peer's connection is untouched
  exchange();
}

TEST_F(TlsChannelTest, PrivateCaAuthenticatesBothSides) {
  const Identity ca = pki_.make({.name = "gwsync-ca", .ca = true});
  const Identity a = pki_.make({.name = "gw-a"}, &ca);
  const Identity b = pki_.make({.name = "gw-b"}, &ca);
  auto l_tls = viaCa(a, ca);
  l_tls.peer_name = "gw-b";
  auto d_tls = viaCa(b, ca);
  d_tls.peer_name = "gw-a";
  connectPair(l_tls, d_tls);
  exchange();
}

TEST_F(TlsChannelTest, CertificateFromAnotherCaIsRefused) {
  const Identity ca = pki_.make({.name = "gwsync-ca", .ca = true});
  const Identity rogue_ca = pki_.make({.name = "gwsync-ca", .ca = true});
  const Identity a = pki_.make({.name = "gw-a"}, &ca);
  const Identity b = pki_.make({.name = "gw-b"}, &rogue_ca);
  startPair(viaCa(a, ca), viaCa(b, ca));
  expectRefused(TlsError::kUntrustedCertificate, TlsError::kRejectedByPeer);
  EXPECT_NE(listener_->lastDownDetail().find("CN=gw-b: unable to get local issuer certificate"),
            std::string::npos)
      << listener_->lastDownDetail();
  EXPECT_NE(dialer_->lastDownDetail().find("alert unknown ca"), std::string::npos)
      << dialer_->lastDownDetail();
}

TEST_F(TlsChannelTest, CertificateForAnotherNameIsRefused) {
  const Identity ca = pki_.make({.name = "gwsync-ca", .ca = true});
  const Identity a = pki_.make({.name = "gw-a"}, &ca);
  const Identity c = pki_.make({.name = "gw-c"}, &ca);  // another pair's gateway, same CA
  auto l_tls = viaCa(a, ca);
  l_tls.peer_name = "gw-b";
  startPair(l_tls, viaCa(c, ca));
  expectRefused(TlsError::kPeerNameMismatch, TlsError::kRejectedByPeer);
}

TEST_F(TlsChannelTest, ExpiredPinnedCertificateIsRefused) {
  const Identity old_b = pki_.make({.name = "gw-b", .valid_from = -48h, .valid_until = -24h});
  startPair(pinned(a_, old_b), pinned(old_b, a_));
  expectRefused(TlsError::kCertificateExpired, TlsError::kRejectedByPeer);
  // The refused side learns why from the alert.
  EXPECT_NE(dialer_->lastDownDetail().find("alert certificate expired"), std::string::npos)
      << dialer_->lastDownDetail();
}

TEST_F(TlsChannelTest, NotYetValidCertificateIsRefusedInCaMode) {
  const Identity ca = pki_.make({.name = "gwsync-ca", .ca = true});
  const Identity future_a = pki_.make({.name = "gw-a", .valid_from = 24h, .valid_until = 48h}, &ca);
  const Identity b = pki_.make({.name = "gw-b"}, &ca);
  startPair(viaCa(future_a, ca), viaCa(b, ca));
  expectRefused(TlsError::kRejectedByPeer, TlsError::kCertificateNotYetValid);
}

TEST_F(TlsChannelTest, PlaintextGarbageIsRefusedAndThePeerKeepsWorking) {
  connectPair(pinned(a_, b_), pinned(b_, a_));
  auto raw = rawConnect(io_, listener_->listenPort());
  auto reader = drain(raw);
  std::string frame;
  encodeFrame(hello(9), frame);  // what a peer configured without TLS would send
  boost::asio::write(raw, boost::asio::buffer(frame));
  ASSERT_TRUE(runUntil(io_, [&] { return reader->closed; }));
  EXPECT_EQ(listener_->stats().tlsErrorsFor(TlsError::kNotTls), 1u);
  EXPECT_TRUE(l_.downs.empty());
  EXPECT_EQ(l_.messages.size(), 0u);
  exchange();
}

TEST_F(TlsChannelTest, OldTlsVersionIsRefused) {
  startPair(pinned(a_, b_), pinned(b_, a_));
  ssl::context ctx(ssl::context::tlsv12_client);
  ctx.use_certificate_chain_file(b_.cert_file);
  ctx.use_private_key_file(b_.key_file, ssl::context::pem);
  ssl::stream<ip::tcp::socket> client(rawConnect(io_, listener_->listenPort()), ctx);
  std::optional<error_code> handshake;
  client.async_handshake(ssl::stream_base::client, [&](const error_code& ec) { handshake = ec; });
  ASSERT_TRUE(runUntil(io_, [&] { return handshake.has_value(); }));
  EXPECT_TRUE(*handshake) << "a TLS 1.2 handshake succeeded";
  ASSERT_TRUE(runUntil(
      io_, [&] { return listener_->stats().tlsErrorsFor(TlsError::kProtocolVersion) == 1; }));
}

TEST_F(TlsChannelTest, SilentClientTimesOutWithoutBlockingThePeer) {
  auto l_tls = pinned(a_, b_);
  l_tls.handshake_timeout = 300ms;
  auto lo = listenerOptions();
  lo.tls = l_tls;
  listener_ = std::make_unique<PeerChannel>(io_, lo, l_.handlers());
  ASSERT_TRUE(listener_->start().ok());
  auto silent = rawConnect(io_, listener_->listenPort());
  auto reader = drain(silent);
  runFor(io_, 20ms);  // the silent connection is accepted and waiting first
  auto dopts = dialerOptions(listener_->listenPort());
  dopts.tls = pinned(b_, a_);
  dialer_ = std::make_unique<PeerChannel>(io_, dopts, d_.handlers());
  ASSERT_TRUE(dialer_->start().ok());
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1 && d_.ups == 1; }));
  EXPECT_FALSE(reader->closed);
  ASSERT_TRUE(runUntil(
      io_, [&] { return reader->closed; }, 3s));
  EXPECT_EQ(listener_->stats().tlsErrorsFor(TlsError::kHandshakeTimeout), 1u);
  EXPECT_NE(listener_->lastDownDetail().find("300 ms"), std::string::npos)
      << listener_->lastDownDetail();
  exchange();
}

TEST_F(TlsChannelTest, TlsDialerAgainstAPlaintextListenerFails) {
  listener_ = std::make_unique<PeerChannel>(io_, listenerOptions(), l_.handlers());
  ASSERT_TRUE(listener_->start().ok());
  auto dopts = dialerOptions(listener_->listenPort());
  dopts.tls = pinned(b_, a_);
  dialer_ = std::make_unique<PeerChannel>(io_, dopts, d_.handlers());
  ASSERT_TRUE(dialer_->start().ok());
  ASSERT_TRUE(runUntil(io_, [&] {
    return dialer_->stats().tlsErrorsFor(TlsError::kHandshakeFailed) >= 2;
  })) << dialer_->lastDownDetail();
  EXPECT_NE(dialer_->lastDownDetail().find("the peer closed the connection during the handshake"),
            std::string::npos)
      << dialer_->lastDownDetail();
  EXPECT_EQ(d_.ups, 0);
  EXPECT_TRUE(l_.messages.empty());
}

TEST_F(TlsChannelTest, DialerReconnectsAfterListenerRestart) {
  connectPair(pinned(a_, b_), pinned(b_, a_));
  const uint16_t port = listener_->listenPort();
  listener_.reset();
  ASSERT_TRUE(runUntil(io_, [&] { return d_.downs.size() == 1; }));
  EXPECT_EQ(d_.downs[0], "peer_closed");
  ASSERT_TRUE(runUntil(io_, [&] { return dialer_->stats().connect_failures >= 2; }));
  auto lo = listenerOptions(loopback(), loopback(port));
  lo.tls = pinned(a_, b_);
  listener_ = std::make_unique<PeerChannel>(io_, lo, l_.handlers());
  ASSERT_TRUE(listener_->start().ok());
  ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 2 && d_.ups == 2; }));
  exchange();
  EXPECT_EQ(dialer_->stats().connects, 2u);
}

}  // namespace
}  // namespace gwsync::syncd
