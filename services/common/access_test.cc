// The role matrix: every call of every service is in it, and AuthorizeCall answers exactly as it says.
#include "access.h"

#include <set>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.pb.h"
#include "pbr/v1/finance.pb.h"
#include "pbr/v1/outcomes.pb.h"
#include "pbr/v1/reporting.pb.h"
#include "pbr/v1/review_scheduler.pb.h"

namespace pbr::services {
namespace {

using ::testing::HasSubstr;

platform::Caller As(const std::string& role, const std::string& source = "") {
  return platform::Caller{role, source, "CN=test", true};
}

// Every method of the platform's gRPC services, from their descriptors.
std::set<std::string> EveryMethod() {
  std::set<std::string> out;
  for (const google::protobuf::FileDescriptor* file :
       {pbr::v1::RecordAssessmentRequest::descriptor()->file(), pbr::v1::GetScheduleRequest::descriptor()->file(),
        pbr::v1::GetOutcomesRequest::descriptor()->file(), pbr::v1::GetCaseloadRequest::descriptor()->file(),
        pbr::v1::StreamTariffActivityRequest::descriptor()->file()}) {
    for (int s = 0; s < file->service_count(); ++s) {
      const auto* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        out.insert("/" + service->full_name() + "/" + service->method(m)->name());
      }
    }
  }
  return out;
}

TEST(AccessMatrix, EveryCallOfEveryServiceHasItsRoles) {
  std::set<std::string> in_matrix;
  for (const CallAccess& a : AccessMatrix()) {
    EXPECT_FALSE(a.roles.empty()) << a.method;
    EXPECT_TRUE(in_matrix.insert(a.method).second) << a.method << " is in the matrix twice";
  }
  const std::set<std::string> methods = EveryMethod();
  EXPECT_EQ(methods.size(), 24u);  // Allocation 12, ReviewScheduler 4, Outcomes 2, Reporting 3, Dashboard 1, Finance 2
  for (const std::string& m : methods) EXPECT_TRUE(in_matrix.count(m)) << m << " has no roles in the matrix";
}

TEST(AccessMatrix, EachRoleGetsExactlyItsCallsAndARefusalNamesTheRoleAndTheCall) {
  for (const std::string role : {"epr-feed", "clinician", "operations", "finance", "admin", "nobody"}) {
    for (const CallAccess& a : AccessMatrix()) {
      const bool allowed = std::find(a.roles.begin(), a.roles.end(), role) != a.roles.end();
      const absl::Status st = AuthorizeCall(As(role, "RIO"), a.method);
      EXPECT_EQ(st.ok(), allowed) << role << " " << a.method << ": " << st;
      if (!allowed) {
        EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
        EXPECT_THAT(std::string(st.message()), HasSubstr("role " + role));
        EXPECT_THAT(std::string(st.message()), HasSubstr(a.method));
      }
    }
  }
  // What the matrix does not name is refused to everyone.
  EXPECT_EQ(AuthorizeCall(As("admin"), "/pbr.v1.Allocation/DropEverything").code(), absl::StatusCode::kPermissionDenied);
}

TEST(AccessMatrix, ThePseudonymousRolesGetNoIdentifiableCall) {
  for (const CallAccess& a : AccessMatrix()) {
    if (!a.identifiable) continue;
    for (const std::string role : {"operations", "finance"}) {
      EXPECT_FALSE(AuthorizeCall(As(role), a.method).ok()) << role << " " << a.method;
    }
  }
  EXPECT_TRUE(AuthorizeCall(As("clinician"), "/pbr.v1.Allocation/GetPerson").ok());
  EXPECT_FALSE(AuthorizeCall(As("epr-feed", "RIO"), "/pbr.v1.Allocation/GetPerson").ok());
}

TEST(AccessMatrix, AFeedCorrectsOnlyItsOwnSourceSystem) {
  EXPECT_TRUE(CheckOwnSource(As("epr-feed", "RIO"), "RIO").ok());
  const absl::Status other = CheckOwnSource(As("epr-feed", "RIO"), "SYSTMONE");
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.message()), HasSubstr("source_system"));
  EXPECT_THAT(std::string(other.message()), HasSubstr("RIO"));
  EXPECT_THAT(std::string(other.message()), HasSubstr("SYSTMONE"));
  EXPECT_FALSE(CheckOwnSource(As("clinician"), "RIO").ok());
  EXPECT_TRUE(CheckOwnSource(platform::Caller{}, "RIO").ok());  // plaintext (loopback): nobody to check
  EXPECT_TRUE(CheckOwnSource(As("epr-feed", "RIO"), "").ok());  // none named: validation refuses it, naming the field
}

}  // namespace
}  // namespace pbr::services
