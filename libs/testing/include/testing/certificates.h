#pragma once
// Certificates for tests of mutual TLS: a CA made on the spot and the certificates it issues (any
// subject alternative names, any validity, so expired ones too), as PEM.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pbr::testing {

struct IssuedCertificate {
  std::string cert_pem;
  std::string key_pem;
};

class TestCa {
 public:
  // A self-signed CA named CN=`name` (EC P-256), valid from an hour ago for a week.
  static absl::StatusOr<std::unique_ptr<TestCa>> Create(const std::string& name);
  ~TestCa();

  // A certificate for CN=`common_name` with these subject alternative names, in OpenSSL's form
  // ("URI:urn:pbr:role:clinician", "IP:127.0.0.1", "DNS:localhost"), valid [not_before, not_after).
  absl::StatusOr<IssuedCertificate> Issue(const std::string& common_name, const std::vector<std::string>& alt_names,
                                          absl::Time not_before = absl::Now() - absl::Hours(1),
                                          absl::Time not_after = absl::Now() + absl::Hours(24)) const;
  const std::string& pem() const { return pem_; }

 private:
  struct Impl;
  explicit TestCa(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string pem_;
};

// The base64 SHA-256 of a PEM certificate's public key (SubjectPublicKeyInfo), as Chromium's
// --ignore-certificate-errors-spki-list takes it: trusting exactly that server in a browser test.
absl::StatusOr<std::string> SpkiSha256(const std::string& cert_pem);

// Writes `dir`/`name`.pem and `dir`/`name`.key (mode 0600).
absl::Status WriteCertificate(const std::string& dir, const std::string& name, const IssuedCertificate& issued);

}  // namespace pbr::testing
