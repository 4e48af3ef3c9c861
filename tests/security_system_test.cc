// Mutual TLS and the role matrix through the real service binaries: every call of every service made
// with every role's certificate is allowed or PERMISSION_DENIED exactly as the matrix says; no
// certificate, another CA's or an expired one is refused at the handshake; an EPR feed cannot record or
// correct another source system's records; every identifiable read and correction is in the audit
// trail, as `pbrctl audit` lists it.
#include <fstream>
#include <future>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "access.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "platform/events.h"
#include "platform_fixture.h"
#include "testing/certificates.h"

namespace pbr {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kRoles = {"epr-feed:epr-a", "clinician", "operations", "finance", "admin"};

std::string RoleName(const std::string& role) { return role.substr(0, role.find(':')); }

// The service that answers a call of the matrix ("/pbr.v1.Finance/ExportTariff" -> reporting).
std::string ServiceOf(const std::string& method) {
  if (absl::StartsWith(method, "/pbr.v1.Allocation/")) return "allocation";
  if (absl::StartsWith(method, "/pbr.v1.ReviewScheduler/")) return "review-scheduler";
  if (absl::StartsWith(method, "/pbr.v1.Outcomes/")) return "outcomes";
  if (absl::StartsWith(method, "/pbr.v1.Reporting/") || absl::StartsWith(method, "/pbr.v1.Finance/") ||
      absl::StartsWith(method, "/pbr.v1.Dashboard/")) {
    return "reporting";
  }
  return "allocation";  // health and reflection: every service has them; allocation stands for all
}

// A call of `method` with an empty request (valid bytes for every message), as bytes over `channel`.
grpc::Status CallWithEmptyRequest(const std::shared_ptr<grpc::Channel>& channel, const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status st) { done.set_value(std::move(st)); });
  return done.get_future().get();
}

class SecuritySystemTest : public systemtest::PlatformFixture {
 protected:
  void Customise(testing::LocalPlatformOptions& options) override { options.tls = true; }

  pbr::v1::RecordAssessmentRequest Assessment(const std::string& source, const std::string& record) {
    pbr::v1::RecordAssessmentRequest r;
    r.set_source_system(source);
    r.set_source_record_id(record);
    r.set_nhs_number(testing::NhsNumber(943476100));
    r.set_team_id("cmht-east");
    r.set_clinician_id("clin-1");
    *r.mutable_assessed_at() = platform::ToProto(systemtest::At(absl::CivilDay(2026, 10, 1)));
    for (int k = 0; k < 18; ++k) r.mutable_ratings()->add_items(k % 3);
    r.mutable_ratings()->set_item8_problem_type("D");
    r.set_cluster(4);
    r.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
    r.set_clinical_rationale("security test: synthetic ratings");
    return r;
  }
};

TEST_F(SecuritySystemTest, EveryCallWithEveryRoleIsAllowedOrRefusedExactlyAsTheMatrixSays) {
  int allowed_calls = 0, refused_calls = 0;
  for (const services::CallAccess& access : services::AccessMatrix()) {
    if (access.method == "/grpc.health.v1.Health/Watch") continue;  // a stream that never ends by itself
    for (const std::string& role : kRoles) {
      const grpc::Status st = CallWithEmptyRequest(platform_->Channel(ServiceOf(access.method), role), access.method);
      const bool allowed = std::find(access.roles.begin(), access.roles.end(), RoleName(role)) != access.roles.end();
      if (allowed) {
        ++allowed_calls;
        // Past the check: the handler answers (an empty request is refused as invalid, say), never the gate.
        EXPECT_NE(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << role << " " << access.method << ": " << st.error_message();
        EXPECT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << role << " " << access.method;
        EXPECT_NE(st.error_code(), grpc::StatusCode::UNAVAILABLE) << role << " " << access.method << ": " << st.error_message();
      } else {
        ++refused_calls;
        EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << role << " " << access.method;
        EXPECT_THAT(st.error_message(), HasSubstr("role " + RoleName(role))) << access.method;
        EXPECT_THAT(st.error_message(), HasSubstr(access.method)) << role;
      }
    }
  }
  EXPECT_GT(allowed_calls, 20);
  EXPECT_GT(refused_calls, 80);
}

TEST_F(SecuritySystemTest, NoCertificateAnotherCasOrAnExpiredOneIsRefusedAtTheHandshake) {
  pbr::v1::GetPersonRequest req;
  req.set_nhs_number(testing::NhsNumber(943476100));
  auto get_person = [&](const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = pbr::v1::Allocation::NewStub(channel);
    pbr::v1::Person person;
    auto ctx = testing::CallContext(absl::Seconds(5));
    return stub->GetPerson(ctx.get(), req, &person);
  };
  EXPECT_EQ(get_person(platform_->Channel("allocation")).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto with = [&](const testing::IssuedCertificate& cert) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = platform_->ca()->pem();
    o.pem_private_key = cert.key_pem;
    o.pem_cert_chain = cert.cert_pem;
    return grpc::CreateChannel(platform_->GrpcAddress("allocation"), grpc::SslCredentials(o));
  };
  auto other = testing::TestCa::Create("not the trust's CA");
  ASSERT_TRUE(other.ok());
  auto stranger = (*other)->Issue("dr-who", {"URI:urn:pbr:role:clinician"});
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(get_person(with(*stranger)).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto expired = platform_->ca()->Issue("dr-late", {"URI:urn:pbr:role:clinician"}, absl::Now() - absl::Hours(48),
                                        absl::Now() - absl::Hours(1));
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(get_person(with(*expired)).error_code(), grpc::StatusCode::UNAVAILABLE);
  // The trust's clinician is let in (and the person is not known yet).
  EXPECT_EQ(get_person(platform_->Channel("allocation", "clinician")).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SecuritySystemTest, AFeedRecordsAndCorrectsOnlyItsOwnSourceSystemsRecords) {
  auto feed_a = Stub<pbr::v1::Allocation>("allocation", "epr-feed:epr-a");
  auto feed_b = Stub<pbr::v1::Allocation>("allocation", "epr-feed:epr-b");
  pbr::v1::RecordAssessmentReply reply;
  {
    auto ctx = testing::CallContext();
    const grpc::Status st = feed_a->RecordAssessment(ctx.get(), Assessment("epr-a", "a-1"), &reply);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  {  // Recording as another source system.
    auto ctx = testing::CallContext();
    const grpc::Status st = feed_b->RecordAssessment(ctx.get(), Assessment("epr-a", "a-2"), &reply);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(st.error_message(), HasSubstr("source_system"));
    EXPECT_THAT(st.error_message(), HasSubstr("epr-b"));
  }
  {  // Amending and withdrawing the other's record.
    auto ctx = testing::CallContext();
    pbr::v1::RecordAssessmentRequest amended = Assessment("epr-a", "a-1");
    amended.set_cluster(5);
    EXPECT_EQ(feed_b->AmendAssessment(ctx.get(), amended, &reply).error_code(), grpc::StatusCode::PERMISSION_DENIED);
    pbr::v1::WithdrawAssessmentRequest withdraw;
    withdraw.set_source_system("epr-a");
    withdraw.set_source_record_id("a-1");
    withdraw.set_reason("entered in error");
    pbr::v1::WithdrawAssessmentReply withdrawn;
    auto ctx2 = testing::CallContext();
    EXPECT_EQ(feed_b->WithdrawAssessment(ctx2.get(), withdraw, &withdrawn).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // The record is as epr-a sent it: the clinician sees cluster 4.
  auto clinician = Stub<pbr::v1::Allocation>("allocation", "clinician");
  pbr::v1::GetPersonRequest req;
  req.set_nhs_number(testing::NhsNumber(943476100));
  pbr::v1::Person person;
  auto ctx = testing::CallContext();
  const grpc::Status st = clinician->GetPerson(ctx.get(), req, &person);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(person.cluster(), 4);
}

// pbrctl with `role`'s certificate: its exit code and what it printed (stdout and stderr, through
// a file, so no pipe fills).
std::pair<int, std::string> Pbrctl(const testing::LocalPlatform& platform, const std::string& role,
                                   const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" > \"$0\" 2>&1", log,
                                   std::string(PBR_BIN_DIR) + "/pbrctl",
                                   "--allocation=" + platform.GrpcAddress("allocation")};
  auto tls = platform.ClientTlsFlags(role);
  EXPECT_TRUE(tls.ok()) << tls.status();
  if (tls.ok()) argv.insert(argv.end(), tls->begin(), tls->end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = testing::ChildProcess::Spawn(argv, log + ".sh");
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return {-1, ""};
  EXPECT_TRUE(testing::WaitUntil([&] { return !(*child)->Running(); }, absl::Seconds(30))) << "pbrctl did not finish";
  auto code = (*child)->Terminate(absl::Seconds(5));
  std::ifstream in(log);
  std::stringstream out;
  out << in.rdbuf();
  return {code.ok() ? *code : -1, out.str()};
}

TEST_F(SecuritySystemTest, EveryIdentifiableReadAndCorrectionIsInTheAuditTrailAsPbrctlListsIt) {
  auto feed = Stub<pbr::v1::Allocation>("allocation", "epr-feed:epr-a");
  auto clinician = Stub<pbr::v1::Allocation>("allocation", "clinician");
  pbr::v1::RecordAssessmentReply recorded;
  {
    auto ctx = testing::CallContext();
    const grpc::Status st = feed->RecordAssessment(ctx.get(), Assessment("epr-a", "a-1"), &recorded);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  const std::string person = recorded.person_id();
  {  // The feed corrects the cluster: a correction.
    pbr::v1::RecordAssessmentRequest amended = Assessment("epr-a", "a-1");
    amended.set_clinician_id("clin-2");
    auto ctx = testing::CallContext();
    pbr::v1::RecordAssessmentReply reply;
    const grpc::Status st = feed->AmendAssessment(ctx.get(), amended, &reply);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  {  // The clinician's identifiable reads: by NHS number, then the person's history.
    pbr::v1::GetPersonRequest get;
    get.set_nhs_number(testing::NhsNumber(943476100));
    pbr::v1::Person got;
    auto c1 = testing::CallContext();
    ASSERT_TRUE(clinician->GetPerson(c1.get(), get, &got).ok());
    pbr::v1::ListRequest list;
    list.set_person_id(person);
    pbr::v1::ListEpisodesReply episodes;
    pbr::v1::ListAssessmentsReply assessments;
    pbr::v1::ListReferralsReply referrals;
    auto c2 = testing::CallContext(), c3 = testing::CallContext(), c4 = testing::CallContext();
    ASSERT_TRUE(clinician->ListEpisodes(c2.get(), list, &episodes).ok());
    ASSERT_TRUE(clinician->ListAssessments(c3.get(), list, &assessments).ok());
    ASSERT_TRUE(clinician->ListReferrals(c4.get(), list, &referrals).ok());
    get.set_nhs_number(testing::NhsNumber(943476200));  // nobody the trust knows: recorded all the same
    auto c5 = testing::CallContext();
    EXPECT_EQ(clinician->GetPerson(c5.get(), get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  }

  auto [code, out] = Pbrctl(*platform_, "admin", {"audit", "--person=" + person, "--all", "--json"},
                            dir_.path() + "/audit-person.log");
  ASSERT_EQ(code, 0) << out;
  pbr::v1::ListAuditReply trail;
  const auto parsed = google::protobuf::util::JsonStringToMessage(out, &trail);
  ASSERT_TRUE(parsed.ok()) << parsed << "\n" << out;
  std::map<std::string, pbr::v1::AuditEntry> by_call;
  for (const auto& e : trail.entries()) by_call[e.call()] = e;
  EXPECT_EQ(trail.entries_size(), 5) << out;
  for (const char* call : {"/pbr.v1.Allocation/GetPerson", "/pbr.v1.Allocation/ListEpisodes",
                           "/pbr.v1.Allocation/ListAssessments", "/pbr.v1.Allocation/ListReferrals"}) {
    ASSERT_TRUE(by_call.count(call)) << call << " left no audit entry: " << out;
    const pbr::v1::AuditEntry& e = by_call[call];
    EXPECT_EQ(e.caller_role(), "clinician");
    EXPECT_THAT(e.caller_subject(), HasSubstr("CN=test clinician"));
    EXPECT_EQ(e.person_id(), person);
    EXPECT_EQ(e.outcome(), "OK");
    EXPECT_THAT(e.peer(), HasSubstr("127.0.0.1"));
  }
  EXPECT_EQ(by_call["/pbr.v1.Allocation/GetPerson"].looked_up_by(), "nhs_number");
  ASSERT_TRUE(by_call.count("/pbr.v1.Allocation/AmendAssessment")) << out;
  EXPECT_EQ(by_call["/pbr.v1.Allocation/AmendAssessment"].caller_role(), "epr-feed");
  EXPECT_EQ(by_call["/pbr.v1.Allocation/AmendAssessment"].caller_source_system(), "epr-a");

  // By caller: the clinician's five reads, the one that found nobody included.
  const std::string subject = by_call["/pbr.v1.Allocation/GetPerson"].caller_subject();
  auto [caller_code, caller_out] = Pbrctl(*platform_, "admin", {"audit", "--caller=" + subject},
                                          dir_.path() + "/audit-caller.log");
  ASSERT_EQ(caller_code, 0) << caller_out;
  EXPECT_THAT(caller_out, HasSubstr("caller " + subject + ": 5 audit entries"));
  EXPECT_THAT(caller_out, HasSubstr("NOT_FOUND"));

  // Only admin reads the trail.
  auto [refused_code, refused_out] = Pbrctl(*platform_, "clinician", {"audit", "--person=" + person},
                                            dir_.path() + "/audit-refused.log");
  EXPECT_EQ(refused_code, 1);
  EXPECT_THAT(refused_out, HasSubstr("PERMISSION_DENIED"));
}

}  // namespace
}  // namespace pbr

namespace pbr {
namespace {

// The container probes: one health check over mutual TLS, the server's certificate checked for the
// name given (a probe dials 127.0.0.1 but the certificate names the service), and a sign-in link for
// the dashboard printed for an operations certificate only.
TEST_F(SecuritySystemTest, PbrctlProbesOverTlsAndPrintsADashboardLinkForOperations) {
  const std::string dir = dir_.path();
  auto [ok, ok_out] = Pbrctl(*platform_, "admin", {"--tls-server-name=allocation", "probe", "allocation"}, dir + "/p1");
  EXPECT_EQ(ok, 0) << ok_out;
  EXPECT_NE(ok_out.find("allocation SERVING"), std::string::npos) << ok_out;
  auto [wrong, wrong_out] =
      Pbrctl(*platform_, "admin", {"--timeout=2s", "--tls-server-name=reporting", "probe", "allocation"}, dir + "/p2");
  EXPECT_NE(wrong, 0) << "allocation's certificate does not name reporting: " << wrong_out;
  auto [unknown, unknown_out] = Pbrctl(*platform_, "admin", {"probe", "alloc"}, dir + "/p3");
  EXPECT_EQ(unknown, 2) << unknown_out;
  EXPECT_NE(unknown_out.find("service: 'alloc'"), std::string::npos) << unknown_out;

  const std::vector<std::string> link_args = {"--reporting=" + platform_->GrpcAddress("reporting"), "dashboard-link"};
  auto [link, link_out] = Pbrctl(*platform_, "operations", link_args, dir + "/l1");
  EXPECT_EQ(link, 0) << link_out;
  const std::string url = absl::StrCat("https://127.0.0.1:", platform_->HttpAddress("reporting").substr(10), "/sign-in?token=");
  EXPECT_EQ(link_out.find(url), 0u) << link_out;
  auto [refused, refused_out] = Pbrctl(*platform_, "clinician", link_args, dir + "/l2");
  EXPECT_NE(refused, 0);
  EXPECT_NE(refused_out.find("PERMISSION_DENIED"), std::string::npos) << refused_out;
}

}  // namespace
}  // namespace pbr
