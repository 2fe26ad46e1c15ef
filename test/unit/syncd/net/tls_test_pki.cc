#include "test/unit/syncd/net/tls_test_pki.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>

namespace gwsync::syncd::test_util {

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "TestPki: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) die(what);
}

std::shared_ptr<EVP_PKEY> newKey(KeyType type) {
  EVP_PKEY* k = type == KeyType::kP256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  check(k != nullptr, "key generation");
  return {k, EVP_PKEY_free};
}

void addExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_nconf_nid");
  check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

std::string fingerprintOf(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  check(X509_digest(cert, EVP_sha256(), md, &n) == 1, "X509_digest");
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

void writePem(const std::string& path, int mode, const std::function<int(BIO*)>& emit) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  check(bio != nullptr, "BIO_new_file");
  check(emit(bio) == 1, "PEM write");
  BIO_free(bio);
  check(::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0, "chmod");
}

}  // namespace

TestPki::TestPki() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/gwsync-tls-XXXXXX";
  check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  dir_ = pattern;
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

Identity TestPki::make(const CertSpec& spec, const Identity* issuer) {
  Identity id;
  id.key = newKey(spec.key);
  id.cert.reset(X509_new(), X509_free);
  X509* x = id.cert.get();
  check(X509_set_version(x, 2) == 1, "X509_set_version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(x), serial_++) == 1, "serial");
  X509_gmtime_adj(X509_getm_notBefore(x), static_cast<long>(spec.valid_from.count()));
  X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(spec.valid_until.count()));
  check(X509_set_pubkey(x, id.key.get()) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(spec.name.c_str()), -1,
                                   -1, 0) == 1,
        "subject");
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  check(X509_set_issuer_name(x, X509_get_subject_name(issuer_cert)) == 1, "issuer");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, x, nullptr, nullptr, 0);
  addExtension(x, &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) addExtension(x, &ctx, NID_authority_key_identifier, "keyid:always");
  if (spec.ca) {
    addExtension(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(x, &ctx, NID_key_usage, "critical,digitalSignature");
    addExtension(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    addExtension(x, &ctx, NID_subject_alt_name, "DNS:" + spec.name);
  }
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : id.key.get();
  // Ed25519 signs without a separate digest.
  const EVP_MD* md = EVP_PKEY_get_id(signer) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  check(X509_sign(x, signer, md) > 0, "X509_sign");

  const std::string base = dir_ + "/" + spec.name + "-" + std::to_string(serial_ - 1);
  id.key_file = base + ".key";
  id.cert_file = base + ".crt";
  writePem(id.key_file, 0600, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, id.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  writePem(id.cert_file, 0644, [&](BIO* b) { return PEM_write_bio_X509(b, x); });
  id.fingerprint = fingerprintOf(x);
  return id;
}

std::string TestPki::write(const std::string& name, const std::string& content, int mode) {
  const std::string path = dir_ + "/" + name;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  check(::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0, "chmod");
  return path;
}

}  // namespace gwsync::syncd::test_util
