// Deterministic synthetic care histories for demos and load tests: what a small trust's EPRs send.
//
// Each person is referred (a referral received, in or out of hours), seen face to face, and allocated a
// cluster at the initial assessment, which names the contacts so far and the first one. Inpatients are
// admitted first and allocated back-dated to the admission, on time or late. Then the history runs as care
// does: regular face-to-face contacts (some people have not been seen for months), formal reviews a little
// before or after they fall due, now and then an unplanned review, a referral to home treatment or a ward
// (in or out of hours) with a transfer review inside its window or outside it, a move to the other EPR, and
// for some a discharge review (the MHCT reviewed within 24 hours of it, or not) and a discharge from service,
// sometimes followed by a re-referral. A few records are corrected afterwards: assessments amended, a review
// sent twice and its copy withdrawn, contacts and referrals withdrawn, a discharge withdrawn.
//
// Every call is valid for the allocation intake and fits the person's referral periods as allocation checks
// them; clusters fit the team. The NHS numbers all start 999, the range reserved for test data, so demo
// records can never be mistaken for real patients.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::demo {

struct DemoOptions {
  int people = 300;  // distinct NHS numbers; 1..100000
  uint64_t seed = 1;
  // End of the history window. Only its UTC day matters: everything happens on a day before it, so two
  // runs on the same day with the same seed produce identical calls (the platform answers the second as
  // duplicates). Left at the Unix epoch it yields requests the intake rejects as before 2000.
  absl::Time now;
  int history_years = 2;  // every call falls within this many years before `now`
  std::vector<std::string> epr_systems = {"rio-north", "systmone-south"};
  // The team's kind is read from its id: "eip"/"psychosis" -> psychosis pathway, "cmht" -> community
  // non-psychosis, "memory" -> dementia services, "crht" -> home treatment, "inpatient"/"ward" ->
  // inpatients; anything else may hold any cluster. Home treatment teams and wards also take referrals
  // of the others' people in a crisis.
  std::vector<std::string> teams = {"cmht-north",  "cmht-south",  "eip-central",
                                    "crht-east",   "memory-west", "inpatient-ward-3"};
};

// One call an EPR makes. RecordAssessmentRequest is sent with RecordAssessment, or with AmendAssessment
// when `amend`; the others with RecordCareEvent, WithdrawAssessment and WithdrawCareEvent.
struct DemoCall {
  using Request = std::variant<pbr::v1::RecordAssessmentRequest, pbr::v1::RecordCareEventRequest,
                               pbr::v1::WithdrawAssessmentRequest, pbr::v1::WithdrawCareEventRequest>;
  Request request;
  bool amend = false;
  // When the EPR sends it: the clinical time of an assessment or care event; a correction is sent later.
  absl::Time sent_at;
  std::string nhs_number;  // the person's, for every call (a withdrawal names only the record)
  // A later call of the history amends or withdraws this record, so on a second load of the same data the
  // platform answers this one with ALREADY_EXISTS (it holds the corrected content).
  bool corrected_later = false;

  const pbr::v1::RecordAssessmentRequest* assessment() const {
    return std::get_if<pbr::v1::RecordAssessmentRequest>(&request);
  }
  const pbr::v1::RecordCareEventRequest* care_event() const {
    return std::get_if<pbr::v1::RecordCareEventRequest>(&request);
  }
  const pbr::v1::WithdrawAssessmentRequest* assessment_withdrawal() const {
    return std::get_if<pbr::v1::WithdrawAssessmentRequest>(&request);
  }
  const pbr::v1::WithdrawCareEventRequest* care_event_withdrawal() const {
    return std::get_if<pbr::v1::WithdrawCareEventRequest>(&request);
  }
  const std::string& source_system() const;
  const std::string& source_record_id() const;
};

struct DemoPerson {
  std::string nhs_number;
  // The team whose caseload holds the person once every call is applied (the review basis's team, as the
  // shared ledger derives it); empty when they are not on one (discharged).
  std::string caseload_team;
};

struct DemoHistory {
  // Sorted by sent_at (ties by source system and record id), so each person's calls are in the order
  // their care happened: assessments and care events interleaved, corrections after what they correct.
  std::vector<DemoCall> calls;
  std::vector<DemoPerson> people;  // in the order generated
};

// The same options always give the same history: randomness comes from std::mt19937_64, whose sequence
// the standard fixes, through hand-written distributions (the std:: ones differ between standard
// libraries). source_record_id is "<epr>-A<seed>-<n>" for assessments and "<epr>-E<seed>-<n>" for care
// events, unique across seeds.
DemoHistory GenerateDemoHistory(const DemoOptions& options);

// People per team on the caseloads at the end of the history, largest first (ties by team id).
std::vector<std::pair<std::string, int>> CaseloadSizes(const DemoHistory& history);

// The modulus-11 check digit for the first nine digits of an NHS number, or -1 when the check value
// is 10 (such numbers are never issued). Requires exactly nine ASCII digits.
int NhsCheckDigit(const std::string& first_nine);

}  // namespace pbr::demo
