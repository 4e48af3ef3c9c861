// The tariff ledger through the whole platform (issue 12), checked against a calculation of its own.
//
// A year of synthetic history (November 2025 to November 2026) for 90 people on community teams of two
// commissioners (rules/teams.yaml: cmht-north and eip-north bill 00X, priced per cluster-day; cmht-south bills 00Y,
// priced per review period; now and then an assessment names 00Z, which has no price list) is entered through
// allocation's gRPC API: initial assessments, reviews to another cluster or the same one, and discharges. The
// platform's clock is fixed at 22 November 2026, so reporting closes every month up to October 2026.
//
// The test calculates, without the ledger or the rules library's period functions, each person's cluster episodes
// (a new one whenever the cluster changes, the old one ending the day before; a discharge's day billed), each
// month's cluster-days and review periods started (back to back from the episode start, 6 calendar months for
// every cluster used here, clamped at month end), and prices them from the price lists' tables (00Y's 2025/26 and
// 00Z's every month are gaps: counted, never priced). It checks the net of every line per commissioner and month,
// from the stream and from the exports, against that; then a late amendment to a closed month and a withdrawal,
// which must add reversals and restatements bringing the months to their new figures; and a finance client that
// is cut off mid-stream, reporting SIGKILLed and restarted, and the client resuming from its last cursor: every
// sequence exactly once, the same lines as a fresh stream from 0 and as the tariff-activity topic (each
// commissioner's lines on one partition). No NHS number, EPR record id or clinician id appears in any of them.
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "care/rules.h"
#include "gtest/gtest.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "pbr/v1/finance.grpc.pb.h"
#include "platform/consumer.h"
#include "platform/events.h"
#include "platform/outbox.h"
#include "platform/store.h"
#include "platform_fixture.h"
#include "system_history.h"
#include "testing/local_platform.h"
#include "testing/process.h"

namespace pbr::systemtest {
namespace {

namespace topic = platform::topic;
using history::Local;
using history::UkDay;

constexpr absl::string_view kEpr = "epr-tariff";
const absl::CivilMonth kLastClosed(2026, 10);  // the clock is 22 November 2026

// The teams used and the clusters their service areas hold (all on 6-month review periods in the SOP).
struct TeamPlan {
  std::string id;
  std::vector<int> clusters;
};
const std::vector<TeamPlan> kTeams = {{"cmht-north", {4, 5, 6, 7, 8}},
                                      {"cmht-south", {4, 5, 6, 7, 8}},
                                      {"eip-north", {11, 12, 13, 16, 17}}};

struct Assessment {
  std::string record_id;
  absl::Time at;
  int cluster = 0;
  bool live = true;
};

struct Person {
  std::string label, nhs, clinician, team, commissioner_sent, person_id;
  std::vector<Assessment> assessments;  // in time order
  std::optional<absl::Time> discharged_at;
  std::string discharge_record;
  std::vector<std::string> history;  // for history::Accepted's report
};

// d + n calendar months, the day clamped to the target month's last day (the test's own).
absl::CivilDay AddMonths(absl::CivilDay d, int n) {
  const absl::CivilMonth m = absl::CivilMonth(d) + n;
  const int last = static_cast<int>(absl::CivilDay(m + 1) - absl::CivilDay(m));
  return absl::CivilDay(m.year(), m.month(), std::min(d.day(), last));
}

struct Figure {
  int64_t days = 0, periods = 0, amount = 0, unpriced_days = 0;
  bool operator==(const Figure&) const = default;
};
std::string Show(const Figure& f) {
  return absl::StrFormat("days %d, periods %d, amount %d, unpriced days %d", f.days, f.periods, f.amount,
                         f.unpriced_days);
}
using ByMonth = std::map<std::pair<std::string, int>, Figure>;  // (commissioner, YYYYMM)

class TariffSystemTest : public PlatformFixture {
 protected:
  void SetUp() override {
    PlatformFixture::SetUp();
    if (HasFatalFailure()) return;
    allocation_ = Stub<pbr::v1::Allocation>("allocation", absl::StrCat("epr-feed:", kEpr));
    // A reader of tariff-activity built on the platform library like any consumer, keeping where each line landed.
    store_ = *platform::Store::Open(dir_.path() + "/reader", {});
    platform::KafkaSettings kafka;
    kafka.bootstrap = platform_->bootstrap();
    kafka.group_id = "test-finance-reader";
    outbox_ = *platform::Outbox::Open(*store_, kafka, nullptr);
    reader_ = std::make_unique<platform::Consumer>(*store_, *outbox_, kafka, nullptr, clock_);
    reader_->ValidateWith([](absl::string_view, const pbr::v1::EventEnvelope&) { return absl::OkStatus(); });
    reader_->On(topic::kTariffActivity, [this](const platform::ConsumedEvent& ev, platform::ApplyContext&) {
      std::lock_guard lock(mu_);
      topic_[ev.event.tariff_activity().sequence()] = {ev.partition, ev.event.SerializeAsString(),
                                                       ev.event.tariff_activity().SerializeAsString()};
      return absl::OkStatus();
    });
    ASSERT_TRUE(reader_->Start([](const absl::Status& s) { ADD_FAILURE() << s; }).ok());
  }
  void TearDown() override {
    if (reader_) reader_->Stop();
    if (outbox_) outbox_->Stop(absl::Seconds(5));
    PlatformFixture::TearDown();
  }

  // ---- the history ----

  std::vector<Person> Plan() {
    Rng rng(20261122);
    std::vector<Person> people(90);
    for (int i = 0; i < static_cast<int>(people.size()); ++i) {
      Person& p = people[static_cast<size_t>(i)];
      p.label = absl::StrCat("person ", i);
      p.nhs = testing::NhsNumber(944000000 + i * 17);
      p.clinician = absl::StrCat("clin-tariff-", i % 7);
      const TeamPlan& team = kTeams[static_cast<size_t>(i) % kTeams.size()];
      p.team = team.id;
      if (i % 15 == 7) p.commissioner_sent = "00Z";
      const absl::CivilDay first(2025, 11, 1);
      const absl::CivilDay start = first + rng.Uniform(0, 330);
      p.assessments.push_back({absl::StrCat("TSR-", i, "-1"), Local(start, rng.Uniform(9, 16)), rng.Pick(team.clusters)});
      absl::CivilDay last = start;
      if (rng.Chance(60)) {
        const absl::CivilDay review = start + rng.Uniform(40, 200);
        if (review < absl::CivilDay(2026, 11, 15)) {
          const int cluster = rng.Chance(60) ? rng.Pick(team.clusters) : p.assessments[0].cluster;
          p.assessments.push_back({absl::StrCat("TSR-", i, "-2"), Local(review, rng.Uniform(9, 16)), cluster});
          last = review;
        }
      }
      if (rng.Chance(30)) {
        const absl::CivilDay discharge = last + rng.Uniform(10, 150);
        if (discharge < absl::CivilDay(2026, 11, 15)) {
          p.discharged_at = Local(discharge, 17);
          p.discharge_record = absl::StrCat("TSR-", i, "-d");
        }
      }
    }
    return people;
  }

  pbr::v1::RecordAssessmentRequest Request(const Person& p, const Assessment& a, bool first) {
    pbr::v1::RecordAssessmentRequest r;
    r.set_source_system(std::string(kEpr));
    r.set_source_record_id(a.record_id);
    r.set_nhs_number(p.nhs);
    r.set_team_id(p.team);
    r.set_clinician_id(p.clinician);
    *r.mutable_assessed_at() = platform::ToProto(a.at);
    for (int v : Ratings(static_cast<int>(absl::ToUnixSeconds(a.at) / 86400))) r.mutable_ratings()->add_items(v);
    if (r.ratings().items(7) >= 1 && r.ratings().items(7) <= 4) r.mutable_ratings()->set_item8_problem_type("B");
    r.set_cluster(a.cluster);
    r.set_reason(first ? pbr::v1::ASSESSMENT_REASON_INITIAL : pbr::v1::ASSESSMENT_REASON_FORMAL_REVIEW);
    if (!first) r.set_change_class(pbr::v1::CHANGE_CLASS_NO_CHANGE);  // a rationale answers any transition refusal
    r.set_commissioner_id(p.commissioner_sent);
    return r;
  }

  // Records (or amends) one assessment; a refusal for want of a rationale is sent again with one.
  bool SendAssessment(Person& p, const Assessment& a, bool first, history::Act act) {
    p.history.push_back(absl::StrCat(act == history::Act::kAmend ? "amend " : "assess ", a.record_id, " cluster ",
                                     a.cluster, " at ", history::TimeText(a.at)));
    auto request = Request(p, a, first);
    pbr::v1::RecordAssessmentReply reply;
    grpc::Status st;
    for (int attempt = 0; attempt < 2; ++attempt) {
      st = history::SendAssessment(*allocation_, act, request, &reply);
      if (st.error_code() != grpc::StatusCode::FAILED_PRECONDITION ||
          !absl::StrContains(st.error_message(), "clinical_rationale")) {
        break;
      }
      request.set_clinical_rationale("tariff system test: the clinician's reason for this cluster");
    }
    if (st.ok()) history::Know(p, reply.person_id());
    return history::Accepted(st, p, a.record_id);
  }

  bool SendDischarge(Person& p) {
    pbr::v1::RecordCareEventRequest r;
    r.set_source_system(std::string(kEpr));
    r.set_source_record_id(p.discharge_record);
    r.set_nhs_number(p.nhs);
    r.set_team_id(p.team);
    r.set_clinician_id(p.clinician);
    r.set_type(pbr::v1::CARE_EVENT_DISCHARGE_FROM_SERVICE);
    *r.mutable_occurred_at() = platform::ToProto(*p.discharged_at);
    pbr::v1::RecordCareEventReply reply;
    const grpc::Status st = history::SendCareEvent(*allocation_, r, &reply);
    if (st.ok()) history::Know(p, reply.person_id());
    return history::Accepted(st, p, p.discharge_record);
  }

  // ---- the calculation ----

  std::string CommissionerOf(const Person& p) const {
    return p.commissioner_sent.empty() ? rules_->teams().Find(p.team)->default_commissioner : p.commissioner_sent;
  }

  // Every closed month's figure per commissioner, from the model.
  ByMonth Expected(const std::vector<Person>& people) const {
    ByMonth out;
    for (const Person& p : people) {
      struct Spell {
        int cluster;
        absl::CivilDay start;
        std::optional<absl::CivilDay> last;
      };
      std::vector<Spell> spells;
      for (const Assessment& a : p.assessments) {
        if (!a.live) continue;
        const absl::CivilDay day = UkDay(a.at);
        if (!spells.empty() && spells.back().cluster == a.cluster) continue;  // the same episode goes on
        if (!spells.empty()) spells.back().last = day - 1;
        spells.push_back({a.cluster, day, std::nullopt});
      }
      if (p.discharged_at && !spells.empty()) spells.back().last = UkDay(*p.discharged_at);
      const std::string commissioner = CommissionerOf(p);
      for (const Spell& s : spells) {
        const absl::CivilDay end = s.last.value_or(absl::CivilDay(kLastClosed + 1) - 1);
        for (absl::CivilMonth m(s.start); m <= kLastClosed && absl::CivilDay(m) <= end; ++m) {
          const absl::CivilDay from = std::max(absl::CivilDay(m), s.start);
          const absl::CivilDay to = std::min(absl::CivilDay(m + 1) - 1, end);
          if (to < from) continue;
          const int64_t days = (to - from) + 1;
          int64_t periods = 0;
          for (int k = 0;; ++k) {
            const absl::CivilDay starts = AddMonths(s.start, 6 * k);
            if (starts > to) break;
            if (starts >= from) ++periods;
          }
          Figure& f = out[{commissioner, static_cast<int>(m.year()) * 100 + m.month()}];
          f.days += days;
          f.periods += periods;
          const care::PriceList* list = rules_->FindPriceList(commissioner, absl::CivilDay(m));
          auto price = list != nullptr ? list->price_pence.find(s.cluster) : std::map<int, int64_t>::const_iterator();
          if (list == nullptr || price == list->price_pence.end()) {
            f.unpriced_days += days;
          } else {
            f.amount += price->second * (list->basis == care::PriceBasis::kPerClusterDay ? days : periods);
          }
        }
      }
    }
    return out;
  }

  // ---- what reporting says ----

  // A commissioner's month as exported (FAILED_PRECONDITION while the month is not closed).
  grpc::Status Export(const std::string& commissioner, int yyyymm, std::string* csv, pbr::v1::TariffExportTotals* totals) {
    pbr::v1::ExportTariffRequest r;
    r.set_commissioner_id(commissioner);
    r.set_year(yyyymm / 100);
    r.set_month(yyyymm % 100);
    auto ctx = testing::CallContext();
    auto reader = Stub<pbr::v1::Finance>("reporting")->ExportTariff(ctx.get(), r);
    pbr::v1::TariffExportChunk chunk;
    csv->clear();
    while (reader->Read(&chunk)) {
      *csv += chunk.csv();
      if (chunk.has_totals()) *totals = chunk.totals();
    }
    return reader->Finish();
  }

  // Every (commissioner, month) the model or reporting could have lines for, exported: the figures, the
  // export texts, and the highest sequence issued.
  struct Exported {
    ByMonth figures;
    std::vector<std::string> csv;
    int64_t lines = 0;
    uint64_t last_sequence = 0;
    bool ok = true;
  };
  Exported ExportAll() {
    Exported out;
    for (const std::string c : {"00X", "00Y", "00Z"}) {
      for (absl::CivilMonth m(2025, 11); m <= kLastClosed; ++m) {
        const int yyyymm = static_cast<int>(m.year()) * 100 + m.month();
        std::string csv;
        pbr::v1::TariffExportTotals t;
        const grpc::Status st = Export(c, yyyymm, &csv, &t);
        if (!st.ok()) {
          out.ok = false;
          return out;
        }
        if (t.lines() > 0) {
          out.figures[{c, yyyymm}] = {t.days(), t.review_periods_started(), t.amount_pence(), t.unpriced_days()};
        }
        out.lines += t.lines();
        out.last_sequence = std::max(out.last_sequence, t.last_sequence());
        out.csv.push_back(std::move(csv));
      }
    }
    return out;
  }

  // Lines streamed after `after` until sequence `until` has arrived (or the call's deadline).
  std::vector<pbr::v1::TariffActivity> Stream(uint64_t after, uint64_t until, const std::string& ledger = "") {
    pbr::v1::StreamTariffActivityRequest r;
    r.set_after_sequence(after);
    r.set_ledger_id(ledger);
    if (after >= until) return {};
    auto ctx = testing::CallContext(absl::Seconds(60));
    auto reader = Stub<pbr::v1::Finance>("reporting")->StreamTariffActivity(ctx.get(), r);
    std::vector<pbr::v1::TariffActivity> out;
    pbr::v1::TariffActivity line;
    while (out.empty() || out.back().sequence() < until) {
      if (!reader->Read(&line)) break;
      out.push_back(line);
    }
    ctx->TryCancel();
    while (reader->Read(&line)) {
    }
    reader->Finish();
    return out;
  }

  static ByMonth Net(const std::vector<pbr::v1::TariffActivity>& lines) {
    ByMonth out;
    for (const auto& l : lines) {
      Figure& f = out[{l.commissioner_id(), l.year() * 100 + l.month()}];
      f.days += l.days();
      f.periods += l.review_periods_started();
      f.amount += l.amount_pence();
      if (!l.priced()) f.unpriced_days += l.days();
    }
    return out;
  }

  static void ExpectSame(const ByMonth& got, const ByMonth& want, const std::string& what) {
    std::set<std::pair<std::string, int>> keys;
    for (const auto& [k, _] : got) keys.insert(k);
    for (const auto& [k, _] : want) keys.insert(k);
    int shown = 0;
    for (const auto& k : keys) {
      const Figure g = got.count(k) ? got.at(k) : Figure{}, w = want.count(k) ? want.at(k) : Figure{};
      if (!(g == w) && shown++ < 10) {
        ADD_FAILURE() << what << ": commissioner " << k.first << " month " << k.second << ": got " << Show(g)
                      << "; expected " << Show(w);
      }
    }
  }

  // Waits until reporting's exports equal `want` (it has taken every fact and closed the months); the exports.
  Exported WaitForFigures(const ByMonth& want, const std::string& what) {
    Exported last;
    const bool agreed = testing::WaitUntil(
        [&] {
          last = ExportAll();
          return last.ok && last.figures == want;
        },
        absl::Seconds(120), absl::Milliseconds(200));
    if (!agreed) {
      if (!last.ok) ADD_FAILURE() << what << ": the months never closed\n" << testing::Tail(platform_->LogPath("reporting"));
      ExpectSame(last.figures, want, what);
    }
    return last;
  }

  // The text of every identity the EPR sent that finance must never see.
  std::vector<std::string> Identities(const std::vector<Person>& people) const {
    std::vector<std::string> out;
    for (const Person& p : people) {
      out.push_back(p.nhs);
      out.push_back(p.clinician);
      for (const Assessment& a : p.assessments) out.push_back(a.record_id);
      if (!p.discharge_record.empty()) out.push_back(p.discharge_record);
    }
    return out;
  }

  struct OnTopic {
    int32_t partition = 0;
    std::string envelope, line;
  };

  std::unique_ptr<pbr::v1::Allocation::Stub> allocation_;
  platform::ManualClock clock_{absl::FromUnixSeconds(1795000000)};
  std::unique_ptr<platform::Store> store_;
  std::unique_ptr<platform::Outbox> outbox_;
  std::unique_ptr<platform::Consumer> reader_;
  std::mutex mu_;
  std::map<uint64_t, OnTopic> topic_;  // guarded by mu_
};

TEST_F(TariffSystemTest, AYearIsBilledCorrectedStreamedAcrossARestartAndExportedWithoutIdentities) {
  std::vector<Person> people = Plan();
  for (Person& p : people) {
    for (size_t k = 0; k < p.assessments.size(); ++k) {
      ASSERT_TRUE(SendAssessment(p, p.assessments[k], k == 0, history::Act::kAssess));
    }
    if (p.discharged_at) {
      ASSERT_TRUE(SendDischarge(p));
    }
  }
  const ByMonth year = Expected(people);
  ASSERT_GT(year.size(), 20u);
  int64_t unpriced = 0, per_period = 0;
  for (const auto& [k, f] : year) {
    unpriced += f.unpriced_days;
    if (k.first == "00Y") per_period += f.periods;
  }
  ASSERT_GT(unpriced, 0) << "the history has gaps to show (00Y in 2025/26, 00Z)";
  ASSERT_GT(per_period, 0);
  const Exported billed = WaitForFigures(year, "the year as billed");
  ASSERT_GT(billed.last_sequence, 0u);

  // A finance client streams from the start; half way through, the EPR sends a late amendment and a withdrawal,
  // and reporting dies without warning while the stream is open and those facts are arriving.
  auto cut_context = testing::CallContext(absl::Seconds(120));
  auto cut = Stub<pbr::v1::Finance>("reporting")->StreamTariffActivity(cut_context.get(), {});
  std::vector<pbr::v1::TariffActivity> first;
  pbr::v1::TariffActivity line;
  while (first.size() < billed.last_sequence / 2 && cut->Read(&line)) first.push_back(line);
  ASSERT_FALSE(first.empty());
  const std::string ledger = first.front().ledger_id();

  // A late amendment to a closed month: person 0's first assessment had another cluster.
  Person& amended = people[0];
  const TeamPlan& team = kTeams[0];
  Assessment changed = amended.assessments[0];
  changed.cluster = changed.cluster == team.clusters[0] ? team.clusters[1] : team.clusters[0];
  ASSERT_TRUE(SendAssessment(amended, changed, true, history::Act::kAmend));
  amended.assessments[0] = changed;
  // A withdrawal: the first person on 00Y with a closed month billed loses their initial assessment.
  Person* withdrawn = nullptr;
  for (Person& p : people) {
    if (CommissionerOf(p) == "00Y" && p.assessments.size() == 1 && UkDay(p.assessments[0].at) < absl::CivilDay(2026, 9, 1)) {
      withdrawn = &p;
      break;
    }
  }
  ASSERT_NE(withdrawn, nullptr);
  pbr::v1::WithdrawAssessmentReply withdrawal;
  ASSERT_TRUE(history::WithdrawAssessment(*allocation_, kEpr,
                                          history::Withdrawal<history::Record>(history::Act::kWithdrawAssessment,
                                                                               withdrawn->assessments[0].record_id,
                                                                               "entered against the wrong person"),
                                          &withdrawal)
                  .ok());
  withdrawn->assessments[0].live = false;
  platform_->KillService("reporting");
  while (cut->Read(&line)) first.push_back(line);  // whatever had reached the client
  EXPECT_FALSE(cut->Finish().ok()) << "the stream was cut off";
  const uint64_t cursor = first.back().sequence();
  ASSERT_TRUE(platform_->StartService("reporting").ok()) << testing::Tail(platform_->LogPath("reporting"));

  const ByMonth restated = Expected(people);
  ASSERT_NE(restated, year);
  const Exported after = WaitForFigures(restated, "the year restated");

  // The client resumes from its cursor: the rest, then the corrections, nothing twice, nothing missing.
  std::vector<pbr::v1::TariffActivity> rest = Stream(cursor, after.last_sequence, ledger);
  std::vector<pbr::v1::TariffActivity> all = first;
  all.insert(all.end(), rest.begin(), rest.end());
  ASSERT_EQ(all.size(), after.last_sequence);
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].sequence(), i + 1) << "a gap or a repeat";
  EXPECT_EQ(static_cast<int64_t>(all.size()), after.lines);
  ExpectSame(Net(all), restated, "the stream's net");
  const std::vector<pbr::v1::TariffActivity> fresh = Stream(0, after.last_sequence);
  ASSERT_EQ(fresh.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(fresh[i].SerializeAsString(), all[i].SerializeAsString()) << "line " << i + 1 << " changed";
  }

  // The corrections say what they are.
  int reversals = 0, restatements = 0;
  for (const auto& l : all) {
    EXPECT_EQ(l.ledger_id(), ledger) << "one ledger across the restart";
    if (l.sequence() <= billed.last_sequence) continue;
    EXPECT_NE(l.kind(), pbr::v1::TARIFF_LINE_ORIGINAL) << l.cause();
    EXPECT_FALSE(l.cause_event_id().empty());
    EXPECT_TRUE(absl::StrContains(l.cause(), "corrects ")) << l.cause();
    if (l.kind() == pbr::v1::TARIFF_LINE_REVERSAL) {
      ++reversals;
      EXPECT_GT(l.reverses_sequence(), 0u);
      EXPECT_LT(l.reverses_sequence(), l.sequence());
    }
    if (l.kind() == pbr::v1::TARIFF_LINE_RESTATEMENT) ++restatements;
    if (l.person_id() == withdrawn->person_id) {
      EXPECT_EQ(l.kind(), pbr::v1::TARIFF_LINE_REVERSAL) << "a withdrawal only reverses";
      EXPECT_TRUE(absl::StrContains(l.cause(), "withdrawn")) << l.cause();
    }
  }
  EXPECT_GT(reversals, 0);
  EXPECT_GT(restatements, 0);
  std::map<int, int64_t> withdrawn_net;
  for (const auto& l : all) {
    if (l.person_id() == withdrawn->person_id) withdrawn_net[l.year() * 100 + l.month()] += l.amount_pence() + l.days();
  }
  ASSERT_FALSE(withdrawn_net.empty());
  for (const auto& [month, net] : withdrawn_net) EXPECT_EQ(net, 0) << "month " << month << " still billed";

  // The topic has every line once, as streamed, each commissioner's on one partition.
  const bool on_topic = testing::WaitUntil(
      [&] {
        std::lock_guard lock(mu_);
        return topic_.size() >= all.size();
      },
      absl::Seconds(60));
  ASSERT_TRUE(on_topic) << "lines published: " << topic_.size() << " of " << all.size();
  std::map<std::string, std::set<int32_t>> partitions;
  {
    std::lock_guard lock(mu_);
    for (const auto& l : all) {
      ASSERT_TRUE(topic_.count(l.sequence())) << l.sequence();
      EXPECT_EQ(topic_.at(l.sequence()).line, l.SerializeAsString());
      partitions[l.commissioner_id()].insert(topic_.at(l.sequence()).partition);
    }
  }
  EXPECT_EQ(partitions.size(), 3u);
  for (const auto& [c, parts] : partitions) EXPECT_EQ(parts.size(), 1u) << c << " spread over partitions";

  // No identity the EPR sent reaches finance: not the stream, the topic or the exports.
  const std::vector<std::string> identities = Identities(people);
  std::string everything;
  for (const auto& l : all) everything += l.SerializeAsString();
  {
    std::lock_guard lock(mu_);
    for (const auto& [_, t] : topic_) everything += t.envelope;
  }
  for (const auto& csv : after.csv) everything += csv;
  for (const std::string& id : identities) {
    EXPECT_FALSE(absl::StrContains(everything, id)) << id << " reached finance";
  }
  EXPECT_TRUE(absl::StrContains(everything, amended.person_id)) << "the pseudonym is what finance reconciles by";
}

}  // namespace
}  // namespace pbr::systemtest
