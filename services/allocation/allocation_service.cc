#include "allocation_service.h"

#include <algorithm>
#include <optional>
#include <set>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "access.h"
#include "care/nhs_number.h"
#include "care_bridge.h"
#include "care_record.h"
#include "event_rules.h"
#include "intake.h"
#include "ledger_store.h"
#include "field_limits.h"
#include "platform/caller.h"
#include "platform/pending_writes.h"
#include "platform/events.h"
#include "platform/log.h"
#include "platform/quote.h"
#include "platform/service_host.h"
#include "rule_checks.h"

namespace pbr::allocation {
namespace {

using platform::DeterministicId;
using platform::Quote;
using pbr::state::v1::PersonState;
using pbr::state::v1::StoredAssessment;
using pbr::state::v1::StoredCareEvent;
namespace topic = platform::topic;

// The calls the audit trail names (as the access matrix does).
constexpr absl::string_view kAmendCall = "/pbr.v1.Allocation/AmendAssessment";
constexpr absl::string_view kWithdrawCall = "/pbr.v1.Allocation/WithdrawAssessment";
constexpr absl::string_view kWithdrawCareEventCall = "/pbr.v1.Allocation/WithdrawCareEvent";
constexpr absl::string_view kGetPersonCall = "/pbr.v1.Allocation/GetPerson";
constexpr absl::string_view kListEpisodesCall = "/pbr.v1.Allocation/ListEpisodes";
constexpr absl::string_view kListAssessmentsCall = "/pbr.v1.Allocation/ListAssessments";
constexpr absl::string_view kListReferralsCall = "/pbr.v1.Allocation/ListReferrals";

std::string RecordKey(absl::string_view source_system, absl::string_view source_record_id) {
  return absl::StrCat(source_system, "\x1f", source_record_id);
}

std::string PersonKey(absl::string_view person_id, absl::string_view id) { return absl::StrCat(person_id, "/", id); }

// A digest of a request's content, to tell a retry from a conflicting re-use of the same id.
std::string RequestDigest(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return DeterministicId("request", {bytes});
}

template <typename Proto>
absl::StatusOr<std::optional<Proto>> GetProto(const platform::StoreReader& store, absl::string_view family,
                                              absl::string_view key) {
  auto raw = store.Get(family, key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<Proto>();
  Proto p;
  if (!p.ParseFromString(**raw)) return absl::DataLossError(absl::StrCat("stored ", family, " record is unreadable"));
  return std::optional<Proto>(std::move(p));
}

std::string DayOf(absl::Time t) { return absl::FormatCivilTime(platform::ClinicalDay(t)); }

// What the rules need from the person's care record just before an assessment: the cluster of
// the open referral period it would review, the one before it, whether the person is returning
// after a discharge, and the acute events of the 12 months before it.
AllocationFacts FactsBefore(const ledger::PersonFacts& before, const ledger::CareRecord& prior, absl::Time assessed_at) {
  AllocationFacts facts;
  if (const ledger::Episode* from = prior.current_episode()) {
    facts.from_cluster = from->cluster;
    facts.from_cluster_start = platform::ClinicalDay(from->started_at);
    if (const ledger::Episode* earlier = prior.previous_episode()) facts.cluster_before_from = earlier->cluster;
  }
  facts.returning_patient = prior.returning();
  const absl::CivilDay day = platform::ClinicalDay(assessed_at);
  for (const ledger::CareEvent* e : before.LiveCareEvents()) {
    const absl::CivilDay at = platform::ClinicalDay(e->occurred_at);
    if (auto trigger = services::HistoryTriggerOf(e->kind); trigger && at <= day && at > day - 366) facts.history.push_back({*trigger, at});
  }
  return facts;
}

// Every event allocation stages passes the rules its consumers apply (intake's checks make a
// failure there a bug).
using services::StageChecked;

// An assessment must fit the person's referral periods (SOP 4.7): an initial assessment opens a
// period (a person with an open one and a cluster is being transferred, which is a review), and a
// review belongs to an open period (after a discharge a new referral or initial assessment is
// needed first). A review for a person never allocated is checked as an initial allocation.
absl::Status CheckReferralPeriod(const pbr::v1::RecordAssessmentRequest& r, const ledger::CareRecord& prior) {
  const ledger::ReferralPeriod* open = prior.open_referral();
  const ledger::Episode* current = prior.current_episode();
  if (r.reason() == pbr::v1::ASSESSMENT_REASON_INITIAL && open != nullptr && current != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "reason: the person has an open referral period (since ", DayOf(open->opened_at), ") on cluster ",
        current->cluster, ": a transfer between teams or services is not an initial assessment (SOP 4.7); record it "
        "as ASSESSMENT_REASON_TRANSFER_REVIEW with a change_class, or record the discharge first"));
  }
  if (IsReview(r.reason()) && open == nullptr && prior.last_referral() != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "reason: the person was discharged from service on ", DayOf(*prior.last_referral()->closed_at),
        " and has no open referral period to review; record the new referral (CARE_EVENT_REFERRAL_RECEIVED) or an "
        "initial assessment first"));
  }
  return absl::OkStatus();
}

// A discharge from service closes the referral period open at its time, after everything in it.
absl::Status CheckDischarge(const ledger::CareRecord& prior, absl::Time at) {
  const ledger::ReferralPeriod* open = prior.open_referral();
  if (open == nullptr) {
    const ledger::ReferralPeriod* last = prior.last_referral();
    return absl::FailedPreconditionError(
        last == nullptr
            ? std::string("type: the person has no open referral period to discharge from (no referral or initial "
                          "assessment is recorded)")
            : absl::StrCat("type: the person has no open referral period to discharge from (discharged on ",
                           DayOf(*last->closed_at), ")"));
  }
  if (at < open->opened_at) {
    return absl::FailedPreconditionError(absl::StrCat("occurred_at: before the open referral period began (",
                                                      DayOf(open->opened_at), ")"));
  }
  if (prior.latest.has_value() && prior.latest->assessed_at > at &&
      prior.referral_of.count(prior.latest->id) && prior.referral_of.at(prior.latest->id) == open->id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "occurred_at: the referral period has an assessment after this discharge (on ", DayOf(prior.latest->assessed_at),
        "); a discharge closes the period, so it comes after its last assessment"));
  }
  return absl::OkStatus();
}

// Page through `items` (already newest first) with an offset token.
template <typename T>
absl::StatusOr<std::pair<std::vector<T>, std::string>> Page(std::vector<T> items, const pbr::v1::ListRequest& r) {
  int64_t offset = 0;
  if (!r.page_token().empty() && (!absl::SimpleAtoi(r.page_token(), &offset) || offset < 0)) {
    return absl::InvalidArgumentError("page_token: not a token from a previous reply");
  }
  if (r.page_size() < 0 || r.page_size() > 500) return absl::InvalidArgumentError("page_size: must be 0-500");
  const int64_t size = r.page_size() == 0 ? 50 : r.page_size();
  std::vector<T> page;
  for (int64_t i = offset; i < static_cast<int64_t>(items.size()) && i < offset + size; ++i) {
    page.push_back(std::move(items[i]));
  }
  const std::string next = offset + size < static_cast<int64_t>(items.size()) ? absl::StrCat(offset + size) : "";
  return std::make_pair(std::move(page), next);
}

}  // namespace

std::vector<std::string> AllocationFamilies() {
  return {std::string(kAssessmentsFamily), std::string(kPersonAssessmentsFamily), std::string(kPersonsFamily),
          std::string(kEpisodesFamily),    std::string(kCareEventsFamily),        std::string(kPersonCareEventsFamily),
          std::string(kLocalIdsFamily),    std::string(platform::kJournalFamily), std::string(kAuditFamily),
          std::string(kAuditByPersonFamily), std::string(kAuditByCallerFamily)};
}

absl::StatusOr<bool> JournalCoversHistory(platform::Store& store) {
  constexpr absl::string_view kMarker = "journal-covers-history";
  const std::string family(rocksdb::kDefaultColumnFamilyName);
  auto marker = store.Get(family, kMarker);
  if (!marker.ok()) return marker.status();
  if (marker->has_value()) return **marker == "true";
  // First start with a journal: it covers everything only if nothing was recorded before it.
  bool empty = true;
  for (absl::string_view records : {kAssessmentsFamily, kCareEventsFamily}) {
    if (auto st = store.Scan(records, "", [&](absl::string_view, absl::string_view) { return empty = false; });
        !st.ok()) {
      return st;
    }
  }
  rocksdb::WriteBatch batch;
  batch.Put(store.Family(family), std::string(kMarker), empty ? "true" : "false");
  if (auto st = store.Write(batch, /*sync=*/true); !st.ok()) return st;
  return empty;
}

struct AllocationService::PersonRecords {
  PersonState state;
  std::vector<StoredAssessment> assessments;  // live and withdrawn
  std::vector<StoredCareEvent> care_events;

  // The person's facts, for the shared ledger to derive their care from.
  ledger::PersonFacts Facts() const {
    ledger::PersonFacts facts;
    for (const auto& a : assessments) facts.Fold(FactOf(a));
    for (const auto& e : care_events) facts.Fold(FactOf(e));
    return facts;
  }
  int LiveAssessments(const ledger::PersonFacts& facts) const {
    return static_cast<int>(facts.LiveAssessments().size());
  }
};

AllocationService::AllocationService(platform::Store& store, platform::Outbox& outbox, const platform::Clock& clock,
                                     std::shared_ptr<const care::RuleSet> rules, std::string pseudonym_secret,
                                     AllocationOptions options)
    : store_(store),
      outbox_(outbox),
      clock_(clock),
      rules_(std::move(rules)),
      secret_(std::move(pseudonym_secret)),
      intake_{options.allow_unknown_teams},
      max_outbox_backlog_(options.max_outbox_backlog),
      audit_(store_, outbox_, clock_, *rules_) {
  if (options.metrics != nullptr) {
    unknown_team_records_ = &prometheus::BuildCounter()
                                 .Name("pbr_unknown_team_records_total")
                                 .Help("assessments and care events recorded for a team the team registry does not "
                                       "list (admitted by allow-unknown-teams), by kind")
                                 .Register(options.metrics->registry());
  }
}

void AllocationService::NoteUnknownTeam(absl::string_view team_id, absl::string_view kind) const {
  if (rules_->teams().Find(std::string_view(team_id.data(), team_id.size())) != nullptr) return;
  if (unknown_team_records_ != nullptr) {
    unknown_team_records_->Add({{"service", "allocation"}, {"kind", std::string(kind)}}).Increment();
  }
  PBR_LOG(warn) << "team_id " << Quote(team_id) << " is not in the team registry (teams "
                << Quote(rules_->teams().version) << "): " << kind
                << " recorded because allow-unknown-teams is on; add the team to the teams file";
}

std::vector<std::unique_lock<std::mutex>> AllocationService::Lock(std::initializer_list<absl::string_view> keys) {
  return Lock(std::vector<std::string>(keys.begin(), keys.end()));
}

std::vector<std::unique_lock<std::mutex>> AllocationService::Lock(const std::vector<std::string>& keys) {
  std::set<size_t> stripes;
  for (absl::string_view k : keys) stripes.insert(absl::Hash<absl::string_view>{}(k) % stripes_.size());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (size_t s : stripes) locks.emplace_back(stripes_[s]);  // ascending order: no deadlock
  return locks;
}

template <typename Stored>
absl::StatusOr<AllocationService::Locked<Stored>> AllocationService::LockRecord(absl::string_view family,
                                                                               const std::string& record_key,
                                                                               absl::string_view what,
                                                                               absl::string_view source_system,
                                                                               absl::string_view source_record_id) {
  auto peek = GetProto<Stored>(store_, family, record_key);
  if (!peek.ok()) return peek.status();
  if (!peek->has_value()) {
    return absl::NotFoundError(absl::StrCat("source_record_id: no ", what, " ", Quote(source_record_id), " from ",
                                            Quote(source_system), " to withdraw"));
  }
  Locked<Stored> out;
  out.locks = Lock({(*peek)->person_id(), record_key});
  auto again = GetProto<Stored>(store_, family, record_key);  // the person's calls are serialised from here
  if (!again.ok()) return again.status();
  out.stored = again->value_or(**peek);
  return out;
}

absl::StatusOr<AllocationService::PersonRecords> AllocationService::LoadPerson(const std::string& person_id) const {
  return LoadPerson(store_, person_id);
}

absl::StatusOr<AllocationService::PersonRecords> AllocationService::LoadPerson(const platform::StoreReader& store,
                                                                             const std::string& person_id) const {
  PersonRecords p;
  auto state = GetProto<PersonState>(store, kPersonsFamily, person_id);
  if (!state.ok()) return state.status();
  if (state->has_value()) p.state = **state;
  absl::Status failure;
  auto load_index = [&](absl::string_view index, absl::string_view family, auto& out) {
    return store.Scan(index, absl::StrCat(person_id, "/"), [&](absl::string_view, absl::string_view record_key) {
      auto rec = GetProto<typename std::decay_t<decltype(out)>::value_type>(store, family, record_key);
      if (!rec.ok()) failure = rec.status();
      else if (rec->has_value()) out.push_back(**rec);
      return failure.ok();
    });
  };
  if (auto st = load_index(kPersonAssessmentsFamily, kAssessmentsFamily, p.assessments); !st.ok()) return st;
  if (auto st = load_index(kPersonCareEventsFamily, kCareEventsFamily, p.care_events); !st.ok()) return st;
  if (!failure.ok()) return failure;
  return p;
}

absl::Status AllocationService::MapLocalId(const platform::StoreReader& store, const std::string& person_id,
                                           const std::string& source_system, const std::string& local_id,
                                           PersonState& state, rocksdb::WriteBatchBase& batch) const {
  if (local_id.empty()) return absl::OkStatus();
  for (const auto& l : state.local_ids()) {
    if (l.source_system() != source_system) continue;
    if (l.local_patient_id() == local_id) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat("local_patient_id: this NHS number is already ",
                                                      Quote(l.local_patient_id()), " in ", Quote(source_system),
                                                      ", not ", Quote(local_id)));
  }
  const std::string key = RecordKey(source_system, local_id);
  auto owner = store.Get(kLocalIdsFamily, key);
  if (!owner.ok()) return owner.status();
  if (owner->has_value() && **owner != person_id) {
    return absl::FailedPreconditionError(absl::StrCat("local_patient_id: ", Quote(local_id), " in ",
                                                      Quote(source_system), " already belongs to another NHS number"));
  }
  batch.Put(store_.Family(kLocalIdsFamily), key, person_id);
  auto* l = state.add_local_ids();
  l->set_source_system(source_system);
  l->set_local_patient_id(local_id);
  return absl::OkStatus();
}

void AllocationService::StagePerson(const std::string& person_id, const ledger::CareRecord& before,
                                    const ledger::CareRecord& after, PersonState state, int live_assessments,
                                    rocksdb::WriteBatchBase& batch) const {
  for (const auto& e : before.episodes) batch.Delete(store_.Family(kEpisodesFamily), PersonKey(person_id, e.id));
  for (const auto& e : after.episodes) {
    batch.Put(store_.Family(kEpisodesFamily), PersonKey(person_id, e.id), ToProto(e).SerializeAsString());
  }
  const ledger::Episode* current = after.current_episode();
  const std::optional<ledger::ReviewBasis> basis = after.review_basis();
  state.set_has_cluster(current != nullptr);
  state.set_cluster(current ? current->cluster : 0);
  state.set_team_id(basis ? basis->team_id : "");
  state.set_episode_id(current ? current->id : "");
  if (current) *state.mutable_cluster_since() = platform::ToProto(current->started_at);
  else state.clear_cluster_since();
  state.set_live_assessments(live_assessments);
  const ledger::ReferralPeriod* referral = after.last_referral();
  state.set_referral_open(referral != nullptr && referral->open());
  state.set_referral_id(referral ? referral->id : "");
  if (referral) *state.mutable_referral_opened_at() = platform::ToProto(referral->opened_at);
  else state.clear_referral_opened_at();
  if (referral && referral->closed_at) *state.mutable_discharged_at() = platform::ToProto(*referral->closed_at);
  else state.clear_discharged_at();
  batch.Put(store_.Family(kPersonsFamily), person_id, state.SerializeAsString());
}

absl::StatusOr<bool> AllocationService::StageClusterChanged(const std::string& person_id,
                                                            const ledger::CareRecord& before,
                                                            const ledger::CareRecord& after, absl::string_view cause_id,
                                                            const std::string& source_system, absl::string_view trace_id,
                                                            rocksdb::WriteBatchBase& batch) {
  const ledger::Episode* was = before.current_episode();
  const ledger::Episode* now = after.current_episode();
  const ledger::Episode* ended = nullptr;  // the episode a discharge just ended
  if (now == nullptr && was != nullptr) {
    for (const auto& e : after.episodes) {
      if (e.id == was->id && e.ended_by_discharge) ended = &e;
    }
  }
  // Nothing to announce when the cluster stays, or when a correction left no assessment at all
  // (the withdrawal itself says so).
  if (ended == nullptr && (now == nullptr || (was != nullptr && was->cluster == now->cluster))) return false;
  const ledger::Episode& subject = ended != nullptr ? *ended : *now;
  const absl::Time at = ended != nullptr ? *ended->ended_at : now->started_at;
  auto changed = platform::MakeEnvelope(topic::kClusterChanged, DeterministicId(topic::kClusterChanged, {cause_id}),
                                        person_id, at, clock_.Now(), source_system, std::string(trace_id));
  auto* c = changed.mutable_cluster_changed();
  c->set_assessment_id(subject.started_by);
  const std::optional<ledger::ReviewBasis> basis = after.review_basis();
  c->set_team_id(basis ? basis->team_id : subject.team_id);
  const bool has_previous = ended == nullptr && was != nullptr;
  c->set_has_previous_cluster(has_previous);
  c->set_previous_cluster(has_previous ? was->cluster : 0);
  c->set_cluster(subject.cluster);
  *c->mutable_effective_at() = platform::ToProto(at);
  c->set_ended(ended != nullptr);
  c->set_referral_id(subject.referral_id);
  c->set_episode_id(subject.id);
  if (auto st = StageChecked(outbox_, *rules_, batch, topic::kClusterChanged, changed); !st.ok()) return st;
  return true;
}

absl::StatusOr<pbr::v1::RecordAssessmentReply> AllocationService::Apply(const pbr::v1::RecordAssessmentRequest& request,
                                                                         Mode mode, absl::string_view trace_id,
                                                                         const AuditContext& who) {
  const std::string person_id = platform::KeyedHash(secret_, request.nhs_number());
  auto locks = Lock({person_id, RecordKey(request.source_system(), request.source_record_id())});
  rocksdb::WriteBatch batch;
  auto staged = StageAssessment(Staging{store_, batch}, request, person_id, mode, trace_id, who);
  if (!staged.ok()) return staged.status();
  if (staged->wrote) {
    // Synced: the reply promises durability. Concurrent calls share one fsync (group commit).
    if (auto st = store_.Write(batch, /*sync=*/true); !st.ok()) return st;
    outbox_.Wake();
  }
  return std::move(staged->reply);
}

absl::StatusOr<AllocationService::Staged<pbr::v1::RecordAssessmentReply>> AllocationService::StageAssessment(
    Staging to, const pbr::v1::RecordAssessmentRequest& request, const std::string& person_id, Mode mode,
    absl::string_view trace_id, const AuditContext& who) {
  const absl::Time now = clock_.Now();
  if (auto st = ValidateAssessment(*rules_, now, request, trace_id, intake_); !st.ok()) return st;
  // From here on the team's service area and (unless the EPR named one) commissioner; retries are told
  // apart by what was sent.
  const pbr::v1::RecordAssessmentRequest r = WithTeamDefaults(*rules_, request);
  auto ratings = services::RatingsFromProto(r.ratings());
  if (!ratings.ok()) return ratings.status();
  const std::string record_key = RecordKey(r.source_system(), r.source_record_id());
  const std::string digest = RequestDigest(request);

  auto existing = GetProto<StoredAssessment>(to.reader, kAssessmentsFamily, record_key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    const StoredAssessment& prior = **existing;
    if (prior.request_digest() == digest && !prior.content().withdrawn()) {
      Staged<pbr::v1::RecordAssessmentReply> duplicate{ReplyFor(prior, *ratings)};
      duplicate.reply.set_duplicate(true);
      return duplicate;
    }
    if (mode == Mode::kRecord) {
      return absl::AlreadyExistsError(absl::StrCat("source_record_id: ", Quote(r.source_record_id()), " from ",
                                                   Quote(r.source_system()), " was already recorded with different content",
                                                   " (use AmendAssessment to correct it)"));
    }
    if (prior.person_id() != person_id) {
      return absl::FailedPreconditionError("nhs_number: differs from the assessment being amended");
    }
    if (prior.content().withdrawn()) {
      return absl::FailedPreconditionError(absl::StrCat("source_record_id: ", Quote(r.source_record_id()),
                                                        " was withdrawn and cannot be amended"));
    }
  } else if (mode == Mode::kAmend) {
    return absl::NotFoundError(absl::StrCat("source_record_id: no assessment ", Quote(r.source_record_id()), " from ",
                                            Quote(r.source_system()), " to amend"));
  }
  const std::string assessment_id = DeterministicId("assessment", {r.source_system(), r.source_record_id()});
  const int revision = existing->has_value() ? (*existing)->content().revision() + 1 : 0;

  auto person = LoadPerson(to.reader, person_id);
  if (!person.ok()) return person.status();
  rocksdb::WriteBatchBase& batch = to.batch;
  PersonState state = person->state;
  if (auto st = MapLocalId(to.reader, person_id, r.source_system(), r.local_patient_id(), state, batch); !st.ok()) {
    return st;
  }

  const absl::Time assessed_at = platform::FromProto(r.assessed_at());
  ledger::Assessment next;
  next.id = assessment_id;
  next.revision = revision;
  next.assessed_at = assessed_at;
  next.effective_at = assessed_at;
  next.cluster = r.cluster();
  next.kind = services::AssessmentKindOf(r.reason());
  next.team_id = r.team_id();
  next.commissioner_id = r.commissioner_id();
  next.service_area = r.service_area();

  // The rules see the person's care as the shared ledger derives it just before this assessment.
  ledger::PersonFacts facts = person->Facts();
  const ledger::CareRecord stored_before = ledger::Derive(person_id, facts);
  const ledger::PersonFacts earlier = facts.Before(next);
  // Usually nothing is left out (a new assessment later than all the person's history, none
  // withdrawn): the care before it is then the stored care, derived once rather than twice.
  const bool same_facts = earlier.assessments().size() == facts.assessments().size() &&
                          earlier.care_events().size() == facts.care_events().size();
  std::optional<ledger::CareRecord> derived_prior;
  if (!same_facts) derived_prior = ledger::Derive(person_id, earlier);
  const ledger::CareRecord& prior = same_facts ? stored_before : *derived_prior;
  if (auto st = CheckReferralPeriod(r, prior); !st.ok()) return st;
  const AllocationFacts rule_facts = FactsBefore(earlier, prior, assessed_at);
  const bool as_initial = CheckedAsInitial(r, rule_facts);
  // An inpatient initial allocation takes effect from the admission (SOP Table 13: back-dated to
  // the admission date and time); the review clock still runs from the MHCT date.
  if (as_initial && r.reason() == pbr::v1::ASSESSMENT_REASON_INITIAL && r.has_admitted_at()) {
    next.effective_at = platform::FromProto(r.admitted_at());
  }
  const absl::Time effective_at = next.effective_at;
  CheckResult checks = CheckAllocation(*rules_, r, *ratings, rule_facts);
  if (!checks.refusal.ok()) return checks.refusal;
  if (auto team = UnknownTeamCheck(*rules_, r.team_id())) checks.checks.push_back(*std::move(team));

  facts.Fold(next);
  const ledger::CareRecord after = ledger::Derive(person_id, facts);

  auto event = platform::MakeEnvelope(
      topic::kAssessmentRecorded,
      revision == 0 ? DeterministicId(topic::kAssessmentRecorded, {assessment_id})
                    : DeterministicId(topic::kAssessmentRecorded, {assessment_id, absl::StrCat(revision)}),
      person_id, assessed_at, now, r.source_system(), std::string(trace_id));
  auto* a = event.mutable_assessment_recorded();
  a->set_assessment_id(assessment_id);
  a->set_source_record_id(r.source_record_id());
  a->set_team_id(r.team_id());
  a->set_clinician_id(r.clinician_id());
  a->set_care_coordinator_id(r.care_coordinator_id());
  *a->mutable_assessed_at() = r.assessed_at();
  *a->mutable_ratings() = r.ratings();
  a->set_cluster(r.cluster());
  a->set_reason(r.reason());
  a->set_rule_version(rules_->version());
  a->set_revision(revision);
  a->set_service_area(r.service_area());
  a->set_commissioner_id(r.commissioner_id());
  a->set_episode_id(after.episode_of.at(assessment_id));
  a->set_referral_id(after.referral_of.at(assessment_id));
  a->set_change_class(r.change_class());
  for (const auto& c : checks.checks) *a->add_checks() = c;
  a->set_clinical_rationale(r.clinical_rationale());
  a->set_face_to_face_contacts(r.face_to_face_contacts());
  if (r.has_first_contact_at()) *a->mutable_first_contact_at() = r.first_contact_at();
  if (r.has_admitted_at()) *a->mutable_admitted_at() = r.admitted_at();
  *a->mutable_effective_at() = platform::ToProto(effective_at);
  if (auto st = StageChecked(outbox_, *rules_, batch, topic::kAssessmentRecorded, event); !st.ok()) return st;
  auto staged_change = StageClusterChanged(person_id, stored_before, after, absl::StrCat(assessment_id, "/", revision),
                                           r.source_system(), trace_id, batch);
  if (!staged_change.ok()) return staged_change.status();
  const bool cluster_changed = *staged_change;

  StoredAssessment stored;
  stored.set_source_system(r.source_system());
  stored.set_source_record_id(r.source_record_id());
  stored.set_person_id(person_id);
  stored.set_request_digest(digest);
  *stored.mutable_content() = *a;
  *stored.mutable_effective_at() = platform::ToProto(effective_at);
  *stored.mutable_recorded_at() = platform::ToProto(now);
  stored.set_cluster_changed(cluster_changed);
  Staged<pbr::v1::RecordAssessmentReply> out{ReplyFor(stored, *ratings), /*wrote=*/true};
  batch.Put(store_.Family(kAssessmentsFamily), record_key, stored.SerializeAsString());
  batch.Put(store_.Family(kPersonAssessmentsFamily), PersonKey(person_id, assessment_id), record_key);
  StagePerson(person_id, stored_before, after, std::move(state), person->LiveAssessments(facts), batch);
  if (mode == Mode::kAmend) {
    if (auto st = audit_.Stage(who, kAmendCall, person_id, kBySourceRecord, absl::StatusCode::kOk, batch); !st.ok()) {
      return st;
    }
  }
  return out;
}

pbr::v1::RecordAssessmentReply AllocationService::ReplyFor(const StoredAssessment& stored,
                                                          const care::MhctRatings& ratings) const {
  if (stored.has_reply()) return stored.reply();  // stored whole by an earlier version
  pbr::v1::RecordAssessmentReply reply;
  reply.set_person_id(stored.person_id());
  reply.set_assessment_id(stored.content().assessment_id());
  reply.set_cluster_changed(stored.cluster_changed());
  reply.set_rule_version(stored.content().rule_version());
  reply.set_episode_id(stored.content().episode_id());
  reply.set_referral_id(stored.content().referral_id());
  const pbr::v1::RuleCheck* protocol = nullptr;
  for (const auto& c : stored.content().checks()) {
    *reply.add_checks() = c;
    if (c.rule() == "transition-protocol") protocol = &c;
  }
  if (protocol != nullptr) {
    // A review: the clinician chooses guided by the protocol's options (SOP 4.6), no ranking.
    for (int k : protocol->expected_clusters()) reply.add_protocol_options(k);
  } else if (auto suggestions = rules_->SuggestClusters(ratings); suggestions.ok()) {
    // An initial allocation: recomputed rather than stored (the same ratings and rules give the
    // same ranking), within the team's service area.
    const care::ServiceArea* area = rules_->service_areas().Find(stored.content().service_area());
    for (auto& s : ToSuggestions(*rules_, *suggestions, area, 5)) *reply.add_suggestions() = std::move(s);
  }
  reply.set_revision(stored.content().revision());
  return reply;
}

absl::StatusOr<pbr::v1::RecordAssessmentReply> AllocationService::Record(const pbr::v1::RecordAssessmentRequest& r,
                                                                          absl::string_view trace_id) {
  auto reply = Apply(r, Mode::kRecord, trace_id, AuditContext{});
  if (reply.ok() && !reply->duplicate()) NoteUnknownTeam(r.team_id(), "assessment");
  return reply;
}

absl::StatusOr<pbr::v1::RecordAssessmentReply> AllocationService::Amend(const pbr::v1::RecordAssessmentRequest& r,
                                                                         absl::string_view trace_id,
                                                                         const AuditContext& who) {
  auto reply = Apply(r, Mode::kAmend, trace_id, who);
  if (reply.ok() && !reply->duplicate()) NoteUnknownTeam(r.team_id(), "assessment");
  return reply;
}

absl::StatusOr<pbr::v1::WithdrawAssessmentReply> AllocationService::Withdraw(
    const pbr::v1::WithdrawAssessmentRequest& r, absl::string_view trace_id, const AuditContext& who) {
  if (auto st = ValidateWithdrawal(r, trace_id); !st.ok()) return st;
  const std::string record_key = RecordKey(r.source_system(), r.source_record_id());
  auto locked = LockRecord<StoredAssessment>(kAssessmentsFamily, record_key, "assessment", r.source_system(),
                                             r.source_record_id());
  if (!locked.ok()) return locked.status();
  StoredAssessment& stored = locked->stored;
  const std::string person_id = stored.person_id();
  pbr::v1::WithdrawAssessmentReply reply;
  reply.set_person_id(person_id);
  reply.set_assessment_id(stored.content().assessment_id());
  if (stored.content().withdrawn()) {  // a retry: already done
    reply.set_revision(stored.content().revision());
    return reply;
  }
  auto person = LoadPerson(person_id);
  if (!person.ok()) return person.status();
  const std::string& assessment_id = stored.content().assessment_id();
  ledger::PersonFacts facts = person->Facts();
  const ledger::CareRecord before = ledger::Derive(person_id, facts);
  const int revision = stored.content().revision() + 1;
  ledger::Assessment tombstone = FactOf(stored);
  tombstone.revision = revision;
  tombstone.withdrawn = true;
  facts.Fold(tombstone);
  const ledger::CareRecord after = ledger::Derive(person_id, facts);

  const absl::Time now = clock_.Now();
  rocksdb::WriteBatch batch;
  pbr::v1::AssessmentRecorded content = stored.content();
  content.set_revision(revision);
  content.set_withdrawn(true);
  content.set_episode_id("");
  content.set_referral_id("");
  auto event = platform::MakeEnvelope(topic::kAssessmentRecorded,
                                      DeterministicId(topic::kAssessmentRecorded, {assessment_id, absl::StrCat(revision)}),
                                      person_id, platform::FromProto(content.assessed_at()), now,
                                      stored.source_system(), std::string(trace_id));
  *event.mutable_assessment_recorded() = content;
  if (auto st = StageChecked(outbox_, *rules_, batch, topic::kAssessmentRecorded, event); !st.ok()) return st;
  auto staged_change = StageClusterChanged(person_id, before, after, absl::StrCat(assessment_id, "/", revision),
                                           stored.source_system(), trace_id, batch);
  if (!staged_change.ok()) return staged_change.status();
  const bool cluster_changed = *staged_change;
  *stored.mutable_content() = content;
  stored.clear_request_digest();  // nothing can be a retry of a withdrawn record
  batch.Put(store_.Family(kAssessmentsFamily), record_key, stored.SerializeAsString());
  StagePerson(person_id, before, after, person->state, person->LiveAssessments(facts), batch);
  if (auto st = audit_.Stage(who, kWithdrawCall, person_id, kBySourceRecord, absl::StatusCode::kOk, batch); !st.ok()) {
    return st;
  }
  if (auto st = store_.Write(batch, /*sync=*/true); !st.ok()) return st;
  outbox_.Wake();
  PBR_LOG(info) << "assessment " << assessment_id << " withdrawn by " << stored.source_system()
                << (r.reason().empty() ? "" : ": ") << r.reason();
  reply.set_revision(revision);
  reply.set_cluster_changed(cluster_changed);
  return reply;
}

absl::StatusOr<pbr::v1::RecordCareEventReply> AllocationService::RecordCareEvent(
    const pbr::v1::RecordCareEventRequest& r, absl::string_view trace_id) {
  const std::string person_id = platform::KeyedHash(secret_, r.nhs_number());
  auto locks = Lock({person_id, RecordKey(r.source_system(), r.source_record_id())});
  rocksdb::WriteBatch batch;
  auto staged = StageCareEvent(Staging{store_, batch}, r, person_id, trace_id);
  if (!staged.ok()) return staged.status();
  if (staged->wrote) {
    if (auto st = store_.Write(batch, /*sync=*/true); !st.ok()) return st;
    outbox_.Wake();
    NoteUnknownTeam(r.team_id(), "care_event");
  }
  return std::move(staged->reply);
}

absl::StatusOr<AllocationService::Staged<pbr::v1::RecordCareEventReply>> AllocationService::StageCareEvent(
    Staging to, const pbr::v1::RecordCareEventRequest& r, const std::string& person_id, absl::string_view trace_id) {
  const absl::Time now = clock_.Now();
  if (auto st = ValidateCareEvent(*rules_, now, r, trace_id, intake_); !st.ok()) return st;
  const std::string record_key = RecordKey(r.source_system(), r.source_record_id());
  const std::string digest = RequestDigest(r);
  auto existing = GetProto<StoredCareEvent>(to.reader, kCareEventsFamily, record_key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    if ((*existing)->request_digest() != digest) {
      return absl::AlreadyExistsError(absl::StrCat("source_record_id: ", Quote(r.source_record_id()), " from ",
                                                   Quote(r.source_system()), " was already recorded with different content"));
    }
    Staged<pbr::v1::RecordCareEventReply> duplicate;
    duplicate.reply.set_person_id((*existing)->person_id());
    duplicate.reply.set_care_event_id((*existing)->content().care_event_id());
    duplicate.reply.set_referral_id((*existing)->content().referral_id());
    duplicate.reply.set_duplicate(true);
    return duplicate;
  }
  auto person = LoadPerson(to.reader, person_id);
  if (!person.ok()) return person.status();
  PersonState state = person->state;
  rocksdb::WriteBatchBase& batch = to.batch;
  if (auto st = MapLocalId(to.reader, person_id, r.source_system(), r.local_patient_id(), state, batch); !st.ok()) {
    return st;
  }

  const std::string care_event_id = DeterministicId("care-event", {r.source_system(), r.source_record_id()});
  ledger::CareEvent fact;
  fact.id = care_event_id;
  fact.kind = services::CareEventKindOf(r.type());
  fact.occurred_at = platform::FromProto(r.occurred_at());
  fact.team_id = r.team_id();
  fact.out_of_hours = r.out_of_hours();
  ledger::PersonFacts facts = person->Facts();
  const ledger::CareRecord before = ledger::Derive(person_id, facts);
  if (fact.kind == ledger::CareEventKind::kDischargeFromService) {
    if (auto st = CheckDischarge(before, fact.occurred_at); !st.ok()) return st;
  }
  facts.Fold(fact);
  const ledger::CareRecord after = ledger::Derive(person_id, facts);
  const auto referral = after.referral_of.find(care_event_id);

  auto event = platform::MakeEnvelope(topic::kCareEventRecorded,
                                      DeterministicId(topic::kCareEventRecorded, {care_event_id}), person_id,
                                      fact.occurred_at, now, r.source_system(), std::string(trace_id));
  auto* c = event.mutable_care_event_recorded();
  c->set_care_event_id(care_event_id);
  c->set_source_record_id(r.source_record_id());
  c->set_type(r.type());
  *c->mutable_occurred_at() = r.occurred_at();
  c->set_out_of_hours(r.out_of_hours());
  c->set_team_id(r.team_id());
  c->set_clinician_id(r.clinician_id());
  if (referral != after.referral_of.end()) c->set_referral_id(referral->second);
  if (auto st = StageChecked(outbox_, *rules_, batch, topic::kCareEventRecorded, event); !st.ok()) return st;
  auto staged_change = StageClusterChanged(person_id, before, after, care_event_id, r.source_system(), trace_id, batch);
  if (!staged_change.ok()) return staged_change.status();

  Staged<pbr::v1::RecordCareEventReply> out;
  out.wrote = true;
  out.reply.set_person_id(person_id);
  out.reply.set_care_event_id(care_event_id);
  out.reply.set_referral_id(c->referral_id());
  out.reply.set_cluster_changed(*staged_change);
  StoredCareEvent stored;
  stored.set_source_system(r.source_system());
  stored.set_person_id(person_id);
  stored.set_request_digest(digest);
  *stored.mutable_content() = *c;
  batch.Put(store_.Family(kCareEventsFamily), record_key, stored.SerializeAsString());
  batch.Put(store_.Family(kPersonCareEventsFamily), PersonKey(person_id, care_event_id), record_key);
  StagePerson(person_id, before, after, std::move(state), person->LiveAssessments(facts), batch);
  return out;
}

namespace {

// A refusal about the item itself (what the single call would have answered it), as opposed to a
// failure of the service (the store), which fails the whole batch.
bool RefusesItem(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

const std::string& NhsNumberOf(const pbr::v1::IntakeItem& item) {
  return item.has_assessment() ? item.assessment().nhs_number() : item.care_event().nhs_number();
}
const std::string& SourceSystemOf(const pbr::v1::IntakeItem& item) {
  return item.has_assessment() ? item.assessment().source_system() : item.care_event().source_system();
}
const std::string& SourceRecordIdOf(const pbr::v1::IntakeItem& item) {
  return item.has_assessment() ? item.assessment().source_record_id() : item.care_event().source_record_id();
}

}  // namespace

absl::StatusOr<pbr::v1::IntakeBatchResult> AllocationService::RecordBatch(const pbr::v1::IntakeBatch& in,
                                                                          absl::string_view trace_id,
                                                                          const platform::Caller* caller) {
  if (in.items_size() == 0 || in.items_size() > services::limits::kMaxIntakeBatchItems) {
    return absl::InvalidArgumentError(absl::StrCat("items: ", in.items_size(), " items; a batch holds 1 to ",
                                                   services::limits::kMaxIntakeBatchItems));
  }
  // Every person and record of the batch is locked for the whole batch: no single call may read
  // them between an item's staging and the batch's write.
  std::vector<std::string> person_ids(static_cast<size_t>(in.items_size()));
  std::vector<std::string> keys;
  keys.reserve(2 * person_ids.size());
  for (int i = 0; i < in.items_size(); ++i) {
    const pbr::v1::IntakeItem& item = in.items(i);
    if (item.item_case() == pbr::v1::IntakeItem::ITEM_NOT_SET) continue;
    person_ids[i] = platform::KeyedHash(secret_, NhsNumberOf(item));
    keys.push_back(person_ids[i]);
    keys.push_back(RecordKey(SourceSystemOf(item), SourceRecordIdOf(item)));
  }
  auto locks = Lock(keys);

  platform::PendingWrites pending(store_);
  pbr::v1::IntakeBatchResult out;
  out.set_sequence(in.sequence());
  for (int i = 0; i < in.items_size(); ++i) {
    const pbr::v1::IntakeItem& item = in.items(i);
    pbr::v1::IntakeItemResult& result = *out.add_results();
    absl::Status refusal;
    pending.SetSavePoint();
    const Staging to{pending, pending.batch()};
    if (item.item_case() == pbr::v1::IntakeItem::ITEM_NOT_SET) {
      refusal = absl::InvalidArgumentError("item: neither an assessment nor a care event");
    } else if (caller != nullptr) {
      refusal = services::CheckOwnSource(*caller, SourceSystemOf(item));
    }
    if (refusal.ok() && item.has_assessment()) {
      auto staged = StageAssessment(to, item.assessment(), person_ids[i], Mode::kRecord, trace_id, AuditContext{});
      if (staged.ok()) {
        *result.mutable_assessment() = std::move(staged->reply);
      } else {
        refusal = staged.status();
      }
    } else if (refusal.ok()) {
      auto staged = StageCareEvent(to, item.care_event(), person_ids[i], trace_id);
      if (staged.ok()) {
        *result.mutable_care_event() = std::move(staged->reply);
      } else {
        refusal = staged.status();
      }
    }
    if (refusal.ok()) {
      pending.PopSavePoint();
      continue;
    }
    if (!RefusesItem(refusal)) return refusal;  // nothing of the batch is written
    if (auto st = pending.RollbackToSavePoint(); !st.ok()) return st;
    result.set_code(static_cast<int>(refusal.code()));
    result.set_message(std::string(refusal.message()));
  }
  if (!pending.empty()) {
    // One synced write for the batch: the results promise durability.
    if (auto st = pending.WriteTo(store_, /*sync=*/true); !st.ok()) return st;
    outbox_.Wake();
  }
  for (int i = 0; i < in.items_size(); ++i) {
    if (in.items(i).has_assessment() && out.results(i).code() == 0 && !out.results(i).assessment().duplicate()) {
      NoteUnknownTeam(in.items(i).assessment().team_id(), "assessment");
    } else if (in.items(i).has_care_event() && out.results(i).code() == 0 &&
               !out.results(i).care_event().duplicate()) {
      NoteUnknownTeam(in.items(i).care_event().team_id(), "care_event");
    }
  }
  return out;
}

absl::StatusOr<pbr::v1::WithdrawCareEventReply> AllocationService::WithdrawCareEvent(
    const pbr::v1::WithdrawCareEventRequest& r, absl::string_view trace_id, const AuditContext& who) {
  if (auto st = ValidateWithdrawal(r, trace_id); !st.ok()) return st;
  const std::string record_key = RecordKey(r.source_system(), r.source_record_id());
  auto locked = LockRecord<StoredCareEvent>(kCareEventsFamily, record_key, "care event", r.source_system(),
                                            r.source_record_id());
  if (!locked.ok()) return locked.status();
  StoredCareEvent& stored = locked->stored;
  const std::string person_id = stored.person_id();
  pbr::v1::WithdrawCareEventReply reply;
  reply.set_person_id(person_id);
  reply.set_care_event_id(stored.content().care_event_id());
  if (stored.content().withdrawn()) {  // a retry: already done
    reply.set_revision(stored.content().revision());
    return reply;
  }
  auto person = LoadPerson(person_id);
  if (!person.ok()) return person.status();
  ledger::PersonFacts facts = person->Facts();
  const ledger::CareRecord before = ledger::Derive(person_id, facts);
  const int revision = stored.content().revision() + 1;
  ledger::CareEvent tombstone = FactOf(stored);
  tombstone.revision = revision;
  tombstone.withdrawn = true;
  facts.Fold(tombstone);
  const ledger::CareRecord after = ledger::Derive(person_id, facts);

  rocksdb::WriteBatch batch;
  pbr::v1::CareEventRecorded content = stored.content();
  content.set_revision(revision);
  content.set_withdrawn(true);
  content.set_referral_id("");
  const std::string& care_event_id = content.care_event_id();
  auto event = platform::MakeEnvelope(topic::kCareEventRecorded,
                                      DeterministicId(topic::kCareEventRecorded, {care_event_id, absl::StrCat(revision)}),
                                      person_id, platform::FromProto(content.occurred_at()), clock_.Now(),
                                      stored.source_system(), std::string(trace_id));
  *event.mutable_care_event_recorded() = content;
  if (auto st = StageChecked(outbox_, *rules_, batch, topic::kCareEventRecorded, event); !st.ok()) return st;
  auto staged_change = StageClusterChanged(person_id, before, after, absl::StrCat(care_event_id, "/", revision),
                                           stored.source_system(), trace_id, batch);
  if (!staged_change.ok()) return staged_change.status();
  *stored.mutable_content() = content;
  stored.clear_request_digest();  // nothing can be a retry of a withdrawn record
  batch.Put(store_.Family(kCareEventsFamily), record_key, stored.SerializeAsString());
  StagePerson(person_id, before, after, person->state, person->LiveAssessments(facts), batch);
  if (auto st = audit_.Stage(who, kWithdrawCareEventCall, person_id, kBySourceRecord, absl::StatusCode::kOk, batch);
      !st.ok()) {
    return st;
  }
  if (auto st = store_.Write(batch, /*sync=*/true); !st.ok()) return st;
  outbox_.Wake();
  PBR_LOG(info) << "care event " << care_event_id << " withdrawn by " << stored.source_system()
                << (r.reason().empty() ? "" : ": ") << r.reason();
  reply.set_revision(revision);
  reply.set_cluster_changed(*staged_change);
  return reply;
}

absl::StatusOr<pbr::v1::SuggestClustersReply> AllocationService::Suggest(
    const pbr::v1::SuggestClustersRequest& r) const {
  if (auto st = ValidateSuggestion(*rules_, r, intake_); !st.ok()) return st;
  auto ratings = services::RatingsFromProto(r.ratings());
  if (!ratings.ok()) return ratings.status();
  const std::string area_id = SuggestionServiceArea(*rules_, r);  // the request's, else the team's
  const care::ServiceArea* area = area_id.empty() ? nullptr : rules_->service_areas().Find(area_id);
  auto result = rules_->SuggestClusters(*ratings);
  if (!result.ok()) return result.status();
  pbr::v1::SuggestClustersReply reply;
  for (auto& s : ToSuggestions(*rules_, *result, area, 21)) *reply.add_suggestions() = std::move(s);
  reply.set_rule_version(result->rule_version);
  reply.set_example_profiles(result->example_profiles);
  return reply;
}

absl::StatusOr<pbr::v1::Person> AllocationService::GetPerson(const pbr::v1::GetPersonRequest& r) const {
  if (auto st = ValidatePersonQuery(r); !st.ok()) return st;
  const std::string person_id = r.who_case() == pbr::v1::GetPersonRequest::kNhsNumber
                                    ? platform::KeyedHash(secret_, r.nhs_number())
                                    : r.person_id();
  auto state = GetProto<PersonState>(store_, kPersonsFamily, person_id);
  if (!state.ok()) return state.status();
  if (!state->has_value()) return absl::NotFoundError("person: not known to the platform");
  pbr::v1::Person out;
  out.set_person_id(person_id);
  out.set_has_cluster((*state)->has_cluster());
  out.set_cluster((*state)->cluster());
  out.set_team_id((*state)->team_id());
  out.set_episode_id((*state)->episode_id());
  if ((*state)->has_cluster_since()) *out.mutable_cluster_since() = (*state)->cluster_since();
  out.set_assessments((*state)->live_assessments());
  out.set_referral_open((*state)->referral_open());
  out.set_referral_id((*state)->referral_id());
  if ((*state)->has_referral_opened_at()) *out.mutable_referral_opened_at() = (*state)->referral_opened_at();
  if ((*state)->has_discharged_at()) *out.mutable_discharged_at() = (*state)->discharged_at();
  for (const auto& l : (*state)->local_ids()) *out.add_local_ids() = l;
  return out;
}

absl::StatusOr<pbr::v1::ListEpisodesReply> AllocationService::ListEpisodes(const pbr::v1::ListRequest& r) const {
  if (auto st = ValidateListRequest(r); !st.ok()) return st;
  auto person = LoadPerson(r.person_id());
  if (!person.ok()) return person.status();
  const ledger::CareRecord record = ledger::Derive(r.person_id(), person->Facts());
  std::vector<pbr::v1::Episode> episodes;
  for (auto e = record.episodes.rbegin(); e != record.episodes.rend(); ++e) episodes.push_back(ToProto(*e));
  auto page = Page(std::move(episodes), r);
  if (!page.ok()) return page.status();
  pbr::v1::ListEpisodesReply reply;
  for (auto& e : page->first) *reply.add_episodes() = std::move(e);
  reply.set_next_page_token(page->second);
  return reply;
}

absl::StatusOr<pbr::v1::ListReferralsReply> AllocationService::ListReferrals(const pbr::v1::ListRequest& r) const {
  if (auto st = ValidateListRequest(r); !st.ok()) return st;
  auto person = LoadPerson(r.person_id());
  if (!person.ok()) return person.status();
  const ledger::CareRecord record = ledger::Derive(r.person_id(), person->Facts());
  std::vector<pbr::v1::ReferralPeriod> referrals;
  for (auto p = record.referrals.rbegin(); p != record.referrals.rend(); ++p) referrals.push_back(ToProto(*p));
  auto page = Page(std::move(referrals), r);
  if (!page.ok()) return page.status();
  pbr::v1::ListReferralsReply reply;
  for (auto& p : page->first) *reply.add_referrals() = std::move(p);
  reply.set_next_page_token(page->second);
  return reply;
}

absl::StatusOr<pbr::v1::ListAssessmentsReply> AllocationService::ListAssessments(const pbr::v1::ListRequest& r) const {
  if (auto st = ValidateListRequest(r); !st.ok()) return st;
  auto person = LoadPerson(r.person_id());
  if (!person.ok()) return person.status();
  std::vector<pbr::v1::AssessmentSummary> list;
  for (const auto& s : person->assessments) {
    auto& a = list.emplace_back();
    a.set_assessment_id(s.content().assessment_id());
    a.set_source_system(s.source_system());
    a.set_source_record_id(s.source_record_id());
    *a.mutable_assessed_at() = s.content().assessed_at();
    a.set_cluster(s.content().cluster());
    a.set_team_id(s.content().team_id());
    a.set_reason(s.content().reason());
    a.set_revision(s.content().revision());
    a.set_withdrawn(s.content().withdrawn());
    for (const auto& c : s.content().checks()) *a.add_checks() = c;
    a.set_clinical_rationale(s.content().clinical_rationale());
  }
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
    return platform::FromProto(a.assessed_at()) > platform::FromProto(b.assessed_at());
  });
  auto page = Page(std::move(list), r);
  if (!page.ok()) return page.status();
  pbr::v1::ListAssessmentsReply reply;
  for (auto& a : page->first) *reply.add_assessments() = std::move(a);
  reply.set_next_page_token(page->second);
  return reply;
}

namespace {

std::string TraceId(const grpc::ServerContext* ctx) {
  auto it = ctx->client_metadata().find("x-trace-id");
  return it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
}

template <typename T>
grpc::Status Answer(absl::StatusOr<T> result, T* reply) {
  if (!result.ok()) return platform::ToGrpc(result.status());
  *reply = *std::move(result);
  return grpc::Status::OK;
}

// An EPR feed records and corrects its own source system's records only (the role matrix has let
// only feeds this far; a plaintext loopback server has no caller to check).
absl::Status OwnSource(const grpc::ServerContext* ctx, const std::string& source_system) {
  return services::CheckOwnSource(platform::CallerOf(*ctx), source_system);
}

AuditContext WhoCalled(const grpc::ServerContext* ctx) { return AuditContext{platform::CallerOf(*ctx), ctx->peer()}; }

}  // namespace

template <typename Reply>
grpc::Status AllocationService::AnswerAudited(grpc::ServerContext* ctx, absl::string_view call,
                                              const std::string& person_id, absl::string_view looked_up_by,
                                              absl::StatusOr<Reply> result, Reply* reply) {
  const absl::StatusCode outcome = result.status().code();
  if (outcome != absl::StatusCode::kInvalidArgument) {
    if (auto st = audit_.Record(WhoCalled(ctx), call, person_id, looked_up_by, outcome); !st.ok()) {
      return platform::ToGrpc(st);
    }
  }
  return Answer(std::move(result), reply);
}

grpc::Status AllocationService::RecordAssessment(grpc::ServerContext* ctx, const pbr::v1::RecordAssessmentRequest* r,
                                                 pbr::v1::RecordAssessmentReply* reply) {
  if (auto st = OwnSource(ctx, r->source_system()); !st.ok()) return platform::ToGrpc(st);
  return Answer(Record(*r, TraceId(ctx)), reply);
}

grpc::Status AllocationService::RecordIntake(
    grpc::ServerContext* ctx, grpc::ServerReaderWriter<pbr::v1::IntakeBatchResult, pbr::v1::IntakeBatch>* stream) {
  const platform::Caller caller = platform::CallerOf(*ctx);
  const std::string trace_id = TraceId(ctx);
  pbr::v1::IntakeBatch batch;
  while (stream->Read(&batch)) {
    // Back-pressure: while the outbox holds more than it should (the consumers or the broker are
    // behind), the next batch waits; the records already answered are safe on disk meanwhile.
    while (outbox_.depth() > max_outbox_backlog_) {
      if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream");
      absl::SleepFor(absl::Milliseconds(10));
    }
    auto result = RecordBatch(batch, trace_id, &caller);
    if (!result.ok()) return platform::ToGrpc(result.status());
    if (!stream->Write(*result)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away; the batch answered last was recorded");
    }
  }
  return grpc::Status::OK;
}

grpc::Status AllocationService::AmendAssessment(grpc::ServerContext* ctx, const pbr::v1::RecordAssessmentRequest* r,
                                                pbr::v1::RecordAssessmentReply* reply) {
  if (auto st = OwnSource(ctx, r->source_system()); !st.ok()) return platform::ToGrpc(st);
  return Answer(Amend(*r, TraceId(ctx), WhoCalled(ctx)), reply);
}

grpc::Status AllocationService::WithdrawAssessment(grpc::ServerContext* ctx, const pbr::v1::WithdrawAssessmentRequest* r,
                                                   pbr::v1::WithdrawAssessmentReply* reply) {
  if (auto st = OwnSource(ctx, r->source_system()); !st.ok()) return platform::ToGrpc(st);
  return Answer(Withdraw(*r, TraceId(ctx), WhoCalled(ctx)), reply);
}

grpc::Status AllocationService::RecordCareEvent(grpc::ServerContext* ctx, const pbr::v1::RecordCareEventRequest* r,
                                                pbr::v1::RecordCareEventReply* reply) {
  if (auto st = OwnSource(ctx, r->source_system()); !st.ok()) return platform::ToGrpc(st);
  return Answer(RecordCareEvent(*r, TraceId(ctx)), reply);
}

grpc::Status AllocationService::WithdrawCareEvent(grpc::ServerContext* ctx, const pbr::v1::WithdrawCareEventRequest* r,
                                                  pbr::v1::WithdrawCareEventReply* reply) {
  if (auto st = OwnSource(ctx, r->source_system()); !st.ok()) return platform::ToGrpc(st);
  return Answer(WithdrawCareEvent(*r, TraceId(ctx), WhoCalled(ctx)), reply);
}

grpc::Status AllocationService::SuggestClusters(grpc::ServerContext*, const pbr::v1::SuggestClustersRequest* r,
                                                pbr::v1::SuggestClustersReply* reply) {
  return Answer(Suggest(*r), reply);
}

grpc::Status AllocationService::GetPerson(grpc::ServerContext* ctx, const pbr::v1::GetPersonRequest* r,
                                          pbr::v1::Person* reply) {
  // Whose record was asked for, found or not (a NOT_FOUND by NHS number is recorded too: it tells
  // whether the trust knows someone).
  const bool by_nhs_number = r->who_case() == pbr::v1::GetPersonRequest::kNhsNumber;
  const std::string person_id = by_nhs_number ? platform::KeyedHash(secret_, r->nhs_number()) : r->person_id();
  return AnswerAudited(ctx, kGetPersonCall, person_id, by_nhs_number ? kByNhsNumber : kByPersonId, GetPerson(*r),
                       reply);
}

grpc::Status AllocationService::ListEpisodes(grpc::ServerContext* ctx, const pbr::v1::ListRequest* r,
                                             pbr::v1::ListEpisodesReply* reply) {
  return AnswerAudited(ctx, kListEpisodesCall, r->person_id(), kByPersonId, ListEpisodes(*r), reply);
}

grpc::Status AllocationService::ListReferrals(grpc::ServerContext* ctx, const pbr::v1::ListRequest* r,
                                              pbr::v1::ListReferralsReply* reply) {
  return AnswerAudited(ctx, kListReferralsCall, r->person_id(), kByPersonId, ListReferrals(*r), reply);
}

grpc::Status AllocationService::ListAssessments(grpc::ServerContext* ctx, const pbr::v1::ListRequest* r,
                                                pbr::v1::ListAssessmentsReply* reply) {
  return AnswerAudited(ctx, kListAssessmentsCall, r->person_id(), kByPersonId, ListAssessments(*r), reply);
}

grpc::Status AllocationService::ListAudit(grpc::ServerContext*, const pbr::v1::ListAuditRequest* r,
                                          pbr::v1::ListAuditReply* reply) {
  return Answer(audit_.List(*r), reply);
}

}  // namespace pbr::allocation
