// The corrections an EPR sends after the fact, as a second CSV file: amendments of assessments and
// withdrawals of records written to the main file, which pbr-import sends as AmendAssessment /
// WithdrawAssessment / WithdrawCareEvent calls. Format (tools/loadgen/README.md, "Corrections"):
//
//   action,<every column of the main file>,corrected_at,correction_reason
//
// action `amend_assessment`: the whole assessment as it should be (same source_system and
// source_record_id; here the clinician_id corrected); `withdraw_assessment` / `withdraw_care_event`: the
// record named by kind, source_system, source_record_id and nhs_number (the other columns empty).
// corrected_at: when the EPR sends the correction (after the record, before the year end).
#pragma once

#include <cstdint>
#include <string>

#include "national_year.h"

namespace pbr::loadgen {

class CorrectionWriter {
 public:
  explicit CorrectionWriter(uint64_t seed) : seed_(seed) {}

  static std::string Header();
  // Appends this person's corrections (about 1 person in 50 has one), deterministically from the seed and
  // the person's index.
  void Add(const PersonRecord& person, std::string& out);

  int64_t amendments() const { return amendments_; }
  int64_t withdrawals() const { return withdrawals_; }

 private:
  uint64_t seed_;
  int64_t amendments_ = 0, withdrawals_ = 0;
};

}  // namespace pbr::loadgen
