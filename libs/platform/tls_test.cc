// Mutual TLS on a real gRPC server: the handshake refuses a client without a certificate, with one
// from another CA or an expired one; the access policy refuses a role it does not allow, naming the
// role and the call, before the handler; the handler sees the caller the certificate names.
#include "platform/tls.h"

#include <sys/stat.h>

#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "testing/certificates.h"
#include "testing/process.h"

namespace pbr::platform {
namespace {

using ::testing::HasSubstr;
using testing::IssuedCertificate;

// Answers GetPerson and RecordAssessment with who called (as FAILED_PRECONDITION, to carry the text).
class EchoCaller final : public pbr::v1::Allocation::Service {
  grpc::Status GetPerson(grpc::ServerContext* ctx, const pbr::v1::GetPersonRequest*, pbr::v1::Person*) override {
    return Echo(*ctx);
  }
  grpc::Status RecordAssessment(grpc::ServerContext* ctx, const pbr::v1::RecordAssessmentRequest*,
                                pbr::v1::RecordAssessmentReply*) override {
    return Echo(*ctx);
  }
  static grpc::Status Echo(const grpc::ServerContext& ctx) {
    const Caller c = CallerOf(ctx);
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("role=", c.role, " source=", c.source_system, " subject=", c.subject));
  }
};

absl::Status OnlyClinicianReadsAndFeedsRecord(const Caller& caller, absl::string_view method) {
  if (method == "/pbr.v1.Allocation/GetPerson" && caller.role == "clinician") return absl::OkStatus();
  if (method == "/pbr.v1.Allocation/RecordAssessment" && caller.role == "epr-feed") return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("role ", caller.role, " may not call ", method));
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = testing::TestCa::Create("pbr test CA");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    auto server = ca_->Issue("allocation", {"IP:127.0.0.1", "DNS:localhost"});
    ASSERT_TRUE(server.ok());
    ASSERT_TRUE(testing::WriteCertificate(dir_.path(), "server", *server).ok());
    WriteFile("ca.pem", ca_->pem());
    auto tls = LoadTls({dir_.path() + "/ca.pem", dir_.path() + "/server.pem", dir_.path() + "/server.key"}, absl::Now());
    ASSERT_TRUE(tls.ok()) << tls.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", ServerTlsCredentials(*tls, OnlyClinicianReadsAndFeedsRecord), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }
  void WriteFile(const std::string& name, const std::string& body) {
    std::ofstream(dir_.path() + "/" + name) << body;
  }
  // A call of GetPerson (or RecordAssessment) as the holder of `client`, trusting `ca_pem` for the server.
  grpc::Status Call(const std::optional<IssuedCertificate>& client, const std::string& method = "GetPerson",
                    const std::string& ca_pem = "") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ca_pem.empty() ? ca_->pem() : ca_pem;
    if (client) {
      options.pem_private_key = client->key_pem;
      options.pem_cert_chain = client->cert_pem;
    }
    auto stub = pbr::v1::Allocation::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::SslCredentials(options)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (method == "GetPerson") {
      pbr::v1::Person reply;
      return stub->GetPerson(&ctx, pbr::v1::GetPersonRequest(), &reply);
    }
    pbr::v1::RecordAssessmentReply reply;
    return stub->RecordAssessment(&ctx, pbr::v1::RecordAssessmentRequest(), &reply);
  }
  IssuedCertificate Issue(const std::string& cn, const std::vector<std::string>& sans) {
    auto c = ca_->Issue(cn, sans);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : IssuedCertificate{};
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::TestCa> ca_;
  EchoCaller service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(TlsTest, TheHandlerSeesTheRoleSourceAndSubjectOfTheCertificate) {
  const grpc::Status clinician = Call(Issue("dr-jones", {"URI:urn:pbr:role:clinician"}));
  EXPECT_EQ(clinician.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << clinician.error_message();
  EXPECT_EQ(clinician.error_message(), "role=clinician source= subject=CN=dr-jones");
  const grpc::Status feed = Call(Issue("rio-feed", {"URI:urn:pbr:role:epr-feed:RIO"}), "RecordAssessment");
  EXPECT_EQ(feed.error_message(), "role=epr-feed source=RIO subject=CN=rio-feed");
}

TEST_F(TlsTest, ARoleThePolicyDoesNotAllowIsRefusedBeforeTheHandler) {
  const grpc::Status st = Call(Issue("ops", {"URI:urn:pbr:role:operations"}));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(), "role operations may not call /pbr.v1.Allocation/GetPerson");
}

TEST_F(TlsTest, ACertificateWithoutExactlyOneWellFormedRoleIsUnauthenticated) {
  for (const std::vector<std::string>& sans :
       {std::vector<std::string>{}, {"DNS:somewhere"}, {"URI:urn:pbr:role:superuser"},
        {"URI:urn:pbr:role:epr-feed"}, {"URI:urn:pbr:role:clinician", "URI:urn:pbr:role:admin"}}) {
    const grpc::Status st = Call(Issue("someone", sans));
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << sans.size() << ": " << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("CN=someone"));
  }
}

TEST_F(TlsTest, NoCertificateAnotherCasOrAnExpiredOneIsRefusedAtTheHandshake) {
  EXPECT_EQ(Call(std::nullopt).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto other = testing::TestCa::Create("another CA");
  ASSERT_TRUE(other.ok());
  auto stranger = (*other)->Issue("dr-who", {"URI:urn:pbr:role:clinician"});
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(Call(*stranger).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto expired = ca_->Issue("dr-late", {"URI:urn:pbr:role:clinician"}, absl::Now() - absl::Hours(48),
                            absl::Now() - absl::Hours(24));
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(Call(*expired).error_code(), grpc::StatusCode::UNAVAILABLE);
  // And the client refuses a server another CA signed.
  EXPECT_EQ(Call(Issue("dr-jones", {"URI:urn:pbr:role:clinician"}), "GetPerson", (*other)->pem()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, BadFilesAreRefusedAtStartNamingTheSetting) {
  const std::string d = dir_.path();
  auto load = [&](const std::string& ca, const std::string& cert, const std::string& key, absl::Time now = absl::Now()) {
    return LoadTls({d + "/" + ca, d + "/" + cert, d + "/" + key}, now);
  };
  EXPECT_THAT(std::string(load("missing.pem", "server.pem", "server.key").status().message()), HasSubstr("tls-ca-file"));
  ASSERT_TRUE(testing::WriteCertificate(d, "other", Issue("other", {"DNS:localhost"})).ok());
  const absl::Status mismatched = load("ca.pem", "server.pem", "other.key").status();
  EXPECT_THAT(std::string(mismatched.message()), HasSubstr("tls-key-file"));
  EXPECT_THAT(std::string(mismatched.message()), HasSubstr("not the key of the certificate"));
  const absl::Status late = load("ca.pem", "server.pem", "server.key", absl::Now() + absl::Hours(48)).status();
  EXPECT_THAT(std::string(late.message()), HasSubstr("tls-cert-file"));
  EXPECT_THAT(std::string(late.message()), HasSubstr("expired"));
  ASSERT_EQ(chmod((d + "/server.key").c_str(), 0644), 0);
  EXPECT_THAT(std::string(load("ca.pem", "server.pem", "server.key").status().message()),
              HasSubstr("can be read by every user"));
  ASSERT_EQ(chmod((d + "/server.key").c_str(), 0600), 0);
  WriteFile("junk.pem", "not a certificate");
  EXPECT_THAT(std::string(load("ca.pem", "junk.pem", "server.key").status().message()), HasSubstr("tls-cert-file"));
}

}  // namespace
}  // namespace pbr::platform

namespace pbr::platform {
namespace {

// Plaintext may listen only where nothing off the machine reaches it: address literals of
// 127.0.0.0/8 and ::1, or localhost; never a host name that merely looks like one.
TEST(LoopbackAddress, OnlyLoopbackLiteralsAndLocalhost) {
  for (const char* yes : {"127.0.0.1:50051", "127.1.2.3:0", "[::1]:8094", "localhost:50051", "[::1]:0"}) {
    EXPECT_TRUE(IsLoopbackAddress(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0:50051", "10.0.0.1:50051", "[::]:50051", "127.example.com:80",
                         "127.0.0.1.evil.net:50051", "localhost.evil.net:1", "[::1:50051", "::ffff:127.0.0.1", ""}) {
    EXPECT_FALSE(IsLoopbackAddress(no)) << no;
  }
}

}  // namespace
}  // namespace pbr::platform
