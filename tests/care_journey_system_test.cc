// People followed through whole care journeys, end to end: the real broker and the four service
// binaries, fed through allocation's gRPC API as an EPR would, and after every step each service's
// answer checked once the services converge (allocation's person, referral periods and episodes; the
// review scheduler's schedule; outcomes' HoNOS history; reporting's caseloads).
//
// What each answer should be is worked out here from the trust SOP and the care-cluster rules
// (/work/shared/reference/care-cluster-rules.md sections 1, 3 and 7, README "A person's care: one
// shared ledger"): review due dates from the shipped review periods (care::RuleSet), transition
// options from SOP Table 12, service areas from SOP Tables 2 and 3.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "pbr/v1/reporting.grpc.pb.h"
#include "pbr/v1/review_scheduler.grpc.pb.h"
#include "platform_fixture.h"
#include "testing/local_platform.h"

namespace pbr {
namespace {

using systemtest::At;
using systemtest::SetDate;
using systemtest::HonosTotal;
using systemtest::kToday;
using systemtest::London;
using systemtest::Ratings;
using testing::NhsNumber;
constexpr absl::Duration kConverge = absl::Seconds(90);
constexpr char kEpr[] = "rio";

absl::CivilDay D(int y, int m, int d) { return absl::CivilDay(y, m, d); }
// A UK clock time on a clinical day.
absl::Time AtTime(absl::CivilDay d, int hour, int minute) {
  return absl::FromCivil(absl::CivilSecond(d.year(), d.month(), d.day(), hour, minute, 0), London());
}
google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}
absl::Time FromTs(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}
absl::CivilDay DayOf(const pbr::v1::CivilDate& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }
std::string Show(absl::Time t) { return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", t, London()); }

// Clusters each service area holds (SOP Tables 2 and 3, "rarely" included).
const std::map<std::string, std::set<int>>& AreaClusters() {
  static const auto* areas = new std::map<std::string, std::set<int>>{
      {"inpatient", {0, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 17, 20, 21}},
      {"community_non_psychosis", {0, 4, 5, 6, 7, 8}},
      {"community_psychosis", {10, 11, 12, 13, 14, 15, 16, 17}},
      {"crht", {0, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 17}},
  };
  return *areas;
}

// One MHCT assessment as an EPR sends it.
struct Mhct {
  std::string record_id;
  std::string nhs;
  std::string team;
  std::string area;  // the team's service area
  absl::Time at;     // the MHCT date and time
  int cluster = 0;
  int seed = 0;      // synthetic ratings
  pbr::v1::AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_INITIAL;
  pbr::v1::ChangeClass change = pbr::v1::CHANGE_CLASS_UNSPECIFIED;  // reviews: NO_CHANGE unless said
  std::optional<absl::Time> admitted_at;
};

pbr::v1::RecordAssessmentRequest ToRequest(const Mhct& m) {
  pbr::v1::RecordAssessmentRequest r;
  r.set_source_system(kEpr);
  r.set_source_record_id(m.record_id);
  r.set_nhs_number(m.nhs);
  r.set_team_id(m.team);
  r.set_clinician_id("clin-7");
  *r.mutable_assessed_at() = Ts(m.at);
  const std::vector<int> ratings = Ratings(m.seed);
  for (int v : ratings) r.mutable_ratings()->add_items(v);
  if (ratings[7] >= 1 && ratings[7] <= 4) r.mutable_ratings()->set_item8_problem_type("D");
  r.set_cluster(m.cluster);
  r.set_reason(m.reason);
  r.set_service_area(m.area);
  if (m.reason != pbr::v1::ASSESSMENT_REASON_INITIAL) {
    r.set_change_class(m.change == pbr::v1::CHANGE_CLASS_UNSPECIFIED ? pbr::v1::CHANGE_CLASS_NO_CHANGE : m.change);
  }
  if (m.admitted_at) *r.mutable_admitted_at() = Ts(*m.admitted_at);
  // Synthetic ratings may break the example red rules; a clinician records why, and so does this
  // test. (A rationale never lifts a referral-period refusal.)
  r.set_clinical_rationale("care journey system test: synthetic ratings");
  return r;
}

// What a person's review schedule and caseload entry rest on: the latest live assessment of their
// open referral period.
struct Basis {
  std::string assessment_id;
  std::string team;
  int cluster = 0;
  absl::CivilDay mhct;
  int honos = 0;
};

struct Outcome {
  std::string assessment_id;
  absl::Time at;
  int cluster = 0;
  int honos = 0;
};

// What the platform should know about one person, kept by the test as the journey goes.
struct Expected {
  std::string nhs;
  std::optional<Basis> basis;                 // none: no schedule and on no caseload
  std::optional<absl::CivilDay> discharged;   // the day of the last discharge, while discharged
  std::vector<Outcome> outcomes;              // every live assessment, oldest first
};

struct ExpectedEpisode {
  std::string episode_id;
  int cluster = 0;
  std::string team;
  absl::Time started_at;
  std::optional<absl::Time> ended_at;
  bool ended_by_discharge = false;
  std::string started_by;
  std::string referral_id;
};

struct ExpectedReferral {
  std::string referral_id;
  absl::Time opened_at;
  std::string opened_by;
  std::optional<absl::Time> closed_at;
  std::string closed_by;
};

struct ExpectedPerson {
  bool has_cluster = false;
  int cluster = 0;
  std::string team;        // checked while the person has a cluster
  std::string episode_id;
  std::optional<absl::Time> cluster_since;
  int assessments = 0;     // live assessments, every referral period
  bool referral_open = false;
  std::string referral_id;
  std::optional<absl::Time> referral_opened_at;
  std::optional<absl::Time> discharged_at;
};

class CareJourneyTest : public systemtest::PlatformFixture {
 protected:
  static std::unique_ptr<grpc::ClientContext> Context() { return testing::CallContext(); }

  void SetUp() override {
    systemtest::PlatformFixture::SetUp();
    if (HasFatalFailure()) return;
    allocation_ = Stub<pbr::v1::Allocation>("allocation", std::string("epr-feed:") + kEpr);
    clinician_ = Clinician();
    scheduler_ = Stub<pbr::v1::ReviewScheduler>("review-scheduler");
    outcomes_ = Stub<pbr::v1::Outcomes>("outcomes");
    reporting_ = Stub<pbr::v1::Reporting>("reporting");
  }

  // --- recording, like an EPR ---

  grpc::Status TryRecord(const Mhct& m, pbr::v1::RecordAssessmentReply* reply) {
    return allocation_->RecordAssessment(Context().get(), ToRequest(m), reply);
  }

  // Records an assessment that must be accepted; it becomes the person's review basis (every
  // journey here records in date order within a referral period).
  pbr::v1::RecordAssessmentReply Assess(const Mhct& m) {
    pbr::v1::RecordAssessmentReply reply;
    grpc::Status st = TryRecord(m, &reply);
    EXPECT_TRUE(st.ok()) << m.record_id << ": " << st.error_message();
    if (!st.ok()) return reply;
    EXPECT_FALSE(reply.duplicate());
    teams_.insert(m.team);
    live_by_team_[m.team]++;
    Expected& p = people_[reply.person_id()];
    p.nhs = m.nhs;
    p.basis = Basis{reply.assessment_id(), m.team, m.cluster, absl::ToCivilDay(m.at, London()),
                    HonosTotal(Ratings(m.seed))};
    p.discharged.reset();
    p.outcomes.push_back({reply.assessment_id(), m.at, m.cluster, HonosTotal(Ratings(m.seed))});
    std::sort(p.outcomes.begin(), p.outcomes.end(), [](const Outcome& a, const Outcome& b) { return a.at < b.at; });
    return reply;
  }

  grpc::Status TryCareEvent(const std::string& nhs, const std::string& record_id, const std::string& team,
                            pbr::v1::CareEventType type, absl::Time at, pbr::v1::RecordCareEventReply* reply,
                            bool out_of_hours = false) {
    pbr::v1::RecordCareEventRequest r;
    r.set_source_system(kEpr);
    r.set_source_record_id(record_id);
    r.set_nhs_number(nhs);
    r.set_team_id(team);
    r.set_clinician_id("clin-7");
    r.set_type(type);
    *r.mutable_occurred_at() = Ts(at);
    r.set_out_of_hours(out_of_hours);
    return allocation_->RecordCareEvent(Context().get(), r, reply);
  }

  pbr::v1::RecordCareEventReply CareEvent(const std::string& nhs, const std::string& record_id, const std::string& team,
                                          pbr::v1::CareEventType type, absl::Time at, bool out_of_hours = false) {
    pbr::v1::RecordCareEventReply reply;
    grpc::Status st = TryCareEvent(nhs, record_id, team, type, at, &reply, out_of_hours);
    EXPECT_TRUE(st.ok()) << record_id << ": " << st.error_message();
    if (st.ok()) {
      teams_.insert(team);
      people_[reply.person_id()].nhs = nhs;
    }
    return reply;
  }

  // A discharge from service: off every caseload, no review schedule (README: referral periods).
  pbr::v1::RecordCareEventReply Discharge(const std::string& nhs, const std::string& record_id,
                                          const std::string& team, absl::Time at) {
    auto reply = CareEvent(nhs, record_id, team, pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, at);
    if (reply.person_id().empty()) return reply;  // refused: said above
    Expected& p = people_[reply.person_id()];
    p.basis.reset();
    p.discharged = absl::ToCivilDay(at, London());
    return reply;
  }

  // --- what the answers of a recording should say ---

  // An initial allocation: ranked suggestions within the team's service area, never 1-3, and no
  // protocol options (SOP 4.6).
  static void ExpectInitialReply(const Mhct& m, const pbr::v1::RecordAssessmentReply& reply) {
    SCOPED_TRACE(m.record_id);
    EXPECT_TRUE(reply.protocol_options().empty()) << reply.DebugString();
    EXPECT_FALSE(reply.suggestions().empty()) << "an initial allocation is offered the tool's ranking";
    const std::set<int>& area = AreaClusters().at(m.area);
    for (const auto& s : reply.suggestions()) {
      EXPECT_TRUE(area.count(s.cluster())) << "cluster " << s.cluster() << " is not held by " << m.area;
      EXPECT_FALSE(s.cluster() >= 1 && s.cluster() <= 3) << "clusters 1-3 are not used in secondary care";
    }
    for (const auto& c : reply.checks()) EXPECT_NE(c.rule(), "transition-protocol") << c.DebugString();
  }

  // A review: the options SOP Table 12 gives for the change class, no ranking (SOP 4.6), and the
  // chosen cluster checked against them.
  static void ExpectReviewReply(const Mhct& m, const pbr::v1::RecordAssessmentReply& reply,
                                const std::vector<int>& sop_options) {
    SCOPED_TRACE(m.record_id);
    EXPECT_TRUE(reply.suggestions().empty()) << "the review tool uses no algorithm (SOP 4.6)";
    EXPECT_EQ(std::vector<int>(reply.protocol_options().begin(), reply.protocol_options().end()), sop_options)
        << reply.DebugString();
    const bool adherent = std::count(sop_options.begin(), sop_options.end(), m.cluster) > 0;
    int protocol_checks = 0;
    for (const auto& c : reply.checks()) {
      if (c.rule() != "transition-protocol") continue;
      ++protocol_checks;
      EXPECT_EQ(c.passed(), adherent) << c.DebugString();
    }
    EXPECT_EQ(protocol_checks, 1) << reply.DebugString();
  }

  // --- allocation's answers (synchronous: no waiting) ---

  pbr::v1::Person GetPerson(const std::string& nhs) {
    pbr::v1::GetPersonRequest req;
    req.set_nhs_number(nhs);
    pbr::v1::Person out;
    grpc::Status st = clinician_->GetPerson(Context().get(), req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  void ExpectPerson(const std::string& nhs, const ExpectedPerson& e) {
    const pbr::v1::Person got = GetPerson(nhs);
    SCOPED_TRACE(got.DebugString());
    EXPECT_EQ(got.has_cluster(), e.has_cluster);
    EXPECT_EQ(got.referral_open(), e.referral_open);
    EXPECT_EQ(got.referral_id(), e.referral_id);
    EXPECT_EQ(got.assessments(), e.assessments);
    if (e.has_cluster) {
      EXPECT_EQ(got.cluster(), e.cluster);
      EXPECT_EQ(got.team_id(), e.team);
      EXPECT_EQ(got.episode_id(), e.episode_id);
      ASSERT_TRUE(e.cluster_since.has_value());
      EXPECT_EQ(FromTs(got.cluster_since()), *e.cluster_since)
          << Show(FromTs(got.cluster_since())) << " vs " << Show(*e.cluster_since);
    } else {
      EXPECT_EQ(got.episode_id(), "");
      EXPECT_FALSE(got.has_cluster_since());
    }
    if (e.referral_opened_at) {
      EXPECT_EQ(FromTs(got.referral_opened_at()), *e.referral_opened_at);
    }
    EXPECT_EQ(got.has_discharged_at(), e.discharged_at.has_value());
    if (e.discharged_at) {
      EXPECT_EQ(FromTs(got.discharged_at()), *e.discharged_at);
    }
  }

  void ExpectEpisodes(const std::string& person_id, const std::vector<ExpectedEpisode>& newest_first) {
    pbr::v1::ListRequest req;
    req.set_person_id(person_id);
    pbr::v1::ListEpisodesReply got;
    grpc::Status st = clinician_->ListEpisodes(Context().get(), req, &got);
    ASSERT_TRUE(st.ok()) << st.error_message();
    SCOPED_TRACE(got.DebugString());
    ASSERT_EQ(got.episodes_size(), static_cast<int>(newest_first.size()));
    for (size_t i = 0; i < newest_first.size(); ++i) {
      const auto& e = newest_first[i];
      const auto& g = got.episodes(static_cast<int>(i));
      SCOPED_TRACE(absl::StrCat("episode ", i, " (newest first)"));
      EXPECT_EQ(g.episode_id(), e.episode_id);
      EXPECT_EQ(g.cluster(), e.cluster);
      EXPECT_EQ(g.team_id(), e.team);
      EXPECT_EQ(FromTs(g.started_at()), e.started_at) << Show(FromTs(g.started_at())) << " vs " << Show(e.started_at);
      EXPECT_EQ(g.has_ended_at(), e.ended_at.has_value());
      if (e.ended_at) {
        EXPECT_EQ(FromTs(g.ended_at()), *e.ended_at) << Show(FromTs(g.ended_at()));
      }
      EXPECT_EQ(g.ended_by_discharge(), e.ended_by_discharge);
      EXPECT_EQ(g.started_by_assessment_id(), e.started_by);
      EXPECT_EQ(g.referral_id(), e.referral_id);
    }
  }

  void ExpectReferrals(const std::string& person_id, const std::vector<ExpectedReferral>& newest_first) {
    pbr::v1::ListRequest req;
    req.set_person_id(person_id);
    pbr::v1::ListReferralsReply got;
    grpc::Status st = clinician_->ListReferrals(Context().get(), req, &got);
    ASSERT_TRUE(st.ok()) << st.error_message();
    SCOPED_TRACE(got.DebugString());
    ASSERT_EQ(got.referrals_size(), static_cast<int>(newest_first.size()));
    for (size_t i = 0; i < newest_first.size(); ++i) {
      const auto& e = newest_first[i];
      const auto& g = got.referrals(static_cast<int>(i));
      SCOPED_TRACE(absl::StrCat("referral period ", i, " (newest first)"));
      EXPECT_EQ(g.referral_id(), e.referral_id);
      EXPECT_EQ(FromTs(g.opened_at()), e.opened_at) << Show(FromTs(g.opened_at())) << " vs " << Show(e.opened_at);
      EXPECT_EQ(g.opened_by(), e.opened_by);
      EXPECT_EQ(g.has_closed_at(), e.closed_at.has_value());
      if (e.closed_at) {
        EXPECT_EQ(FromTs(g.closed_at()), *e.closed_at);
      }
      EXPECT_EQ(g.closed_by(), e.closed_by);
    }
  }

  // --- the other services, once they converge ---

  pbr::v1::ReviewState StateOf(const care::ReviewDue& due) const {
    if (care::IsOverdue(due, kToday)) return pbr::v1::REVIEW_STATE_OVERDUE;
    if (kToday >= due.window_opens) return pbr::v1::REVIEW_STATE_DUE;
    return pbr::v1::REVIEW_STATE_UPCOMING;
  }

  care::ReviewDue DueOf(const Basis& b) const {
    auto due = rules_->ReviewDueDate(b.cluster, b.mhct);
    EXPECT_TRUE(due.ok()) << due.status();
    return due.value_or(care::ReviewDue{});
  }

  // The caseload a team should show: people with an open referral period and a current cluster
  // whose review basis is the team's, by cluster, with their review state as of today.
  pbr::v1::Caseload ExpectedCaseload(const std::string& team) const {
    pbr::v1::Caseload out;
    out.set_team_id(team);
    std::map<int, pbr::v1::ClusterCaseload> clusters;
    std::map<int, int64_t> sums;
    for (const auto& [person_id, p] : people_) {  // ascending person id
      if (!p.basis || p.basis->team != team) continue;
      const int cluster = p.basis->cluster;
      const pbr::v1::ReviewState state = StateOf(DueOf(*p.basis));
      auto& c = clusters[cluster];
      c.set_cluster(cluster);
      c.set_people(c.people() + 1);
      c.set_reviews_due(c.reviews_due() + (state == pbr::v1::REVIEW_STATE_DUE));
      c.set_reviews_overdue(c.reviews_overdue() + (state == pbr::v1::REVIEW_STATE_OVERDUE));
      c.set_people_with_honos(c.people_with_honos() + 1);
      sums[cluster] += p.basis->honos;
      auto* person = out.add_persons();
      person->set_person_id(person_id);
      person->set_cluster(cluster);
      person->set_has_honos(true);
      person->set_latest_honos_total(p.basis->honos);
      person->set_review_state(state);
      // Reporting shows the due date the scheduler announced (none is announced while UPCOMING).
      if (state != pbr::v1::REVIEW_STATE_UPCOMING) SetDate(person->mutable_review_due_date(), DueOf(*p.basis).due);
    }
    for (auto& [id, c] : clusters) {
      c.set_mean_latest_honos(static_cast<double>(sums[id]) / c.people_with_honos());
      out.set_people(out.people() + c.people());
      out.set_reviews_due(out.reviews_due() + c.reviews_due());
      out.set_reviews_overdue(out.reviews_overdue() + c.reviews_overdue());
      *out.add_clusters() = c;
    }
    auto live = live_by_team_.find(team);
    out.set_assessments_recorded(live == live_by_team_.end() ? 0 : live->second);
    return out;
  }

  pbr::v1::Caseload Caseload(const std::string& team) {
    pbr::v1::GetCaseloadRequest req;
    req.set_team_id(team);
    pbr::v1::Caseload reply;
    reporting_->GetCaseload(Context().get(), req, &reply);
    return reply;
  }

  // Every team's caseload, every person's schedule and HoNOS history, exactly as expected.
  void ExpectServicesConverge(const std::string& step) {
    SCOPED_TRACE(step);
    for (const auto& team : teams_) {
      const auto expected = ExpectedCaseload(team);
      pbr::v1::Caseload got;
      const bool converged = testing::WaitUntil(
          [&] {
            got = systemtest::WithoutProfile(Caseload(team));
            return google::protobuf::util::MessageDifferencer::Equals(got, expected);
          },
          kConverge, absl::Milliseconds(100));
      EXPECT_TRUE(converged) << step << ": caseload of team " << team << "\nexpected:\n"
                             << expected.DebugString() << "\ngot:\n" << got.DebugString();
    }
    for (const auto& [person_id, p] : people_) {
      ExpectSchedule(step, person_id, p);
      ExpectOutcomes(step, person_id, p);
    }
  }

  void ExpectSchedule(const std::string& step, const std::string& person_id, const Expected& p) {
    pbr::v1::GetScheduleRequest req;
    req.set_person_id(person_id);
    pbr::v1::Schedule schedule;
    grpc::Status st;
    if (!p.basis) {
      const bool closed = testing::WaitUntil(
          [&] {
            st = scheduler_->GetSchedule(Context().get(), req, &schedule);
            return st.error_code() == grpc::StatusCode::NOT_FOUND;
          },
          kConverge, absl::Milliseconds(100));
      EXPECT_TRUE(closed) << step << ": " << p.nhs << " has no review to schedule, but GetSchedule answered "
                          << st.error_code() << " " << st.error_message() << "\n" << schedule.DebugString();
      if (closed && p.discharged) {
        // README: GetSchedule then answers NOT_FOUND, saying on which day the person was discharged.
        EXPECT_TRUE(absl::StrContains(st.error_message(), "discharged")) << st.error_message();
        EXPECT_TRUE(absl::StrContains(st.error_message(), absl::FormatCivilTime(*p.discharged)))
            << st.error_message();
      }
      return;
    }
    const Basis& b = *p.basis;
    const care::ReviewDue due = DueOf(b);
    const bool converged = testing::WaitUntil(
        [&] {
          st = scheduler_->GetSchedule(Context().get(), req, &schedule);
          return st.ok() && schedule.basis_assessment_id() == b.assessment_id &&
                 DayOf(schedule.latest_mhct_date()) == b.mhct && schedule.cluster() == b.cluster &&
                 schedule.state() == StateOf(due);
        },
        kConverge, absl::Milliseconds(100));
    EXPECT_TRUE(converged) << step << ": schedule of " << p.nhs << " should rest on " << b.assessment_id
                           << " (cluster " << b.cluster << ", MHCT " << b.mhct << ", "
                           << pbr::v1::ReviewState_Name(StateOf(due)) << "); got " << st.error_code() << " "
                           << st.error_message() << "\n" << schedule.DebugString();
    if (!converged) return;
    EXPECT_EQ(DayOf(schedule.due_date()), due.due) << step << ": " << p.nhs;
    EXPECT_EQ(DayOf(schedule.window_opens()), due.window_opens) << step << ": " << p.nhs;
    EXPECT_EQ(due.window_opens, due.due - 10) << "the window opens 10 days before the due date (SOP Table 13)";
    EXPECT_EQ(schedule.team_id(), b.team) << step << ": " << p.nhs;
  }

  void ExpectOutcomes(const std::string& step, const std::string& person_id, const Expected& p) {
    pbr::v1::GetOutcomesRequest req;
    req.set_person_id(person_id);
    pbr::v1::PersonOutcomes history;
    grpc::Status st;
    auto matches = [&] {
      if (!st.ok()) return p.outcomes.empty() && st.error_code() == grpc::StatusCode::NOT_FOUND;
      if (history.outcomes_size() != static_cast<int>(p.outcomes.size())) return false;
      for (size_t i = 0; i < p.outcomes.size(); ++i) {
        const auto& g = history.outcomes(static_cast<int>(i));
        const auto& e = p.outcomes[i];
        if (g.assessment_id() != e.assessment_id || FromTs(g.assessed_at()) != e.at || g.cluster() != e.cluster ||
            g.honos_total() != e.honos || !g.total_valid()) {
          return false;
        }
      }
      return true;
    };
    const bool converged = testing::WaitUntil(
        [&] {
          history.Clear();
          st = outcomes_->GetOutcomes(Context().get(), req, &history);
          return matches();
        },
        kConverge, absl::Milliseconds(100));
    std::string want;
    for (const auto& o : p.outcomes) absl::StrAppend(&want, o.assessment_id, " ", Show(o.at), " cluster ", o.cluster,
                                                     " HoNOS ", o.honos, "\n");
    EXPECT_TRUE(converged) << step << ": outcomes of " << p.nhs << "\nexpected (oldest first):\n"
                           << want << "got " << st.error_code() << " " << st.error_message() << "\n"
                           << history.DebugString();
  }

  std::unique_ptr<pbr::v1::Allocation::Stub> allocation_;  // as the rio feed
  std::unique_ptr<pbr::v1::Allocation::Stub> clinician_;   // identifiable reads
  std::unique_ptr<pbr::v1::ReviewScheduler::Stub> scheduler_;
  std::unique_ptr<pbr::v1::Outcomes::Stub> outcomes_;
  std::unique_ptr<pbr::v1::Reporting::Stub> reporting_;
  std::map<std::string, Expected> people_;       // by person id
  std::map<std::string, int64_t> live_by_team_;  // live assessments each team recorded
  std::set<std::string> teams_;                  // every team the journeys touched
};

// Teams and their service areas (SOP Tables 2 and 3).
constexpr char kCmht[] = "cmht-north";      // community non-psychosis pathway
constexpr char kCrht[] = "crht-south";      // home treatment
constexpr char kWard[] = "inpatient-ward-3";
constexpr char kEip[] = "eip-central";      // community psychosis pathway

TEST_F(CareJourneyTest, PeopleFollowedFromReferralToDischargeAndBack) {
  const std::string ann = NhsNumber(600000001);   // CMHT: referral, reviews, discharge, re-referral, transfer
  const std::string ben = NhsNumber(600000002);   // admitted: inpatient initial allocation back-dated
  const std::string cal = NhsNumber(600000003);   // psychosis: corrections (amend, withdraw)
  const std::string fay = NhsNumber(600000006);   // overdue, then discharged without a review

  // The oracle's review dates agree with the SOP worked by hand (Table 11 periods; the review is due ON
  // MHCT + period, overdue from the day after; the window opens 10 days before: care-cluster-rules.md
  // section 7, rules/README.md, review-periods-2026.1).
  {
    auto four = rules_->ReviewDueDate(4, D(2026, 1, 12));
    ASSERT_TRUE(four.ok());
    EXPECT_EQ(four->due, D(2026, 7, 12));  // 12 Jan + 6 months
    EXPECT_EQ(four->window_opens, D(2026, 7, 2));
    auto fourteen = rules_->ReviewDueDate(14, D(2026, 11, 4));
    ASSERT_TRUE(fourteen.ok());
    EXPECT_EQ(fourteen->due, D(2026, 12, 2));  // 4 Nov + 4 weeks
    EXPECT_EQ(fourteen->window_opens, D(2026, 11, 22));
  }

  // ---- 1. Referral received: a referral period, no cluster, no caseload, no schedule.
  const absl::Time ann_referred = At(D(2026, 1, 5));
  auto ann_ref = CareEvent(ann, "ann-ref-1", kCmht, pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, ann_referred);
  const std::string ann_id = ann_ref.person_id();
  const std::string ann_period1 = ann_ref.referral_id();
  EXPECT_FALSE(ann_period1.empty()) << "a referral received opens a referral period";
  EXPECT_FALSE(ann_ref.cluster_changed());
  ExpectPerson(ann, {.has_cluster = false, .referral_open = true, .referral_id = ann_period1,
                     .referral_opened_at = ann_referred});
  ExpectReferrals(ann_id, {{ann_period1, ann_referred, ann_ref.care_event_id(), std::nullopt, ""}});
  ExpectEpisodes(ann_id, {});
  // Fay: an initial assessment in January (opens her referral period), overdue by now.
  const Mhct fay1{"fay-1", fay, kCmht, "community_non_psychosis", At(D(2026, 1, 20)), 4, 61};
  auto fay1_reply = Assess(fay1);
  ExpectInitialReply(fay1, fay1_reply);
  const std::string fay_id = fay1_reply.person_id();
  EXPECT_EQ(StateOf(DueOf(*people_[fay_id].basis)), pbr::v1::REVIEW_STATE_OVERDUE);
  ExpectServicesConverge("1. referral received");

  // ---- 2. Initial assessment: an episode in the same referral period, reviewed 6 months on.
  const Mhct ann1{"ann-1", ann, kCmht, "community_non_psychosis", At(D(2026, 1, 12)), 4, 11};
  auto ann1_reply = Assess(ann1);
  ExpectInitialReply(ann1, ann1_reply);
  EXPECT_EQ(ann1_reply.person_id(), ann_id);
  EXPECT_EQ(ann1_reply.referral_id(), ann_period1) << "the initial assessment belongs to the referral's period";
  EXPECT_TRUE(ann1_reply.cluster_changed()) << "a first cluster";
  ExpectReferrals(ann_id, {{ann_period1, ann_referred, ann_ref.care_event_id(), std::nullopt, ""}});
  ExpectEpisodes(ann_id, {{ann1_reply.episode_id(), 4, kCmht, ann1.at, std::nullopt, false,
                           ann1_reply.assessment_id(), ann_period1}});
  ExpectPerson(ann, {.has_cluster = true, .cluster = 4, .team = kCmht, .episode_id = ann1_reply.episode_id(),
                     .cluster_since = ann1.at, .assessments = 1, .referral_open = true,
                     .referral_id = ann_period1, .referral_opened_at = ann_referred});
  ExpectServicesConverge("2. initial assessment");

  // ---- 3. Reviews. A formal review on the same cluster: the same episode, the clock restarts.
  const Mhct ann2{"ann-2", ann, kCmht, "community_non_psychosis", At(D(2026, 7, 1)), 4, 12,
                  pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
  auto ann2_reply = Assess(ann2);
  ExpectReviewReply(ann2, ann2_reply, {4, 5, 6});  // Table 12 row 4, minimal/no change
  EXPECT_FALSE(ann2_reply.cluster_changed());
  EXPECT_EQ(ann2_reply.episode_id(), ann1_reply.episode_id());
  EXPECT_EQ(ann2_reply.referral_id(), ann_period1);
  ExpectServicesConverge("3a. formal review, same cluster");
  // Deterioration, 4 -> 5 (under 12 months on 4): a new episode from the review's date.
  const Mhct ann3{"ann-3", ann, kCmht, "community_non_psychosis", At(D(2026, 10, 1)), 5, 13,
                  pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_DETERIORATION};
  auto ann3_reply = Assess(ann3);
  ExpectReviewReply(ann3, ann3_reply, {5, 6});  // Table 12 row 4, deterioration
  EXPECT_TRUE(ann3_reply.cluster_changed());
  EXPECT_NE(ann3_reply.episode_id(), ann1_reply.episode_id());
  EXPECT_EQ(ann3_reply.referral_id(), ann_period1);
  ExpectEpisodes(ann_id, {{ann3_reply.episode_id(), 5, kCmht, ann3.at, std::nullopt, false,
                           ann3_reply.assessment_id(), ann_period1},
                          {ann1_reply.episode_id(), 4, kCmht, ann1.at, ann3.at, false, ann1_reply.assessment_id(),
                           ann_period1}});
  ExpectPerson(ann, {.has_cluster = true, .cluster = 5, .team = kCmht, .episode_id = ann3_reply.episode_id(),
                     .cluster_since = ann3.at, .assessments = 3, .referral_open = true,
                     .referral_id = ann_period1, .referral_opened_at = ann_referred});
  ExpectServicesConverge("3b. review moving cluster 4 -> 5");

  // ---- 4. An admission: referred in the evening to home treatment, referred (out of hours) to and
  // admitted to a ward; the inpatient initial allocation is back-dated to the admission (SOP Table
  // 13), the review clock runs from the MHCT date.
  const absl::Time ben_referred = AtTime(D(2026, 11, 1), 21, 0);
  auto ben_ref = CareEvent(ben, "ben-ref-1", kCrht, pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, ben_referred);
  const std::string ben_id = ben_ref.person_id();
  const std::string ben_period = ben_ref.referral_id();
  auto ben_to_ward = CareEvent(ben, "ben-ref-ip", kCrht, pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS,
                               AtTime(D(2026, 11, 1), 23, 0), true);
  EXPECT_EQ(ben_to_ward.referral_id(), ben_period);
  const absl::Time ben_admitted = AtTime(D(2026, 11, 2), 2, 30);
  auto ben_admission = CareEvent(ben, "ben-adm-1", kWard, pbr::v1::CARE_EVENT_ADMISSION, ben_admitted);
  EXPECT_EQ(ben_admission.referral_id(), ben_period);
  EXPECT_FALSE(ben_admission.cluster_changed());
  Mhct ben1{"ben-1", ben, kWard, "inpatient", At(D(2026, 11, 4)), 14, 21};
  ben1.admitted_at = ben_admitted;
  auto ben1_reply = Assess(ben1);
  ExpectInitialReply(ben1, ben1_reply);
  EXPECT_EQ(ben1_reply.referral_id(), ben_period);
  ExpectReferrals(ben_id, {{ben_period, ben_referred, ben_ref.care_event_id(), std::nullopt, ""}});
  ExpectEpisodes(ben_id, {{ben1_reply.episode_id(), 14, kWard, ben_admitted, std::nullopt, false,
                           ben1_reply.assessment_id(), ben_period}});
  ExpectPerson(ben, {.has_cluster = true, .cluster = 14, .team = kWard, .episode_id = ben1_reply.episode_id(),
                     .cluster_since = ben_admitted, .assessments = 1, .referral_open = true,
                     .referral_id = ben_period, .referral_opened_at = ben_referred});
  EXPECT_EQ(StateOf(DueOf(*people_[ben_id].basis)), pbr::v1::REVIEW_STATE_DUE);  // due 1 Dec, window open
  // Ann is referred to home treatment too: the event belongs to her open period and changes nothing.
  auto ann_crht = CareEvent(ann, "ann-crht-1", kCrht, pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(D(2026, 10, 20)));
  EXPECT_EQ(ann_crht.referral_id(), ann_period1);
  EXPECT_FALSE(ann_crht.cluster_changed());
  ExpectServicesConverge("4. admission, referrals to inpatients and CRHT");

  // ---- 5. A discharge review and a discharge from service at the same instant; Fay is discharged
  // with her review overdue.
  const absl::Time ann_discharged = At(D(2026, 11, 10));
  const Mhct ann4{"ann-4", ann, kCmht, "community_non_psychosis", ann_discharged, 5, 14,
                  pbr::v1::ASSESSMENT_REASON_DISCHARGE_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
  auto ann4_reply = Assess(ann4);
  ExpectReviewReply(ann4, ann4_reply, {5, 6});  // Table 12 row 5, minimal/no change
  EXPECT_EQ(ann4_reply.referral_id(), ann_period1);
  auto ann_dis = Discharge(ann, "ann-dis-1", kCmht, ann_discharged);
  EXPECT_EQ(ann_dis.referral_id(), ann_period1) << "the discharge closes the open period";
  EXPECT_TRUE(ann_dis.cluster_changed()) << "a discharge ends the cluster episode";
  const absl::Time fay_discharged = At(D(2026, 11, 5));
  auto fay_dis = Discharge(fay, "fay-dis-1", kCmht, fay_discharged);
  EXPECT_TRUE(fay_dis.cluster_changed());
  ExpectPerson(ann, {.has_cluster = false, .assessments = 4, .referral_open = false, .referral_id = ann_period1,
                     .referral_opened_at = ann_referred, .discharged_at = ann_discharged});
  ExpectReferrals(ann_id, {{ann_period1, ann_referred, ann_ref.care_event_id(), ann_discharged,
                            ann_dis.care_event_id()}});
  ExpectEpisodes(ann_id, {{ann3_reply.episode_id(), 5, kCmht, ann3.at, ann_discharged, true,
                           ann3_reply.assessment_id(), ann_period1},
                          {ann1_reply.episode_id(), 4, kCmht, ann1.at, ann3.at, false, ann1_reply.assessment_id(),
                           ann_period1}});
  ExpectEpisodes(fay_id, {{fay1_reply.episode_id(), 4, kCmht, fay1.at, fay_discharged, true,
                           fay1_reply.assessment_id(), fay1_reply.referral_id()}});
  ExpectServicesConverge("5. discharge review and discharge from service");
  {
    // Nobody discharged has a review due: no caseload count includes them.
    const auto cmht = Caseload(kCmht);
    EXPECT_EQ(cmht.people(), 0) << cmht.DebugString();
    EXPECT_EQ(cmht.reviews_due(), 0);
    EXPECT_EQ(cmht.reviews_overdue(), 0) << "Fay's overdue review went with her discharge";
    for (const auto& team : teams_) {
      const auto caseload = Caseload(team);
      for (const auto& p : caseload.persons()) {
        EXPECT_NE(p.person_id(), ann_id) << team;
        EXPECT_NE(p.person_id(), fay_id) << team;
      }
    }
  }

  // ---- 5b. Fay's discharge was recorded against the wrong person: the EPR withdraws it, and she is
  // back on the caseload with her overdue review and her episode open again.
  {
    pbr::v1::WithdrawCareEventRequest w;
    w.set_source_system(kEpr);
    w.set_source_record_id("fay-dis-1");
    w.set_reason("recorded against the wrong patient");
    pbr::v1::WithdrawCareEventReply withdrawn;
    grpc::Status st = allocation_->WithdrawCareEvent(Context().get(), w, &withdrawn);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(withdrawn.revision(), 1);
    EXPECT_TRUE(withdrawn.cluster_changed()) << "the episode the discharge ended is open again";
    Expected& p = people_[fay_id];
    p.basis = Basis{fay1_reply.assessment_id(), kCmht, 4, absl::ToCivilDay(fay1.at, London()), HonosTotal(Ratings(61))};
    p.discharged.reset();
    ExpectEpisodes(fay_id, {{fay1_reply.episode_id(), 4, kCmht, fay1.at, std::nullopt, false,
                             fay1_reply.assessment_id(), fay1_reply.referral_id()}});
  }
  ExpectServicesConverge("5b. a discharge withdrawn");
  EXPECT_EQ(Caseload(kCmht).reviews_overdue(), 1) << "Fay's overdue review is back with her";

  // ---- 6. After the discharge: a review is refused; a second discharge too; an initial assessment
  // (the re-referral) opens a new referral period and a new episode.
  {
    const Mhct late{"ann-late", ann, kCmht, "community_non_psychosis", At(D(2026, 11, 15)), 5, 15,
                    pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
    pbr::v1::RecordAssessmentReply ignored;
    grpc::Status refused = TryRecord(late, &ignored);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
    EXPECT_TRUE(absl::StartsWith(refused.error_message(), "reason:")) << refused.error_message();
    EXPECT_TRUE(absl::StrContains(refused.error_message(), "discharged")) << refused.error_message();
    pbr::v1::RecordCareEventReply no_event;
    grpc::Status again = TryCareEvent(ann, "ann-dis-2", kCmht, pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE,
                                      At(D(2026, 11, 16)), &no_event);
    EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << again.error_message();
    ExpectPerson(ann, {.has_cluster = false, .assessments = 4, .referral_open = false, .referral_id = ann_period1,
                       .referral_opened_at = ann_referred, .discharged_at = ann_discharged});
  }
  const Mhct ann5{"ann-5", ann, kCmht, "community_non_psychosis", At(D(2026, 11, 18)), 4, 16};
  auto ann5_reply = Assess(ann5);
  ExpectInitialReply(ann5, ann5_reply);
  const std::string ann_period2 = ann5_reply.referral_id();
  EXPECT_NE(ann_period2, ann_period1) << "a re-referral is a new referral period";
  EXPECT_FALSE(ann_period2.empty());
  EXPECT_TRUE(ann5_reply.cluster_changed());
  ExpectReferrals(ann_id, {{ann_period2, ann5.at, ann5_reply.assessment_id(), std::nullopt, ""},
                           {ann_period1, ann_referred, ann_ref.care_event_id(), ann_discharged,
                            ann_dis.care_event_id()}});
  ExpectEpisodes(ann_id, {{ann5_reply.episode_id(), 4, kCmht, ann5.at, std::nullopt, false,
                           ann5_reply.assessment_id(), ann_period2},
                          {ann3_reply.episode_id(), 5, kCmht, ann3.at, ann_discharged, true,
                           ann3_reply.assessment_id(), ann_period1},
                          {ann1_reply.episode_id(), 4, kCmht, ann1.at, ann3.at, false, ann1_reply.assessment_id(),
                           ann_period1}});
  ExpectPerson(ann, {.has_cluster = true, .cluster = 4, .team = kCmht, .episode_id = ann5_reply.episode_id(),
                     .cluster_since = ann5.at, .assessments = 5, .referral_open = true,
                     .referral_id = ann_period2, .referral_opened_at = ann5.at});
  ExpectServicesConverge("6. re-referral after discharge");

  // ---- 7. Corrections. Cal: first episode of psychosis, then a review the EPR corrects.
  const Mhct cal1{"cal-1", cal, kEip, "community_psychosis", At(D(2026, 3, 2)), 10, 31};
  auto cal1_reply = Assess(cal1);
  ExpectInitialReply(cal1, cal1_reply);
  const std::string cal_id = cal1_reply.person_id();
  Mhct cal2{"cal-2", cal, kEip, "community_psychosis", At(D(2026, 8, 25)), 12, 32,
            pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
  auto cal2_reply = Assess(cal2);
  ExpectReviewReply(cal2, cal2_reply, {10, 11, 12, 13, 16, 17});  // Table 12 row 10, minimal/no change
  ExpectServicesConverge("7a. psychosis review");
  // Amended: the review was on 1 June and chose 13. The schedule and caseload move with it.
  cal2.at = At(D(2026, 6, 1));
  cal2.cluster = 13;
  {
    pbr::v1::RecordAssessmentReply amended;
    grpc::Status st = allocation_->AmendAssessment(Context().get(), ToRequest(cal2), &amended);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(amended.assessment_id(), cal2_reply.assessment_id());
    EXPECT_EQ(amended.revision(), 1);
    ExpectReviewReply(cal2, amended, {10, 11, 12, 13, 16, 17});
    Expected& p = people_[cal_id];
    p.basis = Basis{cal2_reply.assessment_id(), kEip, 13, D(2026, 6, 1), HonosTotal(Ratings(32))};
    p.outcomes = {{cal1_reply.assessment_id(), cal1.at, 10, HonosTotal(Ratings(31))},
                  {cal2_reply.assessment_id(), cal2.at, 13, HonosTotal(Ratings(32))}};
    EXPECT_EQ(StateOf(DueOf(*p.basis)), pbr::v1::REVIEW_STATE_DUE);  // due 30 Nov, window open
    ExpectEpisodes(cal_id, {{amended.episode_id(), 13, kEip, cal2.at, std::nullopt, false,
                             cal2_reply.assessment_id(), cal1_reply.referral_id()},
                            {cal1_reply.episode_id(), 10, kEip, cal1.at, cal2.at, false,
                             cal1_reply.assessment_id(), cal1_reply.referral_id()}});
  }
  ExpectServicesConverge("7b. review amended: date and cluster");
  // Withdrawn: everything falls back to the initial assessment (cluster 10 from 2 March: overdue).
  {
    pbr::v1::WithdrawAssessmentRequest req;
    req.set_source_system(kEpr);
    req.set_source_record_id("cal-2");
    req.set_reason("recorded against the wrong patient");
    pbr::v1::WithdrawAssessmentReply withdrawn;
    grpc::Status st = allocation_->WithdrawAssessment(Context().get(), req, &withdrawn);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(withdrawn.cluster_changed()) << "back from 13 to 10";
    live_by_team_[kEip]--;
    Expected& p = people_[cal_id];
    p.basis = Basis{cal1_reply.assessment_id(), kEip, 10, D(2026, 3, 2), HonosTotal(Ratings(31))};
    p.outcomes = {{cal1_reply.assessment_id(), cal1.at, 10, HonosTotal(Ratings(31))}};
    EXPECT_EQ(StateOf(DueOf(*p.basis)), pbr::v1::REVIEW_STATE_OVERDUE);
    ExpectEpisodes(cal_id, {{cal1_reply.episode_id(), 10, kEip, cal1.at, std::nullopt, false,
                             cal1_reply.assessment_id(), cal1_reply.referral_id()}});
    ExpectPerson(cal, {.has_cluster = true, .cluster = 10, .team = kEip, .episode_id = cal1_reply.episode_id(),
                       .cluster_since = cal1.at, .assessments = 1, .referral_open = true,
                       .referral_id = cal1_reply.referral_id(), .referral_opened_at = cal1.at});
  }
  ExpectServicesConverge("7c. latest review withdrawn");

  // ---- 8. A transfer is not an initial assessment (SOP 4.7): refused while Ann has an open
  // referral and a cluster; recorded as a transfer review it moves her to home treatment.
  {
    const Mhct disguised{"ann-6-as-initial", ann, kCrht, "crht", At(D(2026, 11, 20)), 5, 17};
    pbr::v1::RecordAssessmentReply ignored;
    grpc::Status refused = TryRecord(disguised, &ignored);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
    EXPECT_TRUE(absl::StartsWith(refused.error_message(), "reason:")) << refused.error_message();
  }
  auto ann_crht2 = CareEvent(ann, "ann-crht-2", kCrht, pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(D(2026, 11, 19)));
  EXPECT_EQ(ann_crht2.referral_id(), ann_period2);
  const Mhct ann6{"ann-6", ann, kCrht, "crht", At(D(2026, 11, 20)), 5, 17,
                  pbr::v1::ASSESSMENT_REASON_TRANSFER_REVIEW, pbr::v1::CHANGE_CLASS_DETERIORATION};
  auto ann6_reply = Assess(ann6);
  ExpectReviewReply(ann6, ann6_reply, {5, 6});  // Table 12 row 4, deterioration
  EXPECT_EQ(ann6_reply.referral_id(), ann_period2);
  EXPECT_TRUE(ann6_reply.cluster_changed());
  ExpectPerson(ann, {.has_cluster = true, .cluster = 5, .team = kCrht, .episode_id = ann6_reply.episode_id(),
                     .cluster_since = ann6.at, .assessments = 6, .referral_open = true,
                     .referral_id = ann_period2, .referral_opened_at = ann5.at});
  ExpectServicesConverge("8. transfer review to home treatment");
}

// SOP Table 12's acute-event rule: "If the SU has had a referral to CRHT, Inpatients, MHA
// Assessment or have not been concordant with medication in the last 12 months then they must be
// stepped up to CC12, CC13, CC14 or CC15" (from 11), and "If the SU has improved but had [one of
// these] in the last 12 months then they must remain on CC12" (from 12; CC13 from 13). A referral to
// inpatients triggers it by itself (care-cluster-rules.md section 3).
TEST_F(CareJourneyTest, AcuteEventsInTheLastYearKeepPsychosisClustersUp) {
  const std::string dan = NhsNumber(600000004);  // on 11, referred to inpatients (no admission)
  const std::string gus = NhsNumber(600000007);  // on 11, referred to CRHT
  const std::string eve = NhsNumber(600000005);  // on 12, referred to CRHT, improved
  // (and Hal, below: on 13, an MHA assessment, improved)
  const std::vector<int> from10_no_change = {10, 11, 12, 13, 16, 17};

  auto on_eleven = [&](const std::string& nhs, const std::string& tag, int day_offset) {
    const Mhct first{tag + "-1", nhs, kEip, "community_psychosis", At(D(2026, 1, 5) + day_offset), 10, 40 + day_offset};
    ExpectInitialReply(first, Assess(first));
    const Mhct review{tag + "-2", nhs, kEip, "community_psychosis", At(D(2026, 4, 1) + day_offset), 11,
                      50 + day_offset, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
    ExpectReviewReply(review, Assess(review), from10_no_change);
  };
  on_eleven(dan, "dan", 0);
  on_eleven(gus, "gus", 1);
  CareEvent(dan, "dan-ref-ip", kEip, pbr::v1::CARE_EVENT_REFERRAL_TO_INPATIENTS, At(D(2026, 10, 20)));
  CareEvent(gus, "gus-ref-crht", kEip, pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(D(2026, 10, 21)));

  // Gus (CRHT referral): stepped up to 12 with no change, as the protocol expects.
  const Mhct gus3{"gus-3", gus, kEip, "community_psychosis", At(D(2026, 11, 16)), 12, 63,
                  pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
  ExpectReviewReply(gus3, Assess(gus3), {12, 13, 14, 15});
  // Dan (referral to inpatients, no admission): the same rule applies.
  const Mhct dan3{"dan-3", dan, kEip, "community_psychosis", At(D(2026, 11, 16)), 12, 64,
                  pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
  ExpectReviewReply(dan3, Assess(dan3), {12, 13, 14, 15});

  // Eve: on 12 since April, referred to CRHT in September, improved in November: remains on 12.
  const Mhct eve1{"eve-1", eve, kEip, "community_psychosis", At(D(2026, 1, 7)), 10, 70};
  ExpectInitialReply(eve1, Assess(eve1));
  const Mhct eve2{"eve-2", eve, kEip, "community_psychosis", At(D(2026, 4, 2)), 12, 71,
                  pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
  ExpectReviewReply(eve2, Assess(eve2), from10_no_change);
  CareEvent(eve, "eve-ref-crht", kCrht, pbr::v1::CARE_EVENT_REFERRAL_TO_CRHT, At(D(2026, 9, 10)));
  const Mhct eve3{"eve-3", eve, kEip, "community_psychosis", At(D(2026, 11, 16)), 12, 72,
                  pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_IMPROVEMENT};
  ExpectReviewReply(eve3, Assess(eve3), {12});

  // Hal: on 13 since April, assessed under the Mental Health Act in August, improved: remains on 13.
  const std::string hal = NhsNumber(600000008);
  const Mhct hal1{"hal-1", hal, kEip, "community_psychosis", At(D(2026, 1, 8)), 10, 80};
  ExpectInitialReply(hal1, Assess(hal1));
  const Mhct hal2{"hal-2", hal, kEip, "community_psychosis", At(D(2026, 4, 3)), 13, 81,
                  pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_NO_CHANGE};
  ExpectReviewReply(hal2, Assess(hal2), from10_no_change);
  CareEvent(hal, "hal-mha", kEip, pbr::v1::CARE_EVENT_MHA_ASSESSMENT, At(D(2026, 8, 14)));
  const Mhct hal3{"hal-3", hal, kEip, "community_psychosis", At(D(2026, 11, 17)), 13, 82,
                  pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW, pbr::v1::CHANGE_CLASS_IMPROVEMENT};
  ExpectReviewReply(hal3, Assess(hal3), {13});

  ExpectServicesConverge("acute-event reviews");
}

}  // namespace
}  // namespace pbr
