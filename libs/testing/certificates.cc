#include "testing/certificates.h"

#include <sys/stat.h>

#include <fstream>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pbr::testing {
namespace {

struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Certificate = std::unique_ptr<X509, X509Free>;

Key NewKey() { return Key(EVP_EC_gen("P-256")); }

std::string Pem(int (*write)(BIO*, const void*), const void* what) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get(), what) != 1) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}
std::string CertificatePem(X509* x) {
  return Pem([](BIO* b, const void* c) { return PEM_write_bio_X509(b, static_cast<X509*>(const_cast<void*>(c))); }, x);
}
std::string KeyPem(EVP_PKEY* k) {
  return Pem([](BIO* b, const void* key) {
    return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(const_cast<void*>(key)), nullptr, nullptr, 0, nullptr, nullptr);
  }, k);
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool added = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return added;
}

// A certificate for `subject_key` named CN=`cn`, signed by `issuer_key` as `issuer` (itself when null).
Certificate Build(const std::string& cn, EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key, bool is_ca,
                  const std::vector<std::string>& alt_names, absl::Time not_before, absl::Time not_after, long serial) {
  Certificate cert(X509_new());
  if (!cert) return nullptr;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after));
  X509_set_pubkey(cert.get(), subject_key);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (is_ca) {
    if (!AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") ||
        !AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign")) return nullptr;
  } else {
    if (!AddExtension(cert.get(), signer, NID_basic_constraints, "CA:FALSE") ||
        !AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") ||
        !AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth")) return nullptr;
    if (!alt_names.empty() && !AddExtension(cert.get(), signer, NID_subject_alt_name, absl::StrJoin(alt_names, ","))) {
      return nullptr;
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

}  // namespace

struct TestCa::Impl {
  Key key;
  Certificate cert;
  mutable long next_serial = 2;
};

TestCa::TestCa(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { pem_ = CertificatePem(impl_->cert.get()); }
TestCa::~TestCa() = default;

absl::StatusOr<std::unique_ptr<TestCa>> TestCa::Create(const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->key = NewKey();
  if (!impl->key) return absl::InternalError("cannot make an EC key");
  impl->cert = Build(name, impl->key.get(), nullptr, impl->key.get(), true, {}, absl::Now() - absl::Hours(1),
                     absl::Now() + absl::Hours(24 * 7), 1);
  if (!impl->cert) return absl::InternalError("cannot make the CA certificate");
  return std::unique_ptr<TestCa>(new TestCa(std::move(impl)));
}

absl::StatusOr<IssuedCertificate> TestCa::Issue(const std::string& common_name, const std::vector<std::string>& alt_names,
                                                absl::Time not_before, absl::Time not_after) const {
  Key key = NewKey();
  if (!key) return absl::InternalError("cannot make an EC key");
  Certificate cert = Build(common_name, key.get(), impl_->cert.get(), impl_->key.get(), false, alt_names, not_before,
                           not_after, impl_->next_serial++);
  if (!cert) return absl::InternalError(absl::StrCat("cannot issue a certificate for ", common_name));
  return IssuedCertificate{CertificatePem(cert.get()), KeyPem(key.get())};
}

absl::StatusOr<std::string> SpkiSha256(const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = bio != nullptr ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (cert == nullptr) return absl::InvalidArgumentError("not a PEM certificate");
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  X509_free(cert);
  if (len <= 0) return absl::InternalError("cannot encode the public key");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(der, static_cast<size_t>(len), md, &md_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  return absl::Base64Escape(std::string(reinterpret_cast<const char*>(md), md_len));
}

absl::Status WriteCertificate(const std::string& dir, const std::string& name, const IssuedCertificate& issued) {
  for (const auto& [suffix, body] : {std::pair<std::string, const std::string*>{".pem", &issued.cert_pem},
                                     std::pair<std::string, const std::string*>{".key", &issued.key_pem}}) {
    const std::string path = absl::StrCat(dir, "/", name, suffix);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << *body;
      if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
    }
    if (chmod(path.c_str(), 0600) != 0) return absl::InternalError(absl::StrCat("cannot chmod ", path));
  }
  return absl::OkStatus();
}

}  // namespace pbr::testing
