// Two replicas of the outcomes service in one consumer group on the embedded broker (issue 15, "Beyond
// one machine"): the group moves partitions between them as the second joins and leaves, and at every
// stage the replicas' answers, each for its own partitions, add up exactly to those of a third replica
// that reads every partition alone in a group of its own. Each person is answered by exactly one
// replica of the group, the same as the reference answers.
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "pbr/v1/outcomes.grpc.pb.h"
#include "platform/kafka.h"
#include "platform/topic_admin.h"
#include "platform_fixture.h"
#include "system_history.h"
#include "testing/local_platform.h"

namespace pbr::systemtest {
namespace {

using history::Act;
using history::Record;

constexpr absl::Duration kSettle = absl::Seconds(120);
constexpr const char* kEpr = "rio-north";
const std::vector<std::string> kTopics = {"assessment-recorded", "care-event-recorded"};
constexpr int kPartitions = 6;  // LocalPlatformOptions' default

struct Person {
  std::string label, nhs, person_id;
  std::vector<std::string> history;
};

class ConsumerGroupSystemTest : public PlatformFixture {
 protected:
  // A replica's answer for all time under one grouping, and what it covers.
  grpc::Status TrySummary(const std::string& replica, pbr::v1::OutcomeGrouping g, pbr::v1::OutcomesSummary* reply) {
    pbr::v1::SummariseOutcomesRequest request;
    request.set_group_by(g);
    auto stub = pbr::v1::Outcomes::NewStub(platform_->Channel(replica, "operations"));
    return stub->SummariseOutcomes(testing::CallContext().get(), request, reply);
  }
  pbr::v1::OutcomesSummary Summary(const std::string& replica, pbr::v1::OutcomeGrouping g) {
    pbr::v1::OutcomesSummary reply;
    const grpc::Status st = TrySummary(replica, g, &reply);
    EXPECT_TRUE(st.ok()) << replica << ": " << st.error_message();
    return reply;
  }

  // Whether every replica has applied its partitions to the log's end, and together they cover every
  // partition exactly once; `why` says what is still missing.
  bool Settled(const std::vector<std::string>& replicas, std::string& why) {
    // Everything allocation acknowledged is on the broker first: one event for each record.
    platform::KafkaSettings kafka;
    kafka.bootstrap = platform_->bootstrap();
    auto ends = platform::ReadLogEnds(kafka, kTopics);
    if (!ends.ok()) {
      why = std::string(ends.status().message());
      return false;
    }
    int64_t published = 0;
    for (const auto& [_, end] : *ends) published += end;
    if (published != accepted_) {
      why = absl::StrCat(published, " of the ", accepted_, " records accepted are on the broker");
      return false;
    }
    std::multiset<int32_t> covered;
    for (const std::string& replica : replicas) {
      pbr::v1::OutcomesSummary summary;
      if (const grpc::Status st = TrySummary(replica, pbr::v1::OUTCOME_GROUPING_TEAM, &summary); !st.ok()) {
        why = absl::StrCat(replica, ": ", st.error_message());
        return false;
      }
      const pbr::v1::ConsumedShare& share = summary.share();
      if (!share.assigned()) {
        why = replica + " has no assignment yet";
        return false;
      }
      std::map<std::pair<std::string, int32_t>, int64_t> applied;
      for (const auto& a : share.applied()) applied[{a.topic(), a.partition()}] = a.next_offset();
      for (int32_t p : share.partitions()) {
        covered.insert(p);
        for (const std::string& topic : kTopics) {
          const int64_t end = (*ends)[{topic, p}];
          const int64_t at = applied.contains({topic, p}) ? applied[{topic, p}] : 0;
          if (at != end) {
            why = absl::StrCat(replica, " has applied ", topic, "/", p, " to ", at, " of ", end);
            return false;
          }
        }
      }
    }
    for (int32_t p = 0; p < kPartitions; ++p) {
      if (covered.count(p) != 1) {
        why = absl::StrCat("partition ", p, " is covered by ", covered.count(p), " replicas");
        return false;
      }
    }
    return true;
  }

  void WaitUntilSettled(const std::vector<std::string>& group) {
    const absl::Time start = absl::Now();
    std::string why;
    const bool settled = testing::WaitUntil([&] { return Settled(group, why) && Settled({"outcomes-reference"}, why); },
                                            kSettle, absl::Milliseconds(200));
    ASSERT_TRUE(settled) << "the replicas did not settle: " << why << "\n"
                         << testing::Tail(platform_->LogPath(group.back()));
    std::vector<std::string> shares;
    for (const std::string& replica : group) {
      shares.push_back(absl::StrCat(replica, " [",
                                    absl::StrJoin(Summary(replica, pbr::v1::OUTCOME_GROUPING_TEAM).share().partitions(), " "),
                                    "]"));
    }
    std::cout << "[consumer group] settled in " << absl::FormatDuration(absl::Now() - start) << ": "
              << absl::StrJoin(shares, ", ") << "\n";
  }

  // Every count of every grouping: the group's replicas summed, against the reference.
  void ExpectCountsAddUp(const std::vector<std::string>& group, const std::string& stage) {
    for (pbr::v1::OutcomeGrouping g : {pbr::v1::OUTCOME_GROUPING_TEAM, pbr::v1::OUTCOME_GROUPING_CLUSTER,
                                       pbr::v1::OUTCOME_GROUPING_COMMISSIONER, pbr::v1::OUTCOME_GROUPING_SUPER_CLASS}) {
      const std::string what = absl::StrCat(stage, ", ", pbr::v1::OutcomeGrouping_Name(g));
      using Counts = std::map<std::string, std::vector<int64_t>>;  // by group: every count, factors' too
      auto add = [](Counts& into, const std::string& group_name, const pbr::v1::OutcomeGroupSummary& s) {
        std::vector<int64_t> counts = {s.episodes(), s.paired_episodes(), s.improved(), s.no_reliable_change(),
                                       s.deteriorated(), s.with_expected_pattern(), s.matching_expected()};
        for (const auto& f : s.factors()) counts.push_back(f.episodes());
        auto& row = into[group_name];
        row.resize(counts.size());
        for (size_t i = 0; i < counts.size(); ++i) row[i] += counts[i];
      };
      Counts sum, want;
      for (const std::string& replica : group) {
        const auto s = Summary(replica, g);
        for (const auto& grp : s.groups()) add(sum, grp.group(), grp);
        add(sum, "(all)", s.all());
      }
      const auto reference = Summary("outcomes-reference", g);
      EXPECT_GT(reference.all().episodes(), 0) << what << ": the reference counts nothing";
      for (const auto& grp : reference.groups()) add(want, grp.group(), grp);
      add(want, "(all)", reference.all());
      auto text = [](const Counts& m) {
        std::vector<std::string> lines;
        for (const auto& [k, v] : m) lines.push_back(absl::StrCat(k, ": ", absl::StrJoin(v, " ")));
        return absl::StrJoin(lines, "\n  ");
      };
      EXPECT_EQ(text(sum), text(want)) << what << ": the replicas' counts summed, against the reference's";
    }
  }

  // Each person's outcomes: exactly one replica of the group answers, with the reference's answer.
  void ExpectEachPersonAnsweredOnce(const std::vector<std::string>& group, const std::string& stage) {
    int answered = 0;
    for (const Person& p : people_) {
      pbr::v1::GetOutcomesRequest request;
      request.set_person_id(p.person_id);
      pbr::v1::PersonOutcomes want;
      auto reference = pbr::v1::Outcomes::NewStub(platform_->Channel("outcomes-reference", "operations"));
      const grpc::Status want_st = reference->GetOutcomes(testing::CallContext().get(), request, &want);
      ASSERT_TRUE(want_st.ok() || want_st.error_code() == grpc::StatusCode::NOT_FOUND) << want_st.error_message();
      std::vector<std::string> owners;
      for (const std::string& replica : group) {
        pbr::v1::PersonOutcomes got;
        auto stub = pbr::v1::Outcomes::NewStub(platform_->Channel(replica, "operations"));
        const grpc::Status st = stub->GetOutcomes(testing::CallContext().get(), request, &got);
        if (st.ok()) {
          owners.push_back(replica);
          EXPECT_EQ(got.DebugString(), want.DebugString()) << stage << ", " << p.label << " from " << replica;
        } else {
          EXPECT_TRUE(st.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
                      st.error_code() == grpc::StatusCode::NOT_FOUND)
              << stage << ", " << p.label << " from " << replica << ": " << st.error_code() << " " << st.error_message();
        }
      }
      EXPECT_EQ(owners.size(), want_st.ok() ? 1u : 0u)
          << stage << ", " << p.label << " answered by: " << absl::StrJoin(owners, ", ");
      answered += !owners.empty();
    }
    EXPECT_GT(answered, 0);
  }

  // ---- the history: referrals, assessments, reviews, an amendment, withdrawals, discharges ----

  Person& PersonAt(int i) {
    while (static_cast<int>(people_.size()) <= i) {
      const int n = static_cast<int>(people_.size());
      people_.push_back({absl::StrCat("person ", n), testing::NhsNumber(630000000 + n * 100), "", {}});
    }
    return people_[static_cast<size_t>(i)];
  }
  absl::Time Start(int i) const { return history::Local(absl::CivilDay(2025, 1, 6) + i, 10); }
  // The clusters the community teams hold; the ratings are arbitrary, so each allocation carries a rationale.
  int ClusterOf(int i) const { return std::vector<int>{4, 5, 6, 7, 8}[static_cast<size_t>(i) % 5]; }

  // A care event of `type` for person i, `days_after_start` after their referral.
  void CareEvent(int i, const std::string& record_id, pbr::v1::CareEventType type, int days_after_start) {
    Person& p = PersonAt(i);
    Record r;
    r.act = Act::kCareEvent;
    r.record_id = record_id;
    r.team = TeamHolding(*rules_, history::kCmhts, ClusterOf(i), i);
    r.type = type;
    r.at = Start(i) + absl::Hours(24 * days_after_start);
    pbr::v1::RecordCareEventReply reply;
    const grpc::Status st =
        history::SendCareEvent(Feed(kEpr), history::CareEventRequest(kEpr, p.nhs, "clin-1", r, false), &reply);
    if (history::Accepted(st, p, r.record_id)) {
      history::Know(p, reply.person_id());
      ++accepted_;
    }
    p.history.push_back(r.record_id);
  }
  void Refer(int i) { CareEvent(i, absl::StrCat("ref-", i), pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, 0); }
  void Discharge(int i) { CareEvent(i, absl::StrCat("dis-", i), pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, 300); }
  void Assess(int i, const std::string& record_id, int days_after_start, int seed, Act act = Act::kAssess,
              pbr::v1::AssessmentReason reason = pbr::v1::ASSESSMENT_REASON_INITIAL) {
    Person& p = PersonAt(i);
    Record r;
    r.act = act;
    r.record_id = record_id;
    r.team = TeamHolding(*rules_, history::kCmhts, ClusterOf(i), i);
    r.cluster = ClusterOf(i);
    r.at = Start(i) + absl::Hours(24 * days_after_start);
    r.reason = reason;
    r.change = seed % 2 == 0 ? pbr::v1::CHANGE_CLASS_IMPROVEMENT : pbr::v1::CHANGE_CLASS_NO_CHANGE;
    history::Ratings ratings;
    for (int k = 0; k < 18; ++k) ratings.items[static_cast<size_t>(k)] = (seed * 7 + k * 3) % 5;
    history::SetItem8Type(ratings, 'A');
    auto request = history::AssessmentRequest(kEpr, p.nhs, "clin-1", r, ratings);
    request.set_clinical_rationale("synthetic ratings");
    pbr::v1::RecordAssessmentReply reply;
    const grpc::Status st = history::SendAssessment(Feed(kEpr), act, request, &reply);
    if (history::Accepted(st, p, r.record_id)) {
      history::Know(p, reply.person_id());
      ++accepted_;
    }
    p.history.push_back(r.record_id);
  }
  void Withdraw(int i, const std::string& record_id) {
    Person& p = PersonAt(i);
    pbr::v1::WithdrawAssessmentReply reply;
    const grpc::Status st = history::WithdrawAssessment(
        Feed(kEpr), kEpr, history::Withdrawal<Record>(Act::kWithdrawAssessment, record_id, "entered in error"), &reply);
    accepted_ += history::Accepted(st, p, "withdrawal of " + record_id);
    p.history.push_back("withdraw " + record_id);
  }
  std::vector<Person> people_;
  int64_t accepted_ = 0;  // records allocation accepted: each is one event on kTopics
};

TEST_F(ConsumerGroupSystemTest, TwoOutcomesReplicasShareThePartitionsAndEveryCountStaysExact) {
  // The reference reads every partition alone, in a group of its own.
  ASSERT_TRUE(platform_->StartReplica("outcomes", "outcomes-reference", absl::Seconds(30),
                                      {"--consumer-group=outcomes-reference"}).ok());

  // 1. One replica: referrals and first assessments of 36 people.
  for (int i = 0; i < 36; ++i) {
    Refer(i);
    Assess(i, absl::StrCat("a-", i, "-1"), 5, i);
  }
  WaitUntilSettled({"outcomes"});
  EXPECT_EQ(Summary("outcomes", pbr::v1::OUTCOME_GROUPING_TEAM).share().partitions_size(), kPartitions);
  ExpectCountsAddUp({"outcomes"}, "one replica");
  ExpectEachPersonAnsweredOnce({"outcomes"}, "one replica");

  // 2. A second replica joins the group: the group moves some partitions to it, which it replays from
  // their start; the first stops answering for them.
  ASSERT_TRUE(platform_->StartReplica("outcomes", "outcomes-b").ok());
  WaitUntilSettled({"outcomes", "outcomes-b"});
  const int moved = Summary("outcomes-b", pbr::v1::OUTCOME_GROUPING_TEAM).share().partitions_size();
  EXPECT_EQ(moved, kPartitions / 2) << "range assignment gives each of two members half the partitions";
  ExpectCountsAddUp({"outcomes", "outcomes-b"}, "two replicas");
  ExpectEachPersonAnsweredOnce({"outcomes", "outcomes-b"}, "two replicas");

  // 3. While both run: reviews that pair episodes, an amendment, withdrawals and new people.
  for (int i = 0; i < 36; ++i) {
    Assess(i, absl::StrCat("a-", i, "-2"), 120, i + 3, Act::kAssess, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  }
  for (int i = 0; i < 6; ++i) Assess(i, absl::StrCat("a-", i, "-1"), 5, i + 11, Act::kAmend);
  for (int i = 6; i < 10; ++i) Withdraw(i, absl::StrCat("a-", i, "-2"));
  for (int i = 36; i < 48; ++i) {
    Refer(i);
    Assess(i, absl::StrCat("a-", i, "-1"), 5, i);
  }
  WaitUntilSettled({"outcomes", "outcomes-b"});
  ExpectCountsAddUp({"outcomes", "outcomes-b"}, "two replicas, more history");
  ExpectEachPersonAnsweredOnce({"outcomes", "outcomes-b"}, "two replicas, more history");

  // 4. The second replica leaves: the first takes its partitions back and resumes each from where its
  // own store had applied it, catching up on what the second applied meanwhile.
  ASSERT_TRUE(platform_->StopService("outcomes-b").ok());
  for (int i = 0; i < 48; i += 2) Discharge(i);
  for (int i = 1; i < 48; i += 2) {
    Assess(i, absl::StrCat("a-", i, "-3"), 240, i + 5, Act::kAssess, pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
  }
  WaitUntilSettled({"outcomes"});
  ExpectCountsAddUp({"outcomes"}, "one replica again");
  ExpectEachPersonAnsweredOnce({"outcomes"}, "one replica again");

  // Nothing was dead-lettered anywhere: every fact was applied, by one replica or the other.
  for (const char* replica : {"outcomes", "outcomes-reference"}) {
    EXPECT_EQ(testing::MetricSum(platform_->MetricsAddress(replica), "pbr_events_dead_lettered_total").value_or(0), 0)
        << replica;
  }
}

}  // namespace
}  // namespace pbr::systemtest
