#include "platform/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/security/server_credentials.h"

namespace pbr::platform {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;  // a certificate chain is a few KiB

absl::StatusOr<std::string> ReadPem(const std::string& setting, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(setting, ": required"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(setting, ": cannot read '", path, "'"));
  std::ostringstream out;
  out << in.rdbuf();
  std::string pem = out.str();
  if (pem.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": '", path, "' is larger than ", kMaxPemBytes, " bytes"));
  }
  return pem;
}

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Bio MemoryBio(const std::string& pem) { return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

absl::Time TimeOf(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

std::string SubjectOf(X509* cert) {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
}

// Admits a call only for a certificate naming a role the policy lets make it (the handler reads the
// caller from the certificate again, with CallerOf).
class AccessControl final : public grpc::AuthMetadataProcessor {
 public:
  explicit AccessControl(AccessPolicy policy) : policy_(std::move(policy)) {}
  bool IsBlocking() const override { return false; }  // pure and quick: run on the call's own thread

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    absl::StatusOr<Caller> caller = CallerFromAuthContext(*context);
    if (!caller.ok()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()));
    std::string method;
    if (auto path = metadata.find(":path"); path != metadata.end()) method.assign(path->second.data(), path->second.size());
    if (absl::Status allowed = policy_(*caller, method); !allowed.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(allowed.code()), std::string(allowed.message()));
    }
    // Nothing is added to the context: calls on one connection may share it while other calls
    // read it (gRPC 1.51 asserts on such a race), so CallerOf reads the certificate again.
    return grpc::Status::OK;
  }

 private:
  AccessPolicy policy_;
};

}  // namespace

absl::StatusOr<TlsMaterial> LoadTls(const TlsFiles& files, absl::Time now, const std::string& prefix) {
  const std::string ca_setting = prefix + "ca-file", cert_setting = prefix + "cert-file", key_setting = prefix + "key-file";
  TlsMaterial out;
  auto ca = ReadPem(ca_setting, files.ca_file);
  if (!ca.ok()) return ca.status();
  auto cert = ReadPem(cert_setting, files.cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(key_setting, files.key_file);
  if (!key.ok()) return key.status();
  struct stat st {};
  if (stat(files.key_file.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(key_setting, ": '", files.key_file,
                                                   "' can be read by every user: chmod o-r it (0600 or 0640)"));
  }
  {
    Bio bio = MemoryBio(*ca);
    Certificate ca_cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!ca_cert) return absl::InvalidArgumentError(absl::StrCat(ca_setting, ": '", files.ca_file, "' holds no PEM certificate"));
  }
  Bio cert_bio = MemoryBio(*cert);
  Certificate certificate(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) {
    return absl::InvalidArgumentError(absl::StrCat(cert_setting, ": '", files.cert_file, "' holds no PEM certificate"));
  }
  Bio key_bio = MemoryBio(*key);
  Key private_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!private_key) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_setting, ": '", files.key_file, "' holds no PEM private key (or it is encrypted)"));
  }
  if (X509_check_private_key(certificate.get(), private_key.get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_setting, ": '", files.key_file, "' is not the key of the certificate in ", files.cert_file));
  }
  const absl::Time not_before = TimeOf(X509_get0_notBefore(certificate.get()));
  out.not_after = TimeOf(X509_get0_notAfter(certificate.get()));
  out.subject = SubjectOf(certificate.get());
  if (now < not_before) {
    return absl::InvalidArgumentError(absl::StrCat(cert_setting, ": the certificate ", out.subject, " is valid only from ",
                                                   absl::FormatTime(not_before)));
  }
  if (now >= out.not_after) {
    return absl::InvalidArgumentError(absl::StrCat(cert_setting, ": the certificate ", out.subject, " expired at ",
                                                   absl::FormatTime(out.not_after)));
  }
  out.ca_pem = *std::move(ca);
  out.cert_pem = *std::move(cert);
  out.key_pem = *std::move(key);
  return out;
}

std::shared_ptr<grpc::ServerCredentials> ServerTlsCredentials(const TlsMaterial& tls, AccessPolicy policy) {
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls.ca_pem;
  options.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
  auto credentials = grpc::SslServerCredentials(options);
  credentials->SetAuthMetadataProcessor(std::make_shared<AccessControl>(std::move(policy)));
  return credentials;
}

std::shared_ptr<grpc::ChannelCredentials> ClientTlsCredentials(const TlsMaterial& tls) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.ca_pem;
  options.pem_private_key = tls.key_pem;
  options.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(options);
}

bool SetUpHttpsContext(const TlsMaterial& tls, void* ssl_ctx) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  Bio cert_bio = MemoryBio(tls.cert_pem);
  Certificate leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) return false;
  while (X509* intermediate = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add_extra_chain_cert(ctx, intermediate) != 1) {  // takes ownership on success
      X509_free(intermediate);
      return false;
    }
  }
  ERR_clear_error();  // the end of the chain reads as an error
  Bio key_bio = MemoryBio(tls.key_pem);
  Key key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) return false;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  Bio ca_bio = MemoryBio(tls.ca_pem);
  int cas = 0;
  while (X509* ca = PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, ca);
    if (X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca))) sk_X509_NAME_push(names, name);
    X509_free(ca);
    ++cas;
  }
  ERR_clear_error();
  SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership: tells a browser which certificates fit
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);  // asked for, not required
  // With peer verification on, OpenSSL refuses to resume a session (a browser's second connection)
  // unless the context names itself.
  static constexpr unsigned char kSessionContext[] = "pbr-https";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  return cas > 0;
}

Caller CallerOfHttpsPeer(const void* ssl_handle) {
  Caller caller;
  auto* ssl = static_cast<SSL*>(const_cast<void*>(ssl_handle));
  if (ssl == nullptr) return caller;
  Certificate peer(SSL_get1_peer_certificate(ssl));
  if (!peer || SSL_get_verify_result(ssl) != X509_V_OK) return caller;
  std::vector<std::string> uris;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(peer.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)), static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  absl::StatusOr<Caller> named = CallerFromCertificate(uris, SubjectOf(peer.get()));
  return named.ok() ? *named : caller;
}

bool IsLoopbackAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? address : address.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) {
    if (!absl::ConsumeSuffix(&host, "]")) return false;
  }
  if (host == "localhost") return true;  // resolved by the system's hosts file, to loopback
  // An address literal only: a host name could resolve anywhere ("127.example.com").
  const std::string literal(host);
  in_addr v4{};
  if (inet_pton(AF_INET, literal.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, literal.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace pbr::platform
