// Deterministic synthetic MHCT assessments for demos and load tests.
//
// Every request is valid for the allocation intake (NHS number, ratings, cluster, reason, ids), and the
// data look like a small trust: people on team caseloads with clusters that fit the team, reviewed
// every few months, a few transferring between the two EPRs. The NHS numbers all start 999, the range
// reserved for test data, so demo records can never be mistaken for real patients.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "pbr/v1/allocation.pb.h"

namespace pbr::demo {

struct DemoOptions {
  int people = 300;  // distinct NHS numbers; 1..100000
  uint64_t seed = 1;
  // End of the history window. Only its UTC day matters: every assessment falls on a day before it, so
  // two runs on the same day with the same seed produce identical requests (the platform answers the
  // second as duplicates). Left at the Unix epoch it yields requests the intake rejects as before 2000.
  absl::Time now;
  int history_years = 2;  // assessments fall within this many years before `now`
  std::vector<std::string> epr_systems = {"rio-north", "systmone-south"};
  // The team's kind is read from its id: "eip"/"psychosis" -> psychosis pathway, "cmht" -> community
  // non-psychosis, "memory" -> dementia services, "crht" -> home treatment, "inpatient"/"ward" ->
  // inpatients; anything else may hold any cluster.
  std::vector<std::string> teams = {"cmht-north",  "cmht-south",  "eip-central",
                                    "crht-east",   "memory-west", "inpatient-ward-3"};
};

// People's assessments, sorted by assessed_at (ties by source system and record id). The same options
// always give the same output: randomness comes from std::mt19937_64, whose sequence the standard fixes,
// through hand-written distributions (the std:: ones differ between standard libraries).
// source_record_id is "<epr>-A<seed><6-digit counter>", unique across seeds.
std::vector<pbr::v1::RecordAssessmentRequest> GenerateDemoAssessments(const DemoOptions& options);

// The modulus-11 check digit for the first nine digits of an NHS number, or -1 when the check value
// is 10 (such numbers are never issued). Requires exactly nine ASCII digits.
int NhsCheckDigit(const std::string& first_nine);

}  // namespace pbr::demo
