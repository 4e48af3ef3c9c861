// Reporting's tariff ledger: facts in, closed months billed, every change to a closed month corrected.
#include "projections/tariff/tariff.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ledger_store.h"
#include "platform/events.h"
#include "platform/quote.h"
#include "platform/store.h"

namespace pbr::reporting {
namespace {

using pbr::state::v1::TariffBilled;
using pbr::state::v1::TariffMeta;
using pbr::state::v1::TariffPerson;
using tariff::ActivityKey;
using tariff::MonthActivity;

constexpr absl::string_view kMetaKey = "ledger";

std::string MonthText(int yyyymm) { return absl::StrFormat("%04d-%02d", yyyymm / 100, yyyymm % 100); }

absl::StatusOr<std::optional<TariffPerson>> LoadPerson(const platform::StoreReader& store,
                                                       absl::string_view person_id) {
  auto stored = store.Get(kTariffPeopleFamily, person_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<TariffPerson>();
  TariffPerson p;
  if (!p.ParseFromString(**stored)) {
    return absl::DataLossError(absl::StrCat("stored tariff record of person ", platform::Quote(person_id),
                                            " is unreadable"));
  }
  return std::optional<TariffPerson>(std::move(p));
}

// A figure into the records that carry one (the person's billed key, an issued line): the same fields.
template <typename Record>
void SetFigure(const MonthActivity& f, Record& r) {
  r.set_days(f.days);
  r.set_review_periods_started(f.review_periods_started);
  r.set_basis(f.basis);
  r.set_unit_price_pence(f.unit_price_pence);
  r.set_amount_pence(f.amount_pence);
  r.set_priced(f.priced);
  r.set_gap(f.gap);
  r.set_price_list_version(f.price_list_version);
  r.set_rule_version(f.rule_version);
}

tariff::BilledActivity BilledOf(const TariffPerson& p) {
  tariff::BilledActivity out;
  for (const TariffBilled& b : p.billed()) {
    MonthActivity f;
    f.days = b.days();
    f.review_periods_started = b.review_periods_started();
    f.priced = b.priced();
    f.gap = b.gap();
    f.basis = b.basis();
    f.unit_price_pence = b.unit_price_pence();
    f.amount_pence = b.amount_pence();
    f.price_list_version = b.price_list_version();
    f.rule_version = b.rule_version();
    out[ActivityKey{b.month(), b.commissioner_id(), b.team_id(), b.cluster()}] = {std::move(f), b.sequence()};
  }
  return out;
}

TariffBilled ToBilled(const ActivityKey& k, const MonthActivity& f, uint64_t sequence) {
  TariffBilled b;
  b.set_month(k.month);
  b.set_commissioner_id(k.commissioner_id);
  b.set_team_id(k.team_id);
  b.set_cluster(k.cluster);
  SetFigure(f, b);
  b.set_sequence(sequence);
  return b;
}

// "recorded", "amended (revision 2)" or "withdrawn (revision 3)".
std::string Change(int revision, bool withdrawn) {
  if (withdrawn) return absl::StrCat("withdrawn (revision ", revision, ")");
  if (revision == 0) return "recorded";
  return absl::StrCat("amended (revision ", revision, ")");
}

void StageMeta(platform::ApplyContext& ctx, const TariffMeta& meta) {
  ctx.batch().Put(ctx.store().Family(kTariffMetaFamily), std::string(kMetaKey), meta.SerializeAsString());
}

}  // namespace

namespace tariff {

absl::CivilMonth LastClosableMonth(absl::CivilDay today, int close_days) {
  return absl::CivilMonth(today - close_days) - 1;
}

absl::StatusOr<TariffMeta> LoadMeta(const platform::StoreReader& store) {
  TariffMeta meta;
  auto stored = store.Get(kTariffMetaFamily, kMetaKey);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && !meta.ParseFromString(**stored)) {
    return absl::DataLossError("stored tariff ledger state (tariff_meta/ledger) is unreadable");
  }
  return meta;
}

std::string CommissionerPrefix(absl::string_view commissioner_id) {
  // Identifiers are printable ASCII, so NUL ends one and "00X" never reads "00X/2"'s lines.
  return absl::StrCat(commissioner_id, absl::string_view("\0", 1));
}
std::string CommissionerKey(absl::string_view commissioner_id, uint64_t sequence) {
  return absl::StrCat(CommissionerPrefix(commissioner_id), platform::EncodeOrderedU64(sequence));
}
std::string MonthPrefix(absl::string_view commissioner_id, int yyyymm) {
  return absl::StrCat(CommissionerPrefix(commissioner_id), absl::StrFormat("%06d", yyyymm), absl::string_view("\0", 1));
}
std::string MonthKey(absl::string_view commissioner_id, int yyyymm, uint64_t sequence) {
  return absl::StrCat(MonthPrefix(commissioner_id, yyyymm), platform::EncodeOrderedU64(sequence));
}

}  // namespace tariff

std::vector<std::string> TariffProjection::topics() const {
  namespace topic = platform::topic;
  return {std::string(topic::kAssessmentRecorded), std::string(topic::kCareEventRecorded)};
}

std::vector<std::string> TariffProjection::families() const {
  return {std::begin(kTariffFamilies), std::end(kTariffFamilies)};
}

absl::Status TariffProjection::Apply(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  namespace topic = platform::topic;
  if (event.topic_name == topic::kAssessmentRecorded) return OnAssessment(event, ctx);
  if (event.topic_name == topic::kCareEventRecorded) return OnCareEvent(event, ctx);
  return absl::OkStatus();
}

absl::Status TariffProjection::OnAssessment(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  const auto& a = event.event.assessment_recorded();
  const std::string& person_id = event.event.person_id();
  if (person_id.empty()) return absl::InvalidArgumentError("person_id: empty");
  if (a.assessment_id().empty()) return absl::InvalidArgumentError("assessment_id: empty");
  if (!a.withdrawn() && !a.has_assessed_at()) return absl::InvalidArgumentError("assessed_at: missing");
  auto folded = services::FoldIntoLedger(ctx, kTariffLedgerFamily, person_id, services::AssessmentFromEvent(a));
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();  // stale or repeated
  return Restate(ctx, person_id, folded->facts,
                 {absl::StrCat("assessment ", a.assessment_id(), " ", Change(a.revision(), a.withdrawn())),
                  event.event.event_id()});
}

absl::Status TariffProjection::OnCareEvent(const platform::ConsumedEvent& event, platform::ApplyContext& ctx) const {
  auto folded = services::FoldCareEventRecorded(event, ctx, kTariffLedgerFamily);
  if (!folded.ok()) return folded.status();
  if (!folded->changed) return absl::OkStatus();
  const auto& e = event.event.care_event_recorded();
  return Restate(ctx, event.event.person_id(), folded->facts,
                 {absl::StrCat("care event ", e.care_event_id(), " (", pbr::v1::CareEventType_Name(e.type()), ") ",
                               Change(e.revision(), e.withdrawn())),
                  event.event.event_id()});
}

absl::Status TariffProjection::Restate(platform::ApplyContext& ctx, const std::string& person_id,
                                       const ledger::PersonFacts& facts, const Cause& cause) const {
  auto meta = tariff::LoadMeta(ctx.store());
  if (!meta.ok()) return meta.status();
  auto stored = LoadPerson(ctx.store(), person_id);
  if (!stored.ok()) return stored.status();
  const bool known = stored->has_value();
  TariffPerson person = known ? **stored : TariffPerson();
  // The months closed for this person: every closed month, and the month being closed if the pass has
  // already billed them (people are billed in key order).
  int through = std::max(meta->closed_through(), person.closed_through());
  if (meta->sweeping() && person_id <= meta->sweep_cursor()) through = std::max(through, meta->sweep_target());
  size_t issued = 0;
  const int before = person.closed_through();
  const std::string rules_before = person.rules_version();
  if (through > 0) {
    auto n = Settle(ctx, *meta, person_id, person, facts, through, cause);
    if (!n.ok()) return n.status();
    issued = *n;
  }
  if (issued > 0) StageMeta(ctx, *meta);
  // A new person is kept even with nothing closed yet, so the month close finds them.
  if (!known || issued > 0 || person.closed_through() != before || person.rules_version() != rules_before) {
    ctx.batch().Put(ctx.store().Family(kTariffPeopleFamily), person_id, person.SerializeAsString());
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> TariffProjection::Settle(platform::ApplyContext& ctx, TariffMeta& meta,
                                                const std::string& person_id, TariffPerson& person,
                                                const ledger::PersonFacts& facts, int through,
                                                const Cause& cause) const {
  const ledger::CareRecord record = ledger::Derive(person_id, facts);
  const tariff::Activity now = tariff::ActivityThrough(record, *rules_, tariff::MonthOf(through));
  tariff::BilledActivity billed = BilledOf(person);
  const std::vector<tariff::LineToIssue> lines = tariff::LinesToIssue(billed, now, through, meta.closed_through());
  if (!lines.empty() && meta.ledger_id().empty()) {
    // A new ledger: an id no rebuilt one shares, so a finance client can tell its cursor belongs elsewhere.
    absl::BitGen random;
    meta.set_ledger_id(absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(random), absl::Uniform<uint64_t>(random)));
  }

  auto* lines_family = ctx.store().Family(kTariffLinesFamily);
  auto* by_commissioner = ctx.store().Family(kTariffByCommissionerFamily);
  auto* months = ctx.store().Family(kTariffMonthsFamily);
  for (const tariff::LineToIssue& l : lines) {
    const uint64_t sequence = meta.last_sequence() + 1;
    meta.set_last_sequence(sequence);
    pbr::v1::TariffActivity t;
    t.set_sequence(sequence);
    t.set_kind(l.kind);
    t.set_person_id(person_id);
    t.set_commissioner_id(l.key.commissioner_id);
    t.set_team_id(l.key.team_id);
    t.set_cluster(l.key.cluster);
    t.set_year(l.key.month / 100);
    t.set_month(l.key.month % 100);
    SetFigure(l.figure, t);  // a gap's figure has no basis, price or amount (ActivityThrough)
    t.set_reverses_sequence(l.reverses_sequence);
    t.set_cause(absl::StrCat(cause.text, l.kind == pbr::v1::TARIFF_LINE_ORIGINAL ? "; bills " : "; corrects ",
                             MonthText(l.key.month)));
    t.set_cause_event_id(cause.event_id);
    *t.mutable_issued_at() = platform::ToProto(ctx.now());
    t.set_ledger_id(meta.ledger_id());

    ctx.batch().Put(lines_family, platform::EncodeOrderedU64(sequence), t.SerializeAsString());
    ctx.batch().Put(by_commissioner, tariff::CommissionerKey(l.key.commissioner_id, sequence), "");
    ctx.batch().Put(months, tariff::MonthKey(l.key.commissioner_id, l.key.month, sequence), "");
    auto event = platform::MakeEnvelope(platform::topic::kTariffActivity,
                                        platform::DeterministicId(platform::topic::kTariffActivity,
                                                                  {meta.ledger_id(), absl::StrCat(sequence)}),
                                        person_id, ctx.now(), ctx.now(), "", "");
    *event.mutable_tariff_activity() = std::move(t);
    ctx.Emit(platform::topic::kTariffActivity, event, l.key.commissioner_id);
    if (l.kind == pbr::v1::TARIFF_LINE_REVERSAL) {
      billed.erase(l.key);
    } else {
      billed[l.key] = {l.figure, sequence};
    }
  }

  // What is billed now: every key of the months through `through` with activity.
  person.clear_billed();
  for (const auto& [key, b] : billed) {
    if (key.month <= through) *person.add_billed() = ToBilled(key, b.figure, b.sequence);
  }
  person.set_closed_through(through);
  person.set_rules_version(rules_->version());
  return lines.size();
}

absl::Status TariffProjection::CloseMonths(platform::ApplyContext& ctx) const {
  auto loaded = tariff::LoadMeta(ctx.store());
  if (!loaded.ok()) return loaded.status();
  TariffMeta meta = *std::move(loaded);
  const int closable = tariff::MonthNumber(tariff::LastClosableMonth(platform::ClinicalDay(ctx.now()), close_days_));
  if (!meta.sweeping()) {
    const bool month_closed = closable > meta.closed_through();
    if (!month_closed && meta.rules_version() == rules_->version()) return absl::OkStatus();
    if (!month_closed && meta.closed_through() == 0) return absl::OkStatus();  // nothing billed to restate
    meta.set_sweeping(true);
    meta.set_sweep_target(std::max(closable, meta.closed_through()));
    meta.set_sweep_cursor("");
    const bool one_month = meta.closed_through() != 0 &&
                           tariff::MonthOf(meta.closed_through()) + 1 == tariff::MonthOf(meta.sweep_target());
    meta.set_sweep_cause(!month_closed ? absl::StrCat("rules ", rules_->version())
                         : one_month   ? absl::StrCat("month close ", MonthText(meta.sweep_target()))
                                       : absl::StrCat("month close through ", MonthText(meta.sweep_target())));
  }

  if (meta.sweep_rules_version() != rules_->version()) {
    // Started (or restarted) with these rules: everyone not yet billed with them, from the first person.
    meta.set_sweep_rules_version(rules_->version());
    meta.set_sweep_cursor("");
  }

  // The next people after the cursor; read first, billed after (no write inside a scan).
  std::vector<std::pair<std::string, TariffPerson>> people;
  absl::Status problem;
  const std::string& cursor = meta.sweep_cursor();
  auto st = ctx.store().ScanFrom(kTariffPeopleFamily, cursor, [&](absl::string_view key, absl::string_view value) {
    if (!cursor.empty() && key == cursor) return true;
    TariffPerson p;
    if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      problem = absl::DataLossError(absl::StrCat("stored tariff record of person ", platform::Quote(key),
                                                 " is unreadable"));
      return false;
    }
    people.emplace_back(std::string(key), std::move(p));
    return people.size() < kSweepPeople;
  });
  if (!st.ok()) return st;
  if (!problem.ok()) return problem;

  size_t issued = 0, billed = 0;
  std::string last = cursor;
  bool reached_end = people.size() < kSweepPeople;
  for (size_t i = 0; i < people.size(); ++i) {
    auto& [person_id, person] = people[i];
    if (issued >= kSweepLines) {
      reached_end = false;  // the rest next pass
      break;
    }
    last = person_id;
    if (person.closed_through() >= meta.sweep_target() && person.rules_version() == rules_->version()) continue;
    auto facts = services::LoadPersonFacts(ctx.store(), kTariffLedgerFamily, person_id);
    if (!facts.ok()) return facts.status();
    auto n = Settle(ctx, meta, person_id, person, *facts, meta.sweep_target(), {meta.sweep_cause(), ""});
    if (!n.ok()) return n.status();
    // A line the shared rules refuse is a bug, not bad input: the consumer logs it and drops the whole pass
    // (it is tried again next interval), so stop here.
    if (!ctx.emit_problem().ok()) return absl::OkStatus();
    issued += *n;
    ++billed;
    ctx.batch().Put(ctx.store().Family(kTariffPeopleFamily), person_id, person.SerializeAsString());
  }
  meta.set_sweep_cursor(last);
  if (reached_end) {
    meta.set_closed_through(meta.sweep_target());
    meta.set_rules_version(rules_->version());
    meta.set_sweeping(false);
    meta.set_sweep_cursor("");
    meta.set_sweep_target(0);
    meta.clear_sweep_cause();
    meta.clear_sweep_rules_version();
  }
  StageMeta(ctx, meta);
  return absl::OkStatus();
}

}  // namespace pbr::reporting
