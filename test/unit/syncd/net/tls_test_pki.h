// Keys and certificates for the TLS tests, made with OpenSSL's API in a temporary directory:
// self-signed node certificates, a private CA and certificates it signs, and validity periods in
// the past or the future (which the openssl CLI of Debian 12 cannot set).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>

namespace gwsync::syncd::test_util {

enum class KeyType { kP256, kEd25519 };

struct CertSpec {
  std::string name;  // CN and DNS subjectAltName
  KeyType key = KeyType::kP256;
  std::chrono::seconds valid_from{-3600};  // relative to now
  std::chrono::seconds valid_until{86400};
  bool ca = false;
};

// One key pair and certificate, written to <dir>/<name>.key (0600) and <name>.crt.
struct Identity {
  std::string key_file;
  std::string cert_file;
  std::string fingerprint;  // "AB:CD:..." SHA-256 of the DER certificate
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
};

class TestPki {
 public:
  TestPki();   // creates the directory
  ~TestPki();  // removes it
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // Self-signed when `issuer` is null. Aborts the test program on an OpenSSL failure.
  Identity make(const CertSpec& spec, const Identity* issuer = nullptr);
  // Writes a file of the test's own (garbage PEM, a CA bundle) with the given mode.
  std::string write(const std::string& name, const std::string& content, int mode = 0600);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  long serial_ = 1;
};

}  // namespace gwsync::syncd::test_util
