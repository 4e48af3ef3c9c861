// The mutual-TLS flags pbrctl and pbr-import share, each also read from a PBRCTL_TLS_* variable.
#pragma once

#include <CLI/CLI.hpp>

#include "rpc.h"

namespace pbr::cli {

inline void AddTlsFlags(CLI::App& app, TlsFlags& tls) {
  app.add_option("--tls-ca-file", tls.ca_file, "PEM: the trust's CA (the platform's servers must be signed by it)")
      ->envname("PBRCTL_TLS_CA_FILE")->group("Mutual TLS");
  app.add_option("--tls-cert-file", tls.cert_file, "PEM: this client's certificate, naming its role")
      ->envname("PBRCTL_TLS_CERT_FILE")->group("Mutual TLS");
  app.add_option("--tls-key-file", tls.key_file, "PEM: its private key")->envname("PBRCTL_TLS_KEY_FILE")->group("Mutual TLS");
  app.add_option("--feed-cert-dir", tls.feed_cert_dir,
                 "records of several EPRs: DIR/client-epr-feed-<SOURCE>.pem and .key per source system "
                 "(scripts/make-certs.sh names them so), each record sent with its own feed's certificate")
      ->envname("PBRCTL_FEED_CERT_DIR")->group("Mutual TLS");
  app.add_option("--tls-server-name", tls.server_name,
                 "the name the servers' certificates carry, when not the address dialled (e.g. a probe dialling 127.0.0.1)")
      ->envname("PBRCTL_TLS_SERVER_NAME")->group("Mutual TLS");
}

}  // namespace pbr::cli
