#pragma once
// Mutual TLS for gRPC: the trust's CA, this process's certificate and key, read from files and
// checked before anything listens or connects, so a wrong file is a start-up error naming the setting.
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "platform/caller.h"

namespace pbr::platform {

struct TlsFiles {
  std::string ca_file;    // PEM: the CA(s) whose certificates are accepted from the other side
  std::string cert_file;  // PEM: this side's certificate (chain)
  std::string key_file;   // PEM: its private key; not readable by every user
};

struct TlsMaterial {
  std::string ca_pem, cert_pem, key_pem;
  std::string subject;  // the certificate's subject, RFC 2253 ("CN=pbrctl,O=Trust")
  absl::Time not_after;
};

// Reads the three files and checks them: each PEM parses, the key is the certificate's, the
// certificate is valid at `now` and the key file is not readable by every user. INVALID_ARGUMENT
// naming `setting_prefix` + "ca-file" / "cert-file" / "key-file" for a bad one.
absl::StatusOr<TlsMaterial> LoadTls(const TlsFiles& files, absl::Time now, const std::string& setting_prefix = "tls-");

// A server that asks every client for a certificate signed by the CA and refuses the handshake
// without one (expired, another CA's, or none). Every call is then admitted only when the
// certificate names a role (caller.h) and `policy` allows it that call; the handler reads the
// caller with CallerOf.
std::shared_ptr<grpc::ServerCredentials> ServerTlsCredentials(const TlsMaterial& tls, AccessPolicy policy);
// A client presenting its certificate and accepting only servers the CA signed.
std::shared_ptr<grpc::ChannelCredentials> ClientTlsCredentials(const TlsMaterial& tls);

// Sets up an OpenSSL server context (an HTTPS page server) with `tls`'s certificate and key, and
// asks clients for a certificate its CA signed: one that does not verify fails the handshake, none
// at all is let through (the page then asks for a sign-in). `ssl_ctx` is an SSL_CTX*.
bool SetUpHttpsContext(const TlsMaterial& tls, void* ssl_ctx);
// The caller the verified client certificate of an OpenSSL connection (`ssl`, an SSL*) names; not
// authenticated when there is none, it did not verify, or it names no single role.
Caller CallerOfHttpsPeer(const void* ssl);

// Whether HOST:PORT is on loopback (127.0.0.0/8, ::1, localhost): where plaintext may listen.
bool IsLoopbackAddress(absl::string_view host_port);

}  // namespace pbr::platform
