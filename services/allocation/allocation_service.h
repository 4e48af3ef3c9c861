#pragma once
// Allocation: the front door for every EPR. Validates assessments and care events, resolves the
// person across EPRs to a pseudonym, checks the chosen cluster against the rules (a breach needs a
// clinical rationale and is recorded, not hidden), keeps each person's cluster episodes, and
// publishes the facts. Every change is one synced WriteBatch written before the reply, so an
// acknowledged record is never lost; concurrent calls share the fsync (group commit).
#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "audit_trail.h"
#include "care/rules.h"
#include "intake.h"
#include "pbr/state/v1/allocation_state.pb.h"
#include "pbr/v1/allocation.grpc.pb.h"
#include "ledger/ledger.h"
#include "platform/caller.h"
#include "platform/clock.h"
#include "platform/metrics.h"
#include "platform/outbox.h"
#include "platform/store.h"

namespace pbr::allocation {

// Column families.
inline constexpr absl::string_view kAssessmentsFamily = "assessments";              // record key -> StoredAssessment
inline constexpr absl::string_view kPersonAssessmentsFamily = "person_assessments";  // "<person>/<assessment id>" -> record key
inline constexpr absl::string_view kPersonsFamily = "persons";                      // person -> PersonState
inline constexpr absl::string_view kEpisodesFamily = "episodes";                    // "<person>/<episode id>" -> Episode
inline constexpr absl::string_view kCareEventsFamily = "care_events";               // record key -> StoredCareEvent
inline constexpr absl::string_view kPersonCareEventsFamily = "person_care_events";  // "<person>/<event id>" -> record key
inline constexpr absl::string_view kLocalIdsFamily = "local_ids";                   // "<system>\x1f<local id>" -> person
std::vector<std::string> AllocationFamilies();  // the audit trail's included

// Whether the store's journal holds every event allocation ever published (false for a store an
// earlier version filled before journals existed: re-publishing it would give consumers part of
// the history). Decided, and remembered, on the first start with a journal.
absl::StatusOr<bool> JournalCoversHistory(platform::Store& store);

struct AllocationOptions {
  // The allow-unknown-teams setting (see IntakeOptions).
  bool allow_unknown_teams = false;
  // Where pbr_unknown_team_records_total is counted; none: not counted (tests that do not look).
  platform::Metrics* metrics = nullptr;
  // The bulk path waits before applying a batch while more events than this are waiting in the
  // outbox (the consumers, or the broker, are behind): back-pressure instead of an ever longer queue.
  int64_t max_outbox_backlog = 100'000;
};

class AllocationService final : public pbr::v1::Allocation::Service {
 public:
  // The reply to a recorded assessment, the same for its first call and every retry.
  pbr::v1::RecordAssessmentReply ReplyFor(const pbr::state::v1::StoredAssessment& stored,
                                          const care::MhctRatings& ratings) const;
  AllocationService(platform::Store& store, platform::Outbox& outbox, const platform::Clock& clock,
                    std::shared_ptr<const care::RuleSet> rules, std::string pseudonym_secret,
                    AllocationOptions options = {});

  // The calls without gRPC: what the handlers and the tests use. A correction (amend, withdraw)
  // that changes a record is audited in its own WriteBatch, as made by `who`.
  absl::StatusOr<pbr::v1::RecordAssessmentReply> Record(const pbr::v1::RecordAssessmentRequest& request,
                                                        absl::string_view trace_id);
  absl::StatusOr<pbr::v1::RecordAssessmentReply> Amend(const pbr::v1::RecordAssessmentRequest& request,
                                                       absl::string_view trace_id, const AuditContext& who = {});
  absl::StatusOr<pbr::v1::WithdrawAssessmentReply> Withdraw(const pbr::v1::WithdrawAssessmentRequest& request,
                                                            absl::string_view trace_id, const AuditContext& who = {});
  absl::StatusOr<pbr::v1::RecordCareEventReply> RecordCareEvent(const pbr::v1::RecordCareEventRequest& request,
                                                                absl::string_view trace_id);
  absl::StatusOr<pbr::v1::WithdrawCareEventReply> WithdrawCareEvent(const pbr::v1::WithdrawCareEventRequest& request,
                                                                    absl::string_view trace_id,
                                                                    const AuditContext& who = {});
  // The bulk path: every item staged as the single calls would (in order, each reading what the
  // ones before it staged), then the whole batch written in one synced WriteBatch before any result
  // is returned. An item refused on its own account (invalid, conflicting, not the feed's source)
  // is answered with its refusal and leaves nothing; any other failure (the store) fails the batch,
  // and nothing of it is written. With a `caller`, each item must be that feed's own source system.
  absl::StatusOr<pbr::v1::IntakeBatchResult> RecordBatch(const pbr::v1::IntakeBatch& batch, absl::string_view trace_id,
                                                         const platform::Caller* caller = nullptr);
  absl::StatusOr<pbr::v1::SuggestClustersReply> Suggest(const pbr::v1::SuggestClustersRequest& request) const;
  absl::StatusOr<pbr::v1::Person> GetPerson(const pbr::v1::GetPersonRequest& request) const;
  absl::StatusOr<pbr::v1::ListEpisodesReply> ListEpisodes(const pbr::v1::ListRequest& request) const;
  absl::StatusOr<pbr::v1::ListAssessmentsReply> ListAssessments(const pbr::v1::ListRequest& request) const;
  absl::StatusOr<pbr::v1::ListReferralsReply> ListReferrals(const pbr::v1::ListRequest& request) const;
  const AuditTrail& audit() const { return audit_; }

  // gRPC.
  grpc::Status RecordAssessment(grpc::ServerContext* ctx, const pbr::v1::RecordAssessmentRequest* request,
                                pbr::v1::RecordAssessmentReply* reply) override;
  grpc::Status RecordIntake(grpc::ServerContext* ctx,
                            grpc::ServerReaderWriter<pbr::v1::IntakeBatchResult, pbr::v1::IntakeBatch>* stream) override;
  grpc::Status AmendAssessment(grpc::ServerContext* ctx, const pbr::v1::RecordAssessmentRequest* request,
                               pbr::v1::RecordAssessmentReply* reply) override;
  grpc::Status WithdrawAssessment(grpc::ServerContext* ctx, const pbr::v1::WithdrawAssessmentRequest* request,
                                  pbr::v1::WithdrawAssessmentReply* reply) override;
  grpc::Status RecordCareEvent(grpc::ServerContext* ctx, const pbr::v1::RecordCareEventRequest* request,
                               pbr::v1::RecordCareEventReply* reply) override;
  grpc::Status WithdrawCareEvent(grpc::ServerContext* ctx, const pbr::v1::WithdrawCareEventRequest* request,
                                 pbr::v1::WithdrawCareEventReply* reply) override;
  grpc::Status SuggestClusters(grpc::ServerContext* ctx, const pbr::v1::SuggestClustersRequest* request,
                               pbr::v1::SuggestClustersReply* reply) override;
  grpc::Status GetPerson(grpc::ServerContext* ctx, const pbr::v1::GetPersonRequest* request,
                         pbr::v1::Person* reply) override;
  grpc::Status ListEpisodes(grpc::ServerContext* ctx, const pbr::v1::ListRequest* request,
                            pbr::v1::ListEpisodesReply* reply) override;
  grpc::Status ListAssessments(grpc::ServerContext* ctx, const pbr::v1::ListRequest* request,
                               pbr::v1::ListAssessmentsReply* reply) override;
  grpc::Status ListReferrals(grpc::ServerContext* ctx, const pbr::v1::ListRequest* request,
                             pbr::v1::ListReferralsReply* reply) override;
  grpc::Status ListAudit(grpc::ServerContext* ctx, const pbr::v1::ListAuditRequest* request,
                         pbr::v1::ListAuditReply* reply) override;

 private:
  enum class Mode { kRecord, kAmend };
  struct PersonRecords;  // a person's stored assessments and care events, loaded together

  // Where one record's changes go: what it reads (the store, or the store through the changes a
  // batch's earlier items staged) and the batch it stages into. The caller holds the locks.
  struct Staging {
    const platform::StoreReader& reader;
    rocksdb::WriteBatchBase& batch;
  };
  // A staged record's reply; `wrote` false: a retry, nothing staged.
  template <typename Reply>
  struct Staged {
    Reply reply;
    bool wrote = false;
  };
  absl::StatusOr<pbr::v1::RecordAssessmentReply> Apply(const pbr::v1::RecordAssessmentRequest& request, Mode mode,
                                                       absl::string_view trace_id, const AuditContext& who);
  absl::StatusOr<Staged<pbr::v1::RecordAssessmentReply>> StageAssessment(Staging to,
                                                                         const pbr::v1::RecordAssessmentRequest& request,
                                                                         const std::string& person_id, Mode mode,
                                                                         absl::string_view trace_id,
                                                                         const AuditContext& who);
  absl::StatusOr<Staged<pbr::v1::RecordCareEventReply>> StageCareEvent(Staging to,
                                                                       const pbr::v1::RecordCareEventRequest& request,
                                                                       const std::string& person_id,
                                                                       absl::string_view trace_id);
  // Records an identifiable read before it is answered (not one refused as malformed, which read
  // nobody); a failed audit write fails the read.
  template <typename Reply>
  grpc::Status AnswerAudited(grpc::ServerContext* ctx, absl::string_view call, const std::string& person_id,
                             absl::string_view looked_up_by, absl::StatusOr<Reply> result, Reply* reply);
  absl::StatusOr<PersonRecords> LoadPerson(const std::string& person_id) const;
  absl::StatusOr<PersonRecords> LoadPerson(const platform::StoreReader& store, const std::string& person_id) const;
  // Checks (and stages) the EPR's local patient id for this person; refuses a conflicting mapping.
  absl::Status MapLocalId(const platform::StoreReader& store, const std::string& person_id,
                          const std::string& source_system, const std::string& local_id,
                          pbr::state::v1::PersonState& state, rocksdb::WriteBatchBase& batch) const;
  // Stages the person's derived state and episodes (replacing those derived before).
  void StagePerson(const std::string& person_id, const ledger::CareRecord& before, const ledger::CareRecord& after,
                   pbr::state::v1::PersonState state, int live_assessments, rocksdb::WriteBatchBase& batch) const;
  // Stages cluster-changed when the current cluster started, changed, or ended with a discharge;
  // returns whether it did.
  absl::StatusOr<bool> StageClusterChanged(const std::string& person_id, const ledger::CareRecord& before,
                                           const ledger::CareRecord& after, absl::string_view cause_id,
                                           const std::string& source_system, absl::string_view trace_id,
                                           rocksdb::WriteBatchBase& batch);
  std::vector<std::unique_lock<std::mutex>> Lock(std::initializer_list<absl::string_view> keys);
  std::vector<std::unique_lock<std::mutex>> Lock(const std::vector<std::string>& keys);
  // A stored record to withdraw, read again under its person's lock (NotFound naming
  // source_record_id when there is none); the locks are held while the result lives.
  template <typename Stored>
  struct Locked {
    Stored stored;
    std::vector<std::unique_lock<std::mutex>> locks;
  };
  template <typename Stored>
  absl::StatusOr<Locked<Stored>> LockRecord(absl::string_view family, const std::string& record_key,
                                            absl::string_view what, absl::string_view source_system,
                                            absl::string_view source_record_id);
  // A record was stored for a team the registry does not list (admitted by allow-unknown-teams): counted
  // and logged, so the teams file can be completed. Nothing for a registered team.
  void NoteUnknownTeam(absl::string_view team_id, absl::string_view kind) const;

  platform::Store& store_;
  platform::Outbox& outbox_;
  const platform::Clock& clock_;
  std::shared_ptr<const care::RuleSet> rules_;
  const std::string secret_;
  const IntakeOptions intake_;
  const int64_t max_outbox_backlog_;
  prometheus::Family<prometheus::Counter>* unknown_team_records_ = nullptr;
  AuditTrail audit_;
  // Calls touching the same person or record are serialised; others run (and sync) together.
  std::array<std::mutex, 64> stripes_;
};

}  // namespace pbr::allocation
