// TLS configuration: the fingerprint format, what start() refuses (naming the option, the file
// and the reason), and the keygen script's output working as the channel's configuration.
#include "syncd/net/tls_options.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "syncd/net/peer_channel.h"
#include "syncd/net/tls_context.h"
#include "test/unit/syncd/net/channel_test_util.h"
#include "test/unit/syncd/net/tls_test_pki.h"

namespace gwsync::syncd {
namespace {

using namespace test_util;

TEST(FingerprintTest, ReadsHexWithOrWithoutSeparators) {
  const std::string upper =
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:"
      "EE:FF";
  auto f = parseFingerprint(upper);
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ((*f)[10], 0xaa);
  EXPECT_EQ(formatFingerprint(*f), upper);
  auto bare = parseFingerprint("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(*bare, *f);
}

TEST(FingerprintTest, ExplainsWhatIsWrong) {
  auto short_one = parseFingerprint("00:11");
  ASSERT_FALSE(short_one.ok());
  EXPECT_EQ(short_one.error(), "a SHA-256 fingerprint has 64 hex digits, this has 4");
  auto long_one = parseFingerprint(std::string(66, 'a'));
  ASSERT_FALSE(long_one.ok());
  EXPECT_NE(long_one.error().find("this has 66"), std::string::npos);
  auto prefixed = parseFingerprint("sha256:" + std::string(64, 'a'));
  ASSERT_FALSE(prefixed.ok());
  EXPECT_NE(prefixed.error().find("not a hex digit"), std::string::npos);
  EXPECT_FALSE(parseFingerprint("").ok());
}

class TlsLoadTest : public ::testing::Test {
 protected:
  void SetUp() override { a_ = pki_.make({.name = "gw-a"}); }

  TlsOptions good() const {
    return TlsOptions{
        .key_file = a_.key_file, .cert_file = a_.cert_file, .peer_fingerprints = {a_.fingerprint}};
  }

  // The error of start() on a listener with these options, or "" when it started.
  std::string startError(TlsOptions tls) {
    auto opts = listenerOptions();
    opts.tls = std::move(tls);
    PeerChannel c(io_, opts, {});
    auto r = c.start();
    return r.ok() ? "" : r.error();
  }

  TestPki pki_;
  Identity a_;
  boost::asio::io_context io_;
};

TEST_F(TlsLoadTest, AcceptsAGoodConfiguration) {
  EXPECT_EQ(startError(good()), "");
  auto loaded = TlsContext::load(good());
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ((*loaded)->identity().fingerprint, a_.fingerprint);
}

TEST_F(TlsLoadTest, NamesTheMissingFile) {
  auto o = good();
  o.key_file = pki_.dir() + "/nope.key";
  EXPECT_EQ(startError(o), "tls key_file " + o.key_file + ": No such file or directory");
  o = good();
  o.ca_file = pki_.dir() + "/nope.crt";
  EXPECT_EQ(startError(o), "tls ca_file " + *o.ca_file + ": No such file or directory");
}

TEST_F(TlsLoadTest, GivesOpenSslsReasonForBadPem) {
  auto o = good();
  o.cert_file = pki_.write("garbage.crt", "not a certificate\n");
  const std::string e = startError(o);
  EXPECT_EQ(e.rfind("tls cert_file " + o.cert_file + ": ", 0), 0u) << e;
  EXPECT_NE(e.find("no start line"), std::string::npos) << e;

  o = good();
  o.key_file =
      pki_.write("garbage.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  const std::string k = startError(o);
  EXPECT_EQ(k.rfind("tls key_file " + o.key_file + ": ", 0), 0u) << k;
  EXPECT_EQ(k.find("AAAA"), std::string::npos) << "key material in an error: " << k;
}

TEST_F(TlsLoadTest, RefusesAKeyOfAnotherCertificate) {
  const Identity b = pki_.make({.name = "gw-b"});
  auto o = good();
  o.key_file = b.key_file;
  const std::string e = startError(o);
  EXPECT_NE(e.find("does not belong to cert_file " + a_.cert_file), std::string::npos) << e;
}

TEST_F(TlsLoadTest, RefusesAKeyOthersMayRead) {
  ASSERT_EQ(::chmod(a_.key_file.c_str(), 0644), 0);
  const std::string e = startError(good());
  EXPECT_NE(e.find("others may access it (mode 644)"), std::string::npos) << e;
  ASSERT_EQ(::chmod(a_.key_file.c_str(), 0640), 0);  // group-readable, e.g. root:gwsync
  EXPECT_EQ(startError(good()), "");
}

TEST_F(TlsLoadTest, RefusesAnEncryptedKey) {
  // Encrypted with the openssl CLI when present; a daemon cannot prompt for the passphrase.
  const std::string enc = pki_.dir() + "/enc.key";
  const std::string cmd = "openssl pkey -in " + a_.key_file +
                          " -aes256 -passout pass:secret -out " + enc +
                          " 2>/dev/null && chmod 600 " + enc;
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "no openssl command";
  auto o = good();
  o.key_file = enc;
  const std::string e = startError(o);
  EXPECT_EQ(e.rfind("tls key_file " + enc + ": ", 0), 0u) << e;
  EXPECT_NE(e.find("not encrypted"), std::string::npos) << e;
}

TEST_F(TlsLoadTest, NeedsAWayToAuthenticateThePeer) {
  auto o = good();
  o.peer_fingerprints.clear();
  EXPECT_NE(startError(o).find("neither peer_fingerprints nor ca_file"), std::string::npos);
  o.peer_fingerprints = {a_.fingerprint, "12:34"};
  EXPECT_EQ(
      startError(o),
      "tls peer_fingerprints[1] \"12:34\": a SHA-256 fingerprint has 64 hex digits, this has 4");
  o = good();
  o.key_file.clear();
  EXPECT_EQ(startError(o), "tls key_file: missing");
}

TEST_F(TlsLoadTest, CaFileMustHoldCertificates) {
  auto o = good();
  o.ca_file = pki_.write("empty-ca.crt", "");
  EXPECT_NE(startError(o).find("tls ca_file " + *o.ca_file + ": "), std::string::npos);
}

// Runs the keygen script; its stdout (the fingerprint) into `out`. False when it failed.
bool keygen(const std::string& args, std::string& out) {
  const std::string cmd = std::string("bash ") + GWSYNC_KEYGEN + " " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  std::array<char, 256> buf{};
  out.clear();
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return ::pclose(p) == 0;
}

class KeygenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v openssl >/dev/null") != 0) GTEST_SKIP() << "no openssl command";
  }

  void connect(TlsOptions l_tls, TlsOptions d_tls) {
    auto lo = listenerOptions();
    lo.tls = std::move(l_tls);
    PeerChannel listener(io_, lo, l_.handlers());
    auto r = listener.start();
    ASSERT_TRUE(r.ok()) << r.error();
    auto dopts = dialerOptions(listener.listenPort());
    dopts.tls = std::move(d_tls);
    PeerChannel dialer(io_, dopts, d_.handlers());
    r = dialer.start();
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_TRUE(runUntil(io_, [&] { return l_.ups == 1 && d_.ups == 1; }))
        << listener.lastDownDetail() << " / " << dialer.lastDownDetail();
    ASSERT_TRUE(dialer.send(hello(1)));
    ASSERT_TRUE(runUntil(io_, [&] { return l_.messages.size() == 1; }));
  }

  TestPki pki_;  // only for its directory
  boost::asio::io_context io_;
  Events l_, d_;
};

TEST_F(KeygenTest, SelfSignedKeysWorkPinned) {
  const std::string dir = pki_.dir() + "/keys";
  std::string fp_a, fp_b;
  ASSERT_TRUE(keygen("gw-a " + dir, fp_a));
  ASSERT_TRUE(keygen("--type ed25519 gw-b " + dir, fp_b));
  ASSERT_TRUE(parseFingerprint(fp_a).ok()) << fp_a;
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/gw-a.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string again;
  EXPECT_FALSE(keygen("gw-a " + dir, again)) << "overwrote an existing key";
  std::string printed;
  ASSERT_TRUE(keygen("--fingerprint " + dir + "/gw-a.crt", printed));
  EXPECT_EQ(printed, fp_a);
  connect(TlsOptions{.key_file = dir + "/gw-a.key",
                     .cert_file = dir + "/gw-a.crt",
                     .peer_fingerprints = {fp_b}},
          TlsOptions{.key_file = dir + "/gw-b.key",
                     .cert_file = dir + "/gw-b.crt",
                     .peer_fingerprints = {fp_a}});
}

TEST_F(KeygenTest, PrivateCaSignsNodeCertificates) {
  const std::string ca = pki_.dir() + "/ca";
  const std::string dir = pki_.dir() + "/keys";
  std::string ignored;
  ASSERT_TRUE(keygen("--ca gwsync-ca " + ca, ignored));
  ASSERT_TRUE(keygen("--issuer " + ca + "/gwsync-ca gw-a " + dir, ignored));
  ASSERT_TRUE(keygen("--issuer " + ca + "/gwsync-ca --type ed25519 gw-b " + dir, ignored));
  connect(TlsOptions{.key_file = dir + "/gw-a.key",
                     .cert_file = dir + "/gw-a.crt",
                     .ca_file = ca + "/gwsync-ca.crt",
                     .peer_name = "gw-b"},
          TlsOptions{.key_file = dir + "/gw-b.key",
                     .cert_file = dir + "/gw-b.crt",
                     .ca_file = ca + "/gwsync-ca.crt",
                     .peer_name = "gw-a"});
}

}  // namespace
}  // namespace gwsync::syncd
