#pragma once
// What the system tests that enter a synthetic trust's history through allocation and check the services'
// answers against their own model of it share (outcomes_system_test.cc, reporting_system_test.cc,
// review_replay_system_test.cc): UK clinical times, the example trust's teams, the records an EPR sends and the
// requests that carry them to allocation, a refusal's report, the people entered in parallel, the order in which
// a person's facts open and close referral periods, and the fields that differ from the calculation. Each test
// keeps its own generator, its own model of what allocation accepted and its own checks.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "platform/events.h"
#include "platform_fixture.h"
#include "testing/local_platform.h"

namespace pbr::systemtest::history {

// ---- UK clinical times ----

inline absl::Time Local(absl::CivilDay d, int hour, int minute = 0, int second = 0) {
  return absl::FromCivil(absl::CivilSecond(d.year(), d.month(), d.day(), hour, minute, second), London());
}
inline absl::CivilDay UkDay(absl::Time t) { return absl::ToCivilDay(t, London()); }
// With the zone: GMT and BST read apart in a failure report.
inline std::string TimeText(absl::Time t) { return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", t, London()); }

// ---- the example trust's teams (rules/teams.yaml), by service ----

inline const std::vector<std::string> kCmhts = {"cmht-north", "cmht-south", "cmht-east"};
inline const std::vector<std::string> kEips = {"eip-north", "eip-central"};
inline const std::vector<std::string> kCrhts = {"crht-north", "crht-south", "crht-east"};
inline const std::vector<std::string> kWards = {"ward-north", "inpatient-ward-3"};
inline const std::vector<std::string> kMemory = {"memory-west", "memory-south"};

// ---- what the EPR sends ----

// The five kinds of record; each test's Action says what else its history carries.
enum class Act { kAssess, kAmend, kWithdrawAssessment, kCareEvent, kWithdrawCareEvent };

constexpr int kNotKnown = 9;  // an item rated 9: not known

// MHCT items 1-13 and A-E as the EPR sends them.
struct Ratings {
  std::array<int, 18> items{};
  char item8_type = 0;
};
// Item 8 carries a problem type when rated 1-4 (allocation refuses it otherwise).
inline void SetItem8Type(Ratings& r, char type) { r.item8_type = r.items[7] >= 1 && r.items[7] <= 4 ? type : 0; }

// One record as the EPR sends it: an assessment or its amendment (team, cluster, commissioner, ratings, reason,
// change class), a care event (team, type), or a withdrawal of either (the record and the reason only). A test
// whose history carries more extends it.
struct Record {
  Act act = Act::kAssess;
  std::string record_id;
  absl::Time at;
  std::string team;
  int cluster = 0;
  std::string commissioner;  // as sent: empty is the team's default
  Ratings ratings;
  pbr::v1::AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_INITIAL;
  pbr::v1::ChangeClass change = pbr::v1::CHANGE_CLASS_UNSPECIFIED;
  pbr::v1::CareEventType type = pbr::v1::CARE_EVENT_TYPE_UNSPECIFIED;
  std::string note;
};

// A withdrawal (Act::kWithdrawAssessment or Act::kWithdrawCareEvent) of the EPR's record `record_id`: the EPR
// sends only the record and the reason.
template <typename Action>
Action Withdrawal(Act act, const std::string& record_id, const std::string& note) {
  Action a;
  a.act = act;
  a.record_id = record_id;
  a.note = note;
  return a;
}

// The fields every test's EPR sends with an assessment or its amendment: the record, the person, who assessed
// when, the ratings, the cluster and why. Each test sets the rest its history uses (commissioner, contacts,
// admission, care co-ordinator, rationale). `Action` has record_id, team, at, cluster, reason and change.
template <typename Action>
pbr::v1::RecordAssessmentRequest AssessmentRequest(absl::string_view epr, const std::string& nhs,
                                                   const std::string& clinician, const Action& a,
                                                   const Ratings& ratings) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system(std::string(epr));
  r.set_source_record_id(a.record_id);
  r.set_nhs_number(nhs);
  r.set_team_id(a.team);
  r.set_clinician_id(clinician);
  *r.mutable_assessed_at() = platform::ToProto(a.at);
  for (int v : ratings.items) r.mutable_ratings()->add_items(v);
  if (ratings.item8_type != 0) r.mutable_ratings()->set_item8_problem_type(std::string(1, ratings.item8_type));
  r.set_cluster(a.cluster);
  r.set_reason(a.reason);
  if (a.reason != pbr::v1::ASSESSMENT_REASON_INITIAL) r.set_change_class(a.change);
  return r;
}

// A care event as the EPR sends it. `Action` has record_id, team, type and at; `out_of_hours` is said apart
// because not every test's history has referrals out of hours.
template <typename Action>
pbr::v1::RecordCareEventRequest CareEventRequest(absl::string_view epr, const std::string& nhs,
                                                 const std::string& clinician, const Action& a, bool out_of_hours) {
  pbr::v1::RecordCareEventRequest r;
  r.set_source_system(std::string(epr));
  r.set_source_record_id(a.record_id);
  r.set_nhs_number(nhs);
  r.set_team_id(a.team);
  r.set_clinician_id(clinician);
  r.set_type(a.type);
  *r.mutable_occurred_at() = platform::ToProto(a.at);
  r.set_out_of_hours(out_of_hours);
  return r;
}

// ---- sending it to allocation (one call, its own deadline) ----

// A new assessment (Act::kAssess) or an amendment of one (Act::kAmend).
inline grpc::Status SendAssessment(pbr::v1::Allocation::Stub& allocation, Act act,
                                   const pbr::v1::RecordAssessmentRequest& request,
                                   pbr::v1::RecordAssessmentReply* reply) {
  auto context = testing::CallContext();
  return act == Act::kAssess ? allocation.RecordAssessment(context.get(), request, reply)
                             : allocation.AmendAssessment(context.get(), request, reply);
}

inline grpc::Status SendCareEvent(pbr::v1::Allocation::Stub& allocation, const pbr::v1::RecordCareEventRequest& request,
                                  pbr::v1::RecordCareEventReply* reply) {
  return allocation.RecordCareEvent(testing::CallContext().get(), request, reply);
}

// The EPR withdraws its record `a.record_id`, giving `a.note` as the reason (the same for an assessment and a
// care event).
template <typename WithdrawRequest, typename Action>
WithdrawRequest WithdrawalRequest(absl::string_view epr, const Action& a) {
  WithdrawRequest request;
  request.set_source_system(std::string(epr));
  request.set_source_record_id(a.record_id);
  request.set_reason(a.note);
  return request;
}
template <typename Action>
grpc::Status WithdrawAssessment(pbr::v1::Allocation::Stub& allocation, absl::string_view epr, const Action& a,
                                pbr::v1::WithdrawAssessmentReply* reply) {
  return allocation.WithdrawAssessment(testing::CallContext().get(),
                                       WithdrawalRequest<pbr::v1::WithdrawAssessmentRequest>(epr, a), reply);
}
template <typename Action>
grpc::Status WithdrawCareEvent(pbr::v1::Allocation::Stub& allocation, absl::string_view epr, const Action& a,
                               pbr::v1::WithdrawCareEventReply* reply) {
  return allocation.WithdrawCareEvent(testing::CallContext().get(),
                                      WithdrawalRequest<pbr::v1::WithdrawCareEventRequest>(epr, a), reply);
}

// The platform's id of a model person (with `label` and `person_id`), from the first reply that names them;
// every later reply must name the same person.
template <typename Person>
void Know(Person& p, const std::string& person_id) {
  if (p.person_id.empty()) p.person_id = person_id;
  EXPECT_EQ(p.person_id, person_id) << p.label;
}

// Whether allocation accepted a record of a model person (with `label` and `history`, what was entered for
// them so far); a refusal fails the test, naming the person, the record and that history.
template <typename Person>
bool Accepted(const grpc::Status& st, const Person& p, const std::string& record) {
  if (st.ok()) return true;
  ADD_FAILURE() << p.label << ": allocation refused " << record << ": " << st.error_code() << " " << st.error_message()
                << "\n  " << absl::StrJoin(p.history, "\n  ");
  return false;
}

// How many records allocation took and refused.
struct Entered {
  int64_t accepted = 0, refused = 0;
};

// Every plan's records entered through `enter(person index, record)` (true: accepted): people in parallel on
// `threads` workers, each person's records in order, as an EPR's sessions would.
template <typename Plan, typename EnterOne>
Entered EnterInParallel(const std::vector<Plan>& plans, int threads, const EnterOne& enter) {
  std::atomic<int64_t> accepted{0}, refused{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      for (size_t i = static_cast<size_t>(w); i < plans.size(); i += static_cast<size_t>(threads)) {
        for (const auto& a : plans[i].actions()) {
          if (enter(i, a)) {
            ++accepted;
          } else {
            ++refused;
          }
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  return {accepted.load(), refused.load()};
}

// ---- the model's referral periods ----

// One live fact where it falls in a person's history. At one instant a referral received comes first, then the
// assessments, then a discharge from service (the ledger's order, written out again).
template <typename AssessmentFact, typename CareFact>
struct PeriodStep {
  absl::Time at;
  int rank;  // 0 referral received, 1 assessment, 2 discharge from service
  const AssessmentFact* a;
  const CareFact* e;
};

// The steps that open and close a person's referral periods, in order: the live assessments (`live`, in the
// test's order) and the referrals received and discharges from service among the live care events (`events`,
// likewise; the rest do not cut periods).
template <typename AssessmentFact, typename CareFact>
std::vector<PeriodStep<AssessmentFact, CareFact>> PeriodSteps(const std::vector<const AssessmentFact*>& live,
                                                              const std::vector<const CareFact*>& events) {
  std::vector<PeriodStep<AssessmentFact, CareFact>> steps;
  for (const AssessmentFact* a : live) steps.push_back({a->at, 1, a, nullptr});
  for (const CareFact* e : events) {
    if (e->type == pbr::v1::CARE_EVENT_REFERRAL_RECEIVED) steps.push_back({e->at, 0, nullptr, e});
    if (e->type == pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE) steps.push_back({e->at, 2, nullptr, e});
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const auto& x, const auto& y) { return std::tie(x.at, x.rank) < std::tie(y.at, y.rank); });
  return steps;
}

// ---- comparing ----

template <typename T>
std::string Show(const T& v) {
  std::ostringstream s;
  s << std::boolalpha << v;
  return s.str();
}
inline std::string Show(absl::Time t) { return TimeText(t); }

// The fields of one answer (a person's, a report's) that differ from the calculation, for one failure report.
class Diffs {
 public:
  template <typename T, typename U>
  void Eq(const std::string& field, const T& got, const U& want) {
    if (!(got == want)) list_.push_back(absl::StrCat(field, ": got ", Show(got), ", expected ", Show(want)));
  }
  void Near(const std::string& field, double got, double want) {
    if (std::fabs(got - want) > 1e-9) list_.push_back(absl::StrCat(field, ": got ", got, ", expected ", want));
  }
  void Note(std::string what) { list_.push_back(std::move(what)); }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  std::string Text(size_t max) const {
    std::vector<std::string> shown(list_.begin(), list_.begin() + static_cast<long>(std::min(max, list_.size())));
    if (list_.size() > max) shown.push_back(absl::StrCat("... and ", list_.size() - max, " more"));
    return absl::StrJoin(shown, "\n  ");
  }
  // The differing fields' names, to count them by kind.
  std::vector<std::string> fields() const {
    std::vector<std::string> out;
    for (const auto& d : list_) out.push_back(d.substr(0, d.find(':')));
    return out;
  }

 private:
  std::vector<std::string> list_;
};

}  // namespace pbr::systemtest::history
