#include "ledger_store.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "testing/process.h"

namespace pbr::services {
namespace {

using platform::FromProto;
using platform::ToProto;

constexpr absl::string_view kFamily = "ledger";
absl::Time T(int day, int hour = 10) { return absl::FromUnixSeconds(1'767'225'600 + day * 86'400 + hour * 3600); }

pbr::v1::AssessmentRecorded Recorded(const std::string& id, int day, int cluster, int revision = 0) {
  pbr::v1::AssessmentRecorded a;
  a.set_assessment_id(id);
  a.set_revision(revision);
  *a.mutable_assessed_at() = ToProto(T(day));
  a.set_cluster(cluster);
  a.set_reason(pbr::v1::ASSESSMENT_REASON_INITIAL);
  a.set_team_id("east");
  a.set_commissioner_id("ccg-1");
  a.set_service_area("community");
  return a;
}

pbr::v1::CareEventRecorded Event(const std::string& id, pbr::v1::CareEventType type, int day, int revision = 0) {
  pbr::v1::CareEventRecorded e;
  e.set_care_event_id(id);
  e.set_revision(revision);
  e.set_type(type);
  *e.mutable_occurred_at() = ToProto(T(day));
  e.set_team_id("east");
  return e;
}

TEST(LedgerConversion, AnAssessmentCarriesItsContentAndTakesEffectAtItsMhctTimeUnlessToldOtherwise) {
  const ledger::Assessment a = AssessmentFromEvent(Recorded("a1", 3, 11, 2));
  EXPECT_EQ(a.id, "a1");
  EXPECT_EQ(a.revision, 2);
  EXPECT_FALSE(a.withdrawn);
  EXPECT_EQ(a.assessed_at, T(3));
  EXPECT_EQ(a.effective_at, T(3)) << "no effective_at: the cluster took effect at the MHCT";
  EXPECT_EQ(a.cluster, 11);
  EXPECT_EQ(a.kind, ledger::AssessmentKind::kInitial);
  EXPECT_EQ(a.team_id, "east");
  EXPECT_EQ(a.commissioner_id, "ccg-1");
  EXPECT_EQ(a.service_area, "community");

  auto inpatient = Recorded("a2", 5, 14);
  *inpatient.mutable_effective_at() = ToProto(T(3));  // back-dated to the admission
  EXPECT_EQ(AssessmentFromEvent(inpatient).effective_at, T(3));
  EXPECT_EQ(AssessmentFromEvent(inpatient).assessed_at, T(5));
}

TEST(LedgerConversion, AWithdrawalCarriesItsIdentityOnly) {
  auto w = Recorded("a1", 3, 11, 1);
  w.set_withdrawn(true);
  const ledger::Assessment a = AssessmentFromEvent(w);
  EXPECT_TRUE(a.withdrawn);
  EXPECT_EQ(a.revision, 1);
  EXPECT_EQ(a.cluster, 0);
  EXPECT_TRUE(a.team_id.empty());
  EXPECT_EQ(a.assessed_at, absl::Time());

  auto we = Event("d1", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, 4, 1);
  we.set_withdrawn(true);
  const ledger::CareEvent e = CareEventFromEvent(we);
  EXPECT_TRUE(e.withdrawn);
  EXPECT_EQ(e.revision, 1);
  EXPECT_EQ(e.kind, ledger::CareEventKind::kOther);
  EXPECT_TRUE(e.team_id.empty());

  const pbr::state::v1::LedgerAssessment r = ToRecord(a);
  EXPECT_TRUE(r.withdrawn());
  EXPECT_FALSE(r.has_assessed_at());
  EXPECT_TRUE(r.team_id().empty());
}

TEST(LedgerConversion, EveryReasonAndCareEventTypeMapsBothWays) {
  for (int v = pbr::v1::AssessmentReason_MIN; v <= pbr::v1::AssessmentReason_MAX; ++v) {
    const auto reason = static_cast<pbr::v1::AssessmentReason>(v);
    EXPECT_EQ(AssessmentReasonOf(AssessmentKindOf(reason)), reason) << v;
  }
  for (int v = pbr::v1::CareEventType_MIN; v <= pbr::v1::CareEventType_MAX; ++v) {
    const auto type = static_cast<pbr::v1::CareEventType>(v);
    EXPECT_EQ(CareEventTypeOf(CareEventKindOf(type)), type) << v;
  }
  EXPECT_EQ(CareEventKindOf(pbr::v1::CARE_EVENT_REFERRAL_RECEIVED), ledger::CareEventKind::kReferralReceived);
  EXPECT_EQ(CareEventKindOf(pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE), ledger::CareEventKind::kDischargeFromService);
  // A value from a newer contract than this build: no meaning to the ledger.
  EXPECT_EQ(CareEventKindOf(static_cast<pbr::v1::CareEventType>(77)), ledger::CareEventKind::kOther);
  EXPECT_EQ(AssessmentKindOf(static_cast<pbr::v1::AssessmentReason>(77)), ledger::AssessmentKind::kUnspecified);
}

TEST(LedgerConversion, ChangeClassesAndAcuteEventsAsTheRulesName) {
  EXPECT_EQ(ChangeClassOf(pbr::v1::CHANGE_CLASS_IMPROVEMENT), care::ChangeClass::kImprovement);
  EXPECT_EQ(ChangeClassOf(pbr::v1::CHANGE_CLASS_NO_CHANGE), care::ChangeClass::kNoChange);
  EXPECT_EQ(ChangeClassOf(pbr::v1::CHANGE_CLASS_DETERIORATION), care::ChangeClass::kDeterioration);
  EXPECT_EQ(ChangeClassOf(pbr::v1::CHANGE_CLASS_CHANGE_IN_DIAGNOSIS), care::ChangeClass::kChangeInDiagnosis);
  EXPECT_EQ(ChangeClassOf(pbr::v1::CHANGE_CLASS_UNSPECIFIED), care::ChangeClass::kNoChange);
  // The acute events the transition protocol looks back over (12 months), and nothing else.
  std::set<care::HistoryTrigger> triggers;
  for (int v = pbr::v1::CareEventType_MIN; v <= pbr::v1::CareEventType_MAX; ++v) {
    const auto kind = CareEventKindOf(static_cast<pbr::v1::CareEventType>(v));
    if (auto t = HistoryTriggerOf(kind)) triggers.insert(*t);
  }
  EXPECT_EQ(triggers, (std::set<care::HistoryTrigger>{care::HistoryTrigger::kCrhtReferral,
                                                      care::HistoryTrigger::kInpatientReferral,
                                                      care::HistoryTrigger::kAdmission,
                                                      care::HistoryTrigger::kMhaAssessment,
                                                      care::HistoryTrigger::kMedicationNonConcordance}));
  EXPECT_FALSE(HistoryTriggerOf(ledger::CareEventKind::kFaceToFaceContact).has_value());
  EXPECT_FALSE(HistoryTriggerOf(ledger::CareEventKind::kDischargeFromService).has_value());
}

TEST(LedgerConversion, RecordsRoundTrip) {
  auto in = Recorded("a1", 3, 14);
  *in.mutable_effective_at() = ToProto(T(1));
  const ledger::Assessment a = AssessmentFromEvent(in);
  const ledger::Assessment back = FromRecord(ToRecord(a));
  EXPECT_EQ(back.id, a.id);
  EXPECT_EQ(back.assessed_at, a.assessed_at);
  EXPECT_EQ(back.effective_at, T(1));
  EXPECT_EQ(back.cluster, 14);
  EXPECT_EQ(back.kind, a.kind);
  EXPECT_EQ(back.team_id, a.team_id);
  EXPECT_EQ(back.commissioner_id, a.commissioner_id);
  EXPECT_EQ(back.service_area, a.service_area);

  auto ev = Event("r1", pbr::v1::CARE_EVENT_REFERRAL_RECEIVED, 2, 3);
  ev.set_out_of_hours(true);
  const ledger::CareEvent e = FromRecord(ToRecord(CareEventFromEvent(ev)));
  EXPECT_EQ(e.id, "r1");
  EXPECT_EQ(e.revision, 3);
  EXPECT_EQ(e.kind, ledger::CareEventKind::kReferralReceived);
  EXPECT_EQ(e.occurred_at, T(2));
  EXPECT_EQ(e.team_id, "east");
  EXPECT_TRUE(e.out_of_hours);
}

class LedgerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *platform::Store::Open(dir_.path(), {std::string(kFamily)});
    outbox_ = *platform::Outbox::Open(*store_, platform::KafkaSettings{}, nullptr);
  }
  // Folds one fact as a handler would (load, fold, stage) and writes the batch. Returns whether it
  // changed the facts, and how many writes it staged.
  template <typename Fact>
  std::pair<bool, int> Fold(const std::string& person, Fact fact) {
    rocksdb::WriteBatch batch;
    platform::ApplyContext ctx(*store_, *outbox_, batch, T(100));
    auto folded = FoldIntoLedger(ctx, kFamily, person, std::move(fact));
    EXPECT_TRUE(folded.ok()) << folded.status();
    const int staged = batch.Count();
    EXPECT_TRUE(store_->Write(batch, false).ok());
    return {folded.ok() && folded->changed, staged};
  }
  ledger::PersonFacts Load(const std::string& person) {
    auto facts = LoadPersonFacts(*store_, kFamily, person);
    EXPECT_TRUE(facts.ok()) << facts.status();
    return facts.value_or(ledger::PersonFacts{});
  }

  pbr::testing::TempDir dir_;
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
};

TEST_F(LedgerStoreTest, FactsAreStoredUnderThePersonAndLoadedBack) {
  EXPECT_EQ(Fold("p1", AssessmentFromEvent(Recorded("a1", 1, 11))), std::make_pair(true, 1));
  EXPECT_EQ(Fold("p1", CareEventFromEvent(Event("d1", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, 5))),
            std::make_pair(true, 1));
  EXPECT_EQ(Fold("p2", AssessmentFromEvent(Recorded("a2", 1, 4))), std::make_pair(true, 1));
  EXPECT_TRUE(store_->Get(kFamily, "p1/a/a1")->has_value());
  EXPECT_TRUE(store_->Get(kFamily, "p1/e/d1")->has_value());

  const ledger::PersonFacts p1 = Load("p1");
  EXPECT_EQ(p1.assessments().size(), 1u);
  EXPECT_EQ(p1.care_events().size(), 1u);
  const ledger::CareRecord r = ledger::Derive("p1", p1);
  EXPECT_EQ(r.current_episode(), nullptr) << "discharged";
  ASSERT_NE(r.last_referral(), nullptr);
  EXPECT_EQ(r.last_referral()->closed_at, T(5));

  auto one = LoadLedgerAssessment(*store_, kFamily, "p2", "a2");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->cluster, 4);
  EXPECT_FALSE(LoadLedgerAssessment(*store_, kFamily, "p2", "a1")->has_value());
}

TEST_F(LedgerStoreTest, AStaleOrRepeatedRevisionStagesNothingAndATombstoneStays) {
  Fold("p1", AssessmentFromEvent(Recorded("a1", 1, 11)));
  EXPECT_EQ(Fold("p1", AssessmentFromEvent(Recorded("a1", 1, 11))), std::make_pair(false, 0));
  auto withdrawn = Recorded("a1", 1, 11, 1);
  withdrawn.set_withdrawn(true);
  EXPECT_EQ(Fold("p1", AssessmentFromEvent(withdrawn)), std::make_pair(true, 1));
  EXPECT_EQ(Fold("p1", AssessmentFromEvent(Recorded("a1", 1, 11))), std::make_pair(false, 0));
  const ledger::PersonFacts f = Load("p1");
  ASSERT_EQ(f.assessments().size(), 1u);
  EXPECT_TRUE(f.assessments().at("a1").withdrawn);
  EXPECT_EQ(f.assessments().at("a1").revision, 1);
  EXPECT_TRUE(f.LiveAssessments().empty());
}

TEST_F(LedgerStoreTest, APersonWhoseIdExtendsAnothersIsNotMixedIn) {
  Fold("p", AssessmentFromEvent(Recorded("a1", 1, 11)));
  Fold("p/a", AssessmentFromEvent(Recorded("x", 2, 4)));   // key "p/a/a/x", under "p/"
  Fold("p/e", CareEventFromEvent(Event("y", pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE, 3)));  // "p/e/e/y"
  const ledger::PersonFacts f = Load("p");
  EXPECT_EQ(f.assessments().size(), 1u);
  EXPECT_EQ(f.assessments().count("a1"), 1u);
  EXPECT_TRUE(f.care_events().empty());
  EXPECT_EQ(Load("p/a").assessments().count("x"), 1u);
}

TEST_F(LedgerStoreTest, AnUnreadableRecordIsDataLoss) {
  rocksdb::WriteBatch batch;
  batch.Put(store_->Family(kFamily), "p1/a/a1", "\xff\xff not a record");
  ASSERT_TRUE(store_->Write(batch, false).ok());
  auto facts = LoadPersonFacts(*store_, kFamily, "p1");
  EXPECT_EQ(facts.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(LoadLedgerAssessment(*store_, kFamily, "p1", "a1").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace pbr::services
