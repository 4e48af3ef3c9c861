#pragma once
// The shared ledger of a person's care: what a person's care *is*, decided in one place for every
// service (allocation, the review scheduler, outcomes, reporting). Pure C++ over plain data, no I/O:
// each service stores the facts it received however it likes and asks this library what they mean.
//
// - The fold: each assessment and care event as last received. A higher revision replaces a lower
//   one; a withdrawal is a tombstone (kept, so a stale revision arriving later cannot revive it).
// - The latest live assessment: the live assessment with the latest MHCT time (`assessed_at`);
//   ties by the later effective time, then the greater assessment id. One order, used everywhere.
// - Referral periods: opened by a referral received (care event) or by an assessment when none is
//   open; closed by a discharge from service.
// - Cluster episodes: within a referral period, a new episode starts whenever the cluster changes;
//   an episode ends at the next episode's start or at the discharge that closes its period.
// - The two clocks: an episode starts at its assessment's *effective* time (an inpatient initial
//   allocation is back-dated to the admission); the review clock runs from the MHCT date
//   (`assessed_at`) of the review basis, the latest live assessment of the open referral period.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "care/kpi.h"
#include "care/review_triggers.h"

namespace pbr::ledger {

// Why the MHCT was completed (the contracts' AssessmentReason).
enum class AssessmentKind { kUnspecified, kInitial, kFormalReview, kTransferReview, kDischargeReview, kUnplannedReview };

// The care events the ledger folds (the contracts' CareEventType).
enum class CareEventKind {
  kOther,
  kReferralReceived,
  kReferralToCrht,
  kReferralToInpatients,
  kAdmission,
  kFaceToFaceContact,
  kDischargeReview,
  kDischargeFromService,
  kMhaAssessment,
  kMedicationNonConcordance,
};

struct Assessment {
  std::string id;
  int revision = 0;
  bool withdrawn = false;
  absl::Time assessed_at;   // the MHCT date and time: the review clock runs from it
  absl::Time effective_at;  // when the cluster took effect (the admission, for an inpatient initial)
  int cluster = 0;
  AssessmentKind kind = AssessmentKind::kUnspecified;
  std::string team_id;
  std::string commissioner_id;
  std::string service_area;
};

struct CareEvent {
  std::string id;
  int revision = 0;
  bool withdrawn = false;
  CareEventKind kind = CareEventKind::kOther;
  absl::Time occurred_at;
  std::string team_id;
  bool out_of_hours = false;
};

// Whether `a` is later than `b` in the one order every service uses for "the latest assessment".
bool LaterThan(const Assessment& a, const Assessment& b);

// A person's facts as last received: the fold.
class PersonFacts {
 public:
  // Folds one fact in. True when it changed the facts (first seen, or a higher revision); false
  // for a stale or repeated revision, which changes nothing.
  bool Fold(Assessment a);
  bool Fold(CareEvent e);

  // Every fact as last received (withdrawn ones included, as tombstones), by id.
  const std::map<std::string, Assessment>& assessments() const { return assessments_; }
  const std::map<std::string, CareEvent>& care_events() const { return care_events_; }
  const Assessment* FindAssessment(absl::string_view id) const;

  // The live assessments in the ledger's order (oldest first), and the live care events by time.
  std::vector<const Assessment*> LiveAssessments() const;
  std::vector<const CareEvent*> LiveCareEvents() const;

  // The facts as they stood just before `assessment` was recorded: the live assessments earlier
  // than it in the ledger's order (itself excluded), and the care events up to its MHCT time.
  // Allocation checks a new assessment against this.
  PersonFacts Before(const Assessment& assessment) const;
  // Without the assessment or care event of this id (a withdrawal being considered).
  PersonFacts Without(absl::string_view id) const;

 private:
  std::map<std::string, Assessment> assessments_;
  std::map<std::string, CareEvent> care_events_;
};

struct ReferralPeriod {
  std::string id;               // derived from the person and the fact that opened it
  absl::Time opened_at;
  std::string opened_by;        // care event id (referral received) or assessment id
  bool opened_by_assessment = false;
  std::optional<absl::Time> closed_at;  // the discharge from service; none while open
  std::string closed_by;        // the discharge's care event id
  bool open() const { return !closed_at.has_value(); }
};

struct Episode {
  std::string id;               // derived from the person and the assessment that started it
  int cluster = 0;
  std::string team_id;
  std::string commissioner_id;
  absl::Time started_at;        // the starting assessment's effective time
  std::optional<absl::Time> ended_at;
  bool ended_by_discharge = false;
  std::string started_by;       // assessment id
  std::string referral_id;
  bool open() const { return !ended_at.has_value(); }
};

// What identifies a review: the assessment whose MHCT date started the clock, as of one revision.
// Two reviews are the same review when their keys are equal (an amended basis with a new date or
// cluster is a new review even though its id is unchanged).
struct ReviewBasis {
  std::string assessment_id;
  int revision = 0;
  absl::Time assessed_at;       // the MHCT date and time
  int cluster = 0;
  std::string team_id;
  std::string referral_id;
  std::string key() const;      // "<assessment id>/<MHCT unix seconds>/<cluster>"
};

// What the facts mean. Everything is derived afresh from the facts, so an amendment, a withdrawal or
// a late back-filled record always gives the right answer whatever order the facts arrived in.
struct CareRecord {
  std::vector<ReferralPeriod> referrals;          // oldest first
  std::vector<Episode> episodes;                  // oldest first
  std::map<std::string, std::string> episode_of;  // live assessment id -> episode id
  std::map<std::string, std::string> referral_of; // live assessment or care event id -> referral id
  std::optional<Assessment> latest;               // the latest live assessment, in any referral period

  const ReferralPeriod* open_referral() const;    // none when never referred or discharged
  const ReferralPeriod* last_referral() const;
  const Episode* current_episode() const;         // the open episode (none when discharged)
  const Episode* previous_episode() const;        // the one before the current episode, if any
  // The latest live assessment of the open referral period: the review clock's basis. None when
  // the person is discharged or has no live assessment in the open period.
  std::optional<ReviewBasis> review_basis() const;
  // The person had a referral period closed before the open one began (a returning patient).
  bool returning() const;
  // The person has ever had a cluster allocated (any live assessment, any period).
  bool ever_allocated() const { return latest.has_value(); }
  // The referral period covering `t`: opened at or before it and not closed before it.
  const ReferralPeriod* ReferralAt(absl::Time t) const;

 private:
  friend CareRecord Derive(absl::string_view person_id, const PersonFacts& facts);
  friend const Assessment* AssessmentInEffectAt(const PersonFacts& facts, const CareRecord& record, absl::Time t);
  std::optional<ReviewBasis> basis_;
  // Live assessment id -> when it took effect in its referral period (AssessmentInEffectAt).
  std::map<std::string, absl::Time> takes_effect_;
};

CareRecord Derive(absl::string_view person_id, const PersonFacts& facts);

// A review that was done: within one referral period, each live assessment after the first reviews
// the cluster of the one before it in the ledger's order (the review basis it replaced).
struct CompletedReview {
  ReviewBasis reviewed;          // the basis whose review this was
  const Assessment* by = nullptr;  // the reviewing assessment (points into the facts)
};
// Every completed review, oldest first, across all referral periods. A period's first assessment
// (an initial allocation, or the first after a re-referral) reviews nothing.
std::vector<CompletedReview> CompletedReviews(const PersonFacts& facts, const CareRecord& record);

// The review basis as it stood at `t`: the latest live assessment with assessed_at <= t, when its
// referral period was still open at t (not closed before t). None when the person had no cluster
// then: never allocated, or discharged since.
std::optional<ReviewBasis> BasisAt(const PersonFacts& facts, const CareRecord& record, absl::Time t);

// The live assessment in effect at `t`, by effective time: of the referral period covering `t` (ReferralAt),
// the last in the ledger's order to have taken effect by `t`. An assessment takes effect at its effective
// time (an inpatient initial allocation is back-dated to the admission, SOP Table 13), but never before its
// period opened nor before the episode current when it came started: exactly where the episodes start, so
// its cluster is always the episode's at `t`. None when no referral period covers `t` or none of its
// assessments has taken effect by then. Where a person counts with which cluster at a time (reporting's
// KPIs 1-3 and national measures) is this; the review clock still runs from the returned assessment's MHCT
// time, and a person's basis at a time for its review (BasisAt) goes by MHCT time.
const Assessment* AssessmentInEffectAt(const PersonFacts& facts, const CareRecord& record, absl::Time t);

// An event-triggered review (SOP Table 13): a live care event that asks for the cluster to be reviewed, the
// window a review's MHCT time must fall in (care::TriggerWindow, from the KPI file's timing and options), and
// the review that answered it. Which events trigger, for whom, and which assessment answers are decided here
// once, for the review scheduler and for reporting's KPIs alike:
//  - a referral to CRHT or to inpatients, for a person with a cluster at its time (BasisAt): a transfer,
//    in hours or out of hours by its out_of_hours flag (KPIs 9 and 10);
//  - a discharge review, for a person with a cluster at its time: KPI 12;
//  - an admission, for a person with no cluster at its time: the inpatient initial allocation (KPI 4).
// The answer is the first live assessment in the ledger's order whose MHCT time is inside the window.
struct TriggeredReview {
  const CareEvent* event = nullptr;  // points into the facts
  care::ReviewTriggerKind kind = care::ReviewTriggerKind::kInHoursReferral;
  care::ReviewTriggerWindow window;
  std::optional<ReviewBasis> basis;        // the person's basis at the event's time; none for an admission
  const Assessment* answered_by = nullptr;  // none: not (yet) answered; points into the facts
};
// Every applicable trigger, in the care events' time order.
std::vector<TriggeredReview> TriggeredReviews(const PersonFacts& facts, const CareRecord& record,
                                              const care::KpiSettings& timing, absl::TimeZone clinical);

// Ids derived from the person and the fact that opened the thing, so every service derives the same.
std::string EpisodeId(absl::string_view person_id, absl::string_view starting_assessment_id);
std::string ReferralId(absl::string_view person_id, absl::string_view opening_fact_id);

}  // namespace pbr::ledger
