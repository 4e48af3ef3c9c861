#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>
#include <variant>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "allocation_fixture.h"
#include "care/catalogue.h"
#include "care/kpi.h"
#include "care/mhct.h"
#include "care/nhs_number.h"
#include "care/review_triggers.h"
#include "care_bridge.h"
#include "commands.h"
#include "demo_data.h"
#include "intake.h"
#include "gtest/gtest.h"
#include "pbr/v1/finance.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "render.h"
#include "rpc.h"
#include "testing/process.h"
#include "testing/test_server.h"

namespace pbr {
namespace {

using demo::DemoCall;
using demo::DemoHistory;
using demo::DemoOptions;
using demo::GenerateDemoHistory;
using v1::RecordAssessmentRequest;
using v1::RecordCareEventRequest;

DemoOptions Options(int people, uint64_t seed) {
  DemoOptions o;
  o.people = people;
  o.seed = seed;
  o.now = absl::FromCivil(absl::CivilSecond(2025, 3, 10, 14, 0, 0), absl::UTCTimeZone());
  return o;
}

// The intake's own conversion lives in services/common; this mirrors it for the rules library.
care::MhctRatings ToCare(const v1::MhctRatings& r) {
  care::MhctRatings out;
  for (int i = 0; i < care::kMhctItemCount && i < r.items_size(); ++i) out.items[i] = r.items(i);
  out.item8_problem_type = r.item8_problem_type().empty() ? 0 : r.item8_problem_type()[0];
  out.item8_other_text = r.item8_other_text();
  return out;
}

bool PrintableId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) { return absl::FromUnixSeconds(t.seconds()); }

// The clinical (UK) zone, as the platform reads clinical days.
absl::TimeZone Uk() {
  absl::TimeZone z;
  return absl::LoadTimeZone("Europe/London", &z) ? z : absl::UTCTimeZone();
}

std::string Serialized(const DemoHistory& history) {
  std::string out;
  for (const DemoCall& c : history.calls) {
    out += std::visit([](const auto& r) { return r.SerializeAsString(); }, c.request);
    out += absl::StrCat("|", c.amend, "|", absl::ToUnixSeconds(c.sent_at), "|", c.nhs_number, "|", c.corrected_later, "\n");
  }
  for (const auto& p : history.people) out += absl::StrCat(p.nhs_number, ":", p.caseload_team, "\n");
  return out;
}

// Each person's calls, in the order they are sent.
std::map<std::string, std::vector<const DemoCall*>> ByPerson(const DemoHistory& history) {
  std::map<std::string, std::vector<const DemoCall*>> out;
  for (const DemoCall& c : history.calls) out[c.nhs_number].push_back(&c);
  return out;
}

class PbrctlDemoIntake : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rules = services::LoadRules(PBR_RULES_DIR);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
  }
  std::shared_ptr<const care::RuleSet> rules_;
};

TEST_F(PbrctlDemoIntake, EveryCallPassesTheIntakeRules) {
  const DemoOptions options = Options(300, 1);
  const DemoHistory history = GenerateDemoHistory(options);
  ASSERT_FALSE(history.calls.empty());
  const absl::Time earliest = options.now - absl::Hours(24 * 365 * options.history_years + 24);
  for (const DemoCall& c : history.calls) {
    SCOPED_TRACE(c.source_record_id());
    EXPECT_TRUE(absl::StartsWith(c.nhs_number, "999")) << "demo NHS numbers stay in the test range";
    EXPECT_TRUE(PrintableId(c.source_system()));
    EXPECT_TRUE(PrintableId(c.source_record_id()));
    EXPECT_LT(c.sent_at, options.now);
    EXPECT_GE(c.sent_at, earliest);
    if (const auto* r = c.assessment()) {
      const absl::Status st = allocation::ValidateAssessment(*rules_, options.now, *r, "pbrctl-demo-trace");
      EXPECT_TRUE(st.ok()) << st;
      EXPECT_EQ(r->nhs_number(), c.nhs_number);
      EXPECT_TRUE(care::ValidateMhct(ToCare(r->ratings())).ok()) << care::ValidateMhct(ToCare(r->ratings()));
      EXPECT_GE(TimeOf(r->assessed_at()), earliest);
      EXPECT_LE(TimeOf(r->assessed_at()), c.sent_at);
    } else if (const auto* r = c.care_event()) {
      const absl::Status st = allocation::ValidateCareEvent(*rules_, options.now, *r, "pbrctl-demo-trace");
      EXPECT_TRUE(st.ok()) << st;
      EXPECT_EQ(r->nhs_number(), c.nhs_number);
      EXPECT_EQ(TimeOf(r->occurred_at()), c.sent_at);
    } else if (const auto* r = c.assessment_withdrawal()) {
      EXPECT_TRUE(allocation::ValidateWithdrawal(*r, "").ok());
    } else {
      ASSERT_NE(c.care_event_withdrawal(), nullptr);
      EXPECT_TRUE(allocation::ValidateWithdrawal(*c.care_event_withdrawal(), "").ok());
    }
  }
}

// The whole history through allocation itself (in process, over a real store): every call accepted,
// and each person ends up on the caseload the demo says (the summary's team sizes).
class PbrctlDemoAllocation : public allocation::testing::AllocationFixture {};

TEST_F(PbrctlDemoAllocation, AllocationAcceptsEveryCallAndTheCaseloadsAreAsSaid) {
  DemoOptions options = Options(100, 5);
  options.now = clock_.Now();
  const DemoHistory history = GenerateDemoHistory(options);
  int sent = 0;
  std::map<std::string, int> checks;  // "<rule> passed|failed" -> count, over the first recording of each
  for (const DemoCall& c : history.calls) {
    SCOPED_TRACE(absl::StrCat(c.source_record_id(), c.amend ? " (amended)" : ""));
    absl::Status st;
    if (const auto* r = c.assessment()) {
      auto reply = c.amend ? service_->Amend(*r, "") : service_->Record(*r, "");
      st = reply.status();
      for (const auto& check : reply.ok() && !c.amend ? reply->checks() : decltype(reply->checks()){}) {
        ++checks[absl::StrCat(check.rule(), check.passed() ? " passed" : " failed")];
      }
    } else if (const auto* r = c.care_event()) {
      st = service_->RecordCareEvent(*r, "").status();
    } else if (const auto* r = c.assessment_withdrawal()) {
      st = service_->Withdraw(*r, "").status();
    } else {
      st = service_->WithdrawCareEvent(*c.care_event_withdrawal(), "").status();
    }
    EXPECT_TRUE(st.ok()) << st;
    ++sent;
  }
  EXPECT_EQ(sent, static_cast<int>(history.calls.size()));
  // KPIs 6, 8, 11 and 13 count allocation's checks: the history has allocations and reviews that pass
  // them and some that do not.
  for (const char* rule : {"red-rules", "transition-protocol"}) {
    EXPECT_GT(checks[absl::StrCat(rule, " passed")], 0) << rule;
    EXPECT_GT(checks[absl::StrCat(rule, " failed")], 0) << rule;
  }
  int on_caseloads = 0;
  for (const demo::DemoPerson& p : history.people) {
    v1::GetPersonRequest q;
    q.set_nhs_number(p.nhs_number);
    auto person = service_->GetPerson(q);
    ASSERT_TRUE(person.ok()) << person.status();
    const std::string team = person->has_cluster() && person->referral_open() ? person->team_id() : "";
    EXPECT_EQ(team, p.caseload_team) << p.nhs_number;
    on_caseloads += team.empty() ? 0 : 1;
  }
  int counted = 0;
  for (const auto& [team, people] : demo::CaseloadSizes(history)) counted += people;
  EXPECT_EQ(counted, on_caseloads);
  EXPECT_GT(on_caseloads, 0);
  EXPECT_LT(on_caseloads, static_cast<int>(history.people.size())) << "some people were discharged";
}

TEST(PbrctlDemoData, SameSeedAndDayGiveTheSameData) {
  DemoOptions later_that_day = Options(200, 7);
  later_that_day.now += absl::Hours(5);
  const std::string first = Serialized(GenerateDemoHistory(Options(200, 7)));
  EXPECT_EQ(first, Serialized(GenerateDemoHistory(Options(200, 7))));
  EXPECT_EQ(first, Serialized(GenerateDemoHistory(later_that_day)));
  EXPECT_NE(first, Serialized(GenerateDemoHistory(Options(200, 8))));
}

TEST(PbrctlDemoData, PeopleCountIsAsAsked) {
  for (int people : {1, 2, 37, 300, 2000}) {
    const DemoHistory history = GenerateDemoHistory(Options(people, 3));
    std::set<std::string> nhs_numbers;
    for (const DemoCall& c : history.calls) nhs_numbers.insert(c.nhs_number);
    EXPECT_EQ(static_cast<int>(nhs_numbers.size()), people);
    EXPECT_EQ(static_cast<int>(history.people.size()), people);
  }
}

TEST(PbrctlDemoData, SomePeopleAppearInBothEprs) {
  std::map<std::string, std::set<std::string>> systems;  // NHS number -> EPRs
  for (const DemoCall& c : GenerateDemoHistory(Options(300, 1)).calls) systems[c.nhs_number].insert(c.source_system());
  int in_both = 0;
  for (const auto& [nhs, eprs] : systems) in_both += eprs.size() > 1 ? 1 : 0;
  EXPECT_GE(in_both, 20);   // about one person in eight of 300
  EXPECT_LE(in_both, 80);
}

// Sorted by time; record ids unique per kind of record; each referral period opens with a referral
// received, everything of the person happens inside one, and its first assessment is an initial one; a
// correction follows the record it corrects.
void ExpectCareInOrder(const DemoHistory& history) {
  std::set<std::pair<std::string, std::string>> assessment_ids, event_ids;
  for (size_t i = 0; i < history.calls.size(); ++i) {
    const DemoCall& c = history.calls[i];
    if (i > 0) EXPECT_LE(history.calls[i - 1].sent_at, c.sent_at);
    if (c.assessment() != nullptr && !c.amend) {
      EXPECT_TRUE(assessment_ids.emplace(c.source_system(), c.source_record_id()).second) << c.source_record_id();
      EXPECT_TRUE(absl::StartsWith(c.source_record_id(), c.source_system() + "-A")) << c.source_record_id();
    } else if (c.care_event() != nullptr) {
      EXPECT_TRUE(event_ids.emplace(c.source_system(), c.source_record_id()).second) << c.source_record_id();
      EXPECT_TRUE(absl::StartsWith(c.source_record_id(), c.source_system() + "-E")) << c.source_record_id();
    } else if (c.assessment() != nullptr || c.assessment_withdrawal() != nullptr) {
      EXPECT_TRUE(assessment_ids.count({c.source_system(), c.source_record_id()})) << "corrects an earlier record";
    } else {
      EXPECT_TRUE(event_ids.count({c.source_system(), c.source_record_id()})) << "corrects an earlier record";
    }
  }
  int periods = 0;
  for (const auto& [nhs, calls] : ByPerson(history)) {
    SCOPED_TRACE(nhs);
    bool open = false, allocated = false;
    for (const DemoCall* c : calls) {
      if (const auto* e = c->care_event()) {
        if (e->type() == v1::CARE_EVENT_REFERRAL_RECEIVED) {
          EXPECT_FALSE(open) << "a referral while a period is open";
          open = true;
          allocated = false;
          ++periods;
        } else if (e->type() == v1::CARE_EVENT_DISCHARGE_FROM_SERVICE) {
          EXPECT_TRUE(open);
          open = false;
        } else {
          EXPECT_TRUE(open) << "a care event outside a referral period: " << e->source_record_id() << " "
                            << v1::CareEventType_Name(e->type());
        }
      } else if (const auto* a = c->assessment(); a != nullptr && !c->amend) {
        EXPECT_TRUE(open) << "an assessment outside a referral period";
        EXPECT_EQ(a->reason() == v1::ASSESSMENT_REASON_INITIAL, !allocated) << a->source_record_id();
        allocated = true;
      }
    }
  }
  EXPECT_GT(periods, static_cast<int>(history.people.size())) << "a few people are referred again";
}

TEST(PbrctlDemoData, EachPersonsCareIsSentInTheOrderItHappened) {
  for (uint64_t seed : {2, 3, 4, 5}) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    ExpectCareInOrder(GenerateDemoHistory(Options(300, seed)));
  }
}

// A review a colleague covered names the person's care co-ordinator: the clinician who has seen them in
// that team before. A person's first assessment in a team names none (its clinician co-ordinates).
TEST(PbrctlDemoData, ACoveredReviewNamesTheCareCoordinator) {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> seen_by;  // (person, team) -> clinicians
  int covered = 0;
  for (const DemoCall& c : GenerateDemoHistory(Options(400, 5)).calls) {  // in the order sent
    if (const auto* e = c.care_event()) {
      seen_by[{e->nhs_number(), e->team_id()}].insert(e->clinician_id());
      continue;
    }
    const RecordAssessmentRequest* r = c.assessment();
    if (r == nullptr) continue;
    auto& earlier = seen_by[{r->nhs_number(), r->team_id()}];
    if (!r->care_coordinator_id().empty()) {
      ++covered;
      EXPECT_NE(r->care_coordinator_id(), r->clinician_id()) << r->source_record_id();
      EXPECT_TRUE(earlier.count(r->care_coordinator_id())) << r->source_record_id();
    }
    earlier.insert(r->clinician_id());
  }
  EXPECT_GT(covered, 0);
}

TEST(PbrctlDemoData, ClustersFitTheTeam) {
  for (const DemoCall& c : GenerateDemoHistory(Options(400, 4)).calls) {
    const RecordAssessmentRequest* r = c.assessment();
    if (r == nullptr) continue;
    SCOPED_TRACE(r->team_id());
    if (absl::StartsWith(r->team_id(), "cmht")) {
      EXPECT_TRUE(r->cluster() == 0 || (r->cluster() >= 4 && r->cluster() <= 8)) << r->cluster();
    } else if (absl::StartsWith(r->team_id(), "eip")) {
      EXPECT_TRUE(r->cluster() >= 10 && r->cluster() <= 17) << r->cluster();
    } else if (absl::StartsWith(r->team_id(), "memory")) {
      EXPECT_TRUE(r->cluster() >= 18 && r->cluster() <= 21) << r->cluster();
    }
  }
}

// What the KPIs count is all there, each with cases that meet the standard and cases that miss it.
// Counted here from the calls with the rules library's windows (care::TriggerWindow, default timing).
TEST(PbrctlDemoData, TheHistoryHasEveryKindOfCareTheKpisCount) {
  const DemoOptions options = Options(500, 11);
  const DemoHistory history = GenerateDemoHistory(options);
  const care::KpiSettings timing;
  const absl::TimeZone uk = Uk();
  std::map<std::string, int> seen;
  auto met = [&](const std::string& what, bool ok) { ++seen[absl::StrCat(what, ok ? " met" : " missed")]; };
  const absl::CivilDay today = absl::ToCivilDay(options.now, absl::UTCTimeZone());
  std::set<std::string> on_caseload;
  for (const auto& p : history.people) {
    if (!p.caseload_team.empty()) on_caseload.insert(p.nhs_number);
  }
  for (const auto& [nhs, calls] : ByPerson(history)) {
    std::vector<absl::Time> assessed;  // the person's assessments (as first sent)
    std::vector<absl::Time> contacts;
    std::optional<absl::Time> last_contact;
    for (const DemoCall* c : calls) {
      if (const auto* a = c->assessment(); a != nullptr && !c->amend) assessed.push_back(TimeOf(a->assessed_at()));
    }
    for (const DemoCall* c : calls) {
      if (c->amend) ++seen["amendment"];
      if (c->assessment_withdrawal() != nullptr) ++seen["assessment withdrawn"];
      if (c->care_event_withdrawal() != nullptr) ++seen["care event withdrawn"];
      if (const auto* a = c->assessment(); a != nullptr && !c->amend) {
        if (a->reason() != v1::ASSESSMENT_REASON_INITIAL) {
          ++seen[v1::AssessmentReason_Name(a->reason())];
          continue;
        }
        if (a->has_admitted_at()) {
          const auto w = care::TriggerWindow(timing, care::ReviewTriggerKind::kInpatientAdmission, TimeOf(a->admitted_at()), uk);
          met("allocated after admission", care::MeetsTrigger(w, TimeOf(a->assessed_at())));
        } else {
          EXPECT_TRUE(a->face_to_face_contacts() == 0 || a->has_first_contact_at());
          if (a->face_to_face_contacts() > 0) met("allocated within 2 contacts", a->face_to_face_contacts() <= 2);
        }
        continue;
      }
      const RecordCareEventRequest* e = c->care_event();
      if (e == nullptr) continue;
      const absl::Time at = TimeOf(e->occurred_at());
      std::optional<care::ReviewTriggerKind> kind;
      switch (e->type()) {
        case v1::CARE_EVENT_REFERRAL_RECEIVED: {
          const absl::CivilSecond local = absl::ToCivilSecond(at, uk);
          const absl::Weekday day = absl::GetWeekday(absl::CivilDay(local));
          const bool weekend = day == absl::Weekday::saturday || day == absl::Weekday::sunday;
          ++seen[weekend || local.hour() < 9 || local.hour() >= 17 ? "referral out of hours" : "referral in hours"];
          break;
        }
        case v1::CARE_EVENT_FACE_TO_FACE_CONTACT:
          contacts.push_back(at);
          last_contact = at;
          break;
        case v1::CARE_EVENT_REFERRAL_TO_CRHT:
        case v1::CARE_EVENT_REFERRAL_TO_INPATIENTS:
          kind = e->out_of_hours() ? care::ReviewTriggerKind::kOutOfHoursReferral : care::ReviewTriggerKind::kInHoursReferral;
          break;
        case v1::CARE_EVENT_DISCHARGE_REVIEW: kind = care::ReviewTriggerKind::kDischargeReview; break;
        case v1::CARE_EVENT_DISCHARGE_FROM_SERVICE: ++seen["discharge"]; break;
        case v1::CARE_EVENT_ADMISSION: ++seen["admission"]; break;
        default: break;
      }
      if (kind.has_value()) {
        const auto w = care::TriggerWindow(timing, *kind, at, uk);
        if (w.deadline >= options.now) continue;  // still open at the end
        const bool answered = std::any_of(assessed.begin(), assessed.end(), [&](absl::Time t) { return care::MeetsTrigger(w, t); });
        met(std::string(care::ReviewTriggerKpi(*kind)), answered);
      }
    }
    // The first two contacts of the person (their first referral period, as most have one).
    if (contacts.size() >= 2) {
      const auto days = absl::ToCivilDay(contacts[1], uk) - absl::ToCivilDay(contacts[0], uk);
      met("second contact within 12 weeks", days <= timing.memory_initial_contacts_days);
      met("second contact within 28 days", days <= timing.initial_contacts_days);
    }
    // The caseloads' "no recent contact": some of the people on one were seen in the last 90 days, some not.
    if (on_caseload.count(nhs)) {
      const bool recent = last_contact.has_value() && absl::ToCivilDay(*last_contact, uk) >= today - 89;
      ++seen[recent ? "on a caseload, seen in 90 days" : "on a caseload, not seen in 90 days"];
    }
  }
  std::string all;
  for (const auto& [what, n] : seen) all += absl::StrCat("  ", what, ": ", n, "\n");
  for (const char* what : {"allocated after admission", "allocated within 2 contacts", "second contact within 28 days",
                           "KPI9", "KPI10", "KPI12"}) {
    EXPECT_GT(seen[absl::StrCat(what, " met")], 0) << what << "\n" << all;
    EXPECT_GT(seen[absl::StrCat(what, " missed")], 0) << what << "\n" << all;
    EXPECT_GT(seen[absl::StrCat(what, " met")], seen[absl::StrCat(what, " missed")]) << "mostly on time: " << what << "\n" << all;
  }
  for (const char* what : {"referral in hours", "referral out of hours", "admission", "discharge",
                           "on a caseload, seen in 90 days", "on a caseload, not seen in 90 days", "amendment", "assessment withdrawn", "care event withdrawn",
                           "ASSESSMENT_REASON_FORMAL_REVIEW", "ASSESSMENT_REASON_TRANSFER_REVIEW",
                           "ASSESSMENT_REASON_DISCHARGE_REVIEW", "ASSESSMENT_REASON_UNPLANNED_REVIEW"}) {
    EXPECT_GT(seen[what], 0) << what << "\n" << all;
  }
  EXPECT_GT(seen["referral in hours"], seen["referral out of hours"]) << all;
  EXPECT_GT(seen["on a caseload, seen in 90 days"], seen["on a caseload, not seen in 90 days"]) << all;
}

TEST(PbrctlDemoData, CaseloadSizesCountThePeopleOnEachTeamLargestFirst) {
  const DemoHistory history = GenerateDemoHistory(Options(300, 6));
  std::map<std::string, int> expected;
  for (const auto& p : history.people) {
    if (!p.caseload_team.empty()) ++expected[p.caseload_team];
  }
  const auto sizes = demo::CaseloadSizes(history);
  ASSERT_EQ(sizes.size(), expected.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(sizes[i].second, expected[sizes[i].first]) << sizes[i].first;
    if (i > 0) EXPECT_GE(sizes[i - 1].second, sizes[i].second);
  }
}

TEST(PbrctlDemoData, NhsCheckDigit) {
  EXPECT_EQ(demo::NhsCheckDigit("943476591"), 9);  // the NHS's published example 943 476 5919
  EXPECT_EQ(demo::NhsCheckDigit("999000001"), 8);
  for (int n = 0; n < 200; ++n) {
    const std::string nine = "999000" + std::to_string(100 + n);
    const int check = demo::NhsCheckDigit(nine);
    EXPECT_EQ(check >= 0, care::ValidateNhsNumber(nine + std::to_string(std::max(check, 0))).ok()) << nine;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PbrctlJson, ExampleFileParsesAndIsValid) {
  auto request = cli::ParseAssessmentJson(ReadFile(PBRCTL_EXAMPLE_JSON));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->source_system(), "rio-north");
  EXPECT_TRUE(care::ValidateNhsNumber(request->nhs_number()).ok());
  EXPECT_TRUE(care::ValidateMhct(ToCare(request->ratings())).ok()) << care::ValidateMhct(ToCare(request->ratings()));
  EXPECT_TRUE(request->has_cluster()) << "the intake requires the cluster to be given";
  EXPECT_TRUE(care::IsValidClusterId(request->cluster()));
  EXPECT_EQ(request->reason(), v1::ASSESSMENT_REASON_INITIAL);
  EXPECT_EQ(request->care_coordinator_id(), "cc-cmht-north-03");
  EXPECT_TRUE(PrintableId(request->care_coordinator_id()));
  EXPECT_EQ(request->assessed_at().seconds(),
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(2024, 5, 14, 10, 30, 0), absl::UTCTimeZone())));
}

TEST(PbrctlJson, AcceptsProtoFieldNames) {
  auto request = cli::ParseAssessmentJson(
      R"({"source_system": "rio-north", "team_id": "t", "cluster": 4, "care_coordinator_id": "cc-1"})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->source_system(), "rio-north");
  EXPECT_EQ(request->team_id(), "t");
  EXPECT_EQ(request->care_coordinator_id(), "cc-1");
}

TEST(PbrctlJson, ErrorsNameTheProblem) {
  auto misspelt = cli::ParseAssessmentJson(R"({"sourceSytem": "rio-north"})");
  ASSERT_FALSE(misspelt.ok());
  EXPECT_TRUE(absl::StrContains(misspelt.status().message(), "sourceSytem")) << misspelt.status();
  auto truncated = cli::ParseAssessmentJson(R"({"sourceSystem": )");
  EXPECT_FALSE(truncated.ok());
  auto bad_time = cli::ParseAssessmentJson(R"({"assessedAt": "yesterday"})");
  EXPECT_FALSE(bad_time.ok());
}

TEST(PbrctlJson, CareEventExampleParsesAndIsValid) {
  auto request = cli::ParseCareEventJson(ReadFile(PBRCTL_CARE_EVENT_JSON));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->nhs_number(), "9990000018");
  EXPECT_TRUE(care::ValidateNhsNumber(request->nhs_number()).ok());
  EXPECT_EQ(request->type(), v1::CARE_EVENT_REFERRAL_TO_CRHT);
  EXPECT_TRUE(request->out_of_hours());
  EXPECT_TRUE(request->has_occurred_at());
  for (const std::string& id : {request->source_system(), request->source_record_id(), request->team_id()}) {
    EXPECT_TRUE(PrintableId(id)) << id;
  }
}

TEST(PbrctlJson, CareEventErrorsNameTheProblem) {
  auto bad_type = cli::ParseCareEventJson(R"({"type": "CARE_EVENT_TEA_BREAK"})");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_TRUE(absl::StrContains(bad_type.status().message(), "RecordCareEventRequest")) << bad_type.status();
}

TEST(PbrctlSuggestInput, BareRatings) {
  auto input = cli::ParseSuggestInput(R"({"items": [0,1,0,0,1,0,3,2,2,1,0,2,0,0,1,0,1,1], "item8ProblemType": "B"})");
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_FALSE(input->from_assessment);
  EXPECT_EQ(input->ratings.items_size(), 18);
  EXPECT_EQ(input->ratings.items(6), 3);
  EXPECT_EQ(input->ratings.item8_problem_type(), "B");
  // Proto field names too, and an item 8 field alone is enough to tell the form.
  auto snake = cli::ParseSuggestInput(R"({"item8_problem_type": "J", "item8_other_text": "hoarding"})");
  ASSERT_TRUE(snake.ok()) << snake.status();
  EXPECT_FALSE(snake->from_assessment);
  EXPECT_EQ(snake->ratings.item8_other_text(), "hoarding");
}

TEST(PbrctlSuggestInput, AssessmentFileGivesItsRatings) {
  const std::string text = ReadFile(PBRCTL_EXAMPLE_JSON);
  auto input = cli::ParseSuggestInput(text);
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_TRUE(input->from_assessment);
  auto request = cli::ParseAssessmentJson(text);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(input->ratings.SerializeAsString(), request->ratings().SerializeAsString());
}

TEST(PbrctlSuggestInput, ErrorsNameTheProblem) {
  auto no_ratings = cli::ParseSuggestInput(R"({"sourceSystem": "rio-north", "cluster": 4})");
  ASSERT_FALSE(no_ratings.ok());
  EXPECT_TRUE(absl::StrContains(no_ratings.status().message(), "no ratings")) << no_ratings.status();
  auto misspelt_item = cli::ParseSuggestInput(R"({"items": [1], "item8ProblemTyp": "B"})");
  ASSERT_FALSE(misspelt_item.ok());
  EXPECT_TRUE(absl::StrContains(misspelt_item.status().message(), "MhctRatings")) << misspelt_item.status();
  EXPECT_TRUE(absl::StrContains(misspelt_item.status().message(), "item8ProblemTyp")) << misspelt_item.status();
  auto misspelt_in_request = cli::ParseSuggestInput(R"({"ratings": {"itemz": [1]}})");
  ASSERT_FALSE(misspelt_in_request.ok());
  EXPECT_TRUE(absl::StrContains(misspelt_in_request.status().message(), "itemz")) << misspelt_in_request.status();
  auto neither = cli::ParseSuggestInput(R"({"ratingz": {}})");
  ASSERT_FALSE(neither.ok());
  EXPECT_TRUE(absl::StrContains(neither.status().message(), "MhctRatings")) << neither.status();
  EXPECT_TRUE(absl::StrContains(neither.status().message(), "ratingz")) << neither.status();
  for (const char* not_an_object : {"[1, 2]", "42", "", "{\"items\": "}) {
    EXPECT_FALSE(cli::ParseSuggestInput(not_an_object).ok()) << not_an_object;
  }
}

v1::RuleCheck Check(const std::string& rule, bool passed, const std::string& reason, std::vector<int> expected = {},
                    bool flagged = false) {
  v1::RuleCheck c;
  c.set_rule(rule);
  c.set_passed(passed);
  c.set_reason(reason);
  c.set_flagged(flagged);
  for (int k : expected) c.add_expected_clusters(k);
  return c;
}

v1::ClusterSuggestion Suggestion(int cluster, double fit, bool excluded, const std::string& explanation) {
  v1::ClusterSuggestion s;
  s.set_cluster(cluster);
  s.set_fit(fit);
  s.set_excluded(excluded);
  s.set_explanation(explanation);
  return s;
}

TEST(PbrctlRender, RuleChecksOneALine) {
  google::protobuf::RepeatedPtrField<v1::RuleCheck> checks;
  *checks.Add() = Check("red-rules", true, "The ratings meet every must-score cell of cluster 4.");
  *checks.Add() = Check("service-area", true, "Cluster 8 is rarely held here.", {4, 5, 8}, /*flagged=*/true);
  *checks.Add() = Check("transition-protocol", false, "Cluster 8 to 5 does not follow the protocol.", {8, 7});
  EXPECT_EQ(cli::RenderRuleChecks(checks),
            "✓ red-rules: The ratings meet every must-score cell of cluster 4.\n"
            "✓ service-area (flagged): Cluster 8 is rarely held here. (expected clusters: 4, 5, 8)\n"
            "✗ transition-protocol: Cluster 8 to 5 does not follow the protocol. (expected clusters: 8, 7)\n");
  EXPECT_EQ(cli::RenderRuleChecks({}), "none\n");
}

google::protobuf::RepeatedPtrField<v1::ClusterSuggestion> SomeSuggestions() {
  google::protobuf::RepeatedPtrField<v1::ClusterSuggestion> s;
  *s.Add() = Suggestion(3, 1.0, false, "Rank 1: best");
  *s.Add() = Suggestion(12, 0.966, false, "Rank 2: next");
  *s.Add() = Suggestion(4, 0.5, false, "Rank 3: third");
  *s.Add() = Suggestion(6, 0.92, true, "Cluster 6 is excluded: item 13");
  return s;
}

TEST(PbrctlRender, SuggestionsRankedThenExcluded) {
  EXPECT_EQ(cli::RenderSuggestions(SomeSuggestions(), 10, true),
            "cluster   fit  excluded  explanation\n"
            "      3  100%            Rank 1: best\n"
            "     12   97%            Rank 2: next\n"
            "      4   50%            Rank 3: third\n"
            "      6   92%  yes       Cluster 6 is excluded: item 13\n");
  // The record reply's short form: the top two, no excluded ones, no excluded column.
  EXPECT_EQ(cli::RenderSuggestions(SomeSuggestions(), 2, false),
            "cluster   fit  explanation\n"
            "      3  100%  Rank 1: best\n"
            "     12   97%  Rank 2: next\n");
}

TEST(PbrctlRender, RecordReplyShowsChecksAndTopSuggestions) {
  v1::RecordAssessmentReply reply;
  reply.set_person_id("p1");
  reply.set_assessment_id("a1");
  reply.set_episode_id("e1");
  reply.set_cluster_changed(true);
  reply.set_rule_version("v1");
  reply.set_revision(2);
  *reply.add_checks() = Check("red-rules", false, "item D is rated 1 but cluster 8 must score 2-4 on it.");
  *reply.mutable_suggestions() = SomeSuggestions();
  const std::string text = cli::RenderRecordReply(reply, "amended");
  EXPECT_TRUE(absl::StartsWith(text, "amended assessment a1, revision 2\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "cluster changed  yes\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "rule checks:\n  ✗ red-rules: item D is rated 1")) << text;
  EXPECT_TRUE(absl::StrContains(text, "Rank 3: third")) << text;
  EXPECT_FALSE(absl::StrContains(text, "excluded")) << text;
  EXPECT_FALSE(absl::StrContains(text, "duplicate")) << text;
  reply.set_duplicate(true);
  reply.clear_suggestions();
  const std::string retry = cli::RenderRecordReply(reply, "recorded");
  EXPECT_TRUE(absl::StrContains(retry, "(duplicate: already recorded")) << retry;
  EXPECT_FALSE(absl::StrContains(retry, "suggestions")) << retry;
}

TEST(PbrctlRender, SuggestReplyCountsRankedAndExcluded) {
  v1::SuggestClustersReply reply;
  *reply.mutable_suggestions() = SomeSuggestions();
  reply.set_rule_version("v7");
  const std::string text = cli::RenderSuggestReply(reply);
  EXPECT_TRUE(absl::StartsWith(text, "3 cluster(s) ranked, 1 excluded (rules v7)\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "Cluster 6 is excluded")) << text;
  EXPECT_TRUE(absl::StrContains(cli::ExampleProfilesWarning(), "EXAMPLE"));
}

TEST(PbrctlRender, HistoryTables) {
  v1::ListAssessmentsReply assessments;
  auto* a = assessments.add_assessments();
  a->set_assessment_id("a2");
  a->set_source_system("rio-north");
  a->set_source_record_id("R2");
  a->mutable_assessed_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2024, 8, 14, 10, 30, 0), absl::UTCTimeZone())));
  a->set_cluster(5);
  a->set_team_id("cmht-north");
  a->set_reason(v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  a->set_revision(1);
  a->set_withdrawn(true);
  *a->add_checks() = Check("red-rules", true, "");
  *a->add_checks() = Check("transition-protocol", false, "");
  a->set_clinical_rationale("worse after bereavement");
  const std::string text = cli::RenderAssessments("p1", assessments);
  EXPECT_TRUE(absl::StartsWith(text, "person p1: 1 assessment(s), newest first\n")) << text;
  for (const char* cell : {"2024-08-14 10:30", "formal review", "rio-north R2", "✗ transition-protocol", "withdrawn"}) {
    EXPECT_TRUE(absl::StrContains(text, cell)) << cell << "\n" << text;
  }

  v1::ListEpisodesReply episodes;
  auto* current = episodes.add_episodes();
  current->set_episode_id("e2");
  current->set_cluster(5);
  current->mutable_started_at()->set_seconds(1723631400);
  auto* ended = episodes.add_episodes();
  ended->set_episode_id("e1");
  ended->set_cluster(8);
  ended->mutable_started_at()->set_seconds(1715682600);
  ended->mutable_ended_at()->set_seconds(1723631400);
  const std::string eps = cli::RenderEpisodes("p1", episodes);
  EXPECT_TRUE(absl::StrContains(eps, "current")) << eps;
  EXPECT_LT(eps.find("e2"), eps.find("e1")) << "kept newest first, as the server sent them\n" << eps;
}

TEST(PbrctlRender, PersonWithoutACluster) {
  v1::Person p;
  p.set_person_id("p1");
  auto* l = p.add_local_ids();
  l->set_source_system("rio-north");
  l->set_local_patient_id("RN1");
  const std::string text = cli::RenderPerson(p);
  EXPECT_TRUE(absl::StrContains(text, "cluster      none\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "rio-north RN1")) << text;
}

TEST(PbrctlRender, TableCountsCharactersNotBytes) {
  cli::Table t({"check", "n"}, {false, true});
  t.AddRow({"✓", "1"});
  t.AddRow({"✗ red", "10"});
  EXPECT_EQ(t.Render(), "check   n\n✓       1\n✗ red  10\n");
}

TEST(PbrctlRender, CaseloadHasClustersAndTotals) {
  v1::Caseload c;
  c.set_team_id("cmht-north");
  c.set_people(5);
  c.set_reviews_due(1);
  c.set_reviews_overdue(2);
  auto* k4 = c.add_clusters();
  k4->set_cluster(4);
  k4->set_people(3);
  k4->set_people_with_honos(2);
  k4->set_mean_latest_honos(10);
  auto* k7 = c.add_clusters();
  k7->set_cluster(7);
  k7->set_people(2);
  k7->set_people_with_honos(2);
  k7->set_mean_latest_honos(20);
  const std::string text = cli::RenderCaseload(c, false);
  EXPECT_TRUE(absl::StrContains(text, "team cmht-north: 5 people")) << text;
  EXPECT_TRUE(absl::StrContains(text, "mean HoNOS")) << text;
  EXPECT_TRUE(absl::StrContains(text, "total")) << text;
  EXPECT_TRUE(absl::StrContains(text, "15.0")) << text;  // (2*10 + 2*20) / 4
}

TEST(PbrctlRender, CaseloadShowsTheProfileQualityAndTheCasesToDiscuss) {
  v1::Caseload c;
  c.set_team_id("cmht-north");
  c.set_people(2);
  c.set_reviews_overdue(1);
  c.set_cases_to_discuss(1);
  c.set_rule_version("clusters-2024.1");
  c.mutable_as_of()->set_year(2026);
  c.mutable_as_of()->set_month(11);
  c.mutable_as_of()->set_day(22);
  auto* k = c.add_clusters();
  k->set_cluster(14);
  k->set_super_class("P");
  k->set_indicative_period("8-12 weeks");
  k->set_people(2);
  k->set_reviews_overdue(1);
  k->set_mean_days_in_cluster(123.5);
  k->set_beyond_indicative_period(1);
  k->set_people_with_recent_contact(1);
  auto* sc = c.add_super_classes();
  sc->set_super_class("P");
  sc->set_people(2);
  auto* q = c.mutable_quality();
  q->set_initial_allocations(4);
  q->set_red_rules_met(3);
  q->set_red_rules_met_percent(75);
  auto* by = c.add_quality_by_clinician();
  by->set_clinician_id("clin-a");
  by->set_reviews(2);
  by->set_reviews_within_protocol(1);
  by->set_reviews_within_protocol_percent(50);
  auto* stuck = c.add_persons();
  stuck->set_person_id("p-stuck");
  stuck->set_cluster(14);
  stuck->set_super_class("P");
  stuck->set_care_coordinator_id("cc-x");
  stuck->set_review_state(v1::REVIEW_STATE_OVERDUE);
  stuck->set_days_in_cluster(200);
  stuck->set_beyond_indicative_period(true);
  stuck->add_discuss(v1::DISCUSS_OVERDUE_REVIEW);
  stuck->add_discuss(v1::DISCUSS_NO_RECENT_CONTACT);
  stuck->mutable_in_cluster_since()->set_year(2026);
  stuck->mutable_in_cluster_since()->set_month(5);
  stuck->mutable_in_cluster_since()->set_day(6);
  auto* fine = c.add_persons();
  fine->set_person_id("p-fine");
  fine->set_cluster(14);
  fine->set_face_to_face_contacts_90_days(3);

  const std::string text = cli::RenderCaseload(c, false);
  for (const char* shown : {"team cmht-north: 2 people", "1 case(s) to discuss (as of 2026-11-22)", "8-12 weeks",
                            "123.5", "super classes: P 2", "rules clusters-2024.1", "3 (75%)", "1 (50%)", "clin-a",
                            "p-stuck", "cc-x", "2026-05-06", "200 (beyond)", "overdue review, no recent contact"}) {
    EXPECT_TRUE(absl::StrContains(text, shown)) << shown << " missing from\n" << text;
  }
  EXPECT_FALSE(absl::StrContains(text, "p-fine")) << "without --persons only the cases to discuss\n" << text;
  EXPECT_TRUE(absl::StrContains(cli::RenderCaseload(c, true), "p-fine"));

  c.set_care_coordinator_id("cc-x");
  const std::string theirs = cli::RenderCaseload(c, false);
  EXPECT_TRUE(absl::StrContains(theirs, "team cmht-north, care co-ordinator cc-x: 2 people")) << theirs;
}

TEST(PbrctlRender, OutcomesShowChangesAndEachEpisodesPair) {
  v1::PersonOutcomes o;
  o.set_person_id("p1");
  o.set_rule_version("rules-1");
  auto* first = o.add_outcomes();
  first->set_assessment_id("a1");
  first->set_cluster(4);
  first->set_total_valid(true);
  first->set_honos_total(20);
  first->set_missing_item_policy("strict");
  for (int score : {5, 6, 7, 2}) first->add_factors()->set_score(score);
  auto* need = first->add_care_plan_needs();
  need->set_item(8);
  need->set_problem_type("H");
  auto* review = o.add_outcomes();
  review->set_assessment_id("a2");
  review->set_cluster(4);
  review->set_total_valid(false);
  review->set_missing_items(2);
  auto* episode = o.add_episodes();
  episode->set_paired(true);
  episode->set_first_assessment_id("a1");
  episode->set_team_id("cmht-north");
  episode->set_cluster(4);
  episode->set_commissioner_id("00X");
  episode->mutable_change()->set_total_change(-9);
  episode->mutable_change()->set_reliable_change(v1::RELIABLE_CHANGE_IMPROVED);
  episode->mutable_change()->set_expected(v1::EXPECTED_OUTCOME_MATCHES);
  const std::string text = cli::RenderOutcomes(o);
  EXPECT_TRUE(absl::StrContains(text, "person p1: 2 assessment(s), 1 episode(s); rules rules-1")) << text;
  EXPECT_TRUE(absl::StrContains(text, "5/6/7/2")) << text;
  EXPECT_TRUE(absl::StrContains(text, "8H")) << text;
  EXPECT_TRUE(absl::StrContains(text, "n/a (2 missing)")) << text;
  EXPECT_TRUE(absl::StrContains(text, "-9 improved")) << text;
  EXPECT_TRUE(absl::StrContains(text, "matches")) << text;
  EXPECT_TRUE(absl::StrContains(text, "cmht-north / cluster 4 / 00X")) << text;
  EXPECT_TRUE(absl::StrContains(text, "policy strict")) << text;
}

TEST(PbrctlRender, KpisShowEveryKpiWithItsDaysAndNoPercentWithoutRecords) {
  v1::KpiReport r;
  r.mutable_scope()->set_kind(v1::REPORT_SCOPE_TEAM);
  r.mutable_scope()->set_id("cmht-north");
  auto day = [](int m, int d) {
    v1::CivilDate c;
    c.set_year(2026);
    c.set_month(m);
    c.set_day(d);
    return c;
  };
  *r.mutable_period_start() = day(3, 1);
  *r.mutable_period_end() = day(3, 31);
  *r.mutable_stock_day() = day(3, 20);
  *r.mutable_judged_on() = day(3, 20);
  r.set_rule_version("kpis-2024.1; review periods review-periods-2026.1 (sop)");
  for (int i = 1; i <= 13; ++i) {
    auto* k = r.add_kpis();
    k->set_id(absl::StrCat("KPI", i));
    k->set_title(absl::StrCat("standard ", i));
    k->set_target_percent(i == 1 ? 100 : 95);
    k->set_counted(absl::StrCat("what ", i, " counts"));
    if (i == 2) {  // 19 of 20: 95.0, on target
      k->set_numerator(19);
      k->set_denominator(20);
      k->set_has_percent(true);
      k->set_percent(95);
      k->set_met(true);
    } else if (i == 7) {  // 2 of 3: below
      k->set_numerator(2);
      k->set_denominator(3);
      k->set_has_percent(true);
      k->set_percent(200.0 / 3);
    }
  }
  const std::string text = cli::RenderKpis(r);
  EXPECT_TRUE(absl::StrContains(text, "KPIs for team cmht-north, 2026-03-01 to 2026-03-31")) << text;
  EXPECT_TRUE(absl::StrContains(text, "at the end of 2026-03-20")) << text;
  for (int i = 1; i <= 13; ++i) {
    EXPECT_TRUE(absl::StrContains(text, absl::StrCat("standard ", i, "\n"))) << i << text;
    EXPECT_TRUE(absl::StrContains(text, absl::StrCat("KPI", i, ": what ", i, " counts"))) << i << text;
  }
  EXPECT_TRUE(absl::StrContains(text, "95.0")) << text;
  EXPECT_TRUE(absl::StrContains(text, "66.7")) << text;
  EXPECT_TRUE(absl::StrContains(text, "on target")) << text;
  EXPECT_TRUE(absl::StrContains(text, "below")) << text;
  EXPECT_TRUE(absl::StrContains(text, "no records")) << text;
  EXPECT_TRUE(absl::StrContains(text, "review-periods-2026.1 (sop)")) << text;
  // The KPI rows come in order, 1 to 13.
  EXPECT_LT(text.find("KPI2 "), text.find("KPI10 ")) << text;
}

TEST(PbrctlKpis, ScopeAndPeriodFlags) {
  cli::KpisOptions o;
  o.month = "2026-03";
  auto r = cli::KpisRequestOf(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->scope().kind(), v1::REPORT_SCOPE_TRUST);
  EXPECT_EQ(r->month().year(), 2026);
  EXPECT_EQ(r->month().month(), 3);
  o.scope = "area:crht";
  o.month.clear();
  o.as_at = "2026-02-28";
  r = cli::KpisRequestOf(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->scope().kind(), v1::REPORT_SCOPE_SERVICE_AREA);
  EXPECT_EQ(r->scope().id(), "crht");
  EXPECT_EQ(r->as_at().day(), 28);
  o.scope = "commissioner:00X";
  EXPECT_EQ(cli::KpisRequestOf(o)->scope().kind(), v1::REPORT_SCOPE_COMMISSIONER);
  o.scope = "team:cmht-north";
  EXPECT_EQ(cli::KpisRequestOf(o)->scope().id(), "cmht-north");
  for (const char* bad : {"team:", "ward:7", "Trust", ""}) {
    o.scope = bad;
    EXPECT_TRUE(absl::StrContains(cli::KpisRequestOf(o).status().message(), "--scope")) << bad;
  }
  o.scope = "trust";
  o.as_at = "2026-02-30";
  EXPECT_TRUE(absl::StrContains(cli::KpisRequestOf(o).status().message(), "--as-at"));
  o.as_at.clear();
  EXPECT_TRUE(absl::StrContains(cli::KpisRequestOf(o).status().message(), "exactly one"));
  for (const char* bad : {"2026-13", "2026-3", "March"}) {
    o.month = bad;
    EXPECT_TRUE(absl::StrContains(cli::KpisRequestOf(o).status().message(), "--month")) << bad;
  }
}

TEST(PbrctlRender, OutcomesSummaryHasGroupsSharesAndAll) {
  v1::OutcomesSummary s;
  s.set_group_by(v1::OUTCOME_GROUPING_SUPER_CLASS);
  s.mutable_period_start()->set_year(2026);
  s.mutable_period_start()->set_month(4);
  s.mutable_period_start()->set_day(1);
  auto* np = s.add_groups();
  np->set_group("NP");
  np->set_episodes(3);
  np->set_paired_episodes(2);
  np->set_mean_total_change(-4.5);
  np->set_share_improved(0.5);
  np->set_with_expected_pattern(2);
  np->set_share_matching_expected(1);
  auto* f = np->add_factors();
  f->set_id("personal_wellbeing");
  f->set_episodes(2);
  f->set_mean_change(-1.25);
  auto* o = s.add_groups();
  o->set_group("O");
  o->set_episodes(1);  // nothing paired: no figures
  *s.mutable_all() = *np;
  const std::string text = cli::RenderOutcomesSummary(s);
  EXPECT_TRUE(absl::StrContains(text, "outcomes by super_class, last valid rating 2026-04-01 to now")) << text;
  EXPECT_TRUE(absl::StrContains(text, "personal")) << text;
  EXPECT_TRUE(absl::StrContains(text, "-4.5")) << text;
  EXPECT_TRUE(absl::StrContains(text, "-1.2")) << text;
  EXPECT_TRUE(absl::StrContains(text, "50%")) << text;
  EXPECT_TRUE(absl::StrContains(text, "100%")) << text;
  EXPECT_TRUE(absl::StrContains(text, "all")) << text;
}

// A replica's summary names the partitions it counts, on the heading line; one never assigned says nothing.
TEST(PbrctlRender, OutcomesSummaryNamesTheReplicasPartitions) {
  v1::OutcomesSummary s;
  s.set_group_by(v1::OUTCOME_GROUPING_TEAM);
  s.set_rule_version("r1");
  EXPECT_FALSE(absl::StrContains(cli::RenderOutcomesSummary(s), "partitions"));
  s.mutable_share()->set_assigned(true);
  EXPECT_TRUE(absl::StrContains(cli::RenderOutcomesSummary(s), "rules r1; partitions none (its group is reassigning them)\n"));
  for (int p : {0, 2, 4}) s.mutable_share()->add_partitions(p);
  EXPECT_TRUE(absl::StrContains(cli::RenderOutcomesSummary(s), "outcomes by team, last valid rating all time; rules r1; partitions 0 2 4\n"))
      << cli::RenderOutcomesSummary(s);
}

// Proto3 JSON leaves out zero values by default; cluster 0 ("Variance") is a real cluster and a zero
// count is an answer, so `--json` (and the caseloads.json run-local.sh writes with it) shows them.
TEST(PbrctlJsonOutput, ZeroClusterAndZeroCountsArePrinted) {
  v1::Caseload c;
  c.set_team_id("cmht-north");
  c.set_people(1);
  auto* k0 = c.add_clusters();
  k0->set_cluster(0);
  k0->set_people(1);
  auto* p = c.add_persons();
  p->set_person_id("p-1");
  p->set_cluster(0);
  const std::string json = cli::ToJson(c);
  for (const char* field : {"\"cluster\": 0", "\"reviewsDue\": 0", "\"reviewsOverdue\": 0",
                            "\"peopleWithHonos\": 0", "\"meanLatestHonos\": 0", "\"hasHonos\": false",
                            "\"latestHonosTotal\": 0", "\"reviewState\": \"REVIEW_STATE_UNSPECIFIED\"",
                            "\"assessmentsRecorded\": \"0\""}) {
    EXPECT_TRUE(absl::StrContains(json, field)) << field << " missing from\n" << json;
  }
  // Both the cluster row and the person carry their cluster 0.
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  const auto& row = parsed.fields().at("clusters").list_value().values(0).struct_value().fields();
  ASSERT_EQ(row.count("cluster"), 1u) << json;
  EXPECT_EQ(row.at("cluster").number_value(), 0);
  EXPECT_EQ(row.at("people").number_value(), 1);
  const auto& person = parsed.fields().at("persons").list_value().values(0).struct_value().fields();
  ASSERT_EQ(person.count("cluster"), 1u) << json;
  EXPECT_EQ(person.at("cluster").number_value(), 0);

  // An empty caseload says "people": 0 rather than nothing.
  v1::Caseload empty;
  empty.set_team_id("cmht-south");
  EXPECT_TRUE(absl::StrContains(cli::ToJson(empty), "\"people\": 0")) << cli::ToJson(empty);

  // The same for the other replies printed with --json: a schedule and a person on cluster 0.
  v1::Schedule s;
  s.set_person_id("p-1");
  s.set_cluster(0);
  EXPECT_TRUE(absl::StrContains(cli::ToJson(s), "\"cluster\": 0")) << cli::ToJson(s);
  v1::Person who;
  who.set_person_id("p-1");
  who.set_has_cluster(true);
  who.set_cluster(0);
  EXPECT_TRUE(absl::StrContains(cli::ToJson(who), "\"cluster\": 0")) << cli::ToJson(who);
  EXPECT_TRUE(absl::StrContains(cli::ToJson(who), "\"referralOpen\": false")) << cli::ToJson(who);
}

TEST(PbrctlRender, TableAlignsColumns) {
  cli::Table t({"name", "n"}, {false, true});
  t.AddRow({"a", "1"});
  t.AddRow({"long name", "100"});
  EXPECT_EQ(t.Render(), "name         n\na            1\nlong name  100\n");
}

TEST(PbrctlRpc, ParsesDurations) {
  EXPECT_EQ(cli::ParseCliDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(cli::ParseCliDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(cli::ParseCliDuration("2"), absl::Seconds(2));
  EXPECT_EQ(cli::ParseCliDuration("0s"), std::nullopt);
  EXPECT_EQ(cli::ParseCliDuration("soon"), std::nullopt);
  EXPECT_EQ(cli::ParseCliDuration("inf"), std::nullopt);
}

TEST(PbrctlRpc, UnreachableErrorsNameTheAddress) {
  const grpc::Status status(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses");
  EXPECT_EQ(cli::DescribeRpcError(status, {"reporting", "127.0.0.1:1"}),
            "UNAVAILABLE: reporting at 127.0.0.1:1: failed to connect to all addresses");
  EXPECT_EQ(cli::DescribeRpcError(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cluster: 9"), {"a", "b"}),
            "INVALID_ARGUMENT: cluster: 9");
}


// --- the review scheduler's commands ----------------------------------------------------------------

v1::CivilDate Date(int year, int month, int day) {
  v1::CivilDate d;
  d.set_year(year);
  d.set_month(month);
  d.set_day(day);
  return d;
}

google::protobuf::Timestamp At(int year, int month, int day, int hour, int minute) {
  google::protobuf::Timestamp t;
  t.set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, 0), absl::UTCTimeZone())));
  return t;
}

v1::ScheduledReview Review(const std::string& person, const std::string& team, int cluster, v1::CivilDate due,
                           int days_overdue) {
  v1::ScheduledReview r;
  r.set_person_id(person);
  r.set_team_id(team);
  r.set_cluster(cluster);
  *r.mutable_due_date() = due;
  r.set_state(days_overdue > 0 ? v1::REVIEW_STATE_OVERDUE : v1::REVIEW_STATE_DUE);
  r.set_days_overdue(days_overdue);
  return r;
}

v1::Schedule ScheduleWithTriggers() {
  v1::Schedule s;
  s.set_person_id("p-1");
  s.set_team_id("crht-north");
  s.set_service_area("crht");
  s.set_cluster(0);
  s.set_state(v1::REVIEW_STATE_DUE);
  *s.mutable_latest_mhct_date() = Date(2025, 8, 31);
  *s.mutable_window_opens() = Date(2026, 2, 18);
  *s.mutable_due_date() = Date(2026, 2, 28);
  s.set_review_policy("sop");
  s.set_rule_version("review-periods-2026.1");
  auto* met = s.add_triggers();
  met->set_kind(v1::REVIEW_TRIGGER_OUT_OF_HOURS_REFERRAL);
  *met->mutable_occurred_at() = At(2026, 1, 3, 21, 15);
  *met->mutable_window_opens() = At(2026, 1, 3, 21, 15);
  *met->mutable_deadline() = At(2026, 1, 6, 21, 15);
  met->set_outcome(v1::TRIGGER_OUTCOME_MET);
  met->set_met_by_assessment_id("a-42");
  auto* pending = s.add_triggers();
  pending->set_kind(v1::REVIEW_TRIGGER_DISCHARGE_REVIEW);
  *pending->mutable_occurred_at() = At(2026, 2, 20, 9, 0);
  *pending->mutable_window_opens() = At(2026, 2, 20, 9, 0);
  *pending->mutable_deadline() = At(2026, 2, 21, 9, 0);
  pending->set_outcome(v1::TRIGGER_OUTCOME_PENDING);
  return s;
}

TEST(PbrctlRender, ScheduleShowsPolicyAreaAndTriggers) {
  const std::string text = cli::RenderSchedule(ScheduleWithTriggers());
  for (const char* cell : {"service area   crht\n", "cluster        0\n", "review         due\n",
                           "due            2026-02-28 (on time that day, overdue from the next)\n",
                           "review policy  sop (the trust SOP's review periods)\n",
                           "out-of-hours referral (KPI 10)", "2026-01-03 21:15 to 2026-01-06 21:15", "a-42",
                           "discharge review (KPI 12)", "pending"}) {
    EXPECT_TRUE(absl::StrContains(text, cell)) << cell << "\n" << text;
  }
  EXPECT_LT(text.find("KPI 10"), text.find("KPI 12")) << "kept oldest first, as the server sent them\n" << text;
  v1::Schedule plain = ScheduleWithTriggers();
  plain.clear_triggers();
  plain.set_review_policy("national");
  const std::string none = cli::RenderSchedule(plain);
  EXPECT_TRUE(absl::StrContains(none, "event-triggered reviews: none\n")) << none;
  EXPECT_TRUE(absl::StrContains(none, "national (the national review periods)")) << none;
}

TEST(PbrctlRender, EveryTriggerKindInWordsWithItsKpi) {
  EXPECT_EQ(cli::TriggerKindName(v1::REVIEW_TRIGGER_IN_HOURS_REFERRAL), "in-hours referral (KPI 9)");
  EXPECT_EQ(cli::TriggerKindName(v1::REVIEW_TRIGGER_OUT_OF_HOURS_REFERRAL), "out-of-hours referral (KPI 10)");
  EXPECT_EQ(cli::TriggerKindName(v1::REVIEW_TRIGGER_DISCHARGE_REVIEW), "discharge review (KPI 12)");
  EXPECT_EQ(cli::TriggerKindName(v1::REVIEW_TRIGGER_INPATIENT_ADMISSION),
            "inpatient admission, not yet allocated (KPI 4)");
  // A kind a newer server sends is shown by number rather than dropped.
  EXPECT_EQ(cli::TriggerKindName(static_cast<v1::ReviewTriggerKind>(17)), "trigger 17");
}

TEST(PbrctlRender, OverdueTableOldestFirst) {
  v1::ListOverdueReply reply;
  *reply.mutable_as_of() = Date(2026, 3, 10);
  *reply.add_reviews() = Review("p-1", "cmht-north", 0, Date(2025, 12, 1), 99);
  *reply.add_reviews() = Review("p-22", "eip-south", 11, Date(2026, 3, 9), 1);
  EXPECT_EQ(cli::RenderOverdue(reply),
            "2 review(s) overdue on 2026-03-10, oldest due date first\n"
            "\n"
            "person  team        cluster  due         days overdue\n"
            "p-1     cmht-north        0  2025-12-01            99\n"
            "p-22    eip-south        11  2026-03-09             1\n");
  reply.clear_reviews();
  EXPECT_EQ(cli::RenderOverdue(reply), "0 review(s) overdue on 2026-03-10, oldest due date first\n");
}

TEST(PbrctlRender, DueTableSaysEachReviewsStateToday) {
  v1::ListDueReply reply;
  *reply.add_reviews() = Review("p-1", "cmht-north", 4, Date(2026, 3, 8), 2);
  *reply.add_reviews() = Review("p-2", "cmht-north", 7, Date(2026, 3, 12), 0);
  const std::string text = cli::RenderDue(reply, "2026-03-01", "2026-03-31");
  EXPECT_TRUE(absl::StartsWith(text, "2 review(s) due from 2026-03-01 to 2026-03-31, earliest first\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "overdue (2 day(s))")) << text;
  EXPECT_TRUE(absl::StrContains(text, "2026-03-12  due\n")) << text;
  EXPECT_LT(text.find("p-1"), text.find("p-2")) << text;
}

TEST(PbrctlRender, OverdueCountsPerTeamAndClusterWithTotal) {
  v1::CountOverdueReply reply;
  for (const auto& [team, cluster, n] : {std::tuple{"cmht-north", 0, 2}, std::tuple{"cmht-north", 4, 5},
                                         std::tuple{"eip-south", 11, 1}}) {
    auto* c = reply.add_counts();
    c->set_team_id(team);
    c->set_cluster(cluster);
    c->set_overdue(n);
    reply.set_total(reply.total() + n);
  }
  *reply.mutable_as_of() = Date(2026, 3, 10);
  *reply.mutable_oldest_due_date() = Date(2025, 11, 2);
  const std::string text = cli::RenderOverdueCount(reply);
  EXPECT_TRUE(absl::StartsWith(text, "8 review(s) overdue on 2026-03-10, the oldest due 2025-11-02\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "cmht-north        0        2\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "total                      8\n")) << text;
  // Before the scheduler's first timer pass there is no day the counts hold for.
  const std::string empty = cli::RenderOverdueCount({});
  EXPECT_EQ(empty, "0 review(s) overdue (the scheduler has made no timer pass yet)\n");
}

TEST(PbrctlJsonOutput, SchedulerRepliesPrintZerosAndFalse) {
  v1::Schedule s = ScheduleWithTriggers();
  const std::string schedule = cli::ToJson(s);
  for (const char* field : {"\"cluster\": 0", "\"reviewPolicy\": \"sop\"", "\"serviceArea\": \"crht\"",
                            "\"kind\": \"REVIEW_TRIGGER_DISCHARGE_REVIEW\"", "\"metByAssessmentId\": \"\"",
                            "\"outcome\": \"TRIGGER_OUTCOME_PENDING\""}) {
    EXPECT_TRUE(absl::StrContains(schedule, field)) << field << " missing from\n" << schedule;
  }
  v1::ListOverdueReply overdue;
  *overdue.add_reviews() = Review("p-1", "cmht-north", 0, Date(2026, 3, 9), 0);
  const std::string list = cli::ToJson(overdue);
  for (const char* field : {"\"cluster\": 0", "\"daysOverdue\": 0", "\"nextPageToken\": \"\""}) {
    EXPECT_TRUE(absl::StrContains(list, field)) << field << " missing from\n" << list;
  }
  const std::string counts = cli::ToJson(v1::CountOverdueReply{});
  EXPECT_TRUE(absl::StrContains(counts, "\"total\": \"0\"")) << counts;  // int64 is a string in proto JSON
}

// The review scheduler's calls over a fixed list of reviews: a page token is a position in the list.
// Every request is kept, so a test sees what the command asked for.
class FakeScheduler final : public v1::ReviewScheduler::Service {
 public:
  std::vector<v1::ScheduledReview> reviews;
  v1::CivilDate today = Date(2026, 3, 10);
  bool repeat_token = false;                 // a broken server: the same next_page_token every time
  grpc::Status failure = grpc::Status::OK;   // when not OK, every call's answer
  v1::CountOverdueReply counts;
  v1::Schedule schedule;                     // GetSchedule's answer for its person_id

  grpc::Status GetSchedule(grpc::ServerContext*, const v1::GetScheduleRequest* request,
                           v1::Schedule* reply) override {
    if (request->person_id() != schedule.person_id()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no review is scheduled for the person");
    }
    *reply = schedule;
    return grpc::Status::OK;
  }
  grpc::Status ListOverdue(grpc::ServerContext*, const v1::ListOverdueRequest* request,
                           v1::ListOverdueReply* reply) override {
    std::lock_guard<std::mutex> lock(mu_);
    overdue_requests_.push_back(*request);
    if (!failure.ok()) return failure;
    *reply->mutable_as_of() = request->has_as_of() ? request->as_of() : today;
    return Page(request->page_size(), request->page_token(), reply);
  }
  grpc::Status ListDue(grpc::ServerContext*, const v1::ListDueRequest* request, v1::ListDueReply* reply) override {
    std::lock_guard<std::mutex> lock(mu_);
    due_requests_.push_back(*request);
    if (!failure.ok()) return failure;
    return Page(request->page_size(), request->page_token(), reply);
  }
  grpc::Status CountOverdue(grpc::ServerContext*, const v1::CountOverdueRequest* request,
                            v1::CountOverdueReply* reply) override {
    std::lock_guard<std::mutex> lock(mu_);
    count_requests_.push_back(*request);
    if (!failure.ok()) return failure;
    *reply = counts;
    return grpc::Status::OK;
  }

  std::vector<v1::ListOverdueRequest> overdue_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return overdue_requests_;
  }
  std::vector<v1::ListDueRequest> due_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return due_requests_;
  }
  std::vector<v1::CountOverdueRequest> count_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_requests_;
  }

 private:
  template <typename Reply>
  grpc::Status Page(int page_size, const std::string& token, Reply* reply) {
    size_t start = 0;
    if (!token.empty() && !absl::SimpleAtoi(token, &start)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token: not a token this query returned");
    }
    const size_t size = page_size == 0 ? 100 : static_cast<size_t>(page_size);
    for (size_t i = start; i < reviews.size() && i < start + size; ++i) *reply->add_reviews() = reviews[i];
    if (start + size < reviews.size()) reply->set_next_page_token(repeat_token ? "1" : absl::StrCat(start + size));
    return grpc::Status::OK;
  }

  std::mutex mu_;
  std::vector<v1::ListOverdueRequest> overdue_requests_;
  std::vector<v1::ListDueRequest> due_requests_;
  std::vector<v1::CountOverdueRequest> count_requests_;
};

// What a command printed and returned.
struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs a command in this process with std::cout and std::cerr captured.
Ran Capture(const std::function<int()>& command) {
  std::ostringstream out, err;
  std::streambuf* const saved_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* const saved_err = std::cerr.rdbuf(err.rdbuf());
  Ran ran;
  ran.code = command();
  std::cout.rdbuf(saved_out);
  std::cerr.rdbuf(saved_err);
  ran.out = out.str();
  ran.err = err.str();
  return ran;
}

// Runs the real pbrctl with `args`; `out` is its stdout and stderr together.
Ran RunPbrctl(const std::string& args) {
  Ran ran;
  FILE* pipe = popen((std::string(PBRCTL_BINARY) + " " + args + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return ran;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) ran.out.append(buffer, n);
  const int status = pclose(pipe);
  ran.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

std::vector<std::string> RowsWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, prefix)) rows.emplace_back(line);
  }
  return rows;
}

class PbrctlSchedulerCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5; ++i) {
      // Oldest due date first, as the scheduler answers.
      fake_.reviews.push_back(Review(absl::StrCat("p-", i), "cmht-north", i == 0 ? 0 : 4, Date(2026, 2, 1 + i), 37 - i));
    }
    server_ = testing::TestServer::Start({&fake_}, nullptr);
    ASSERT_NE(server_, nullptr);
    rpc_.scheduler = server_->address();
  }

  FakeScheduler fake_;
  std::unique_ptr<testing::TestServer> server_;
  cli::RpcOptions rpc_;
};

TEST_F(PbrctlSchedulerCommands, OverdueSendsTheFiltersAndPrintsOnePageWithTheNextToken) {
  cli::OverdueOptions options;
  options.team_id = "cmht-north";
  options.service_area = "community";
  options.cluster = 0;  // cluster 0 is a filter too, not "no filter"
  options.as_of = "2026-03-10";
  options.pages.page_size = 2;
  const Ran ran = Capture([&] { return cli::RunOverdue(rpc_, options, {}); });
  ASSERT_EQ(ran.code, cli::kExitOk) << ran.err;
  EXPECT_EQ(RowsWith(ran.out, "p-").size(), 2u) << ran.out;
  EXPECT_TRUE(absl::StrContains(ran.out, "(more on the next page)")) << ran.out;
  EXPECT_TRUE(absl::StrContains(ran.out, "more: add --page-token=2 for the next page, or --all")) << ran.out;
  const auto requests = fake_.overdue_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].team_id(), "cmht-north");
  EXPECT_EQ(requests[0].service_area(), "community");
  EXPECT_TRUE(requests[0].has_cluster());
  EXPECT_EQ(requests[0].cluster(), 0);
  EXPECT_EQ(requests[0].as_of().SerializeAsString(), Date(2026, 3, 10).SerializeAsString());
  EXPECT_EQ(requests[0].page_size(), 2);

  // The next page from its token.
  options.pages.page_token = "2";
  const Ran next = Capture([&] { return cli::RunOverdue(rpc_, options, {}); });
  ASSERT_EQ(next.code, cli::kExitOk) << next.err;
  const std::vector<std::string> rows = RowsWith(next.out, "p-");
  ASSERT_EQ(rows.size(), 2u) << next.out;
  EXPECT_TRUE(absl::StartsWith(rows[0], "p-2 ")) << next.out;
  EXPECT_TRUE(absl::StartsWith(rows[1], "p-3 ")) << next.out;
}

TEST_F(PbrctlSchedulerCommands, OverdueWithoutFiltersSendsNone) {
  const Ran ran = Capture([&] { return cli::RunOverdue(rpc_, {}, {}); });
  ASSERT_EQ(ran.code, cli::kExitOk) << ran.err;
  const auto requests = fake_.overdue_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].has_cluster());
  EXPECT_FALSE(requests[0].has_as_of());
  EXPECT_TRUE(requests[0].team_id().empty());
  EXPECT_FALSE(absl::StrContains(ran.out, "more:")) << ran.out;
  EXPECT_EQ(RowsWith(ran.out, "p-").size(), fake_.reviews.size()) << ran.out;
}

TEST_F(PbrctlSchedulerCommands, OverdueAllFollowsEveryPageOnTheFirstPagesDay) {
  cli::OverdueOptions options;
  options.pages.page_size = 2;
  options.pages.all = true;
  const Ran ran = Capture([&] { return cli::RunOverdue(rpc_, options, {.json = true}); });
  ASSERT_EQ(ran.code, cli::kExitOk) << ran.err;
  v1::ListOverdueReply merged;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ran.out, &merged).ok()) << ran.out;
  ASSERT_EQ(merged.reviews_size(), static_cast<int>(fake_.reviews.size()));
  for (int i = 0; i < merged.reviews_size(); ++i) EXPECT_EQ(merged.reviews(i).person_id(), fake_.reviews[i].person_id());
  EXPECT_TRUE(merged.next_page_token().empty());
  EXPECT_EQ(merged.as_of().SerializeAsString(), fake_.today.SerializeAsString());
  const auto requests = fake_.overdue_requests();
  ASSERT_EQ(requests.size(), 3u);  // 2 + 2 + 1
  EXPECT_FALSE(requests[0].has_as_of());
  for (size_t i = 1; i < requests.size(); ++i) {
    // Later pages are asked for on the day the first page was judged on.
    EXPECT_EQ(requests[i].as_of().SerializeAsString(), fake_.today.SerializeAsString()) << i;
    EXPECT_EQ(requests[i].page_token(), absl::StrCat(2 * i)) << i;
  }
  EXPECT_TRUE(ran.err.empty()) << "no progress for a few pages: " << ran.err;
}

TEST_F(PbrctlSchedulerCommands, OverdueAllShowsProgressAndStopsAtItsBound) {
  fake_.reviews.clear();
  for (int i = 0; i < 40; ++i) fake_.reviews.push_back(Review(absl::StrCat("p-", 100 + i), "t", 4, Date(2026, 1, 1), 68));
  cli::OverdueOptions options;
  options.pages.page_size = 1;
  options.pages.all = true;
  options.pages.max_items = 25;
  const Ran ran = Capture([&] { return cli::RunOverdue(rpc_, options, {}); });
  EXPECT_EQ(ran.code, cli::kExitFailed);
  EXPECT_EQ(RowsWith(ran.out, "p-").size(), 25u) << "what was gathered is still printed\n" << ran.out;
  EXPECT_TRUE(absl::StrContains(ran.err, "10 pages, 10 reviews so far")) << ran.err;
  EXPECT_TRUE(absl::StrContains(ran.err, "20 pages, 20 reviews so far")) << ran.err;
  EXPECT_TRUE(absl::StrContains(ran.err, "--all stopped after 25 reviews")) << ran.err;
  EXPECT_TRUE(absl::StrContains(ran.err, "--page-token=25")) << ran.err;
  EXPECT_EQ(fake_.overdue_requests().size(), 25u);
}

TEST_F(PbrctlSchedulerCommands, ABrokenServerRepeatingItsTokenEndsTheListing) {
  fake_.repeat_token = true;
  cli::OverdueOptions options;
  options.pages.page_size = 1;
  options.pages.all = true;
  const Ran ran = Capture([&] { return cli::RunOverdue(rpc_, options, {}); });
  EXPECT_EQ(ran.code, cli::kExitFailed);
  EXPECT_TRUE(absl::StrContains(ran.err, "the same page token twice")) << ran.err;
  EXPECT_EQ(fake_.overdue_requests().size(), 2u);
}

TEST_F(PbrctlSchedulerCommands, ServerRefusalsArePassedOnWithExitOne) {
  fake_.failure = grpc::Status(grpc::StatusCode::NOT_FOUND, "team_id: \"nobody\" is not a team");
  cli::OverdueOptions options;
  options.team_id = "nobody";
  const Ran overdue = Capture([&] { return cli::RunOverdue(rpc_, options, {}); });
  EXPECT_EQ(overdue.code, cli::kExitFailed);
  EXPECT_EQ(overdue.err, "error: NOT_FOUND: team_id: \"nobody\" is not a team\n");
  EXPECT_TRUE(overdue.out.empty()) << overdue.out;
  const Ran count = Capture([&] { return cli::RunOverdueCount(rpc_, "nobody", {}); });
  EXPECT_EQ(count.code, cli::kExitFailed);
  EXPECT_TRUE(absl::StrContains(count.err, "NOT_FOUND")) << count.err;
}

TEST_F(PbrctlSchedulerCommands, OverdueRefusesBadFlagValuesBeforeCalling) {
  cli::OverdueOptions bad_cluster;
  bad_cluster.cluster = 9;
  const Ran cluster = Capture([&] { return cli::RunOverdue(rpc_, bad_cluster, {}); });
  EXPECT_EQ(cluster.code, cli::kExitBadInput);
  EXPECT_EQ(cluster.err, "error: --cluster: 9 is not a care cluster (0-21, not 9)\n");
  cli::OverdueOptions bad_day;
  bad_day.as_of = "2026-02-30";
  const Ran day = Capture([&] { return cli::RunOverdue(rpc_, bad_day, {}); });
  EXPECT_EQ(day.code, cli::kExitBadInput);
  EXPECT_TRUE(absl::StrContains(day.err, "--as-of: \"2026-02-30\" is not a date")) << day.err;
  EXPECT_TRUE(fake_.overdue_requests().empty());
}

TEST_F(PbrctlSchedulerCommands, DueSendsTheRangeAndChecksIt) {
  cli::DueOptions options;
  options.from = "2026-02-01";
  options.to = "2026-02-28";
  options.team_id = "cmht-north";
  const Ran ran = Capture([&] { return cli::RunDue(rpc_, options, {}); });
  ASSERT_EQ(ran.code, cli::kExitOk) << ran.err;
  EXPECT_TRUE(absl::StartsWith(ran.out, "5 review(s) due from 2026-02-01 to 2026-02-28")) << ran.out;
  const auto requests = fake_.due_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].from().SerializeAsString(), Date(2026, 2, 1).SerializeAsString());
  EXPECT_EQ(requests[0].to().SerializeAsString(), Date(2026, 2, 28).SerializeAsString());
  EXPECT_EQ(requests[0].team_id(), "cmht-north");

  cli::DueOptions backwards = options;
  backwards.to = "2026-01-31";
  const Ran refused = Capture([&] { return cli::RunDue(rpc_, backwards, {}); });
  EXPECT_EQ(refused.code, cli::kExitBadInput);
  EXPECT_EQ(refused.err, "error: --to: 2026-01-31 is before --from 2026-02-01\n");
  cli::DueOptions not_a_day = options;
  not_a_day.from = "1 Feb";
  const Ran bad = Capture([&] { return cli::RunDue(rpc_, not_a_day, {}); });
  EXPECT_EQ(bad.code, cli::kExitBadInput);
  EXPECT_TRUE(absl::StrContains(bad.err, "--from")) << bad.err;
  EXPECT_EQ(fake_.due_requests().size(), 1u);
}

TEST_F(PbrctlSchedulerCommands, OverdueCountForOneTeam) {
  auto* c = fake_.counts.add_counts();
  c->set_team_id("cmht-north");
  c->set_cluster(4);
  c->set_overdue(3);
  fake_.counts.set_total(3);
  *fake_.counts.mutable_as_of() = fake_.today;
  const Ran ran = Capture([&] { return cli::RunOverdueCount(rpc_, "cmht-north", {}); });
  ASSERT_EQ(ran.code, cli::kExitOk) << ran.err;
  EXPECT_TRUE(absl::StartsWith(ran.out, "3 review(s) overdue on 2026-03-10\n")) << ran.out;
  const auto requests = fake_.count_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].team_id(), "cmht-north");
}

// The program itself: its flags reach the call, and a bad value is refused naming the flag.
TEST_F(PbrctlSchedulerCommands, ProgramFlags) {
  const std::string scheduler = "--scheduler=" + server_->address();
  const Ran listed = RunPbrctl(scheduler + " overdue --team cmht-north --cluster 0 --as-of 2026-03-10 --page-size 2 --all");
  ASSERT_EQ(listed.code, 0) << listed.out;
  EXPECT_EQ(RowsWith(listed.out, "p-").size(), fake_.reviews.size()) << listed.out;
  const auto requests = fake_.overdue_requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_TRUE(requests[0].has_cluster());
  EXPECT_EQ(requests[0].team_id(), "cmht-north");

  const Ran due = RunPbrctl(scheduler + " due --from 2026-02-01 --to 2026-02-28 --json");
  ASSERT_EQ(due.code, 0) << due.out;
  EXPECT_TRUE(absl::StrContains(due.out, "\"daysOverdue\": 37")) << due.out;
  fake_.schedule = ScheduleWithTriggers();
  const Ran schedule = RunPbrctl(scheduler + " schedule p-1");
  ASSERT_EQ(schedule.code, 0) << schedule.out;
  EXPECT_TRUE(absl::StrContains(schedule.out, "out-of-hours referral (KPI 10)")) << schedule.out;
  EXPECT_EQ(RunPbrctl(scheduler + " schedule p-unknown").code, cli::kExitFailed);
  const Ran count = RunPbrctl(scheduler + " overdue-count --team cmht-north");
  EXPECT_EQ(count.code, 0) << count.out;
  ASSERT_EQ(fake_.count_requests().size(), 1u);

  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"overdue --cluster 9", "--cluster: 9 is not a care cluster"},
           {"overdue --cluster 22", "--cluster: 22 is not a care cluster"},
           {"overdue --as-of 2026-13-01", "--as-of"},
           {"overdue --page-size 1001", "--page-size"},
           {"due --from 2026-02-01", "--to is required"},
           {"due --from 2026-02-01 --to yesterday", "--to"}}) {
    const Ran bad = RunPbrctl(scheduler + " " + args);
    EXPECT_EQ(bad.code, cli::kExitBadInput) << args << "\n" << bad.out;
    EXPECT_TRUE(absl::StrContains(bad.out, flag)) << args << "\n" << bad.out;
  }
  EXPECT_EQ(fake_.overdue_requests().size(), 3u) << "a refused flag calls nothing";
  EXPECT_EQ(fake_.due_requests().size(), 1u);
}

TEST(PbrctlRender, NationalMeasuresPerClusterWithAllAndSuppressedFigures) {
  v1::NationalMeasures n;
  n.mutable_scope()->set_kind(v1::REPORT_SCOPE_TEAM);
  n.mutable_scope()->set_id("cmht-north");
  n.mutable_period_end()->set_year(2026);
  n.mutable_period_end()->set_month(3);
  n.mutable_period_end()->set_day(31);
  n.set_rule_version("review-periods-test");
  auto* c0 = n.add_clusters();
  c0->set_cluster(0);  // cluster 0 is a real row
  c0->set_acc33(8);
  c0->set_acc36(6);
  c0->set_acc37(75);
  auto* c4 = n.add_clusters();
  c4->set_cluster(4);
  c4->set_acc33_suppressed(true);
  c4->set_acc36_suppressed(true);
  c4->set_acc37_suppressed(true);
  n.mutable_all()->set_acc33(10);
  n.mutable_all()->set_acc36(5);
  n.mutable_all()->set_acc37(100.0 * 2 / 3);
  const std::string plain = cli::RenderNationalMeasures(n);
  EXPECT_TRUE(absl::StrContains(plain, "team cmht-north at 2026-03-31, the month end (review-periods-test)")) << plain;
  EXPECT_FALSE(absl::StrContains(plain, "as published")) << plain;
  const auto zero = RowsWith(plain, "      0");
  ASSERT_EQ(zero.size(), 1u) << plain;
  EXPECT_TRUE(absl::StrContains(zero[0], "75.0")) << plain;
  const auto four = RowsWith(plain, "      4");
  ASSERT_EQ(four.size(), 1u) << plain;
  EXPECT_EQ(std::count(four[0].begin(), four[0].end(), '*'), 3) << plain;
  const auto all = RowsWith(plain, "    all");
  ASSERT_EQ(all.size(), 1u) << plain;
  EXPECT_TRUE(absl::StrContains(all[0], "66.7")) << plain;
  n.set_publication_rounding(true);
  EXPECT_TRUE(absl::StrContains(cli::RenderNationalMeasures(n), "counts under 5 suppressed (*)"));
}

TEST(PbrctlFlags, NationalScopeAndMonth) {
  const auto trust = cli::ParseScopeFlag("trust");
  ASSERT_TRUE(trust.has_value());
  EXPECT_EQ(trust->kind(), v1::REPORT_SCOPE_TRUST);
  EXPECT_TRUE(trust->id().empty());
  for (const auto& [text, kind, id] : std::vector<std::tuple<std::string, v1::ReportScopeKind, std::string>>{
           {"team:cmht-north", v1::REPORT_SCOPE_TEAM, "cmht-north"},
           {"area:crht", v1::REPORT_SCOPE_SERVICE_AREA, "crht"},
           {"commissioner:00X", v1::REPORT_SCOPE_COMMISSIONER, "00X"}}) {
    const auto scope = cli::ParseScopeFlag(text);
    ASSERT_TRUE(scope.has_value()) << text;
    EXPECT_EQ(scope->kind(), kind) << text;
    EXPECT_EQ(scope->id(), id) << text;
  }
  for (const char* bad : {"", "trust:x", "team", "team:", "ward:1", "Trust"}) {
    EXPECT_FALSE(cli::ParseScopeFlag(bad).has_value()) << bad;
  }
  EXPECT_EQ(cli::ParseMonthFlag("2026-03"), absl::CivilMonth(2026, 3));
  for (const char* bad : {"2026", "2026-13", "2026-3", "2026-03-01", "March"}) {
    EXPECT_FALSE(cli::ParseMonthFlag(bad).has_value()) << bad;
  }
  // Refused where parsed, naming the flag, before any call (no reporting service is running here).
  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"national --scope ward:1 --month 2026-03", "--scope"},
           {"national --scope trust --month 2026-3", "--month"},
           {"national --month 2026-03", "--scope is required"}}) {
    const Ran bad = RunPbrctl(args);
    EXPECT_EQ(bad.code, cli::kExitBadInput) << args << "\n" << bad.out;
    EXPECT_TRUE(absl::StrContains(bad.out, flag)) << args << "\n" << bad.out;
  }
}

// A Finance service that answers one export: its CSV in chunks, then the totals (or a refusal, or a stream that
// breaks off before its totals).
class FakeFinance final : public v1::Finance::Service {
 public:
  std::vector<std::string> chunks = {"sequence,kind\r\n", "1,original\r\n", "2,reversal\r\n"};
  grpc::Status failure = grpc::Status::OK;
  bool totals = true;
  v1::ExportTariffRequest asked;

  grpc::Status ExportTariff(grpc::ServerContext*, const v1::ExportTariffRequest* request,
                            grpc::ServerWriter<v1::TariffExportChunk>* writer) override {
    asked = *request;
    if (!failure.ok()) return failure;
    for (const std::string& c : chunks) {
      v1::TariffExportChunk chunk;
      chunk.set_csv(c);
      writer->Write(chunk);
    }
    if (totals) {
      v1::TariffExportChunk last;
      last.mutable_totals()->set_lines(2);
      last.mutable_totals()->set_days(3);
      last.mutable_totals()->set_amount_pence(5520);
      last.mutable_totals()->set_unpriced_lines(1);
      last.mutable_totals()->set_unpriced_days(4);
      writer->Write(last);
    }
    return grpc::Status::OK;
  }
};

// Temporary export files left in `dir`.
int Partials(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += absl::StrContains(e.path().string(), ".partial");
  return n;
}

TEST(PbrctlTariffExport, WritesTheWholeFileThenPrintsTheTotalsAndLeavesNothingWhenItFails) {
  FakeFinance fake;
  auto server = testing::TestServer::Start({&fake}, nullptr);
  ASSERT_NE(server, nullptr);
  testing::TempDir dir;
  const std::string file = dir.path() + "/00X-2026-10.csv";
  const std::string reporting = "--reporting=" + server->address();

  const Ran ok = RunPbrctl(reporting + " tariff-export --commissioner 00X --month 2026-10 --out " + file);
  ASSERT_EQ(ok.code, cli::kExitOk) << ok.out;
  EXPECT_EQ(fake.asked.commissioner_id(), "00X");
  EXPECT_EQ(fake.asked.year(), 2026);
  EXPECT_EQ(fake.asked.month(), 10);
  EXPECT_EQ(ReadFile(file), "sequence,kind\r\n1,original\r\n2,reversal\r\n");
  EXPECT_TRUE(absl::StrContains(ok.out, "amount 55.20")) << ok.out;
  EXPECT_TRUE(absl::StrContains(ok.out, "NOT PRICED: 1 lines (4 net days)")) << ok.out;
  EXPECT_EQ(Partials(dir.path()), 0);

  // A refusal (the month not closed) leaves the earlier file as it was and no partial file.
  fake.failure = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "month: 2026-11 is not closed yet");
  const Ran refused = RunPbrctl(reporting + " tariff-export --commissioner 00X --month 2026-11 --out " + file);
  EXPECT_EQ(refused.code, cli::kExitFailed);
  EXPECT_TRUE(absl::StrContains(refused.out, "not closed yet")) << refused.out;
  EXPECT_EQ(ReadFile(file), "sequence,kind\r\n1,original\r\n2,reversal\r\n");
  EXPECT_EQ(Partials(dir.path()), 0);

  // An export that ends without its totals is not a whole export: nothing is written.
  fake.failure = grpc::Status::OK;
  fake.totals = false;
  const std::string other = dir.path() + "/other.csv";
  const Ran cut = RunPbrctl(reporting + " tariff-export --commissioner 00X --month 2026-10 --out " + other);
  EXPECT_EQ(cut.code, cli::kExitFailed);
  EXPECT_TRUE(absl::StrContains(cut.out, "without its totals")) << cut.out;
  EXPECT_FALSE(std::filesystem::exists(other));
  EXPECT_EQ(Partials(dir.path()), 0);

  // Bad flags are refused before any call, naming the flag.
  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"tariff-export --commissioner 00X --month 2026-1 --out x.csv", "--month"},
           {"tariff-export --month 2026-10 --out x.csv", "--commissioner is required"},
           {"tariff-export --commissioner 00X --month 2026-10", "--out is required"}}) {
    const Ran bad = RunPbrctl(args);
    EXPECT_EQ(bad.code, cli::kExitBadInput) << args << "\n" << bad.out;
    EXPECT_TRUE(absl::StrContains(bad.out, flag)) << args << "\n" << bad.out;
  }
}

}  // namespace
}  // namespace pbr
