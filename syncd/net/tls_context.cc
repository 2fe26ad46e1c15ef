#include "syncd/net/tls_context.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <exception>
#include <utility>

namespace gwsync::syncd {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A file's bytes that are wiped when dropped: the private key must not linger in freed memory.
class SecretBytes {
 public:
  SecretBytes() = default;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
  std::string& str() { return bytes_; }

 private:
  std::string bytes_;
};

// Drains OpenSSL's error queue into "reason, reason" (library routines are noise in a log).
std::string openSslReason() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    const std::string reason = r != nullptr ? r : "error " + std::to_string(ERR_GET_REASON(e));
    if (out.find(reason) != std::string::npos) continue;
    if (!out.empty()) out += ", ";
    out += reason;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// Reads a whole PEM file (they are small: at most 1 MiB). `secret` adds the mode check for keys.
Result<Ok, std::string> readFile(const std::string& path, std::string& into, bool secret) {
  constexpr off_t kMaxBytes = off_t{1} << 20;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(std::string(std::strerror(errno)));
  struct stat st {};
  std::string error;
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = "not a regular file";
  } else if (st.st_size > kMaxBytes) {
    error = "larger than 1 MiB";
  } else if (secret && (st.st_mode & S_IRWXO) != 0) {
    error = "others may access it (mode " + std::to_string((st.st_mode >> 6) & 7) +
            std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
            "); chmod 600 or 640";
  } else {
    into.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < into.size()) {
      const ssize_t n = ::read(fd, into.data() + done, into.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error = std::strerror(errno);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    into.resize(done);
  }
  ::close(fd);
  if (!error.empty()) return fail(std::move(error));
  return Ok{};
}

// Every certificate of a PEM file, in order.
Result<std::vector<X509Ptr>, std::string> parseCertificates(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(openSslReason());
  std::vector<X509Ptr> certs;
  while (X509Ptr c{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    certs.push_back(std::move(c));
  }
  // The loop ends on "no start line" after the last certificate; anything else is an error.
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE &&
      !certs.empty()) {
    ERR_clear_error();
  }
  if (ERR_peek_error() != 0) return fail(openSslReason());
  if (certs.empty()) return fail(std::string("no PEM certificate in it"));
  return certs;
}

Fingerprint fingerprintOf(const X509* cert) {
  Fingerprint f{};
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), f.data(), &len);
  return f;
}

std::string printed(const ASN1_TIME* t) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), t) != 1) return "?";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<size_t>(n)};
}

std::string subjectOf(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    return "?";
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<size_t>(n)};
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// What the peer is told when our own check refuses its certificate.
int x509ErrorFor(TlsError e) {
  switch (e) {
    case TlsError::kCertificateExpired:
      return X509_V_ERR_CERT_HAS_EXPIRED;
    case TlsError::kCertificateNotYetValid:
      return X509_V_ERR_CERT_NOT_YET_VALID;
    default:
      return X509_V_ERR_APPLICATION_VERIFICATION;
  }
}

// A passphrase callback that refuses: OpenSSL's default would prompt on the terminal.
int noPassphrase(char*, int, int, void*) { return -1; }

Result<Ok, std::string> loadKeyAndCertificate(SSL_CTX* ctx, const TlsOptions& o) {
  const std::string cert_where = "tls cert_file " + o.cert_file + ": ";
  std::string cert_pem;
  if (auto r = readFile(o.cert_file, cert_pem, false); !r) return fail(cert_where + r.error());
  auto certs = parseCertificates(cert_pem);
  if (!certs) return fail(cert_where + certs.error());
  if (SSL_CTX_use_certificate(ctx, certs->front().get()) != 1) {
    return fail(cert_where + openSslReason());
  }
  for (size_t i = 1; i < certs->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, (*certs)[i].get()) != 1) {
      return fail(cert_where + openSslReason());
    }
  }

  const std::string key_where = "tls key_file " + o.key_file + ": ";
  SecretBytes key_pem;
  if (auto r = readFile(o.key_file, key_pem.str(), true); !r) return fail(key_where + r.error());
  BioPtr bio(BIO_new_mem_buf(key_pem.str().data(), static_cast<int>(key_pem.str().size())));
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
  if (!key) return fail(key_where + openSslReason() + " (a PEM private key, not encrypted)");
  if (X509_check_private_key(certs->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return fail(key_where + "does not belong to cert_file " + o.cert_file);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) return fail(key_where + openSslReason());
  return Ok{};
}

// Returns the earliest notAfter of the CA certificates (for the expiry metric).
Result<std::chrono::system_clock::time_point, std::string> loadCa(SSL_CTX* ctx,
                                                                  const std::string& path) {
  const std::string where = "tls ca_file " + path + ": ";
  std::string pem;
  if (auto r = readFile(path, pem, false); !r) return fail(where + r.error());
  auto certs = parseCertificates(pem);
  if (!certs) return fail(where + certs.error());
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  auto earliest = std::chrono::system_clock::time_point::max();
  for (const auto& c : *certs) {
    if (X509_STORE_add_cert(store, c.get()) != 1) return fail(where + openSslReason());
    earliest = std::min(earliest, toTimePoint(X509_get0_notAfter(c.get())));
  }
  return earliest;
}

// TLS 1.3 only; no session resumption (a resumed session would skip the certificate checks
// and needs ticket keys we would have to rotate); no compression.
void restrictProtocol(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify_depth(ctx, 4);
}

}  // namespace

TlsContext::TlsContext(boost::asio::ssl::context ctx) : ctx_(std::move(ctx)) {}

Result<std::shared_ptr<TlsContext>, std::string> TlsContext::load(const TlsOptions& o) {
  if (o.key_file.empty()) return fail(std::string("tls key_file: missing"));
  if (o.cert_file.empty()) return fail(std::string("tls cert_file: missing"));
  if (o.peer_fingerprints.empty() && !o.ca_file) {
    return fail(std::string(
        "tls: neither peer_fingerprints nor ca_file is set; the peer cannot be authenticated"));
  }
  if (o.peer_name && o.peer_name->empty()) return fail(std::string("tls peer_name: empty"));
  std::vector<Fingerprint> pins;
  for (size_t i = 0; i < o.peer_fingerprints.size(); ++i) {
    auto f = parseFingerprint(o.peer_fingerprints[i]);
    if (!f) {
      return fail("tls peer_fingerprints[" + std::to_string(i) + "] \"" + o.peer_fingerprints[i] +
                  "\": " + f.error());
    }
    pins.push_back(*f);
  }
  ERR_clear_error();
  std::shared_ptr<TlsContext> t;
  try {
    t.reset(new TlsContext(boost::asio::ssl::context(boost::asio::ssl::context::tls)));
  } catch (const std::exception& e) {
    return fail("tls: cannot create an SSL context: " + std::string(e.what()));
  }
  SSL_CTX* ctx = t->ctx_.native_handle();
  restrictProtocol(ctx);
  // Both roles ask for the peer's certificate; a listener refuses a client without one.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  if (auto r = loadKeyAndCertificate(ctx, o); !r) return fail(r.error());
  std::optional<std::chrono::system_clock::time_point> ca_not_after;
  if (o.ca_file) {
    auto r = loadCa(ctx, *o.ca_file);
    if (!r) return fail(r.error());
    ca_not_after = *r;
  }
  t->pins_ = std::move(pins);
  t->use_ca_ = o.ca_file.has_value();
  t->peer_name_ = o.peer_name;
  t->handshake_timeout_ = o.handshake_timeout;
  const X509* own = SSL_CTX_get0_certificate(ctx);
  t->identity_ = TlsIdentity{.fingerprint = formatFingerprint(fingerprintOf(own)),
                             .subject = subjectOf(own),
                             .not_after = toTimePoint(X509_get0_notAfter(own)),
                             .ca_not_after = ca_not_after};
  return t;
}

TlsContext::Verdict TlsContext::check(bool preverified, X509_STORE_CTX* store) const {
  const int depth = X509_STORE_CTX_get_error_depth(store);
  if (use_ca_ && !preverified) {
    const int err = X509_STORE_CTX_get_error(store);
    const X509* cert = X509_STORE_CTX_get_current_cert(store);
    std::string detail = "certificate " + (cert != nullptr ? subjectOf(cert) : "?") + ": " +
                         X509_verify_cert_error_string(err) + " (depth " + std::to_string(depth) +
                         ")";
    switch (err) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        return {TlsError::kCertificateExpired, std::move(detail)};
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return {TlsError::kCertificateNotYetValid, std::move(detail)};
      default:
        return {TlsError::kUntrustedCertificate, std::move(detail)};
    }
  }
  // Pinning alone needs no chain: OpenSSL's complaints about one (self-signed, unknown issuer)
  // do not matter, the leaf's own checks below decide.
  if (depth > 0) return {};
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (cert == nullptr) return {TlsError::kNoPeerCertificate, "no certificate to check"};
  Verdict v = checkLeaf(cert);
  if (v.error) v.x509_error = x509ErrorFor(*v.error);
  return v;
}

TlsContext::Verdict TlsContext::checkLeaf(X509* cert) const {
  if (!pins_.empty()) {
    const Fingerprint f = fingerprintOf(cert);
    if (std::find(pins_.begin(), pins_.end(), f) == pins_.end()) {
      return {TlsError::kFingerprintMismatch, "certificate " + subjectOf(cert) + " sha256 " +
                                                  formatFingerprint(f) +
                                                  " is not in peer_fingerprints"};
    }
  }
  if (peer_name_ &&
      X509_check_host(cert, peer_name_->data(), peer_name_->size(), 0, nullptr) != 1) {
    return {TlsError::kPeerNameMismatch,
            "certificate " + subjectOf(cert) + " is not for peer_name " + *peer_name_};
  }
  // X509_cmp_current_time returns 0 for a malformed time: treat that as outside the period.
  const ASN1_TIME* not_before = X509_get0_notBefore(cert);
  if (X509_cmp_current_time(not_before) >= 0) {
    return {TlsError::kCertificateNotYetValid,
            "certificate " + subjectOf(cert) + " is valid from " + printed(not_before)};
  }
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  if (X509_cmp_current_time(not_after) <= 0) {
    return {TlsError::kCertificateExpired,
            "certificate " + subjectOf(cert) + " expired " + printed(not_after)};
  }
  return {};
}

}  // namespace gwsync::syncd
